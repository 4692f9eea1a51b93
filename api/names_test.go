package api_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/testenv"
)

// ansibleView is what the real ansible-inventory --list makes of the
// dynamic inventory documents given: host vars by host, hosts by group.
type ansibleView struct {
	Vars   map[string]map[string]any
	Groups map[string][]string
}

// ansibleList runs the real ansible-inventory over docs, each served by a
// script of its own (as several inventory sources, in order).
func ansibleList(t *testing.T, ansible string, docs ...[]byte) ansibleView {
	t.Helper()
	dir := t.TempDir()
	args := []string{"--list"}
	for i, doc := range docs {
		path := filepath.Join(dir, fmt.Sprintf("doc%d.json", i))
		must(t, os.WriteFile(path, doc, 0o600))
		script := filepath.Join(dir, fmt.Sprintf("inventory%d.sh", i))
		must(t, os.WriteFile(script, []byte("#!/bin/sh\n[ \"$1\" = --list ] && exec cat "+path+"\necho '{}'\n"), 0o700))
		args = append(args, "-i", script)
	}
	cmd := exec.Command(ansible, args...)
	cmd.Env = append(os.Environ(), "ANSIBLE_INVENTORY_UNPARSED_FAILED=true", "ANSIBLE_LOCAL_TEMP="+dir, "HOME="+dir)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v\n%s", err, out)
	}
	var raw map[string]json.RawMessage
	must(t, json.Unmarshal(out, &raw))
	view := ansibleView{Groups: map[string][]string{}}
	var meta struct {
		Hostvars map[string]map[string]any `json:"hostvars"`
	}
	must(t, json.Unmarshal(raw["_meta"], &meta))
	view.Vars = meta.Hostvars
	for name, g := range raw {
		var group struct{ Hosts []string }
		if name == "_meta" || json.Unmarshal(g, &group) != nil || len(group.Hosts) == 0 {
			continue
		}
		view.Groups[name] = slices.Sorted(slices.Values(group.Hosts))
	}
	return view
}

// TestNamePolicies: hosts of two sources named alike, as the real
// ansible-inventory sees the inventory under each name policy, and as
// --host answers for them.
func TestNamePolicies(t *testing.T) {
	ansible := testenv.AnsibleInventory(t)
	f := newFixture(t)
	ctx := t.Context()
	ec2Hosts := func() []*roster.Host {
		return []*roster.Host{
			{ExternalID: "i-1", Scope: "r", Name: "db", Enabled: true, Groups: []string{"db", "ec2"}, Vars: json.RawMessage(`{"role":"ec2","a":1,"ansible_host":"10.0.0.1"}`), Hash: "1"},
			{ExternalID: "i-2", Scope: "r", Name: "web-1", Enabled: true, Groups: []string{"web"}, Vars: json.RawMessage(`{"x":1,"note":"the ansible_host is elsewhere"}`), Hash: "2"},
		}
	}
	gceHosts := func() []*roster.Host {
		return []*roster.Host{
			{ExternalID: "g-1", Scope: "r", Name: "db", Enabled: true, Groups: []string{"db", "gce"}, Vars: json.RawMessage(`{"role":"gce","b":2}`), Hash: "3"},
			{ExternalID: "g-2", Scope: "r", Name: "cache-1", Enabled: true, Vars: json.RawMessage(`{}`), Hash: "4"},
		}
	}
	// The inventory under test, and one per source: Ansible's own merge
	// of the two sources is the reference for the merge policy.
	inv := func(name string) *roster.Inventory {
		created := f.inventory(name)
		got, err := f.store.Inventory(ctx, created.Id)
		must(t, err)
		return got
	}
	mixed := inv("mixed")
	syncHosts(t, f.store, mixed, "ec2", ec2Hosts())
	syncHosts(t, f.store, mixed, "gce", gceHosts())
	syncHosts(t, f.store, inv("only-ec2"), "ec2", ec2Hosts())
	syncHosts(t, f.store, inv("only-gce"), "gce", gceHosts())

	doc := func(inventory string) []byte {
		r := f.do("GET", "/api/v1/inventories/"+inventory+"/ansible", f.admin, nil)
		wantStatus(t, r, 200)
		return r.body
	}
	host := func(inventory, name string, want int) map[string]any {
		r := f.do("GET", "/api/v1/inventories/"+inventory+"/ansible?host="+name, f.admin, nil)
		wantStatus(t, r, want)
		var vars map[string]any
		if want == 200 {
			r.json(t, &vars)
		}
		return vars
	}
	policy := func(p string) {
		r := f.do("PATCH", "/api/v1/inventories/mixed", f.admin, map[string]any{"name_policy": p})
		wantStatus(t, r, 200)
		var got api.Inventory
		r.json(t, &got)
		if string(got.NamePolicy) != p {
			t.Fatalf("name_policy after PATCH = %q, want %q", got.NamePolicy, p)
		}
	}

	// The collision is reported, whatever the policy.
	r := f.do("GET", "/api/v1/inventories/mixed/name-conflicts", f.admin, nil)
	wantStatus(t, r, 200)
	var conflicts api.NameConflictList
	r.json(t, &conflicts)
	if want := []api.NameConflict{{Name: "db", Sources: []string{"ec2", "gce"}}}; conflicts.Total != 1 || !reflect.DeepEqual(conflicts.Items, want) || conflicts.NamePolicy != "merge" {
		t.Fatalf("name conflicts = %+v, want total 1, %+v, policy merge", conflicts, want)
	}

	t.Run("merge is Ansible's own merge of the sources", func(t *testing.T) {
		got := ansibleList(t, ansible, doc("mixed"))
		want := ansibleList(t, ansible, doc("only-ec2"), doc("only-gce"))
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("ansible-inventory over Roster's merge:\n%v\nover the two sources:\n%v", got, want)
		}
		if got.Vars["db"]["role"] != "gce" || got.Vars["db"]["a"] != 1.0 || got.Vars["db"]["b"] != 2.0 {
			t.Fatalf("db's vars = %v: the reference itself is not a key-by-key merge", got.Vars["db"])
		}
		if vars := host("mixed", "db", 200); !maps.EqualFunc(vars, got.Vars["db"], func(a, b any) bool { return reflect.DeepEqual(a, b) }) {
			t.Fatalf("--host db = %v, --list gives %v", vars, got.Vars["db"])
		}
	})

	t.Run("prefix names every host by its source", func(t *testing.T) {
		policy("prefix")
		got := ansibleList(t, ansible, doc("mixed"))
		wantHosts := []string{"ec2_db", "ec2_web-1", "gce_cache-1", "gce_db"}
		if hosts := slices.Sorted(maps.Keys(got.Vars)); !slices.Equal(hosts, wantHosts) {
			t.Fatalf("hosts = %v, want %v", hosts, wantHosts)
		}
		for name, addr := range map[string]string{"ec2_db": "10.0.0.1", "ec2_web-1": "web-1", "gce_db": "db", "gce_cache-1": "cache-1"} {
			if got.Vars[name]["ansible_host"] != addr {
				t.Errorf("%s: ansible_host = %v, want %q (vars %v)", name, got.Vars[name]["ansible_host"], addr, got.Vars[name])
			}
			if vars := host("mixed", name, 200); vars["ansible_host"] != addr {
				t.Errorf("--host %s: ansible_host = %v, want %q", name, vars["ansible_host"], addr)
			}
		}
		if !slices.Equal(got.Groups["db"], []string{"ec2_db", "gce_db"}) || !slices.Equal(got.Groups["ungrouped"], []string{"gce_cache-1"}) {
			t.Fatalf("groups = %v", got.Groups)
		}
		host("mixed", "db", 404)
		host("mixed", "nova_db", 404)
	})

	for _, p := range []string{"first", "fail"} {
		t.Run(p+" keeps the host that had the name first", func(t *testing.T) {
			policy(p)
			got := ansibleList(t, ansible, doc("mixed"))
			want := map[string]any{"role": "ec2", "a": 1.0, "ansible_host": "10.0.0.1"}
			if !reflect.DeepEqual(got.Vars["db"], want) {
				t.Fatalf("db's vars = %v, want ec2's %v", got.Vars["db"], want)
			}
			if slices.Contains(got.Groups["gce"], "db") || !slices.Contains(got.Groups["ec2"], "db") {
				t.Fatalf("db is in gce's groups or not in ec2's: %v", got.Groups)
			}
			if vars := host("mixed", "db", 200); !reflect.DeepEqual(vars, want) {
				t.Fatalf("--host db = %v, want %v", vars, want)
			}
		})
	}

	t.Run("a bad policy is refused", func(t *testing.T) {
		r := f.do("PATCH", "/api/v1/inventories/mixed", f.admin, map[string]any{"name_policy": "last"})
		wantStatus(t, r, 400)
		wantField(t, r, "name_policy")
		r = f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "bad", "name_policy": "rename"})
		wantStatus(t, r, 400)
		wantField(t, r, "name_policy")
	})
}
