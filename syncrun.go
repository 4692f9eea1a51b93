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
	CreateSyncRun(ctx context.Context, run *SyncRun) (active *SyncRun, err error)
	// StartSyncRun marks a queued run as running since run.StartedAt. Only
	// one caller can start a run: for any other, or a run no longer
	// queued, it returns ECONFLICT and changes nothing.
	StartSyncRun(ctx context.Context, run *SyncRun) error
	// UpdateSyncRun saves the progress of an unfinished run.
	UpdateSyncRun(ctx context.Context, run *SyncRun) error
	// FinishSyncRun applies changes (nil for none) and saves the finished
	// run, in one transaction.
	FinishSyncRun(ctx context.Context, run *SyncRun, changes *HostChanges) error
	SyncRun(ctx context.Context, id string) (*SyncRun, error)
	SyncRuns(ctx context.Context, f SyncRunFilter) (runs []*SyncRun, next string, err error)
	// AbandonSyncRuns fails every unfinished run, for a process that starts
	// after one that died mid-sync.
	AbandonSyncRuns(ctx context.Context, reason string) (int, error)
}
