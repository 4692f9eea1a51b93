package main

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/azure/azuresim"
)

// TestAzurePluginParity runs the real azure.azcollection.azure_rm
// inventory plugin (Debian's ansible collections, through
// ansible-inventory) and Roster side by side on the same simulated
// subscription with the same plugin file, and compares what Ansible gets
// from each: hosts, groups and host vars.
//
// The plugin hard-codes login.microsoftonline.com and
// management.azure.com: it reaches the simulator through an intercepting
// proxy (HTTPS_PROXY, REQUESTS_CA_BUNDLE), in its process only, and
// authenticates with the service principal in AZURE_* variables. Roster
// uses its authority_host and arm_endpoint options.
func TestAzurePluginParity(t *testing.T) {
	ansibleInventory := testenv.AnsibleInventory(t)
	_, err := os.Stat("/usr/lib/python3/dist-packages/ansible_collections/azure/azcollection/plugins/inventory/azure_rm.py")
	testenv.Need(t, "the azure.azcollection collection (Debian package ansible)", err)
	for _, lib := range []string{"azure/mgmt/compute", "azure/cli/core", "adal", "msrestazure", "msrest"} {
		_, err = os.Stat("/usr/lib/python3/dist-packages/" + lib)
		testenv.Need(t, "the azure_rm plugin's libraries (Debian packages python3-azure python3-azure-cli-core python3-adal python3-msrestazure python3-msrest)", err)
	}

	sub := "5e0c1a7d-3b2f-4e6a-9c8d-7f1e2d3c4b5a"
	sim := azuresim.New(azuresim.Options{Seed: 41, Size: 90, ScaleSets: 4, Subscriptions: []string{sub}, PageSize: 40})
	simURL, stopSim, err := sim.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopSim()
	rgs := sim.Fleet().ResourceGroups(sub)
	if len(rgs) < 3 {
		t.Fatalf("the fleet has %d resource groups, want 3 or more", len(rgs))
	}
	env := pluginProxy(t, sim, "login.microsoftonline.com", "management.azure.com")
	env = append(env, "ANSIBLE_INVENTORY_ENABLED=azure.azcollection.azure_rm", "PYTHONPATH="+azureImportFix(t),
		"AZURE_TENANT="+sim.TenantID(), "AZURE_CLIENT_ID="+sim.ClientID(), "AZURE_SECRET="+sim.ClientSecret(),
		"AZURE_SUBSCRIPTION_ID="+sub, "AZURE_CONFIG_DIR="+t.TempDir(), "HOME="+t.TempDir())

	_, _, api := serveInProcess(t, sources.NewRegistry(azure.Driver{HTTPClient: sim.Client()}))
	if code := call(t, api, "POST", "/credentials", map[string]any{"name": "azure", "type": "azure",
		"fields": map[string]string{"tenant_id": sim.TenantID(), "client_id": sim.ClientID(), "client_secret": sim.ClientSecret()}}, nil); code != 201 {
		t.Fatalf("create credential: %d", code)
	}

	for _, tc := range []struct {
		name   string
		config map[string]any
		// roster replaces options of config for Roster where it differs
		// from the plugin on purpose (README, "### Azure").
		roster map[string]any
		// all: compare with Roster's disabled hosts too (the plugin's
		// default_host_filters are off).
		all bool
	}{
		// The plugin's default_host_filters leave out VMs not running or
		// not provisioned: Roster's disabled hosts.
		{"base", map[string]any{}, nil, false},
		{"plain names and groups", map[string]any{
			"plain_host_names":             true,
			"include_vmss_resource_groups": []any{"*"},
			"default_host_filters":         []any{},
			"conditional_groups": map[string]any{
				"linux":   "os_profile.system == 'linux'",
				"public":  "public_ipv4_addresses | length > 0",
				"reached": "ansible_host is defined and ansible_host",
				"scaled":  "vmss.name is defined",
			},
			"hostvar_expressions": map[string]any{
				"dns":      "(public_dns_hostnames + public_ipv4_addresses + private_ipv4_addresses + ['']) | first",
				"where":    "location + '/' + resource_group",
				"nic_name": "network_interface | first",
			},
			"keyed_groups": []any{
				map[string]any{"prefix": "tag", "key": "tags"},
				map[string]any{"prefix": "azure_loc", "key": "location"},
				map[string]any{"prefix": "power", "key": "powerstate"},
				map[string]any{"prefix": "rg", "key": "resource_group", "parent_group": "resource_groups"},
				map[string]any{"prefix": "ss", "key": "vmss.name | default('none')"},
				map[string]any{"prefix": "env", "key": "tags.Env | default('')", "default_value": "untagged"},
			},
		}, nil, true},
		// Template errors (a VM without the vm_name tag) are skipped, not
		// fatal: the plugin's default is fail_on_template_errors: true.
		{"hostnames and filters", map[string]any{
			"hostnames":                  []any{"tags.vm_name", "computer_name + '.' + location", "default"},
			"fail_on_template_errors":    false,
			"include_vm_resource_groups": []any{rgs[0], rgs[1], strings.ToUpper(rgs[2])},
			"exclude_host_filters":       []any{"location in ['westeurope']", "tags.Team is defined and tags.Team == 'growth'"},
			"default_host_filters":       []any{"powerstate == 'deallocated'"},
			"batch_fetch":                false,
			"hostvar_expressions":        map[string]any{"ansible_host": "private_ipv4_addresses | first", "team": "tags.Team"},
			"keyed_groups":               []any{map[string]any{"prefix": "team", "key": "team"}, map[string]any{"key": "provisioning_state"}},
		}, nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plugin := map[string]any{"plugin": "azure.azcollection.azure_rm", "auth_source": "env"}
			maps.Copy(plugin, tc.config)
			want := runPlugin(t, ansibleInventory, "fleet.azure_rm.yml", plugin, env...)

			config := maps.Clone(plugin)
			maps.Copy(config, tc.roster)
			config["subscriptions"] = []string{sub}
			config["authority_host"], config["arm_endpoint"] = simURL, simURL
			got := rosterList(t, api, strings.ReplaceAll(tc.name, " ", "-"), "azure", "azure", config, tc.all)
			t.Logf("%d hosts in the plugin's inventory, %d in Roster's", len(want.hostvars), len(got.hostvars))
			comparePlugin(t, want, got, parityRules{plugin: "azure_rm", skipVar: azureOnPurpose,
				renamed: func(want, got ansibleList) []string {
					return renamedDuplicates(want, got, "vmid", func(vars map[string]any) string {
						n, _ := vars["default_inventory_hostname"].(string)
						return n
					})
				}})
		})
	}
}

// azureOnPurpose reports the host vars where Roster differs from Debian's
// azure_rm (1.16) on purpose (README, "### Azure").
func azureOnPurpose(_, name string, plugin, roster any) bool {
	switch name {
	case "public_ipv4_address", "public_ip_address", "subnet", "creation_time", "license_type":
		// Vars of later releases (azcollection 2.x) that 1.16 lacks.
		return plugin == nil
	case "virtual_machine_size":
		// The plugin reads properties.hardwareProfile.vmSize, which the
		// instances of uniform scale sets lack (their size is the
		// model's sku): None. Roster gives the sku's name.
		_, named := roster.(string)
		return plugin == nil && named
	case "plan":
		// The plugin reads properties.plan, where Resource Manager never
		// puts it (a VM's plan is top-level): always None. Roster gives
		// the plan's name.
		_, named := roster.(string)
		return plugin == nil && named
	}
	return false
}

// azureImportFix writes the sitecustomize.py that lets Debian 12's
// azure_rm plugin (azcollection 1.16) load, and returns its directory,
// for PYTHONPATH. The plugin imports RecoveryServicesBackupClient from
// azure.mgmt.recoveryservicesbackup, in the same try as its credential
// classes; Debian's python3-azure 20230112 moved it to .activestamp, so
// the import fails and the plugin stops with "name 'client_secret' is not
// defined" (../shared/notes/real-plugins.md).
func azureImportFix(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "sitecustomize.py"), []byte(`# Written by Roster's TestAzurePluginParity for the plugin's run only.
import sys
try:
    import azure.mgmt.recoveryservicesbackup as _rsb
    from azure.mgmt.recoveryservicesbackup import activestamp as _active
    if not hasattr(_rsb, "RecoveryServicesBackupClient"):
        _rsb.RecoveryServicesBackupClient = _active.RecoveryServicesBackupClient
    sys.modules.setdefault("azure.mgmt.recoveryservicesbackup.models", _active.models)
except ImportError:
    pass
`), 0o644))
	return dir
}
