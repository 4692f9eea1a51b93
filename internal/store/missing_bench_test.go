package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
)

// BenchmarkApplyMissingSync writes a sync in which every one of 20,000
// hosts (as BenchmarkApplyFirstSync's) has gone missing: removed (a source
// with on_missing: remove) or disabled (on_missing: disable), without and
// with the change history. It measures the statements that name a sync's
// hosts by a list of ids, which SQLite reads through json_each.
func BenchmarkApplyMissingSync(b *testing.B) {
	for _, disable := range []bool{false, true} {
		for _, record := range []bool{false, true} {
			name := fmt.Sprintf("remove/history=%v", record)
			if disable {
				name = fmt.Sprintf("disable/history=%v", record)
			}
			b.Run(name, func(b *testing.B) { benchApplyMissingSync(b, disable, record) })
		}
	}
}

func benchApplyMissingSync(b *testing.B, disable, record bool) {
	const n = 20_000
	ctx := context.Background()
	vars, _ := json.Marshal(map[string]any{"blob": strings.Repeat("x", 2400), "instance_type": "t3.micro"})
	for b.Loop() {
		b.StopTimer()
		s, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "roster.db"))
		if err != nil {
			b.Fatal(err)
		}
		inv := &roster.Inventory{Name: "bench"}
		s.CreateInventory(ctx, inv)
		src := &roster.Source{InventoryID: inv.ID, Name: "s", Provider: "aws", OnMissing: roster.OnMissingRemove}
		if disable {
			src.OnMissing = roster.OnMissingDisable
		}
		s.CreateSource(ctx, src)
		hosts := make([]*roster.Host, n)
		for i := range hosts {
			hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%08d", i), Scope: "r", Name: fmt.Sprintf("host-%06d", i), Enabled: true,
				Groups: []string{"aws_ec2", "arch_x86_64", fmt.Sprintf("tag_Name_host_%d", i), "env_prod", "role_web", "instance_type_t3_micro", "sg_1", "sg_2"},
				Vars:   vars, Hash: "h"}
		}
		finishRun := func(c *roster.HostChanges) {
			run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
			s.CreateSyncRun(ctx, run)
			now := time.Now()
			run.StartedAt, run.Status = &now, roster.SyncSucceeded
			if err := s.FinishSyncRun(ctx, run, c); err != nil {
				b.Fatal(err)
			}
		}
		finishRun(&roster.HostChanges{Add: hosts, Scopes: []string{"r"}})
		missing := &roster.HostChanges{Scopes: []string{"r"}, Record: record}
		for _, h := range hosts {
			if h.ID == 0 {
				b.Fatal("the store did not give an added host its id")
			}
			if disable {
				missing.Disable = append(missing.Disable, h.ID)
			} else {
				missing.Remove = append(missing.Remove, h.ID)
			}
		}
		b.StartTimer()
		finishRun(missing)
		b.StopTimer()
		enabled := true
		left, _, err := s.Hosts(ctx, roster.HostFilter{InventoryID: inv.ID, Enabled: &enabled, Limit: 1})
		if err != nil || len(left) != 0 {
			b.Fatalf("after the missing sync: %d enabled hosts left (err %v), want none", len(left), err)
		}
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/host")
}
