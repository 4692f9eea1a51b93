package openstack

import (
	"encoding/json"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/syncer/syncertest"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

var syncRegions = []string{"RegionOne", "RegionTwo", "RegionThree"}

// syncEnv is the sync engine over a real SQLite store, syncing an
// OpenStack source from the simulator through the real gophercloud client.
type syncEnv struct {
	*simEnv
	*syncertest.Harness
}

func newSyncEnv(t *testing.T, size int, options map[string]any) *syncEnv {
	t.Helper()
	se := newSimEnv(t, openstacksim.Options{Seed: 31, Size: size, Regions: syncRegions})
	cfg := map[string]any{
		"plugin":   "openstack.cloud.openstack",
		"clouds":   map[string]any{"sim": openstacksim.CloudConfig(se.base, openstacksim.DefaultUser, "demo")},
		"projects": []any{"demo", "ops"},
	}
	for k, v := range options {
		cfg[k] = v
	}
	h := syncertest.New(t, sources.NewRegistry(se.driver), slog.New(slog.DiscardHandler), "openstack", "nova", cfg)
	return &syncEnv{simEnv: se, Harness: h}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// expected are the servers the source lists: every server with an
// address (the plugin leaves out the others).
func (e *syncEnv) expected() map[string]openstacksim.ServerInfo {
	out := map[string]openstacksim.ServerInfo{}
	for _, s := range e.sim.Fleet().Servers() {
		if len(s.Addresses) > 0 {
			out[s.ID] = s
		}
	}
	return out
}

func wantStatus(t *testing.T, run *roster.SyncRun, status roster.SyncStatus) {
	t.Helper()
	if run.Status != status {
		t.Fatalf("run status = %s (error %q, scopes %+v), want %s", run.Status, run.Error, run.Scopes, status)
	}
}

func TestSyncAddsEveryServerThenResyncWritesNothing(t *testing.T) {
	e := newSyncEnv(t, 500, nil)
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	want := e.expected()
	hosts := e.Hosts()
	if len(hosts) != len(want) || run.Counts.Added != len(want) {
		t.Fatalf("synced %d hosts (counts %+v), want %d", len(hosts), run.Counts, len(want))
	}
	if len(run.Scopes) != 6 {
		t.Fatalf("scopes = %+v, want 3 regions x 2 projects", run.Scopes)
	}
	for _, s := range run.Scopes {
		if s.Status != roster.ScopeSucceeded || s.Hosts == 0 || strings.Count(s.Name, "/") != 2 || !strings.HasPrefix(s.Name, "sim/") {
			t.Fatalf("scope %+v", s)
		}
	}
	for id, srv := range want {
		h := hosts[id]
		if h == nil {
			t.Fatalf("server %s missing", id)
		}
		if h.Scope != "sim/"+srv.Region+"/"+srv.Project || h.Enabled != (srv.Status == "ACTIVE") {
			t.Fatalf("host %s: scope %s enabled %v; server %s/%s %s", id, h.Scope, h.Enabled, srv.Region, srv.Project, srv.Status)
		}
		var vars struct {
			OpenStack struct {
				ID    string `json:"id"`
				Cloud struct {
					Name, Region string
				} `json:"cloud"`
			} `json:"openstack"`
			AnsibleHost string `json:"ansible_host"`
		}
		must(t, json.Unmarshal(h.Vars, &vars))
		if vars.OpenStack.ID != id || vars.OpenStack.Cloud.Region != srv.Region || !slices.Contains(h.Groups, "instance-"+id) || h.Address != vars.AnsibleHost {
			t.Fatalf("host %s: vars %+v groups %v address %s", id, vars, h.Groups, h.Address)
		}
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

func TestSyncRenameStopAndDelete(t *testing.T) {
	e := newSyncEnv(t, 200, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	var renamed, stopped, gone string
	for id, s := range e.expected() {
		if s.Status != "ACTIVE" || before[id].Name != s.Name {
			continue
		}
		switch {
		case renamed == "":
			renamed = id
		case stopped == "":
			stopped = id
		case gone == "":
			gone = id
		}
	}
	fleet := e.sim.Fleet()
	must(t, fleet.Rename(renamed, "renamed-host"))
	must(t, fleet.SetStatus(stopped, "SHUTOFF"))
	must(t, fleet.Delete(gone))
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Updated != 2 || run.Counts.Removed != 1 || run.Counts.Added != 0 {
		t.Fatalf("counts = %+v, want 2 updated, 1 removed", run.Counts)
	}
	after := e.Hosts()
	if h := after[renamed]; h == nil || h.Name != "renamed-host" || h.ID != before[renamed].ID {
		t.Fatalf("renamed host = %+v, want host %d renamed", h, before[renamed].ID)
	}
	if h := after[stopped]; h == nil || h.Enabled {
		t.Fatalf("stopped host = %+v, want disabled", h)
	}
	if _, ok := after[gone]; ok {
		t.Fatal("a deleted server is still a host")
	}
}

func TestSyncRegionDownKeepsItsHostsAndIsPartial(t *testing.T) {
	e := newSyncEnv(t, 300, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	var inTwo, inOne string
	for id, s := range e.expected() {
		switch {
		case s.Region == "RegionTwo" && inTwo == "":
			inTwo = id
		case s.Region == "RegionOne" && inOne == "":
			inOne = id
		}
	}
	must(t, e.sim.Fleet().Delete(inTwo))
	must(t, e.sim.Fleet().Delete(inOne))
	e.sim.SetFaults(openstacksim.Faults{DenyScopes: []string{"RegionTwo"}})
	run := e.Sync()
	wantStatus(t, run, roster.SyncPartial)
	after := e.Hosts()
	if _, ok := after[inTwo]; !ok {
		t.Fatal("a host of the down region was removed")
	}
	if _, ok := after[inOne]; ok {
		t.Fatal("a deleted server of a healthy region was kept")
	}
	for id, h := range before {
		if strings.Contains(h.Scope, "/RegionTwo/") && after[id].Hash != h.Hash {
			t.Fatalf("host %s of the down region changed", id)
		}
	}
	failed := 0
	for _, s := range run.Scopes {
		if strings.Contains(s.Name, "/RegionTwo/") {
			failed++
			if s.Status != roster.ScopeFailed || !strings.Contains(s.Error, "503") {
				t.Fatalf("down scope recorded as %+v", s)
			}
		}
	}
	if failed != 2 {
		t.Fatalf("%d failed scopes, want RegionTwo's 2", failed)
	}
}

func TestSyncReauthenticatesMidPaginationAndRetries(t *testing.T) {
	e := newSyncEnv(t, 400, nil)
	e.sim.SetFaults(openstacksim.Faults{ExpireTokensAfter: 12, ThrottleEvery: 7, ErrorEvery: 5, Ops: []string{openstacksim.OpServers, openstacksim.OpImages}})
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Added != len(e.expected()) {
		t.Fatalf("added %d, want %d", run.Counts.Added, len(e.expected()))
	}
	st := e.sim.Stats()
	if st.Expired == 0 || st.TokensIssued <= 2 || st.InjectedStatus[413] == 0 || st.InjectedStatus[503] == 0 {
		t.Fatalf("stats %+v: the faults did not happen, the test proves nothing", st)
	}
}

func TestSyncFailureMidPaginationWritesNothingOfThatScope(t *testing.T) {
	e := newSyncEnv(t, 600, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	removed := map[string]string{} // scope → a deleted server
	for id, s := range e.expected() {
		scope := "sim/" + s.Region + "/" + s.Project
		if removed[scope] == "" {
			removed[scope] = id
			must(t, e.sim.Fleet().Delete(id))
		}
	}
	e.sim.SetFaults(openstacksim.Faults{FailAfterPage: 1})
	run := e.Sync()
	after := e.Hosts()
	failed := 0
	for _, s := range run.Scopes {
		_, kept := after[removed[s.Name]]
		switch s.Status {
		case roster.ScopeFailed:
			failed++
			if !kept {
				t.Errorf("scope %s failed on a later page, yet its deleted server was removed", s.Name)
			}
			for id, h := range before {
				if h.Scope == s.Name && (after[id] == nil || after[id].Hash != h.Hash) {
					t.Fatalf("host %s of failed scope %s changed", id, s.Name)
				}
			}
		case roster.ScopeSucceeded:
			if kept {
				t.Errorf("scope %s succeeded, yet its deleted server was kept", s.Name)
			}
		}
	}
	if failed == 0 {
		t.Fatalf("no scope needed a second page: the test proves nothing (%+v)", run.Scopes)
	}
}

func TestDuplicateNamesAcrossScopes(t *testing.T) {
	e := newSyncEnv(t, 0, nil)
	fleet := e.sim.Fleet()
	one, err := fleet.Add(openstacksim.ServerSpec{Name: "shared", Region: "RegionOne"})
	must(t, err)
	two, err := fleet.Add(openstacksim.ServerSpec{Name: "shared", Region: "RegionTwo"})
	must(t, err)
	three, err := fleet.Add(openstacksim.ServerSpec{Name: "twice", Region: "RegionThree"})
	must(t, err)
	four, err := fleet.Add(openstacksim.ServerSpec{Name: "twice", Region: "RegionThree"})
	must(t, err)
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	hosts := e.Hosts()
	// The first scope keeps the name, the second is named by id with a
	// warning; within one scope both are named by id, as the plugin does.
	if hosts[one.ID].Name != "shared" || hosts[two.ID].Name != two.ID || hosts[three.ID].Name != three.ID || hosts[four.ID].Name != four.ID {
		t.Fatalf("names: %s %s %s %s", hosts[one.ID].Name, hosts[two.ID].Name, hosts[three.ID].Name, hosts[four.ID].Name)
	}
	if !slices.ContainsFunc(run.Warnings, func(w string) bool { return strings.Contains(w, `name "shared" is taken`) }) {
		t.Fatalf("no warning about the cross-scope duplicate: %q", run.Warnings)
	}
}

func TestSyncComposeOverridesAnsibleHost(t *testing.T) {
	e := newSyncEnv(t, 60, map[string]any{
		"compose":      map[string]any{"ansible_host": "openstack.name ~ '.example.net'"},
		"keyed_groups": []any{map[string]any{"key": "openstack.metadata.role", "prefix": "role"}},
	})
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	for _, h := range e.Hosts() {
		var vars map[string]any
		must(t, json.Unmarshal(h.Vars, &vars))
		name := vars["openstack"].(map[string]any)["name"].(string)
		role := vars["openstack"].(map[string]any)["metadata"].(map[string]any)["role"].(string)
		if h.Address != name+".example.net" || !slices.Contains(h.Groups, "role_"+role) {
			t.Fatalf("host %s: address %s, groups %v", h.Name, h.Address, h.Groups)
		}
	}
}
