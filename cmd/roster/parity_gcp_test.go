package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

// TestGCPPluginParity runs the real google.cloud.gcp_compute inventory
// plugin (Debian's ansible collections, through ansible-inventory) and
// Roster side by side on the same simulated Compute Engine fleet with the
// same plugin file, and compares what Ansible gets from each: hosts,
// groups and host vars.
//
// The plugin hard-codes https://www.googleapis.com/compute/v1/ and the
// key file's token_uri is Google's: it reaches the simulator through an
// intercepting proxy (HTTPS_PROXY, REQUESTS_CA_BUNDLE), in its process
// only. Roster uses its endpoint_url and token_uri options.
func TestGCPPluginParity(t *testing.T) {
	ansibleInventory := testenv.AnsibleInventory(t)
	_, err := os.Stat("/usr/lib/python3/dist-packages/ansible_collections/google/cloud/plugins/inventory/gcp_compute.py")
	testenv.Need(t, "the google.cloud collection (Debian package ansible)", err)
	_, err = os.Stat("/usr/lib/python3/dist-packages/google/auth/transport/requests.py")
	testenv.Need(t, "google-auth (Debian package python3-google-auth)", err)

	projects := []string{"parity-prod", "parity-dev"}
	sim, err := gcpsim.New(gcpsim.Options{Seed: 31, Size: 160, Projects: projects})
	must(t, err)
	simURL, stopSim, err := sim.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopSim()
	env := pluginProxy(t, sim, "www.googleapis.com", "oauth2.googleapis.com")
	keyFile := filepath.Join(t.TempDir(), "key.json")
	must(t, os.WriteFile(keyFile, sim.ServiceAccount().KeyFile("https://oauth2.googleapis.com/token"), 0o600))

	_, _, api := serveInProcess(t, sources.NewRegistry(gcp.Driver{}))
	if code := call(t, api, "POST", "/credentials", map[string]any{"name": "gcp", "type": "gcp",
		"fields": map[string]string{"service_account_json": string(sim.KeyFile(simURL))}}, nil); code != 201 {
		t.Fatalf("create credential: %d", code)
	}

	for _, tc := range []struct {
		name   string
		config map[string]any
		// roster replaces options of config for Roster where it differs
		// from the plugin on purpose (README, "### GCP").
		roster map[string]any
	}{
		{"base", map[string]any{}, nil},
		// Names and private addresses repeat across projects: one project
		// (a name two instances want differs on purpose; README).
		{"names and groups", map[string]any{
			"projects":    projects[:1],
			"hostnames":   []any{"name"},
			"name_suffix": ".gcp.example.com",
			"compose":     map[string]any{"ansible_host": "networkInterfaces[0].networkIP", "machine": "machineType", "cpus": "scheduling.automaticRestart"},
			"groups":      map[string]any{"web": "labels.role | default('') == 'web'", "running": "status == 'RUNNING'"},
			"keyed_groups": []any{
				map[string]any{"prefix": "gcp", "key": "labels"},
				map[string]any{"prefix": "status", "key": "status | lower"},
				map[string]any{"key": "zone", "prefix": "zone", "parent_group": "zones"},
				map[string]any{"key": "networkInterfaces[0].network.name", "separator": "", "prefix": "net-"},
				map[string]any{"key": "labels.app", "prefix": "app", "default_value": "none"},
				map[string]any{"key": "labels.app", "prefix": "app_or_nothing", "trailing_separator": false},
				map[string]any{"key": "machineType"},
			},
			"leading_separator": false,
		}, nil},
		// The plugin prefixes the host vars it sets; its compose sees the
		// instance unprefixed, its groups and keyed_groups both.
		{"vars prefix", map[string]any{
			"projects":    projects[:1],
			"vars_prefix": "gce_",
			"hostnames":   []any{"private_ip"},
			"compose":     map[string]any{"ansible_host": "networkInterfaces[0].networkIP", "where": "zone", "prefixed": "gce_zone | default('unseen')"},
			"groups":      map[string]any{"up": "gce_status == 'RUNNING'", "eu": "where.startswith('europe')", "running": "status == 'RUNNING'"},
			"keyed_groups": []any{map[string]any{"prefix": "team", "key": "gce_labels.team | default('none')"},
				map[string]any{"prefix": "zone", "key": "zone"}},
		}, nil},
		// Every instance of these has labels: the plugin fails on one
		// without when a labels.KEY hostname is asked for.
		{"filters", map[string]any{
			"filters":      []any{"status = RUNNING", "labels.env = prod OR labels.env = staging"},
			"scopes":       []any{"https://www.googleapis.com/auth/compute.readonly"},
			"hostnames":    []any{"labels.inventory_name", "public_ip", "name"},
			"keyed_groups": []any{map[string]any{"prefix": "env", "key": "labels.env"}},
		}, nil},
		// The plugin sends its filters to disks.aggregatedList too, where
		// instance fields mean nothing, and keeps the disks of the last
		// project only (a KeyError for the others' instances): image info
		// only works for it without filters, with one project.
		{"zones and images", map[string]any{
			"projects":            projects[:1],
			"zones":               []any{"us-central1-a", "us-east1-b", "europe-west1-b"},
			"retrieve_image_info": true,
			"keyed_groups":        []any{map[string]any{"prefix": "image", "key": "image"}},
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plugin := map[string]any{"plugin": "google.cloud.gcp_compute", "projects": projects, "auth_kind": "serviceaccount"}
			maps.Copy(plugin, tc.config)

			withKey := maps.Clone(plugin)
			withKey["service_account_file"] = keyFile
			want := runPlugin(t, ansibleInventory, "fleet.gcp_compute.yml", withKey,
				append(env, "ANSIBLE_INVENTORY_ENABLED=google.cloud.gcp_compute")...)

			config := maps.Clone(plugin)
			maps.Copy(config, tc.roster)
			config["endpoint_url"], config["token_uri"] = simURL, simURL+gcpsim.TokenPath
			// The plugin lists every instance; Roster's disabled hosts (not
			// RUNNING) only when asked to.
			got := rosterList(t, api, strings.ReplaceAll(tc.name, " ", "-"), "gcp", "gcp", config, true)
			prefix, _ := plugin["vars_prefix"].(string)
			suffix, _ := plugin["name_suffix"].(string)
			hostnames, _ := plugin["hostnames"].([]any)
			if len(hostnames) == 0 {
				hostnames = []any{"public_ip", "private_ip", "name"}
			}
			t.Logf("%d hosts in the plugin's inventory, %d in Roster's", len(want.hostvars), len(got.hostvars))
			comparePlugin(t, want, got, parityRules{
				plugin: "gcp_compute",
				renamed: func(want, got ansibleList) []string {
					return renamedDuplicates(want, got, prefix+"id", func(vars map[string]any) string {
						return gcpHostname(vars, prefix, suffix, hostnames)
					})
				},
			})
		})
	}
}

// renamedDuplicates returns the hosts of names two instances want, which
// the plugin and Roster treat differently on purpose (README, "Where
// Roster differs"): Roster's hosts named by their instance id (host var
// idVar) that the plugin lacks, and the names they wanted (name gives a
// host's name the plugin's way, from its vars).
func renamedDuplicates(want, got ansibleList, idVar string, name func(map[string]any) string) []string {
	var out []string
	for h, vars := range got.hostvars {
		if _, ok := want.hostvars[h]; ok || fmt.Sprint(vars[idVar]) != h {
			continue
		}
		if n := name(vars); n != "" && n != h {
			if _, taken := got.hostvars[n]; taken {
				out = append(out, h, n)
			}
		}
	}
	return out
}

// gcpHostname is the name gcp_compute gives an instance of host vars
// vars (prefixed by prefix) for hostnames: the first of its public IP,
// private IP, name (with suffix) or label that it has.
func gcpHostname(vars map[string]any, prefix, suffix string, hostnames []any) string {
	nics, _ := vars[prefix+"networkInterfaces"].([]any)
	for _, h := range hostnames {
		switch h := h.(string); {
		case h == "public_ip":
			for _, n := range nics {
				acs, _ := n.(map[string]any)["accessConfigs"].([]any)
				for _, ac := range acs {
					if ip, ok := ac.(map[string]any)["natIP"].(string); ok {
						return ip
					}
				}
			}
		case h == "private_ip":
			for _, n := range nics {
				if ip, ok := n.(map[string]any)["networkIP"].(string); ok {
					return ip
				}
			}
		case h == "name":
			return fmt.Sprint(vars[prefix+"name"]) + suffix
		case strings.HasPrefix(h, "labels."):
			labels, _ := vars[prefix+"labels"].(map[string]any)
			if v, ok := labels[h[len("labels."):]].(string); ok && v != "" {
				return v
			}
		}
	}
	return ""
}
