package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	yaml "go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// serveDerived runs Roster in this process on a fresh database of the
// engine ("sqlite" or "postgres"), as serveGitops does, and also returns
// its Main (for its store).
func serveDerived(t *testing.T, engine string) (*Main, *gitopsServer) {
	t.Helper()
	c := defaultConfig()
	c.Listen = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.Database = filepath.Join(c.DataDir, "roster.db")
	if engine == "postgres" {
		c.Database = testenv.SharedPostgres(t).CreateDatabase(t)
	}
	c.ScheduleEvery = Duration(time.Second) // River refuses less
	var logw io.Writer = io.Discard
	if os.Getenv("DEBUG_DERIVED") != "" {
		logw = os.Stderr
	}
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	value, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(t.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash); err != nil {
		t.Fatal(err)
	}
	return m, &gitopsServer{url: m.URL, token: value, api: client.New(m.URL, value)}
}

// loadYAMLInventory makes a plain inventory of an Ansible YAML inventory
// file: its hosts (with their vars and groups), group vars and nesting,
// written as a sync writes them.
func loadYAMLInventory(t *testing.T, st roster.Store, name, path string) {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	hosts := map[string]map[string]any{}
	groups := map[string][]string{}
	groupVars := map[string]map[string]any{}
	var edges []roster.GroupEdge
	var walk func(group string, g map[string]any)
	walk = func(group string, g map[string]any) {
		if v, ok := g["vars"].(map[string]any); ok {
			groupVars[group] = v
		}
		if hs, ok := g["hosts"].(map[string]any); ok {
			for h, v := range hs {
				if hosts[h] == nil {
					hosts[h] = map[string]any{}
				}
				if vars, ok := v.(map[string]any); ok {
					maps.Copy(hosts[h], vars)
				}
				if group != "all" {
					groups[h] = append(groups[h], group)
				}
			}
		}
		if cs, ok := g["children"].(map[string]any); ok {
			for c, v := range cs {
				if group != "all" {
					edges = append(edges, roster.GroupEdge{Parent: group, Child: c})
				}
				child, _ := v.(map[string]any)
				walk(c, child)
			}
		}
	}
	all, _ := doc["all"].(map[string]any)
	walk("all", all)

	ctx := t.Context()
	inv := &roster.Inventory{Name: name}
	must(t, st.CreateInventory(ctx, inv))
	src := &roster.Source{InventoryID: inv.ID, Name: "file", Provider: "aws", Config: map[string]any{"regions": []any{"us-east-1"}}, OnMissing: roster.OnMissingRemove}
	must(t, st.CreateSource(ctx, src))
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
	_, err = st.CreateSyncRun(ctx, run)
	must(t, err)
	c := &roster.HostChanges{Scopes: []string{"file"}, Edges: edges, ReplaceEdges: true}
	for h, vars := range hosts {
		b, err := json.Marshal(vars)
		must(t, err)
		g := slices.Sorted(slices.Values(groups[h]))
		c.Add = append(c.Add, &roster.Host{ExternalID: h, Scope: "file", Name: h, Enabled: true, Groups: slices.Compact(g), Vars: b, Hash: h})
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	must(t, st.FinishSyncRun(ctx, run, c))
	for g, vars := range groupVars {
		b, err := json.Marshal(vars)
		must(t, err)
		must(t, st.SetGroupVars(ctx, inv.ID, g, b))
	}
}

// inventoryView is what ansible-inventory --list shows: host vars, and
// each group's hosts and children (sorted; all and ungrouped left out).
type inventoryView struct {
	Vars     map[string]map[string]any
	Hosts    map[string][]string
	Children map[string][]string
}

// ansibleInventoryList runs the real ansible-inventory --list with args.
func ansibleInventoryList(t *testing.T, env []string, args ...string) inventoryView {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command(testenv.AnsibleInventory(t), append([]string{"--list"}, args...)...)
	cmd.Env = append(os.Environ(), append([]string{"ANSIBLE_LOCAL_TEMP=" + dir, "HOME=" + dir, "ANSIBLE_INVENTORY_UNPARSED_FAILED=true", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true"}, env...)...)
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if e, ok := err.(*exec.ExitError); ok {
			stderr = e.Stderr
		}
		t.Fatalf("ansible-inventory %v: %v\n%s%s", args, err, out, stderr)
	}
	var raw map[string]json.RawMessage
	must(t, json.Unmarshal(out, &raw))
	v := inventoryView{Hosts: map[string][]string{}, Children: map[string][]string{}}
	var meta struct {
		Hostvars map[string]map[string]any `json:"hostvars"`
	}
	must(t, json.Unmarshal(raw["_meta"], &meta))
	v.Vars = meta.Hostvars
	for name, g := range raw {
		if name == "_meta" || name == "all" || name == "ungrouped" {
			continue
		}
		var group struct{ Hosts, Children []string }
		must(t, json.Unmarshal(g, &group))
		if len(group.Hosts) > 0 {
			v.Hosts[name] = slices.Sorted(slices.Values(group.Hosts))
		}
		if len(group.Children) > 0 {
			v.Children[name] = slices.Sorted(slices.Values(group.Children))
		}
	}
	return v
}

// rosterView is ansible-inventory --list over a Roster inventory's Ansible
// document (what roster-inventory prints), served by a script.
func rosterView(t *testing.T, s *gitopsServer, inv string) inventoryView {
	t.Helper()
	var doc json.RawMessage
	must(t, s.api.Do(t.Context(), "GET", "/inventories/"+inv+"/ansible", nil, &doc))
	dir := t.TempDir()
	path := filepath.Join(dir, "doc.json")
	must(t, os.WriteFile(path, doc, 0o600))
	script := filepath.Join(dir, "inventory.sh")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --list ] && exec cat "+path+"\necho '{}'\n"), 0o700))
	return ansibleInventoryList(t, []string{"ANSIBLE_INVENTORY_ENABLED=script"}, "-i", script)
}

// waitRuns waits until the source of a derived inventory has n finished
// runs and none active; it returns the newest.
func waitRuns(t *testing.T, s *gitopsServer, ref string, n int) map[string]any {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		var list struct{ Items []map[string]any }
		must(t, s.api.Do(t.Context(), "GET", "/sources/"+strings.ReplaceAll(ref, "/", "%2F")+"/syncs", nil, &list))
		done, active := 0, false
		for _, r := range list.Items {
			switch r["status"] {
			case "queued", "running":
				active = true
			default:
				done++
			}
		}
		if done >= n && !active {
			return list.Items[0]
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: fewer than %d finished runs", ref, n)
	return nil
}

func diffViews(t *testing.T, what string, got, want inventoryView) {
	t.Helper()
	for _, part := range []struct {
		name      string
		got, want any
	}{{"hostvars", got.Vars, want.Vars}, {"group hosts", got.Hosts, want.Hosts}, {"group children", got.Children, want.Children}} {
		if !reflect.DeepEqual(part.got, part.want) {
			g, _ := json.MarshalIndent(part.got, "", " ")
			w, _ := json.MarshalIndent(part.want, "", " ")
			t.Errorf("%s: %s differ from ansible-inventory's\nroster:  %s\nansible: %s", what, part.name, g, w)
		}
	}
}

// TestDerivedParity compares a constructed and a smart inventory of Roster
// with what the real ansible-inventory makes of the same input files:
// ansible-inventory -i a.yml -i b.yml -i c.config (constructed, after the
// two inputs), and the two inputs limited to a pattern (smart).
func TestDerivedParity(t *testing.T) {
	testenv.AnsibleInventory(t)
	_, err := exec.LookPath("ansible")
	testenv.Need(t, "ansible (Debian package ansible-core)", err)
	m, s := serveDerived(t, "sqlite")
	dir, err := filepath.Abs("testdata/derived")
	must(t, err)
	loadYAMLInventory(t, m.Store, "a", filepath.Join(dir, "a.yml"))
	loadYAMLInventory(t, m.Store, "b", filepath.Join(dir, "b.yml"))
	isolateClientConfig(t)

	// Constructed: the plugin file as it is.
	s.mustRoster(t, "inventory", "create", "c", "--kind", "constructed", "--input", "a", "--input", "b", "--source-vars", filepath.Join(dir, "c.config"))
	if run := waitRuns(t, s, "c/constructed", 1); run["status"] != "succeeded" {
		t.Fatalf("constructed run: %v", run)
	}
	env := []string{"ANSIBLE_INVENTORY_ENABLED=yaml,constructed"}
	want := ansibleInventoryList(t, env, "-i", filepath.Join(dir, "a.yml"), "-i", filepath.Join(dir, "b.yml"), "-i", filepath.Join(dir, "c.config"))
	diffViews(t, "constructed", rosterView(t, s, "c"), want)

	// Constructed with a limit: the hosts `ansible --limit` lists.
	s.mustRoster(t, "inventory", "update", "c", "--limit", "oses:!d1")
	waitRuns(t, s, "c/constructed", 2)
	list := exec.Command("ansible", "all", "-i", filepath.Join(dir, "a.yml"), "-i", filepath.Join(dir, "b.yml"), "-i", filepath.Join(dir, "c.config"),
		"--limit", "oses:!d1", "--list-hosts")
	list.Env = append(os.Environ(), "ANSIBLE_INVENTORY_ENABLED=yaml,constructed", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED=true", "HOME="+t.TempDir())
	out, err := list.Output()
	if err != nil {
		t.Fatalf("ansible --list-hosts: %v", err)
	}
	var limited []string
	for _, line := range strings.Split(string(out), "\n")[1:] {
		if h := strings.TrimSpace(line); h != "" {
			limited = append(limited, h)
		}
	}
	got := rosterView(t, s, "c")
	if names := slices.Sorted(maps.Keys(got.Vars)); !slices.Equal(names, slices.Sorted(slices.Values(limited))) {
		t.Errorf("limit oses:!d1: roster has %v, ansible lists %v", names, limited)
	}

	// Smart: the hosts of the inputs in group web, as ansible-inventory
	// shows the two inputs, restricted to those hosts.
	s.mustRoster(t, "inventory", "create", "s", "--kind", "smart", "--input", "a", "--input", "b", "--host-filter", "groups__name=web")
	waitRuns(t, s, "s/smart", 1)
	full := ansibleInventoryList(t, []string{"ANSIBLE_INVENTORY_ENABLED=yaml"}, "-i", filepath.Join(dir, "a.yml"), "-i", filepath.Join(dir, "b.yml"))
	keep := map[string]bool{}
	for _, h := range full.Hosts["web"] {
		keep[h] = true
	}
	want = inventoryView{Vars: map[string]map[string]any{}, Hosts: map[string][]string{}, Children: map[string][]string{}}
	for h, v := range full.Vars {
		if keep[h] {
			want.Vars[h] = v
		}
	}
	used := map[string]bool{}
	for g, hosts := range full.Hosts {
		hosts = slices.DeleteFunc(slices.Clone(hosts), func(h string) bool { return !keep[h] })
		if len(hosts) > 0 {
			want.Hosts[g] = hosts
			used[g] = true
		}
	}
	for g, children := range full.Children {
		children = slices.DeleteFunc(slices.Clone(children), func(c string) bool { return !used[c] })
		if len(children) > 0 {
			want.Children[g] = children
		}
	}
	diffViews(t, "smart", rosterView(t, s, "s"), want)
}

// TestDerivedInventoriesCLIApplyAndPropagation makes a smart inventory
// with roster apply, sees it follow its input's syncs (trigger input),
// exports and re-applies it unchanged, and prunes it before its input.
func TestDerivedInventoriesCLIApplyAndPropagation(t *testing.T) {
	gitopsEngines(t, testDerivedInventoriesCLIApplyAndPropagation)
}

func testDerivedInventoriesCLIApplyAndPropagation(t *testing.T, engine string) {
	sim := awssim.New(awssim.Options{Seed: 19, Size: 40, Regions: []string{"us-east-1"}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", simAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", simSecretKey)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	role, _ := sim.Fleet().Instances()[0].Tag("Role")
	_, s := serveDerived(t, engine)
	isolateClientConfig(t)
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "roster.yml"), fmt.Sprintf(`kind: inventory
name: fleet
---
kind: source
inventory: fleet
name: ec2
config:
  plugin: amazon.aws.aws_ec2
  regions: [us-east-1]
  endpoint_url: %s
---
kind: inventory
name: web
inventory_kind: smart
inputs: [fleet]
host_filter: variables__tags__Role=%s
`, simSrv.URL, role))
	out := s.mustRoster(t, "apply", "-f", file)
	if !strings.Contains(out, "web") {
		t.Fatalf("apply said: %s", out)
	}
	if out := s.mustRoster(t, "apply", "-f", file); !strings.Contains(out, "no changes") {
		t.Fatalf("a second apply: %s", out)
	}
	// The smart inventory's first run (when apply made it) found no host.
	waitRuns(t, s, "web/smart", 1)
	s.mustRoster(t, "sync", "fleet/ec2", "--wait")
	count := func() int {
		var hosts []map[string]any
		must(t, json.Unmarshal([]byte(s.mustRoster(t, "host", "list", "web", "-o", "json")), &hosts))
		return len(hosts)
	}
	// eventually waits for what the input's change makes the smart
	// inventory's next run do.
	eventually := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if ok() {
				return
			}
		}
		t.Fatalf("%s: never happened", what)
	}
	want := 0
	var untagged string
	for _, in := range sim.Fleet().Instances() {
		if r, _ := in.Tag("Role"); r == role && in.State != "terminated" {
			want++
		} else if untagged == "" && in.State == "running" {
			untagged = in.ID
		}
	}
	if want == 0 {
		t.Fatal("the fixture has no host to select")
	}
	// The input's sync wrote hosts: the smart inventory follows.
	eventually(fmt.Sprintf("the smart inventory has the input's %d hosts of role %s", want, role), func() bool { return count() == want })
	if run := waitRuns(t, s, "web/smart", 2); run["status"] != "succeeded" || run["trigger"] != "input" {
		t.Fatalf("the run after the input's sync: %v", run)
	}
	// One more web host in the cloud: the input's next sync brings it in.
	must(t, sim.Fleet().SetTag(untagged, "Role", role))
	s.mustRoster(t, "sync", "fleet/ec2", "--wait")
	eventually("the smart inventory gains the input's new host", func() bool { return count() == want+1 })
	// Group vars set on the input: no sync ran, the scheduler's look
	// finds the smart inventory stale.
	var ignored json.RawMessage
	must(t, s.api.Do(t.Context(), "PUT", "/inventories/fleet/groups/all/vars", map[string]any{"site": "eu"}, &ignored))
	eventually("the input's group vars reach the smart inventory's hosts", func() bool {
		out := s.mustRoster(t, "host", "list", "web", "-o", "json")
		return strings.Contains(out, `"site":"eu"`) || strings.Contains(out, `"site": "eu"`)
	})

	// Export writes it as it was applied, without its managed source.
	exported := s.mustRoster(t, "export")
	if !strings.Contains(exported, "inventory_kind: smart") || strings.Contains(exported, "name: smart") {
		t.Fatalf("export:\n%s", exported)
	}
	// The CLI shows its kind and inputs; a bad filter is refused, naming it.
	if out := s.mustRoster(t, "inventory", "get", "web"); !strings.Contains(out, "smart") || !strings.Contains(out, "fleet") {
		t.Fatalf("inventory get: %s", out)
	}
	if out, err := s.roster(t, "", "inventory", "update", "web", "--host-filter", "name__containz=x"); err == nil || !strings.Contains(err.Error(), "host_filter: at 0: unknown lookup") {
		t.Fatalf("a bad filter: %v %s", err, out)
	}
	// Prune removes the smart inventory before its input.
	writeFile(t, file, "kind: inventory\nname: other\n")
	if out, err := s.roster(t, "", "apply", "--prune", "-f", file); err != nil {
		t.Fatalf("apply --prune: %v\n%s", err, out)
	}
	var list struct{ Items []map[string]any }
	must(t, s.api.Do(t.Context(), "GET", "/inventories", nil, &list))
	if len(list.Items) != 1 || list.Items[0]["name"] != "other" {
		t.Fatalf("after prune: %v", list.Items)
	}
}
