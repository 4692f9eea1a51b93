package store_test

import (
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/store/storetest"
)

func TestSQLiteWebhooks(t *testing.T) {
	storetest.RunWebhooks(t, func(t *testing.T) (roster.Store, roster.WebhookStore) {
		s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s, s
	})
}
