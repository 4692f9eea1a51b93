package store

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// Calls from db code into helpers of the store's families not yet on the
// dialect seam (issue 21): each database's form, given what the conn runs
// statements on (inside s.inTx, the transaction). When a family's helpers
// take a conn, its calls here give way to them, and this file goes with
// the last.

// perDatabase calls onSQLite or onPostgres with what c runs statements on.
func perDatabase(c conn, onSQLite func(querier) error, onPostgres func(pgQuerier) error) error {
	switch c := c.(type) {
	case sqliteConn:
		return onSQLite(c.q)
	case pgConn:
		return onPostgres(c.q)
	}
	panic(fmt.Sprintf("store: no database behind a %T", c))
}

// A sync's writes (sqlite_sync.go, postgres_sync.go,
// sqlite_generation.go, postgres_generation.go); each runs in a
// transaction.

func bumpGenerationOn(ctx context.Context, c conn, inventoryID string) (gen int64, err error) {
	err = perDatabase(c,
		func(q querier) (err error) { gen, err = bumpGeneration(ctx, q.(*sql.Tx), inventoryID); return err },
		func(q pgQuerier) (err error) { gen, err = pgBumpGeneration(ctx, q.(pgx.Tx), inventoryID); return err })
	return gen, err
}

// deleteSourceMemberships deletes the memberships of a source's hosts,
// counting them down in t.
func deleteSourceMemberships(ctx context.Context, c conn, t groupTally, sourceID string) error {
	return perDatabase(c,
		func(q querier) error {
			return deleteMemberships(ctx, q.(*sql.Tx), t, `SELECT id FROM hosts WHERE source_id = ?`, sourceID)
		},
		func(q pgQuerier) error {
			return pgDeleteMemberships(ctx, q.(pgx.Tx), t, `host_id IN (SELECT id FROM hosts WHERE source_id = $1)`, sourceID)
		})
}

func writeGroupCountsOn(ctx context.Context, c conn, inventoryID string, t groupTally) error {
	return perDatabase(c,
		func(q querier) error { return writeGroupCounts(ctx, q.(*sql.Tx), inventoryID, t) },
		func(q pgQuerier) error { return pgWriteGroupCounts(ctx, q.(pgx.Tx), inventoryID, t) })
}
