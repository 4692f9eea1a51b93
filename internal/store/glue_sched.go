package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// Glue between the schedule, change-history and derived-inventory code
// (schedule.go, changes.go, derived.go), written once over the seam, and
// the code not on it yet. Delete this file once inventories and sources
// (postgres.go, sqlite.go) and syncs (postgres_sync.go, sqlite_sync.go)
// are on the seam: they then call db's loadInputs, setInputs, inputOf,
// seeInputs and recordRemoved … directly, and define the source and run
// scanners below themselves.

// ---- the per-database callers of this family's helpers

var (
	pgFamily     = &db{dialect: postgresDialect}
	sqliteFamily = &db{dialect: sqliteDialect}
)

// pgGlue is q as a conn whose storage errors name the database as the
// store's own conns do.
func pgGlue(q pgQuerier) conn {
	switch q := q.(type) {
	case *pgPool:
		return pgConn{q, q.where}
	case pgx.Tx:
		return pgConn{q, PostgresDisplayName(q.Conn().Config())}
	}
	return pgConn{q: q}
}

// sqliteGlue is q as a conn; its callers explain storage errors already.
func sqliteGlue(q querier) conn {
	return sqliteConn{q, func(err error) error { return err }}
}

func pgLoadInputs(ctx context.Context, q pgQuerier, inv *roster.Inventory) error {
	return pgFamily.loadInputs(ctx, pgGlue(q), inv)
}

func pgLoadAllInputs(ctx context.Context, q pgQuerier, invs []*roster.Inventory) error {
	return pgFamily.loadAllInputs(ctx, pgGlue(q), invs)
}

func pgSetInputs(ctx context.Context, tx pgx.Tx, inv *roster.Inventory, inputs []string) error {
	return pgFamily.setInputs(ctx, pgGlue(tx), inv, inputs)
}

func pgInputOf(ctx context.Context, q pgQuerier, id string) error {
	return pgFamily.inputOf(ctx, pgGlue(q), id)
}

func pgSeeInputs(ctx context.Context, tx pgx.Tx, inventoryID string, gens map[string]int64) error {
	return pgFamily.seeInputs(ctx, pgGlue(tx), inventoryID, gens)
}

func loadInputs(ctx context.Context, q querier, inv *roster.Inventory) error {
	return sqliteFamily.loadInputs(ctx, sqliteGlue(q), inv)
}

func loadAllInputs(ctx context.Context, q querier, invs []*roster.Inventory) error {
	return sqliteFamily.loadAllInputs(ctx, sqliteGlue(q), invs)
}

func setInputs(ctx context.Context, tx *sql.Tx, inv *roster.Inventory, inputs []string) error {
	return sqliteFamily.setInputs(ctx, sqliteGlue(tx), inv, inputs)
}

func inputOf(ctx context.Context, q querier, id string) error {
	return sqliteFamily.inputOf(ctx, sqliteGlue(q), id)
}

func seeInputs(ctx context.Context, tx *sql.Tx, inventoryID string, gens map[string]int64) error {
	return sqliteFamily.seeInputs(ctx, sqliteGlue(tx), inventoryID, gens)
}

func pgRecordRemoved(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, ids []int64, now time.Time) error {
	return pgFamily.recordRemoved(ctx, pgGlue(tx), run, ids, now)
}

func pgRecordDisabled(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, ids []int64, now time.Time) error {
	return pgFamily.recordDisabled(ctx, pgGlue(tx), run, ids, now)
}

func pgRecordAdded(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, hosts []*roster.Host, now time.Time) error {
	return pgFamily.recordAdded(ctx, pgGlue(tx), run, hosts, now)
}

func pgRecordUpdated(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, hosts []*roster.Host, now time.Time) error {
	return pgFamily.recordUpdated(ctx, pgGlue(tx), run, hosts, now)
}

// int64s are the ids of an IN list's arguments (inList).
func int64s(args []any) []int64 {
	ids := make([]int64, len(args))
	for i, a := range args {
		ids[i] = a.(int64)
	}
	return ids
}

func recordRemoved(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, _ string, args []any, ts int64) error {
	return sqliteFamily.recordRemoved(ctx, sqliteGlue(tx), run, int64s(args), fromMicros(ts))
}

func recordDisabled(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, _ string, args []any, ts int64) error {
	return sqliteFamily.recordDisabled(ctx, sqliteGlue(tx), run, int64s(args), fromMicros(ts))
}

func recordUpdated(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, hosts []*roster.Host, ts int64) error {
	return sqliteFamily.recordUpdated(ctx, sqliteGlue(tx), run, hosts, fromMicros(ts))
}

// recordAdded records the addition of the hosts whose ids are in (first,
// last], the block the run took, once they are written (SQLite's sync
// writes its new hosts so; db.recordAdded records a batch of them).
func recordAdded(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, first, last, ts int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, at)
		SELECT ?, inventory_id, source_id, id, name, 'added', ? FROM hosts WHERE id > ? AND id <= ? ORDER BY id`,
		run.ID, ts, first, last)
	return err
}

// ---- sources and runs over the seam: copies of what st-core's sources.go
// and st-sync's syncruns.go define; delete these with their merge.

const sourceColumns = `id, inventory_id, name, provider, config, on_missing, COALESCE(credential_id, ''), schedule, schedule_jitter,
	timeout, update_cache_timeout, next_tick, next_due, callback_hash IS NOT NULL, created_at, updated_at`

// readSource reads the columns of sourceColumns.
func readSource(r row) (*roster.Source, error) {
	var src roster.Source
	var config []byte
	var tick, due *time.Time
	if err := r.Scan(&src.ID, &src.InventoryID, &src.Name, &src.Provider, &config, &src.OnMissing, &src.CredentialID,
		&src.Schedule, &src.ScheduleJitter, &src.Timeout, &src.UpdateCacheTimeout, &tick, &due, &src.HasCallbackKey,
		&src.CreatedAt, &src.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(config, &src.Config); err != nil {
		return nil, fmt.Errorf("source %s: decode config: %w", src.ID, err)
	}
	if tick != nil && due != nil {
		src.NextSync = &roster.ScheduledSync{Tick: *tick, Due: *due}
	}
	return &src, nil
}

// nextSyncArgs are the arguments of a source's next scheduled sync
// (next_tick, next_due): NULL when there is none.
func nextSyncArgs(n *roster.ScheduledSync) (tick, due *time.Time) {
	if n == nil {
		return nil, nil
	}
	return &n.Tick, &n.Due
}
