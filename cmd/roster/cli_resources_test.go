package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// cliEnv runs the built roster binary as a user would, in a clean world:
// a HOME of its own (no contexts file unless the test writes one) and no
// ROSTER_* from the test's environment.
type cliEnv struct {
	t   *testing.T
	bin string
	env []string
}

func newCLIEnv(t *testing.T, bin string, env ...string) *cliEnv {
	var clean []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "ROSTER_") || strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "XDG_CONFIG_HOME=") {
			continue
		}
		clean = append(clean, kv)
	}
	return &cliEnv{t: t, bin: bin, env: append(append(clean, "HOME="+t.TempDir()), env...)}
}

// run runs roster with args (and stdin, when given), returning what it
// printed and its exit status.
func (e *cliEnv) run(stdin string, args ...string) (stdout, stderr string, code int) {
	e.t.Helper()
	cmd := exec.Command(e.bin, args...)
	cmd.Env = e.env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), exitStatus(err)
}

// ok runs roster and fails the test unless it exits 0.
func (e *cliEnv) ok(args ...string) string {
	e.t.Helper()
	out, errOut, code := e.run("", args...)
	if code != 0 {
		e.t.Fatalf("roster %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// json runs roster with -o json and decodes what it printed into out.
func (e *cliEnv) json(out any, args ...string) {
	e.t.Helper()
	text := e.ok(append(args, "-o", "json")...)
	if err := json.Unmarshal([]byte(text), out); err != nil {
		e.t.Fatalf("roster %s -o json printed no JSON of the kind expected: %v\n%s", strings.Join(args, " "), err, text)
	}
}

// fails runs roster and fails the test unless it exits with a status
// other than 0 and says want on stderr in one line.
func (e *cliEnv) fails(want string, args ...string) int {
	e.t.Helper()
	out, errOut, code := e.run("", args...)
	if code == 0 || !strings.Contains(errOut, want) || strings.Count(strings.TrimSpace(errOut), "\n") != 0 {
		e.t.Fatalf("roster %s: exit %d\n%s%s\nwant a failure saying %q in one line", strings.Join(args, " "), code, out, errOut, want)
	}
	return code
}

// cliServer is a `roster serve` process with an admin token in a file.
type cliServer struct {
	bin, url, tokenFile string
	token               string
	sim                 simulatedCloud
}

func startCLIServer(t *testing.T) *cliServer {
	t.Helper()
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	sim := simulateCloud(t, bin, "aws", 40)
	db := filepath.Join(t.TempDir(), "roster.db")
	node := startNode(t, bin, "roster", db, sim.env)
	token := adminToken(t, bin, "--database", db)
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	must(t, os.WriteFile(tokenFile, []byte(token.Reveal()+"\n"), 0o600))
	return &cliServer{bin: bin, url: node.url, tokenFile: tokenFile, token: token.Reveal(), sim: sim}
}

// writeJSON writes v to a file of dir and returns its path.
func writeJSON(t *testing.T, dir, name string, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	must(t, err)
	path := filepath.Join(dir, name)
	must(t, os.WriteFile(path, b, 0o600))
	return path
}

type apiObject struct {
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status string `json:"status"`
}

// TestCLIResources drives every resource kind through the built binary
// against a real server, reading -o json as a script would: create, get
// (by name and by id), list, update, delete; a sync with --wait; and the
// errors a user makes.
func TestCLIResources(t *testing.T) {
	srv := startCLIServer(t)
	cli := newCLIEnv(t, srv.bin, "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile)
	dir := t.TempDir()

	// Inventories.
	var inv struct {
		apiObject
		Description string `json:"description"`
		NamePolicy  string `json:"name_policy"`
	}
	cli.json(&inv, "inventory", "create", "prod", "--description", "production")
	if inv.Name != "prod" || inv.ID == "" || inv.Description != "production" {
		t.Fatalf("inventory create: %+v", inv)
	}
	var invs []apiObject
	cli.json(&invs, "inventory", "list")
	if len(invs) != 1 || invs[0].ID != inv.ID {
		t.Fatalf("inventory list: %+v", invs)
	}
	var byID apiObject
	cli.json(&byID, "inventory", "get", inv.ID)
	if byID.Name != "prod" {
		t.Fatalf("inventory get by id: %+v", byID)
	}
	cli.json(&inv, "inventory", "update", "prod", "--name-policy", "prefix", "--description", "prod fleet")
	if inv.NamePolicy != "prefix" || inv.Description != "prod fleet" {
		t.Fatalf("inventory update: %+v", inv)
	}
	if table := cli.ok("inventory", "list"); !regexp.MustCompile(`(?m)^NAME\s+ID\s+KIND\s+INPUTS\s+NAME POLICY\s+DESCRIPTION\s+CREATED\n` + `prod\s+` + inv.ID + `\s+plain\s+-\s+prefix\s+prod fleet\s`).MatchString(table) {
		t.Fatalf("inventory list table:\n%s", table)
	}
	yamlOut := cli.ok("inventory", "get", "prod", "-o", "yaml")
	if !strings.Contains(yamlOut, "name: prod\n") || !strings.Contains(yamlOut, "id: "+inv.ID+"\n") {
		t.Fatalf("inventory get -o yaml:\n%s", yamlOut)
	}

	// Sources: create from a plugin file, then by id, INVENTORY/NAME or name.
	config := writeJSON(t, dir, "aws_ec2.json", srv.sim.config)
	var src struct {
		apiObject
		Provider string  `json:"provider"`
		Schedule *string `json:"schedule"`
	}
	cli.json(&src, "source", "create", "prod", "ec2", "--provider", "aws", "--config", config)
	if src.Provider != "aws" || src.Name != "ec2" {
		t.Fatalf("source create: %+v", src)
	}
	for _, ref := range []string{src.ID, "prod/ec2", "ec2"} {
		var got apiObject
		cli.json(&got, "source", "get", ref)
		if got.ID != src.ID {
			t.Fatalf("source get %s: %+v", ref, got)
		}
	}
	var srcs []apiObject
	cli.json(&srcs, "source", "list", "prod")
	if len(srcs) != 1 || srcs[0].ID != src.ID {
		t.Fatalf("source list: %+v", srcs)
	}
	cli.json(&src, "source", "update", "ec2", "--schedule", "1h")
	if src.Schedule == nil || *src.Schedule != "1h" {
		t.Fatalf("source update: %+v", src)
	}

	// A sync through the API, waited for, with progress on stderr.
	out, errOut, code := cli.run("", "sync", "ec2", "--wait")
	if code != 0 || !regexp.MustCompile(`syncing ec2: \w+, \d+/\d+ scopes done, \d+ hosts seen`).MatchString(errOut) ||
		!regexp.MustCompile(`sync of ec2 succeeded in \S+: \d+ hosts seen; \d+ added`).MatchString(out) {
		t.Fatalf("sync --wait: exit %d\n%s%s", code, out, errOut)
	}
	var runs []struct {
		apiObject
		Counts struct{ Seen int } `json:"counts"`
	}
	cli.json(&runs, "run", "list", "prod/ec2")
	if len(runs) != 1 || runs[0].Status != "succeeded" || runs[0].Counts.Seen < 20 {
		t.Fatalf("run list: %+v", runs)
	}
	var run apiObject
	cli.json(&run, "run", "get", runs[0].ID)
	if run.ID != runs[0].ID || run.Status != "succeeded" {
		t.Fatalf("run get: %+v", run)
	}

	// Hosts, every page, by name and by id.
	var hosts []struct {
		ID     int64    `json:"id"`
		Name   string   `json:"name"`
		Groups []string `json:"groups"`
	}
	cli.json(&hosts, "host", "list", "prod")
	if len(hosts) != runs[0].Counts.Seen {
		t.Fatalf("host list: %d hosts, the sync saw %d", len(hosts), runs[0].Counts.Seen)
	}
	var host struct {
		ID   int64           `json:"id"`
		Name string          `json:"name"`
		Vars json.RawMessage `json:"vars"`
	}
	cli.json(&host, "host", "get", "prod", hosts[3].Name)
	if host.ID != hosts[3].ID || len(host.Vars) < 10 {
		t.Fatalf("host get by name: %+v", host)
	}
	cli.json(&host, "host", "get", "prod", strconv.FormatInt(hosts[3].ID, 10))
	if host.Name != hosts[3].Name {
		t.Fatalf("host get by id: %+v", host)
	}
	var few []json.RawMessage
	cli.json(&few, "host", "list", "prod", "--limit", "5")
	if len(few) != 5 {
		t.Fatalf("host list --limit 5: %d", len(few))
	}

	// Groups and their vars.
	var groups []struct {
		Name  string `json:"name"`
		Hosts int    `json:"hosts"`
	}
	cli.json(&groups, "group", "list", "prod")
	if len(groups) == 0 {
		t.Fatal("group list: none")
	}
	g := groups[len(groups)-1].Name
	vars := writeJSON(t, dir, "vars.json", map[string]any{"ntp_server": "10.0.0.1"})
	var group struct {
		Name string            `json:"name"`
		Vars map[string]string `json:"vars"`
	}
	cli.json(&group, "group", "update", "prod", g, "--vars", vars)
	if group.Name != g || group.Vars["ntp_server"] != "10.0.0.1" {
		t.Fatalf("group update: %+v", group)
	}
	cli.json(&group, "group", "get", "prod", g)
	if group.Vars["ntp_server"] != "10.0.0.1" {
		t.Fatalf("group get: %+v", group)
	}

	// Credentials: the secret goes in from a file and never comes out.
	const secret = "hunter2-cli-secret"
	secretFile := filepath.Join(dir, "password")
	must(t, os.WriteFile(secretFile, []byte(secret+"\n"), 0o600))
	var cred struct {
		apiObject
		SecretsSet  []string `json:"secrets_set"`
		Description string   `json:"description"`
	}
	createOut := cli.ok("credential", "create", "db-pass", "--type", "password", "--field", "username=app", "--field", "password=@"+secretFile, "-o", "json")
	must(t, json.Unmarshal([]byte(createOut), &cred))
	if !slices.Contains(cred.SecretsSet, "password") {
		t.Fatalf("credential create: %+v", cred)
	}
	cli.json(&cred, "credential", "update", "db-pass", "--description", "the app's database")
	if cred.Description != "the app's database" {
		t.Fatalf("credential update: %+v", cred)
	}
	var creds []apiObject
	cli.json(&creds, "credential", "list")
	if len(creds) != 1 || creds[0].ID != cred.ID {
		t.Fatalf("credential list: %+v", creds)
	}
	cli.json(&byID, "credential", "get", cred.ID)
	for _, args := range [][]string{{"credential", "list"}, {"credential", "get", "db-pass", "-o", "yaml"}} {
		if out := cli.ok(args...); strings.Contains(out, secret) {
			t.Fatalf("roster %s printed the secret", strings.Join(args, " "))
		}
	}

	// Tokens and grants.
	var tok struct {
		apiObject
		Role  string `json:"role"`
		Value string `json:"value"`
	}
	cli.json(&tok, "token", "create", "--name", "ci", "--role", "runner")
	if tok.Role != "runner" || !strings.HasPrefix(tok.Value, "rst_") {
		t.Fatalf("token create: %+v", tok)
	}
	var tokGot apiObject
	cli.json(&tokGot, "token", "get", "ci")
	if tokGot.ID != tok.ID {
		t.Fatalf("token get: %+v", tokGot)
	}
	if out := cli.ok("token", "list"); !strings.Contains(out, "ci") || strings.Contains(out, tok.Value) || strings.Contains(out, srv.token) {
		t.Fatalf("token list:\n%s", out)
	}
	var grant struct {
		apiObject
		TokenID string `json:"token_id"`
	}
	cli.json(&grant, "grant", "create", "--token", "ci", "--credential", "db-pass", "--inventory", "prod")
	if grant.TokenID != tok.ID {
		t.Fatalf("grant create: %+v", grant)
	}
	var grants []apiObject
	cli.json(&grants, "grant", "list", "--token", "ci")
	if len(grants) != 1 || grants[0].ID != grant.ID {
		t.Fatalf("grant list: %+v", grants)
	}
	cli.json(&byID, "grant", "get", grant.ID)
	cli.ok("grant", "delete", grant.ID)
	cli.json(&grants, "grant", "list")
	if len(grants) != 0 {
		t.Fatalf("after grant delete: %+v", grants)
	}
	cli.ok("token", "delete", "ci")
	cli.fails("no token ci", "token", "get", "ci")

	// Webhooks: the URL from a file, shown without its secret path.
	urlFile := filepath.Join(dir, "hook-url")
	must(t, os.WriteFile(urlFile, []byte("http://127.0.0.1:9/secret-path-xyz\n"), 0o600))
	var hook struct {
		apiObject
		URL     string `json:"url"`
		Enabled bool   `json:"enabled"`
	}
	cli.json(&hook, "webhook", "create", "ops", "--inventory", "prod", "--event", "sync.failed", "--url-file", urlFile)
	if !hook.Enabled || strings.Contains(hook.URL, "secret-path-xyz") {
		t.Fatalf("webhook create: %+v", hook)
	}
	cli.json(&hook, "webhook", "update", "ops", "--enabled=false")
	if hook.Enabled {
		t.Fatalf("webhook update: %+v", hook)
	}
	var hooks []apiObject
	cli.json(&hooks, "webhook", "list", "--inventory", "prod")
	if len(hooks) != 1 || hooks[0].ID != hook.ID {
		t.Fatalf("webhook list: %+v", hooks)
	}
	var deliveries []json.RawMessage
	cli.json(&deliveries, "webhook", "deliveries", "ops")
	cli.ok("webhook", "delete", hook.ID)

	// A sync that fails: the exit status says so.
	bad := map[string]any{"regions": []any{"us-east-1"}, "endpoint_url": "http://127.0.0.1:9"}
	cli.ok("source", "create", "prod", "broken", "--provider", "aws", "--config", writeJSON(t, dir, "bad.json", bad))
	out, errOut, code = cli.run("", "sync", "prod/broken", "--wait")
	if code != exitSyncFailed || !strings.Contains(out, "sync of broken failed") {
		t.Fatalf("a failing sync --wait: exit %d, want %d\n%s%s", code, exitSyncFailed, out, errOut)
	}

	// What users get wrong, in one line each.
	cli.fails("unknown flag: --bogus", "inventory", "list", "--bogus")
	cli.fails("unknown flag: --data-dir", "inventory", "list", "--data-dir", dir)
	cli.fails("name:", "inventory", "create", "bad name")
	cli.fails(`unknown command "lst"`, "inventory", "lst")
	cli.fails("--output \"xml\"", "inventory", "list", "-o", "xml")
	cli.fails("no source nosuch", "source", "get", "nosuch")
	cli.ok("inventory", "create", "stage")
	cli.ok("source", "create", "stage", "ec2", "--provider", "aws", "--config", config)
	cli.fails(`sources named "ec2" are in several inventories (prod, stage): name one as INVENTORY/NAME, "prod/ec2"`, "source", "get", "ec2")
	// A host list's --source is the inventory's source: no ambiguity.
	var ofSource []json.RawMessage
	cli.json(&ofSource, "host", "list", "prod", "--source", "ec2")
	if len(ofSource) != len(hosts) {
		t.Fatalf("host list prod --source ec2: %d hosts, want %d", len(ofSource), len(hosts))
	}
	cli.fails(`inventory prod has no source "nope"`, "host", "list", "prod", "--source", "nope")
	cli.fails("confg: unknown field", "source", "create", "prod", "x", "--provider", "aws", "-f", writeJSON(t, dir, "typo.json", map[string]any{"confg": map[string]any{}}))

	// Deletes.
	cli.ok("source", "delete", "stage/ec2")
	cli.ok("credential", "delete", "db-pass")
	cli.ok("inventory", "delete", "stage")
	var gone []apiObject
	cli.json(&gone, "credential", "list")
	if len(gone) != 0 {
		t.Fatalf("after credential delete: %+v", gone)
	}
	if code := cli.fails("not found", "inventory", "get", "stage"); code != 1 {
		t.Fatalf("inventory get of a deleted inventory: exit %d", code)
	}

	// The Ansible script mode of roster inventory still works.
	env := newCLIEnv(t, srv.bin, "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile, "ROSTER_INVENTORY=prod", "ROSTER_CACHE=off")
	var doc map[string]json.RawMessage
	if err := json.Unmarshal([]byte(env.ok("inventory", "--list")), &doc); err != nil || doc["_meta"] == nil {
		t.Fatalf("roster inventory --list: %v", err)
	}
}

// TestCLIMissingDataDirCreatesNoDatabase: a data directory that is not
// there is an error for the commands that read or change a database,
// never a new empty one.
func TestCLIMissingDataDirCreatesNoDatabase(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	cli := newCLIEnv(t, bin)
	missing := filepath.Join(t.TempDir(), "no", "such", "dir")
	cli.fails("no Roster database at "+missing, "token", "list", "--data-dir", missing)
	cli.fails("no Roster database at "+missing, "token", "delete", "ci", "--data-dir", missing)
	cli.fails("no Roster database at "+missing, "sync", "--source", "ec2", "--data-dir", missing)
	cli.fails("unknown flag: --data-dir", "source", "list", "--data-dir", missing)
	cli.fails("work on the database directly", "token", "list", "--data-dir", missing, "--server", "http://127.0.0.1:9")
	if _, err := os.Stat(filepath.Dir(missing)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s was created (%v)", filepath.Dir(missing), err)
	}
	// The bootstrap path makes a database, and says so.
	data := t.TempDir()
	out, errOut, code := cli.run("", "token", "create", "--name", "admin", "--role", "admin", "--data-dir", data)
	if code != 0 || !strings.HasPrefix(out, "rst_") || !strings.Contains(errOut, "created a new one") {
		t.Fatalf("token create --data-dir: exit %d\n%s%s", code, out, errOut)
	}
	if out := cli.ok("token", "list", "--data-dir", data); !strings.Contains(out, "admin") {
		t.Fatalf("token list --data-dir:\n%s", out)
	}
}

// TestCLIContexts: the contexts file chooses the server and token;
// --context beats ROSTER_CONTEXT beats the current context; the
// environment overrides a context's values, but never sends its token to
// another server; the file is private and no listing shows a token.
func TestCLIContexts(t *testing.T) {
	srv := startCLIServer(t)
	cli := newCLIEnv(t, srv.bin)
	home := strings.TrimPrefix(cli.env[slices.IndexFunc(cli.env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") })], "HOME=")
	file := filepath.Join(home, ".config", "roster", "config.yaml")

	cli.fails("no API token given", "inventory", "list")
	cli.ok("context", "set", "prod", "--server", srv.url, "--token-file", srv.tokenFile)
	if _, _, code := cli.run("rst_not_a_real_token_0000\n", "context", "set", "dead", "--server", "http://127.0.0.1:9", "--token-stdin"); code != 0 {
		t.Fatal("context set --token-stdin failed")
	}
	fi, err := os.Stat(file)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s is %v, want 0600", file, fi.Mode().Perm())
	}
	var contexts []struct {
		Name     string `json:"name"`
		Current  bool   `json:"current"`
		Server   string `json:"server"`
		TokenSet bool   `json:"token_set"`
	}
	cli.json(&contexts, "context", "list")
	if len(contexts) != 2 || contexts[0].Name != "dead" || !contexts[0].TokenSet || contexts[1].Name != "prod" || !contexts[1].Current {
		t.Fatalf("context list: %+v", contexts)
	}
	for _, args := range [][]string{{"context", "list"}, {"context", "list", "-o", "yaml"}, {"context", "list", "-o", "json"}} {
		if out := cli.ok(args...); strings.Contains(out, "rst_not_a_real_token") {
			t.Fatalf("roster %s printed a token:\n%s", strings.Join(args, " "), out)
		}
	}

	// The first context set is the current one.
	cli.ok("inventory", "create", "ctx-inv")
	cli.fails("cannot reach Roster", "inventory", "list", "--context", "dead")
	cli.ok("context", "use", "dead")
	if out := cli.ok("context", "current"); out != "dead\n" {
		t.Fatalf("context current: %q", out)
	}
	cli.fails("cannot reach Roster", "inventory", "list")
	withEnv := &cliEnv{t: t, bin: srv.bin, env: append(slices.Clone(cli.env), "ROSTER_CONTEXT=prod")}
	if out := withEnv.ok("inventory", "list"); !strings.Contains(out, "ctx-inv") {
		t.Fatalf("ROSTER_CONTEXT=prod inventory list:\n%s", out)
	}
	withEnv.fails("cannot reach Roster", "inventory", "list", "--context", "dead")

	// The environment and flags override a context's values, but its
	// token goes to its server only.
	redirected := &cliEnv{t: t, bin: srv.bin, env: append(slices.Clone(withEnv.env), "ROSTER_URL=http://127.0.0.1:9")}
	redirected.fails("the server comes from the environment but the token from context prod", "inventory", "list")
	withEnv.fails("the server comes from the command line but the token from context prod", "inventory", "list", "--server", "http://127.0.0.1:9")
	both := &cliEnv{t: t, bin: srv.bin, env: append(slices.Clone(cli.env), "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile)}
	if out := both.ok("inventory", "list"); !strings.Contains(out, "ctx-inv") {
		t.Fatalf("a context overridden whole by the environment:\n%s", out)
	}
	// A context's CA is how to trust its server, not another one.
	cli.ok("context", "set", "pinned", "--server", strings.Replace(srv.url, "127.0.0.1", "localhost", 1), "--token-file", srv.tokenFile, "--ca", filepath.Join(home, "missing-ca.pem"))
	cli.fails("read the CA file", "inventory", "list", "--context", "pinned")
	pinnedElsewhere := &cliEnv{t: t, bin: srv.bin, env: append(slices.Clone(cli.env), "ROSTER_CONTEXT=pinned", "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile)}
	if out := pinnedElsewhere.ok("inventory", "list"); !strings.Contains(out, "ctx-inv") {
		t.Fatalf("a context's server overridden with its CA missing:\n%s", out)
	}
	cli.ok("context", "delete", "pinned")
	cli.fails(`no context "nope"`, "inventory", "list", "--context", "nope")
	cli.ok("context", "delete", "dead")
	cli.fails("no API token given", "inventory", "list")
	cli.ok("context", "use", "prod")
	cli.ok("inventory", "get", "ctx-inv")
}

// TestCLICompletion: cobra's completion scripts, and names completed
// from the server.
func TestCLICompletion(t *testing.T) {
	srv := startCLIServer(t)
	cli := newCLIEnv(t, srv.bin, "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile)
	for _, shell := range []string{"bash", "zsh", "fish"} {
		if out := cli.ok("completion", shell); !strings.Contains(out, "roster") || len(out) < 1000 {
			t.Fatalf("completion %s:\n%s", shell, out)
		}
	}
	cli.ok("inventory", "create", "prod")
	cli.ok("inventory", "create", "stage")
	cli.ok("source", "create", "prod", "ec2", "--provider", "aws", "--config", writeJSON(t, t.TempDir(), "c.json", srv.sim.config))
	complete := func(args ...string) []string {
		out := cli.ok(append([]string{"__complete"}, args...)...)
		var names []string
		for _, l := range strings.Split(out, "\n") {
			if l != "" && !strings.HasPrefix(l, ":") && !strings.HasPrefix(l, "Completion ended") {
				names = append(names, l)
			}
		}
		return names
	}
	if got := complete("inventory", "get", ""); !slices.Equal(got, []string{"prod", "stage"}) {
		t.Fatalf("inventory get <TAB>: %q", got)
	}
	if got := complete("host", "list", "st"); !slices.Equal(got, []string{"stage"}) {
		t.Fatalf("host list st<TAB>: %q", got)
	}
	if got := complete("sync", ""); !slices.Equal(got, []string{"prod/ec2"}) {
		t.Fatalf("sync <TAB>: %q", got)
	}
	if got := complete("inventory", "list", "-o", ""); !slices.Equal(got, []string{"table", "json", "yaml"}) {
		t.Fatalf("-o <TAB>: %q", got)
	}
}
