package openstack

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/construct"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

const secretValue = "SECRET-VALUE-123"

func TestWarnings(t *testing.T) {
	for _, tc := range []struct {
		config map[string]any
		want   []string
	}{
		{map[string]any{}, nil},
		{map[string]any{"expand_hostvars": false, "fail_on_errors": false}, nil},
		{map[string]any{"expand_hostvars": true, "fail_on_errors": true}, []string{"expand_hostvars", "fail_on_errors"}},
		{map[string]any{"expand_hostvars": true, "regoins": "x"}, nil}, // invalid: no warnings
	} {
		got := Driver{}.Warnings(tc.config)
		if len(got) != len(tc.want) {
			t.Fatalf("%v: warnings %q, want one for each of %v", tc.config, got, tc.want)
		}
		for i, w := range got {
			if !strings.HasPrefix(w, "option "+tc.want[i]+" has no effect: ") {
				t.Errorf("warning %q, want one about %s", w, tc.want[i])
			}
		}
	}
}

func TestValidate(t *testing.T) {
	auth := map[string]any{"auth_url": "https://keystone.example.com:5000/v3", "username": "roster", "user_domain_name": "Default",
		"project_name": "ops", "project_domain_name": "Default"}
	cloud := func(extra map[string]any) map[string]any {
		c := map[string]any{"auth": auth, "regions": []any{"RegionOne", "RegionTwo"}}
		for k, v := range extra {
			c[k] = v
		}
		return map[string]any{"prod": c}
	}
	withAuth := func(k string, v any) map[string]any {
		a := map[string]any{}
		for key, val := range auth {
			a[key] = val
		}
		a[k] = v
		return map[string]any{"prod": map[string]any{"auth": a}}
	}
	for _, tc := range []struct {
		name   string
		config map[string]any
		field  string // "" when valid
	}{
		{"minimal", map[string]any{}, ""},
		{"plugin file", map[string]any{"only_clouds": []any{"prod"}, "all_projects": true, "inventory_hostname": "uuid", "legacy_groups": false,
			"private": true, "only_ipv4": true, "show_all": true, "use_names": false, "expand_hostvars": false, "fail_on_errors": false,
			"clouds_yaml_path": []any{"/etc/roster/clouds.yaml"}, "server_filters": map[string]any{"status": "ACTIVE", "tags": []any{"a", "b"}, "ipv4_address": "10\\."}}, ""},
		{"clouds", map[string]any{"clouds": cloud(map[string]any{"interface": "internal", "identity_api_version": 3, "verify": true}), "projects": []any{"ops", "dev"}}, ""},
		{"inline auth", map[string]any{"auth": auth, "region_name": "RegionOne", "cloud": "prod"}, ""},
		{"application credential", map[string]any{"clouds": map[string]any{"ac": map[string]any{"auth_type": "v3applicationcredential",
			"auth": map[string]any{"auth_url": "http://k:5000/v3", "application_credential_id": "abc"}}}}, ""},
		{"password", map[string]any{"password": secretValue}, "password"},
		{"app credential secret", map[string]any{"application_credential_secret": secretValue}, "application_credential_secret"},
		{"inline password", map[string]any{"auth": map[string]any{"auth_url": "http://k/v3", "password": secretValue}}, "auth.password"},
		{"clouds password", map[string]any{"clouds": withAuth("password", secretValue)}, "clouds.prod.auth.password"},
		{"clouds app secret", map[string]any{"clouds": withAuth("application_credential_secret", secretValue)}, "clouds.prod.auth.application_credential_secret"},
		{"clouds token", map[string]any{"clouds": withAuth("token", secretValue)}, "clouds.prod.auth.token"},
		{"token auth type", map[string]any{"clouds": cloud(map[string]any{"auth_type": "v3token"})}, "clouds.prod.auth_type"},
		{"unknown option", map[string]any{"regoins": []any{"RegionOne"}}, "regoins"},
		{"unknown cloud setting", map[string]any{"clouds": cloud(map[string]any{"colour": "blue"})}, "clouds.prod.colour"},
		{"unknown auth setting", map[string]any{"clouds": withAuth("usr", "x")}, "clouds.prod.auth.usr"},
		{"clouds not a map", map[string]any{"clouds": []any{"prod"}}, "clouds"},
		{"cloud not a map", map[string]any{"clouds": map[string]any{"prod": "x"}}, "clouds.prod"},
		{"cloud name with slash", map[string]any{"clouds": map[string]any{"a/b": map[string]any{"auth": auth}}}, "clouds.a/b"},
		{"bad auth url", map[string]any{"clouds": withAuth("auth_url", "keystone:5000")}, "clouds.prod.auth.auth_url"},
		{"auth url with credentials", map[string]any{"clouds": withAuth("auth_url", "https://u:"+secretValue+"@k/v3")}, "clouds.prod.auth.auth_url"},
		{"cloud regions", map[string]any{"clouds": cloud(map[string]any{"regions": []any{"RegionOne", "Region/Two"}})}, "clouds.prod.regions[1]"},
		{"bad interface", map[string]any{"clouds": cloud(map[string]any{"interface": "private"})}, "clouds.prod.interface"},
		{"identity v2", map[string]any{"clouds": cloud(map[string]any{"identity_api_version": "2.0"})}, "clouds.prod.identity_api_version"},
		{"regions dup", map[string]any{"regions": []any{"RegionOne", "RegionOne"}}, "regions[1]"},
		{"regions slash", map[string]any{"regions": []any{"RegionOne", "a/b"}}, "regions[1]"},
		{"regions empty", map[string]any{"regions": []any{""}}, "regions[0]"},
		{"regions not a list", map[string]any{"regions": map[string]any{"a": 1}}, "regions"},
		{"projects", map[string]any{"projects": []any{"ops", ""}}, "projects[1]"},
		{"all projects with projects", map[string]any{"all_projects": true, "projects": []any{"a", "b"}}, "projects"},
		{"only clouds not in clouds", map[string]any{"clouds": cloud(nil), "only_clouds": []any{"prod", "staging"}}, "only_clouds[1]"},
		{"cloud without auth", map[string]any{"cloud": "prod"}, "cloud"},
		{"inline cloud twice", map[string]any{"clouds": cloud(nil), "auth": auth, "cloud": "prod"}, "cloud"},
		{"unknown filter", map[string]any{"server_filters": map[string]any{"x": "1"}}, "server_filters.x"},
		{"paging filter", map[string]any{"server_filters": map[string]any{"limit": 5}}, "server_filters.limit"},
		{"all_tenants filter", map[string]any{"server_filters": map[string]any{"all_tenants": true}}, "server_filters.all_tenants"},
		{"object filter", map[string]any{"server_filters": map[string]any{"status": map[string]any{"a": 1}}}, "server_filters.status"},
		{"bad hostname", map[string]any{"inventory_hostname": "fqdn"}, "inventory_hostname"},
		{"expand hostvars and fail on errors", map[string]any{"expand_hostvars": true, "fail_on_errors": true}, ""},
		{"concurrency", map[string]any{"concurrency": 100}, "concurrency"},
		{"legacy groups type", map[string]any{"legacy_groups": "yes"}, "legacy_groups"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Driver{}.Validate(tc.config)
			if tc.field == "" {
				if err != nil {
					t.Fatalf("valid config refused: %v", err)
				}
				return
			}
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("error %v, want EINVALID", err)
			}
			var fields []string
			for _, f := range roster.ErrorFields(err) {
				fields = append(fields, f.Field)
			}
			if !slices.Contains(fields, tc.field) {
				t.Fatalf("fields %v, want %q (%v)", fields, tc.field, err)
			}
			if strings.Contains(err.Error(), secretValue) {
				t.Fatalf("the error repeats a secret: %v", err)
			}
		})
	}
}

func TestThroughTheRegistry(t *testing.T) {
	reg := sources.NewRegistry(Driver{})
	cfg := map[string]any{"plugin": "openstack.cloud.openstack", "only_clouds": []any{"prod"},
		"keyed_groups": []any{map[string]any{"key": "openstack.metadata", "prefix": "meta"}}, "compose": map[string]any{"ansible_user": "'cloud-user'"}}
	if err := reg.Validate("openstack", cfg); err != nil {
		t.Fatal(err)
	}
	cfg["plugin"] = "amazon.aws.aws_ec2"
	if err := reg.Validate("openstack", cfg); err == nil {
		t.Fatal("another plugin's file was accepted")
	}
}

func TestScopesPerCloudRegionAndProject(t *testing.T) {
	regions := []string{"RegionOne", "RegionTwo", "RegionThree"}
	e := newSimEnv(t, openstacksim.Options{Seed: 1, Size: 400, Regions: regions})
	fleet := e.sim.Fleet()
	p := e.open(t, e.config(map[string]any{"projects": []any{"demo", "ops"}}))
	got := collectAll(t, p)
	var names []string
	for region := range slices.Values(regions) {
		for _, project := range []string{"demo", "ops"} {
			name := "sim/" + region + "/" + project
			names = append(names, name)
			want := fleetIDs(fleet, region, project, hasAddress)
			if ids := instanceIDs(got[name]); len(want) == 0 || !slices.Equal(ids, want) {
				t.Fatalf("%s: %d servers, want %d", name, len(ids), len(want))
			}
		}
	}
	if len(got) != len(names) {
		t.Fatalf("scopes %v, want %v", slices.Sorted(mapKeys(got)), names)
	}
	st := e.sim.Stats()
	// One token per project (the regions came from the catalog with the
	// first project's), and more than one page per scope.
	if st.TokensIssued != 2 {
		t.Fatalf("tokens issued = %d, want 2 (one per project)", st.TokensIssued)
	}
	if pages := st.Calls(openstacksim.OpServers, ""); pages <= len(names) {
		t.Fatalf("%d pages for %d scopes: pagination not exercised", pages, len(names))
	}

	// Regions given: no catalog discovery, and a region the catalog lacks
	// fails alone.
	p = e.open(t, e.config(map[string]any{"regions": []any{"RegionTwo", "RegionNine"}}))
	scopes, err := p.Scopes(t.Context())
	if err != nil || !slices.Equal(scopes, []string{"sim/RegionTwo/demo", "sim/RegionNine/demo"}) {
		t.Fatalf("scopes = %v, %v", scopes, err)
	}
	if insts, err := p.Collect(t.Context(), "sim/RegionTwo/demo"); err != nil || len(insts) == 0 {
		t.Fatalf("RegionTwo: %d, %v", len(insts), err)
	}
	if _, err := p.Collect(t.Context(), "sim/RegionNine/demo"); err == nil || !strings.Contains(err.Error(), "compute endpoint of region RegionNine") {
		t.Fatalf("RegionNine: %v", err)
	}
}

func TestHostVarsFollowTheFleet(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 2, Size: 250, Regions: []string{"RegionOne", "RegionTwo"}})
	fleet := e.sim.Fleet()
	all := collectAll(t, e.open(t, e.config(nil)))
	checked := map[string]int{}
	for scope, insts := range all {
		region := strings.Split(scope, "/")[1]
		for _, in := range insts {
			info, ok := fleet.Server(in.ExternalID)
			if !ok {
				t.Fatalf("unknown server %s", in.ExternalID)
			}
			os := in.Vars["openstack"].(map[string]any)
			if os["id"] != info.ID || os["name"] != info.Name || os["status"] != info.Status || os["project_id"] != info.ProjectID ||
				os["availability_zone"] != info.AvailabilityZone || in.Enabled != (info.Status == "ACTIVE") {
				t.Fatalf("%s: vars %v, server %+v", info.ID, os, info)
			}
			if c := os["cloud"].(map[string]any); c["name"] != "sim" || c["region"] != region {
				t.Fatalf("cloud = %v", c)
			}
			if fl := os["flavor"].(map[string]any); fl["name"] != info.FlavorName || fl["original_name"] != info.FlavorName {
				t.Fatalf("flavor %v, want %s", fl, info.FlavorName)
			}
			// The plugin's image is openstacksdk's Image of what Nova
			// embeds: no name, and every server with an image key is in
			// image-None (see TestServerVarsMatchOpenstacksdk).
			img := os["image"].(map[string]any)
			if len(img) != len(imageAttributes)+3 || img["name"] != nil || !slices.Contains(in.Groups, "image-None") {
				t.Fatalf("image %v, groups %v", img, in.Groups)
			}
			switch {
			case info.ImageID == "":
				checked["boot from volume"]++
				if img["id"] != nil || img["properties"] != nil {
					t.Fatalf("boot from volume: image %v", img)
				}
			case info.ImageName == "":
				checked["deleted image"]++
				fallthrough
			default:
				if img["id"] != info.ImageID || img["properties"] == nil {
					t.Fatalf("image %v, want id %s and links", img, info.ImageID)
				}
			}
			want := info.FloatingIP()
			if want == "" {
				want = info.FixedIP(false)
				checked["fixed address"]++
			} else {
				checked["floating address"]++
			}
			if in.Address != want || in.Vars["ansible_host"] != want || in.Vars["ansible_ssh_host"] != want {
				t.Fatalf("%s: address %q / %v, want %q (%+v)", info.ID, in.Address, in.Vars["ansible_host"], want, info.Addresses)
			}
			md := os["metadata"].(map[string]any)
			for k, v := range info.Metadata {
				if md[k] != v || !slices.Contains(in.Groups, "meta-"+k+"_"+v) {
					t.Fatalf("metadata %s=%s: vars %v, groups %v", k, v, md, in.Groups)
				}
			}
			if g, ok := info.Metadata["group"]; ok {
				checked["metadata group"]++
				if !slices.Contains(in.Groups, g) {
					t.Fatalf("metadata group %q not in %v", g, in.Groups)
				}
			}
			if gs, ok := info.Metadata["groups"]; ok {
				checked["metadata groups"]++
				for g := range strings.SplitSeq(gs, ",") {
					if !slices.Contains(in.Groups, strings.TrimSpace(g)) {
						t.Fatalf("metadata groups %q: %v", gs, in.Groups)
					}
				}
			}
			az := info.AvailabilityZone
			for _, g := range []string{"sim", region, "sim_" + region, "instance-" + info.ID, "flavor-" + info.FlavorName, az, region + "_" + az, "sim_" + region + "_" + az} {
				if !slices.Contains(in.Groups, g) {
					t.Fatalf("group %q missing from %v", g, in.Groups)
				}
			}
			if _, err := json.Marshal(in.Vars); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, k := range []string{"boot from volume", "deleted image", "fixed address", "floating address", "metadata group", "metadata groups"} {
		if checked[k] == 0 {
			t.Errorf("the fleet has no server with %s: the test proves less than it says", k)
		}
	}
}

func TestAddressOptions(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 3, Size: 0, Regions: []string{"RegionOne"}, Projects: []string{"demo"}})
	fleet := e.sim.Fleet()
	add := func(name string, addrs ...openstacksim.Address) string {
		s, err := fleet.Add(openstacksim.ServerSpec{Name: name, Addresses: addrs})
		if err != nil {
			t.Fatal(err)
		}
		return s.ID
	}
	v6 := openstacksim.Address{Network: "private", Addr: "fd00::5", Version: 6, Type: "fixed"}
	v4 := openstacksim.Address{Network: "private", Addr: "10.0.0.5", Version: 4, Type: "fixed"}
	fip := openstacksim.Address{Network: "private", Addr: "172.24.4.5", Version: 4, Type: "floating"}
	both := add("both", v6, v4, fip)
	v6only := add("v6only", v6)
	none := add("none", []openstacksim.Address{}...)
	for _, tc := range []struct {
		opts map[string]any
		want map[string]string // id → address ("" = no ansible_host)
	}{
		{nil, map[string]string{both: "172.24.4.5", v6only: "fd00::5"}},
		{map[string]any{"private": true}, map[string]string{both: "fd00::5", v6only: "fd00::5"}},
		{map[string]any{"private": true, "only_ipv4": true}, map[string]string{both: "10.0.0.5", v6only: ""}},
		{map[string]any{"use_names": true, "show_all": true}, map[string]string{both: "both", v6only: "v6only", none: "none"}},
		{map[string]any{"show_all": true}, map[string]string{both: "172.24.4.5", v6only: "fd00::5", none: ""}},
	} {
		insts := collectAll(t, e.open(t, e.config(tc.opts)))["sim/RegionOne/demo"]
		if len(insts) != len(tc.want) {
			t.Fatalf("%v: %d hosts, want %d", tc.opts, len(insts), len(tc.want))
		}
		for _, in := range insts {
			want, ok := tc.want[in.ExternalID]
			host, has := in.Vars["ansible_host"]
			if !ok || in.Address != want || has != (want != "") || has && host != want {
				t.Fatalf("%v: %s address %q, ansible_host %v; want %q", tc.opts, in.Vars["openstack"].(map[string]any)["name"], in.Address, host, want)
			}
		}
	}
}

func TestDuplicateNamesAreNamedByID(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 4, Size: 0, Regions: []string{"RegionOne", "RegionTwo"}, Projects: []string{"demo"}})
	fleet := e.sim.Fleet()
	var ids []string
	for _, spec := range []openstacksim.ServerSpec{{Name: "web"}, {Name: "web"}, {Name: "db"}, {Name: "db", Region: "RegionTwo"}} {
		s, err := fleet.Add(spec)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.ID)
	}
	names := func(opts map[string]any) map[string]string {
		out := map[string]string{}
		for _, insts := range collectAll(t, e.open(t, e.config(opts))) {
			for _, in := range insts {
				out[in.ExternalID] = strings.Join(in.Hostnames, ",")
			}
		}
		return out
	}
	got := names(nil)
	// Within a scope both "web" are named by id, as the plugin does;
	// across scopes each "db" keeps its name here, and the engine names
	// the second by id (see TestDuplicateNamesAcrossScopes).
	want := map[string]string{ids[0]: ids[0], ids[1]: ids[1], ids[2]: "db", ids[3]: "db"}
	if !mapsEqual(got, want) {
		t.Fatalf("hostnames %v, want %v", got, want)
	}
	got = names(map[string]any{"inventory_hostname": "uuid"})
	for _, id := range ids {
		if got[id] != id {
			t.Fatalf("uuid hostnames %v", got)
		}
	}
	for _, insts := range collectAll(t, e.open(t, e.config(map[string]any{"legacy_groups": false}))) {
		for _, in := range insts {
			if in.Groups != nil {
				t.Fatalf("legacy_groups false: groups %v", in.Groups)
			}
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestAllProjectsNeedsAnAdmin(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 5, Size: 200, Regions: []string{"RegionOne"}})
	cfg := map[string]any{"all_projects": true, "clouds": map[string]any{"simadmin": map[string]any{"auth": e.cloudAuth("admin", "demo")}}}
	got := collectAll(t, e.open(t, cfg))
	insts, ok := got["simadmin/RegionOne/*"]
	if !ok || len(got) != 1 {
		t.Fatalf("scopes %v", slices.Sorted(mapKeys(got)))
	}
	if want := fleetIDs(e.sim.Fleet(), "RegionOne", "", hasAddress); !slices.Equal(instanceIDs(insts), want) {
		t.Fatalf("all projects: %d servers, want %d", len(insts), len(want))
	}
	// An admin sees user_data; Roster never stores it.
	for _, in := range insts {
		b, _ := json.Marshal(in.Vars)
		if bytes.Contains(b, []byte("sim-user-data-secret")) || bytes.Contains(b, []byte("I2Nsb3VkLWNvbmZpZ")) {
			t.Fatalf("user data stored in host vars of %s", in.ExternalID)
		}
		if in.Vars["openstack"].(map[string]any)["compute_host"] == nil && in.Vars["openstack"].(map[string]any)["status"] == "ACTIVE" {
			t.Fatalf("an admin's host vars lack compute_host")
		}
	}

	p := e.open(t, e.config(map[string]any{"all_projects": true}))
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Collect(t.Context(), scopes[0]); err == nil || !strings.Contains(err.Error(), "403") {
		t.Fatalf("all_projects as a member: %v, want a 403", err)
	}
}

func TestApplicationCredential(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 6, Size: 60, Regions: []string{"RegionOne"}})
	id, _ := e.sim.AppCredentialID(openstacksim.DefaultAppCredentialName)
	uid, _ := e.sim.UserID(openstacksim.DefaultUser)
	e.driver.Credentials = StaticCredentials{"": {ApplicationCredentialSecret: openstacksim.DefaultAppCredentialSecret}}
	for _, auth := range []map[string]any{
		{"auth_url": e.authURL(), "application_credential_id": id},
		{"auth_url": e.authURL(), "application_credential_name": openstacksim.DefaultAppCredentialName, "user_id": uid},
		{"auth_url": e.authURL(), "application_credential_name": openstacksim.DefaultAppCredentialName, "username": "demo", "user_domain_name": "Default"},
	} {
		cfg := map[string]any{"clouds": map[string]any{"ac": map[string]any{"auth_type": "v3applicationcredential", "auth": auth}}}
		got := collectAll(t, e.open(t, cfg))
		// The project is learnt from the token.
		if insts, ok := got["ac/RegionOne/demo"]; !ok || !slices.Equal(instanceIDs(insts), fleetIDs(e.sim.Fleet(), "RegionOne", "demo", hasAddress)) {
			t.Fatalf("scopes %v", slices.Sorted(mapKeys(got)))
		}
	}
	cfg := map[string]any{"projects": []any{"ops"}, "clouds": map[string]any{"ac": map[string]any{"auth": map[string]any{"auth_url": e.authURL(), "application_credential_id": id}}}}
	if _, err := e.open(t, cfg).Scopes(t.Context()); err == nil || !strings.Contains(err.Error(), "application credential") {
		t.Fatalf("projects with an application credential: %v", err)
	}
}

func TestServerFiltersReachNova(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 7, Size: 300, Regions: []string{"RegionOne"}})
	insts := collectAll(t, e.open(t, e.config(map[string]any{
		"server_filters": map[string]any{"status": "ACTIVE", "tags": []any{"prod"}, "ipv4_address": "^10\\."},
	})))["sim/RegionOne/demo"]
	want := fleetIDs(e.sim.Fleet(), "RegionOne", "demo", func(s openstacksim.ServerInfo) bool {
		return s.Status == "ACTIVE" && slices.Contains(s.Tags, "prod") && strings.HasPrefix(s.FixedIP(true), "10.")
	})
	if len(want) == 0 || !slices.Equal(instanceIDs(insts), want) {
		t.Fatalf("filtered: %d servers, want %d", len(insts), len(want))
	}
}

func TestRetriesOnOverLimitAndUnavailable(t *testing.T) {
	for _, status := range []int{413, 429} {
		e := newSimEnv(t, openstacksim.Options{Seed: 8, Size: 300, Regions: []string{"RegionOne", "RegionTwo"}})
		want := collectAll(t, e.open(t, e.config(nil)))
		e.sim.ResetStats()
		e.sim.SetFaults(openstacksim.Faults{ThrottleEvery: 3, ThrottleStatus: status, RetryAfter: time.Second, ErrorEvery: 4})
		got := collectAll(t, e.open(t, e.config(nil)))
		for scope, insts := range want {
			if !slices.Equal(instanceIDs(got[scope]), instanceIDs(insts)) {
				t.Fatalf("%d: %s differs under faults", status, scope)
			}
		}
		st := e.sim.Stats()
		if st.InjectedStatus[status] == 0 || st.InjectedStatus[503] == 0 {
			t.Fatalf("%d: injected %v: the test proves nothing", status, st.InjectedStatus)
		}
		if st.AuthFailures != 0 {
			t.Fatalf("auth failures %d", st.AuthFailures)
		}
	}
}

func TestRetriesAreBoundedAndErrorsAreShort(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 9, Size: 50, Regions: []string{"RegionOne", "RegionTwo"}})
	e.driver.MaxRetries = 3
	e.sim.SetFaults(openstacksim.Faults{DenyScopes: []string{"RegionTwo"}})
	p := e.open(t, e.config(map[string]any{"regions": []any{"RegionOne", "RegionTwo"}}))
	if _, err := p.Scopes(t.Context()); err != nil {
		t.Fatal(err)
	}
	if insts, err := p.Collect(t.Context(), "sim/RegionOne/demo"); err != nil || len(insts) == 0 {
		t.Fatalf("healthy region: %d, %v", len(insts), err)
	}
	insts, err := p.Collect(t.Context(), "sim/RegionTwo/demo")
	if err == nil || insts != nil {
		t.Fatalf("down region: %d instances, %v", len(insts), err)
	}
	if msg := err.Error(); !strings.Contains(msg, "503 Service Unavailable") || strings.Contains(msg, "Expected HTTP response code") || len(msg) > 400 {
		t.Fatalf("error %q is not short and clear", msg)
	}
	if n := e.sim.Stats().Faulted("", "RegionTwo"); n != 4 {
		t.Fatalf("%d requests to the down region, want 4 (1 + 3 retries)", n)
	}
}

func TestTokenExpiryMidPaginationReauthenticates(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 10, Size: 400, Regions: []string{"RegionOne"}})
	want := collectAll(t, e.open(t, e.config(nil)))["sim/RegionOne/demo"]
	e.sim.ResetStats()
	e.sim.SetFaults(openstacksim.Faults{ExpireTokensAfter: 2})
	got := collectAll(t, e.open(t, e.config(nil)))["sim/RegionOne/demo"]
	if !slices.Equal(instanceIDs(got), instanceIDs(want)) {
		t.Fatalf("%d servers after re-authentication, want %d", len(got), len(want))
	}
	st := e.sim.Stats()
	if st.Expired < 2 || st.TokensIssued != st.Expired+1 {
		t.Fatalf("stats %+v: want a re-authentication per expired token", st)
	}
}

func TestFailureMidPaginationIsAllOrNothing(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 11, Size: 200, Regions: []string{"RegionOne"}})
	e.sim.SetFaults(openstacksim.Faults{FailAfterPage: 1})
	p := e.open(t, e.config(nil))
	scopes, err := p.Scopes(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	insts, err := p.Collect(t.Context(), scopes[0])
	if err == nil || insts != nil || !strings.Contains(err.Error(), "list servers") {
		t.Fatalf("Collect after a failing page = %d instances, %v", len(insts), err)
	}
}

func TestBadPasswordFailsOnceAndNeverLeaks(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 12, Size: 20})
	e.driver.Credentials = StaticCredentials{"sim": {Password: secretValue}}
	var logs bytes.Buffer
	p, err := e.driver.Open(t.Context(), e.config(map[string]any{"regions": []any{"RegionOne", "RegionTwo"}}), nil, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	scopes, _ := p.Scopes(t.Context())
	for _, s := range scopes {
		_, err := p.Collect(t.Context(), s)
		if err == nil || !strings.Contains(err.Error(), "401") || !strings.Contains(err.Error(), `cloud "sim"`) || strings.Contains(err.Error(), secretValue) {
			t.Fatalf("bad password: %v", err)
		}
	}
	if st := e.sim.Stats(); st.AuthFailures != 1 {
		t.Fatalf("auth failures = %d, want 1 for two regions", st.AuthFailures)
	}
	if strings.Contains(logs.String(), secretValue) {
		t.Fatal("the password is in the logs")
	}
}

func TestNextLinksNeverCarryTheTokenElsewhere(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 13, Size: 120, Regions: []string{"RegionOne"}})
	var stolen, rewritten atomic.Int32
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Auth-Token") != "" {
			stolen.Add(1)
		}
		w.WriteHeader(http.StatusNotFound)
	}))
	defer evil.Close()
	// A proxy in front of the simulator that rewrites next links to
	// another host, as misconfigured deployments do.
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		e.sim.ServeHTTP(rec, r)
		next := []byte(`"href":"http://` + r.Host + `/compute/RegionOne/v2.1/servers/detail`)
		body := rec.Body.Bytes()
		if bytes.Contains(body, next) {
			rewritten.Add(1)
			body = bytes.ReplaceAll(body, next, []byte(`"href":"`+evil.URL+`/v2.1/servers/detail`))
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length")
		w.WriteHeader(rec.Code)
		_, _ = w.Write(body)
	}))
	defer proxy.Close()
	cfg := e.config(nil)
	cfg["clouds"].(map[string]any)["sim"].(map[string]any)["auth"].(map[string]any)["auth_url"] = openstacksim.AuthURL(proxy.URL)
	insts := collectAll(t, e.open(t, cfg))["sim/RegionOne/demo"]
	if want := fleetIDs(e.sim.Fleet(), "RegionOne", "demo", hasAddress); !slices.Equal(instanceIDs(insts), want) {
		t.Fatalf("%d servers through the proxy, want %d", len(insts), len(want))
	}
	if rewritten.Load() == 0 {
		t.Fatal("no next link was rewritten: the test proves nothing")
	}
	if stolen.Load() != 0 {
		t.Fatalf("the token was sent to the next link's host %d times", stolen.Load())
	}
}

func TestCloudsYAMLFilesAndEnvironment(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 14, Size: 40, Regions: []string{"RegionOne"}})
	dir := e.driver.ConfigDirs[0]
	e.driver.Credentials = nil
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("clouds.yaml", `
clouds:
  filecloud:
    auth:
      auth_url: `+e.authURL()+`
      username: demo
      project_name: demo
      user_domain_name: Default
      project_domain_name: Default
    region_name: RegionOne
    some_other_tool_setting: 1
  other:
    auth:
      auth_url: http://127.0.0.1:1/v3
`)
	write("secure.yaml", `
clouds:
  filecloud:
    auth:
      password: `+openstacksim.DefaultPassword+`
`)
	// A source without clouds syncs the file's clouds, picked by only_clouds.
	got := collectAll(t, e.open(t, map[string]any{"only_clouds": []any{"filecloud"}}))
	if len(got["filecloud/RegionOne/demo"]) == 0 || len(got) != 1 {
		t.Fatalf("file cloud scopes %v", slices.Sorted(mapKeys(got)))
	}
	// A source's cloud of the same name takes the file's secret...
	got = collectAll(t, e.open(t, map[string]any{"clouds": map[string]any{"filecloud": map[string]any{"auth": map[string]any{"project_name": "ops"}}}}))
	if len(got["filecloud/RegionOne/ops"]) == 0 {
		t.Fatalf("overlaid cloud scopes %v", slices.Sorted(mapKeys(got)))
	}
	// ...but not to another Keystone.
	p := e.open(t, map[string]any{"clouds": map[string]any{"filecloud": map[string]any{"auth": map[string]any{"auth_url": "http://127.0.0.1:1/v3"}}}})
	if _, err := p.Scopes(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Collect(t.Context(), "filecloud/RegionOne/demo"); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Fatalf("file password sent to another auth_url? %v", err)
	}
	if _, err := e.driver.Open(t.Context(), map[string]any{"only_clouds": []any{"nope"}}, nil, slog.Default()); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Fatalf("unknown only_clouds: %v", err)
	}
	explicit := filepath.Join(t.TempDir(), "clouds.yaml")
	if _, err := e.driver.Open(t.Context(), map[string]any{"clouds_yaml_path": []any{explicit}}, nil, slog.Default()); err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("missing clouds_yaml_path: %v", err)
	}

	// The OS_* environment is one more cloud, "envvars"; OS_PASSWORD only
	// goes to OS_AUTH_URL.
	env := map[string]string{"OS_AUTH_URL": e.authURL(), "OS_USERNAME": "demo", "OS_PASSWORD": openstacksim.DefaultPassword,
		"OS_PROJECT_NAME": "demo", "OS_USER_DOMAIN_NAME": "Default", "OS_PROJECT_DOMAIN_ID": "default", "OS_REGION_NAME": "RegionOne"}
	e.driver.Getenv = func(k string) string { return env[k] }
	e.driver.ConfigDirs = []string{t.TempDir()}
	got = collectAll(t, e.open(t, map[string]any{}))
	if len(got["envvars/RegionOne/demo"]) == 0 {
		t.Fatalf("environment scopes %v", slices.Sorted(mapKeys(got)))
	}
	p = e.open(t, map[string]any{"clouds": map[string]any{"elsewhere": map[string]any{"region_name": "RegionOne",
		"auth": map[string]any{"auth_url": openstacksim.AuthURL(e.base) + "/", "username": "demo", "project_name": "demo", "domain_name": "Default"}}}})
	if insts := collectAll(t, p)["elsewhere/RegionOne/demo"]; len(insts) == 0 {
		t.Fatal("OS_PASSWORD not used for the same auth_url")
	}
	env["OS_AUTH_URL"] = "http://127.0.0.1:1/v3"
	p = e.open(t, map[string]any{"clouds": map[string]any{"elsewhere": map[string]any{"region_name": "RegionOne",
		"auth": map[string]any{"auth_url": e.authURL(), "username": "demo", "project_name": "demo", "domain_name": "Default"}}}})
	if _, err := p.Scopes(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Collect(t.Context(), "elsewhere/RegionOne/demo"); err == nil || !strings.Contains(err.Error(), "no password") {
		t.Fatalf("OS_PASSWORD sent to another auth_url? %v", err)
	}
}

// TestVersionlessAuthURLAndOldNova: before 2.47 Nova embeds the flavor
// as {id, links}, which openstacksdk's Flavor turns into a nameless flavor
// with zero sizes: the plugin (and Roster) do not ask flavors/detail, and
// every server is in flavor-None.
func TestVersionlessAuthURLAndOldNova(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 15, Size: 80, Regions: []string{"RegionOne"}, MaxMicroversion: "2.25"})
	cfg := e.config(nil)
	cfg["clouds"].(map[string]any)["sim"].(map[string]any)["auth"].(map[string]any)["auth_url"] = e.base + openstacksim.IdentityPath
	insts := collectAll(t, e.open(t, cfg))["sim/RegionOne/demo"]
	if len(insts) == 0 {
		t.Fatal("no servers")
	}
	for _, in := range insts {
		info, _ := e.sim.Fleet().Server(in.ExternalID)
		fl := in.Vars["openstack"].(map[string]any)["flavor"].(map[string]any)
		if fl["id"] != info.FlavorID || fl["name"] != nil || fl["vcpus"] != int64(0) || !slices.Contains(in.Groups, "flavor-None") {
			t.Fatalf("flavor before 2.47 = %v, groups %v, want id %s without a name", fl, in.Groups, info.FlavorID)
		}
		if tags := in.Vars["openstack"].(map[string]any)["tags"]; len(tags.([]any)) != 0 {
			t.Fatalf("tags before 2.26 = %v, want []", tags)
		}
	}
	if n := e.sim.Stats().Calls(openstacksim.OpFlavors, ""); n != 0 {
		t.Fatalf("flavors/detail called %d times: the plugin does not", n)
	}
}

func TestNoSecretInVarsOrLogs(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 16, Size: 60, Regions: []string{"RegionOne"}})
	var logs bytes.Buffer
	cfg := map[string]any{"clouds": map[string]any{"simadmin": map[string]any{"auth": e.cloudAuth("admin", "demo")}}}
	p, err := e.driver.Open(t.Context(), cfg, nil, slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	e.sim.SetFaults(openstacksim.Faults{ErrorEvery: 3, ExpireTokensAfter: 2})
	all := collectAll(t, p)
	var out bytes.Buffer
	for _, insts := range all {
		for _, in := range insts {
			b, _ := json.Marshal(in)
			out.Write(b)
		}
	}
	out.Write(logs.Bytes())
	for _, s := range []string{openstacksim.AdminPassword, "X-Auth-Token", "gAAAAA", "sim-user-data-secret"} {
		if bytes.Contains(out.Bytes(), []byte(s)) {
			t.Fatalf("%q found in host vars or logs", s)
		}
	}
	if !strings.Contains(logs.String(), "retrying OpenStack request") {
		t.Fatalf("no retry was logged: %s", logs.String())
	}
}

// TestImageServiceIsNotAsked: the plugin's image is what Nova embeds, so
// a Glance that refuses every request changes nothing.
func TestImageServiceIsNotAsked(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 17, Size: 40, Regions: []string{"RegionOne"}})
	proxy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.URL.Path, "/image/") {
			t.Errorf("the image service was asked %s", r.URL)
			http.Error(w, `{"message": "Policy doesn't allow get_images to be performed.", "code": "403 Forbidden"}`, http.StatusForbidden)
			return
		}
		e.sim.ServeHTTP(w, r)
	}))
	defer proxy.Close()
	cfg := map[string]any{"clouds": map[string]any{"sim": map[string]any{"interface": "internal", "auth": e.cloudAuth("demo", "demo")}}}
	cfg["clouds"].(map[string]any)["sim"].(map[string]any)["auth"].(map[string]any)["auth_url"] = openstacksim.AuthURL(proxy.URL)
	if insts := collectAll(t, e.open(t, cfg))["sim/RegionOne/demo"]; len(insts) == 0 {
		t.Fatal("no servers")
	}
}

// TestServersAreKeptOnDiskWhileListed: a region's raw pages wait on disk
// (the sync's scratch directory) until every server is listed, so names
// repeated pages apart are still named by id; nothing is left behind, and
// a directory that cannot be written fails the scope clearly.
func TestServersAreKeptOnDiskWhileListed(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 5, Size: 0, Regions: []string{"RegionOne"}, Projects: []string{"demo"}})
	fleet := e.sim.Fleet()
	var first, last string
	for i := range 200 { // 8 pages of 25
		name := fmt.Sprintf("server-%03d", i)
		if i == 0 || i == 199 {
			name = "twin"
		}
		s, err := fleet.Add(openstacksim.ServerSpec{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			first = s.ID
		}
		last = s.ID
	}
	p := e.open(t, e.config(nil))
	scopes, err := p.Scopes(t.Context())
	if err != nil || len(scopes) != 1 {
		t.Fatalf("scopes %v, %v", scopes, err)
	}
	dir := t.TempDir()
	insts, err := p.Collect(sources.WithScratchDir(t.Context(), dir), scopes[0])
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]string{}
	for _, in := range insts {
		names[in.ExternalID] = in.Hostnames[0]
	}
	if len(insts) != 200 || names[first] != first || names[last] != last {
		t.Fatalf("%d servers; the two named twin, 7 pages apart, are named %q and %q, want their ids", len(insts), names[first], names[last])
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the listing left %v in the scratch directory", entries)
	}
	_, err = p.Collect(sources.WithScratchDir(t.Context(), filepath.Join(dir, "absent")), scopes[0])
	if err == nil || !strings.Contains(err.Error(), "keep the sync's work on disk") {
		t.Fatalf("collect with a scratch directory that does not exist: %v", err)
	}
}

// TestOnlyCloudsTakesEachCloudsFirstRegion: the plugin builds the clouds
// of only_clouds with openstacksdk's get_one(cloud=NAME), one per cloud,
// in its first region; without only_clouds, get_all() gives every region
// (plugins/inventory/openstack.py, _fetch_servers). Roster's regions
// option still picks regions explicitly.
func TestOnlyCloudsTakesEachCloudsFirstRegion(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 3, Size: 20, Regions: []string{"RegionOne", "RegionTwo"}, Projects: []string{"demo"}})
	cloud := map[string]any{"regions": []any{"RegionTwo", "RegionOne"}, "auth": e.cloudAuth("demo", "demo")}
	for _, tc := range []struct {
		opts map[string]any
		want []string
	}{
		{map[string]any{}, []string{"sim/RegionTwo/demo", "sim/RegionOne/demo"}},
		{map[string]any{"only_clouds": []any{"sim"}}, []string{"sim/RegionTwo/demo"}},
		{map[string]any{"only_clouds": []any{"sim"}, "regions": []any{"RegionOne", "RegionTwo"}}, []string{"sim/RegionOne/demo", "sim/RegionTwo/demo"}},
	} {
		cfg := map[string]any{"clouds": map[string]any{"sim": cloud}}
		maps.Copy(cfg, tc.opts)
		prov := e.open(t, cfg)
		scopes, err := prov.Scopes(t.Context())
		if err != nil || !slices.Equal(scopes, tc.want) {
			t.Errorf("%v: scopes %v, %v; want %v", tc.opts, scopes, err, tc.want)
		}
		// A region left out is said on the run, never dropped unseen.
		notes := prov.(sources.Noter).Notes()
		if left := len(tc.want) == 1; left != (len(notes) == 1) ||
			left && !strings.Contains(notes[0], `cloud "sim" has the regions RegionTwo, RegionOne; with only_clouds`) {
			t.Errorf("%v: notes %q", tc.opts, notes)
		}
	}
}

// TestComposeIsAlwaysStrict: openstack.cloud 2.x composes with
// strict=True (plugins/inventory/openstack.py, _add_host), so a compose
// error fails the sync whatever strict says; groups and keyed_groups
// still follow strict.
func TestComposeIsAlwaysStrict(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 1, Size: 10, Regions: []string{"RegionOne"}})
	reg := sources.NewRegistry(e.driver)
	open := func(construct map[string]any) *construct.Constructor {
		t.Helper()
		cfg := e.config(construct)
		cfg["strict"] = false
		_, c, err := reg.Open(t.Context(), &roster.Source{Provider: "openstack", Config: cfg}, nil, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	vars := map[string]any{"openstack": map[string]any{"name": "web-1"}}
	if _, err := open(map[string]any{"compose": map[string]any{"x": "nothing.here"}}).Apply(vars); err == nil || !strings.Contains(err.Error(), "compose.x") {
		t.Fatalf("an undefined var in compose with strict false: %v, want the sync to fail", err)
	}
	res, err := open(map[string]any{"groups": map[string]any{"g": "nothing.here"}}).Apply(vars)
	if err != nil || len(res.Warnings) != 1 {
		t.Fatalf("an undefined var in groups with strict false: %v, %q, want it skipped with a warning", err, res.Warnings)
	}
}
