package api_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
)

// TestAnsibleDocumentEdgeCases covers what a synced EC2 fleet never shows:
// hosts in no group, two sources naming a host alike, disabled hosts, group
// vars on "all", and names that need JSON escaping.
func TestAnsibleDocumentEdgeCases(t *testing.T) {
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	inv := &roster.Inventory{Name: "edge"}
	must(t, st.CreateInventory(ctx, inv))
	add := func(name string, hosts ...*roster.Host) {
		syncHosts(t, st, inv, name, hosts, roster.GroupEdge{Parent: "parents", Child: "web"})
	}
	h := func(ext, name string, enabled bool, vars string, groups ...string) *roster.Host {
		return &roster.Host{ExternalID: ext, Scope: "r", Name: name, Enabled: enabled, Groups: groups, Vars: json.RawMessage(vars), Hash: ext}
	}
	add("a",
		h("1", "lonely", true, `{"n":1}`),
		h("2", "shared", true, `{"from":"a"}`, "web"),
		h("3", "stopped", false, `{}`, "web"),
		h("4", `we"ird\name`, true, `{}`, "web"),
	)
	add("b", h("5", "shared", true, `{"from":"b"}`, "db"))
	must(t, st.SetGroupVars(ctx, inv.ID, "all", json.RawMessage(`{"ntp":"pool.ntp.org"}`)))

	var doc struct {
		Meta struct {
			Hostvars map[string]map[string]any `json:"hostvars"`
		} `json:"_meta"`
		All struct {
			Children []string
			Vars     map[string]any
		} `json:"all"`
		Ungrouped struct{ Hosts []string }    `json:"ungrouped"`
		Web       struct{ Hosts []string }    `json:"web"`
		DB        struct{ Hosts []string }    `json:"db"`
		Parents   struct{ Children []string } `json:"parents"`
	}
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_, err = api.WriteAnsibleInventory(ctx, w, st, inv.ID, false, api.HostNaming{Policy: roster.NamesMerge})
	must(t, err)
	must(t, w.Flush())
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, buf.String())
	}
	// Merged as Ansible merges two sources' hosts: the later one's value
	// wins (TestNamePolicies compares with the real ansible-inventory).
	if len(doc.Meta.Hostvars) != 3 || doc.Meta.Hostvars["shared"]["from"] != "b" {
		t.Fatalf("hostvars = %v, want lonely, shared (source b's vars over a's) and the escaped name", doc.Meta.Hostvars)
	}
	if _, ok := doc.Meta.Hostvars["stopped"]; ok {
		t.Fatal("a disabled host is listed")
	}
	if !slices.Equal(doc.Ungrouped.Hosts, []string{"lonely"}) {
		t.Fatalf("ungrouped = %v", doc.Ungrouped.Hosts)
	}
	if !slices.Equal(doc.DB.Hosts, []string{"shared"}) || !slices.Contains(doc.Web.Hosts, "shared") || !slices.Contains(doc.Web.Hosts, `we"ird\name`) {
		t.Fatalf("web = %v, db = %v", doc.Web.Hosts, doc.DB.Hosts)
	}
	if !slices.Equal(doc.Parents.Children, []string{"web"}) || slices.Contains(doc.All.Children, "web") || !slices.Contains(doc.All.Children, "parents") {
		t.Fatalf("nesting: parents %v, all %v", doc.Parents.Children, doc.All.Children)
	}
	if doc.All.Vars["ntp"] != "pool.ntp.org" || !slices.Contains(doc.All.Children, "ungrouped") {
		t.Fatalf("all = %+v", doc.All)
	}
}

// syncHosts makes a source of inv named name and records a sync of it
// that added hosts and the group edges.
func syncHosts(t *testing.T, st roster.Store, inv *roster.Inventory, name string, hosts []*roster.Host, edges ...roster.GroupEdge) {
	t.Helper()
	ctx := t.Context()
	src := &roster.Source{InventoryID: inv.ID, Name: name, Provider: "aws", OnMissing: roster.OnMissingRemove}
	must(t, st.CreateSource(ctx, src))
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI}
	if _, err := st.CreateSyncRun(ctx, run); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	must(t, st.FinishSyncRun(ctx, run, &roster.HostChanges{Add: hosts, Scopes: []string{"r"}, Edges: edges, ReplaceEdges: true}))
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// TestEmptyGroupIsNotAHostToAnsible: a group left with nothing to list
// (its only hosts disabled, under a parent) must still read as a group to
// the real ansible-inventory: Ansible's script plugin takes a group written
// as {} for a host of that name, which a playbook would then dial.
func TestEmptyGroupIsNotAHostToAnsible(t *testing.T) {
	ansible := testenv.AnsibleInventory(t)
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "roster.db"))
	must(t, err)
	defer st.Close()
	inv := &roster.Inventory{Name: "quiet"}
	must(t, st.CreateInventory(ctx, inv))
	syncHosts(t, st, inv, "a", []*roster.Host{
		{ExternalID: "1", Scope: "r", Name: "web-1", Enabled: true, Groups: []string{"web"}, Vars: json.RawMessage(`{}`), Hash: "1"},
		{ExternalID: "2", Scope: "r", Name: "batch-1", Enabled: false, Groups: []string{"batch"}, Vars: json.RawMessage(`{}`), Hash: "2"},
	}, roster.GroupEdge{Parent: "jobs", Child: "batch"})
	var buf bytes.Buffer
	w := bufio.NewWriter(&buf)
	_, err = api.WriteAnsibleInventory(ctx, w, st, inv.ID, false, api.HostNaming{Policy: roster.NamesMerge})
	must(t, err)
	must(t, w.Flush())

	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "doc.json"), buf.Bytes(), 0o600))
	script := filepath.Join(dir, "inventory.sh")
	must(t, os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --list ] && exec cat "+filepath.Join(dir, "doc.json")+"\necho '{}'\n"), 0o700))
	cmd := exec.Command(ansible, "-i", script, "--list")
	cmd.Env = append(os.Environ(), "ANSIBLE_INVENTORY_UNPARSED_FAILED=true", "ANSIBLE_LOCAL_TEMP="+dir, "HOME="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v\n%s", err, out)
	}
	var seen map[string]json.RawMessage
	must(t, json.Unmarshal(out, &seen))
	var meta struct {
		Hostvars map[string]json.RawMessage `json:"hostvars"`
	}
	json.Unmarshal(seen["_meta"], &meta)
	for group, raw := range seen {
		var g struct{ Hosts []string }
		json.Unmarshal(raw, &g)
		for _, h := range g.Hosts {
			if h != "web-1" {
				t.Errorf("ansible-inventory lists a host %q in group %s (document %s)", h, group, buf.String())
			}
		}
	}
	if _, ok := seen["batch"]; !ok && !bytes.Contains(out, []byte(`"batch"`)) {
		t.Errorf("the empty group batch is gone: %s", out)
	}
}
