package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/api/ui"
)

// waitDerived waits until a derived inventory's source has n finished
// runs and none active, and returns the newest.
func (f *fixture) waitDerived(inv, kind string, n int) api.SyncRun {
	f.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := f.do("GET", "/api/v1/sources/"+url.PathEscape(inv+"/"+kind)+"/syncs", f.admin, nil)
		wantStatus(f.t, r, http.StatusOK)
		var list api.SyncRunList
		r.json(f.t, &list)
		done := 0
		active := false
		for _, run := range list.Items {
			if roster.SyncStatus(run.Status).Done() {
				done++
			} else {
				active = true
			}
		}
		if done >= n && !active {
			return list.Items[0]
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("the runs of %s did not finish", inv)
	return api.SyncRun{}
}

// ansibleDoc reads an inventory's Ansible document: host vars by name and
// group members.
func (f *fixture) ansibleDoc(inv, token string) (map[string]map[string]any, map[string][]string, int) {
	f.t.Helper()
	r := f.do("GET", "/api/v1/inventories/"+inv+"/ansible", token, nil)
	if r.status != http.StatusOK {
		return nil, nil, r.status
	}
	var raw map[string]json.RawMessage
	r.json(f.t, &raw)
	var meta struct {
		Hostvars map[string]map[string]any `json:"hostvars"`
	}
	must(f.t, json.Unmarshal(raw["_meta"], &meta))
	groups := map[string][]string{}
	for name, g := range raw {
		var group struct{ Hosts []string }
		if name != "_meta" && json.Unmarshal(g, &group) == nil {
			groups[name] = group.Hosts
		}
	}
	return meta.Hostvars, groups, r.status
}

func TestSmartAndConstructedInventories(t *testing.T) {
	f := newFixture(t)
	f.inventory("east")
	f.inventory("west")
	east := f.source("east", "ec2", f.awsConfig(map[string]any{"regions": []string{"us-east-1"}}))
	west := f.source("west", "ec2", f.awsConfig(map[string]any{"regions": []string{"eu-west-1"}}))
	f.syncAndWait(east.Id)
	f.syncAndWait(west.Id)
	eastVars, _, _ := f.ansibleDoc("east", f.admin)
	westVars, _, _ := f.ansibleDoc("west", f.admin)
	if len(eastVars) == 0 || len(westVars) == 0 {
		t.Fatalf("inputs empty: %d, %d hosts", len(eastVars), len(westVars))
	}

	// A smart inventory keeps the hosts of its inputs its filter matches.
	r := f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "running-east", "kind": "smart", "inputs": []string{"west", "east"},
		"host_filter": `variables__placement__region=us-east-1 and not variables__state__name=stopped`})
	wantStatus(t, r, http.StatusCreated)
	var smart api.Inventory
	r.json(t, &smart)
	if *smart.Kind != api.Smart || !slices.Equal(*smart.InputNames, []string{"west", "east"}) || smart.HostFilter == nil {
		t.Fatalf("created %+v", smart)
	}
	run := f.waitDerived("running-east", "smart", 1)
	if run.Status != api.SyncRunStatusSucceeded {
		t.Fatalf("smart run %s: %v", run.Status, run.Error)
	}
	vars, _, _ := f.ansibleDoc("running-east", f.admin)
	want := 0
	for name, v := range eastVars {
		state, _ := v["state"].(map[string]any)
		if state["name"] != "stopped" {
			want++
			if _, ok := vars[name]; !ok {
				t.Fatalf("smart inventory lacks %s", name)
			}
		}
	}
	if len(vars) != want || want == 0 {
		t.Fatalf("smart inventory has %d hosts, want %d", len(vars), want)
	}

	// A constructed one: compose and keyed groups over both inputs.
	r = f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "by-type", "kind": "constructed", "inputs": []string{"east", "west"},
		"source_vars": map[string]any{"plugin": "constructed", "compose": map[string]any{"where": "placement.region ~ '/' ~ inventory_hostname"},
			"keyed_groups": []any{map[string]any{"key": "instance_type", "prefix": "type"}}},
		"limit": "type_*:!nothing"})
	wantStatus(t, r, http.StatusCreated)
	run = f.waitDerived("by-type", "constructed", 1)
	if run.Status != api.SyncRunStatusSucceeded {
		t.Fatalf("constructed run %s: %v", run.Status, run.Error)
	}
	vars, groups, _ := f.ansibleDoc("by-type", f.admin)
	if len(vars) != len(eastVars)+len(westVars) {
		t.Fatalf("constructed inventory has %d hosts, want %d", len(vars), len(eastVars)+len(westVars))
	}
	for name, v := range vars {
		region, _ := v["placement"].(map[string]any)["region"].(string)
		if v["where"] != region+"/"+name {
			t.Fatalf("%s: where = %v", name, v["where"])
		}
		typ, _ := v["instance_type"].(string)
		if !slices.Contains(groups["type_"+strings.ReplaceAll(typ, ".", "_")], name) {
			t.Fatalf("%s not in its keyed group type_%s", name, typ)
		}
	}
	r = f.do("GET", "/api/v1/inventories/by-type", f.admin, nil)
	var got api.Inventory
	r.json(t, &got)
	if got.Limit == nil || *got.Limit != "type_*:!nothing" || got.SourceVars == nil || (*got.SourceVars)["compose"] == nil {
		t.Fatalf("GET by-type = %+v", got)
	}

	// Every read path serves it: REST hosts and groups, --host, the AWX
	// script, Prometheus SD (with a mapping on the derived inventory).
	var script struct {
		Meta struct {
			Hostvars map[string]json.RawMessage `json:"hostvars"`
		} `json:"_meta"`
	}
	r = f.do("GET", "/api/v2/inventories/by-type/script/?hostvars=1", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &script)
	if len(script.Meta.Hostvars) != len(vars) {
		t.Fatalf("AWX script: %d hosts, want %d", len(script.Meta.Hostvars), len(vars))
	}
	var one string
	for name := range vars {
		one = name
		break
	}
	r = f.do("GET", "/api/v1/inventories/by-type/ansible?host="+one, f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	var hostVars map[string]any
	r.json(t, &hostVars)
	if hostVars["where"] != vars[one]["where"] {
		t.Fatalf("--host %s: where = %v", one, hostVars["where"])
	}
	wantStatus(t, f.do("GET", "/api/v1/inventories/by-type/groups", f.admin, nil), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/inventories/by-type", f.admin, map[string]any{"prometheus_sd": map[string]any{"address_var": "private_ip_address", "port": 9100}}), http.StatusOK)
	r = f.do("GET", "/api/v1/inventories/by-type/prometheus-sd", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	var targets []api.TargetGroup
	r.json(t, &targets)
	n := 0
	for _, tg := range targets {
		n += len(tg.Targets)
	}
	if n != len(vars) {
		t.Fatalf("Prometheus SD: %d targets, want %d", n, len(vars))
	}

	// east and west share no name: no conflict; an input listed twice
	// over the same hosts would.
	r = f.do("GET", "/api/v1/inventories/by-type/name-conflicts", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	var conflicts api.NameConflictList
	r.json(t, &conflicts)
	if conflicts.Total != 0 || conflicts.NamePolicy != api.Merge {
		t.Fatalf("name conflicts of by-type: %+v", conflicts)
	}
	f.inventory("east2")
	f.syncAndWait(f.source("east2", "ec2", f.awsConfig(map[string]any{"regions": []string{"us-east-1"}})).Id)
	wantStatus(t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "both-east", "kind": "smart", "inputs": []string{"east", "east2"},
		"host_filter": "enabled=true"}), http.StatusCreated)
	r = f.do("GET", "/api/v1/inventories/both-east/name-conflicts?limit=2", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &conflicts)
	enabledEast := 0
	for range eastVars {
		enabledEast++
	}
	if conflicts.Total != enabledEast || len(conflicts.Items) != 2 || !slices.Equal(conflicts.Items[0].Sources, []string{"east", "east2"}) {
		t.Fatalf("name conflicts of both-east: total %d (want %d), %+v", conflicts.Total, enabledEast, conflicts.Items)
	}
	run = f.waitDerived("both-east", "smart", 1)
	if run.Warnings == nil || !strings.Contains(strings.Join(run.Warnings, " "), "merged (name_policy merge)") {
		t.Fatalf("the run does not report the names its inputs share: %v", run.Warnings)
	}
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/both-east", f.admin, nil), http.StatusNoContent)

	// Changing the definition re-materialises.
	r = f.do("PATCH", "/api/v1/inventories/running-east", f.admin, map[string]any{"host_filter": "variables__placement__region=eu-west-1"})
	wantStatus(t, r, http.StatusOK)
	f.waitDerived("running-east", "smart", 2)
	vars, _, _ = f.ansibleDoc("running-east", f.admin)
	if !maps.EqualFunc(vars, westVars, func(a, b map[string]any) bool { return a["instance_id"] == b["instance_id"] }) {
		t.Fatalf("after the new filter: %d hosts, want west's %d", len(vars), len(westVars))
	}

	// Grants: a caller sees in a derived inventory the hosts made of the
	// inputs it may read, on every read path; what it cannot show in
	// part (a run's change log) it refuses.
	partial := f.scopedToken(&roster.Token{Name: "partial", Role: roster.RoleOperator, Inventories: []string{"by-type", "east"}})
	full := f.scopedToken(&roster.Token{Name: "full", Role: roster.RoleOperator, Inventories: []string{"by-type", "east", "west"}})
	sameNames := func(what string, got []string, want map[string]map[string]any) {
		t.Helper()
		slices.Sort(got)
		if !slices.Equal(got, slices.Sorted(maps.Keys(want))) {
			t.Fatalf("%s: %d hosts %v, want east's %d", what, len(got), got[:min(len(got), 5)], len(want))
		}
	}
	pvars, pgroups, status := f.ansibleDoc("by-type", partial)
	if status != http.StatusOK {
		t.Fatalf("a caller that may read east but not west reads by-type: %d", status)
	}
	sameNames("the Ansible document", slices.Collect(maps.Keys(pvars)), eastVars)
	for g, hosts := range pgroups {
		for _, h := range hosts {
			if eastVars[h] == nil {
				t.Fatalf("group %s shows west's %s to a caller that may not read west", g, h)
			}
		}
	}
	if fvars, _, _ := f.ansibleDoc("by-type", full); len(fvars) != len(eastVars)+len(westVars) {
		t.Fatalf("a caller that reads every input sees %d hosts, want %d", len(fvars), len(eastVars)+len(westVars))
	}
	if a, b := f.do("GET", "/api/v1/inventories/by-type/ansible", partial, nil), f.do("GET", "/api/v1/inventories/by-type/ansible", full, nil); a.header.Get("ETag") == b.header.Get("ETag") {
		t.Fatalf("two views of by-type share the ETag %s", a.header.Get("ETag"))
	}
	var hosts api.HostList
	f.do("GET", "/api/v1/inventories/by-type/hosts?limit=1000", partial, nil).json(t, &hosts)
	var names []string
	for _, h := range hosts.Items {
		names = append(names, h.Name)
	}
	sameNames("GET .../hosts", names, eastVars)
	f.do("GET", "/api/v1/inventories/by-type/hosts?limit=1000", f.admin, nil).json(t, &hosts)
	for _, h := range hosts.Items {
		want := http.StatusOK
		if eastVars[h.Name] == nil {
			want = http.StatusNotFound
		}
		if r := f.do("GET", fmt.Sprintf("/api/v1/inventories/by-type/hosts/%d", h.Id), partial, nil); r.status != want {
			t.Fatalf("GET host %s as partial: %d, want %d", h.Name, r.status, want)
		}
		if r := f.do("GET", "/api/v1/inventories/by-type/ansible?host="+url.QueryEscape(h.Name), partial, nil); r.status != want {
			t.Fatalf("--host %s as partial: %d, want %d", h.Name, r.status, want)
		}
	}
	var groupList api.GroupList
	f.do("GET", "/api/v1/inventories/by-type/groups", partial, nil).json(t, &groupList)
	for _, g := range groupList.Items {
		if g.Hosts != len(pgroups[g.Name]) {
			t.Fatalf("group %s counts %d hosts for partial, its document lists %d", g.Name, g.Hosts, len(pgroups[g.Name]))
		}
	}
	var partialScript struct {
		Meta struct {
			Hostvars map[string]json.RawMessage `json:"hostvars"`
		} `json:"_meta"`
	}
	f.do("GET", "/api/v2/inventories/by-type/script/?hostvars=1", partial, nil).json(t, &partialScript)
	sameNames("the AWX script", slices.Collect(maps.Keys(partialScript.Meta.Hostvars)), eastVars)
	byType := f.waitDerived("by-type", "constructed", 1)
	if r := f.do("GET", "/api/v1/syncs/"+byType.Id+"/changes", partial, nil); r.status != http.StatusForbidden {
		t.Fatalf("a partial caller reads by-type's change log: %d", r.status)
	}
	wantStatus(t, f.do("GET", "/api/v1/syncs/"+byType.Id+"/changes", full, nil), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/inventories/by-type/name-conflicts", partial, nil), http.StatusOK)
	r = f.do("GET", "/api/v1/inventories", partial, nil)
	var list api.InventoryList
	r.json(t, &list)
	if !slices.ContainsFunc(list.Items, func(inv api.Inventory) bool { return inv.Name == "by-type" }) {
		t.Fatal("the inventory list hides by-type from a caller it was made for")
	}
	// The Web UI's pages, for a person bound to by-type and east.
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "pat", "password": alicePassword}), http.StatusCreated)
	f.bind(map[string]any{"user": "pat", "role": "operator", "scope": "inventory", "target": "by-type"})
	f.bind(map[string]any{"user": "pat", "role": "operator", "scope": "inventory", "target": "east"})
	cookie := f.uiSignIn("pat", alicePassword)
	pages := []string{ui.InventoryPath("by-type"), ui.InventoryPath("by-type") + "/groups"}
	for _, page := range pages {
		r := f.uiGet(page, cookie)
		wantStatus(t, r, http.StatusOK)
		if page == pages[0] && !slices.ContainsFunc(slices.Collect(maps.Keys(eastVars)), func(name string) bool { return strings.Contains(string(r.body), ">"+name+"<") }) {
			t.Fatalf("%s shows none of east's hosts to a person who may read east", page)
		}
		for name := range westVars {
			if strings.Contains(string(r.body), ">"+name+"<") {
				i := strings.Index(string(r.body), ">"+name+"<")
				t.Fatalf("%s shows west's %s to a person who may not read west: %s", page, name, string(r.body)[max(0, i-300):i+100])
			}
		}
	}
	for _, h := range hosts.Items {
		r := f.uiGet(fmt.Sprintf("%s/hosts/%d", ui.InventoryPath("by-type"), h.Id), cookie)
		if eastVars[h.Name] == nil {
			wantStatus(t, r, http.StatusNotFound)
			continue
		}
		wantStatus(t, r, http.StatusOK)
		wantBody(t, "an east host's page", r.body, "needs read access to every inventory it is made of")
	}

	// An input cannot be deleted while a derived inventory reads it; no
	// source is made by hand in, or for, a derived inventory.
	r = f.do("DELETE", "/api/v1/inventories/east", f.admin, nil)
	wantStatus(t, r, http.StatusConflict)
	r = f.do("POST", "/api/v1/inventories/by-type/sources", f.admin, map[string]any{"name": "x", "provider": "aws", "config": f.awsConfig(nil)})
	wantField(t, r, "inventory")
	r = f.do("POST", "/api/v1/inventories/east/sources", f.admin, map[string]any{"name": "x", "provider": "smart", "config": map[string]any{"host_filter": "name=x"}})
	wantField(t, r, "provider")
	r = f.do("DELETE", "/api/v1/sources/"+url.PathEscape("by-type/constructed"), f.admin, nil)
	wantStatus(t, r, http.StatusConflict)
	// Deleting the derived inventory frees its inputs.
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/by-type", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/running-east", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/east", f.admin, nil), http.StatusNoContent)
}

func TestDerivedInventoryInputErrors(t *testing.T) {
	f := newFixture(t)
	f.inventory("a")
	r := f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "s", "kind": "smart", "inputs": []string{"a"}, "host_filter": "groups__name=web"})
	wantStatus(t, r, http.StatusCreated)
	hidden := f.scopedToken(&roster.Token{Name: "limited", Role: roster.RoleAdmin, Inventories: []string{"s"}})
	for _, tc := range []struct {
		name  string
		body  map[string]any
		token string
		field string
	}{
		{"no inputs", map[string]any{"name": "x", "kind": "smart", "host_filter": "name=a"}, "", "inputs"},
		{"unknown input", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"a", "nope"}, "host_filter": "name=a"}, "", "inputs[1]"},
		{"hidden input", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"a"}, "host_filter": "name=a"}, hidden, "inputs[0]"},
		{"derived input", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"s"}, "host_filter": "name=a"}, "", "inputs[0]"},
		{"repeated input", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"a", "a"}, "host_filter": "name=a"}, "", "inputs[1]"},
		{"too many inputs", map[string]any{"name": "x", "kind": "smart", "inputs": slices.Repeat([]string{"a"}, 33), "host_filter": "name=a"}, "", "inputs"},
		{"bad filter", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"a"}, "host_filter": "name__containz=a"}, "", "host_filter"},
		{"long filter", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"a"}, "host_filter": strings.Repeat("x", 4097)}, "", "host_filter"},
		{"no filter", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"a"}}, "", "host_filter"},
		{"filter on plain", map[string]any{"name": "x", "host_filter": "name=a"}, "", "host_filter"},
		{"limit on smart", map[string]any{"name": "x", "kind": "smart", "inputs": []string{"a"}, "host_filter": "name=a", "limit": "web"}, "", "limit"},
		{"bad compose", map[string]any{"name": "x", "kind": "constructed", "inputs": []string{"a"}, "source_vars": map[string]any{"compose": map[string]any{"y": "{{"}}}, "", "source_vars.compose.y"},
		{"wrong plugin", map[string]any{"name": "x", "kind": "constructed", "inputs": []string{"a"}, "source_vars": map[string]any{"plugin": "aws_ec2"}}, "", "source_vars.plugin"},
		{"vars plugins", map[string]any{"name": "x", "kind": "constructed", "inputs": []string{"a"}, "source_vars": map[string]any{"use_vars_plugins": true}}, "", "source_vars.use_vars_plugins"},
		{"regex limit", map[string]any{"name": "x", "kind": "constructed", "inputs": []string{"a"}, "limit": "~web"}, "", "limit"},
		{"unknown kind", map[string]any{"name": "x", "kind": "clever"}, "", "kind"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token
			if token == "" {
				token = f.admin
			}
			wantField(t, f.do("POST", "/api/v1/inventories", token, tc.body), tc.field)
			if r := f.do("GET", "/api/v1/inventories/x", f.admin, nil); r.status != http.StatusNotFound {
				t.Fatalf("a refused create left inventory x: %d", r.status)
			}
		})
	}
	// kind never changes; a definition never goes on a plain inventory.
	wantField(t, f.do("PATCH", "/api/v1/inventories/s", f.admin, map[string]any{"kind": "constructed"}), "kind")
	wantField(t, f.do("PATCH", "/api/v1/inventories/a", f.admin, map[string]any{"inputs": []string{"a"}}), "inputs")
	wantField(t, f.do("PATCH", "/api/v1/inventories/s", f.admin, map[string]any{"host_filter": "(("}), "host_filter")
	// A refused part refuses the whole update: the valid filter given
	// with repeated inputs is not kept either.
	wantField(t, f.do("PATCH", "/api/v1/inventories/s", f.admin, map[string]any{"host_filter": "name=new", "inputs": []string{"a", "a"}}), "inputs[1]")
	r = f.do("GET", "/api/v1/inventories/s", f.admin, nil)
	var s api.Inventory
	r.json(t, &s)
	if *s.HostFilter != "groups__name=web" {
		t.Fatalf("a refused update changed the filter to %q", *s.HostFilter)
	}
}
