package openstack

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// newerSDKKeys are Server attributes of openstacksdk releases newer than
// the one testdata/sdk/*.sdk.json were derived with (0.101.0); the
// openstack.cloud 2.x plugin needs openstacksdk >= 1.0, and current
// releases' openstack/compute/v2/server.py has fault, host, locked_reason,
// personality and pinned_availability_zone. Roster emits them as that
// to_dict does.
var newerSDKKeys = []string{"fault", "host", "locked_reason", "personality", "pinned_availability_zone"}

// TestServerVarsMatchOpenstacksdk: the `openstack` host var is what the
// openstack.cloud 2.x inventory plugin keeps of a server
// (ansible-collections-openstack, plugins/inventory/openstack.py,
// _fetch_servers: server.to_dict(computed=False) of openstacksdk's
// compute.v2 Server, plus cloud: {name, region}). testdata/sdk/derive.py
// ran openstacksdk's own to_dict on each NAME.nova.json (servers/detail
// bodies of the simulator at 2.96 and 2.25, and an ERROR one) to write
// NAME.sdk.json: image as the whole image.v2 Image (name null: Nova embeds
// none), flavor as the whole compute.v2 Flavor, attached_volumes and its
// alias volumes as VolumeAttachments, addresses and security_groups as Nova
// sends them.
func TestServerVarsMatchOpenstacksdk(t *testing.T) {
	bodies, err := filepath.Glob(filepath.Join("testdata", "sdk", "*.nova.json"))
	if err != nil || len(bodies) == 0 {
		t.Fatalf("no testdata/sdk/*.nova.json: %v", err)
	}
	vc := &varsContext{cloud: "sim", region: "RegionOne", opts: &Options{}}
	for _, path := range bodies {
		name := strings.TrimSuffix(filepath.Base(path), ".nova.json")
		t.Run(name, func(t *testing.T) {
			body, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			page, err := decodeServerPage([]byte(`{"servers": [` + string(body) + `]}`))
			if err != nil || len(page.Servers) != 1 {
				t.Fatalf("decode %s: %v", path, err)
			}
			vars, _ := serverVars(page.Servers[0], vc)
			// Through JSON, as the host vars are stored and served.
			b, err := json.Marshal(vars["openstack"])
			if err != nil {
				t.Fatal(err)
			}
			var got, want map[string]any
			if err := json.Unmarshal(b, &got); err != nil {
				t.Fatal(err)
			}
			sdk, err := os.ReadFile(strings.TrimSuffix(path, ".nova.json") + ".sdk.json")
			if err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(sdk, &want); err != nil {
				t.Fatal(err)
			}
			if c, _ := got["cloud"].(map[string]any); c["name"] != "sim" || c["region"] != "RegionOne" {
				t.Errorf("cloud = %v, want {name: sim, region: RegionOne}", got["cloud"])
			}
			delete(got, "cloud") // the plugin's, added after to_dict
			for k, w := range want {
				if g, ok := got[k]; !ok {
					t.Errorf("%s: missing (openstacksdk: %v)", k, w)
				} else if !reflect.DeepEqual(g, w) {
					gj, _ := json.Marshal(g)
					wj, _ := json.Marshal(w)
					t.Errorf("%s:\n  roster %s\n  sdk    %s", k, gj, wj)
				}
			}
			for k := range got {
				if _, ok := want[k]; !ok && !slices.Contains(newerSDKKeys, k) {
					t.Errorf("%s: not in openstacksdk's to_dict", k)
				}
			}
		})
	}
}
