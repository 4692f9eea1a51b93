package store_test

import (
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/store/storetest"
)

func TestSQLiteConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) roster.Store {
		s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestSQLiteReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInventory(t.Context(), &roster.Inventory{Name: "prod"}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = store.OpenSQLite(t.Context(), path) // migrations run again: must be a no-op
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Inventory(t.Context(), "prod"); err != nil {
		t.Fatalf("after reopening: %v", err)
	}
}

func TestSQLiteSchedulerConformance(t *testing.T) {
	storetest.RunScheduler(t, func(t *testing.T) storetest.SchedulerStore {
		s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}
