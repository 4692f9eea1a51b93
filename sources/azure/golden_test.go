package azure_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/azure/azuresim"
	"github.com/rosterhq/roster/sources/construct"
)

var update = flag.Bool("update", false, "rewrite the testdata/*.golden files")

// goldenFleet is small and fixed: one subscription with standalone VMs
// (Linux and Windows, marketplace and custom images, running and
// deallocated, one or two NICs, public IPs with and without DNS names,
// tagged and not) and two scale sets.
var goldenFleet = azuresim.Options{Seed: 117, Size: 12, ScaleSets: 2, Subscriptions: azuresim.DefaultSubscriptions[:1]}

// goldenCases are option sets (testdata/options/NAME.json, in the plugin's
// own names) whose hosts and groups are in testdata/NAME.golden:
//   - azure_rm_doc: the azure_rm plugin's documented example (conditional
//     groups, hostvar expressions, hostnames, keyed groups);
//   - azure_rm_doc_strict: the same with fail_on_template_errors, the
//     plugin's default;
//   - os_groups: the Microsoft Learn tutorial's conditional groups
//     (linux / windows by image offer) with keyed groups on tags, OS,
//     size, power state and scale set (with a parent group);
//   - awx_azure_rm: AWX's azure_rm configuration (its compatibility
//     groups and vars), less the options Roster refuses (host filters,
//     contrib sanitisation).
var goldenCases = []string{"azure_rm_doc", "azure_rm_doc_strict", "os_groups", "awx_azure_rm"}

type goldenHost struct {
	Host    string `json:"host"`
	VMID    string `json:"vmid"`
	Address string `json:"address"`
	Enabled bool   `json:"enabled"`
	// AnsibleHost is the host's ansible_host once compose has run: the
	// plugin's default or the composed one.
	AnsibleHost any                `json:"ansible_host"`
	Vars        map[string]any     `json:"vars,omitempty"`
	Groups      []string           `json:"groups"`
	Edges       []roster.GroupEdge `json:"edges,omitempty"`
	Warnings    []string           `json:"warnings,omitempty"`
	Error       string             `json:"error,omitempty"`
}

// splitPluginFile does what the registry is to do with a pasted azure_rm
// file: drop the plugin key, rename the plugin's constructed option names
// (azure.Driver{}.ConstructAliases()), and split construct options from the
// provider's.
func splitPluginFile(t *testing.T, cfg map[string]any) (provider, constructed map[string]any) {
	t.Helper()
	cfg = maps.Clone(cfg)
	must(t, sources.SplitPlugin(cfg, azure.Driver{}))
	must(t, sources.Aliases(cfg, azure.Driver{}.ConstructAliases()))
	provider, constructed = map[string]any{}, map[string]any{}
	for k, v := range cfg {
		if slices.Contains(construct.Keys(), k) {
			constructed[k] = v
		} else {
			provider[k] = v
		}
	}
	return provider, constructed
}

func checkGolden(t *testing.T, name string, v any) {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	must(t, enc.Encode(v))
	path := filepath.Join("testdata", name+".golden")
	if *update {
		must(t, os.WriteFile(path, buf.Bytes(), 0o644))
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sources/azure -run Golden -update to create it)", err)
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("%s differs from the result; run go test ./sources/azure -run Golden -update and review the diff\ngot:\n%s", path, buf.String())
	}
}

// TestGoldenHostVars pins the host vars of the golden fleet: the azure_rm
// plugin's keys and shapes, through the real SDK.
func TestGoldenHostVars(t *testing.T) {
	sim, url := startSim(t, goldenFleet)
	insts := collect(t, open(t, simDriver(sim), simConfig(url, goldenFleet.Subscriptions, map[string]any{"include_vmss": true})), goldenFleet.Subscriptions[0])
	slices.SortFunc(insts, func(a, b sources.Instance) int { return strings.Compare(a.Vars["id"].(string), b.Vars["id"].(string)) })
	type golden struct {
		ExternalID  string         `json:"external_id"`
		Hostnames   []string       `json:"hostnames"`
		Address     string         `json:"address"`
		Enabled     bool           `json:"enabled"`
		Groups      []string       `json:"groups"`
		Vars        map[string]any `json:"vars"`
		DefaultVars map[string]any `json:"default_vars"`
	}
	out := make([]golden, 0, len(insts))
	seen := map[string]bool{}
	for _, inst := range insts {
		out = append(out, golden{inst.ExternalID, inst.Hostnames, inst.Address, inst.Enabled, emptyList(inst.Groups), inst.Vars, inst.DefaultVars})
		seen[inst.Vars["powerstate"].(string)] = true
		seen[inst.Vars["os_profile"].(map[string]any)["system"].(string)] = true
		if len(inst.Vars["public_dns_hostnames"].([]any)) > 0 {
			seen["fqdn"] = true
		}
		if len(inst.Vars["network_interface"].([]any)) > 1 {
			seen["two NICs"] = true
		}
		if _, ok := inst.Vars["image"].(map[string]any)["id"]; ok {
			seen["custom image"] = true
		}
		if len(inst.Vars["vmss"].(map[string]any)) > 0 {
			seen["scale set"] = true
		}
	}
	for _, want := range []string{"running", "deallocated", "stopped", "linux", "windows", "fqdn", "two NICs", "custom image", "scale set"} {
		if !seen[want] {
			t.Errorf("the golden fleet has no %s VM; pick another seed", want)
		}
	}
	checkGolden(t, "hostvars", out)
}

// TestGolden pins hosts and groups for the plugin's documented
// keyed_groups / conditional_groups examples.
func TestGolden(t *testing.T) {
	sim, url := startSim(t, goldenFleet)
	for _, name := range goldenCases {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", "options", name+".json"))
			must(t, err)
			var cfg map[string]any
			must(t, json.Unmarshal(data, &cfg))
			popts, copts := splitPluginFile(t, cfg)
			c, err := construct.Parse(copts)
			if err != nil {
				t.Fatalf("construct options: %v", err)
			}
			p := open(t, simDriver(sim), simConfig(url, goldenFleet.Subscriptions, popts))
			insts := collect(t, p, goldenFleet.Subscriptions[0])
			slices.SortFunc(insts, func(a, b sources.Instance) int { return strings.Compare(a.Vars["id"].(string), b.Vars["id"].(string)) })
			out := make([]goldenHost, 0, len(insts))
			for _, inst := range insts {
				g := goldenHost{VMID: inst.ExternalID, Address: inst.Address, Enabled: inst.Enabled}
				for _, h := range inst.Hostnames {
					if h != "" {
						g.Host = h
						break
					}
				}
				res, err := c.ApplyHidden(inst.Vars, inst.DefaultVars)
				g.Vars, g.Groups, g.Edges, g.Warnings = res.Vars, emptyList(res.Groups), res.Edges, res.Warnings
				if err != nil {
					g.Error = err.Error()
				}
				// As the engine does: the plugin's ansible_host unless
				// compose set one, and the address from it.
				g.AnsibleHost = inst.DefaultVars["ansible_host"]
				if a, ok := g.Vars["ansible_host"]; ok {
					g.AnsibleHost = a
				}
				if a, ok := g.AnsibleHost.(string); ok && a != "" {
					g.Address = a
				}
				out = append(out, g)
			}
			checkGolden(t, name, out)
		})
	}
}

func emptyList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}
