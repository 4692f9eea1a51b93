package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// Migration is one schema migration this binary embeds.
type Migration struct {
	Version int
	Name    string // the file's name, e.g. 0002_credentials.sql
	SQL     string
}

// Plan is what migrating a database would do, worked out without changing
// it (roster migrate --dry-run).
type Plan struct {
	Applied []int       // the store versions the database has, in order
	Pending []Migration // those it would apply, in order
}

// schemaPart names the store's migrations in a *roster.SchemaNewerError.
const schemaPart = "store"

// SchemaVersion is the newest store schema version this binary knows (the
// same number on both engines).
func SchemaVersion() int {
	all, err := embedded(sqliteMigrations, "migrations/sqlite")
	if err != nil || len(all) == 0 {
		return 0
	}
	return all[len(all)-1].Version
}

// SQLiteMigrations and PostgresMigrations are the migrations this binary
// embeds, in order (for the immutability test and roster migrate).
func SQLiteMigrations() ([]Migration, error) {
	return embedded(sqliteMigrations, "migrations/sqlite")
}

// PostgresMigrations: see SQLiteMigrations.
func PostgresMigrations() ([]Migration, error) {
	return embedded(postgresMigrations, "migrations/postgres")
}

// embedded reads the migrations of dir, sorted by version.
func embedded(files embed.FS, dir string) ([]Migration, error) {
	names, err := fs.Glob(files, dir+"/*.sql")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	out := make([]Migration, 0, len(names))
	for _, name := range names {
		base := filepath.Base(name)
		version, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: name must start with a number", name)
		}
		body, err := files.ReadFile(name)
		if err != nil {
			return nil, err
		}
		out = append(out, Migration{Version: version, Name: base, SQL: string(body)})
	}
	return out, nil
}

// plan checks applied against all (refusing a newer database) and returns
// the migrations still to apply.
func plan(where string, applied []int, all []Migration) (*Plan, error) {
	known := make([]int, len(all))
	for i, m := range all {
		known[i] = m.Version
	}
	if err := roster.CheckSchema(where, schemaPart, applied, known); err != nil {
		return nil, err
	}
	done := make(map[int]bool, len(applied))
	for _, v := range applied {
		done[v] = true
	}
	p := &Plan{Applied: applied}
	for _, m := range all {
		if !done[m.Version] {
			p.Pending = append(p.Pending, m)
		}
	}
	return p, nil
}

// appliedVersions reads schema_migrations, in order.
func appliedVersions(ctx context.Context, q querier) ([]int, error) {
	rows, err := q.QueryContext(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	return collectRows(rows, err, func(r interface{ Scan(...any) error }) (int, error) {
		var v int
		return v, r.Scan(&v)
	})
}

// PlanSQLite works out what opening the SQLite database at path would
// migrate, opening it read-only: a missing file is not created (everything
// is pending), nothing is written. A database newer than this binary is
// refused with a *roster.SchemaNewerError, as OpenSQLite refuses it.
func PlanSQLite(ctx context.Context, path string) (*Plan, error) {
	all, err := SQLiteMigrations()
	if err != nil {
		return nil, err
	}
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return plan(path, nil, all)
	}
	db, err := OpenSQLiteReadOnly(path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var tables int
	if err := db.QueryRowContext(ctx, `SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'`).Scan(&tables); err != nil {
		return nil, explainSQLite(path, err)
	}
	var applied []int
	if tables > 0 {
		if applied, err = appliedVersions(ctx, db); err != nil {
			return nil, explainSQLite(path, err)
		}
	}
	return plan(path, applied, all)
}

// OpenSQLiteReadOnly opens the database file at path for reading only
// (mode=ro): what looks at a database without changing it. A WAL database
// that no process has open (no -wal file beside it) is opened immutable,
// as read-only alone would still create the -wal and -shm files.
func OpenSQLiteReadOnly(path string) (*sql.DB, error) {
	q := url.Values{}
	q.Add("mode", "ro")
	if _, err := os.Stat(path + "-wal"); errors.Is(err, fs.ErrNotExist) {
		q.Add("immutable", "1")
	}
	q.Add("_pragma", "busy_timeout(10000)")
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

// PlanPostgres works out what opening the PostgreSQL database at dsn would
// migrate, without taking the migration lock or creating anything.
func PlanPostgres(ctx context.Context, dsn string) (*Plan, error) {
	all, err := PostgresMigrations()
	if err != nil {
		return nil, err
	}
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	where := PostgresDisplayName(cfg)
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, explainPostgres(where, fmt.Errorf("connect to PostgreSQL: %w", err))
	}
	defer conn.Close(context.WithoutCancel(ctx))
	var exists bool
	if err := conn.QueryRow(ctx, `SELECT to_regclass('schema_migrations') IS NOT NULL`).Scan(&exists); err != nil {
		return nil, explainPostgres(where, err)
	}
	var applied []int
	if exists {
		if applied, err = pgAppliedVersions(ctx, conn); err != nil {
			return nil, explainPostgres(where, err)
		}
	}
	return plan(where, applied, all)
}

// pgAppliedVersions reads schema_migrations, in order.
func pgAppliedVersions(ctx context.Context, conn *pgx.Conn) ([]int, error) {
	rows, err := conn.Query(ctx, `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[int])
}
