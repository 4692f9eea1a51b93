package gcp_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

// The scale target: 100,000 instances over 20 projects
// (ROSTER_BENCH_SIZE overrides the size for quick runs).
var benchSize = func() int {
	var n int
	if _, err := fmt.Sscan(os.Getenv("ROSTER_BENCH_SIZE"), &n); err != nil || n <= 0 {
		return 100_000
	}
	return n
}()

const benchProjects = 20

// cpuTime is the process's user and system CPU time. The machine is
// shared: wall time per op varies with the neighbours' load, CPU time
// much less. It includes the in-process simulator's work.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchSim serves one fleet for a whole benchmark, in this process, on a
// real loopback listener.
func benchSim(b *testing.B) (*gcpsim.Server, string) {
	b.Helper()
	projects := make([]string, benchProjects)
	for i := range projects {
		projects[i] = fmt.Sprintf("roster-bench-%02d", i+1)
	}
	sim, err := gcpsim.New(gcpsim.Options{Seed: 1, Size: benchSize, Projects: projects})
	if err != nil {
		b.Fatal(err)
	}
	url, stop, err := sim.Start(context.Background(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(stop)
	return sim, url
}

// benchConfig is a realistic source: the plugin documentation's
// keyed_groups, a compose and a conditional group.
func benchConfig(sim *gcpsim.Server, url string) map[string]any {
	return map[string]any{
		"plugin":       "google.cloud.gcp_compute",
		"projects":     toAny(sim.Fleet().Projects()),
		"endpoint_url": url,
		"hostnames":    []any{"name", "private_ip"},
		"compose":      map[string]any{"ansible_host": "networkInterfaces[0].accessConfigs[0].natIP | default(networkInterfaces[0].networkIP)"},
		"groups":       map[string]any{"webservers": "labels.role | default('') == 'web'"},
		"keyed_groups": []any{
			map[string]any{"prefix": "gcp", "key": "labels"},
			map[string]any{"prefix": "zone", "key": "zone"},
			map[string]any{"prefix": "status", "key": "status | lower"},
			map[string]any{"prefix": "", "separator": "", "key": "machineType"},
			map[string]any{"prefix": "project", "key": "project"},
		},
	}
}

func benchRegistry(sim *gcpsim.Server, url string) *sources.Registry {
	return sources.NewRegistry(gcp.Driver{Credentials: sim.KeyFile(url)})
}

// BenchmarkCollect measures a full Collect of every project of 100,000
// instances over 20 projects, with the real client against the simulator
// (fetch, decode and translation only; nothing constructed or stored),
// 8 projects at a time as a sync does.
func BenchmarkCollect(b *testing.B) {
	sim, url := benchSim(b)
	reg := benchRegistry(sim, url)
	src := &roster.Source{Provider: "gcp", Config: benchConfig(sim, url)}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	var n int
	sim.ResetStats()
	cpu0 := cpuTime()
	for b.Loop() {
		p, _, err := reg.Open(context.Background(), src, nil, log)
		if err != nil {
			b.Fatal(err)
		}
		scopes, err := p.Scopes(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		var mu sync.Mutex
		n = 0
		sources.CollectScopes(context.Background(), p, scopes, 0, func(o sources.Outcome) {
			if o.Err != nil {
				b.Error(o.Err)
			}
			mu.Lock()
			n += len(o.Instances)
			mu.Unlock()
		})
	}
	cpu := cpuTime() - cpu0
	if n != benchSize {
		b.Fatalf("collected %d of %d", n, benchSize)
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
	st := sim.Stats()
	b.ReportMetric(float64(n), "hosts")
	b.ReportMetric(float64(st.Calls("", ""))/float64(b.N), "requests/op")
}

type benchEnv struct {
	st     *store.SQLite
	engine *syncer.Engine
	src    *roster.Source
}

func newBenchEnv(b *testing.B, sim *gcpsim.Server, url string) *benchEnv {
	b.Helper()
	st, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "roster.db"))
	if err != nil {
		b.Fatal(err)
	}
	e := &benchEnv{st: st, engine: syncer.New(st, benchRegistry(sim, url), slog.New(slog.NewTextHandler(io.Discard, nil)))}
	inv := &roster.Inventory{Name: "bench"}
	if err := st.CreateInventory(context.Background(), inv); err != nil {
		b.Fatal(err)
	}
	e.src = &roster.Source{InventoryID: inv.ID, Name: "gce", Provider: "gcp", Config: benchConfig(sim, url), OnMissing: roster.OnMissingRemove}
	if err := st.CreateSource(context.Background(), e.src); err != nil {
		b.Fatal(err)
	}
	return e
}

func (e *benchEnv) sync(b *testing.B) *roster.SyncRun {
	run, _, err := e.engine.Trigger(context.Background(), e.src, roster.TriggerCLI)
	if err != nil {
		b.Fatal(err)
	}
	if err := e.engine.Run(context.Background(), run, nil); err != nil || run.Status != roster.SyncSucceeded {
		b.Fatalf("sync %s: %v", run.Status, err)
	}
	return run
}

// BenchmarkSync measures a full first sync of the 100,000 instances into
// an empty SQLite database through internal/syncer, and an unchanged
// re-sync (which writes no host row).
func BenchmarkSync(b *testing.B) {
	sim, url := benchSim(b)
	b.Run("full", func(b *testing.B) {
		sim.ResetStats()
		var run *roster.SyncRun
		var cpu time.Duration
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			e := newBenchEnv(b, sim, url)
			b.StartTimer()
			cpu0 := cpuTime()
			run = e.sync(b)
			cpu += cpuTime() - cpu0
			b.StopTimer()
			e.st.Close()
			b.StartTimer()
		}
		b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
		b.ReportMetric(float64(run.Counts.Added), "hosts")
		b.ReportMetric(float64(sim.Stats().Calls("", ""))/float64(b.N), "requests/op")
	})
	b.Run("unchanged", func(b *testing.B) {
		e := newBenchEnv(b, sim, url)
		defer e.st.Close()
		first := e.sync(b)
		sim.ResetStats()
		b.ResetTimer()
		var run *roster.SyncRun
		cpu0 := cpuTime()
		for b.Loop() {
			run = e.sync(b)
		}
		b.StopTimer()
		b.ReportMetric((cpuTime()-cpu0).Seconds()/float64(b.N), "cpu-s/op")
		if run.Counts.Unchanged != first.Counts.Added || run.Counts.Added+run.Counts.Updated+run.Counts.Removed != 0 {
			b.Fatalf("re-sync changed hosts: %+v", run.Counts)
		}
		b.ReportMetric(float64(run.Counts.Unchanged), "hosts")
		b.ReportMetric(float64(sim.Stats().Calls("", ""))/float64(b.N), "requests/op")
	})
}
