package store

import (
	"fmt"
	"os"
	"path/filepath"
)

// ensureDir creates the directory that will hold the database file, private
// to its owner: the database holds host data and token hashes.
func ensureDir(path string) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create data directory %s: %w", dir, err)
	}
	return nil
}
