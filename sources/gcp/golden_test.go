package gcp

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/construct"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// goldenCases are plugin files (testdata/options/NAME.json) applied to a
// small fleet; their hosts, groups and composed vars are in
// testdata/NAME.golden:
//
//   - gcp_compute_doc: the plugin documentation's example (keyed_groups
//     on labels with prefix gcp, ansible_host from the NAT IP, hostnames
//     by name with name_suffix);
//   - awx_gce: the compose and keyed_groups AWX and Automation Controller
//     document for GCE sources (without
//     use_contrib_script_compatible_sanitization, which Roster refuses);
//   - labels_zones_status: keyed groups by labels, zone, status and
//     project, a parent group, conditional groups and a server-side filter.
var goldenCases = []string{"gcp_compute_doc", "awx_gce", "labels_zones_status"}

type goldenHost struct {
	Host     string             `json:"host"`
	ID       string             `json:"id"`
	Project  string             `json:"project"`
	Enabled  bool               `json:"enabled"`
	Groups   []string           `json:"groups"`
	Edges    []roster.GroupEdge `json:"edges,omitempty"`
	Composed map[string]any     `json:"composed,omitempty"`
	Warnings []string           `json:"warnings,omitempty"`
}

func goldenFleet(t *testing.T) (*gcpsim.Server, string) {
	t.Helper()
	sim, url := newSim(t, gcpsim.Options{Seed: 21, Size: 14, Projects: []string{"roster-prod", "roster-dev"}, Zones: []string{"us-central1-a", "europe-west1-b"}})
	f := sim.Fleet()
	// Give the first instance the label the third case names hosts by.
	first := f.Instances()[0]
	if err := f.SetLabel(first.ID, "vm_name", "frontend-1"); err != nil {
		t.Fatal(err)
	}
	return sim, url
}

// collectConstructed opens the source through the registry (which splits
// the plugin file between the provider and the construct step, as for a
// real source), collects every project and constructs each host.
func collectConstructed(t *testing.T, sim *gcpsim.Server, url string, config map[string]any) ([]goldenHost, []sources.Instance) {
	t.Helper()
	config["projects"] = []any{"roster-prod", "roster-dev"}
	config["endpoint_url"] = url
	reg := sources.NewRegistry(testDriver(sim, url))
	if err := reg.Validate("gcp", config); err != nil {
		t.Fatalf("the plugin file is refused: %v", err)
	}
	p, c, err := reg.Open(t.Context(), &roster.Source{Provider: "gcp", Config: config}, nil, discard)
	if err != nil {
		t.Fatal(err)
	}
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var hosts []goldenHost
	var all []sources.Instance
	for _, scope := range scopes {
		insts, err := p.Collect(t.Context(), scope)
		if err != nil {
			t.Fatal(err)
		}
		for _, inst := range insts {
			name := inst.ExternalID
			if i := slices.IndexFunc(inst.Hostnames, func(s string) bool { return s != "" }); i >= 0 {
				name = inst.Hostnames[i]
			}
			res, err := c.Apply(inst.Vars)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			groups := append(slices.Clone(inst.Groups), res.Groups...)
			if groups == nil {
				groups = []string{}
			}
			hosts = append(hosts, goldenHost{Host: name, ID: inst.ExternalID, Project: scope, Enabled: inst.Enabled,
				Groups: groups, Edges: res.Edges, Composed: res.Vars, Warnings: res.Warnings})
			all = append(all, inst)
		}
	}
	return hosts, all
}

func TestGolden(t *testing.T) {
	sim, url := goldenFleet(t)
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(filepath.Join("testdata", "options", name+".json"))
			if err != nil {
				t.Fatal(err)
			}
			v, err := construct.DecodeJSON(raw)
			if err != nil {
				t.Fatal(err)
			}
			hosts, insts := collectConstructed(t, sim, url, v.(map[string]any))
			if len(hosts) == 0 {
				t.Fatal("no hosts")
			}
			checkGolden(t, name+".golden", hosts)
			if name == "awx_gce" {
				// The host vars themselves, once (with retrieve_image_info).
				vars := make([]map[string]any, len(insts))
				for i, inst := range insts {
					vars[i] = inst.Vars
				}
				checkGolden(t, "hostvars.golden", vars)
			}
		})
	}
}

func checkGolden(t *testing.T, file string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join("testdata", file)
	if *update {
		if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sources/gcp -run TestGolden -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from the result; run go test ./sources/gcp -run TestGolden -update and review the diff\ngot:\n%s", path, buf.String())
	}
}
