package store

import (
	"errors"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rosterhq/roster"
)

// Storage errors. Any write may meet a full disk or a database that
// became read-only; the driver's words for it ("database or disk is full
// (13)", SQLSTATE 53100) would reach users as "internal error", or not
// name the file. Each store turns them into a *roster.Error that says what
// happened and where, at the few places its statements go through (the
// statement cache and transactions of SQLite, the pool and transactions of
// PostgreSQL), so every caller (API, CLI, the sync engine) says the same.

// diskFull explains a full disk under the database at where.
func diskFull(where string, err error) error {
	return newStorageError(roster.EFULL, err, "the disk holding the database (%s) is full: free space there; nothing was changed", where)
}

// storageError is a *roster.Error for the user that keeps the driver's
// error for logs.
type storageError struct {
	user *roster.Error
	err  error
}

// Error is the user's message and, for logs and the CLI, the driver's.
func (e *storageError) Error() string   { return e.user.Error() + " (" + e.err.Error() + ")" }
func (e *storageError) Unwrap() []error { return []error{e.user, e.err} }

func newStorageError(code string, err error, format string, args ...any) error {
	return &storageError{user: roster.Errorf(code, format, args...), err: err}
}

// explained reports whether err needs no explaining: nil, or explained
// already (a transaction's error passes its statements' way out too).
func explained(err error) bool {
	var se *storageError
	return err == nil || errors.As(err, &se)
}

// isNoSpace reports an operating system's "no space left" (or quota).
func isNoSpace(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT)
}

// explainSQLite turns SQLite's storage errors on the database at path
// into what a user can act on; other errors are returned as they are.
func explainSQLite(path string, err error) error {
	if explained(err) {
		return err
	}
	if isNoSpace(err) {
		return diskFull(path, err)
	}
	var e *sqlite.Error
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code() & 0xff { // the primary code of an extended one
	case sqlite3.SQLITE_FULL:
		return diskFull(path, err)
	case sqlite3.SQLITE_READONLY:
		return newStorageError(roster.EUNAVAILABLE, err, "the database (%s) is read-only: its file or directory cannot be written by this process", path)
	case sqlite3.SQLITE_CANTOPEN:
		return newStorageError(roster.EUNAVAILABLE, err, "the database (%s) cannot be opened: check that its directory exists and can be written by this process", path)
	case sqlite3.SQLITE_IOERR:
		return newStorageError(roster.EUNAVAILABLE, err, "the database (%s) could not be read or written (an I/O error of its disk)", path)
	}
	return err
}

// explainPostgres turns PostgreSQL's storage errors into what a user can
// act on; where names the database without its password.
func explainPostgres(where string, err error) error {
	if explained(err) {
		return err
	}
	var e *pgconn.PgError
	if !errors.As(err, &e) {
		return err
	}
	switch e.Code {
	case "53100": // disk_full
		return newStorageError(roster.EFULL, err, "the PostgreSQL server's disk is full (%s): free space there; nothing was changed", where)
	case "25006": // read_only_sql_transaction: a standby, or default_transaction_read_only
		return newStorageError(roster.EUNAVAILABLE, err, "the PostgreSQL database (%s) is read-only (a standby?): point Roster at the primary", where)
	}
	return err
}
