package syncer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	mathrand "math/rand/v2"
	"os"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// A run has a holder and a lease. The engine that starts a run holds it and
// renews its lease while it works; a holder that stops renewing (its
// process was killed, or lost its database) loses the run when the lease
// ends, and any process may then record it as failed (Expire). Nothing a
// dead process leaves behind blocks its source for longer than a lease.

// ExpiredReason is the error of a run failed because its lease ran out.
const ExpiredReason = "the Roster process running this sync stopped during the run (it stopped renewing its lease); nothing was changed"

// LeaseLostError is the cause of a run canceled because its holder lost
// it: another process failed it after its lease ran out.
type LeaseLostError struct{ Reason string }

func (e *LeaseLostError) Error() string {
	return "the sync lost its claim on the run (" + e.Reason + "); nothing was changed"
}

// defaultHolder names this engine in the runs it holds: the host and
// process, for people reading a run, and a random part, so that two
// engines of one process (tests) are told apart.
func defaultHolder() string {
	host, err := os.Hostname()
	if err != nil {
		host = "roster"
	}
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// Holder returns the name this engine holds runs under.
func (e *Engine) Holder() string { return e.holder }

// keepLease renews run's lease every quarter lease until stop is called or
// ctx ends. When the store says the run is no longer this holder's (its
// lease ran out and another process failed it), lose is called with a
// LeaseLostError. A renewal that fails otherwise (the database is busy or
// away) is tried again at the next tick: the run goes on, and whether it
// is still its holder's is settled when it finishes, in the transaction
// that writes its changes.
func (e *Engine) keepLease(ctx context.Context, run *roster.SyncRun, lose context.CancelCauseFunc, log *slog.Logger) (stop func()) {
	lease := e.timeouts.lease()
	every := lease / 4
	claim := roster.SyncRun{ID: run.ID, Holder: run.Holder}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			until := e.now().Add(lease)
			claim.LeaseUntil = &until
			rctx, cancelRenewal := context.WithTimeout(ctx, every)
			err := e.store.RenewSyncRun(rctx, &claim)
			cancelRenewal()
			switch {
			case err == nil:
			case roster.ErrorCode(err) == roster.ECONFLICT:
				lose(&LeaseLostError{Reason: "another process failed it after its lease ran out"})
				return
			case ctx.Err() != nil:
				return
			default:
				log.Warn("renewing the sync's lease failed; trying again", "err", err)
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			cancel()
			wg.Wait()
		})
	}
}

// heldRuns are the runs an engine is working, by id.
type heldRuns struct{ m sync.Map }

func (h *heldRuns) add(run *roster.SyncRun) {
	h.m.Store(run.ID, roster.SyncRun{ID: run.ID, Holder: run.Holder})
}
func (h *heldRuns) remove(id string) { h.m.Delete(id) }

// renew moves the leases of the runs this engine works to until: they are
// alive, whatever their heartbeat could write lately.
func (h *heldRuns) renew(ctx context.Context, store roster.Store, until time.Time) {
	h.m.Range(func(_, v any) bool {
		claim := v.(roster.SyncRun)
		claim.LeaseUntil = &until
		store.RenewSyncRun(ctx, &claim) // a refusal is its heartbeat's to notice
		return true
	})
}

// Expire records as failed every unfinished run whose lease ended before
// now (its process died), tells the OnFinish functions, and queues the
// retry each owes. It returns the runs it failed. The runs this engine
// works itself are renewed first: their heartbeats may have queued behind
// another sync's long write (SQLite has one writer), but they are alive.
func (e *Engine) Expire(ctx context.Context, now time.Time) ([]*roster.SyncRun, error) {
	const batch = 100
	e.held.renew(ctx, e.store, e.now().Add(e.timeouts.lease()))
	var all []*roster.SyncRun
	for {
		runs, err := e.expire(ctx, now, "", batch)
		for _, run := range runs {
			if _, err := e.Retry(ctx, run); err != nil {
				e.log.Warn("queueing the retry of a sync cut off by a stopped process failed; a later tick queues it", "run", run.ID, "err", err)
			}
		}
		all = append(all, runs...)
		if err != nil || len(runs) < batch {
			return all, err
		}
	}
}

// expire fails up to limit runs (of one source, unless sourceID is empty)
// whose lease ended before now, and tells the OnFinish functions. Trigger
// calls it for its source alone: the sync it records supersedes the
// retries of what it fails.
func (e *Engine) expire(ctx context.Context, now time.Time, sourceID string, limit int) ([]*roster.SyncRun, error) {
	runs, err := e.store.ExpireSyncRuns(ctx, now, ExpiredReason, sourceID, limit)
	if err != nil {
		return nil, fmt.Errorf("fail runs whose lease ended: %w", err)
	}
	for _, run := range runs {
		e.log.Warn("recorded a sync cut off by a stopped process as failed", "run", run.ID, "source", run.SourceID,
			"holder", run.Holder, "lease_until", run.LeaseUntil)
		for _, fn := range e.finished {
			fn(ctx, run)
		}
	}
	return runs, nil
}

// RecordOwedRetries queues the retries that failed runs owe but whose
// recording was cut off (the process that failed them stopped first).
// The scheduler calls it every tick; it returns how many it queued.
func (e *Engine) RecordOwedRetries(ctx context.Context) (int, error) {
	const batch = 100
	owed, err := e.store.OwedRetries(ctx, batch)
	if err != nil {
		return 0, fmt.Errorf("find owed retries: %w", err)
	}
	n := 0
	var errs []error
	for _, run := range owed {
		retry, err := e.Retry(ctx, run)
		if err != nil {
			errs = append(errs, err)
		} else if retry != nil {
			n++
		}
	}
	return n, errors.Join(errs...)
}

// Retries is the retry policy of runs worked by the job queue: a failed,
// timed-out or interrupted attempt is tried again as a new run, after a
// backoff, until Attempts tries were made.
type Retries struct {
	// Attempts is how many times a sync is tried in all (1: never again).
	Attempts int
	// Backoff is the wait before attempt n+1 after attempt n failed.
	Backoff func(attempt int) time.Duration
}

// DefaultRetries tries a sync three times, 10 s and then 40 s apart.
var DefaultRetries = Retries{Attempts: 3, Backoff: ExponentialBackoff(10*time.Second, 10*time.Minute)}

// ExponentialBackoff waits base after the first attempt and four times
// longer after each next one, up to limit, less up to a tenth at random so
// that sources failing together do not retry together.
func ExponentialBackoff(base, limit time.Duration) func(int) time.Duration {
	return func(attempt int) time.Duration {
		d := time.Duration(float64(base) * math.Pow(4, float64(max(attempt, 1)-1)))
		if d > limit || d <= 0 {
			d = limit
		}
		return d - time.Duration(mathrand.Int64N(int64(d)/10+1))
	}
}

// WithRetries sets the retry policy of queued runs.
func WithRetries(r Retries) Option {
	return func(e *Engine) {
		if r.Attempts < 1 {
			r.Attempts = DefaultRetries.Attempts
		}
		if r.Backoff == nil {
			r.Backoff = DefaultRetries.Backoff
		}
		e.retries = r
	}
}

// nextAttempt is the attempt a failed or canceled run's retry is to be,
// or 0 when it is not to be retried: runs the job queue does not work
// (a CLI run is its user's), failures a retry would only repeat, and runs
// that used up their attempts.
func (e *Engine) nextAttempt(run *roster.SyncRun, cause error) int {
	switch {
	case e.queue == nil || run.Trigger == roster.TriggerCLI:
	case run.Status != roster.SyncFailed && run.Status != roster.SyncCanceled:
	case Permanent(cause):
	case run.Attempt >= e.retries.Attempts:
	default:
		return run.Attempt + 1
	}
	return 0
}

// retryNow queues the retry a run just finished owes, if any, whether or
// not the caller's context is still alive (a stopping process queues the
// retry of the run it canceled); should it fail, the scheduler queues it.
func (e *Engine) retryNow(run *roster.SyncRun, log *slog.Logger) {
	if run.NextAttempt == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := e.Retry(ctx, run); err != nil {
		log.Warn("queueing the retry of a failed sync failed; the scheduler queues it later", "err", err)
	}
}

// Retry records and queues the retry prev owes (prev.NextAttempt), after
// its backoff, and returns it; nil when none is owed, its attempts are
// used up (prev then owes nothing), or a newer run of the source
// superseded it. A retry is recorded once however many processes ask, in
// the transaction that settles what prev owed. Without a queue (the CLI)
// nothing is done: a server records it.
func (e *Engine) Retry(ctx context.Context, prev *roster.SyncRun) (*roster.SyncRun, error) {
	if prev.NextAttempt == 0 || e.queue == nil {
		return nil, nil
	}
	if prev.NextAttempt > e.retries.Attempts {
		e.log.Warn("the sync failed its last attempt; it is not retried", "run", prev.ID, "source", prev.SourceID, "attempts", prev.Attempt)
		return nil, e.store.SettleRetry(ctx, prev.ID)
	}
	notBefore := e.now().Add(e.retries.Backoff(prev.NextAttempt - 1)).UTC().Truncate(time.Microsecond)
	retry := &roster.SyncRun{SourceID: prev.SourceID, InventoryID: prev.InventoryID, Trigger: prev.Trigger,
		Attempt: prev.NextAttempt, RetryOf: prev.ID, NotBefore: &notBefore}
	active, err := e.store.CreateSyncRun(ctx, retry)
	switch {
	case roster.ErrorCode(err) == roster.ECONFLICT || roster.ErrorCode(err) == roster.ENOTFOUND:
		return nil, nil // retried already or superseded, or the source is gone
	case err != nil:
		return nil, err
	case active != nil:
		return nil, nil // the source syncs already: that run will do
	}
	if err := e.queue.Enqueue(ctx, retry); err != nil {
		// The run stays queued: the scheduler queues runs whose job was
		// lost again.
		return retry, fmt.Errorf("queue the retry: %w", err)
	}
	e.log.Info("the sync will be tried again", "run", retry.ID, "retry_of", prev.ID, "source", prev.SourceID,
		"attempt", retry.Attempt, "of", e.retries.Attempts, "not_before", notBefore)
	return retry, nil
}
