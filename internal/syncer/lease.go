package syncer

import (
	"context"
	"crypto/rand"
	"encoding/hex"
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

// LeaseLostError is the cause of a run canceled because its holder could
// not keep it: another process failed it after its lease ran out, or the
// lease could not be renewed before it ended.
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
// ctx ends. When the run is lost, lose is called with a LeaseLostError:
// the store says the run is no longer this holder's, or the renewals
// failed until the lease had nearly run out (the run cannot be known to be
// ours any more, so it stops before another process may take it).
func (e *Engine) keepLease(ctx context.Context, run *roster.SyncRun, lose context.CancelCauseFunc, log *slog.Logger) (stop func()) {
	lease := e.timeouts.lease()
	every := lease / 4
	held := *run.LeaseUntil
	claim := roster.SyncRun{ID: run.ID, Holder: run.Holder}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
			}
			until := e.now().Add(lease)
			claim.LeaseUntil = &until
			rctx, cancel := context.WithTimeout(ctx, every)
			err := e.store.RenewSyncRun(rctx, &claim)
			cancel()
			switch {
			case err == nil:
				held = until
			case roster.ErrorCode(err) == roster.ECONFLICT:
				lose(&LeaseLostError{Reason: "another process failed it after its lease ran out"})
				return
			case ctx.Err() != nil:
				return
			case e.now().Add(every).After(held):
				lose(&LeaseLostError{Reason: "its lease could not be renewed: " + roster.ErrorMessage(err)})
				return
			default:
				log.Warn("renewing the sync's lease failed; trying again", "err", err, "lease_until", held)
			}
		}
	})
	var once sync.Once
	return func() {
		once.Do(func() {
			close(done)
			wg.Wait()
		})
	}
}

// Expire records as failed every unfinished run whose lease ended before
// now (its process died), tells the OnFinish functions, and queues a
// retry of each that the retry policy allows. It returns the runs it
// failed.
func (e *Engine) Expire(ctx context.Context, now time.Time) ([]*roster.SyncRun, error) {
	const batch = 100
	var all []*roster.SyncRun
	for {
		runs, err := e.store.ExpireSyncRuns(ctx, now, ExpiredReason, batch)
		if err != nil {
			return all, fmt.Errorf("fail runs whose lease ended: %w", err)
		}
		for _, run := range runs {
			e.log.Warn("recorded a sync cut off by a stopped process as failed", "run", run.ID, "source", run.SourceID,
				"holder", run.Holder, "lease_until", run.LeaseUntil)
			for _, fn := range e.finished {
				fn(ctx, run)
			}
			if _, err := e.Retry(ctx, run); err != nil {
				e.log.Warn("queueing the retry of a sync cut off by a stopped process failed", "run", run.ID, "err", err)
			}
		}
		all = append(all, runs...)
		if len(runs) < batch {
			return all, nil
		}
	}
}

// Retries is the retry policy of runs worked by the job queue: a failed or
// timed-out attempt is tried again as a new run, after a backoff, until
// Attempts tries were made. A run canceled because its process was
// stopping is tried again without using up an attempt.
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

// Retry queues the next attempt of a finished run, if the policy allows:
// only runs of the job queue are retried (a CLI run is its user's), and
// only failed ones (or canceled by a timeout or a stopping process). It
// returns the queued retry, or nil. A run is retried at most once, however
// many processes ask.
func (e *Engine) Retry(ctx context.Context, prev *roster.SyncRun) (*roster.SyncRun, error) {
	if e.queue == nil || prev.Trigger == roster.TriggerCLI {
		return nil, nil
	}
	attempt := prev.Attempt + 1
	wait := time.Duration(0)
	switch {
	case prev.Status == roster.SyncCanceled && prev.Error == interruptedReason:
		attempt = prev.Attempt // not the sync's fault: the attempt is not used up
	case prev.Status != roster.SyncFailed && prev.Status != roster.SyncCanceled:
		return nil, nil
	case prev.Attempt >= e.retries.Attempts:
		e.log.Warn("the sync failed its last attempt; it is not retried", "run", prev.ID, "source", prev.SourceID,
			"attempts", prev.Attempt)
		return nil, nil
	default:
		wait = e.retries.Backoff(prev.Attempt)
	}
	notBefore := e.now().Add(wait).UTC().Truncate(time.Microsecond)
	retry := &roster.SyncRun{SourceID: prev.SourceID, InventoryID: prev.InventoryID, Trigger: prev.Trigger,
		Attempt: attempt, RetryOf: prev.ID, NotBefore: &notBefore}
	active, err := e.store.CreateSyncRun(ctx, retry)
	switch {
	case roster.ErrorCode(err) == roster.ECONFLICT || roster.ErrorCode(err) == roster.ENOTFOUND:
		return nil, nil // retried already, or the source is gone
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
		"attempt", attempt, "of", e.retries.Attempts, "not_before", notBefore)
	return retry, nil
}
