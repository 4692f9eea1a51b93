package store

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// The scheduler's side of the store (roster.SchedulerStore) and the
// metrics' counts (roster.StatsStore). What must happen once across
// processes (a tick's claim, a callback) is a statement conditional on the
// stored state: in PostgreSQL the first takes the source's row lock and
// the others wait for it, then find the state moved and change nothing; in
// SQLite the one writer runs them in turn.

var (
	_ roster.SchedulerStore = (*SQLite)(nil)
	_ roster.SchedulerStore = (*Postgres)(nil)
	_ roster.StatsStore     = (*SQLite)(nil)
	_ roster.StatsStore     = (*Postgres)(nil)
)

// DueSources implements roster.SchedulerStore: never planned (NULL) first,
// then by when due and id.
func (s *db) DueSources(ctx context.Context, now time.Time, limit int) ([]*roster.Source, error) {
	rs, err := s.r.query(ctx, `SELECT `+sourceColumns+` FROM sources
		WHERE schedule <> '' AND (next_due IS NULL OR next_due <= $1) ORDER BY next_due NULLS FIRST, id LIMIT $2`, now, limit)
	return scanAll(rs, err, readSource)
}

// ClaimScheduledSync implements roster.SchedulerStore. The claim is an
// UPDATE conditional on the stored tick (see above). The run is inserted
// in the same transaction; ON CONFLICT DO NOTHING skips it when the
// source has an active run (sync_runs_active) or the tick already ran
// (sync_runs_tick).
func (s *db) ClaimScheduledSync(ctx context.Context, sourceID string, tick time.Time, next *roster.ScheduledSync) (*roster.SyncRun, bool, error) {
	var run *roster.SyncRun
	claimed := false
	nextTick, nextDue := nextSyncArgs(next)
	args := []any{sourceID, nextTick, nextDue}
	stored := `next_tick IS NULL` // the zero tick: no next sync planned
	if !tick.IsZero() {
		tick = storedTime(tick)
		args, stored = append(args, tick), `next_tick = $4`
	}
	err := s.inTx(ctx, func(c conn) error {
		run, claimed = nil, false
		var inventoryID string
		err := c.queryRow(ctx, `UPDATE sources SET next_tick = $2, next_due = $3 WHERE id = $1 AND `+stored+` RETURNING inventory_id`,
			args...).Scan(&inventoryID)
		if isNoRows(err) {
			return sourceMustExist(ctx, c, sourceID)
		} else if err != nil {
			return err
		}
		claimed = true
		if tick.IsZero() {
			return nil
		}
		r := &roster.SyncRun{ID: newID(), SourceID: sourceID, InventoryID: inventoryID, Trigger: roster.TriggerSchedule,
			Status: roster.SyncQueued, CreatedAt: storedTime(s.now()), ScheduledFor: &tick}
		n, err := c.exec(ctx, syncRunInsert(""), syncRunArgs(r)...)
		if err != nil {
			return err
		}
		if n == 1 {
			run = r
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return run, claimed, nil
}

// sourceMustExist is the not-found error of a source that does not exist.
func sourceMustExist(ctx context.Context, c conn, sourceID string) error {
	var exists bool
	if err := c.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sources WHERE id = $1)`, sourceID).Scan(&exists); err != nil {
		return err
	}
	if !exists {
		return notFound("source", sourceID)
	}
	return nil
}

// SetCallbackKey implements roster.SchedulerStore.
func (s *db) SetCallbackKey(ctx context.Context, sourceID, hash string) error {
	n, err := s.w.exec(ctx, `UPDATE sources SET callback_hash = $1, callback_at = NULL WHERE id = $2`, nullString(hash), sourceID)
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "another source has this callback key")
	}
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("source", sourceID)
	}
	return nil
}

// SourceByCallbackKey implements roster.SchedulerStore.
func (s *db) SourceByCallbackKey(ctx context.Context, hash string) (*roster.Source, error) {
	src, err := readSource(s.r.queryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE callback_hash = $1`, hash))
	if isNoRows(err) {
		return nil, roster.Errorf(roster.ENOTFOUND, "no source has this callback key")
	}
	return src, err
}

// TakeCallback implements roster.SchedulerStore. The callback is taken by
// an UPDATE conditional on the last one being gap ago, so of callbacks of
// one source at once, on any number of processes, one is taken.
func (s *db) TakeCallback(ctx context.Context, sourceID string, now time.Time, gap time.Duration) (bool, time.Duration, error) {
	for {
		n, err := s.w.exec(ctx, `UPDATE sources SET callback_at = $2 WHERE id = $1 AND (callback_at IS NULL OR callback_at + $3 <= $2)`,
			sourceID, now, gap)
		if err != nil {
			return false, 0, err
		}
		if n == 1 {
			return true, 0, nil
		}
		var last *time.Time
		err = s.r.queryRow(ctx, `SELECT callback_at FROM sources WHERE id = $1`, sourceID).Scan(&last)
		if isNoRows(err) {
			return false, 0, notFound("source", sourceID)
		} else if err != nil {
			return false, 0, err
		}
		if last != nil {
			if next := last.Add(gap); now.Before(next) {
				return false, next.Sub(now), nil
			}
		}
		// The last callback was forgotten (a new key) since the update:
		// try again.
	}
}

// SourceSyncStates implements roster.SchedulerStore.
func (s *db) SourceSyncStates(ctx context.Context, inventoryID string) ([]roster.SourceSyncState, error) {
	var out []roster.SourceSyncState
	// One snapshot: a run finishing between the two reads would look
	// neither synced nor active.
	err := s.snapshot(ctx, func(c conn) error {
		rs, err := c.query(ctx, `SELECT id, last_synced_at, update_cache_timeout FROM sources WHERE inventory_id = $1 ORDER BY name`, inventoryID)
		out, err = scanAll(rs, err, func(r row) (roster.SourceSyncState, error) {
			var st roster.SourceSyncState
			return st, r.Scan(&st.SourceID, &st.LastSynced, &st.UpdateCacheTimeout)
		})
		if err != nil {
			return err
		}
		index := make(map[string]int, len(out))
		for i, st := range out {
			index[st.SourceID] = i
		}
		rs, err = c.query(ctx, `SELECT `+runCols+` FROM sync_runs WHERE inventory_id = $1 AND status IN ('queued', 'running')`, inventoryID)
		runs, err := scanAll(rs, err, scanSyncRun)
		if err != nil {
			return err
		}
		for _, run := range runs {
			if i, ok := index[run.SourceID]; ok {
				out[i].Active = run
			}
		}
		return nil
	})
	return out, err
}

// QueuedSyncRuns implements roster.SchedulerStore.
func (s *db) QueuedSyncRuns(ctx context.Context, before time.Time, limit int) ([]*roster.SyncRun, error) {
	rs, err := s.r.query(ctx, `SELECT `+runCols+` FROM sync_runs WHERE status = 'queued' AND holder = '' AND created_at < $1
		AND (not_before IS NULL OR not_before < $1) ORDER BY created_at LIMIT $2`, before, limit)
	return scanAll(rs, err, scanSyncRun)
}

// HostCounts implements roster.StatsStore.
func (s *db) HostCounts(ctx context.Context) ([]roster.HostCount, error) {
	rs, err := s.r.query(ctx, `SELECT i.id, i.name, count(h.id), count(h.id) FILTER (WHERE h.enabled)
		FROM inventories i LEFT JOIN hosts h ON h.inventory_id = i.id GROUP BY i.id ORDER BY i.name`)
	return scanAll(rs, err, func(r row) (roster.HostCount, error) {
		var c roster.HostCount
		return c, r.Scan(&c.InventoryID, &c.Inventory, &c.Hosts, &c.Enabled)
	})
}
