package azure

import (
	"testing"

	"github.com/rosterhq/roster/sources/sourcestest"
)

// FuzzConfig: see sourcestest.FuzzConfig.
func FuzzConfig(f *testing.F) {
	sourcestest.AddFiles(f, "testdata/options/*.json")
	sourcestest.FuzzConfig(f, Driver{},
		`{}`,
		`{"auth_source": "auto", "include_vm_resource_groups": ["myrg1", "myrg2"], "include_vmss_resource_groups": ["*"],
		  "hostnames": ["tags.vm_name", "default_inventory_hostname + \".domain.tld\"", "default"], "plain_host_names": true, "batch_fetch": true}`,
		`{"subscriptions": "0b1f6471-1bf0-4dda-aec3-111122223333", "include_vmss": true}`,
		`{"subscription_id": "0b1f6471-1bf0-4dda-aec3-111122223333", "cloud_environment": "AzureUSGovernment"}`,
		`{"authority_host": "https://127.0.0.1:4567", "arm_endpoint": "https://127.0.0.1:4567/"}`,
		`{"conditional_groups": {"linux": "os_profile.system == 'linux'"}, "hostvar_expressions": {"ansible_host": "private_ipv4_addresses[0]"},
		  "keyed_groups": [{"prefix": "tag", "key": "tags"}]}`,
		`{"conditional_groups": {"a": "true"}, "groups": {"a": "true"}}`,
		`{"subscriptions": ["0b1f6471-1bf0-4dda-aec3-111122223333", "prod"]}`, `{"subscriptions": [1, 2]}`,
		`{"include_vm_resource_groups": ["ok-rg", "bad/rg"]}`, `{"include_vm_resource_groups": ["*", "rg"]}`,
		`{"include_vmss": false, "include_vmss_resource_groups": ["rg"]}`, `{"hostnames": ["default", "tags.Name | "]}`,
		`{"hostnames": [""]}`, `{"hostnames": [{"name": "x"}]}`, `{"secret": "s"}`, `{"auth_source": "cli"}`,
		`{"exclude_host_filters": ["powerstate != 'running'"]}`,
	)
}
