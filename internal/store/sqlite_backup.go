package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"time"
)

// SnapshotInfo describes a copy of a SQLite database: what a backup's
// manifest records and a restore reports.
type SnapshotInfo struct {
	Schema      int `json:"schema"`
	Inventories int `json:"inventories"`
	Hosts       int `json:"hosts"`
	// RunningRuns are the syncs that were running when the copy was
	// taken: none of their changes is in it.
	RunningRuns int `json:"running_runs"`
	SecretBlobs int `json:"secret_blobs"`
	// SealedHeads are the distinct first bytes of the sealed secrets
	// (format and key id: vault.SealedKeyID reads them); SealedPath names
	// one sealed secret, for a restore to open with its key.
	SealedHeads [][]byte `json:"-"`
	SealedPath  string   `json:"-"`
}

// sealedHeadLen covers a sealed blob's format bytes and key id.
const sealedHeadLen = 11

// SnapshotSQLite writes a consistent copy of the SQLite database at path
// to dst, which must not exist, while the database is in use: VACUUM INTO
// reads it in one transaction, so the copy holds what was committed when
// it began (every sync's changes commit with its run's outcome: a copy
// holds a run's hosts whole or not at all), and in WAL mode it neither
// waits for the writer nor blocks it. It opens no database that does not
// exist and applies no migration.
func SnapshotSQLite(ctx context.Context, path, dst string) (*SnapshotInfo, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, fmt.Errorf("database %s: %w", path, err)
	}
	if _, err := os.Stat(dst); !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("snapshot %s exists already", dst)
	}
	db, err := sql.Open("sqlite", sqliteFileDSN(path, "rw", "busy_timeout(10000)"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `VACUUM INTO ?`, dst); err != nil {
		os.Remove(dst)
		return nil, fmt.Errorf("copy %s to %s: %w", path, dst, explainSQLite(dst, err))
	}
	return InspectSQLiteCopy(ctx, dst)
}

// InspectSQLiteCopy checks the integrity of a copy of a database (read
// only) and describes it.
func InspectSQLiteCopy(ctx context.Context, path string) (*SnapshotInfo, error) {
	db, err := sql.Open("sqlite", sqliteFileDSN(path, "ro"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var check string
	if err := db.QueryRowContext(ctx, `PRAGMA integrity_check(1)`).Scan(&check); err != nil {
		return nil, fmt.Errorf("check %s: %w", path, err)
	}
	if check != "ok" {
		return nil, fmt.Errorf("%s is damaged: %s", path, check)
	}
	info := &SnapshotInfo{}
	counts := []struct {
		n     *int
		query string
	}{
		{&info.Schema, `SELECT coalesce(max(version), 0) FROM schema_migrations`},
		{&info.Inventories, `SELECT count(*) FROM inventories`},
		{&info.Hosts, `SELECT count(*) FROM hosts`},
		{&info.RunningRuns, `SELECT count(*) FROM sync_runs WHERE status = 'running'`},
		{&info.SecretBlobs, `SELECT count(*) FROM secret_blobs`},
	}
	for _, c := range counts {
		if err := db.QueryRowContext(ctx, c.query).Scan(c.n); err != nil {
			return nil, fmt.Errorf("%s is not a Roster database (%s): %w", path, c.query, err)
		}
	}
	rows, err := db.QueryContext(ctx, `SELECT DISTINCT substr(blob, 1, ?) FROM secret_blobs`, sealedHeadLen)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	defer rows.Close()
	for rows.Next() {
		var head []byte
		if err := rows.Scan(&head); err != nil {
			return nil, err
		}
		info.SealedHeads = append(info.SealedHeads, head)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if info.SecretBlobs > 0 {
		if err := db.QueryRowContext(ctx, `SELECT path FROM secret_blobs ORDER BY path LIMIT 1`).Scan(&info.SealedPath); err != nil {
			return nil, err
		}
	}
	return info, nil
}

// FailRunningRuns fails the runs a restored copy holds as running: their
// syncs were cut off by the copy, which holds none of their changes. Each
// owes a retry (as a run cut off by a stopped process does), which the
// scheduler queues once a server runs. It returns how many it failed.
func FailRunningRuns(ctx context.Context, path, reason string) (int, error) {
	db, err := sql.Open("sqlite", sqliteFileDSN(path, "rw", "busy_timeout(10000)"))
	if err != nil {
		return 0, fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	res, err := db.ExecContext(ctx, `UPDATE sync_runs SET status = 'failed', error = ?, finished_at = ?,
		next_attempt = CASE WHEN trigger <> 'cli' THEN attempt + 1 END WHERE status = 'running'`, reason, micros(time.Now()))
	if err != nil {
		return 0, fmt.Errorf("fail the runs running in %s: %w", path, err)
	}
	n, err := res.RowsAffected()
	return int(n), err
}

// sqliteFileDSN is the DSN of an existing file opened in mode (ro, rw:
// never created) with pragmas.
func sqliteFileDSN(path, mode string, pragmas ...string) string {
	q := url.Values{"mode": {mode}}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
}
