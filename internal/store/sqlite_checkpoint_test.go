package store_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
)

// TestSQLiteCheckpointsInBackground: no connection checkpoints on its own
// (wal_autocheckpoint(0), so that the first write after a crash does not
// copy the whole log again at startup), so the store's checkpointer must:
// a sync's hosts reach the database file itself within seconds, with no
// later write and no close. The database file is copied without its log
// and opened: the hosts must be in it.
func TestSQLiteCheckpointsInBackground(t *testing.T) {
	const n = 3000
	path := filepath.Join(t.TempDir(), "roster.db")
	s, err := store.OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	inv := &roster.Inventory{Name: "prod"}
	if err := s.CreateInventory(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove}
	if err := s.CreateSource(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
	if _, err := s.CreateSyncRun(t.Context(), run); err != nil {
		t.Fatal(err)
	}
	hosts := make([]*roster.Host, n)
	for i := range hosts {
		hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%06d", i), Scope: "r", Name: fmt.Sprintf("host-%06d", i), Enabled: true,
			Groups: []string{"aws_ec2"}, Vars: []byte(`{"k":"v"}`), Hash: fmt.Sprint(i)}
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	if err := s.FinishSyncRun(t.Context(), run, &roster.HostChanges{Add: hosts, Scopes: []string{"r"}}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := hostsInFileAlone(t, path, inv.ID)
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("15s after the sync, the database file without its log holds %d hosts, want %d: the log is not checkpointed", got, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// hostsInFileAlone copies the database file at path, without its
// write-ahead log, and counts the hosts of the inventory in the copy.
func hostsInFileAlone(t *testing.T, path, inventoryID string) int {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	cp := filepath.Join(t.TempDir(), "copy.db")
	if err := os.WriteFile(cp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := store.OpenSQLite(t.Context(), cp)
	if err != nil {
		return 0 // the copy caught the file mid-checkpoint
	}
	defer s.Close()
	counts, err := s.HostCounts(t.Context())
	if err != nil {
		return 0
	}
	total := 0
	for _, c := range counts {
		if c.InventoryID == inventoryID {
			total += c.Hosts
		}
	}
	return total
}
