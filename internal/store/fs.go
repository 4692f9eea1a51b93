package store

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rosterhq/roster"
)

// PrepareSQLite makes sure the directory of the database file at path
// exists, private to its owner (the database holds host data and token
// hashes), and can be written: SQLite writes its journal beside the
// database. Its errors are one line naming the directory.
func PrepareSQLite(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return roster.Errorf(roster.EUNAVAILABLE, "the data directory %s cannot be created: %s", dir, reason(err))
	}
	f, err := os.CreateTemp(dir, ".roster-write-check-*")
	if err != nil {
		if isNoSpace(err) {
			return diskFull(path, err)
		}
		return roster.Errorf(roster.EUNAVAILABLE, "the data directory %s cannot be written by this process: %s", dir, reason(err))
	}
	f.Close()
	os.Remove(f.Name())
	// Asked of the kernel, not tried: opening and closing the database
	// file would drop the POSIX locks this process holds on it (SQLite's).
	if err := canWrite(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return roster.Errorf(roster.EUNAVAILABLE, "the database %s cannot be written by this process: %s", path, reason(err))
	}
	return nil
}

// reason is the operating system's words for err, without the path and
// operation a message names already ("permission denied").
func reason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
