package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rosterhq/roster"
)

var (
	_ roster.SchedulerStore = (*Postgres)(nil)
	_ roster.StatsStore     = (*Postgres)(nil)
)

// DueSources implements roster.SchedulerStore.
func (s *Postgres) DueSources(ctx context.Context, now time.Time, limit int) ([]*roster.Source, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgSourceCols+` FROM sources
		WHERE schedule <> '' AND (next_due IS NULL OR next_due <= $1) ORDER BY next_due NULLS FIRST, id LIMIT $2`, now, limit)
	return collect(rows, err, pgScanSourceRows)
}

// ClaimScheduledSync implements roster.SchedulerStore. Several processes
// may claim one tick at once: the claim is an UPDATE conditional on the
// stored tick, so the first takes the source's row lock and the others
// wait for it, then find the tick moved and update nothing. The run is
// inserted in the same transaction; ON CONFLICT DO NOTHING skips it when
// the source has an active run (sync_runs_active) or the tick already ran
// (sync_runs_tick).
func (s *Postgres) ClaimScheduledSync(ctx context.Context, sourceID string, tick time.Time, next *roster.ScheduledSync) (*roster.SyncRun, bool, error) {
	var run *roster.SyncRun
	claimed := false
	nextTick, nextDue := pgNextSync(next)
	args := []any{sourceID, nextTick, nextDue}
	stored := `next_tick IS NULL` // the zero tick: no next sync planned
	if !tick.IsZero() {
		tick = pgTime(tick)
		args, stored = append(args, tick), `next_tick = $4`
	}
	err := s.tx(ctx, func(tx pgx.Tx) error {
		run, claimed = nil, false
		var inventoryID string
		err := tx.QueryRow(ctx, `UPDATE sources SET next_tick = $2, next_due = $3 WHERE id = $1 AND `+stored+` RETURNING inventory_id`,
			args...).Scan(&inventoryID)
		if errors.Is(err, pgx.ErrNoRows) {
			var exists bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sources WHERE id = $1)`, sourceID).Scan(&exists); err != nil {
				return err
			}
			if !exists {
				return notFound("source", sourceID)
			}
			return nil
		} else if err != nil {
			return err
		}
		claimed = true
		if tick.IsZero() {
			return nil
		}
		r := &roster.SyncRun{ID: newID(), SourceID: sourceID, InventoryID: inventoryID, Trigger: roster.TriggerSchedule,
			Status: roster.SyncQueued, CreatedAt: pgTime(s.now()), ScheduledFor: &tick}
		tag, err := tx.Exec(ctx, pgInsertRun(""), pgRunInsertArgs(r)...)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 1 {
			run = r
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return run, claimed, nil
}

// SetCallbackKey implements roster.SchedulerStore.
func (s *Postgres) SetCallbackKey(ctx context.Context, sourceID, hash string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sources SET callback_hash = $1, callback_at = NULL WHERE id = $2`, nullString(hash), sourceID)
	if pgIsUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "another source has this callback key")
	}
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("source", sourceID)
	}
	return nil
}

// SourceByCallbackKey implements roster.SchedulerStore.
func (s *Postgres) SourceByCallbackKey(ctx context.Context, hash string) (*roster.Source, error) {
	src, err := pgScanSource(s.pool.QueryRow(ctx, `SELECT `+pgSourceCols+` FROM sources WHERE callback_hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "no source has this callback key")
	}
	return src, err
}

// TakeCallback implements roster.SchedulerStore. The callback is taken by
// an UPDATE conditional on the last one being gap ago, so of callbacks of
// one source at once, on any number of processes, one is taken.
func (s *Postgres) TakeCallback(ctx context.Context, sourceID string, now time.Time, gap time.Duration) (bool, time.Duration, error) {
	for {
		tag, err := s.pool.Exec(ctx, `UPDATE sources SET callback_at = $2 WHERE id = $1 AND (callback_at IS NULL OR callback_at + $3 <= $2)`,
			sourceID, pgTime(now), pgtype.Interval{Microseconds: gap.Microseconds(), Valid: true})
		if err != nil {
			return false, 0, err
		}
		if tag.RowsAffected() == 1 {
			return true, 0, nil
		}
		var last *time.Time
		err = s.pool.QueryRow(ctx, `SELECT callback_at FROM sources WHERE id = $1`, sourceID).Scan(&last)
		if errors.Is(err, pgx.ErrNoRows) {
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
func (s *Postgres) SourceSyncStates(ctx context.Context, inventoryID string) ([]roster.SourceSyncState, error) {
	var out []roster.SourceSyncState
	// One snapshot: a run finishing between the two reads would look
	// neither synced nor active.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, `SELECT id, last_synced_at, update_cache_timeout FROM sources WHERE inventory_id = $1 ORDER BY name`, inventoryID)
		if err != nil {
			return err
		}
		index := map[string]int{}
		var st roster.SourceSyncState
		var timeout pgtype.Interval
		_, err = pgx.ForEachRow(rows, []any{&st.SourceID, &st.LastSynced, &timeout}, func() error {
			st.LastSynced, st.UpdateCacheTimeout = utcPtr(st.LastSynced), fromPGDuration(timeout)
			index[st.SourceID] = len(out)
			out = append(out, st)
			return nil
		})
		if err != nil {
			return err
		}
		rows, err = tx.Query(ctx, `SELECT `+pgRunCols+` FROM sync_runs WHERE inventory_id = $1 AND status IN ('queued', 'running')`, inventoryID)
		runs, err := collect(rows, err, pgScanRunRows)
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
func (s *Postgres) QueuedSyncRuns(ctx context.Context, before time.Time, limit int) ([]*roster.SyncRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgRunCols+` FROM sync_runs WHERE status = 'queued' AND holder = '' AND created_at < $1
		AND (not_before IS NULL OR not_before < $1) ORDER BY created_at LIMIT $2`,
		before, limit)
	return collect(rows, err, pgScanRunRows)
}

// HostCounts implements roster.StatsStore.
func (s *Postgres) HostCounts(ctx context.Context) ([]roster.HostCount, error) {
	rows, err := s.pool.Query(ctx, `SELECT i.id, i.name, count(h.id), count(h.id) FILTER (WHERE h.enabled)
		FROM inventories i LEFT JOIN hosts h ON h.inventory_id = i.id GROUP BY i.id ORDER BY i.name`)
	if err != nil {
		return nil, err
	}
	var out []roster.HostCount
	var c roster.HostCount
	_, err = pgx.ForEachRow(rows, []any{&c.InventoryID, &c.Inventory, &c.Hosts, &c.Enabled}, func() error {
		out = append(out, c)
		return nil
	})
	return out, err
}
