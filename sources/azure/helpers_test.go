package azure_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/azure/azuresim"
)

// startSim serves a simulator over TLS on an httptest server.
func startSim(t testing.TB, opts azuresim.Options) (*azuresim.Server, string) {
	t.Helper()
	sim := azuresim.New(opts)
	ts := httptest.NewUnstartedServer(sim)
	ts.TLS = sim.TLSConfig()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return sim, ts.URL
}

// simDriver authenticates as the simulator's service principal, through
// the real client-credentials flow, over a transport trusting its CA,
// with short retry delays.
func simDriver(sim *azuresim.Server) azure.Driver {
	return azure.Driver{
		ClientSecret: &azure.ClientSecret{TenantID: sim.TenantID(), ClientID: sim.ClientID(), Secret: roster.Secret(sim.ClientSecret())},
		HTTPClient:   sim.Client(),
		Retry:        policy.RetryOptions{MaxRetries: 10, RetryDelay: time.Millisecond, MaxRetryDelay: 100 * time.Millisecond},
		Getenv:       func(string) string { return "" },
	}
}

// simConfig is a source configuration pointed at the simulator.
func simConfig(url string, subs []string, extra map[string]any) map[string]any {
	cfg := map[string]any{"subscriptions": toAny(subs), "authority_host": url, "arm_endpoint": url}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func open(t testing.TB, d azure.Driver, cfg map[string]any) sources.Provider {
	t.Helper()
	p, err := d.Open(t.Context(), cfg, nil, discard())
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func collect(t testing.TB, p sources.Provider, sub string) []sources.Instance {
	t.Helper()
	insts, err := p.Collect(t.Context(), sub)
	if err != nil {
		t.Fatalf("collect %s: %v", sub, err)
	}
	return insts
}

func toAny[T any](s []T) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// fleetBy returns the simulator's VMs by vmId, in one subscription ("" =
// all), with or without scale-set instances.
func fleetBy(sim *azuresim.Server, sub string, instances bool) map[string]azuresim.VMInfo {
	out := map[string]azuresim.VMInfo{}
	for _, v := range sim.Fleet().VMs() {
		if (sub == "" || v.Subscription == sub) && (instances || v.ScaleSet == "") {
			out[v.VMID] = v
		}
	}
	return out
}

func strs(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// slots reads a list of addresses in which None stands for an address
// not allocated yet, as "".
func slots(v any) []string { return strs(v) }

// allocated reads a list of addresses, leaving out the None entries.
func allocated(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
