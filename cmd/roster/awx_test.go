package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// controllerPlugin is the awx.awx.controller inventory plugin of Debian's
// ansible package (awx.awx 21.14).
const controllerPlugin = "/usr/lib/python3/dist-packages/ansible_collections/awx/awx/plugins/inventory/controller.py"

// TestAWXControllerPlugin points the real awx.awx.controller inventory
// plugin (through ansible-inventory) at a real `roster serve` holding a
// synced EC2 fleet, as AWX's "Red Hat Ansible Automation Platform"
// inventory source would, and compares what Ansible gets with what
// `roster inventory --list` prints: the same hosts (disabled ones too:
// the plugin asks all=1), groups, nesting, host vars and group vars; AWX's
// remote_tower_enabled and remote_tower_id besides, which say which hosts
// `roster inventory --list` leaves out by default.
//
// The plugin authenticates with the token as an OAuth token (the YAML
// file's oauth_token), and with a username and the token as the password
// (CONTROLLER_USERNAME and CONTROLLER_PASSWORD, as AWX injects its
// credential), which the collection first trades at POST /api/v2/tokens/.
func TestAWXControllerPlugin(t *testing.T) {
	ansibleInventory := testenv.AnsibleInventory(t)
	_, err := os.Stat(controllerPlugin)
	testenv.Need(t, "the awx.awx collection (Debian package ansible)", err)

	sim := awssim.New(awssim.Options{Seed: 16, Size: 150, Regions: []string{"us-east-1", "eu-west-1"}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	db := filepath.Join(t.TempDir(), "roster.db")
	node := startNode(t, bin, "roster", db, []string{"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey})
	admin := client.New(node.url, adminToken(t, bin, "--database", db))

	var inv struct{ ID string }
	if code := call(t, admin, "POST", "/inventories", map[string]any{"name": "fleet"}, &inv); code != 201 {
		t.Fatalf("create inventory: %d", code)
	}
	var src struct{ ID string }
	if code := call(t, admin, "POST", "/inventories/fleet/sources", map[string]any{"name": "ec2", "provider": "aws", "config": map[string]any{
		"regions": []string{"us-east-1", "eu-west-1"}, "endpoint_url": simSrv.URL,
		"hostnames": []any{"private-dns-name"},
		"compose":   map[string]any{"ansible_host": "private_ip_address", "az": "placement.availability_zone"},
		"groups":    map[string]any{"webservers": "tags.Role | default('') == 'web'"},
		"keyed_groups": []any{
			map[string]any{"prefix": "tag", "key": "tags"},
			map[string]any{"key": "placement.region", "prefix": "aws_region", "parent_group": "regions"},
			map[string]any{"key": "instance_type", "prefix": "type"},
		},
	}}, &src); code != 201 {
		t.Fatalf("create source: %d", code)
	}
	syncAndWait(t, admin, src.ID)
	// A second cloud whose hosts are in no group: AWX lists them as
	// all's hosts, Ansible as "ungrouped".
	gce := simulateCloud(t, bin, "gcp", 30)
	gce.credential["name"] = "gcp"
	if code := call(t, admin, "POST", "/credentials", gce.credential, nil); code != 201 {
		t.Fatalf("create credential: %d", code)
	}
	delete(gce.config, "keyed_groups")
	if code := call(t, admin, "POST", "/inventories/fleet/sources", map[string]any{"name": "gce", "provider": "gcp", "credential": "gcp", "config": gce.config}, &src); code != 201 {
		t.Fatalf("create source: %d", code)
	}
	syncAndWait(t, admin, src.ID)
	for group, vars := range map[string]any{
		"all":        map[string]any{"ansible_user": "deploy", "ntp": []any{"0.pool.ntp.org", "1.pool.ntp.org"}},
		"webservers": map[string]any{"http_port": 8080},
	} {
		if code := call(t, admin, "PUT", "/inventories/fleet/groups/"+group+"/vars", vars, nil); code != 200 {
			t.Fatalf("set %s vars: %d", group, code)
		}
	}
	// What AWX would hold: a runner token limited to the inventory.
	var tok struct{ Value string }
	if code := call(t, admin, "POST", "/tokens", map[string]any{"name": "awx", "role": "runner", "inventories": []string{"fleet"}}, &tok); code != 201 {
		t.Fatalf("create token: %d", code)
	}

	dir := t.TempDir()
	// What `roster inventory --list` prints, with and without disabled hosts.
	rosterList := func(includeDisabled bool) []byte {
		t.Helper()
		cmd := exec.Command(bin, "inventory", "--list")
		cmd.Env = append(os.Environ(), "ROSTER_URL="+node.url, "ROSTER_TOKEN="+tok.Value, "ROSTER_INVENTORY=fleet",
			"ROSTER_CACHE=off", fmt.Sprintf("ROSTER_INCLUDE_DISABLED=%t", includeDisabled))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("roster inventory --list: %v\n%s", err, stderr.String())
		}
		return out
	}
	every, enabled := readAWXList(t, rosterList(true)), readAWXList(t, rosterList(false))
	if len(every.hostvars) == len(enabled.hostvars) || len(enabled.hostvars) == 0 {
		t.Fatalf("%d hosts, %d enabled: the fleet needs disabled hosts for all=1 to show", len(every.hostvars), len(enabled.hostvars))
	}
	for _, g := range []string{"webservers", "regions", "aws_region_us_east_1", "ungrouped"} {
		if len(every.hosts[g]) == 0 && len(every.children[g]) == 0 {
			t.Fatalf("group %s is empty: the comparison proves little", g)
		}
	}

	for _, tc := range []struct {
		name   string
		config string
		env    []string
	}{
		{"oauth token, inventory by name", fmt.Sprintf("plugin: awx.awx.controller\nhost: %s\noauth_token: %s\ninventory_id: fleet\ninclude_metadata: true\n", node.url, tok.Value), nil},
		// As AWX runs its inventory source: the credential in the
		// environment, the inventory in the source's vars.
		{"username and password, inventory by id", fmt.Sprintf("plugin: awx.awx.controller\ninventory_id: %s\n", inv.ID),
			[]string{"CONTROLLER_HOST=" + node.url, "CONTROLLER_USERNAME=awx", "CONTROLLER_PASSWORD=" + tok.Value, "CONTROLLER_VERIFY_SSL=false"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := filepath.Join(t.TempDir(), "roster.controller.yml")
			must(t, os.WriteFile(file, []byte(tc.config), 0o600))
			cmd := exec.Command(ansibleInventory, "-i", file, "--list", "--export")
			cmd.Env = append(os.Environ(), "ANSIBLE_INVENTORY_ENABLED=awx.awx.controller", "ANSIBLE_INVENTORY_UNPARSED_FAILED=true",
				"ANSIBLE_LOCAL_TEMP="+t.TempDir(), "HOME="+dir)
			cmd.Env = append(cmd.Env, tc.env...)
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("ansible-inventory with awx.awx.controller: %v\n%s", err, stderr.String())
			}
			// The collection warns when the server is not AWX or says no
			// version (a development build says none): nothing else.
			said := strings.Join(strings.Fields(stderr.String()), " ")
			for _, known := range []string{
				"[WARNING]: You are using the 21.14.0 version of this collection but connecting to a controller that did not return a version",
				"[WARNING]: You are using the awx version of this collection but connecting to Roster",
			} {
				said = strings.TrimSpace(strings.ReplaceAll(said, known, ""))
			}
			if said != "" {
				t.Errorf("ansible-inventory said:\n%s", stderr.String())
			}
			seen := readAWXList(t, out)
			if tc.config != "" && strings.Contains(tc.config, "include_metadata") {
				meta, ok := seen.groupVars["all"]["controller_metadata"].(map[string]any)
				if !ok || meta["version"] == "unknown" || meta["license_type"] != "open" {
					t.Errorf("controller_metadata = %v", seen.groupVars["all"]["controller_metadata"])
				}
				delete(seen.groupVars["all"], "controller_metadata")
				delete(seen.groupVars["all"], "tower_metadata")
			}

			// AWX's vars: enabled as `roster inventory --list` says, and
			// an id per host.
			ids := map[float64]string{}
			for name, vars := range seen.hostvars {
				want := "false"
				if _, ok := enabled.hostvars[name]; ok {
					want = "true"
				}
				if vars["remote_tower_enabled"] != want {
					t.Errorf("%s: remote_tower_enabled %v, want %q", name, vars["remote_tower_enabled"], want)
				}
				id, ok := vars["remote_tower_id"].(float64)
				if !ok || id <= 0 || ids[id] != "" {
					t.Errorf("%s: remote_tower_id %v (also %q's)", name, vars["remote_tower_id"], ids[id])
				}
				ids[id] = name
				delete(vars, "remote_tower_enabled")
				delete(vars, "remote_tower_id")
			}
			compareAWXLists(t, every, seen)
		})
	}

	// The username and password went through the collection's token
	// exchange; no token reached the log.
	log, err := os.ReadFile(node.log)
	must(t, err)
	for _, want := range []string{
		`method=POST path=/api/v2/tokens/ status=201`,
		`method=GET path=/api/v2/inventories/fleet/script/ status=200`,
		`method=GET path=/api/v2/inventories/` + inv.ID + `/script/ status=200`,
	} {
		if !strings.Contains(string(log), want) {
			t.Errorf("the server's log has no %q", want)
		}
	}
	if strings.Contains(string(log), tok.Value) {
		t.Error("the token is in the server's log")
	}
}

// awxList is an Ansible --list document as compared here: ansibleList's
// hosts, children and host vars, and the group vars.
type awxList struct {
	ansibleList
	groupVars map[string]map[string]any
}

func readAWXList(t *testing.T, b []byte) awxList {
	t.Helper()
	l := awxList{ansibleList: parseAnsibleList(t, b), groupVars: map[string]map[string]any{}}
	var raw map[string]struct {
		Vars map[string]any `json:"vars"`
	}
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatal(err)
	}
	for name, g := range raw {
		if len(g.Vars) > 0 {
			l.groupVars[name] = g.Vars
		}
	}
	return l
}

// compareAWXLists reports the differences between what `roster inventory
// --list` prints (want) and what Ansible gets from the plugin (got).
func compareAWXLists(t *testing.T, want, got awxList) {
	t.Helper()
	if w, g := slices.Sorted(maps.Keys(want.hostvars)), slices.Sorted(maps.Keys(got.hostvars)); !slices.Equal(w, g) {
		t.Fatalf("hosts: roster inventory lists %d, the plugin %d\nroster: %v\nplugin: %v", len(w), len(g), w, g)
	}
	bad := 0
	for name, vars := range want.hostvars {
		if !reflect.DeepEqual(vars, got.hostvars[name]) && bad < 3 {
			bad++
			t.Errorf("host %s: roster inventory's vars\n%v\nthe plugin's\n%v", name, vars, got.hostvars[name])
		}
	}
	for _, kind := range []struct {
		what      string
		want, got map[string][]string
	}{{"hosts", want.hosts, got.hosts}, {"children", want.children, got.children}} {
		if !reflect.DeepEqual(kind.want, kind.got) {
			for g := range mapsUnion(kind.want, kind.got) {
				if !slices.Equal(kind.want[g], kind.got[g]) {
					t.Errorf("group %s %s: roster inventory %v, the plugin %v", g, kind.what, kind.want[g], kind.got[g])
				}
			}
		}
	}
	if !reflect.DeepEqual(want.groupVars, got.groupVars) {
		t.Errorf("group vars: roster inventory %v, the plugin %v", want.groupVars, got.groupVars)
	}
}

func mapsUnion[V any](a, b map[string]V) map[string]bool {
	out := map[string]bool{}
	for k := range a {
		out[k] = true
	}
	for k := range b {
		out[k] = true
	}
	return out
}
