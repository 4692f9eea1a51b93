package roster

import (
	"context"
	"time"
)

// Source is one cloud account (or project, subscription, cloud) feeding an
// inventory. Config holds the provider's options in the shape of the
// matching Ansible inventory plugin's YAML (regions, filters, hostnames,
// compose, groups, keyed_groups, ...), so a plugin file pastes in as is.
// It never holds a secret.
type Source struct {
	ID          string
	InventoryID string
	Name        string
	Provider    string
	Config      map[string]any
	// OnMissing says what a sync does with a host the provider no longer
	// reports: remove it, or keep it disabled.
	OnMissing OnMissing
	// CredentialID names the credential a sync obtains from the broker;
	// empty means the provider's environment / default chain.
	CredentialID string
	// Schedule makes the source sync by itself: an interval ("15m") or a
	// cron expression ("0 */2 * * *", "@hourly"; UTC unless it starts with
	// CRON_TZ=). Empty: the source syncs only when asked.
	Schedule string
	// ScheduleJitter delays each scheduled sync by a stable pseudo-random
	// part of it, so that sources on the same schedule do not call the
	// cloud APIs in the same second. DefaultJitter picks a tenth of the
	// schedule's period, at most five minutes.
	ScheduleJitter time.Duration
	// Timeout cancels a run that takes longer. Zero: the server's default.
	Timeout time.Duration
	// UpdateCacheTimeout makes reads of the inventory's Ansible view sync
	// the source first when its last successful sync is older (AWX's
	// update on launch with its cache timeout). Zero: reads never do.
	UpdateCacheTimeout time.Duration
	// NextSync is the next scheduled sync, kept by the scheduler; nil when
	// the source has no schedule.
	NextSync *ScheduledSync
	// HasCallbackKey says whether a provisioning callback key is set (the
	// key itself is shown once, when it is made, and stored hashed).
	HasCallbackKey bool
	CreatedAt      time.Time
	UpdatedAt      time.Time
}

// DefaultJitter as a Source's ScheduleJitter picks the default jitter.
const DefaultJitter time.Duration = -1

// ScheduledSync is one tick of a source's schedule.
type ScheduledSync struct {
	// Tick is the schedule's own time for the sync; it names the tick, so
	// that each runs at most once whichever node claims it.
	Tick time.Time
	// Due is Tick plus the jitter: when the sync is queued.
	Due time.Time
}

// OnMissing is a source's policy for hosts that disappeared.
type OnMissing string

const (
	OnMissingRemove  OnMissing = "remove"
	OnMissingDisable OnMissing = "disable"
)

// Valid reports whether m is a known policy.
func (m OnMissing) Valid() bool { return m == OnMissingRemove || m == OnMissingDisable }

// SourceUpdate holds the fields of a partial update; nil leaves a field as is.
type SourceUpdate struct {
	Name         *string
	Config       map[string]any
	OnMissing    *OnMissing
	CredentialID *string // "" detaches the credential
	// Schedule and ScheduleJitter change the schedule; NextSync must then
	// be given too (nil when the new schedule is empty).
	Schedule           *string
	ScheduleJitter     *time.Duration
	NextSync           *ScheduledSync
	Timeout            *time.Duration
	UpdateCacheTimeout *time.Duration
}

// Rescheduled reports whether upd changes the schedule.
func (upd SourceUpdate) Rescheduled() bool { return upd.Schedule != nil || upd.ScheduleJitter != nil }

// SourceStore persists sources.
type SourceStore interface {
	CreateSource(ctx context.Context, src *Source) error
	// Source finds a source by id.
	Source(ctx context.Context, id string) (*Source, error)
	// SourceByName finds a source by name, within one inventory when
	// inventoryID is not empty. A name shared by sources of several
	// inventories is ECONFLICT when no inventory is given.
	SourceByName(ctx context.Context, inventoryID, name string) (*Source, error)
	Sources(ctx context.Context, inventoryID string) ([]*Source, error)
	UpdateSource(ctx context.Context, id string, upd SourceUpdate) (*Source, error)
	// DeleteSource deletes a source, its hosts and its runs.
	DeleteSource(ctx context.Context, id string) error
}

// SourceSyncState is what reads need to know about a source's freshness.
type SourceSyncState struct {
	SourceID string
	// LastSynced is when its last succeeded or partial run finished; nil
	// when it never synced.
	LastSynced *time.Time
	// Active is its queued or running run, if any.
	Active *SyncRun
	// UpdateCacheTimeout is the source's own freshness bound.
	UpdateCacheTimeout time.Duration
}

// SchedulerStore is what the scheduler, provisioning callbacks and fresh
// reads need of the store.
type SchedulerStore interface {
	// DueSources returns up to limit sources whose next scheduled sync is
	// due at now, soonest first, and scheduled sources that have no next
	// sync planned yet.
	DueSources(ctx context.Context, now time.Time, limit int) ([]*Source, error)
	// ClaimScheduledSync moves a source's next sync from tick to next (nil:
	// none) and, unless the source has an active run, records a queued run
	// for tick (trigger "schedule", ScheduledFor tick), in one transaction.
	// When the source's next sync is no longer tick (another node claimed
	// it, or the schedule changed), nothing is written and claimed is
	// false. tick zero claims a source that has no next sync planned.
	ClaimScheduledSync(ctx context.Context, sourceID string, tick time.Time, next *ScheduledSync) (run *SyncRun, claimed bool, err error)
	// SetCallbackKey sets the hash of a source's callback key ("" removes it).
	SetCallbackKey(ctx context.Context, sourceID, hash string) error
	// SourceByCallbackKey finds the source whose callback key has this hash.
	SourceByCallbackKey(ctx context.Context, hash string) (*Source, error)
	// TakeCallback records a callback of the source at now unless the last
	// one was less than gap ago; then it returns false and the wait left.
	TakeCallback(ctx context.Context, sourceID string, now time.Time, gap time.Duration) (ok bool, wait time.Duration, err error)
	// SourceSyncStates returns the freshness of an inventory's sources.
	SourceSyncStates(ctx context.Context, inventoryID string) ([]SourceSyncState, error)
	// QueuedSyncRuns returns up to limit runs without a holder queued
	// before the given time (and due then), oldest first: runs whose job
	// may have been lost.
	QueuedSyncRuns(ctx context.Context, before time.Time, limit int) ([]*SyncRun, error)
}
