package store

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rosterhq/roster"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// SQLite is the embedded store: one file, WAL journal, one writer
// connection (SQLite allows one writer at a time anyway; queueing in Go is
// cheaper than busy-waiting in SQLite) and a pool of readers.
type SQLite struct {
	db
	path   string
	w, r   *sql.DB
	wq, rq *stmtCache // prepared statements of w and r
	// stopCheckpoints ends the checkpointer (sqlite_checkpoint.go), which
	// closes checkpointed when it has returned.
	stopCheckpoints func()
	checkpointed    chan struct{}
}

var _ roster.Store = (*SQLite)(nil)

// SQLiteOption configures OpenSQLite.
type SQLiteOption func(*sqliteOptions)

type sqliteOptions struct{ readers int }

// SQLiteReaders sets how many connections read at once (8 by default).
func SQLiteReaders(n int) SQLiteOption { return func(o *sqliteOptions) { o.readers = n } }

// OpenSQLite opens (creating if needed) the database file at path and
// brings its schema up to date.
func OpenSQLite(ctx context.Context, path string, opts ...SQLiteOption) (*SQLite, error) {
	o := sqliteOptions{readers: 8}
	for _, opt := range opts {
		opt(&o)
	}
	if err := PrepareSQLite(path); err != nil {
		return nil, err
	}
	pragmas := []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
		"temp_store(MEMORY)",
		"wal_autocheckpoint(0)", // the checkpointer's job
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
	}
	// Page caches are per connection: the writer's holds a sync's dirty
	// pages until they spill to the WAL, each reader's what it reads again.
	// The operating system caches the file for all of them; a big private
	// cache only multiplies the process's memory by the connections
	// (BENCHMARKS.md, "Memory").
	w, err := sql.Open("sqlite", dsn("cache_size(-16384)")+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn("query_only(1)", "cache_size(-4096)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.readers)
	r.SetMaxIdleConns(o.readers)
	c, err := sql.Open("sqlite", dsn())
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	s := &SQLite{db: newDB(sqliteDialect), path: path, w: w, r: r, checkpointed: make(chan struct{})}
	s.wq, s.rq = newStmtCache(w, s.explain), newStmtCache(r, s.explain)
	s.db.r, s.db.w = sqliteConn{s.rq, s.explain}, sqliteConn{s.wq, s.explain}
	s.begin = func(ctx context.Context, fn func(conn) error) error {
		return s.tx(ctx, func(tx *sql.Tx) error { return fn(sqliteConn{tx, s.explain}) })
	}
	s.snapshot = func(ctx context.Context, fn func(conn) error) error {
		return s.readTx(ctx, func(tx *sql.Tx) error { return fn(sqliteConn{tx, s.explain}) })
	}
	cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopCheckpoints = stop
	go checkpointer(cctx, c, checkpointEvery, s.checkpointed)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, s.explain(err)
	}
	return s, nil
}

// Close implements roster.Store.
func (s *SQLite) Close() error {
	s.stopCheckpoints()
	<-s.checkpointed
	s.rq.close()
	s.wq.close()
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping implements roster.Store.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	return s.rq.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// migrate applies the migrations not yet applied, each in its own
// transaction, after refusing a database newer than this binary.
func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.wq.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	all, err := SQLiteMigrations()
	if err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, s.w)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	p, err := plan(s.path, applied, all)
	if err != nil {
		return err
	}
	for _, m := range p.Pending {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, micros(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// querier is what *sql.DB, *sql.Tx and stmtCache share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// tx runs fn in a write transaction.
func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.explain(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.explain(err)
	}
	return s.explain(tx.Commit())
}

// explain says what a storage error of the database means (storage.go).
func (s *SQLite) explain(err error) error { return explainSQLite(s.path, err) }

func sqliteIsUnique(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// collectRows scans every row of a query on a *sql.Rows with scan (the
// reads of migrate.go, outside the conns).
func collectRows[T any](rows *sql.Rows, err error, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func sqliteIsForeignKey(err error) bool {
	var e *sqlite.Error
	// An ON DELETE RESTRICT refusal is reported as a trigger constraint.
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_TRIGGER)
}

// readTx runs fn in a read-only transaction: its reads see one snapshot
// (taken by the first).
func (s *SQLite) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}
