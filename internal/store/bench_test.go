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

// The sync benchmarks write benchHosts hosts as an AWS sync names them
// (benchFleet) into one source of a fresh store each time, and report wall
// µs per host of the timed write.
const benchHosts = 20_000

// benchSQLite opens a SQLite store in b's temporary directory.
func benchSQLite(b *testing.B) *store.SQLite {
	s, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	return s
}

// benchSource creates the inventory "bench" in s and one aws source of it
// whose missing hosts are handled as onMissing says.
func benchSource(b *testing.B, s roster.Store, onMissing roster.OnMissing) *roster.Source {
	ctx := context.Background()
	inv := &roster.Inventory{Name: "bench"}
	if err := s.CreateInventory(ctx, inv); err != nil {
		b.Fatal(err)
	}
	src := &roster.Source{InventoryID: inv.ID, Name: "s", Provider: "aws", OnMissing: onMissing}
	if err := s.CreateSource(ctx, src); err != nil {
		b.Fatal(err)
	}
	return src
}

// benchFleet is n enabled hosts with vars and 8 groups each, one of them
// the host's own (as AWS's tag_Name groups).
func benchFleet(n int, vars json.RawMessage) []*roster.Host {
	hosts := make([]*roster.Host, n)
	for i := range hosts {
		hosts[i] = &roster.Host{ExternalID: fmt.Sprintf("i-%08d", i), Scope: "r", Name: fmt.Sprintf("host-%06d", i), Enabled: true,
			Groups: []string{"aws_ec2", "arch_x86_64", fmt.Sprintf("tag_Name_host_%d", i), "env_prod", "role_web", "instance_type_t3_micro", "sg_1", "sg_2"},
			Vars:   vars, Hash: "h"}
	}
	return hosts
}

// benchVars are a host's vars: a blob of size bytes and an instance type.
func benchVars(size int, instanceType string) json.RawMessage {
	vars, _ := json.Marshal(map[string]any{"blob": strings.Repeat("x", size), "instance_type": instanceType})
	return vars
}

// startRun records a run of src, started and succeeded, to finish.
func startRun(b *testing.B, s roster.Store, src *roster.Source) *roster.SyncRun {
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerCLI}
	if _, err := s.CreateSyncRun(context.Background(), run); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	return run
}

// finishRun writes run's changes c.
func finishRun(b *testing.B, s roster.Store, run *roster.SyncRun, c *roster.HostChanges) {
	if err := s.FinishSyncRun(context.Background(), run, c); err != nil {
		b.Fatal(err)
	}
}

// reportPerHost reports the timed wall µs per host of one write of
// benchHosts hosts.
func reportPerHost(b *testing.B) {
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/benchHosts, "µs/host")
}

// BenchmarkApplyFirstSync writes a first sync of 20,000 hosts with
// realistic (2.5 KB) vars and 8 groups each in one transaction, without
// and with the per-host change history a succeeded run records
// (HostChanges.Record). On a shared machine, compare the two of one
// invocation (-count 1, run several times): they ran under the same load.
func BenchmarkApplyFirstSync(b *testing.B) {
	for _, record := range []bool{false, true} {
		b.Run(fmt.Sprintf("history=%v", record), func(b *testing.B) {
			benchApplyFirstSync(b, func(b *testing.B) roster.Store { return benchSQLite(b) }, record)
		})
	}
}

// benchApplyFirstSync times a first sync into a store open makes afresh
// for each round.
func benchApplyFirstSync(b *testing.B, open func(b *testing.B) roster.Store, record bool) {
	vars := benchVars(2400, "t3.micro")
	for b.Loop() {
		b.StopTimer()
		s := open(b)
		run := startRun(b, s, benchSource(b, s, roster.OnMissingRemove))
		hosts := benchFleet(benchHosts, vars)
		b.StartTimer()
		finishRun(b, s, run, &roster.HostChanges{Add: hosts, Scopes: []string{"r"}, Record: record})
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	reportPerHost(b)
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
	for b.Loop() {
		b.StopTimer()
		s := benchSQLite(b)
		src := benchSource(b, s, roster.OnMissingRemove)
		hosts := benchFleet(benchHosts, benchVars(2400, "t3.micro"))
		finishRun(b, s, startRun(b, s, src), &roster.HostChanges{Add: hosts, Scopes: []string{"r"}})
		changed := benchVars(2400, "t3.large")
		for _, h := range hosts {
			h.Vars, h.Hash = changed, "h2"
		}
		b.StartTimer()
		finishRun(b, s, startRun(b, s, src), &roster.HostChanges{Update: hosts, Scopes: []string{"r"}, Record: record})
		b.StopTimer()
		s.Close()
		b.StartTimer()
	}
	reportPerHost(b)
}

// BenchmarkApplyMissingSync writes a sync in which every one of 20,000
// hosts (as BenchmarkApplyFirstSync's) has gone missing: removed (a source
// with on_missing: remove) or disabled (on_missing: disable), without and
// with the change history. It measures the statements that name a sync's
// hosts by a list of ids, which SQLite reads through json_each.
func BenchmarkApplyMissingSync(b *testing.B) {
	for _, onMissing := range []roster.OnMissing{roster.OnMissingRemove, roster.OnMissingDisable} {
		for _, record := range []bool{false, true} {
			b.Run(fmt.Sprintf("%s/history=%v", onMissing, record), func(b *testing.B) { benchApplyMissingSync(b, onMissing, record) })
		}
	}
}

func benchApplyMissingSync(b *testing.B, onMissing roster.OnMissing, record bool) {
	ctx := context.Background()
	for b.Loop() {
		b.StopTimer()
		s := benchSQLite(b)
		src := benchSource(b, s, onMissing)
		hosts := benchFleet(benchHosts, benchVars(2400, "t3.micro"))
		finishRun(b, s, startRun(b, s, src), &roster.HostChanges{Add: hosts, Scopes: []string{"r"}})
		ids := make([]int64, len(hosts))
		for i, h := range hosts {
			if h.ID == 0 {
				b.Fatal("the store did not give an added host its id")
			}
			ids[i] = h.ID
		}
		missing := &roster.HostChanges{Scopes: []string{"r"}, Record: record}
		if onMissing == roster.OnMissingDisable {
			missing.Disable = ids
		} else {
			missing.Remove = ids
		}
		b.StartTimer()
		finishRun(b, s, startRun(b, s, src), missing)
		b.StopTimer()
		enabled := true
		left, _, err := s.Hosts(ctx, roster.HostFilter{InventoryID: src.InventoryID, Enabled: &enabled, Limit: 1})
		if err != nil || len(left) != 0 {
			b.Fatalf("after the missing sync: %d enabled hosts left (err %v), want none", len(left), err)
		}
		s.Close()
		b.StartTimer()
	}
	reportPerHost(b)
}
