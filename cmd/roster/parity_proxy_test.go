package main

import (
	"bytes"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/cloudsim/intercept"
	"github.com/rosterhq/roster/internal/testenv"
)

// The helpers of the plugin parity tests whose plugins hard-code a
// cloud's public hostnames (gcp_compute, azure_rm): the plugin runs with
// HTTPS_PROXY naming an intercepting proxy in front of the simulator and
// REQUESTS_CA_BUNDLE naming the proxy's CA, in its own process only.

// pluginProxy starts an intercepting proxy for hosts in front of sim and
// returns the environment a plugin process needs to reach it: the
// proxy, the CA file, and no variable that could bypass either.
func pluginProxy(t *testing.T, sim http.Handler, hosts ...string) []string {
	t.Helper()
	p, err := intercept.New(intercept.Options{Hosts: hosts, Handler: sim})
	must(t, err)
	proxyURL, stop, err := p.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	t.Cleanup(stop)
	ca := filepath.Join(t.TempDir(), "intercept-ca.pem")
	must(t, os.WriteFile(ca, p.CACertificatePEM(), 0o644))
	return []string{"HTTPS_PROXY=" + proxyURL, "https_proxy=" + proxyURL, "REQUESTS_CA_BUNDLE=" + ca}
}

// proxyVariables are dropped from a plugin's environment before the
// test's own are added: a NO_PROXY listing the clouds' hosts (or "*")
// would send the plugin past the simulator, to the real cloud.
var proxyVariables = []string{"HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "NO_PROXY"}

// runPlugin writes config as the plugin file name in a fresh directory
// and returns what `ansible-inventory -i FILE --list` prints, run with
// the user's environment (testenv.UserEnv) without proxy variables, plus
// env. The plugin must list at least one host.
func runPlugin(t *testing.T, ansibleInventory, name string, config map[string]any, env ...string) ansibleList {
	t.Helper()
	dir := t.TempDir()
	file := filepath.Join(dir, name)
	b, err := json.Marshal(config) // JSON is YAML
	must(t, err)
	must(t, os.WriteFile(file, b, 0o600))
	cmd := exec.CommandContext(t.Context(), ansibleInventory, "-i", file, "--list")
	cmd.Dir = dir
	for _, kv := range testenv.UserEnv() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(proxyVariables, strings.ToUpper(name)) {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, "ANSIBLE_LOCAL_TEMP="+dir, "ANSIBLE_HOME="+dir)
	cmd.Env = append(cmd.Env, env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ansible-inventory with %s: %v\n%s", name, err, stderr.String())
	}
	l := parseAnsibleList(t, out)
	if len(l.hostvars) == 0 {
		t.Fatalf("the plugin listed no host: the case proves nothing\n%s", stderr.String())
	}
	return l
}

// rosterList creates inventory inv with one source of provider from
// config, syncs it and returns its Ansible document, with the disabled
// hosts when all.
func rosterList(t *testing.T, api *client.Client, inv, provider, credential string, config map[string]any, all bool) ansibleList {
	t.Helper()
	if code := call(t, api, "POST", "/inventories", map[string]any{"name": inv}, nil); code != 201 {
		t.Fatalf("create inventory: %d", code)
	}
	var src struct{ ID string }
	if code := call(t, api, "POST", "/inventories/"+inv+"/sources", map[string]any{"name": provider, "provider": provider,
		"credential": credential, "config": config}, &src); code != 201 {
		t.Fatalf("create source: %d", code)
	}
	syncAndWait(t, api, src.ID)
	var doc json.RawMessage
	path := "/inventories/" + url.PathEscape(inv) + "/ansible"
	if all {
		path += "?all=true"
	}
	if code := call(t, api, "GET", path, nil, &doc); code != 200 {
		t.Fatalf("ansible document: %d", code)
	}
	return parseAnsibleList(t, doc)
}

// withoutKeys returns config without the named options.
func withoutKeys(config map[string]any, keys ...string) map[string]any {
	c := maps.Clone(config)
	for _, k := range keys {
		delete(c, k)
	}
	return c
}
