package azure_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/syncer/syncertest"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure/azuresim"
)

// env is one engine over a real SQLite store, syncing an azure source
// from the simulator through the real Azure SDK.
type env struct {
	*syncertest.Harness
	sim *azuresim.Server
}

func newEnv(t *testing.T, opts azuresim.Options, config map[string]any) *env {
	t.Helper()
	sim, url := startSim(t, opts)
	cfg := simConfig(url, sim.Fleet().Subscriptions(), config)
	cfg["plugin"] = "azure.azcollection.azure_rm"
	return &env{Harness: syncertest.New(t, sources.NewRegistry(simDriver(sim)), discard(), "azure", "azure", cfg), sim: sim}
}

func wantStatus(t *testing.T, run *roster.SyncRun, status roster.SyncStatus) {
	t.Helper()
	if run.Status != status {
		t.Fatalf("run status = %s (error %q, scopes %+v), want %s", run.Status, run.Error, run.Scopes, status)
	}
}

func vars(t *testing.T, h *roster.Host) map[string]any {
	t.Helper()
	var v map[string]any
	must(t, json.Unmarshal(h.Vars, &v))
	return v
}

func TestSyncSeveralSubscriptionsThenResyncWritesNothing(t *testing.T) {
	e := newEnv(t, azuresim.Options{Seed: 21, Size: 300, ScaleSets: 9, PageSize: 40}, map[string]any{
		"include_vmss": true,
		"keyed_groups": []any{map[string]any{"prefix": "azure_loc", "key": "location"}},
		"groups":       map[string]any{"running": "powerstate == 'running'"},
	})
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	want := fleetBy(e.sim, "", true)
	hosts := e.Hosts()
	if len(hosts) != len(want) || run.Counts.Added != len(want) {
		t.Fatalf("synced %d hosts (counts %+v), the fleet has %d VMs", len(hosts), run.Counts, len(want))
	}
	if len(run.Scopes) != 3 {
		t.Fatalf("scopes %+v, want the three subscriptions", run.Scopes)
	}
	instances := 0
	for id, info := range want {
		h := hosts[id]
		if h == nil {
			t.Fatalf("VM %s (%s) missing", info.Name, id)
		}
		v := vars(t, h)
		if h.Scope != info.Subscription || h.Enabled != (info.PowerState == "running" && info.ProvisioningState == "Succeeded") || v["vmid"] != id {
			t.Fatalf("host %s: scope %s enabled %v; VM %s %s %s", h.Name, h.Scope, h.Enabled, info.Subscription, info.PowerState, info.ProvisioningState)
		}
		if !slices.Contains(h.Groups, "azure_loc_"+info.Location) || slices.Contains(h.Groups, "running") != (info.PowerState == "running") {
			t.Fatalf("host %s groups %v", h.Name, h.Groups)
		}
		wantAddr := info.PrivateIPs[0]
		if len(info.PublicIPs) > 0 {
			wantAddr = info.PublicIPs[0]
		}
		if h.Address != wantAddr {
			t.Fatalf("host %s address %s, want %s", h.Name, h.Address, wantAddr)
		}
		if info.ScaleSet != "" {
			instances++
		}
	}
	if instances == 0 {
		t.Fatal("no scale-set instance synced")
	}

	before := e.HostWrites()
	again := e.Sync()
	wantStatus(t, again, roster.SyncSucceeded)
	if c := again.Counts; c.Unchanged != len(want) || c.Added+c.Updated+c.Removed+c.Disabled != 0 {
		t.Fatalf("unchanged re-sync counts = %+v", c)
	}
	if after := e.HostWrites(); after != before {
		t.Fatalf("an unchanged re-sync wrote host rows: %s → %s", before, after)
	}
}

func TestFailedSubscriptionKeepsItsHostsAndMarksRunPartial(t *testing.T) {
	e := newEnv(t, azuresim.Options{Seed: 22, Size: 150}, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	subs := e.sim.Fleet().Subscriptions()
	bad, good := subs[1], subs[0]
	var inBad, inGood string
	for id, v := range fleetBy(e.sim, "", false) {
		switch {
		case v.Subscription == bad && inBad == "":
			inBad = id
		case v.Subscription == good && inGood == "":
			inGood = id
		}
	}
	must(t, e.sim.Fleet().Remove(inBad))
	must(t, e.sim.Fleet().Remove(inGood))
	e.sim.SetFaults(azuresim.Faults{DenyScopes: []string{bad}})
	run := e.Sync()
	wantStatus(t, run, roster.SyncPartial)
	after := e.Hosts()
	if _, ok := after[inBad]; !ok {
		t.Fatal("a host of the failed subscription was removed")
	}
	if _, ok := after[inGood]; ok {
		t.Fatal("a vanished host of a healthy subscription was kept")
	}
	for id, h := range before {
		if h.Scope == bad && after[id].Hash != h.Hash {
			t.Fatalf("host %s of the failed subscription changed", id)
		}
	}
	for _, s := range run.Scopes {
		if s.Name == bad && (s.Status != roster.ScopeFailed || !strings.Contains(s.Error, "AuthorizationFailed")) {
			t.Fatalf("failed scope recorded as %+v", s)
		}
	}
	// Every subscription failing changes nothing.
	writes := e.HostWrites()
	e.sim.SetFaults(azuresim.Faults{DenyScopes: subs})
	run = e.Sync()
	wantStatus(t, run, roster.SyncFailed)
	if e.HostWrites() != writes {
		t.Fatal("a failed sync changed hosts")
	}
}

func TestFailureMidPaginationWritesNothingOfThatSubscription(t *testing.T) {
	e := newEnv(t, azuresim.Options{Seed: 23, Size: 180, PageSize: 20}, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	removed := map[string]string{}
	for id, v := range fleetBy(e.sim, "", false) {
		if removed[v.Subscription] == "" {
			removed[v.Subscription] = id
			must(t, e.sim.Fleet().Remove(id))
		}
	}
	e.sim.SetFaults(azuresim.Faults{FailAfterPage: 2, Ops: []string{azuresim.OpVMListAll}})
	run := e.Sync()
	after := e.Hosts()
	failed := 0
	for _, s := range run.Scopes {
		_, kept := after[removed[s.Name]]
		switch s.Status {
		case roster.ScopeFailed:
			failed++
			if !kept {
				t.Errorf("subscription %s failed on a later page, yet its vanished host was removed", s.Name)
			}
			for id, h := range before {
				if h.Scope == s.Name && (after[id] == nil || after[id].Hash != h.Hash) {
					t.Fatalf("host %s of failed subscription %s changed", id, s.Name)
				}
			}
		case roster.ScopeSucceeded:
			if kept {
				t.Errorf("subscription %s succeeded, yet its vanished host was kept", s.Name)
			}
		}
	}
	if failed == 0 {
		t.Fatalf("no subscription needed a third page: the test proves nothing (%+v)", run.Scopes)
	}
}

func TestThrottlingAndServerErrorsAreRetriedInASync(t *testing.T) {
	e := newEnv(t, azuresim.Options{Seed: 24, Size: 200, PageSize: 25,
		Faults: azuresim.Faults{ThrottleEvery: 4, RetryAfter: 2 * time.Millisecond, ErrorEvery: 9}}, nil)
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Added != 200 {
		t.Fatalf("added %d of 200", run.Counts.Added)
	}
	if s := e.sim.Stats(); s.InjectedCodes["SubscriptionRequestsThrottled"] == 0 || s.Faulted("", "") < 5 {
		t.Fatalf("injected %v: the test proves nothing", s.InjectedCodes)
	}
}

func TestPowerAndTagChangesUpdateTheSameHosts(t *testing.T) {
	e := newEnv(t, azuresim.Options{Seed: 25, Size: 90, ScaleSets: 6}, map[string]any{
		"hostnames":    []any{"tags.vm_name", "default"},
		"include_vmss": true,
	})
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	var stopped, renamed, gone string
	for id, v := range fleetBy(e.sim, "", false) {
		if v.PowerState != "running" {
			continue
		}
		switch {
		case stopped == "":
			stopped = id
		case renamed == "":
			renamed = id
		case gone == "":
			gone = id
		}
	}
	must(t, e.sim.Fleet().SetPowerState(stopped, "deallocated"))
	must(t, e.sim.Fleet().SetTag(renamed, "vm_name", "renamed.example.net"))
	must(t, e.sim.Fleet().Remove(gone))
	var set azuresim.ScaleSetInfo
	for _, s := range e.sim.Fleet().ScaleSets() {
		if !s.Flexible {
			set = s
			break
		}
	}
	added, err := e.sim.Fleet().AddScaleSetInstance(set.Subscription, set.Name)
	must(t, err)
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if c := run.Counts; c.Updated != 2 || c.Removed != 1 || c.Added != 1 {
		t.Fatalf("counts %+v, want 2 updated, 1 removed, 1 added", c)
	}
	after := e.Hosts()
	if h := after[stopped]; h.Enabled || h.ID != before[stopped].ID || vars(t, h)["powerstate"] != "deallocated" {
		t.Fatalf("deallocated host %+v", h)
	}
	if h := after[renamed]; h.Name != "renamed.example.net" || h.ID != before[renamed].ID {
		t.Fatalf("renamed host %s (id %d), want the same host (id %d) renamed", h.Name, h.ID, before[renamed].ID)
	}
	if h := after[added.VMID]; h == nil || vars(t, h)["vmss"].(map[string]any)["name"] != set.Name {
		t.Fatalf("new scale-set instance %+v", h)
	}
}

func TestConfigErrorsAreRecordedNotPanicked(t *testing.T) {
	e := newEnv(t, azuresim.Options{Seed: 26, Size: 5}, nil)
	// A stored configuration that no longer validates (e.g. written by an
	// older Roster) fails the run with the field named.
	cfg := map[string]any{}
	for k, v := range e.Src.Config {
		cfg[k] = v
	}
	cfg["subscriptions"] = []any{"not-a-guid"}
	src, err := e.Store.UpdateSource(t.Context(), e.Src.ID, roster.SourceUpdate{Config: cfg})
	must(t, err)
	e.Src = src
	run := e.Sync()
	wantStatus(t, run, roster.SyncFailed)
	if !strings.Contains(run.Error, "subscriptions[0]") {
		t.Fatalf("error %q does not name the option", run.Error)
	}
}

// TestAnsibleHostIsThePlugins: without compose every host carries the
// azure_rm plugin's ansible_host (first public IPv4, else first private)
// in its stored vars, which the Ansible document serves as they are.
// compose sees no ansible_host (the plugin sets it outside the vars it
// hands to compose) while conditional groups do (ansible-core adds the
// host's own vars for them), a composed one wins, and one that fails to compose
// without strict leaves the plugin's.
func TestAnsibleHostIsThePlugins(t *testing.T) {
	opts := azuresim.Options{Seed: 31, Size: 80, ScaleSets: 2}
	check := func(t *testing.T, config map[string]any, want func(v map[string]any) any) map[string]map[string]any {
		t.Helper()
		e := newEnv(t, opts, config)
		wantStatus(t, e.Sync(), roster.SyncSucceeded)
		out := map[string]map[string]any{}
		public := 0
		for _, h := range e.Hosts() {
			v := vars(t, h)
			got, ok := v["ansible_host"]
			if w := want(v); !ok || got != w {
				t.Fatalf("host %s: ansible_host %v (set %v), want %v", h.Name, got, ok, w)
			}
			if _, grouped := config["conditional_groups"]; grouped && !slices.Contains(h.Groups, "saw") {
				t.Fatalf("host %s: the conditional group did not see ansible_host (groups %v)", h.Name, h.Groups)
			}
			if a, _ := got.(string); a != "" && h.Address != a {
				t.Fatalf("host %s: address %s, ansible_host %s", h.Name, h.Address, a)
			}
			if len(v["public_ipv4_address"].([]any)) > 0 {
				public++
			}
			out[h.Name] = v
		}
		if public == 0 || public == len(out) {
			t.Fatalf("%d of %d hosts have a public address: the check proves little", public, len(out))
		}
		return out
	}
	// The plugin's: the first public IP (None when not allocated), else
	// the first private address.
	pluginHost := func(v map[string]any) any {
		for _, key := range []string{"public_ipv4_address", "private_ipv4_addresses"} {
			if l := v[key].([]any); len(l) > 0 {
				return l[0]
			}
		}
		return nil
	}
	t.Run("plugin default", func(t *testing.T) {
		check(t, map[string]any{"include_vmss": true, "conditional_groups": map[string]any{"saw": "ansible_host is defined"}}, pluginHost)
	})
	t.Run("compose wins and does not see it", func(t *testing.T) {
		hosts := check(t, map[string]any{"include_vmss": true,
			"hostvar_expressions": map[string]any{"ansible_host": "private_ipv4_addresses | last", "saw_ansible_host": "ansible_host is defined"},
		}, func(v map[string]any) any {
			l := v["private_ipv4_addresses"].([]any)
			return l[len(l)-1]
		})
		for name, v := range hosts {
			if v["saw_ansible_host"] != false {
				t.Fatalf("host %s: compose saw ansible_host (%v)", name, v["saw_ansible_host"])
			}
		}
	})
	t.Run("a failed compose leaves the plugin's", func(t *testing.T) {
		check(t, map[string]any{"include_vmss": true, "fail_on_template_errors": false,
			"hostvar_expressions": map[string]any{"ansible_host": "no_such_var.address"},
		}, pluginHost)
	})
}
