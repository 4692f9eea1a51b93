package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// TestAWSPluginParity runs the real amazon.aws.aws_ec2 inventory plugin
// (Debian's ansible collections, through ansible-inventory) and Roster
// side by side on the same simulated EC2 fleet with the same plugin file,
// and compares what Ansible gets from each: hosts, groups and host vars.
//
// The plugin of Debian 12 (amazon.aws 5.5) has no endpoint_url; botocore
// reads endpoints from AWS_DATA_PATH, where an endpoints.json sends every
// region's EC2 to the simulator (../shared/notes/real-plugins.md).
func TestAWSPluginParity(t *testing.T) {
	ansibleInventory := testenv.AnsibleInventory(t)
	_, err := os.Stat("/usr/lib/python3/dist-packages/ansible_collections/amazon/aws/plugins/inventory/aws_ec2.py")
	testenv.Need(t, "the amazon.aws collection (Debian packages ansible and python3-boto3)", err)

	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	ec2 := awssim.New(awssim.Options{Seed: 21, Size: 120, Regions: regions, AccessKeys: []string{simAccessKey}})
	ec2URL, stopEC2, err := ec2.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopEC2()
	dataPath := botocoreEndpoints(t, ec2URL, regions)

	_, _, api := serveInProcess(t, sources.NewRegistry(aws.Driver{}))
	if code := call(t, api, "POST", "/credentials", map[string]any{"name": "aws", "type": "aws",
		"fields": map[string]string{"access_key_id": simAccessKey, "secret_access_key": simSecretKey}}, nil); code != 201 {
		t.Fatalf("create credential: %d", code)
	}

	for _, tc := range []struct {
		name   string
		config map[string]any
	}{
		{"base", map[string]any{}},
		// Errors strict: false skips, in the three option families.
		{"not strict", map[string]any{
			"strict":       false,
			"compose":      map[string]any{"broken": "no_such_var.attr", "fine": "instance_id"},
			"groups":       map[string]any{"bad": "no_such_var == 1", "good": "instance_id != ''"},
			"keyed_groups": []any{map[string]any{"prefix": "missing", "key": "tags.NoSuchTag"}, map[string]any{"prefix": "type", "key": "instance_type"}},
		}},
		// The same error with strict: the plugin fails to load the
		// inventory; Roster's sync fails and changes nothing.
		{"strict", map[string]any{
			"strict":  true,
			"compose": map[string]any{"broken": "no_such_var.attr"},
		}},
		{"hostnames and groups", map[string]any{
			// Names unique in the fleet: the Name tags repeat, and there
			// Roster differs on purpose (README, "Duplicate names").
			"hostnames": []any{"private-ip-address", "dns-name"},
			"groups":    map[string]any{"webservers": "tags.Role | default('') == 'web'"},
			"compose":   map[string]any{"ansible_host": "private_ip_address", "az": "placement.availability_zone", "cores": "cpu_options.core_count"},
			"keyed_groups": []any{
				map[string]any{"prefix": "tag", "key": "tags"},
				map[string]any{"prefix": "aws_region", "key": "placement.region"},
				map[string]any{"key": "tags['Env']", "prefix": "env", "parent_group": "environments"},
				map[string]any{"prefix": "instance_type", "key": "instance_type"},
			},
		}},
		// The plugin wraps the names before compose, groups and
		// keyed_groups see them; composed vars stay as named.
		{"hostvars prefix", map[string]any{
			"hostvars_prefix": "aws_", "hostvars_suffix": "_ec2",
			"compose":      map[string]any{"ansible_host": "aws_private_ip_address_ec2"},
			"groups":       map[string]any{"running": "aws_state_ec2.name == 'running'"},
			"keyed_groups": []any{map[string]any{"prefix": "type", "key": "aws_instance_type_ec2"}},
		}},
		// Every name of every instance, and the repeated Name tags one
		// host each in Ansible, their vars merged (the later instance's
		// win): Roster makes a host of each name and its Ansible document
		// merges hosts named alike (name_policy merge).
		{"duplicated hosts", map[string]any{
			"allow_duplicated_hosts": true,
			"hostnames":              []any{"tag:Name", "private-ip-address", "dns-name"},
			"compose":                map[string]any{"ansible_host": "private_ip_address", "me": "inventory_hostname"},
			"keyed_groups":           []any{map[string]any{"prefix": "type", "key": "instance_type"}},
		}},
		// boto3 hands launch_time and the other timestamps over as
		// datetimes: attributes, str() and isoformat as Python's.
		{"datetimes", map[string]any{
			"compose": map[string]any{"launched": "launch_time", "launch_year": "launch_time.year",
				"launch_month": "launch_time.strftime('%Y-%m')", "launch_iso": "launch_time.isoformat()"},
			"groups":       map[string]any{"recent": "launch_time.year >= 2023"},
			"keyed_groups": []any{map[string]any{"prefix": "lt", "key": "launch_time"}},
		}},
		{"filters", map[string]any{
			"filters":         map[string]any{"instance-state-name": "running"},
			"exclude_filters": []any{map[string]any{"tag:Env": []any{"dev"}}},
			"keyed_groups":    []any{map[string]any{"prefix": "az", "key": "placement.availability_zone", "separator": "-"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			plugin := map[string]any{"plugin": "amazon.aws.aws_ec2", "regions": regions}
			maps.Copy(plugin, tc.config)

			// The real plugin.
			dir := t.TempDir()
			file := filepath.Join(dir, "fleet.aws_ec2.yml")
			withKeys := maps.Clone(plugin)
			withKeys["aws_access_key_id"], withKeys["aws_secret_access_key"] = simAccessKey, simSecretKey
			b, err := json.Marshal(withKeys) // JSON is YAML
			must(t, err)
			must(t, os.WriteFile(file, b, 0o600))
			cmd := exec.CommandContext(t.Context(), ansibleInventory, "-i", file, "--list")
			cmd.Dir = dir
			cmd.Env = append(os.Environ(), "AWS_DATA_PATH="+dataPath, "ANSIBLE_INVENTORY_ENABLED=amazon.aws.aws_ec2",
				"ANSIBLE_LOCAL_TEMP="+dir, "ANSIBLE_HOME="+dir, "AWS_CONFIG_FILE=/dev/null", "AWS_SHARED_CREDENTIALS_FILE=/dev/null")
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if tc.name == "strict" {
				// ansible-inventory warns and goes on without the source.
				if !strings.Contains(stderr.String(), "Failed to parse") || !strings.Contains(stderr.String(), "no_such_var") {
					t.Fatalf("the plugin loaded a strict inventory with a broken compose: %v\n%s", err, stderr.String())
				}
				syncFails(t, api, ec2URL, plugin, "no_such_var")
				return
			}
			if err != nil {
				t.Fatalf("ansible-inventory with aws_ec2: %v\n%s", err, stderr.String())
			}
			want := parseAnsibleList(t, out)
			if len(want.hostvars) == 0 {
				t.Fatalf("the plugin listed no host: the case proves nothing\n%s", stderr.String())
			}

			// Roster, from the same file (its endpoint option instead of
			// botocore's data path).
			inv := strings.ReplaceAll(tc.name, " ", "-")
			if code := call(t, api, "POST", "/inventories", map[string]any{"name": inv}, nil); code != 201 {
				t.Fatalf("create inventory: %d", code)
			}
			config := maps.Clone(plugin)
			config["endpoint_url"] = ec2URL
			var src struct{ ID string }
			if code := call(t, api, "POST", "/inventories/"+inv+"/sources", map[string]any{"name": "ec2", "provider": "aws", "credential": "aws", "config": config}, &src); code != 201 {
				t.Fatalf("create source: %d", code)
			}
			syncAndWait(t, api, src.ID)
			var doc json.RawMessage
			if code := call(t, api, "GET", "/inventories/"+url.PathEscape(inv)+"/ansible?all=true", nil, &doc); code != 200 {
				t.Fatalf("ansible document: %d", code)
			}
			got := parseAnsibleList(t, doc)
			compareInventories(t, want, got)
		})
	}
}

// syncFails creates an inventory with an EC2 source of plugin's config
// and requires its sync to fail saying why (want) and to store no host.
func syncFails(t *testing.T, api *client.Client, ec2URL string, plugin map[string]any, want string) {
	t.Helper()
	if code := call(t, api, "POST", "/inventories", map[string]any{"name": "failing"}, nil); code != 201 {
		t.Fatalf("create inventory: %d", code)
	}
	config := maps.Clone(plugin)
	config["endpoint_url"] = ec2URL
	var src struct{ ID string }
	if code := call(t, api, "POST", "/inventories/failing/sources", map[string]any{"name": "ec2", "provider": "aws", "credential": "aws", "config": config}, &src); code != 201 {
		t.Fatalf("create source: %d", code)
	}
	var run struct{ ID, Status, Error string }
	if code := call(t, api, "POST", "/sources/"+src.ID+"/syncs", nil, &run); code != 202 {
		t.Fatalf("trigger: %d", code)
	}
	for deadline := time.Now().Add(60 * time.Second); !roster.SyncStatus(run.Status).Done(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("sync did not finish: %+v", run)
		}
		call(t, api, "GET", "/syncs/"+run.ID, nil, &run)
	}
	if run.Status != "failed" || !strings.Contains(run.Error, want) {
		t.Fatalf("sync: %+v, want it failed naming %q", run, want)
	}
	var hosts struct{ Items []any }
	if code := call(t, api, "GET", "/inventories/failing/hosts", nil, &hosts); code != 200 || len(hosts.Items) != 0 {
		t.Fatalf("the failed sync stored %d hosts (%d)", len(hosts.Items), code)
	}
}

// botocoreEndpoints writes an endpoints.json sending EC2 and STS of
// regions to the simulator at simURL, and returns its directory.
func botocoreEndpoints(t *testing.T, simURL string, regions []string) string {
	t.Helper()
	u, err := url.Parse(simURL)
	must(t, err)
	endpoints, regionDocs := map[string]any{}, map[string]any{}
	for _, r := range regions {
		endpoints[r] = map[string]any{"hostname": u.Host, "protocols": []string{"http"}}
		regionDocs[r] = map[string]any{"description": r}
	}
	doc := map[string]any{"version": 3, "partitions": []any{map[string]any{
		"partition": "aws", "partitionName": "AWS", "dnsSuffix": "amazonaws.com",
		"regionRegex": `^(us|eu|ap|sa|ca|me|af)\-\w+\-\d+$`,
		"defaults":    map[string]any{"hostname": "{service}.{region}.{dnsSuffix}", "protocols": []string{"https"}, "signatureVersions": []string{"v4"}},
		"regions":     regionDocs,
		"services":    map[string]any{"ec2": map[string]any{"endpoints": endpoints}, "sts": map[string]any{"endpoints": endpoints}},
	}}}
	dir := t.TempDir()
	b, err := json.Marshal(doc)
	must(t, err)
	must(t, os.WriteFile(filepath.Join(dir, "endpoints.json"), b, 0o644))
	return dir
}

func syncAndWait(t *testing.T, api *client.Client, sourceID string) {
	t.Helper()
	syncWhile(t, api, sourceID, nil)
}

// ansibleList is an Ansible --list document, normalised: each group's
// hosts and children sorted, the host vars as decoded JSON.
type ansibleList struct {
	hostvars map[string]map[string]any
	hosts    map[string][]string // group -> hosts
	children map[string][]string // group -> children
}

func parseAnsibleList(t *testing.T, b []byte) ansibleList {
	t.Helper()
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		t.Fatalf("not an Ansible --list document: %v", err)
	}
	l := ansibleList{hostvars: map[string]map[string]any{}, hosts: map[string][]string{}, children: map[string][]string{}}
	for name, v := range raw {
		if name == "_meta" {
			var meta struct {
				Hostvars map[string]map[string]any `json:"hostvars"`
			}
			if err := json.Unmarshal(v, &meta); err != nil {
				t.Fatal(err)
			}
			maps.Copy(l.hostvars, meta.Hostvars)
			continue
		}
		var g struct {
			Hosts    []string `json:"hosts"`
			Children []string `json:"children"`
		}
		if err := json.Unmarshal(v, &g); err != nil {
			t.Fatalf("group %s: %v", name, err)
		}
		if len(g.Hosts) > 0 {
			l.hosts[name] = slices.Sorted(slices.Values(g.Hosts))
		}
		// "all" lists every top group; ansible-inventory adds "ungrouped".
		if name != "all" && len(g.Children) > 0 {
			l.children[name] = slices.Sorted(slices.Values(g.Children))
		}
	}
	return l
}

// compareInventories reports every difference between the aws_ec2
// plugin's document (want) and Roster's (got), a few of each kind.
func compareInventories(t *testing.T, want, got ansibleList) {
	t.Helper()
	comparePlugin(t, want, got, parityRules{plugin: "aws_ec2", skipVar: func(_, name string, _, _ any) bool { return newerThanPlugin(name) }})
}

// parityRules say how a plugin's document is compared with Roster's:
// which differences are kept on purpose, each narrowly.
type parityRules struct {
	plugin string // for the failure message
	// skipVar reports a host var (of host) that differs on purpose, given
	// its value in the plugin's document and in Roster's (nil where it
	// has none); nil = none.
	skipVar func(host, name string, plugin, roster any) bool
	// renamed, when set, reports the hosts of a name two instances want:
	// the plugin makes them one host (the last instance's vars over the
	// first's), Roster names the second by its stable id. It returns the
	// names to leave out of the comparison (both, in both documents).
	renamed func(want, got ansibleList) []string
}

// comparePlugin reports every difference between a plugin's document
// (want) and Roster's (got) that rules do not allow, a few of each kind.
func comparePlugin(t *testing.T, want, got ansibleList, rules parityRules) {
	t.Helper()
	if rules.renamed != nil {
		if names := rules.renamed(want, got); len(names) > 0 {
			t.Logf("left out: %d hosts of a name two instances want (%v)", len(names), head(names))
			if len(names) > len(want.hostvars)/5 {
				t.Fatalf("%d of %d hosts left out: the case proves little", len(names), len(want.hostvars))
			}
			want, got = want.without(names), got.without(names)
		}
	}
	skipVar := rules.skipVar
	if skipVar == nil {
		skipVar = func(_, _ string, _, _ any) bool { return false }
	}
	var diffs []string
	add := func(format string, args ...any) {
		if len(diffs) < 30 {
			diffs = append(diffs, fmt.Sprintf(format, args...))
		}
	}
	for h := range want.hostvars {
		if _, ok := got.hostvars[h]; !ok {
			add("host %s: the plugin has it, Roster does not", h)
		}
	}
	for h := range got.hostvars {
		if _, ok := want.hostvars[h]; !ok {
			add("host %s: Roster has it, the plugin does not", h)
		}
	}
	for _, g := range sortedKeys(want.hosts, got.hosts) {
		if !slices.Equal(want.hosts[g], got.hosts[g]) {
			add("group %s: plugin %d hosts %v, Roster %d hosts %v", g, len(want.hosts[g]), head(want.hosts[g]), len(got.hosts[g]), head(got.hosts[g]))
		}
	}
	for _, g := range sortedKeys(want.children, got.children) {
		if !slices.Equal(want.children[g], got.children[g]) {
			add("group %s: plugin children %v, Roster %v", g, want.children[g], got.children[g])
		}
	}
	for _, h := range slices.Sorted(maps.Keys(want.hostvars)) {
		gv, ok := got.hostvars[h]
		if !ok {
			continue
		}
		wv := want.hostvars[h]
		for _, k := range slices.Sorted(maps.Keys(wv)) {
			if skipVar(h, k, wv[k], gv[k]) {
				continue
			}
			if v, ok := gv[k]; !ok {
				add("host %s: var %s: the plugin has %v, Roster none", h, k, short(wv[k]))
			} else if !reflect.DeepEqual(v, wv[k]) {
				add("host %s: var %s: plugin %v, Roster %v", h, k, short(wv[k]), short(v))
			}
		}
		for _, k := range slices.Sorted(maps.Keys(gv)) {
			if _, ok := wv[k]; !ok && !skipVar(h, k, nil, gv[k]) {
				add("host %s: var %s: Roster has %v, the plugin none", h, k, short(gv[k]))
			}
		}
	}
	if len(diffs) > 0 {
		t.Fatalf("Roster and the %s plugin differ on the same fleet and file:\n  %s", rules.plugin, strings.Join(diffs, "\n  "))
	}
}

// without returns l without the named hosts.
func (l ansibleList) without(names []string) ansibleList {
	drop := func(h string) bool { return slices.Contains(names, h) }
	out := ansibleList{hostvars: maps.Clone(l.hostvars), hosts: map[string][]string{}, children: l.children}
	for _, h := range names {
		delete(out.hostvars, h)
	}
	for g, hosts := range l.hosts {
		if hosts = slices.DeleteFunc(slices.Clone(hosts), drop); len(hosts) > 0 {
			out.hosts[g] = hosts
		}
	}
	return out
}

// newerThanPlugin reports whether a host var (its name maybe wrapped by
// hostvars_prefix/suffix) is of an instance field that the EC2 API model
// of Debian 12's botocore (1.29) predates: the plugin drops it as
// unknown, while newer plugins (and Roster) pass it on.
func newerThanPlugin(name string) bool {
	return strings.Contains(name, "current_instance_boot_mode")
}

func sortedKeys(a, b map[string][]string) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	out := slices.Collect(maps.Keys(keys))
	sort.Strings(out)
	return out
}

func head(s []string) []string {
	if len(s) > 3 {
		return s[:3]
	}
	return s
}

func short(v any) string {
	b, _ := json.Marshal(v)
	if len(b) > 120 {
		return string(b[:120]) + "…"
	}
	return string(b)
}
