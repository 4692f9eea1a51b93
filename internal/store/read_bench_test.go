package store_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
)

// The reads that serve documents and the Web UI, on both databases, over
// one inventory of readHosts hosts in 8 groups each (one group per host
// among them, as AWS's tag_Name groups): WalkInventory is the Ansible and
// Prometheus documents, Hosts and GroupsFirst the UI's pages.

const readHosts = 20_000

// readStores runs bench against each database, holding one synced
// inventory.
func readStores(b *testing.B, bench func(b *testing.B, s roster.Store, inventoryID string)) {
	open := map[string]func(b *testing.B) roster.Store{
		"sqlite": func(b *testing.B) roster.Store { return benchSQLite(b) },
		"postgres": func(b *testing.B) roster.Store {
			s, err := store.OpenPostgres(context.Background(), testenv.Postgres(b).CreateDatabase(b))
			if err != nil {
				b.Fatal(err)
			}
			return s
		},
	}
	for _, name := range []string{"sqlite", "postgres"} {
		b.Run(name, func(b *testing.B) {
			s := open[name](b)
			defer s.Close()
			bench(b, s, syncReadFleet(b, s))
		})
	}
}

// loop runs read b.N times (b.Loop) and reports the process's CPU time
// per read too (PostgreSQL's server's is not in it).
func loop(b *testing.B, read func()) {
	cpu0, ok := processCPU()
	for b.Loop() {
		read()
	}
	if cpu1, _ := processCPU(); ok {
		b.ReportMetric(float64((cpu1-cpu0).Nanoseconds())/float64(b.N)/1e6, "cpu-ms/op")
	}
}

// syncReadFleet writes the inventory read and returns its id: readHosts
// hosts as benchFleet's with smaller vars, one in ten disabled.
func syncReadFleet(b *testing.B, s roster.Store) string {
	vars, _ := json.Marshal(map[string]any{"blob": strings.Repeat("x", 400), "instance_type": "t3.micro", "cpus": 2})
	src := benchSource(b, s, roster.OnMissingRemove)
	hosts := benchFleet(readHosts, vars)
	for i, h := range hosts {
		h.Enabled = i%10 != 0
	}
	finishRun(b, s, startRun(b, s, src), &roster.HostChanges{Add: hosts, Scopes: []string{"r"}})
	for _, g := range []string{"parent_a", "parent_b"} {
		if err := s.SetGroupVars(context.Background(), src.InventoryID, g, json.RawMessage(`{"tier":"`+g+`"}`)); err != nil {
			b.Fatal(err)
		}
	}
	return src.InventoryID
}

// BenchmarkWalkInventory reads every host and group of the inventory in
// one snapshot.
func BenchmarkWalkInventory(b *testing.B) {
	readStores(b, func(b *testing.B, s roster.Store, inventoryID string) {
		loop(b, func() {
			n := 0
			if _, err := s.WalkInventory(context.Background(), inventoryID,
				func(*roster.Host) error { n++; return nil }, func(*roster.Group) error { return nil }); err != nil {
				b.Fatal(err)
			}
			if n != readHosts {
				b.Fatalf("walked %d hosts, want %d", n, readHosts)
			}
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/readHosts, "ns/host")
	})
}

// BenchmarkHosts reads pages of 100 hosts: the first, one after a cursor,
// and filtered ones.
func BenchmarkHosts(b *testing.B) {
	enabled := true
	filters := []struct {
		name string
		f    roster.HostFilter
	}{
		{"first", roster.HostFilter{}},
		{"pattern", roster.HostFilter{Name: "host-01*"}},
		{"group+enabled", roster.HostFilter{Group: "role_web", Enabled: &enabled}},
		{"var", roster.HostFilter{Var: roster.VarMatch{Key: "cpus", Value: "2"}}},
		{"scan", roster.HostFilter{Name: "host-0049*", Scan: 5000}},
	}
	readStores(b, func(b *testing.B, s roster.Store, inventoryID string) {
		for _, tc := range filters {
			b.Run(tc.name, func(b *testing.B) {
				f := tc.f
				f.InventoryID, f.Limit = inventoryID, 100
				loop(b, func() {
					// Two pages: the first, and the next from its cursor.
					hosts, next, err := s.Hosts(context.Background(), f)
					if err != nil || len(hosts) == 0 || next == "" {
						b.Fatalf("first page: %d hosts, next %q, %v", len(hosts), next, err)
					}
					g := f
					g.After = next
					if _, _, err := s.Hosts(context.Background(), g); err != nil {
						b.Fatal(err)
					}
				})
			})
		}
	})
}

// BenchmarkGroups reads the first 100 groups (the UI's group tree) and
// every group.
func BenchmarkGroups(b *testing.B) {
	readStores(b, func(b *testing.B, s roster.Store, inventoryID string) {
		b.Run("first100", func(b *testing.B) {
			loop(b, func() {
				groups, total, err := s.GroupsFirst(context.Background(), inventoryID, 100)
				if err != nil || len(groups) < 100 || total < readHosts {
					b.Fatalf("%d groups of %d, %v", len(groups), total, err)
				}
			})
		})
		b.Run("all", func(b *testing.B) {
			loop(b, func() {
				groups, err := s.Groups(context.Background(), inventoryID)
				if err != nil || len(groups) < readHosts {
					b.Fatalf("%d groups, %v", len(groups), err)
				}
			})
		})
	})
}
