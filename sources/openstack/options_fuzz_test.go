package openstack

import (
	"testing"

	"github.com/rosterhq/roster/sources/sourcestest"
)

// FuzzConfig: see sourcestest.FuzzConfig.
func FuzzConfig(f *testing.F) {
	sourcestest.FuzzConfig(f, Driver{},
		`{}`,
		`{"plugin": "openstack.cloud.openstack", "only_clouds": ["prod"], "all_projects": true, "inventory_hostname": "uuid", "legacy_groups": false,
		  "private": true, "only_ipv4": true, "show_all": true, "use_names": false, "expand_hostvars": false, "fail_on_errors": false,
		  "clouds_yaml_path": ["/etc/roster/clouds.yaml"], "server_filters": {"status": "ACTIVE", "tags": ["a", "b"], "ipv4_address": "10\\."}}`,
		`{"clouds": {"prod": {"auth": {"auth_url": "https://keystone.example.com:5000/v3", "username": "roster", "user_domain_name": "Default",
		  "project_name": "ops"}, "regions": ["RegionOne", "RegionTwo"], "interface": "internal", "identity_api_version": 3, "verify": true}},
		  "projects": ["ops", "dev"]}`,
		`{"auth": {"auth_url": "https://keystone.example.com:5000/v3", "username": "roster"}, "region_name": "RegionOne", "cloud": "prod"}`,
		`{"clouds": {"ac": {"auth_type": "v3applicationcredential", "auth": {"auth_url": "http://k:5000/v3", "application_credential_id": "abc"}}}}`,
		`{"password": "s"}`, `{"auth": {"auth_url": "http://k/v3", "password": "s"}}`,
		`{"clouds": {"prod": {"auth": {"token": "s"}}}}`, `{"clouds": {"prod": {"auth_type": "v3token"}}}`,
		`{"server_filters": {"status": 1}}`, `{"inventory_hostname": "fqdn"}`, `{"clouds": []}`, `{"clouds": {"": {}}}`,
		`{"compose": {"ansible_host": "openstack.accessIPv4"}, "groups": {"active": "openstack.status == 'ACTIVE'"}}`,
	)
}
