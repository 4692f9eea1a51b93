package openstack

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources/construct"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// goldenHost is what a sync makes of one server: its name and address,
// the plugin's legacy groups with the constructed ones, and the host vars
// with the composed ones.
type goldenHost struct {
	Scope      string             `json:"scope"`
	Host       string             `json:"host"`
	ExternalID string             `json:"external_id"`
	Address    string             `json:"address"`
	Enabled    bool               `json:"enabled"`
	Groups     []string           `json:"groups"`
	Edges      []roster.GroupEdge `json:"edges,omitempty"`
	Vars       map[string]any     `json:"vars"`
}

// goldenFleet is a small generated fleet plus servers covering the edge
// cases: a name used twice in one scope, booted from a volume with only
// IPv6, metadata groups with odd spacing, no address at all.
func goldenFleet(t *testing.T, maxMicroversion string) *simEnv {
	t.Helper()
	e := newSimEnv(t, openstacksim.Options{Seed: 21, Size: 10, Regions: []string{"RegionOne", "RegionTwo"}, Projects: []string{"demo"},
		MaxMicroversion: maxMicroversion})
	fleet := e.sim.Fleet()
	for _, spec := range []openstacksim.ServerSpec{
		{Name: "dup", Metadata: map[string]string{"env": "prod"}},
		{Name: "dup", Metadata: map[string]string{"env": "dev"}, Status: "SHUTOFF"},
		{Name: "volume-v6", Region: "RegionTwo", BootFromVolume: true, FlavorID: "c1", Tags: []string{"v6"},
			Addresses: []openstacksim.Address{{Network: "ipv6-net", Addr: "2001:db8::10", Version: 6, Type: "fixed"}}},
		{Name: "grouped", Metadata: map[string]string{"group": "web", "groups": " lb, ,monitored ,", "Cost Center": "R&D / 42"},
			Addresses: []openstacksim.Address{
				{Network: "tenant", Addr: "10.1.0.7", Version: 4, Type: "fixed"},
				{Network: "tenant", Addr: "203.0.113.7", Version: 4, Type: "floating"},
				{Network: "storage", Addr: "192.168.9.7", Version: 4, Type: "fixed"},
			}},
		{Name: "building", Status: "BUILD", Addresses: []openstacksim.Address{}},
	} {
		if _, err := fleet.Add(spec); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

var goldenCases = []struct {
	name            string
	maxMicroversion string
	options         map[string]any
}{
	{"plugin_defaults", "", map[string]any{
		"compose": map[string]any{
			// The image's name is null (Nova embeds none): default() needs
			// its second argument to replace it, as with the plugin.
			"ansible_user": "openstack.image.name | default('cloud-user', true)",
			"flavor_ram":   "openstack.flavor.ram",
		},
		"groups": map[string]any{"shutoff": "openstack.status == 'SHUTOFF'", "has_floating_ip": "ansible_host is defined and ansible_host.startswith('172.')"},
		"keyed_groups": []any{
			map[string]any{"key": "openstack.metadata.env | default('none')", "prefix": "env"},
			map[string]any{"key": "openstack.flavor.name", "prefix": "flavor", "parent_group": "flavors"},
			map[string]any{"key": "openstack.tags", "prefix": "tag"},
		},
	}},
	{"uuid_private_ipv4_show_all", "", map[string]any{
		"inventory_hostname": "uuid", "private": true, "only_ipv4": true, "show_all": true, "legacy_groups": false,
		"keyed_groups": []any{map[string]any{"key": "openstack.cloud.region", "prefix": "region"}, map[string]any{"key": "openstack.availability_zone", "prefix": "az"}},
	}},
	{"nova_2_25", "2.25", map[string]any{
		"keyed_groups": []any{map[string]any{"key": "openstack.flavor.name", "prefix": "flavor"}},
	}},
}

func TestGolden(t *testing.T) {
	for _, gc := range goldenCases {
		t.Run(gc.name, func(t *testing.T) {
			e := goldenFleet(t, gc.maxMicroversion)
			popts, copts := map[string]any{}, map[string]any{}
			for k, v := range gc.options {
				if slices.Contains(construct.Keys(), k) {
					copts[k] = v
				} else {
					popts[k] = v
				}
			}
			cons, err := construct.Parse(copts)
			if err != nil {
				t.Fatal(err)
			}
			all := collectAll(t, e.open(t, e.config(popts)))
			var hosts []goldenHost
			for _, scope := range slices.Sorted(maps.Keys(all)) {
				for _, in := range all[scope] {
					hosts = append(hosts, goldenOf(t, scope, in.ExternalID, in.Hostnames[0], in.Address, in.Enabled, in.Groups, in.Vars, cons))
				}
			}
			slices.SortFunc(hosts, func(a, b goldenHost) int {
				return strings.Compare(a.Scope+"\x00"+a.Host, b.Scope+"\x00"+b.Host)
			})
			var buf bytes.Buffer
			enc := json.NewEncoder(&buf)
			enc.SetEscapeHTML(false)
			enc.SetIndent("", "  ")
			if err := enc.Encode(hosts); err != nil {
				t.Fatal(err)
			}
			got := bytes.ReplaceAll(buf.Bytes(), []byte(strings.TrimPrefix(e.base, "http://")), []byte("openstack.test"))
			path := filepath.Join("testdata", gc.name+".golden")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
				return
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -update to create it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Fatalf("%s differs from what the source produced; run go test ./sources/openstack -run TestGolden -update and review the diff\n%s", path, firstDiff(string(want), string(got)))
			}
		})
	}
}

// goldenOf applies the constructed options the way the engine does:
// inventory_hostname and group_names are visible to expressions but are
// not host vars.
func goldenOf(t *testing.T, scope, id, host, address string, enabled bool, legacy []string, vars map[string]any, cons *construct.Constructor) goldenHost {
	t.Helper()
	names := make([]any, len(legacy))
	for i, g := range legacy {
		names[i] = g
	}
	vars["inventory_hostname"], vars["group_names"] = host, names
	res, err := cons.Apply(vars)
	delete(vars, "inventory_hostname")
	delete(vars, "group_names")
	if err != nil {
		t.Fatalf("%s: %v", id, err)
	}
	if len(res.Warnings) > 0 {
		t.Fatalf("%s: construct warnings %v", id, res.Warnings)
	}
	maps.Copy(vars, res.Vars)
	groups := slices.Concat(legacy, res.Groups)
	slices.Sort(groups)
	return goldenHost{Scope: scope, Host: host, ExternalID: id, Address: address, Enabled: enabled,
		Groups: slices.Compact(groups), Edges: res.Edges, Vars: vars}
}

func firstDiff(want, got string) string {
	w, g := strings.Split(want, "\n"), strings.Split(got, "\n")
	for i := range max(len(w), len(g)) {
		var a, b string
		if i < len(w) {
			a = w[i]
		}
		if i < len(g) {
			b = g[i]
		}
		if a != b {
			return "line " + strconv.Itoa(i+1) + ":\n  want " + a + "\n  got  " + b
		}
	}
	return ""
}
