package azure_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure/azuresim"
)

// The scale target: 100,000 VMs over 10 subscriptions (ROSTER_BENCH_SIZE
// overrides the size for quick runs). Run with
//
//	go test -run '^$' -bench . -benchtime 1x ./sources/azure
var (
	benchSize = func() int {
		var n int
		if _, err := fmt.Sscan(os.Getenv("ROSTER_BENCH_SIZE"), &n); err != nil || n <= 0 {
			return 100_000
		}
		return n
	}()
	benchSubs = func() []string {
		out := make([]string, 10)
		for i := range out {
			out[i] = fmt.Sprintf("7e3f9a10-5b2c-4d1e-8f6a-%012x", i+1)
		}
		return out
	}()
	benchFleet = sync.OnceValue(func() *azuresim.Fleet { return azuresim.NewFleet(1, benchSize, 0, benchSubs) })
)

// benchConfig is a realistic source: the plugin's documented keyed
// groups, a conditional group and a hostvar expression.
func benchConfig(url string) map[string]any {
	return simConfig(url, benchSubs, map[string]any{
		"hostnames":    []any{"tags.vm_name", "default"},
		"compose":      map[string]any{"ansible_host": "(public_ipv4_address + private_ipv4_addresses) | first"},
		"groups":       map[string]any{"webservers": "tags.Role | default('') == 'web'"},
		"keyed_groups": []any{map[string]any{"prefix": "tag", "key": "tags"}, map[string]any{"prefix": "azure_loc", "key": "location"}, map[string]any{"prefix": "size", "key": "virtual_machine_size"}},
	})
}

func benchSim(b *testing.B) (*azuresim.Server, string) {
	b.Helper()
	b.StopTimer()
	defer b.StartTimer()
	return startSim(b, azuresim.Options{Fleet: benchFleet()})
}

// cpuTime is the process's user+system CPU time: on a shared machine it
// says more than the wall clock (client and simulator both count).
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// reportRequests reports the HTTP requests the simulator answered per
// 1,000 VMs synced (the azure_rm plugin needs at least three per VM:
// instance view, NIC, public IP), and the CPU time per run.
func reportRequests(b *testing.B, sim *azuresim.Server, vms int, runs int, cpu time.Duration) {
	b.ReportMetric(cpu.Seconds()/float64(runs), "cpu-s/op")
	s := sim.Stats()
	b.ReportMetric(float64(s.Total())/float64(runs), "requests/op")
	b.ReportMetric(float64(s.Total())/float64(runs)/(float64(vms)/1000), "requests/1kVMs")
	b.ReportMetric(float64(vms), "VMs")
}

// BenchmarkCollect is a full Collect of every subscription (8 at once, as
// the engine does) through the real SDK against the simulator in the same
// process: token, lists, joins and host vars, no construct or store.
func BenchmarkCollect(b *testing.B) {
	sim, url := benchSim(b)
	d := simDriver(sim)
	var vms atomic.Int64
	runs := 0
	sim.ResetStats()
	cpu := cpuTime()
	for b.Loop() {
		p, err := d.Open(b.Context(), simConfig(url, benchSubs, map[string]any{"hostnames": []any{"tags.vm_name", "default"}}), nil, discard())
		if err != nil {
			b.Fatal(err)
		}
		vms.Store(0)
		sources.CollectScopes(b.Context(), p, benchSubs, 0, func(o sources.Outcome) {
			if o.Err != nil {
				b.Error(o.Err)
			}
			vms.Add(int64(len(o.Instances)))
		})
		runs++
	}
	cpu = cpuTime() - cpu
	if int(vms.Load()) != benchSize {
		b.Fatalf("collected %d of %d VMs", vms.Load(), benchSize)
	}
	reportRequests(b, sim, benchSize, runs, cpu)
}

// BenchmarkSync is a full first sync into an empty SQLite database and an
// unchanged re-sync (which writes no host row), through the engine.
func BenchmarkSync(b *testing.B) {
	sim, url := benchSim(b)
	newEnv := func(b *testing.B) (*syncer.Engine, *roster.Source, *store.SQLite) {
		st, err := store.OpenSQLite(context.Background(), filepath.Join(b.TempDir(), "roster.db"))
		if err != nil {
			b.Fatal(err)
		}
		reg := sources.NewRegistry(simDriver(sim))
		inv := &roster.Inventory{Name: "bench"}
		if err := st.CreateInventory(context.Background(), inv); err != nil {
			b.Fatal(err)
		}
		src := &roster.Source{InventoryID: inv.ID, Name: "azure", Provider: "azure", Config: benchConfig(url), OnMissing: roster.OnMissingRemove}
		if err := st.CreateSource(context.Background(), src); err != nil {
			b.Fatal(err)
		}
		return syncer.New(st, reg, discard()), src, st
	}
	sync := func(b *testing.B, e *syncer.Engine, src *roster.Source) *roster.SyncRun {
		run, _, err := e.Trigger(context.Background(), src, roster.TriggerCLI)
		if err != nil {
			b.Fatal(err)
		}
		if err := e.Run(context.Background(), run, nil); err != nil || run.Status != roster.SyncSucceeded {
			b.Fatalf("sync %s: %v (%s)", run.Status, err, run.Error)
		}
		return run
	}
	b.Run("full", func(b *testing.B) {
		var run *roster.SyncRun
		var cpu time.Duration
		runs := 0
		sim.ResetStats()
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			e, src, st := newEnv(b)
			b.StartTimer()
			start := cpuTime()
			run = sync(b, e, src)
			cpu += cpuTime() - start
			runs++
			b.StopTimer()
			st.Close()
			b.StartTimer()
		}
		if run.Counts.Added != benchSize {
			b.Fatalf("added %d of %d", run.Counts.Added, benchSize)
		}
		reportRequests(b, sim, benchSize, runs, cpu)
	})
	b.Run("unchanged", func(b *testing.B) {
		b.StopTimer()
		e, src, st := newEnv(b)
		defer st.Close()
		sync(b, e, src)
		sim.ResetStats()
		b.StartTimer()
		runs := 0
		var run *roster.SyncRun
		cpu := cpuTime()
		for i := 0; i < b.N; i++ {
			run = sync(b, e, src)
			runs++
		}
		cpu = cpuTime() - cpu
		if run.Counts.Unchanged != benchSize {
			b.Fatalf("unchanged re-sync counts %+v", run.Counts)
		}
		reportRequests(b, sim, benchSize, runs, cpu)
	})
}

// BenchmarkSimulatorPage measures the simulator alone rendering one page of
// 1,000 VMs (no SDK): the server's share of a sync.
func BenchmarkSimulatorPage(b *testing.B) {
	sim, url := startSim(b, azuresim.Options{Seed: 1, Size: 1000, Subscriptions: benchSubs[:1]})
	tok := simToken(b, sim, url)
	req := url + "/subscriptions/" + benchSubs[0] + "/providers/Microsoft.Compute/virtualMachines?api-version=2025-04-01"
	client := sim.Client()
	for b.Loop() {
		if n := getBody(b, client, req, tok); n < 1_000_000 {
			b.Fatalf("page of %d bytes", n)
		}
	}
}

// simToken gets an access token from the simulator with the real
// client-credentials flow.
func simToken(b *testing.B, sim *azuresim.Server, url string) string {
	b.Helper()
	cc := cloud.Configuration{ActiveDirectoryAuthorityHost: url + "/", Services: map[cloud.ServiceName]cloud.ServiceConfiguration{}}
	cred, err := azidentity.NewClientSecretCredential(sim.TenantID(), sim.ClientID(), sim.ClientSecret(),
		&azidentity.ClientSecretCredentialOptions{ClientOptions: policy.ClientOptions{Cloud: cc, Transport: sim.Client()}, DisableInstanceDiscovery: true})
	if err != nil {
		b.Fatal(err)
	}
	tok, err := cred.GetToken(b.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		b.Fatal(err)
	}
	return tok.Token
}

func getBody(b *testing.B, c *http.Client, url, token string) int64 {
	req, err := http.NewRequestWithContext(b.Context(), http.MethodGet, url, nil)
	if err != nil {
		b.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	defer resp.Body.Close()
	n, _ := io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
	return n
}
