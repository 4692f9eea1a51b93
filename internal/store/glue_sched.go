package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// Glue between the schedule, change-history and derived-inventory code
// (schedule.go, changes.go, derived.go), written once over the seam, and
// the code not on it yet. Delete this file once syncs (postgres_sync.go,
// sqlite_sync.go) are on the seam: they then call db's seeInputs and
// recordRemoved … directly, and define the run scanners below themselves.

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

func pgSeeInputs(ctx context.Context, tx pgx.Tx, inventoryID string, gens map[string]int64) error {
	return pgFamily.seeInputs(ctx, pgGlue(tx), inventoryID, gens)
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
