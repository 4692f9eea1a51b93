package jobs

import (
	"context"
	"fmt"
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
func (SyncArgs) InsertOpts() river.InsertOpts {
	return river.InsertOpts{Queue: QueueSync, UniqueOpts: river.UniqueOpts{ByArgs: true}}
}

type syncWorker struct {
	river.WorkerDefaults[SyncArgs]
	q *Queue
}

// Timeout is River's backstop; the engine cancels a run at its source's
// own timeout first.
func (w *syncWorker) Timeout(*river.Job[SyncArgs]) time.Duration {
	return w.q.cfg.Timeouts.Max + w.q.cfg.rescueMargin()
}

// Work executes the job's run. A failed or canceled run is an error, so
// River tries again (with backoff, while attempts remain); each attempt is
// a run of its own in the source's history.
func (w *syncWorker) Work(ctx context.Context, job *river.Job[SyncArgs]) error {
	st, log := w.q.store, w.q.cfg.Log.With("job", job.ID, "attempt", job.Attempt)
	run, err := st.SyncRun(ctx, job.Args.RunID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil // the source was deleted
	} else if err != nil {
		return err
	}
	switch {
	case run.Status == roster.SyncQueued:
	case run.Status == roster.SyncRunning && job.Attempt == 1:
		// Not a rescued job (River counts the attempt it rescues): the
		// run was started outside the queue, and is that caller's.
		log.Warn("a queued run is already running outside the queue; leaving it to its runner", "run", run.ID)
		return nil
	case run.Status == roster.SyncRunning:
		// The job was rescued: the process running it stopped (River waits
		// past the longest timeout first, so that run can no longer be
		// writing). Record it as failed and sync anew.
		err := w.q.engine.Fail(ctx, run, "the Roster process running this sync stopped before it finished; nothing was changed")
		if err != nil && roster.ErrorCode(err) != roster.ECONFLICT {
			return err
		}
		log.Warn("sync cut off by a stopped process; syncing again", "run", run.ID, "source", run.SourceID)
		if run, err = w.retry(ctx, run); run == nil || err != nil {
			return err
		}
	case job.Attempt > 1 && (run.Status == roster.SyncFailed || run.Status == roster.SyncCanceled):
		// A retry of a failed attempt.
		if run, err = w.retry(ctx, run); run == nil || err != nil {
			return err
		}
	default:
		return nil // done already
	}
	if err := w.q.engine.Run(ctx, run, nil); roster.ErrorCode(err) == roster.ECONFLICT && run.Status == roster.SyncQueued {
		// Someone else started the run between our read and our start
		// (a CLI sync, or a requeued job): it is theirs.
		log.Warn("the run was started by another runner; leaving it to it", "run", run.ID)
		return nil
	} else if err != nil {
		return fmt.Errorf("run %s: %w", run.ID, err)
	}
	return nil
}

// retry records a new queued run like prev, or returns nil when the source
// is syncing already (that run will do).
func (w *syncWorker) retry(ctx context.Context, prev *roster.SyncRun) (*roster.SyncRun, error) {
	run := &roster.SyncRun{SourceID: prev.SourceID, InventoryID: prev.InventoryID, Trigger: prev.Trigger}
	active, err := w.q.store.CreateSyncRun(ctx, run)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, nil
	} else if err != nil || active != nil {
		return nil, err
	}
	return run, nil
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
	case time.Since(job.CreatedAt) > 2*w.q.cfg.stuckAfter():
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
