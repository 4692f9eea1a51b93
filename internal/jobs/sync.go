package jobs

import (
	"context"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rosterhq/roster"
)

// SyncArgs is the job that executes one sync run. The run is the record
// users see; the job is what gets it executed, retried and rescued.
type SyncArgs struct {
	RunID    string `json:"run_id" river:"unique"`
	SourceID string `json:"source_id"`
}

// Kind implements river.JobArgs.
func (SyncArgs) Kind() string { return "roster.sync" }

// InsertOpts implements river.JobArgsWithInsertOpts: one job per run.
// River retries the job only when the run could not be looked at (a sync
// that fails is tried again as a run of its own: syncer.Retries).
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSync, MaxAttempts: syncJobAttempts, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

// syncJobAttempts bounds River's tries of a sync job whose run could not
// be read or started: with River's backoff (attempt⁴ seconds), about three
// hours of an unavailable database.
const syncJobAttempts = 10

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	q *Queue
}

// Timeout is River's backstop; the engine cancels a run at its source's
// own timeout first.
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration {
	return w.q.cfg.Timeouts.Max + w.q.cfg.rescueMargin()
}

// Work executes the job's run, once: a failed attempt is tried again as a
// run of its own with a job of its own (the engine's retry policy), not by
// River retrying this job. River retries the job only when the run could
// not be looked at or started (the database was unavailable).
func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	st, log := w.q.store, w.q.cfg.Log.With("job", job.ID, "attempt", job.Attempt)
	run, err := st.SyncRun(ctx, job.Args.RunID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil // the source was deleted
	} else if err != nil {
		return err
	}
	now := time.Now()
	switch {
	case run.Status == roster.SyncQueued && run.NotBefore != nil && run.NotBefore.After(now):
		return river.JobSnooze(run.NotBefore.Sub(now)) // a retry whose backoff is not over
	case run.Status == roster.SyncQueued:
	case run.Status == roster.SyncRunning && run.LeaseUntil == nil:
		// Started by a version without leases (a cluster being upgraded):
		// the scheduler fails it once it cannot be running any more.
		return river.JobSnooze(time.Minute)
	case run.Status == roster.SyncRunning && !run.Expired(now):
		// Held by a live process (a CLI sync that took the queued run), or
		// by one that died but whose lease has not ended yet (this job was
		// released at a restart): look again when the lease ends.
		return river.JobSnooze(run.LeaseUntil.Sub(now) + time.Second)
	case run.Status == roster.SyncRunning:
		// Its process died: fail it (and every other such run), which
		// queues its retry.
		_, err := w.q.engine.Expire(ctx, now)
		return err
	default:
		return nil // done already
	}
	err = w.q.engine.Run(ctx, run, nil)
	switch {
	case run.Status != roster.SyncQueued:
		// Ran, and recorded (a failure is retried as a run of its own), or
		// its outcome could not be recorded: the run then stays running
		// until its lease ends, and is failed and retried.
		return nil
	case roster.ErrorCode(err) == roster.ECONFLICT:
		// Someone else started the run between our read and our start
		// (a CLI sync, or a requeued job): it is theirs.
		log.Warn("the run was started by another runner; leaving it to it", "run", run.ID)
		return nil
	default:
		// The start could not be recorded: River tries the job again.
		return err
	}
}

// FollowUpArgs is a sync of a source to queue once its running sync ends:
// a provisioning callback that arrived after that sync listed the cloud.
// It is done once a run other than AfterRun is the source's active run or
// was queued for it: that run began after AfterRun ended. (Run identity,
// not start times: the nodes' clocks need not agree.)
type FollowUpArgs struct {
	SourceID string             `json:"source_id" river:"unique"`
	AfterRun string             `json:"after_run" river:"unique"`
	Trigger  roster.SyncTrigger `json:"trigger"`
}

// Kind implements river.JobArgs.
func (FollowUpArgs) Kind() string { return "roster.sync_follow_up" }

// InsertOpts implements river.JobArgsWithInsertOpts: one follow-up per
// running run, however many callbacks come while it runs.
func (FollowUpArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueDefault, MaxAttempts: 25, UniqueOpts: river.UniqueOpts{ByArgs: true, ByState: []rivertype.JobState{
		rivertype.JobStateAvailable, rivertype.JobStatePending, rivertype.JobStateRunning, rivertype.JobStateScheduled, rivertype.JobStateRetryable,
	}}}
}

// followUpPoll is how often a follow-up looks whether the source is free.
const followUpPoll = time.Second

type followUpWorker struct {
	river.WorkerDefaults[FollowUpArgs]
	q *Queue
}

func (w *followUpWorker) Work(ctx context.Context, job *river.Job[FollowUpArgs]) error {
	src, err := w.q.store.Source(ctx, job.Args.SourceID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil
	} else if err != nil {
		return err
	}
	run, created, err := w.q.engine.Trigger(ctx, src, job.Args.Trigger)
	switch {
	case err != nil:
		return err
	case created || run.ID != job.Args.AfterRun:
		return nil // a run that began after the one followed
	case time.Since(job.CreatedAt) > 2*w.q.cfg.rescueAfter():
		w.q.cfg.Log.Warn("gave up a follow-up sync: the source has been syncing for too long", "source", src.ID, "run", run.ID)
		return nil
	}
	return river.JobSnooze(followUpPoll)
}

// SyncAfter queues a sync of the run's source that begins after the run
// ends.
func (q *Queue) SyncAfter(ctx context.Context, run *roster.SyncRun, trigger roster.SyncTrigger) error {
	_, err := q.client.Insert(ctx, FollowUpArgs{SourceID: run.SourceID, AfterRun: run.ID, Trigger: trigger}, nil)
	return err
}
