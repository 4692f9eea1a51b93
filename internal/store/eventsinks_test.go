package store_test

import (
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/store/storetest"
	"github.com/rosterhq/roster/internal/testenv"
)

func TestSQLiteEventSinks(t *testing.T) {
	storetest.RunEventSinks(t, func(t *testing.T) storetest.EventSinkStore {
		s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestPostgresEventSinks(t *testing.T) {
	p := testenv.Postgres(t)
	storetest.RunEventSinks(t, func(t *testing.T) storetest.EventSinkStore {
		return openPostgres(t, p.CreateDatabase(t))
	})
}
