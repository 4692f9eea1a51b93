// Package syncertest is the harness of sync tests: one source of one
// inventory in a fresh SQLite store, synced to the end by a real engine,
// and the ways those tests look at the result.
package syncertest

import (
	"context"
	"database/sql"
	"log/slog"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
)

// Harness is a store holding inventory "test" with one source, and the
// engine that syncs it.
type Harness struct {
	T      testing.TB
	Store  *store.SQLite
	DBPath string
	Engine *syncer.Engine
	Inv    *roster.Inventory
	Src    *roster.Source
}

// New opens a fresh SQLite store and makes the source (provider, name,
// config, removing hosts that vanish); the config must be valid for reg.
func New(t testing.TB, reg *sources.Registry, log *slog.Logger, provider, name string, config map[string]any) *Harness {
	t.Helper()
	dbPath := filepath.Join(t.TempDir(), "roster.db")
	st, err := store.OpenSQLite(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	h := &Harness{T: t, Store: st, DBPath: dbPath, Engine: syncer.New(st, reg, log), Inv: &roster.Inventory{Name: "test"}}
	must(t, st.CreateInventory(t.Context(), h.Inv))
	must(t, reg.Validate(provider, config))
	h.Src = &roster.Source{InventoryID: h.Inv.ID, Name: name, Provider: provider, Config: config, OnMissing: roster.OnMissingRemove}
	must(t, st.CreateSource(t.Context(), h.Src))
	return h
}

// Sync runs one sync of the source to the end and returns the recorded run.
func (h *Harness) Sync() *roster.SyncRun {
	h.T.Helper()
	return h.SyncCtx(h.T.Context())
}

// SyncCtx is Sync under ctx.
func (h *Harness) SyncCtx(ctx context.Context) *roster.SyncRun {
	h.T.Helper()
	run, created, err := h.Engine.Trigger(ctx, h.Src, roster.TriggerCLI)
	must(h.T, err)
	if !created {
		h.T.Fatalf("a run was already active: %s", run.ID)
	}
	h.Engine.Run(ctx, run, nil)
	got, err := h.Store.SyncRun(context.Background(), run.ID)
	must(h.T, err)
	return got
}

// Hosts returns the inventory's hosts by external id.
func (h *Harness) Hosts() map[string]*roster.Host {
	h.T.Helper()
	out := map[string]*roster.Host{}
	f := roster.HostFilter{InventoryID: h.Inv.ID, Limit: 1000}
	for {
		page, next, err := h.Store.Hosts(h.T.Context(), f)
		must(h.T, err)
		for _, host := range page {
			out[host.ExternalID] = host
		}
		if next == "" {
			return out
		}
		f.After = next
	}
}

// HostWrites is a fingerprint of every host row as stored (not as derived
// on read), to prove a sync wrote none.
func (h *Harness) HostWrites() string {
	h.T.Helper()
	db, err := sql.Open("sqlite", "file:"+h.DBPath+"?mode=ro")
	must(h.T, err)
	defer db.Close()
	var n, sum int64
	must(h.T, db.QueryRow(`SELECT count(*), COALESCE(max(last_seen), 0) + COALESCE(sum(length(vars)), 0) FROM hosts`).Scan(&n, &sum))
	return strconv.FormatInt(n, 10) + "/" + strconv.FormatInt(sum, 10)
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
