// Package storetest is the conformance suite every roster.Store
// implementation passes, the SQLite store and the PostgreSQL one: Run for
// roster.Store, RunScheduler and RunWebhooks for the stores they serve too.
package storetest

import (
	"encoding/json"
	"fmt"
	"maps"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// Open returns a fresh, empty store for one test; the suite closes it.
type Open func(t *testing.T) roster.Store

// Run runs the conformance suite.
func Run(t *testing.T, open Open) {
	tests := []struct {
		name string
		fn   func(*testing.T, roster.Store)
	}{
		{"Inventories", testInventories},
		{"Sources", testSources},
		{"SyncRunExclusive", testSyncRunExclusive},
		{"SyncRunConcurrentTrigger", testSyncRunConcurrentTrigger},
		{"ApplyChanges", testApplyChanges},
		{"BodiesWrittenABatchAtATime", testBodiesWrittenABatchAtATime},
		{"HostNamesOfOtherSources", testHostNamesOfOtherSources},
		{"HostNameConflicts", testHostNameConflicts},
		{"NamePolicy", testNamePolicy},
		{"FinishTwiceChangesNothing", testFinishTwice},
		{"HostFilters", testHostFilters},
		{"HostPagination", testHostPagination},
		{"HostVarFilter", testHostVarFilter},
		{"GroupsAndWalk", testGroupsAndWalk},
		{"PartialRunKeepsEdges", testPartialRunKeepsEdges},
		{"GroupCountsFollowMemberships", testGroupCountsFollowMemberships},
		{"SyncRunHistory", testSyncRunHistory},
		{"HostChangesRecorded", testHostChangesRecorded},
		{"HostChangesOfAFailedFinish", testHostChangesOfAFailedFinish},
		{"HostChangePages", testHostChangePages},
		{"HostChangePurge", testHostChangePurge},
		{"RunLeases", testRunLeases},
		{"LeaseOfAHeldQueuedRun", testLeaseOfAHeldQueuedRun},
		{"FinishStampsAfterWriting", testFinishStampsAfterWriting},
		{"Retries", testRetries},
		{"LateFinishOfAnUnclaimedRun", testLateFinishOfAnUnclaimedRun},
		{"OwedRetries", testOwedRetries},
		{"DeleteCascades", testDeleteCascades},
		{"Tokens", testTokens},
		{"Users", testUsers},
		{"UserTokens", testUserTokens},
		{"Teams", testTeams},
		{"RoleBindings", testRoleBindings},
		{"Sessions", testSessions},
		{"SignInFailures", testSignInFailures},
		{"ExternalUsers", testExternalUsers},
		{"SignInFlows", testSignInFlows},
		{"Credentials", testCredentials},
		{"Grants", testGrants},
		{"Audit", testAudit},
		{"AuditAggregatesRefusals", testAuditAggregatesRefusals},
		{"AuditBoundUnderConcurrency", testAuditBoundUnderConcurrency},
		{"AuditPurge", testAuditPurge},
		{"SecretBlobs", testSecretBlobs},
		{"HostIDsAreNotReused", testHostIDsAreNotReused},
		{"Generation", testGeneration},
		{"GenerationOfWalk", testGenerationOfWalk},
		{"DerivedInventories", testDerivedInventories},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := roster.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

func newInventory(t *testing.T, s roster.Store, name string) *roster.Inventory {
	t.Helper()
	inv := &roster.Inventory{Name: name}
	must(t, s.CreateInventory(t.Context(), inv))
	return inv
}

func newSource(t *testing.T, s roster.Store, inv *roster.Inventory, name string) *roster.Source {
	t.Helper()
	src := &roster.Source{InventoryID: inv.ID, Name: name, Provider: "aws", Config: map[string]any{"regions": []any{"us-east-1"}}, OnMissing: roster.OnMissingRemove}
	must(t, s.CreateSource(t.Context(), src))
	return src
}

func testInventories(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	if inv.ID == "" || inv.CreatedAt.IsZero() {
		t.Fatalf("created inventory lacks id or time: %+v", inv)
	}
	wantCode(t, s.CreateInventory(ctx, &roster.Inventory{Name: "prod"}), roster.ECONFLICT)
	for _, ref := range []string{inv.ID, "prod"} {
		got, err := s.Inventory(ctx, ref)
		must(t, err)
		if got.ID != inv.ID || got.Name != "prod" {
			t.Fatalf("Inventory(%q) = %+v", ref, got)
		}
	}
	_, err := s.Inventory(ctx, "nope")
	wantCode(t, err, roster.ENOTFOUND)
	newInventory(t, s, "dev")
	list, err := s.Inventories(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "dev" || list[1].Name != "prod" {
		t.Fatalf("Inventories = %v, want dev, prod", names(list))
	}
	desc := "production"
	upd, err := s.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{Description: &desc})
	must(t, err)
	if upd.Description != desc || upd.Name != "prod" {
		t.Fatalf("updated = %+v", upd)
	}
	dev := "dev"
	_, err = s.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{Name: &dev})
	wantCode(t, err, roster.ECONFLICT)
	_, err = s.UpdateInventory(ctx, "missing", roster.InventoryUpdate{Name: &dev})
	wantCode(t, err, roster.ENOTFOUND)
	must(t, s.DeleteInventory(ctx, inv.ID))
	wantCode(t, s.DeleteInventory(ctx, inv.ID), roster.ENOTFOUND)
}

func names(invs []*roster.Inventory) []string {
	var out []string
	for _, i := range invs {
		out = append(out, i.Name)
	}
	return out
}

func testSources(t *testing.T, s roster.Store) {
	ctx := t.Context()
	prod, dev := newInventory(t, s, "prod"), newInventory(t, s, "dev")
	src := newSource(t, s, prod, "ec2")
	wantCode(t, s.CreateSource(ctx, &roster.Source{InventoryID: prod.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove}), roster.ECONFLICT)
	wantCode(t, s.CreateSource(ctx, &roster.Source{InventoryID: "missing", Name: "x", Provider: "aws", OnMissing: roster.OnMissingRemove}), roster.ENOTFOUND)
	got, err := s.Source(ctx, src.ID)
	must(t, err)
	if got.Config["regions"].([]any)[0] != "us-east-1" || got.OnMissing != roster.OnMissingRemove {
		t.Fatalf("Source = %+v", got)
	}
	// The same name in another inventory is fine, but then a bare name is ambiguous.
	other := newSource(t, s, dev, "ec2")
	_, err = s.SourceByName(ctx, "", "ec2")
	wantCode(t, err, roster.ECONFLICT)
	got, err = s.SourceByName(ctx, dev.ID, "ec2")
	must(t, err)
	if got.ID != other.ID {
		t.Fatalf("SourceByName(dev) = %s, want %s", got.ID, other.ID)
	}
	_, err = s.SourceByName(ctx, "", "gce")
	wantCode(t, err, roster.ENOTFOUND)

	disable := roster.OnMissingDisable
	upd, err := s.UpdateSource(ctx, src.ID, roster.SourceUpdate{Config: map[string]any{"regions": []any{"eu-west-1"}}, OnMissing: &disable})
	must(t, err)
	if upd.Config["regions"].([]any)[0] != "eu-west-1" || upd.OnMissing != disable {
		t.Fatalf("updated = %+v", upd)
	}
	list, err := s.Sources(ctx, prod.ID)
	must(t, err)
	if len(list) != 1 || list[0].ID != src.ID {
		t.Fatalf("Sources(prod) = %d sources", len(list))
	}
	must(t, s.DeleteSource(ctx, src.ID))
	_, err = s.Source(ctx, src.ID)
	wantCode(t, err, roster.ENOTFOUND)
}

func newRun(t *testing.T, s roster.Store, src *roster.Source) *roster.SyncRun {
	t.Helper()
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerAPI}
	active, err := s.CreateSyncRun(t.Context(), run)
	must(t, err)
	if active != nil {
		t.Fatalf("CreateSyncRun found an active run %s", active.ID)
	}
	return run
}

// finish ends run as succeeded with changes.
func finish(t *testing.T, s roster.Store, run *roster.SyncRun, c *roster.HostChanges) {
	t.Helper()
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	must(t, s.FinishSyncRun(t.Context(), run, c))
}

func testSyncRunExclusive(t *testing.T, s roster.Store) {
	ctx := t.Context()
	src := newSource(t, s, newInventory(t, s, "prod"), "ec2")
	first := newRun(t, s, src)
	second := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerCLI}
	active, err := s.CreateSyncRun(ctx, second)
	must(t, err)
	if active == nil || active.ID != first.ID {
		t.Fatalf("second CreateSyncRun = %v, want the active run %s", active, first.ID)
	}
	started := time.Now().UTC().Truncate(time.Millisecond)
	lease := started.Add(time.Minute)
	first.StartedAt, first.Holder, first.LeaseUntil = &started, "node-a", &lease
	must(t, s.StartSyncRun(ctx, first))
	// Only one runner starts a run.
	wantCode(t, s.StartSyncRun(ctx, first), roster.ECONFLICT)
	if got, err := s.SyncRun(ctx, first.ID); err != nil || got.Status != roster.SyncRunning || !got.StartedAt.Equal(started) {
		t.Fatalf("after StartSyncRun: %+v, %v", got, err)
	}
	active, err = s.CreateSyncRun(ctx, second)
	must(t, err)
	if active == nil || active.Status != roster.SyncRunning {
		t.Fatalf("while running, CreateSyncRun = %v, want the running run", active)
	}
	finish(t, s, first, nil)
	third := newRun(t, s, src) // allowed again once the first finished
	if third.ID == first.ID {
		t.Fatal("new run reused the id of the finished one")
	}
	// A finished run cannot be started, updated or finished again.
	wantCode(t, s.StartSyncRun(ctx, first), roster.ECONFLICT)
	wantCode(t, s.UpdateSyncRun(ctx, first), roster.ECONFLICT)
}

func testSyncRunConcurrentTrigger(t *testing.T, s roster.Store) {
	src := newSource(t, s, newInventory(t, s, "prod"), "ec2")
	const n = 16
	var wg sync.WaitGroup
	created := make(chan string, n)
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			run := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerAPI}
			active, err := s.CreateSyncRun(t.Context(), run)
			if err != nil {
				errs <- err
				return
			}
			if active == nil {
				created <- run.ID
			}
		})
	}
	wg.Wait()
	close(created)
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if got := len(created); got != 1 {
		t.Fatalf("%d of %d concurrent triggers created a run, want exactly 1", got, n)
	}
}

func host(ext, scope, name string, groups ...string) *roster.Host {
	vars, _ := json.Marshal(map[string]any{"instance_id": ext, "n": name})
	return &roster.Host{ExternalID: ext, Scope: scope, Name: name, Address: "10.0.0.1", Enabled: true, Groups: groups, Vars: vars, Hash: "h-" + name}
}

func states(t *testing.T, s roster.Store, src *roster.Source) map[string]roster.HostState {
	t.Helper()
	list, err := s.HostStates(t.Context(), src.ID)
	must(t, err)
	m := make(map[string]roster.HostState, len(list))
	for _, st := range list {
		m[st.ExternalID] = st
	}
	return m
}

func allHosts(t *testing.T, s roster.Store, f roster.HostFilter) []*roster.Host {
	t.Helper()
	var out []*roster.Host
	for {
		page, next, err := s.Hosts(t.Context(), f)
		must(t, err)
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.After = next
	}
}

func hostNames(hosts []*roster.Host) []string {
	out := make([]string, len(hosts))
	for i, h := range hosts {
		out[i] = h.Name
	}
	return out
}

func testApplyChanges(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	run := newRun(t, s, src)
	finish(t, s, run, &roster.HostChanges{
		Add: []*roster.Host{
			host("i-1", "us-east-1", "web-1", "web", "prod"),
			host("i-2", "us-east-1", "web-2", "web"),
			host("i-3", "eu-west-1", "db-1", "db"),
		},
		Scopes: []string{"us-east-1", "eu-west-1"},
	})
	st := states(t, s, src)
	if len(st) != 3 || st["i-1"].Hash != "h-web-1" || st["i-3"].Scope != "eu-west-1" || !st["i-2"].Enabled {
		t.Fatalf("states after add = %+v", st)
	}
	h, err := s.Host(ctx, inv.ID, st["i-1"].ID)
	must(t, err)
	if h.Name != "web-1" || !slices.Equal(h.Groups, []string{"web", "prod"}) || h.SourceID != src.ID || h.FirstSeen.IsZero() {
		t.Fatalf("Host = %+v", h)
	}
	var vars map[string]any
	must(t, json.Unmarshal(h.Vars, &vars))
	if vars["instance_id"] != "i-1" {
		t.Fatalf("vars = %s", h.Vars)
	}

	// Rename i-1 (an update keeps the id), remove i-2, disable i-3.
	renamed := host("i-1", "us-east-1", "web-01", "web")
	renamed.ID = st["i-1"].ID
	run = newRun(t, s, src)
	finish(t, s, run, &roster.HostChanges{
		Update:  []*roster.Host{renamed},
		Remove:  []int64{st["i-2"].ID},
		Disable: []int64{st["i-3"].ID},
		Scopes:  []string{"us-east-1", "eu-west-1"},
	})
	st2 := states(t, s, src)
	if len(st2) != 2 {
		t.Fatalf("after remove: %d hosts, want 2", len(st2))
	}
	if st2["i-1"].ID != st["i-1"].ID || st2["i-1"].Hash != "h-web-01" {
		t.Fatalf("rename changed identity or hash: %+v", st2["i-1"])
	}
	if d := st2["i-3"]; d.Enabled || !d.Missing {
		t.Fatalf("disabled host = %+v, want disabled and missing", d)
	}
	h, err = s.Host(ctx, inv.ID, st["i-1"].ID)
	must(t, err)
	if h.Name != "web-01" || !slices.Equal(h.Groups, []string{"web"}) {
		t.Fatalf("renamed host = %+v", h)
	}
	// Group membership followed the update: web-01 left "prod".
	if got := hostNames(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Group: "prod"})); len(got) != 0 {
		t.Fatalf("group prod = %v, want empty", got)
	}
	// An update of a missing host brings it back.
	back := host("i-3", "eu-west-1", "db-1", "db")
	back.ID = st["i-3"].ID
	run = newRun(t, s, src)
	finish(t, s, run, &roster.HostChanges{Update: []*roster.Host{back}, Scopes: []string{"eu-west-1"}})
	if d := states(t, s, src)["i-3"]; !d.Enabled || d.Missing {
		t.Fatalf("returning host = %+v, want enabled and not missing", d)
	}
}

func testFinishTwice(t *testing.T, s roster.Store) {
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	run := newRun(t, s, src)
	finish(t, s, run, nil)
	// Finishing again must fail and, being one transaction, add nothing.
	err := s.FinishSyncRun(t.Context(), run, &roster.HostChanges{Add: []*roster.Host{host("i-1", "r", "web-1")}})
	wantCode(t, err, roster.ECONFLICT)
	if n := len(states(t, s, src)); n != 0 {
		t.Fatalf("a refused finish wrote %d hosts", n)
	}
}

func seedHosts(t *testing.T, s roster.Store) (*roster.Inventory, *roster.Source, *roster.Source) {
	inv := newInventory(t, s, "prod")
	a, b := newSource(t, s, inv, "a"), newSource(t, s, inv, "b")
	var hostsA, hostsB []*roster.Host
	for i := range 30 {
		h := host(fmt.Sprintf("i-a%02d", i), "us-east-1", fmt.Sprintf("web-%02d", i), "web")
		if i%3 == 0 {
			h.Groups = append(h.Groups, "odd[group]?")
		}
		h.Enabled = i%5 != 0
		hostsA = append(hostsA, h)
	}
	for i := range 10 {
		hostsB = append(hostsB, host(fmt.Sprintf("i-b%02d", i), "eu", fmt.Sprintf("db-%02d", i), "db"))
	}
	finish(t, s, newRun(t, s, a), &roster.HostChanges{Add: hostsA, Scopes: []string{"us-east-1"}})
	finish(t, s, newRun(t, s, b), &roster.HostChanges{Add: hostsB, Scopes: []string{"eu"}})
	return inv, a, b
}

func testHostFilters(t *testing.T, s roster.Store) {
	inv, a, b := seedHosts(t, s)
	yes, no := true, false
	for _, tc := range []struct {
		name string
		f    roster.HostFilter
		want int
	}{
		{"all", roster.HostFilter{}, 40},
		{"source a", roster.HostFilter{SourceID: a.ID}, 30},
		{"source b", roster.HostFilter{SourceID: b.ID}, 10},
		{"group", roster.HostFilter{Group: "db"}, 10},
		{"group with glob characters", roster.HostFilter{Group: "odd[group]?"}, 10},
		{"enabled", roster.HostFilter{Enabled: &yes}, 34},
		{"disabled", roster.HostFilter{Enabled: &no}, 6},
		{"exact name", roster.HostFilter{Name: "web-07"}, 1},
		{"prefix glob", roster.HostFilter{Name: "web-1*"}, 10},
		{"infix glob", roster.HostFilter{Name: "*-0*"}, 20},
		{"no match", roster.HostFilter{Name: "web-9*"}, 0},
		{"combined", roster.HostFilter{Group: "web", Enabled: &no, Name: "web-*"}, 6},
		{"ungrouped: none", roster.HostFilter{Ungrouped: true}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.f.InventoryID = inv.ID
			tc.f.Limit = 7
			got := allHosts(t, s, tc.f)
			if len(got) != tc.want {
				t.Fatalf("%d hosts (%v), want %d", len(got), hostNames(got), tc.want)
			}
		})
	}
	_, _, err := s.Hosts(t.Context(), roster.HostFilter{InventoryID: inv.ID, After: "not-a-cursor"})
	wantCode(t, err, roster.EINVALID)
}

// testHostVarFilter: a var filter matches a top-level var's string value,
// or a number's or boolean's JSON text as written; nothing nested, null,
// or of another key; a key a JSON path could not quote is refused.
func testHostVarFilter(t *testing.T, s roster.Store) {
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "a")
	vars := []string{
		`{"env": "prod", "port": 80, "ratio": 1.50, "spot": true, "tags": {"env": "prod"}, "odd key.$[0]": "x"}`,
		`{"env": "prod", "port": "80", "ratio": 1.5, "spot": false}`,
		`{"env": "staging", "port": 8080, "note": null, "quote": "it's \"quoted\" <b>"}`,
		`{"env": "PROD", "tags": ["prod"]}`,
		`{}`,
	}
	var hosts []*roster.Host
	for i, v := range vars {
		h := host(fmt.Sprintf("i-%d", i), "r", fmt.Sprintf("h-%d", i))
		h.Vars = json.RawMessage(v)
		hosts = append(hosts, h)
	}
	// Enough more matching hosts to need several pages.
	for i := range 25 {
		h := host(fmt.Sprintf("i-x%02d", i), "r", fmt.Sprintf("x-%02d", i))
		h.Vars = json.RawMessage(`{"env": "prod"}`)
		hosts = append(hosts, h)
	}
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Add: hosts, Scopes: []string{"r"}})
	no := false
	for _, tc := range []struct {
		key, value string
		enabled    *bool
		want       []string
	}{
		{"env", "staging", nil, []string{"h-2"}},
		{"port", "80", nil, []string{"h-0", "h-1"}},
		{"port", "8080", nil, []string{"h-2"}},
		{"ratio", "1.50", nil, []string{"h-0"}},
		{"ratio", "1.5", nil, []string{"h-1"}},
		{"spot", "true", nil, []string{"h-0"}},
		{"spot", "false", nil, []string{"h-1"}},
		{"note", "null", nil, nil},
		{"note", "", nil, nil},
		{"tags", "prod", nil, nil},
		{"env", "Prod", nil, nil},
		{"odd key.$[0]", "x", nil, []string{"h-0"}},
		{"quote", `it's "quoted" <b>`, nil, []string{"h-2"}},
		{"missing", "x", nil, nil},
		{"env", "prod", &no, nil},
	} {
		t.Run(tc.key+"="+tc.value, func(t *testing.T) {
			got := hostNames(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Var: roster.VarMatch{Key: tc.key, Value: tc.value}, Enabled: tc.enabled, Limit: 7}))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("%q=%q matched %v, want %v", tc.key, tc.value, got, tc.want)
			}
		})
	}
	if got := allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Var: roster.VarMatch{Key: "env", Value: "prod"}, Name: "x-*", Limit: 7}); len(got) != 25 {
		t.Fatalf("env=prod and x-*, paged by 7: %d hosts, want 25", len(got))
	}
	if got := allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Var: roster.VarMatch{Key: "env", Value: "prod"}, Limit: 7}); len(got) != 27 {
		t.Fatalf("env=prod, paged by 7: %d hosts, want 27", len(got))
	}
	// Hosts of no group: all but one, given a group.
	grouped := host("i-g", "r", "h-grouped", "g")
	finish(t, s, newRun(t, s, newSource(t, s, inv, "b")), &roster.HostChanges{Add: []*roster.Host{grouped}, Scopes: []string{"r"}})
	if got := allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Ungrouped: true, Limit: 7}); len(got) != 30 || slices.Contains(hostNames(got), "h-grouped") {
		t.Fatalf("ungrouped: %v, want the 30 hosts without groups", hostNames(got))
	}
	// A bounded scan: pages of at most 7 of the next 4 hosts looked at
	// find the same 27, some pages short or empty with more to come.
	var found []string
	short := 0
	for f := (roster.HostFilter{InventoryID: inv.ID, Var: roster.VarMatch{Key: "env", Value: "prod"}, Limit: 7, Scan: 4}); ; {
		page, next, err := s.Hosts(t.Context(), f)
		must(t, err)
		if len(page) > 4 {
			t.Fatalf("a scan of 4 hosts found %d", len(page))
		}
		found = append(found, hostNames(page)...)
		if next == "" {
			break
		}
		if len(page) < 4 {
			short++
		}
		f.After = next
	}
	if len(found) != 27 || !slices.IsSorted(found) || short == 0 {
		t.Fatalf("scanning 4 hosts a page: %d hosts %v (%d short pages), want 27 in order, some pages short", len(found), found, short)
	}
	for _, bad := range []roster.VarMatch{{Key: `a"b`, Value: "x"}, {Key: `a\b`, Value: "x"}, {Key: "a\nb"}, {Key: strings.Repeat("k", roster.MaxVarMatch+1)}} {
		_, _, err := s.Hosts(t.Context(), roster.HostFilter{InventoryID: inv.ID, Var: bad})
		wantCode(t, err, roster.EINVALID)
	}
}

func testHostPagination(t *testing.T, s roster.Store) {
	inv, _, _ := seedHosts(t, s)
	var pages [][]string
	f := roster.HostFilter{InventoryID: inv.ID, Limit: 12}
	for {
		page, next, err := s.Hosts(t.Context(), f)
		must(t, err)
		pages = append(pages, hostNames(page))
		if next == "" {
			break
		}
		f.After = next
	}
	if len(pages) != 4 || len(pages[3]) != 4 {
		t.Fatalf("pages of 12 over 40 hosts: %v", pages)
	}
	all := slices.Concat(pages...)
	if !slices.IsSorted(all) || len(slices.Compact(slices.Clone(all))) != 40 {
		t.Fatalf("pages are not sorted by name without repeats: %v", all)
	}
}

func testGroupsAndWalk(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	finish(t, s, newRun(t, s, src), &roster.HostChanges{
		Add:          []*roster.Host{host("i-2", "r", "b-host", "env_prod"), host("i-1", "r", "a-host", "env_prod", "web"), host("i-3", "r", "c-host")},
		Scopes:       []string{"r"},
		Edges:        []roster.GroupEdge{{Parent: "environments", Child: "env_prod"}},
		ReplaceEdges: true,
	})
	must(t, s.SetGroupVars(ctx, inv.ID, "web", json.RawMessage(`{"http_port":8080}`)))
	groups, err := s.Groups(ctx, inv.ID)
	must(t, err)
	got := map[string]*roster.Group{}
	for _, g := range groups {
		got[g.Name] = g
	}
	if len(got) != 3 || got["env_prod"].Hosts != 2 || got["web"].Hosts != 1 || got["environments"].Hosts != 0 {
		t.Fatalf("groups = %+v", groups)
	}
	if !slices.Equal(got["environments"].Children, []string{"env_prod"}) || string(got["web"].Vars) != `{"http_port":8080}` {
		t.Fatalf("group structure = %+v / %s", got["environments"], got["web"].Vars)
	}
	var walked []string
	var walkedGroups []string
	_, err = s.WalkInventory(ctx, inv.ID, func(h *roster.Host) error {
		walked = append(walked, h.Name)
		return nil
	}, func(g *roster.Group) error {
		walkedGroups = append(walkedGroups, g.Name)
		return nil
	})
	must(t, err)
	if !slices.Equal(walked, []string{"a-host", "b-host", "c-host"}) {
		t.Fatalf("walk order = %v", walked)
	}
	if !slices.Equal(walkedGroups, []string{"env_prod", "environments", "web"}) {
		t.Fatalf("walked groups = %v (groups with children or vars, and children)", walkedGroups)
	}
	must(t, s.SetGroupVars(ctx, inv.ID, "web", json.RawMessage(`{}`)))
	groups, err = s.Groups(ctx, inv.ID)
	must(t, err)
	for _, g := range groups {
		if g.Name == "web" && len(g.Vars) != 0 {
			t.Fatalf("emptied vars are still %s", g.Vars)
		}
	}
}

// testGroupCountsFollowMemberships drives two sources of one inventory
// through syncs that add, regroup (a group named twice, a host updated
// twice in one run), ungroup and remove hosts, then deletes one source:
// after each step every group's count, and the hosts in no group, are
// what the hosts themselves say.
func testGroupCountsFollowMemberships(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	other := newInventory(t, s, "other")
	a, b := newSource(t, s, inv, "ec2"), newSource(t, s, inv, "gce")
	finish(t, s, newRun(t, s, newSource(t, s, other, "ec2")), &roster.HostChanges{Add: []*roster.Host{host("o-1", "r", "o-1", "shared")}, Scopes: []string{"r"}})
	rng := rand.New(rand.NewPCG(1, 2))
	pick := func() []string {
		var gs []string
		for range rng.IntN(4) {
			gs = append(gs, fmt.Sprintf("g%d", rng.IntN(6)))
		}
		if rng.IntN(5) == 0 {
			gs = append(gs, "shared", "shared")
		}
		return gs
	}
	// The groups edges and vars name (set below, before the syncs).
	structured := map[string]bool{"aa_parent": true, "g1": true, "shared": true, "zz_empty": true, "vars_only": true}
	check := func(step string) {
		t.Helper()
		want := map[string]int{}
		var ungrouped []string
		for _, h := range allHosts(t, s, roster.HostFilter{InventoryID: inv.ID}) {
			seen := map[string]bool{}
			for _, g := range h.Groups {
				if !seen[g] {
					seen[g] = true
					want[g]++
				}
			}
			if len(h.Groups) == 0 {
				ungrouped = append(ungrouped, h.Name)
			}
		}
		groups, err := s.Groups(ctx, inv.ID)
		must(t, err)
		got := map[string]int{}
		for _, g := range groups {
			if g.Hosts != 0 {
				got[g.Name] = g.Hosts
			}
		}
		if !maps.Equal(got, want) {
			t.Fatalf("%s: group counts %v, want %v", step, got, want)
		}
		if got := hostNames(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Ungrouped: true})); !slices.Equal(got, ungrouped) {
			t.Fatalf("%s: ungrouped hosts %v, want %v", step, got, ungrouped)
		}
		// GroupsFirst: the first n groups with hosts and every group
		// edges or vars name, and the count of all.
		for _, n := range []int{0, 2, 5, 1000} {
			first, total, err := s.GroupsFirst(ctx, inv.ID, n)
			must(t, err)
			var want []string
			counted := 0
			for _, g := range groups {
				if g.Hosts > 0 {
					counted++
				}
				if (g.Hosts > 0 && counted <= n) || structured[g.Name] {
					want = append(want, fmt.Sprintf("%s:%d", g.Name, g.Hosts))
				}
			}
			var got []string
			for _, g := range first {
				got = append(got, fmt.Sprintf("%s:%d", g.Name, g.Hosts))
			}
			if total != len(groups) || !slices.Equal(got, want) {
				t.Fatalf("%s: GroupsFirst(%d) = %v of %d, want %v of %d", step, n, got, total, want, len(groups))
			}
		}
	}
	finish(t, s, newRun(t, s, a), &roster.HostChanges{
		Edges:        []roster.GroupEdge{{Parent: "aa_parent", Child: "g1"}, {Parent: "aa_parent", Child: "shared"}, {Parent: "shared", Child: "zz_empty"}},
		ReplaceEdges: true,
	})
	must(t, s.SetGroupVars(ctx, inv.ID, "vars_only", json.RawMessage(`{"x":1}`)))
	for round := range 6 {
		for _, src := range []*roster.Source{a, b} {
			c := &roster.HostChanges{Scopes: []string{"r"}}
			st := states(t, s, src)
			for _, ext := range slices.Sorted(maps.Keys(st)) {
				st := st[ext]
				switch rng.IntN(4) {
				case 0:
					c.Remove = append(c.Remove, st.ID)
				case 1:
					h := host(ext, "r", st.Name, pick()...)
					h.ID = st.ID
					c.Update = append(c.Update, h)
					if rng.IntN(3) == 0 { // listed twice: the last wins
						again := host(ext, "r", st.Name, pick()...)
						again.ID = st.ID
						c.Update = append(c.Update, again)
					}
				}
			}
			for i := range 3 + rng.IntN(5) {
				ext := fmt.Sprintf("%s-%d-%d", src.Name, round, i)
				c.Add = append(c.Add, host(ext, "r", ext, pick()...))
			}
			finish(t, s, newRun(t, s, src), c)
			check(fmt.Sprintf("round %d, %s", round, src.Name))
		}
	}
	must(t, s.DeleteSource(ctx, b.ID))
	check("after deleting a source")
	other2, err := s.Groups(ctx, other.ID)
	must(t, err)
	if len(other2) != 1 || other2[0].Hosts != 1 {
		t.Fatalf("another inventory's groups = %+v, want shared with 1 host", other2)
	}
}

func testPartialRunKeepsEdges(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Edges: []roster.GroupEdge{{Parent: "p", Child: "a"}}, ReplaceEdges: true})
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Edges: []roster.GroupEdge{{Parent: "p", Child: "b"}}, ReplaceEdges: false})
	children := func() []string {
		groups, err := s.Groups(ctx, inv.ID)
		must(t, err)
		for _, g := range groups {
			if g.Name == "p" {
				return g.Children
			}
		}
		return nil
	}
	if got := children(); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("after a partial run children = %v, want a and b", got)
	}
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Edges: []roster.GroupEdge{{Parent: "p", Child: "b"}}, ReplaceEdges: true})
	if got := children(); !slices.Equal(got, []string{"b"}) {
		t.Fatalf("after a full run children = %v, want b", got)
	}
}

func testSyncRunHistory(t *testing.T, s roster.Store) {
	ctx := t.Context()
	src := newSource(t, s, newInventory(t, s, "prod"), "ec2")
	var ids []string
	for i := range 5 {
		run := newRun(t, s, src)
		run.Scopes = []roster.ScopeResult{{Name: "us-east-1", Status: roster.ScopeSucceeded, Hosts: i, Duration: 1500 * time.Millisecond}}
		run.Counts = roster.SyncCounts{Seen: i, Added: i}
		run.Warnings = []string{"w"}
		finish(t, s, run, nil)
		ids = append(ids, run.ID)
	}
	got, err := s.SyncRun(ctx, ids[2])
	must(t, err)
	if got.Status != roster.SyncSucceeded || got.Counts.Added != 2 || len(got.Scopes) != 1 || got.Scopes[0].Duration != 1500*time.Millisecond ||
		got.FinishedAt == nil || got.StartedAt == nil || !slices.Equal(got.Warnings, []string{"w"}) {
		t.Fatalf("SyncRun = %+v", got)
	}
	page1, next, err := s.SyncRuns(ctx, roster.SyncRunFilter{SourceID: src.ID, Limit: 3})
	must(t, err)
	page2, next2, err := s.SyncRuns(ctx, roster.SyncRunFilter{SourceID: src.ID, Limit: 3, After: next})
	must(t, err)
	if len(page1) != 3 || len(page2) != 2 || next2 != "" {
		t.Fatalf("pages: %d, %d (next %q)", len(page1), len(page2), next2)
	}
	if page1[0].ID != ids[4] || page2[1].ID != ids[0] {
		t.Fatal("runs are not newest first")
	}
	_, err = s.SyncRun(ctx, "missing")
	wantCode(t, err, roster.ENOTFOUND)
}

func testDeleteCascades(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv, a, _ := seedHosts(t, s)
	must(t, s.DeleteSource(ctx, a.ID))
	if got := len(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID})); got != 10 {
		t.Fatalf("after deleting a source, %d hosts remain, want 10", got)
	}
	if got := len(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Group: "web"})); got != 0 {
		t.Fatalf("deleted source's memberships remain: %d", got)
	}
	must(t, s.DeleteInventory(ctx, inv.ID))
	groups, err := s.Groups(ctx, inv.ID)
	must(t, err)
	if len(groups) != 0 {
		t.Fatalf("deleted inventory still has groups %v", groups)
	}
}

func testTokens(t *testing.T, s roster.Store) {
	ctx := t.Context()
	value, hash := roster.NewTokenValue()
	tok := &roster.Token{Name: "ci", Role: roster.RoleRunner}
	must(t, s.CreateToken(ctx, tok, hash))
	wantCode(t, s.CreateToken(ctx, &roster.Token{Name: "ci", Role: roster.RoleAdmin}, "other"), roster.ECONFLICT)
	got, err := s.TokenByHash(ctx, roster.HashToken(value))
	must(t, err)
	if got.ID != tok.ID || got.Role != roster.RoleRunner || got.LastUsedAt != nil {
		t.Fatalf("TokenByHash = %+v", got)
	}
	_, err = s.TokenByHash(ctx, roster.HashToken("rst_wrong"))
	wantCode(t, err, roster.ENOTFOUND)
	used := time.Now().UTC().Truncate(time.Second)
	must(t, s.TouchToken(ctx, tok.ID, used))
	list, err := s.Tokens(ctx)
	must(t, err)
	if len(list) != 1 || list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(used) {
		t.Fatalf("Tokens = %+v", list)
	}
	byName, err := s.Token(ctx, "ci")
	must(t, err)
	if byName.ID != tok.ID {
		t.Fatalf("Token(name) = %s, want %s", byName.ID, tok.ID)
	}
	must(t, s.DeleteToken(ctx, tok.ID))
	_, err = s.TokenByHash(ctx, hash)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, s.DeleteToken(ctx, tok.ID), roster.ENOTFOUND)

	// A token's limits come back as they were made: no list is no limit,
	// an empty list sees nothing, and neither may turn into the other.
	for _, want := range []*roster.Token{
		{Name: "unlimited", Role: roster.RoleOperator},
		{Name: "none", Role: roster.RoleAuditor, Inventories: []string{}, ReadOnly: true},
		{Name: "two", Role: roster.RoleRunner, Inventories: []string{"inv-b", "inv-a"}},
	} {
		_, hash := roster.NewTokenValue()
		must(t, s.CreateToken(ctx, want, hash))
		got, err := s.TokenByHash(ctx, hash)
		must(t, err)
		if (got.Inventories == nil) != (want.Inventories == nil) || !slices.Equal(got.Inventories, want.Inventories) || got.ReadOnly != want.ReadOnly {
			t.Errorf("token %s: inventories %#v read-only %v, want %#v %v", want.Name, got.Inventories, got.ReadOnly, want.Inventories, want.ReadOnly)
		}
	}
}

func testHostIDsAreNotReused(t *testing.T, s roster.Store) {
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Add: []*roster.Host{host("i-1", "r", "a"), host("i-2", "r", "b")}, Scopes: []string{"r"}})
	st := states(t, s, src)
	removed := st["i-2"].ID
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Remove: []int64{removed}, Scopes: []string{"r"}})
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Add: []*roster.Host{host("i-3", "r", "c")}, Scopes: []string{"r"}})
	if got := states(t, s, src)["i-3"].ID; got <= removed {
		t.Fatalf("new host got id %d, at or below the removed host's %d", got, removed)
	}
}

// heldBodies is a roster.HostBodies keeping bodies in a map, counting how
// many hosts have theirs in memory at once.
type heldBodies struct {
	bodies  map[*roster.Host]*roster.Host
	hosts   []*roster.Host
	loads   int
	maxHeld int
}

func holdBodies(hosts []*roster.Host) *heldBodies {
	b := &heldBodies{bodies: make(map[*roster.Host]*roster.Host), hosts: hosts}
	for _, h := range hosts {
		b.bodies[h] = &roster.Host{Groups: h.Groups, Vars: h.Vars}
		h.Groups, h.Vars = nil, nil
	}
	return b
}

func (b *heldBodies) Load(hosts []*roster.Host) error {
	b.loads++
	for _, h := range hosts {
		body, ok := b.bodies[h]
		if !ok {
			return fmt.Errorf("no body held for %s", h.ExternalID)
		}
		h.Groups, h.Vars = body.Groups, body.Vars
	}
	held := 0
	for _, h := range b.hosts {
		if h.Vars != nil {
			held++
		}
	}
	b.maxHeld = max(b.maxHeld, held)
	return nil
}

// testBodiesWrittenABatchAtATime writes a sync whose host bodies are held
// outside memory (HostChanges.Bodies, as the sync engine keeps them on
// disk): every host is written with its body, and never all bodies are
// in memory at once.
func testBodiesWrittenABatchAtATime(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "big")
	src := newSource(t, s, inv, "ec2")
	const n = 5000
	add := make([]*roster.Host, n)
	for i := range add {
		add[i] = host(fmt.Sprintf("i-%05d", i), "r", fmt.Sprintf("h-%05d", i), "all_of_them", fmt.Sprintf("g%d", i%7))
	}
	bodies := holdBodies(add)
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Add: add, Scopes: []string{"r"}, Bodies: bodies})
	if bodies.loads < 2 || bodies.maxHeld == 0 || bodies.maxHeld > n/2 {
		t.Fatalf("%d hosts were written in %d loads holding up to %d bodies at once, want batches of at most %d", n, bodies.loads, bodies.maxHeld, n/2)
	}
	check := func(i int, name string, groups []string) {
		t.Helper()
		st := states(t, s, src)[fmt.Sprintf("i-%05d", i)]
		h, err := s.Host(ctx, inv.ID, st.ID)
		must(t, err)
		var vars map[string]any
		must(t, json.Unmarshal(h.Vars, &vars))
		if h.Name != name || !slices.Equal(h.Groups, groups) || vars["n"] != name {
			t.Fatalf("host %d = %s %v %s, want %s %v", i, h.Name, h.Groups, h.Vars, name, groups)
		}
	}
	check(0, "h-00000", []string{"all_of_them", "g0"})
	check(n-1, "h-04999", []string{"all_of_them", "g1"})
	if got := len(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Group: "g3"})); got != n/7 {
		t.Fatalf("group g3 has %d hosts, want %d", got, n/7)
	}

	st := states(t, s, src)
	upd := make([]*roster.Host, n)
	for i := range upd {
		ext := fmt.Sprintf("i-%05d", i)
		upd[i] = host(ext, "r", fmt.Sprintf("u-%05d", i), "updated")
		upd[i].ID = st[ext].ID
	}
	bodies = holdBodies(upd)
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Update: upd, Scopes: []string{"r"}, Bodies: bodies})
	if bodies.loads < 2 || bodies.maxHeld == 0 || bodies.maxHeld > n/2 {
		t.Fatalf("%d hosts were updated in %d loads holding up to %d bodies at once, want batches of at most %d", n, bodies.loads, bodies.maxHeld, n/2)
	}
	check(42, "u-00042", []string{"updated"})
	if got := len(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Group: "g3"})); got != 0 {
		t.Fatalf("group g3 has %d hosts after every host left it", got)
	}
	if got := len(allHosts(t, s, roster.HostFilter{InventoryID: inv.ID, Group: "updated"})); got != n {
		t.Fatalf("group updated has %d hosts, want %d", got, n)
	}
}

func testHostNameConflicts(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	ec2, gce, nova := newSource(t, s, inv, "ec2"), newSource(t, s, inv, "gce"), newSource(t, s, inv, "nova")
	elsewhere := newSource(t, s, newInventory(t, s, "dev"), "other")
	conflicts, total, err := s.HostNameConflicts(ctx, inv.ID, 10)
	must(t, err)
	if total != 0 || len(conflicts) != 0 {
		t.Fatalf("an inventory without hosts has conflicts: %d %v", total, conflicts)
	}
	// Sources are listed in the order their hosts were first seen (nova
	// syncs before gce), not by name; two hosts of one source named alike
	// are no conflict between sources.
	finish(t, s, newRun(t, s, ec2), &roster.HostChanges{Add: []*roster.Host{host("i-1", "r", "web"), host("i-2", "r", "solo"), host("i-3", "r", "twice"), host("i-4", "r", "twice")}, Scopes: []string{"r"}})
	finish(t, s, newRun(t, s, nova), &roster.HostChanges{Add: []*roster.Host{host("n-1", "r", "db"), host("n-2", "r", "web"), host("n-3", "r", "cache")}, Scopes: []string{"r"}})
	finish(t, s, newRun(t, s, gce), &roster.HostChanges{Add: []*roster.Host{host("g-1", "r", "db"), host("g-2", "r", "web")}, Scopes: []string{"r"}})
	finish(t, s, newRun(t, s, elsewhere), &roster.HostChanges{Add: []*roster.Host{host("o-1", "r", "cache")}, Scopes: []string{"r"}})
	conflicts, total, err = s.HostNameConflicts(ctx, inv.ID, 10)
	must(t, err)
	want := []roster.NameConflict{{Name: "db", Sources: []string{"nova", "gce"}}, {Name: "web", Sources: []string{"ec2", "nova", "gce"}}}
	if total != 2 || !reflect.DeepEqual(conflicts, want) {
		t.Fatalf("conflicts = %d %+v, want 2 %+v", total, conflicts, want)
	}
	conflicts, total, err = s.HostNameConflicts(ctx, inv.ID, 1)
	must(t, err)
	if total != 2 || !reflect.DeepEqual(conflicts, want[:1]) {
		t.Fatalf("conflicts limited to 1 = %d %+v, want 2 %+v", total, conflicts, want[:1])
	}
}

func testNamePolicy(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	if inv.NamePolicy != roster.NamesMerge {
		t.Fatalf("a new inventory's name policy is %q, want %q", inv.NamePolicy, roster.NamesMerge)
	}
	prefix := roster.NamesPrefix
	upd, err := s.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{NamePolicy: &prefix})
	must(t, err)
	if upd.NamePolicy != prefix || upd.Generation <= inv.Generation {
		t.Fatalf("after choosing %q: policy %q, generation %d -> %d (Ansible's names change: it must move)", prefix, upd.NamePolicy, inv.Generation, upd.Generation)
	}
	got, err := s.Inventory(ctx, "prod")
	must(t, err)
	if got.NamePolicy != prefix {
		t.Fatalf("stored name policy = %q, want %q", got.NamePolicy, prefix)
	}
	again, err := s.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{NamePolicy: &prefix})
	must(t, err)
	if again.Generation != upd.Generation {
		t.Fatalf("choosing the same policy again moved the generation %d -> %d", upd.Generation, again.Generation)
	}
	first := &roster.Inventory{Name: "first", NamePolicy: roster.NamesFirst}
	must(t, s.CreateInventory(ctx, first))
	if got, err := s.Inventory(ctx, first.ID); err != nil || got.NamePolicy != roster.NamesFirst {
		t.Fatalf("created with policy first: %+v, %v", got, err)
	}
}

func testHostNamesOfOtherSources(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	first, second := newSource(t, s, inv, "ec2"), newSource(t, s, inv, "gce")
	elsewhere := newInventory(t, s, "dev")
	third := newSource(t, s, elsewhere, "nova")
	finish(t, s, newRun(t, s, first), &roster.HostChanges{Add: []*roster.Host{host("i-1", "r", "web"), host("i-2", "r", "db")}, Scopes: []string{"r"}})
	finish(t, s, newRun(t, s, second), &roster.HostChanges{Add: []*roster.Host{host("g-1", "r", "db"), host("g-2", "r", "cache")}, Scopes: []string{"r"}})
	finish(t, s, newRun(t, s, third), &roster.HostChanges{Add: []*roster.Host{host("n-1", "r", "web")}, Scopes: []string{"r"}})
	got, err := s.HostNamesOfOtherSources(ctx, inv.ID, first.ID)
	must(t, err)
	if want := map[string]string{"db": "gce", "cache": "gce"}; !maps.Equal(got, want) {
		t.Fatalf("names of the other sources = %v, want %v", got, want)
	}
	got, err = s.HostNamesOfOtherSources(ctx, elsewhere.ID, third.ID)
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("an inventory with one source: %v", got)
	}
}
