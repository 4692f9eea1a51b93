//go:build unix

package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
)

// lockServing makes sure one process serves a SQLite database: it holds an
// exclusive lock on <database>.lock while it serves (the lock goes with the
// process, however it ends). CLI commands do not take it.
func lockServing(database string) (*os.File, error) {
	path := database + ".lock"
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("another roster serve is using %s: SQLite is served by one process (use PostgreSQL for several)", database)
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
