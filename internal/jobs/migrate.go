package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
)

// schemaPart names River's migrations in a *roster.SchemaNewerError.
const schemaPart = "job queue (River)"

// Plan is what migrating the job queue's tables would do (roster migrate
// --dry-run).
type Plan struct {
	Applied []int                    // River versions the database has
	Pending []rivermigrate.Migration // those it would apply, in order
}

// SchemaVersion is the newest River schema version this binary knows.
func SchemaVersion() int { return newest(sqliteMigrations()) }

func sqliteMigrations() []rivermigrate.Migration {
	m, err := rivermigrate.New(riversqlite.New(nil), nil)
	if err != nil {
		return nil
	}
	return m.AllVersions()
}

func postgresMigrations() []rivermigrate.Migration {
	m, err := rivermigrate.New(riverpgxv5.New(nil), nil)
	if err != nil {
		return nil
	}
	return m.AllVersions()
}

func newest(all []rivermigrate.Migration) int {
	if len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Version
}

// planRiver refuses a database with River versions this binary does not
// know (River itself would ignore them, then fail on a table it does not
// expect) and lists the versions still to apply.
func planRiver(where string, applied []int, all []rivermigrate.Migration) (*Plan, error) {
	known := make([]int, len(all))
	for i, m := range all {
		known[i] = m.Version
	}
	if err := roster.CheckSchema(where, schemaPart, applied, known); err != nil {
		return nil, err
	}
	p := &Plan{Applied: applied}
	for _, m := range all {
		if !slices.Contains(applied, m.Version) {
			p.Pending = append(p.Pending, m)
		}
	}
	return p, nil
}

// sqlQuerier is what *sql.DB and *sql.Tx share.
type sqlQuerier interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
	QueryRowContext(context.Context, string, ...any) *sql.Row
}

// sqliteApplied reads River's versions from a SQLite database (none when
// its table does not exist yet).
func sqliteApplied(ctx context.Context, q sqlQuerier) ([]int, error) {
	var tables int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'river_migration'`).Scan(&tables); err != nil || tables == 0 {
		return nil, err
	}
	rows, err := q.QueryContext(ctx, `SELECT version FROM river_migration ORDER BY version`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// postgresApplied reads River's versions from PostgreSQL (none when its
// table does not exist yet).
func postgresApplied(ctx context.Context, q interface {
	Query(context.Context, string, ...any) (pgx.Rows, error)
}) ([]int, error) {
	rows, err := q.Query(ctx, `SELECT to_regclass('river_migration') IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	exists, err := pgx.CollectExactlyOneRow(rows, pgx.RowTo[bool])
	if err != nil || !exists {
		return nil, err
	}
	rows, err = q.Query(ctx, `SELECT version FROM river_migration ORDER BY version`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}

// PlanSQLite works out what opening the queue in the SQLite database at
// path would migrate, reading it only (a missing file: everything).
func PlanSQLite(ctx context.Context, path string) (*Plan, error) {
	all := sqliteMigrations()
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return planRiver(path, nil, all)
	}
	db, err := store.OpenSQLiteReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	applied, err := sqliteApplied(ctx, db)
	if err != nil {
		return nil, fmt.Errorf("job queue: read %s: %w", path, err)
	}
	return planRiver(path, applied, all)
}

// PlanPostgres works out what opening the queue on the PostgreSQL database
// at dsn would migrate, without changing it.
func PlanPostgres(ctx context.Context, dsn string) (*Plan, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("job queue: connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	applied, err := postgresApplied(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("job queue: read River's versions: %w", err)
	}
	return planRiver(store.PostgresDisplayName(cfg), applied, postgresMigrations())
}
