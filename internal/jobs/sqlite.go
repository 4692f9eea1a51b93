package jobs

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riversqlite"
	"github.com/riverqueue/river/rivermigrate"
	_ "modernc.org/sqlite" // database/sql driver "sqlite"
)

// OpenSQLite opens the queue in the SQLite database at path (Roster's own
// database file), bringing River's tables up to date.
func OpenSQLite(ctx context.Context, path string, cfg Config) (*Queue, error) {
	db, driver, err := openSQLite(ctx, path)
	if err != nil {
		return nil, err
	}
	queue, err := newQueue(cfg, func(c *river.Config) (*river.Client[*sql.Tx], error) { return river.NewClient(driver, c) })
	if err != nil {
		db.Close()
		return nil, err
	}
	queue.close = db.Close
	queue.release = func(ctx context.Context) (int, error) {
		res, err := db.ExecContext(ctx, `UPDATE river_job SET state = 'available' WHERE state = 'running'`)
		if err != nil {
			return 0, fmt.Errorf("job queue: release running jobs: %w", err)
		}
		n, err := res.RowsAffected()
		return int(n), err
	}
	queue.depth = func(ctx context.Context) (map[string]int, error) {
		return countByState(ctx, db, `SELECT state, count(*) FROM river_job WHERE queue = ? GROUP BY state`, QueueSync)
	}
	return queue, nil
}

// MigrateSQLite brings River's tables in the SQLite database at path up to
// date (roster migrate).
func MigrateSQLite(ctx context.Context, path string) error {
	db, _, err := openSQLite(ctx, path)
	if err != nil {
		return err
	}
	return db.Close()
}

func openSQLite(ctx context.Context, path string) (*sql.DB, *riversqlite.Driver, error) {
	q := url.Values{}
	// The store's checkpointer copies the log into the database file
	// (internal/store/sqlite_checkpoint.go): a write of River's must not,
	// least of all its migration at startup after a crash.
	for _, p := range []string{"busy_timeout(10000)", "journal_mode(WAL)", "synchronous(NORMAL)", "foreign_keys(ON)", "wal_autocheckpoint(0)"} {
		q.Add("_pragma", p)
	}
	// Immediate transactions take the write lock when they begin, where a
	// busy database makes them wait; a deferred one failing to upgrade its
	// lock would error at once.
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?"+q.Encode()+"&_txlock=immediate")
	if err != nil {
		return nil, nil, fmt.Errorf("job queue: open %s: %w", path, err)
	}
	// River's operations run concurrently; SQLite runs one at a time.
	db.SetMaxOpenConns(1)
	driver := riversqlite.New(db)
	if err := migrateSQLite(ctx, path, db, driver); err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, driver, nil
}

func migrateSQLite(ctx context.Context, path string, db *sql.DB, driver *riversqlite.Driver) error {
	m, err := rivermigrate.New(driver, nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	tx, err := db.BeginTx(ctx, nil) // immediate: one migrator at a time
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	defer tx.Rollback()
	applied, err := sqliteApplied(ctx, tx)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := planRiver(path, applied, m.AllVersions()); err != nil {
		return err
	}
	if _, err := m.MigrateTx(ctx, tx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return tx.Commit()
}

func countByState(ctx context.Context, db *sql.DB, query string, args ...any) (map[string]int, error) {
	rows, err := db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var state string
		var n int
		if err := rows.Scan(&state, &n); err != nil {
			return nil, err
		}
		out[state] = n
	}
	return out, rows.Err()
}

// ReleaseRunningJobs makes the jobs left running by a previous process on
// this database available again, at once rather than after the rescue
// delay. Only for SQLite, where one serving process owns the database:
// with several processes, a running job may be another live one's.
func (q *Queue) ReleaseRunningJobs(ctx context.Context) (int, error) {
	if q.release == nil {
		return 0, errors.New("job queue: releasing running jobs is for a single-process (SQLite) queue")
	}
	return q.release(ctx)
}
