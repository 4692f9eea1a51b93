package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/azure/azuresim"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
	"github.com/rosterhq/roster/sources/openstack"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// buildBinary builds a command of this module into dir.
func buildBinary(t testing.TB, pkg, dir string) string {
	t.Helper()
	out := filepath.Join(dir, filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", out, pkg)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, b)
	}
	return out
}

// call sends one API request and returns its status (0 for a transport
// error, which fails the test).
func call(t *testing.T, c *client.Client, method, path string, body, out any) int {
	t.Helper()
	status, err := c.Call(t.Context(), method, path, body, out)
	var apiErr *client.Error
	switch {
	case err == nil:
		return status
	case errors.As(err, &apiErr):
		t.Logf("%s %s → %d %v", method, path, apiErr.Status, err)
		return apiErr.Status
	}
	t.Fatalf("%s %s: %v", method, path, err)
	return 0
}

// serveInProcess runs Roster as `roster serve` does, in this process, on
// a fresh SQLite database with reg's drivers, and returns it with an
// admin token and a client holding it. It stops with the test.
func serveInProcess(t *testing.T, reg *sources.Registry) (*Main, roster.Secret, *client.Client) {
	t.Helper()
	c := defaultConfig()
	c.Listen = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.Database = filepath.Join(c.DataDir, "roster.db")
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Registry: reg}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	value, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(t.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash); err != nil {
		t.Fatal(err)
	}
	return m, value, client.New(m.URL, value)
}

// TestEndToEndWithAnsible runs Roster the way `roster serve` does, syncs a
// simulated EC2 fleet through the API, and checks that the real
// ansible-inventory, reading the real roster-inventory script, sees the
// same groups and host vars the API serves.
func TestEndToEndWithAnsible(t *testing.T) {
	ansibleInventory := testenv.AnsibleInventory(t)
	bin := t.TempDir()
	script := buildBinary(t, "./cmd/roster-inventory", bin)

	ec2 := awssim.New(awssim.Options{Seed: 11, Size: 400, Regions: []string{"us-east-1", "us-west-2", "eu-central-1"}, AccessKeys: []string{simAccessKey}})
	ec2URL, stopEC2, err := ec2.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopEC2()
	gce, err := gcpsim.New(gcpsim.Options{Seed: 12, Size: 150, Projects: []string{"e2e-prod", "e2e-dev"}})
	must(t, err)
	gceURL, stopGCE, err := gce.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopGCE()
	arm := azuresim.New(azuresim.Options{Seed: 14, Size: 120, ScaleSets: 1})
	armURL, stopARM, err := arm.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopARM()
	nova := openstacksim.New(openstacksim.Options{Seed: 13, Size: 120})
	novaURL, stopNova, err := nova.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopNova()

	// The default drivers, the Azure one trusting the simulator's CA.
	m, value, api := serveInProcess(t, sources.NewRegistry(aws.Driver{}, gcp.Driver{}, azure.Driver{HTTPClient: arm.Client()}, openstack.Driver{}))

	if code := call(t, api, "POST", "/inventories", map[string]any{"name": "e2e"}, nil); code != 201 {
		t.Fatalf("create inventory: %d", code)
	}
	// Every source syncs with a credential held by the broker.
	for _, cred := range []map[string]any{
		{"name": "aws", "type": "aws", "fields": map[string]string{"access_key_id": simAccessKey, "secret_access_key": simSecretKey}},
		{"name": "gcp", "type": "gcp", "fields": map[string]string{"service_account_json": string(gce.KeyFile(gceURL))}},
		{"name": "azure", "type": "azure", "fields": map[string]string{"tenant_id": arm.TenantID(), "client_id": arm.ClientID(), "client_secret": arm.ClientSecret()}},
		{"name": "openstack", "type": "openstack", "fields": map[string]string{
			"auth_url": openstacksim.AuthURL(novaURL), "username": openstacksim.DefaultUser, "password": openstacksim.DefaultPassword,
			"user_domain_name": "Default", "project_name": "demo", "project_domain_name": "Default"}},
	} {
		if code := call(t, api, "POST", "/credentials", cred, nil); code != 201 {
			t.Fatalf("create credential %s: %d", cred["name"], code)
		}
	}
	sourcesToSync := []map[string]any{
		{"name": "ec2", "provider": "aws", "credential": "aws", "config": map[string]any{
			"plugin":       "amazon.aws.aws_ec2",
			"regions":      []string{"us-east-1", "us-west-2", "eu-central-1"},
			"endpoint_url": ec2URL,
			"hostnames":    []any{"tag:Name", "private-dns-name"},
			"compose":      map[string]any{"ansible_host": "private_ip_address"},
			"groups":       map[string]any{"webservers": "tags.Role | default('') == 'web'"},
			"keyed_groups": []any{
				map[string]any{"prefix": "tag", "key": "tags"},
				map[string]any{"prefix": "aws_region", "key": "placement.region"},
				map[string]any{"key": "tags['Env']", "prefix": "env", "parent_group": "environments"},
				map[string]any{"key": `security_groups|json_query("[].group_id")`, "prefix": "security_groups"},
			},
		}},
		{"name": "gce", "provider": "gcp", "credential": "gcp", "config": map[string]any{
			"plugin": "google.cloud.gcp_compute", "projects": []string{"e2e-prod", "e2e-dev"}, "endpoint_url": gceURL,
			"hostnames":    []any{"name"},
			"keyed_groups": []any{map[string]any{"prefix": "gcp", "key": "labels"}, map[string]any{"prefix": "status", "key": "status | lower"}},
			"compose":      map[string]any{"ansible_host": "networkInterfaces[0].networkIP"},
		}},
		// A pasted azure_rm file: conditional_groups is the plugin's name.
		{"name": "vms", "provider": "azure", "credential": "azure", "config": map[string]any{
			"plugin": "azure.azcollection.azure_rm", "subscriptions": arm.Fleet().Subscriptions(), "include_vmss": true,
			"authority_host": armURL, "arm_endpoint": armURL,
			"keyed_groups":       []any{map[string]any{"prefix": "tag", "key": "tags"}, map[string]any{"prefix": "azure_loc", "key": "location"}},
			"conditional_groups": map[string]any{"linux": "os_profile.system == 'linux'"},
		}},
		// The openstack plugin's legacy groups, on by default.
		{"name": "nova", "provider": "openstack", "credential": "openstack", "config": map[string]any{
			"plugin": "openstack.cloud.openstack", "projects": []string{"demo"},
		}},
	}
	for _, body := range sourcesToSync {
		var src struct {
			ID string `json:"id"`
		}
		if code := call(t, api, "POST", "/inventories/e2e/sources", body, &src); code != 201 {
			t.Fatalf("create source %s: %d", body["name"], code)
		}
		var run struct {
			ID     string         `json:"id"`
			Status string         `json:"status"`
			Error  string         `json:"error"`
			Counts map[string]int `json:"counts"`
		}
		if code := call(t, api, "POST", "/sources/"+src.ID+"/syncs", nil, &run); code != 202 {
			t.Fatalf("trigger: %d", code)
		}
		for deadline := time.Now().Add(60 * time.Second); !roster.SyncStatus(run.Status).Done(); {
			if time.Now().After(deadline) {
				t.Fatalf("sync did not finish: %+v", run)
			}
			time.Sleep(50 * time.Millisecond)
			call(t, api, "GET", "/syncs/"+run.ID, nil, &run)
		}
		if run.Status != "succeeded" || run.Counts["added"] == 0 {
			t.Fatalf("sync of %s: %+v", body["name"], run)
		}
	}

	// What the API serves.
	var served map[string]json.RawMessage
	call(t, api, "GET", "/inventories/e2e/ansible", nil, &served)

	// What Ansible sees through the script.
	env := append(os.Environ(),
		"ROSTER_URL="+m.URL,
		"ROSTER_TOKEN="+value.Reveal(),
		"ROSTER_INVENTORY=e2e",
		"ANSIBLE_LOCAL_TEMP="+t.TempDir(),
		"ANSIBLE_INVENTORY_ENABLED=script",
		"HOME="+t.TempDir(),
	)
	cmd := exec.Command(ansibleInventory, "-i", script, "--list", "--export")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory: %v\n%s", err, stderr.String())
	}
	// The openstack plugin's legacy group names ("flavor-m1.small") draw
	// Ansible's warning about invalid characters, as with the plugin itself;
	// any other warning is a defect.
	for _, line := range strings.Split(strings.TrimSpace(stderr.String()), "\n") {
		if strings.Contains(line, "WARNING") && !strings.Contains(line, "Invalid characters were found in group names") {
			t.Errorf("ansible-inventory warned:\n%s", stderr.String())
		}
	}
	var seen map[string]json.RawMessage
	if err := json.Unmarshal(out, &seen); err != nil {
		t.Fatalf("ansible-inventory output: %v", err)
	}

	servedVars := hostvars(t, served)
	seenVars := hostvars(t, seen)
	if len(seenVars) != len(servedVars) || len(seenVars) == 0 {
		t.Fatalf("ansible sees %d hosts, the API serves %d", len(seenVars), len(servedVars))
	}
	for name, vars := range servedVars {
		if !jsonEqual(vars, seenVars[name]) {
			t.Fatalf("host %s: ansible sees vars\n%s\nthe API serves\n%s", name, seenVars[name], vars)
		}
	}
	servedGroups, seenGroups := groupHosts(t, served), groupHosts(t, seen)
	for _, g := range []string{"webservers", "aws_ec2", "env_prod", "aws_region_us_west_2", "status_running", "gcp_env_prod", "RegionOne", "flavor-m1.small", "linux"} {
		if len(servedGroups[g]) == 0 {
			t.Fatalf("group %s is empty: the comparison proves little", g)
		}
	}
	for g, hosts := range servedGroups {
		if !slices.Equal(hosts, seenGroups[g]) {
			t.Fatalf("group %s: ansible sees %v, the API serves %v", g, seenGroups[g], hosts)
		}
	}
	// Ansible can connect: every Azure host has the azure_rm plugin's
	// ansible_host (its first public IPv4, else its first private one)
	// and every OpenStack host the openstack plugin's, where Ansible
	// reads them.
	azureHosts := 0
	for g, hosts := range seenGroups {
		if !strings.HasPrefix(g, "azure_loc_") {
			continue
		}
		for _, h := range hosts {
			var v struct {
				AnsibleHost any      `json:"ansible_host"`
				Public      []string `json:"public_ipv4_address"`
				Private     []string `json:"private_ipv4_addresses"`
			}
			if err := json.Unmarshal(seenVars[h], &v); err != nil {
				t.Fatalf("azure host %s: %v", h, err)
			}
			want := v.Private[0]
			if len(v.Public) > 0 {
				want = v.Public[0]
			}
			if v.AnsibleHost != want {
				t.Fatalf("azure host %s: ansible sees ansible_host %v, want %s", h, v.AnsibleHost, want)
			}
			azureHosts++
		}
	}
	openstackHosts := 0
	for _, h := range seenGroups["RegionOne"] {
		var v struct {
			AnsibleHost    any `json:"ansible_host"`
			AnsibleSSHHost any `json:"ansible_ssh_host"`
			OpenStack      any `json:"openstack"`
		}
		json.Unmarshal(seenVars[h], &v)
		if v.OpenStack == nil {
			continue // a name another source took first: its vars are that source's
		}
		if a, _ := v.AnsibleHost.(string); a == "" || v.AnsibleSSHHost != a {
			t.Fatalf("openstack host %s: ansible_host %v, ansible_ssh_host %v", h, v.AnsibleHost, v.AnsibleSSHHost)
		}
		openstackHosts++
	}
	if azureHosts == 0 || openstackHosts == 0 {
		t.Fatalf("%d azure hosts, %d openstack hosts: the check proves little", azureHosts, openstackHosts)
	}

	var envs struct {
		Children []string `json:"children"`
	}
	json.Unmarshal(seen["environments"], &envs)
	if !slices.Contains(envs.Children, "env_prod") {
		t.Fatalf("ansible does not see env_prod under environments: %s", seen["environments"])
	}

	// --host through ansible's own lookup of one host.
	var anyHost string
	for name := range servedVars {
		anyHost = name
		break
	}
	cmd = exec.Command(ansibleInventory, "-i", script, "--host", anyHost)
	cmd.Env = env
	out, err = cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory --host: %v", err)
	}
	if !jsonEqual(out, servedVars[anyHost]) {
		t.Fatalf("--host %s: %s", anyHost, out)
	}

	// A wrong token: ansible fails, and the script said why in one line.
	cmd = exec.Command(script, "--list")
	cmd.Env = append(env, "ROSTER_TOKEN=rst_wrong")
	stderr.Reset()
	cmd.Stderr = &stderr
	if err := cmd.Run(); err == nil {
		t.Fatal("roster-inventory succeeded with a wrong token")
	}
	if lines := strings.Split(strings.TrimSpace(stderr.String()), "\n"); len(lines) != 1 || !strings.Contains(lines[0], "token was refused") {
		t.Fatalf("stderr = %q, want one line about the token", stderr.String())
	}
}

func hostvars(t *testing.T, doc map[string]json.RawMessage) map[string]json.RawMessage {
	t.Helper()
	var meta struct {
		Hostvars map[string]json.RawMessage `json:"hostvars"`
	}
	if err := json.Unmarshal(doc["_meta"], &meta); err != nil {
		t.Fatalf("_meta: %v", err)
	}
	return meta.Hostvars
}

// groupHosts maps each group to its sorted direct hosts.
func groupHosts(t *testing.T, doc map[string]json.RawMessage) map[string][]string {
	t.Helper()
	out := map[string][]string{}
	for name, raw := range doc {
		if name == "_meta" {
			continue
		}
		var g struct {
			Hosts []string `json:"hosts"`
		}
		if err := json.Unmarshal(raw, &g); err != nil {
			t.Fatalf("group %s: %v", name, err)
		}
		if len(g.Hosts) > 0 {
			slices.Sort(g.Hosts)
			out[name] = g.Hosts
		}
	}
	return out
}

func jsonEqual(a, b []byte) bool {
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	return fmt.Sprint(x) == fmt.Sprint(y)
}
