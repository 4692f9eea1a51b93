package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/ansibleinv"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// userEnv is the environment of a user's shell: testenv.UserEnv without
// any ROSTER_* or ANSIBLE_* setting, and with a HOME of its own; extra is
// added.
func userEnv(t *testing.T, extra ...string) []string {
	t.Helper()
	env := slices.DeleteFunc(testenv.UserEnv(), func(kv string) bool {
		name, _, _ := strings.Cut(kv, "=")
		return name == "HOME" || name == "XDG_CONFIG_HOME" || strings.HasPrefix(name, "ROSTER_") || strings.HasPrefix(name, "ANSIBLE_")
	})
	home := t.TempDir()
	return append(env, append([]string{"HOME=" + home, "ANSIBLE_LOCAL_TEMP=" + filepath.Join(home, "tmp")}, extra...)...)
}

// build builds commands of this module (by their directory under cmd/)
// into a directory, which it returns.
func build(t *testing.T, commands ...string) string {
	t.Helper()
	bin := t.TempDir()
	args := []string{"build", "-o", bin + string(filepath.Separator)}
	for _, c := range commands {
		args = append(args, "./cmd/"+c)
	}
	cmd := exec.Command("go", args...)
	cmd.Dir = "../.."
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// rosterServer is a `roster serve` process.
type rosterServer struct {
	URL    string
	Admin  roster.Secret // a token to set the inventory up with
	Runner roster.Secret // a token such as Ansible is given
	stop   func()
}

// startRoster creates an admin token and starts `roster serve` on a new
// data directory, as a user would. (The runner's token is made with the
// inventory it reads: syncOpenStackFleet.)
func startRoster(t *testing.T, rosterBin string) *rosterServer {
	t.Helper()
	data := t.TempDir()
	env := userEnv(t)
	token := func(name, role string) roster.Secret {
		create := exec.Command(rosterBin, "token", "create", "--name", name, "--role", role, "--data-dir", data)
		create.Env = env
		out, err := create.Output()
		if err != nil {
			t.Fatalf("roster token create: %v", err)
		}
		return roster.Secret(strings.TrimSpace(string(out)))
	}
	admin := token("ops", "admin")

	serve := exec.Command(rosterBin, "serve", "--data-dir", data, "--listen", "127.0.0.1:0", "--log-format", "json")
	serve.Env = env
	logPath := filepath.Join(data, "serve.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close() // the child has its own copy
	serve.Stdout, serve.Stderr = logFile, logFile
	if err := serve.Start(); err != nil {
		t.Fatal(err)
	}
	logs := func() string {
		b, _ := os.ReadFile(logPath)
		return string(b)
	}
	exited := make(chan error, 1)
	go func() { exited <- serve.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			serve.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(15 * time.Second):
				serve.Process.Kill()
				<-exited
			}
		})
	}
	t.Cleanup(func() {
		stop()
		if t.Failed() {
			t.Logf("roster serve's log:\n%s", logs())
		}
	})
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		sc := bufio.NewScanner(strings.NewReader(logs()))
		for sc.Scan() {
			var line struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "roster serving" {
				return &rosterServer{URL: line.URL, Admin: admin, stop: stop}
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("roster serve exited: %v\n%s", err, logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster serve did not start:\n%s", logs())
		}
	}
}

// syncOpenStackFleet gives the server an inventory "prod" synced from a
// simulated OpenStack cloud, with group vars, and returns the document
// the API serves for it.
func syncOpenStackFleet(t *testing.T, srv *rosterServer) map[string]json.RawMessage {
	t.Helper()
	nova := openstacksim.New(openstacksim.Options{Seed: 21, Size: 60})
	novaURL, stopNova, err := nova.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopNova)

	api := client.New(srv.URL, srv.Admin)
	do := func(method, path string, body, out any) {
		t.Helper()
		if err := api.Do(t.Context(), method, path, body, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	do("POST", "/inventories", map[string]any{"name": "prod"}, nil)
	// Ansible's token reads prod, and nothing else.
	var runner struct {
		Value string `json:"value"`
	}
	do("POST", "/tokens", map[string]any{"name": "ansible", "role": "runner", "inventories": []string{"prod"}}, &runner)
	srv.Runner = roster.Secret(runner.Value)
	do("POST", "/credentials", map[string]any{"name": "openstack", "type": "openstack", "fields": map[string]string{
		"auth_url": openstacksim.AuthURL(novaURL), "username": openstacksim.DefaultUser, "password": openstacksim.DefaultPassword,
		"user_domain_name": "Default", "project_name": "demo", "project_domain_name": "Default"}}, nil)
	var src struct {
		ID string `json:"id"`
	}
	do("POST", "/inventories/prod/sources", map[string]any{"name": "nova", "provider": "openstack", "credential": "openstack",
		"config": map[string]any{"plugin": "openstack.cloud.openstack", "projects": []string{"demo"}}}, &src)
	var run struct {
		ID     string         `json:"id"`
		Status string         `json:"status"`
		Error  string         `json:"error"`
		Counts map[string]int `json:"counts"`
	}
	do("POST", "/sources/"+src.ID+"/syncs", nil, &run)
	for deadline := time.Now().Add(60 * time.Second); !roster.SyncStatus(run.Status).Done(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not finish: %+v", run)
		}
		do("GET", "/syncs/"+run.ID, nil, &run)
	}
	if run.Status != "succeeded" || run.Counts["added"] == 0 {
		t.Fatalf("sync: %+v", run)
	}
	var served map[string]json.RawMessage
	do("GET", "/inventories/prod/ansible", nil, &served)
	var groups []string
	for name, raw := range served {
		var g group
		json.Unmarshal(raw, &g)
		if name != "_meta" && name != "ungrouped" && len(g.Hosts) > 0 {
			groups = append(groups, name)
		}
	}
	slices.Sort(groups)
	if len(groups) < 2 {
		t.Fatalf("the synced inventory has groups %v: the comparison would prove little", groups)
	}
	do("PUT", "/inventories/prod/groups/all/vars", map[string]any{"ansible_user": "deploy"}, nil)
	do("PUT", "/inventories/prod/groups/"+groups[0]+"/vars", map[string]any{"monitored": true, "tier": map[string]any{"name": "a"}}, nil)
	do("GET", "/inventories/prod/ansible", nil, &served)
	if n := len(hostvars(t, served)); n == 0 {
		t.Fatal("the inventory has no hosts: the comparison would prove little")
	}
	return served
}

// install copies the script into a directory of its own, as a user
// copies it to /usr/local/bin.
func install(t *testing.T, script string) string {
	t.Helper()
	b, err := os.ReadFile(script)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "bin", "roster-inventory")
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o755); err != nil {
		t.Fatal(err)
	}
	return path
}

// ansibleInventory runs the real ansible-inventory from a directory that
// is neither the script's nor the test's, as Ansible users do.
func ansibleInventory(t *testing.T, env []string, args ...string) (stdout []byte, stderr string, err error) {
	t.Helper()
	cmd := exec.Command(testenv.AnsibleInventory(t), args...)
	cmd.Dir = t.TempDir()
	cmd.Env = env
	var errBuf bytes.Buffer
	cmd.Stderr = &errBuf
	stdout, err = cmd.Output()
	return stdout, errBuf.String(), err
}

// TestAnsibleRunsTheScriptByPath: the real ansible-inventory calls the
// installed script by its absolute path from another directory, with the
// settings from the environment, then from the config file beside the
// script, and sees the inventory the API serves; when Roster is down or
// answers something that is not an inventory, ansible-inventory fails
// (with unparsed_is_failed, as the README says) and shows the script's
// one-line reason.
func TestAnsibleRunsTheScriptByPath(t *testing.T) {
	testenv.AnsibleInventory(t)
	bin := build(t, "roster", "roster-inventory")
	srv := startRoster(t, filepath.Join(bin, "roster"))
	served := syncOpenStackFleet(t, srv)
	script := install(t, filepath.Join(bin, "roster-inventory"))
	tokenFile := filepath.Join(t.TempDir(), "roster-token")
	if err := os.WriteFile(tokenFile, []byte(srv.Runner.Reveal()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}

	t.Run("settings from the environment", func(t *testing.T) {
		env := userEnv(t, "ROSTER_URL="+srv.URL, "ROSTER_TOKEN_FILE="+tokenFile, "ROSTER_INVENTORY=prod")
		out, stderr, err := ansibleInventory(t, env, "-i", script, "--list", "--export")
		if err != nil {
			t.Fatalf("ansible-inventory: %v\n%s", err, stderr)
		}
		sameInventory(t, served, out)

		var anyHost string
		for name := range hostvars(t, served) {
			anyHost = name
			break
		}
		out, stderr, err = ansibleInventory(t, env, "-i", script, "--host", anyHost)
		if err != nil {
			t.Fatalf("ansible-inventory --host: %v\n%s", err, stderr)
		}
		// Without --export, Ansible merges the group vars into the host's.
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil || got["ansible_user"] != "deploy" {
			t.Fatalf("ansible-inventory --host %s: %v\n%s", anyHost, err, out)
		}
	})

	t.Run("settings from the config file beside the script", func(t *testing.T) {
		dir := filepath.Dir(script)
		if err := os.WriteFile(filepath.Join(dir, "roster-token"), []byte(srv.Runner.Reveal()), 0o600); err != nil {
			t.Fatal(err)
		}
		config := fmt.Sprintf("url: %s\ninventory: prod\ntoken_file: roster-token\ntimeout: 30s\n", srv.URL)
		if err := os.WriteFile(filepath.Join(dir, "roster-inventory.yaml"), []byte(config), 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.Remove(filepath.Join(dir, "roster-inventory.yaml")) })
		out, stderr, err := ansibleInventory(t, userEnv(t), "-i", script, "--list", "--export")
		if err != nil {
			t.Fatalf("ansible-inventory: %v\n%s", err, stderr)
		}
		sameInventory(t, served, out)
	})

	// A page that is not an inventory, as a proxy or Roster cut short would
	// send; and Roster itself, down.
	html := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		io.WriteString(w, "<!doctype html><title>Sign in</title><form>...</form>")
	}))
	defer html.Close()
	empty := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, "{}")
	}))
	defer empty.Close()
	truncated := truncatingServer(t, served)

	failures := []struct {
		name, url, want string
	}{
		{"an HTML page", html.URL, "the answer is text/html, not JSON"},
		{"JSON that is no inventory", empty.URL, "the answer is not an Ansible inventory: it has no _meta.hostvars"},
		{"a truncated document", truncated, "the document was cut short after"},
		{"Roster down", srv.URL, "connection refused"},
	}
	for _, tc := range failures {
		t.Run(tc.name, func(t *testing.T) {
			if tc.url == srv.URL {
				srv.stop()
			}
			env := userEnv(t, "ROSTER_URL="+tc.url, "ROSTER_TOKEN_FILE="+tokenFile, "ROSTER_INVENTORY=prod")
			line := fmt.Sprintf("roster-inventory: read inventory %q from %s: %s", "prod", tc.url, tc.want)

			// The script alone: status 1, nothing on stdout, the line on stderr.
			cmd := exec.Command(script, "--list")
			cmd.Dir, cmd.Env = t.TempDir(), env
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			out, err := cmd.Output()
			if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 1 || len(out) != 0 ||
				strings.Count(stderr.String(), "\n") != 1 || !strings.HasPrefix(stderr.String(), line) {
				t.Fatalf("roster-inventory --list: %v, stdout %d bytes, stderr %q; want status 1, no output and %q", err, len(out), stderr.String(), line)
			}

			// Ansible, told to treat an unparsable inventory as fatal, fails
			// and passes the line on.
			out, ansibleErr, err := ansibleInventory(t, append(env, "ANSIBLE_INVENTORY_UNPARSED_FAILED=true"), "-i", script, "--list")
			if err == nil {
				t.Fatalf("ansible-inventory succeeded:\n%s\n%s", ansibleErr, out)
			}
			if !strings.Contains(squeeze(ansibleErr), squeeze(line)) {
				t.Fatalf("ansible-inventory's errors do not show %q:\n%s", line, ansibleErr)
			}

			// With a second, good inventory source, any_unparsed_is_failed
			// (in ansible.cfg, as the README shows) makes it fatal too.
			cfgDir := t.TempDir()
			hosts := filepath.Join(cfgDir, "static.ini")
			cfg := filepath.Join(cfgDir, "ansible.cfg")
			if err := os.WriteFile(hosts, []byte("[static]\nlocal1 ansible_connection=local\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(cfg, []byte("[inventory]\nany_unparsed_is_failed = True\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, ansibleErr, err := ansibleInventory(t, append(env, "ANSIBLE_CONFIG="+cfg), "-i", hosts, "-i", script, "--list"); err == nil {
				t.Fatalf("ansible-inventory with a good and a failing source succeeded under any_unparsed_is_failed:\n%s", ansibleErr)
			}
			// (Without it, Ansible goes on with the good source alone.)
			if _, ansibleErr, err := ansibleInventory(t, env, "-i", hosts, "-i", script, "--list"); err != nil {
				t.Fatalf("ansible-inventory without any_unparsed_is_failed: %v\n%s", err, ansibleErr)
			}
		})
	}
}

// truncatingServer serves the first half of the document, declaring its
// whole length: net/http then closes the connection, as when a proxy or
// Roster dies mid-answer.
func truncatingServer(t *testing.T, doc map[string]json.RawMessage) string {
	t.Helper()
	body, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(len(body)))
		w.Write(body[:len(body)/2])
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// squeeze drops all white space: Ansible wraps its messages.
func squeeze(s string) string {
	return strings.Join(strings.Fields(s), "")
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

type group struct {
	Hosts []string       `json:"hosts"`
	Vars  map[string]any `json:"vars"`
}

// sameInventory checks that ansible-inventory's --list --export output
// has the hosts, host vars, group members and group vars served.
func sameInventory(t *testing.T, served map[string]json.RawMessage, ansibleOut []byte) {
	t.Helper()
	var seen map[string]json.RawMessage
	if err := json.Unmarshal(ansibleOut, &seen); err != nil {
		t.Fatalf("ansible-inventory output: %v\n%s", err, ansibleOut)
	}
	servedVars, seenVars := hostvars(t, served), hostvars(t, seen)
	if len(seenVars) != len(servedVars) {
		t.Fatalf("ansible sees %d hosts, the API serves %d", len(seenVars), len(servedVars))
	}
	for name, vars := range servedVars {
		if !jsonEqual(t, vars, seenVars[name]) {
			t.Fatalf("host %s: ansible sees vars\n%s\nthe API serves\n%s", name, seenVars[name], vars)
		}
	}
	withHosts, withVars := 0, 0
	for name, raw := range served {
		if name == "_meta" {
			continue
		}
		var want, got group
		json.Unmarshal(raw, &want)
		json.Unmarshal(seen[name], &got)
		slices.Sort(want.Hosts)
		slices.Sort(got.Hosts)
		if !slices.Equal(want.Hosts, got.Hosts) || !reflect.DeepEqual(want.Vars, got.Vars) {
			t.Fatalf("group %s: ansible sees %s, the API serves %s", name, seen[name], raw)
		}
		if len(want.Hosts) > 0 {
			withHosts++
		}
		if len(want.Vars) > 0 {
			withVars++
		}
	}
	if withHosts < 2 || withVars < 2 {
		t.Fatalf("%d groups with hosts, %d with vars: the comparison proves little", withHosts, withVars)
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		return false
	}
	return reflect.DeepEqual(x, y)
}

// bigInventory writes a valid --list document of about size bytes: hosts
// with some 2 KB of vars each, as Roster's are, in a few groups.
func bigInventory(w io.Writer, size int) (int64, error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	n := int64(0)
	write := func(s string) {
		k, _ := bw.WriteString(s)
		n += int64(k)
	}
	vars := fmt.Sprintf(`{"ansible_host":"10.0.0.1","tags":{"Name":"x","Env":"prod"},"blob":%q}`, strings.Repeat("v", 1900))
	hosts := size / (len(vars) + 30)
	write(`{"_meta":{"hostvars":{`)
	for i := range hosts {
		if i > 0 {
			write(",")
		}
		write(fmt.Sprintf(`"host-%07d":%s`, i, vars))
	}
	write(`}}`)
	for g := range 4 {
		write(fmt.Sprintf(`,"group%d":{"hosts":[`, g))
		for i := g; i < hosts; i += 4 {
			if i > g {
				write(",")
			}
			write(fmt.Sprintf(`"host-%07d"`, i))
		}
		write(`]}`)
	}
	write(`,"all":{"children":["group0","group1","group2","group3"]}}` + "\n")
	return n, bw.Flush()
}

// BenchmarkFetch measures what checking the document costs: the script's
// Fetch (check while keeping a copy in a temporary file, then print it)
// against the bare copy it replaced, on a document of 20,000 hosts.
func BenchmarkFetch(b *testing.B) {
	var doc bytes.Buffer
	bigInventory(&doc, 40<<20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(doc.Bytes())
	}))
	defer srv.Close()
	b.Run("copy", func(b *testing.B) {
		b.SetBytes(int64(doc.Len()))
		for b.Loop() {
			resp, err := http.Get(srv.URL)
			if err != nil {
				b.Fatal(err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	})
	b.Run("checked", func(b *testing.B) {
		c := ansibleinv.Config{URL: srv.URL, Token: "rst_bench", Inventory: "prod"}
		b.SetBytes(int64(doc.Len()))
		for b.Loop() {
			if err := ansibleinv.Fetch(b.Context(), c, "", io.Discard); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// recordingProxy passes requests to a server, recording each answer's
// status and the If-None-Match it was asked with.
type recordingProxy struct {
	URL string
	mu  sync.Mutex
	log []string // "status if-none-match" or "status plain"
}

func newRecordingProxy(t *testing.T, target string) *recordingProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &recordingProxy{}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ModifyResponse = func(resp *http.Response) error {
		p.mu.Lock()
		p.log = append(p.log, fmt.Sprintf("%d %s", resp.StatusCode, map[bool]string{true: "if-none-match", false: "plain"}[resp.Request.Header.Get("If-None-Match") != ""]))
		p.mu.Unlock()
		return nil
	}
	srv := httptest.NewServer(rp)
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	return p
}

// take returns the answers recorded since the last call.
func (p *recordingProxy) take() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	log := p.log
	p.log = nil
	return log
}

// TestCacheByETag: roster-inventory keeps the document in the user's
// cache and, while Roster answers 304 to its ETag, prints the kept copy,
// identical to what Roster serves; a change is fetched, a damaged entry
// is ignored, each token has an entry of its own named without it, and
// ROSTER_CACHE=off keeps nothing.
func TestCacheByETag(t *testing.T) {
	bin := build(t, "roster", "roster-inventory")
	srv := startRoster(t, filepath.Join(bin, "roster"))
	syncOpenStackFleet(t, srv)
	proxy := newRecordingProxy(t, srv.URL)
	script := filepath.Join(bin, "roster-inventory")
	cacheHome := t.TempDir()
	cacheDir := filepath.Join(cacheHome, "roster")
	env := userEnv(t, "ROSTER_URL="+proxy.URL, "ROSTER_TOKEN="+srv.Runner.Reveal(), "ROSTER_INVENTORY=prod", "XDG_CACHE_HOME="+cacheHome)

	// served is the document as the API serves it now, read past the proxy.
	served := func() []byte {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+"/api/v1/inventories/prod/ansible", nil)
		req.Header.Set("Authorization", "Bearer "+srv.Admin.Reveal())
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("GET the document: %v %d", err, resp.StatusCode)
		}
		return b
	}
	list := func(env []string, wantLog ...string) []byte {
		t.Helper()
		cmd := exec.Command(script, "--list")
		cmd.Dir, cmd.Env = t.TempDir(), env
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("roster-inventory --list: %v: %s", err, stderr.String())
		}
		if want := served(); !bytes.Equal(out, want) {
			t.Fatalf("roster-inventory printed %d bytes, not the %d the API serves", len(out), len(want))
		}
		if log := proxy.take(); !slices.Equal(log, wantLog) {
			t.Fatalf("Roster answered %q, want %q", log, wantLog)
		}
		return out
	}
	entries := func() []string {
		t.Helper()
		des, err := os.ReadDir(cacheDir)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, de := range des {
			fi, _ := de.Info()
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("%s has mode %v, want 0600", de.Name(), fi.Mode())
			}
			b, _ := os.ReadFile(filepath.Join(cacheDir, de.Name()))
			if strings.Contains(de.Name(), srv.Runner.Reveal()) || bytes.Contains(b, []byte(srv.Runner.Reveal())) {
				t.Fatalf("the cache entry %s shows the token", de.Name())
			}
			names = append(names, filepath.Join(cacheDir, de.Name()))
		}
		return names
	}

	list(env, "200 plain")
	if fi, err := os.Stat(cacheDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("the cache directory: %v %v, want mode 0700", fi, err)
	}
	kept := entries()
	if len(kept) != 1 {
		t.Fatalf("cache entries %v, want one", kept)
	}
	// Unchanged: Roster answers 304 to the kept ETag, the kept copy is printed.
	list(env, "304 if-none-match")
	list(env, "304 if-none-match")

	// A change of the inventory is fetched and replaces the entry.
	if err := client.New(srv.URL, srv.Admin).Do(t.Context(), "PUT", "/inventories/prod/groups/all/vars", map[string]any{"ansible_user": "changed"}, nil); err != nil {
		t.Fatal(err)
	}
	out := list(env, "200 if-none-match")
	if !bytes.Contains(out, []byte(`"changed"`)) {
		t.Fatal("the change is not in the document printed")
	}
	if now := entries(); len(now) != 1 || now[0] != kept[0] {
		t.Fatalf("cache entries %v after a change, want %v", now, kept)
	}

	// A damaged entry (a byte changed, or cut short) is not offered.
	for _, damage := range []func(path string){
		func(path string) {
			f, _ := os.OpenFile(path, os.O_RDWR, 0)
			f.WriteAt([]byte("X"), 100)
			f.Close()
		},
		func(path string) { os.Truncate(path, 1000) },
	} {
		damage(kept[0])
		list(env, "200 plain")
	}

	// Ten readers at once share the entry.
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	want := served()
	for range 10 {
		wg.Go(func() {
			cmd := exec.Command(script, "--list")
			cmd.Env = env
			out, err := cmd.Output()
			if err == nil && !bytes.Equal(out, want) {
				err = fmt.Errorf("printed %d bytes, want %d", len(out), len(want))
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("one of ten readers at once: %v", err)
		}
	}
	for _, l := range proxy.take() {
		if l != "304 if-none-match" {
			t.Fatalf("ten readers of an unchanged inventory: Roster answered %q", l)
		}
	}

	// Another token has an entry of its own.
	admin := slices.Clone(env)
	admin = append(admin, "ROSTER_TOKEN="+srv.Admin.Reveal())
	list(admin, "200 plain")
	if n := len(entries()); n != 2 {
		t.Fatalf("%d cache entries for two tokens, want 2", n)
	}

	// ROSTER_CACHE=off: no If-None-Match, nothing kept.
	offHome := t.TempDir()
	off := append(slices.Clone(env), "ROSTER_CACHE=off", "XDG_CACHE_HOME="+offHome)
	list(off, "200 plain")
	list(off, "200 plain")
	if des, _ := os.ReadDir(offHome); len(des) != 0 {
		t.Fatalf("ROSTER_CACHE=off left %v", des)
	}
}
