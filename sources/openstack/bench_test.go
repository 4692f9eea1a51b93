package openstack

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// benchRegions are the 8 regions of the 100,000-server benchmark.
var benchRegions = []string{"RegionOne", "RegionTwo", "RegionThree", "RegionFour", "RegionFive", "RegionSix", "RegionSeven", "RegionEight"}

// benchSize is 100,000 servers; ROSTER_BENCH_SIZE overrides it for
// quick runs.
var benchSize = func() int {
	if n, err := strconv.Atoi(os.Getenv("ROSTER_BENCH_SIZE")); err == nil && n > 0 {
		return n
	}
	return 100_000
}()

// cpuTime is the CPU time (user + system) the process has used: on a
// shared, noisy machine it varies far less than wall time. The simulator
// runs in the same process, so it counts both sides.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func newBenchEnv(b *testing.B) *simEnv {
	b.Helper()
	began := time.Now()
	e := newSimEnv(b, openstacksim.Options{Seed: 1, Size: benchSize, Regions: benchRegions, Projects: []string{"demo"}})
	e.driver.PageSize = 0 // Nova's default maximum, 1000
	b.Logf("generated %d servers in %v", e.sim.Fleet().Len(), time.Since(began).Round(time.Millisecond))
	return e
}

// BenchmarkCollect100k collects every scope (8 regions of one project,
// 100,000 servers) through the real gophercloud client from the simulator
// in the same process, 8 scopes at a time, as the engine does: Keystone
// auth, catalog, version documents and every servers/detail
// page. The simulator's rendering shares the machine's cores.
//
//	go test ./sources/openstack -run '^$' -bench Collect100k -benchtime 3x
func BenchmarkCollect100k(b *testing.B) {
	e := newBenchEnv(b)
	cfg := e.config(nil)
	servers := 0
	e.sim.ResetStats()
	cpu := cpuTime()
	for b.Loop() {
		p := e.open(b, cfg)
		scopes, err := p.Scopes(b.Context())
		if err != nil {
			b.Fatal(err)
		}
		var n atomic.Int64
		sources.CollectScopes(b.Context(), p, scopes, 8, func(o sources.Outcome) {
			if o.Err != nil {
				b.Error(o.Err)
			}
			n.Add(int64(len(o.Instances)))
		})
		servers = int(n.Load())
	}
	cpu = cpuTime() - cpu
	st := e.sim.Stats()
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	b.ReportMetric(float64(servers), "servers/op")
	b.ReportMetric(float64(st.Calls("", ""))/float64(b.N), "requests/op")
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/float64(servers)/1e3, "µs/server")
}

// BenchmarkSync100k runs the engine over SQLite: a first sync that adds
// the 100,000 servers, then an unchanged re-sync that writes no host.
//
//	go test ./sources/openstack -run '^$' -bench Sync100k -benchtime 1x
func BenchmarkSync100k(b *testing.B) {
	e := newBenchEnv(b)
	reg := sources.NewRegistry(e.driver)
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var first, again time.Duration
	var added, unchanged int
	for b.Loop() {
		b.StopTimer()
		st, err := store.OpenSQLite(b.Context(), filepath.Join(b.TempDir(), "roster.db"))
		if err != nil {
			b.Fatal(err)
		}
		inv := &roster.Inventory{Name: "bench"}
		must(b, st.CreateInventory(b.Context(), inv))
		src := &roster.Source{InventoryID: inv.ID, Name: "nova", Provider: "openstack", Config: e.config(nil), OnMissing: roster.OnMissingRemove}
		must(b, st.CreateSource(b.Context(), src))
		engine := syncer.New(st, reg, log)
		b.StartTimer()

		began := time.Now()
		run := benchSync(b, engine, st, src)
		first += time.Since(began)
		added += run.Counts.Added
		began = time.Now()
		run = benchSync(b, engine, st, src)
		again += time.Since(began)
		unchanged += run.Counts.Unchanged

		b.StopTimer()
		st.Close()
		b.StartTimer()
	}
	b.ReportMetric(first.Seconds()/float64(b.N), "first-sync-s")
	b.ReportMetric(again.Seconds()/float64(b.N), "resync-s")
	b.ReportMetric(float64(added)/float64(b.N), "added/op")
	b.ReportMetric(float64(unchanged)/float64(b.N), "unchanged/op")
}

func benchSync(b *testing.B, engine *syncer.Engine, st *store.SQLite, src *roster.Source) *roster.SyncRun {
	b.Helper()
	run, _, err := engine.Trigger(b.Context(), src, roster.TriggerCLI)
	if err != nil {
		b.Fatal(err)
	}
	if err := engine.Run(b.Context(), run, nil); err != nil {
		b.Fatal(err)
	}
	got, err := st.SyncRun(context.Background(), run.ID)
	if err != nil {
		b.Fatal(err)
	}
	if got.Status != roster.SyncSucceeded {
		b.Fatalf("sync %s: %s", got.Status, got.Error)
	}
	return got
}
