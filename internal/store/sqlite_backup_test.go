package store_test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
)

// TestSnapshotSQLiteHoldsWhatWasCommitted: a copy taken while another
// connection holds an uncommitted write has what was committed, not the
// write, and does not wait for it; the copy passes its integrity check.
func TestSnapshotSQLiteHoldsWhatWasCommitted(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.CreateInventory(t.Context(), &roster.Inventory{Name: "committed"}); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(1000)&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`INSERT INTO inventories (id, name, created_at, updated_at) VALUES ('x', 'uncommitted', 0, 0)`); err != nil {
		t.Fatal(err)
	}

	dst := filepath.Join(t.TempDir(), "copy.db")
	info, err := store.SnapshotSQLite(t.Context(), path, dst)
	if err != nil {
		t.Fatal(err)
	}
	if info.Inventories != 1 || info.Schema == 0 {
		t.Fatalf("the copy has %d inventories, schema %d; want the committed one", info.Inventories, info.Schema)
	}
	if _, err := store.SnapshotSQLite(t.Context(), path, dst); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("a copy over an existing file: %v", err)
	}
	if _, err := store.SnapshotSQLite(t.Context(), filepath.Join(t.TempDir(), "none.db"), filepath.Join(t.TempDir(), "c.db")); err == nil {
		t.Fatal("a copy of a database that does not exist")
	}
}
