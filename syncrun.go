package roster

import (
	"context"
	"time"
)

// SyncStatus is where a sync run is in its life.
type SyncStatus string

const (
	SyncQueued    SyncStatus = "queued"
	SyncRunning   SyncStatus = "running"
	SyncSucceeded SyncStatus = "succeeded"
	// SyncPartial means some scopes failed: their hosts were kept as they
	// were, the others were applied.
	SyncPartial  SyncStatus = "partial"
	SyncFailed   SyncStatus = "failed"
	SyncCanceled SyncStatus = "canceled"
)

// Done reports whether the run has finished.
func (s SyncStatus) Done() bool {
	return s == SyncSucceeded || s == SyncPartial || s == SyncFailed || s == SyncCanceled
}

// SyncTrigger says who asked for a run.
type SyncTrigger string

const (
	TriggerAPI      SyncTrigger = "api"
	TriggerCLI      SyncTrigger = "cli"
	TriggerSchedule SyncTrigger = "schedule"
	TriggerCallback SyncTrigger = "callback"
	// TriggerInput is a run of a smart or constructed inventory's source
	// asked for because one of its inputs changed.
	TriggerInput SyncTrigger = "input"
)

// SyncRun records one sync of a source.
type SyncRun struct {
	ID          string
	SourceID    string
	InventoryID string
	Trigger     SyncTrigger
	// ScheduledFor is the schedule tick a scheduled run is for.
	ScheduledFor *time.Time
	Status       SyncStatus
	CreatedAt    time.Time
	StartedAt    *time.Time
	FinishedAt   *time.Time
	Scopes       []ScopeResult
	Counts       SyncCounts
	// Error says why a run failed; empty otherwise.
	Error string
	// Warnings are notable events that did not fail the run, such as hosts
	// named by the fallback because no hostname preference matched.
	Warnings []string

	// Attempt counts the tries of one sync: 1, then one more for each
	// retry of a failed attempt (a run of its own, RetryOf the one before).
	Attempt int
	RetryOf string
	// NotBefore, on a queued retry, is when its backoff ends.
	NotBefore *time.Time
	// NextAttempt, on a finished run, is the attempt its retry is to be,
	// while that retry is owed and not yet recorded (0: none is owed). It
	// is recorded with the failure, so a retry survives the death of the
	// process that should have queued it.
	NextAttempt int
	// Holder names the process working the run, and LeaseUntil is when its
	// claim ends unless the holder renews it. A run whose lease ended is
	// taken for abandoned (its holder died or lost the database) and may be
	// failed by any process. A queued run has a holder only when the
	// process that recorded it runs it itself (the CLI).
	Holder     string
	LeaseUntil *time.Time
}

// Expired reports whether the run's lease ended before now.
func (r *SyncRun) Expired(now time.Time) bool {
	return !r.Status.Done() && r.LeaseUntil != nil && r.LeaseUntil.Before(now)
}

// ScopeStatus is the state of one scope within a run.
type ScopeStatus string

const (
	ScopePending   ScopeStatus = "pending"
	ScopeSucceeded ScopeStatus = "succeeded"
	ScopeFailed    ScopeStatus = "failed"
)

// ScopeResult is the outcome of fetching one scope.
type ScopeResult struct {
	Name     string
	Status   ScopeStatus
	Hosts    int
	Error    string
	Duration time.Duration
}

// SyncCounts counts what a run found and changed.
type SyncCounts struct {
	Seen      int
	Added     int
	Updated   int
	Removed   int
	Disabled  int
	Unchanged int
}

// SyncRunFilter selects runs, newest first.
type SyncRunFilter struct {
	SourceID    string
	InventoryID string
	After       string
	Limit       int
}

// SyncRunStore persists sync runs.
type SyncRunStore interface {
	// CreateSyncRun records run as queued, unless its source already has a
	// queued or running run: then nothing is written and that run is
	// returned. This is what keeps a source from syncing twice at once.
	// Attempt (0 is 1), RetryOf, NotBefore, Holder and LeaseUntil are
	// recorded as given.
	//
	// A retry (RetryOf set) settles the retry its run owed, in the same
	// transaction, whether it is recorded or not: it is not recorded when
	// the source has an active run (returned), nor when a newer run of the
	// source exists or the run was retried already (ECONFLICT): a later
	// sync supersedes it.
	CreateSyncRun(ctx context.Context, run *SyncRun) (active *SyncRun, err error)
	// StartSyncRun marks a queued run as running since run.StartedAt, held
	// by run.Holder until run.LeaseUntil. Only one caller can start a run:
	// for any other, a run no longer queued or a queued run another holder
	// claimed, it returns ECONFLICT and changes nothing.
	StartSyncRun(ctx context.Context, run *SyncRun) error
	// RenewSyncRun moves the lease of a running run held by run.Holder to
	// run.LeaseUntil. ECONFLICT: the run is no longer the holder's (it
	// finished, or its lease ended and someone failed it).
	RenewSyncRun(ctx context.Context, run *SyncRun) error
	// UpdateSyncRun saves the progress of an unfinished run (its scopes,
	// counts and warnings); a running run only for its holder.
	UpdateSyncRun(ctx context.Context, run *SyncRun) error
	// FinishSyncRun applies changes (nil for none) and saves the finished
	// run (NextAttempt included), in one transaction, and stamps
	// run.FinishedAt once the changes are written. A running run is
	// finished only by its holder, and only if no one failed it meanwhile
	// (its lease ran out): otherwise ECONFLICT, and nothing is written.
	FinishSyncRun(ctx context.Context, run *SyncRun, changes *HostChanges) error
	// ExpireSyncRuns records as failed, for reason, up to limit unfinished
	// runs (of one source, unless sourceID is empty) whose lease ended
	// before now, and returns them. Each owes a retry (NextAttempt) unless
	// the CLI ran it: a CLI run is its user's.
	ExpireSyncRuns(ctx context.Context, now time.Time, reason, sourceID string, limit int) ([]*SyncRun, error)
	// OwedRetries returns up to limit finished runs that owe a retry,
	// oldest first: retries whose recording was cut off.
	OwedRetries(ctx context.Context, limit int) ([]*SyncRun, error)
	// SettleRetry records that run owes no retry (its attempts are spent).
	SettleRetry(ctx context.Context, id string) error
	SyncRun(ctx context.Context, id string) (*SyncRun, error)
	SyncRuns(ctx context.Context, f SyncRunFilter) (runs []*SyncRun, next string, err error)
}
