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

// BenchmarkApplyFirstSync writes a first sync of 20,000 hosts with
// realistic (2.5 KB) vars and 8 groups each in one transaction, without
// and with the per-host change history a succeeded run records
// (HostChanges.Record). On a shared machine, compare the two of one
// invocation (-count 1, run several times): they ran under the same load.
func BenchmarkApplyFirstSync(b *testing.B) {
	for _, record := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", record), func(b *testing.B) { benchApplyFirstSync(b, record) })
	}
}

func benchApplyFirstSync(b *testing.B, record bool) {
	const n = 20_000
	vars, _ := json.Marshal(map[string]any{"blob": strings.Repeat("x", 2400), "instance_type": "t3.micro"})
	for b.Loop() {
		b.StopTimer()
		s, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "roster.db"))
		if err != nil {
			b.Fatal(err)
		}
		inv := &roster.Inventory{Name: "bench"}
		s.CreateInventory(context.Background(), inv)
		src := &roster.Source{InventoryID: inv.ID, Name: "s", Provider: "aws", OnMissing: roster.OnMissingRemove}
		s.CreateSource(context.Background(), src)
		run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
		s.CreateSyncRun(context.Background(), run)
		hosts := make([]*roster.Host, n)
		for i := range hosts {
			hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%08d", i), Scope: "r", Name: fmt.Sprintf("host-%06d", i), Enabled: true,
				Groups: []string{"aws_ec2", "arch_x86_64", fmt.Sprintf("tag_Name_host_%d", i), "env_prod", "role_web", "instance_type_t3_micro", "sg_1", "sg_2"},
				Vars:   vars, Hash: "h"}
		}
		now := time.Now()
		run.StartedAt, run.Status = &now, roster.SyncSucceeded
		b.StartTimer()
		if err := s.FinishSyncRun(context.Background(), run, &roster.HostChanges{Add: hosts, Scopes: []string{"r"}, Record: record}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/host")
}

// BenchmarkApplyChangedSync writes a sync that changes one var of each of
// 20,000 hosts (as BenchmarkApplyFirstSync's), without and with the
// change history, which reads each host's stored row and diffs it.
func BenchmarkApplyChangedSync(b *testing.B) {
	for _, record := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", record), func(b *testing.B) { benchApplyChangedSync(b, record) })
	}
}

func benchApplyChangedSync(b *testing.B, record bool) {
	const n = 20_000
	ctx := context.Background()
	varsOf := func(v string) json.RawMessage {
		vars, _ := json.Marshal(map[string]any{"blob": strings.Repeat("x", 2400), "instance_type": v})
		return vars
	}
	for b.Loop() {
		b.StopTimer()
		s, err := store.OpenSQLite(ctx, filepath.Join(b.TempDir(), "roster.db"))
		if err != nil {
			b.Fatal(err)
		}
		inv := &roster.Inventory{Name: "bench"}
		s.CreateInventory(ctx, inv)
		src := &roster.Source{InventoryID: inv.ID, Name: "s", Provider: "aws", OnMissing: roster.OnMissingRemove}
		s.CreateSource(ctx, src)
		hosts := make([]*roster.Host, n)
		for i := range hosts {
			hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%08d", i), Scope: "r", Name: fmt.Sprintf("host-%06d", i), Enabled: true,
				Groups: []string{"aws_ec2", "arch_x86_64", fmt.Sprintf("tag_Name_host_%d", i), "env_prod", "role_web", "instance_type_t3_micro", "sg_1", "sg_2"},
				Vars:   varsOf("t3.micro"), Hash: "h"}
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
		for _, h := range hosts {
			h.Vars, h.Hash = varsOf("t3.large"), "h2"
		}
		b.StartTimer()
		finishRun(&roster.HostChanges{Update: hosts, Scopes: []string{"r"}, Record: record})
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/n, "µs/host")
}
