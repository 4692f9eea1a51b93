package jobs

import (
	"context"
	"errors"
	"time"

	"github.com/riverqueue/river"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/schedule"
)

// ScheduleArgs is the scheduler's tick, queued by River's leader every
// Config.ScheduleEvery.
type ScheduleArgs struct{}

// Kind implements river.JobArgs.
func (ScheduleArgs) Kind() string { return "roster.schedule" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (ScheduleArgs) InsertOpts() river.InsertOpts { return periodicOpts }

// periodicOpts are the insert options of the jobs River's leader queues
// periodically (ScheduleArgs, MaintenanceArgs): a missed run is not
// retried, the next one does its work.
var periodicOpts = river.InsertOpts{Queue: QueueDefault, MaxAttempts: 1}

type scheduleWorker struct {
	river.WorkerDefaults[ScheduleArgs]
	q *Queue
}

func (w *scheduleWorker) Timeout(*river.Job[ScheduleArgs]) time.Duration {
	return max(time.Minute, 4*w.q.cfg.ScheduleEvery)
}

// batch bounds the sources one store call returns.
const batch = 500

func (w *scheduleWorker) Work(ctx context.Context, job *river.Job[ScheduleArgs]) error {
	_, err := w.q.Tick(ctx, time.Now())
	return err
}

// TickResult counts what one tick did.
type TickResult struct {
	Queued   int // scheduled runs queued
	Skipped  int // ticks of sources that were still syncing
	Planned  int // sources whose first tick was planned
	Requeued int // runs found queued without a job
	Failed   int // runs failed because their lease ended (their process died)
	Retried  int // retries owed by failed runs, recorded late
}

// Tick claims every source due at now and queues its run, and queues again
// runs whose job was lost. The leader calls it every ScheduleEvery; it is
// safe to call from several nodes at once.
func (q *Queue) Tick(ctx context.Context, now time.Time) (TickResult, error) {
	var res TickResult
	var errs []error
	// A run whose lease ended (its process died) would block its source:
	// it is recorded as failed, and retried if attempts remain; so are
	// retries whose recording was cut off. First, so that a source it
	// blocked is due again in this tick, and so that no run this tick
	// queues (and a worker may start at once) is judged by it.
	if q.engine != nil {
		expired, err := q.engine.Expire(ctx, now)
		if err != nil {
			errs = append(errs, err)
		}
		res.Failed += len(expired)
		retried, err := q.engine.RecordOwedRetries(ctx)
		if err != nil {
			errs = append(errs, err)
		}
		res.Retried += retried
	}
	for {
		due, err := q.store.DueSources(ctx, now, batch)
		if err != nil {
			return res, err
		}
		progressed := false
		var runs []*roster.SyncRun
		for _, src := range due {
			run, claimed, err := q.claim(ctx, src, now, &res)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			progressed = progressed || claimed
			if run != nil {
				runs = append(runs, run)
			}
		}
		// The batch's jobs go in one insert. Should it fail, the runs stay
		// queued and a later tick queues them again (lost jobs, below).
		if err := q.enqueueMany(ctx, runs); err != nil {
			q.cfg.Log.Warn("queueing scheduled syncs failed; a later tick retries", "runs", len(runs), "err", err)
		}
		if len(due) < batch || !progressed {
			break
		}
	}
	// Smart and constructed inventories whose inputs changed since their
	// last run: what a node's own hook after an input's sync missed (it
	// died, the derived run was already active, group vars were set).
	if q.engine != nil {
		n, err := q.engine.TriggerStale(ctx, "")
		if err != nil {
			errs = append(errs, err)
		}
		res.Queued += n
	}
	lost, err := q.store.QueuedSyncRuns(ctx, now.Add(-q.cfg.LostAfter), batch)
	if err != nil {
		errs = append(errs, err)
	}
	for _, run := range lost {
		// Uniqueness by run makes this a no-op when the job exists.
		r, err := q.client.Insert(ctx, SyncArgs{RunID: run.ID, SourceID: run.SourceID}, syncInsertOpts(run))
		if err != nil {
			errs = append(errs, err)
		} else if !r.UniqueSkippedAsDuplicate {
			res.Requeued++
			q.cfg.Log.Warn("queued a sync run whose job was lost", "run", run.ID, "source", run.SourceID)
		}
	}
	if res.Queued+res.Skipped+res.Planned+res.Requeued+res.Failed+res.Retried > 0 {
		q.cfg.Log.Debug("scheduler tick", "queued", res.Queued, "skipped", res.Skipped, "planned", res.Planned,
			"requeued", res.Requeued, "failed", res.Failed, "retried", res.Retried)
	}
	return res, errors.Join(errs...)
}

// claim plans or claims one due source's tick, and returns the run to
// queue, if any.
func (q *Queue) claim(ctx context.Context, src *roster.Source, now time.Time, res *TickResult) (*roster.SyncRun, bool, error) {
	log := q.cfg.Log.With("source", src.ID, "name", src.Name)
	var tick time.Time // zero: the source has no next sync planned yet
	after := now
	if src.NextSync != nil {
		tick = src.NextSync.Tick
		after = maxTime(now, tick) // ticks missed while nothing ran are skipped, not replayed
	}
	next, err := schedule.NextSync(src, after)
	if err != nil {
		// Validated when set; a schedule this build cannot read stays
		// unplanned and is reported at every tick.
		log.Error("the source's schedule cannot be read; it does not sync by itself", "schedule", src.Schedule, "err", err)
		return nil, false, nil
	}
	run, claimed, err := q.store.ClaimScheduledSync(ctx, src.ID, tick, next)
	switch {
	case err != nil || !claimed:
		return nil, false, err
	case tick.IsZero():
		res.Planned++
	case run == nil:
		res.Skipped++
		log.Warn("skipped a scheduled sync: the previous sync of the source is still running", "tick", tick)
	default:
		res.Queued++
		return run, true, nil
	}
	return nil, true, nil
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// MaintenanceArgs is the hourly housekeeping job.
type MaintenanceArgs struct{}

// Kind implements river.JobArgs.
func (MaintenanceArgs) Kind() string { return "roster.maintenance" }

// InsertOpts implements river.JobArgsWithInsertOpts.
func (MaintenanceArgs) InsertOpts() river.InsertOpts { return periodicOpts }

type maintenanceWorker struct {
	river.WorkerDefaults[MaintenanceArgs]
	q *Queue
}

func (w *maintenanceWorker) Work(ctx context.Context, job *river.Job[MaintenanceArgs]) error {
	if w.q.cfg.Maintenance == nil {
		return nil
	}
	return w.q.cfg.Maintenance(ctx)
}
