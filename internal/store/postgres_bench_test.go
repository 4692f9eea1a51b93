package store_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
)

// BenchmarkPostgresApplyFirstSync is BenchmarkApplyFirstSync on
// PostgreSQL: a first sync of 20,000 hosts with realistic (2.5 KB) vars and
// 8 groups each in one transaction, into a fresh database each time. The
// server is a throwaway one (fsync off), as in the tests. Without and with
// the change history, as BenchmarkApplyFirstSync.
func BenchmarkPostgresApplyFirstSync(b *testing.B) {
	p := testenv.Postgres(b)
	for _, record := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", record), func(b *testing.B) { benchPostgresApplyFirstSync(b, p, record) })
	}
}

func benchPostgresApplyFirstSync(b *testing.B, p *testenv.PostgresServer, record bool) {
	const n = 20_000
	vars, _ := json.Marshal(map[string]any{"blob": strings.Repeat("x", 2400), "instance_type": "t3.micro"})
	for b.Loop() {
		b.StopTimer()
		s, err := store.OpenPostgres(context.Background(), p.CreateDatabase(b))
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
