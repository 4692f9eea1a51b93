package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestChangeRetention: the setting's default (30 days), its flag,
// variable and file key, the values refused as typos, and the hourly
// purge on a real store, which keeps what is younger and, with 0, all.
func TestChangeRetention(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.yaml")
	must(t, os.WriteFile(path, []byte("change_retention: 7d\n"), 0o600))
	day := 24 * time.Hour
	for _, tt := range []struct {
		args []string
		env  string
		want time.Duration
	}{
		{nil, "", 30 * day},
		{[]string{"--change-retention", "90d"}, "", 90 * day},
		{nil, "12h", 12 * time.Hour},
		{[]string{"--config", path}, "", 7 * day},
		{[]string{"--change-retention", "0"}, "", 0},
	} {
		if tt.env != "" {
			t.Setenv("ROSTER_CHANGE_RETENTION", tt.env)
		}
		c, err := configOf(t, tt.args...)
		if err != nil || time.Duration(c.ChangeRetention) != tt.want {
			t.Errorf("%v %q: retention %s, %v; want %s", tt.args, tt.env, time.Duration(c.ChangeRetention), err, tt.want)
		}
		os.Unsetenv("ROSTER_CHANGE_RETENTION")
	}
	for _, v := range []string{"30m", "-1h"} {
		_, _, err := run(t, t.Context(), "serve", "--data-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--change-retention", v)
		if err == nil || !strings.Contains(err.Error(), "change retention") || !strings.Contains(err.Error(), "at least 1h") {
			t.Errorf("--change-retention %s: %v, want it refused", v, err)
		}
	}

	ctx := t.Context()
	st, err := openStore(ctx, Config{Database: filepath.Join(t.TempDir(), "roster.db")})
	must(t, err)
	defer st.Close()
	inv := &roster.Inventory{Name: "prod"}
	must(t, st.CreateInventory(ctx, inv))
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove}
	must(t, st.CreateSource(ctx, src))
	r := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
	_, err = st.CreateSyncRun(ctx, r)
	must(t, err)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var changes []*roster.HostChange
	for i, age := range []time.Duration{40 * day, 31 * day, 29 * day, time.Hour} {
		changes = append(changes, &roster.HostChange{RunID: r.ID, InventoryID: inv.ID, SourceID: src.ID, HostID: int64(i),
			HostName: "web-1", Kind: roster.ChangeChanged, At: now.Add(-age)})
	}
	must(t, st.AddHostChanges(ctx, changes))
	log := slog.New(slog.DiscardHandler)
	must(t, purgeChanges(ctx, st, 0, now, log)) // 0: forever
	must(t, purgeChanges(ctx, st, 30*day, now, log))
	left, _, err := st.HostHistory(ctx, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: "web-1"})
	must(t, err)
	if len(left) != 2 || left[0].HostID != 3 || left[1].HostID != 2 {
		t.Fatalf("after the purge: %+v, want the changes of 29 days and an hour ago", left)
	}
}
