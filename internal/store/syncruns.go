package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

// ---- sync runs

const runCols = `id, source_id, inventory_id, trigger, status, created_at, started_at, finished_at, scopes, counts, error, warnings, scheduled_for,
	attempt, retry_of, not_before, holder, lease_until, next_attempt`

// syncRunInsert is the statement that records a new run (syncRunArgs),
// doing nothing when a unique index forbids it (onConflict names it).
func syncRunInsert(onConflict string) string {
	return `INSERT INTO sync_runs (` + runCols + `) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, '', $9, $10, $11, $12, $13, $14, $15, NULL)
		ON CONFLICT ` + onConflict + ` DO NOTHING`
}

func syncRunArgs(run *roster.SyncRun) []any {
	scopes, counts, warnings := runDetails(run)
	return []any{run.ID, run.SourceID, run.InventoryID, string(run.Trigger), string(run.Status), run.CreatedAt, scopes, counts, warnings,
		run.ScheduledFor, max(run.Attempt, 1), nullString(run.RetryOf), run.NotBefore, run.Holder, run.LeaseUntil}
}

// storedScope and storedCounts are the JSON forms of a run's details.
type storedScope struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Hosts      int    `json:"hosts"`
	Error      string `json:"error,omitempty"`
	DurationUS int64  `json:"duration_us"`
}

type storedCounts struct {
	Seen      int `json:"seen"`
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Removed   int `json:"removed"`
	Disabled  int `json:"disabled"`
	Unchanged int `json:"unchanged"`
}

func runDetails(run *roster.SyncRun) (scopes, counts, warnings string) {
	ss := make([]storedScope, len(run.Scopes))
	for i, sc := range run.Scopes {
		ss[i] = storedScope{Name: sc.Name, Status: string(sc.Status), Hosts: sc.Hosts, Error: sc.Error, DurationUS: sc.Duration.Microseconds()}
	}
	w := run.Warnings
	if w == nil {
		w = []string{}
	}
	return mustJSON(ss), mustJSON(storedCounts(run.Counts)), mustJSON(w)
}

func scanSyncRun(r row) (*roster.SyncRun, error) {
	var run roster.SyncRun
	var scopes, counts, warnings []byte
	var retryOf *string
	var next *int
	if err := r.Scan(&run.ID, &run.SourceID, &run.InventoryID, &run.Trigger, &run.Status, &run.CreatedAt, &run.StartedAt, &run.FinishedAt,
		&scopes, &counts, &run.Error, &warnings, &run.ScheduledFor, &run.Attempt, &retryOf, &run.NotBefore, &run.Holder, &run.LeaseUntil, &next); err != nil {
		return nil, err
	}
	if next != nil {
		run.NextAttempt = *next
	}
	if retryOf != nil {
		run.RetryOf = *retryOf
	}
	var ss []storedScope
	var sc storedCounts
	if err := errors.Join(json.Unmarshal(scopes, &ss), json.Unmarshal(counts, &sc), json.Unmarshal(warnings, &run.Warnings)); err != nil {
		return nil, err
	}
	run.Counts = roster.SyncCounts(sc)
	for _, s := range ss {
		run.Scopes = append(run.Scopes, roster.ScopeResult{Name: s.Name, Status: roster.ScopeStatus(s.Status), Hosts: s.Hosts, Error: s.Error, Duration: time.Duration(s.DurationUS) * time.Microsecond})
	}
	return &run, nil
}

// CreateSyncRun implements roster.SyncRunStore. The partial unique index
// sync_runs_active makes it exclusive across processes: in PostgreSQL a
// concurrent insert for the same source waits for the first to commit,
// then does nothing, and two processes retrying one run queue up on that
// run's row; in SQLite the write transaction holds the only write lock, so
// the active run it may find cannot end before it is read.
func (s *db) CreateSyncRun(ctx context.Context, run *roster.SyncRun) (*roster.SyncRun, error) {
	for {
		run.ID = newID()
		run.Status = roster.SyncQueued
		run.CreatedAt = storedTime(s.now())
		run.Attempt = max(run.Attempt, 1)
		var active *roster.SyncRun
		inserted, superseded := false, false
		err := s.inTx(ctx, func(c conn) error {
			if run.RetryOf != "" {
				if _, err := c.exec(ctx, `UPDATE sync_runs SET next_attempt = NULL WHERE id = $1`, run.RetryOf); err != nil {
					return err
				}
				// Ids are time-ordered: a newer run of the source (the
				// retry itself, or any other sync) supersedes the retry.
				err := c.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE source_id = $1 AND id > $2)`, run.SourceID, run.RetryOf).Scan(&superseded)
				if err != nil || superseded {
					return err
				}
			}
			n, err := c.exec(ctx, syncRunInsert(`(source_id) WHERE status IN ('queued', 'running')`), syncRunArgs(run)...)
			if err != nil {
				return err
			}
			if inserted = n == 1; inserted {
				return nil
			}
			active, err = scanSyncRun(c.queryRow(ctx, `SELECT `+runCols+` FROM sync_runs WHERE source_id = $1 AND status IN ('queued', 'running')`, run.SourceID))
			if isNoRows(err) {
				return nil // it finished between our insert and this read: try again
			}
			return err
		})
		switch {
		case isForeignKey(err):
			return nil, notFound("source", run.SourceID)
		case isUnique(err):
			return nil, roster.Errorf(roster.ECONFLICT, "sync run %s was retried already", run.RetryOf)
		case err != nil:
			return nil, err
		case superseded:
			return nil, roster.Errorf(roster.ECONFLICT, "sync run %s was retried or superseded by a newer run already", run.RetryOf)
		case inserted:
			return nil, nil
		case active != nil:
			return active, nil
		}
	}
}

// changeRun runs the update q of one run and, when it changes none, returns
// the conflict refusal says.
func (s *db) changeRun(ctx context.Context, refusal string, q string, args ...any) error {
	n, err := s.w.exec(ctx, q, args...)
	if err != nil {
		return err
	}
	if n == 0 {
		return roster.Errorf(roster.ECONFLICT, "%s", refusal)
	}
	return nil
}

// StartSyncRun implements roster.SyncRunStore.
func (s *db) StartSyncRun(ctx context.Context, run *roster.SyncRun) error {
	err := s.changeRun(ctx, "sync run "+run.ID+" is not queued: it was started or finished already",
		`UPDATE sync_runs SET status = 'running', started_at = $1, holder = $2, lease_until = $3
		WHERE id = $4 AND status = 'queued' AND holder IN ('', $2)`,
		run.StartedAt, run.Holder, run.LeaseUntil, run.ID)
	if err == nil {
		run.Status = roster.SyncRunning
	}
	return err
}

// RenewSyncRun implements roster.SyncRunStore.
func (s *db) RenewSyncRun(ctx context.Context, run *roster.SyncRun) error {
	return s.changeRun(ctx, "sync run "+run.ID+" is no longer held by "+run.Holder,
		`UPDATE sync_runs SET lease_until = $1 WHERE id = $2 AND status = 'running' AND holder = $3`,
		run.LeaseUntil, run.ID, run.Holder)
}

// UpdateSyncRun implements roster.SyncRunStore.
func (s *db) UpdateSyncRun(ctx context.Context, run *roster.SyncRun) error {
	scopes, counts, warnings := runDetails(run)
	return s.changeRun(ctx, "sync run "+run.ID+" is not in progress",
		`UPDATE sync_runs SET scopes = $1, counts = $2, warnings = $3
		WHERE id = $4 AND (status = 'queued' OR (status = 'running' AND holder = $5))`,
		scopes, counts, warnings, run.ID, run.Holder)
}

// FinishSyncRun implements roster.SyncRunStore. Once the run is found
// held, nothing else can fail it before this transaction commits: in
// PostgreSQL its row is locked (ExpireSyncRuns skips locked rows), in
// SQLite the transaction holds the only write lock from its start.
func (s *db) FinishSyncRun(ctx context.Context, run *roster.SyncRun, changes *roster.HostChanges) error {
	return s.inTx(ctx, func(c conn) error {
		now := storedTime(s.now())
		synced := run.Status == roster.SyncSucceeded || run.Status == roster.SyncPartial
		if err := s.lockRunSource(ctx, c, run.SourceID, synced); err != nil {
			return err
		}
		var held bool
		err := c.queryRow(ctx, `SELECT status = 'queued' OR holder = $2 FROM sync_runs
			WHERE id = $1 AND status IN ('queued', 'running')`+s.lockRows("UPDATE"), run.ID, run.Holder).Scan(&held)
		if isNoRows(err) || err == nil && !held {
			return roster.Errorf(roster.ECONFLICT, "sync run %s is not in progress (or no longer held by this process)", run.ID)
		} else if err != nil {
			return err
		}
		if changes != nil {
			if err := s.applyChangesBumping(ctx, c, run, changes, now); err != nil {
				return err
			}
			if err := s.seeInputs(ctx, c, run.InventoryID, changes.InputGenerations); err != nil {
				return err
			}
		}
		// Stamped once the hosts are written: the run's duration is the
		// time until its changes could be read.
		finished := storedTime(s.now())
		scopes, counts, warnings := runDetails(run)
		if _, err := c.exec(ctx, `UPDATE sync_runs SET status = $1, started_at = $2, finished_at = $3, scopes = $4, counts = $5, error = $6, warnings = $7,
			next_attempt = $8 WHERE id = $9`,
			string(run.Status), run.StartedAt, finished, scopes, counts, run.Error, warnings, nullInt(run.NextAttempt), run.ID); err != nil {
			return err
		}
		if synced {
			if _, err := c.exec(ctx, `UPDATE sources SET last_synced_at = $2 WHERE id = $1`, run.SourceID, finished); err != nil {
				return err
			}
		}
		run.FinishedAt = &finished
		return nil
	})
}

// lockRunSource locks the source of a run being finished (PostgreSQL;
// SQLite's one writer needs no row locks), before anything else:
// DeleteSource takes its row lock first too, so the two queue up instead
// of deadlocking (see DeleteSource). A run that synced the source records
// that on the source, and so takes the lock of that update here rather
// than after the run's row: ClaimScheduledSync locks the source, then
// waits on the run's row (ON CONFLICT on sync_runs_active); upgrading from
// a key-share lock then would deadlock with it. Other runs only key-share
// lock the source, which lets claims and updates of other columns go on.
func (s *db) lockRunSource(ctx context.Context, c conn, sourceID string, synced bool) error {
	mode := "KEY SHARE"
	if synced {
		mode = "NO KEY UPDATE"
	}
	lock := s.lockRows(mode)
	if lock == "" {
		return nil
	}
	_, err := c.exec(ctx, `SELECT 1 FROM sources WHERE id = $1`+lock, sourceID)
	return err
}

// ExpireSyncRuns implements roster.SyncRunStore. In PostgreSQL runs being
// finished (their rows locked) are skipped: their holder still holds them.
func (s *db) ExpireSyncRuns(ctx context.Context, now time.Time, reason, sourceID string, limit int) ([]*roster.SyncRun, error) {
	rs, err := s.w.query(ctx, `UPDATE sync_runs SET status = 'failed', error = $1, finished_at = $2,
			next_attempt = CASE WHEN trigger <> 'cli' THEN attempt + 1 END
		WHERE id IN (SELECT id FROM sync_runs WHERE status IN ('queued', 'running')
			AND (lease_until < $2 OR (lease_until IS NULL AND status = 'running' AND started_at < $3))
			AND ($4 = '' OR source_id = $4) ORDER BY lease_until LIMIT $5`+s.lockRows("UPDATE SKIP LOCKED")+`)
		RETURNING `+runCols, reason, now, now.Add(-legacyLease), sourceID, limit)
	return scanAll(rs, err, scanSyncRun)
}

// OwedRetries implements roster.SyncRunStore.
func (s *db) OwedRetries(ctx context.Context, limit int) ([]*roster.SyncRun, error) {
	rs, err := s.r.query(ctx, `SELECT `+runCols+` FROM sync_runs WHERE next_attempt IS NOT NULL ORDER BY finished_at LIMIT $1`, limit)
	return scanAll(rs, err, scanSyncRun)
}

// SettleRetry implements roster.SyncRunStore.
func (s *db) SettleRetry(ctx context.Context, id string) error {
	_, err := s.w.exec(ctx, `UPDATE sync_runs SET next_attempt = NULL WHERE id = $1`, id)
	return err
}

// SyncRun implements roster.SyncRunStore.
func (s *db) SyncRun(ctx context.Context, id string) (*roster.SyncRun, error) {
	run, err := scanSyncRun(s.r.queryRow(ctx, `SELECT `+runCols+` FROM sync_runs WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, notFound("sync run", id)
	}
	return run, err
}

// SyncRuns implements roster.SyncRunStore.
func (s *db) SyncRuns(ctx context.Context, f roster.SyncRunFilter) ([]*roster.SyncRun, string, error) {
	limit := pageLimit(f.Limit)
	var w whereClause
	if f.SourceID != "" {
		w.add(`source_id = ?`, f.SourceID)
	}
	if f.InventoryID != "" {
		w.add(`inventory_id = ?`, f.InventoryID)
	}
	if f.After != "" {
		var after string
		if err := decodeCursor(f.After, &after); err != nil {
			return nil, "", err
		}
		w.add(`id < ?`, after)
	}
	q := `SELECT ` + runCols + ` FROM sync_runs` + w.String() + ` ORDER BY id DESC` + w.limit(limit+1)
	rs, err := s.r.query(ctx, q, w.args...)
	runs, err := scanAll(rs, err, scanSyncRun)
	if err != nil {
		return nil, "", err
	}
	var next string
	if len(runs) > limit {
		runs = runs[:limit]
		next = encodeCursor(runs[limit-1].ID)
	}
	return runs, next, nil
}
