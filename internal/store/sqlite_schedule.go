package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.SchedulerStore = (*SQLite)(nil)

// DueSources implements roster.SchedulerStore.
func (s *SQLite) DueSources(ctx context.Context, now time.Time, limit int) ([]*roster.Source, error) {
	// NULLs (never planned) first, then by id: the same order as PostgreSQL.
	rows, err := s.rq.QueryContext(ctx, `SELECT `+sourceCols+` FROM sources
		WHERE schedule <> '' AND (next_due IS NULL OR next_due <= ?) ORDER BY next_due, id LIMIT ?`, micros(now), limit)
	return collectRows(rows, err, scanSource)
}

// ClaimScheduledSync implements roster.SchedulerStore.
func (s *SQLite) ClaimScheduledSync(ctx context.Context, sourceID string, tick time.Time, next *roster.ScheduledSync) (*roster.SyncRun, bool, error) {
	var run *roster.SyncRun
	claimed := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var inventoryID string
		var stored *int64
		err := tx.QueryRowContext(ctx, `SELECT inventory_id, next_tick FROM sources WHERE id = ?`, sourceID).Scan(&inventoryID, &stored)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("source", sourceID)
		} else if err != nil {
			return err
		}
		if !sameTick(stored, tick) {
			return nil
		}
		claimed = true
		nextTick, nextDue := nextSyncMicros(next)
		if _, err := tx.ExecContext(ctx, `UPDATE sources SET next_tick = ?, next_due = ? WHERE id = ?`, nextTick, nextDue, sourceID); err != nil {
			return err
		}
		if tick.IsZero() {
			return nil
		}
		r := &roster.SyncRun{ID: newID(), SourceID: sourceID, InventoryID: inventoryID, Trigger: roster.TriggerSchedule,
			Status: roster.SyncQueued, CreatedAt: s.now().UTC().Truncate(time.Microsecond)}
		t := tick.UTC().Truncate(time.Microsecond)
		r.ScheduledFor = &t
		// DO NOTHING on either unique index: the source has an active run
		// (the tick is skipped), or the tick already ran.
		res, err := tx.ExecContext(ctx, insertRun(""), runInsertArgs(r)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			run = r
		}
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return run, claimed, nil
}

func sameTick(stored *int64, tick time.Time) bool {
	if tick.IsZero() {
		return stored == nil
	}
	return stored != nil && *stored == micros(tick)
}

// SetCallbackKey implements roster.SchedulerStore.
func (s *SQLite) SetCallbackKey(ctx context.Context, sourceID, hash string) error {
	res, err := s.wq.ExecContext(ctx, `UPDATE sources SET callback_hash = ?, callback_at = NULL WHERE id = ?`, nullString(hash), sourceID)
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "another source has this callback key")
	}
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("source", sourceID)
	}
	return nil
}

// SourceByCallbackKey implements roster.SchedulerStore.
func (s *SQLite) SourceByCallbackKey(ctx context.Context, hash string) (*roster.Source, error) {
	src, err := scanSource(s.rq.QueryRowContext(ctx, `SELECT `+sourceCols+` FROM sources WHERE callback_hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "no source has this callback key")
	}
	return src, err
}

// TakeCallback implements roster.SchedulerStore.
func (s *SQLite) TakeCallback(ctx context.Context, sourceID string, now time.Time, gap time.Duration) (bool, time.Duration, error) {
	ok := false
	var wait time.Duration
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var last *int64
		err := tx.QueryRowContext(ctx, `SELECT callback_at FROM sources WHERE id = ?`, sourceID).Scan(&last)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("source", sourceID)
		} else if err != nil {
			return err
		}
		if last != nil {
			if next := fromMicros(*last).Add(gap); now.Before(next) {
				wait = next.Sub(now)
				return nil
			}
		}
		ok = true
		_, err = tx.ExecContext(ctx, `UPDATE sources SET callback_at = ? WHERE id = ?`, micros(now), sourceID)
		return err
	})
	return ok, wait, err
}

// SourceSyncStates implements roster.SchedulerStore.
func (s *SQLite) SourceSyncStates(ctx context.Context, inventoryID string) ([]roster.SourceSyncState, error) {
	// One read transaction: a run that finishes between the two queries
	// must not look neither active nor synced.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT id, last_synced_at, update_cache_timeout FROM sources WHERE inventory_id = ? ORDER BY name`, inventoryID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.SourceSyncState
	index := map[string]int{}
	for rows.Next() {
		var st roster.SourceSyncState
		var last *int64
		var timeout int64
		if err := rows.Scan(&st.SourceID, &last, &timeout); err != nil {
			return nil, err
		}
		st.LastSynced, st.UpdateCacheTimeout = fromNullMicros(last), fromDurationMicros(timeout)
		index[st.SourceID] = len(out)
		out = append(out, st)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	rows.Close()
	runs, err := tx.QueryContext(ctx, `SELECT `+runCols+` FROM sync_runs WHERE inventory_id = ? AND status IN ('queued', 'running')`, inventoryID)
	if err != nil {
		return nil, err
	}
	defer runs.Close()
	for runs.Next() {
		run, err := scanRun(runs)
		if err != nil {
			return nil, err
		}
		if i, ok := index[run.SourceID]; ok {
			out[i].Active = run
		}
	}
	return out, runs.Err()
}

// QueuedSyncRuns implements roster.SchedulerStore.
func (s *SQLite) QueuedSyncRuns(ctx context.Context, before time.Time, limit int) ([]*roster.SyncRun, error) {
	return s.queryRuns(ctx, `SELECT `+runCols+` FROM sync_runs WHERE status = 'queued' AND holder = '' AND created_at < ?
		AND (not_before IS NULL OR not_before < ?) ORDER BY created_at LIMIT ?`,
		micros(before), micros(before), limit)
}

// queryRuns returns the runs a query selects (runCols).
func (s *SQLite) queryRuns(ctx context.Context, query string, args ...any) ([]*roster.SyncRun, error) {
	rows, err := s.rq.QueryContext(ctx, query, args...)
	return collectRows(rows, err, scanRun)
}

var _ roster.StatsStore = (*SQLite)(nil)

// HostCounts implements roster.StatsStore.
func (s *SQLite) HostCounts(ctx context.Context) ([]roster.HostCount, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT i.id, i.name, count(h.id), COALESCE(sum(h.enabled), 0)
		FROM inventories i LEFT JOIN hosts h ON h.inventory_id = i.id GROUP BY i.id ORDER BY i.name`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.HostCount
	for rows.Next() {
		var c roster.HostCount
		if err := rows.Scan(&c.InventoryID, &c.Inventory, &c.Hosts, &c.Enabled); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}
