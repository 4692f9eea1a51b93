package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
)

// gitopsServer is a Roster server for apply, export and import tests.
type gitopsServer struct {
	url   string
	token roster.Secret
	api   *client.Client
}

// serveGitops runs Roster in this process on a fresh database of the
// engine ("sqlite" or "postgres") and gives it an admin token.
func serveGitops(t *testing.T, engine string) *gitopsServer {
	t.Helper()
	c := defaultConfig()
	c.Listen = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	switch engine {
	case "sqlite":
		c.Database = filepath.Join(c.DataDir, "roster.db")
	case "postgres":
		c.Database = testenv.SharedPostgres(t).CreateDatabase(t)
	}
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	value, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(t.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash); err != nil {
		t.Fatal(err)
	}
	return &gitopsServer{url: m.URL, token: value, api: client.New(m.URL, value)}
}

// roster runs the roster command line in this process against s.
func (s *gitopsServer) roster(t *testing.T, stdin string, args ...string) (string, error) {
	t.Helper()
	t.Setenv("ROSTER_URL", s.url)
	t.Setenv("ROSTER_TOKEN", s.token.Reveal())
	cmd := newRootCommand()
	var out strings.Builder
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetIn(strings.NewReader(stdin))
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(t.Context())
	return out.String(), err
}

// mustRoster is roster that fails the test on an error.
func (s *gitopsServer) mustRoster(t *testing.T, args ...string) string {
	t.Helper()
	out, err := s.roster(t, "", args...)
	if err != nil {
		t.Fatalf("roster %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// gitopsEngines runs f on SQLite and on PostgreSQL.
func gitopsEngines(t *testing.T, f func(t *testing.T, engine string)) {
	for _, engine := range []string{"sqlite", "postgres"} {
		t.Run(engine, func(t *testing.T) { f(t, engine) })
	}
}

// isolateClientConfig keeps the user's roster-inventory configuration
// and TLS settings out of the commands the tests run.
func isolateClientConfig(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	for _, k := range []string{"ROSTER_TOKEN_FILE", "ROSTER_CA", "ROSTER_CLIENT_CERT", "ROSTER_CLIENT_KEY", "ROSTER_INVENTORY"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
}

const applyFixture = `# Roster as code: one production inventory.
kind: inventory
name: prod
description: Production hosts
---
kind: credential
name: aws-prod
type: aws
description: read-only EC2 keys
fields:
  access_key_id: AKIAEXAMPLE
  secret_access_key: {env: AWS_PROD_SECRET}
---
kind: source
inventory: prod
name: aws-prod
credential: aws-prod
schedule: 15m
update_cache_timeout: 300
config:
  plugin: amazon.aws.aws_ec2
  regions: [us-east-1, eu-west-1]
  filters:
    instance-state-name: running
  keyed_groups:
    - prefix: tag
      key: tags
  compose:
    ansible_host: private_ip_address
---
kind: grant
token: ci
credential: aws-prod
inventory: prod
---
kind: webhook
name: ops
inventory: prod
format: slack
events: [sync.failed]
url: {env: OPS_WEBHOOK_URL}
---
kind: webhook
name: audit
source: prod/aws-prod
events: [hosts.changed, sync.succeeded]
url: https://hooks.example.com/roster
signing_secret: {file: hook-secret}
`

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestApplyIdempotentAndDryRun applies a file, then again: the second
// apply changes nothing and says so; a dry run of a change changes
// nothing; then the change applies as the dry run said.
func TestApplyIdempotentAndDryRun(t *testing.T) {
	isolateClientConfig(t)
	gitopsEngines(t, func(t *testing.T, engine string) {
		s := serveGitops(t, engine)
		if code := call(t, s.api, "POST", "/tokens", map[string]any{"name": "ci", "role": "runner"}, nil); code != 201 {
			t.Fatalf("create token: %d", code)
		}
		dir := t.TempDir()
		file := writeFile(t, filepath.Join(dir, "roster.yaml"), applyFixture)
		writeFile(t, filepath.Join(dir, "hook-secret"), "s3cret-signing-key-0123\n")
		t.Setenv("AWS_PROD_SECRET", "wJalrXUtnFEMI/K7MDENG")
		t.Setenv("OPS_WEBHOOK_URL", "https://hooks.slack.example/services/T0/B0/XYZ")

		dry := s.mustRoster(t, "apply", "-f", file, "--dry-run")
		want := []string{
			"+ inventory prod", "+ credential aws-prod", "+ source prod/aws-prod",
			"+ grant token=ci credential=aws-prod inventory=prod", "+ webhook prod/audit", "+ webhook prod/ops",
			"dry run: 6 change(s) not applied",
		}
		if got := lines(dry); strings.Join(got, "\n") != strings.Join(want, "\n") {
			t.Fatalf("dry run:\n%s\nwant:\n%s", dry, strings.Join(want, "\n"))
		}
		var invs struct{ Items []any }
		call(t, s.api, "GET", "/inventories", nil, &invs)
		if len(invs.Items) != 0 {
			t.Fatalf("the dry run created %d inventories", len(invs.Items))
		}

		out := s.mustRoster(t, "apply", "-f", file)
		if got := lines(out); strings.Join(got, "\n") != strings.Join(want[:6], "\n") {
			t.Fatalf("apply:\n%s", out)
		}
		if out := s.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("second apply:\n%s", out)
		}
		// The server holds what the file says; the secret went to the
		// broker, the description carries apply's record.
		var src struct {
			Schedule           string         `json:"schedule"`
			UpdateCacheTimeout int            `json:"update_cache_timeout"`
			Credential         string         `json:"credential"`
			Config             map[string]any `json:"config"`
		}
		if code := call(t, s.api, "GET", "/sources/prod%2Faws-prod", nil, &src); code != 200 || src.Schedule != "15m" || src.UpdateCacheTimeout != 300 || src.Credential == "" {
			t.Fatalf("source: %d %+v", code, src)
		}
		var cred struct {
			SecretsSet []string `json:"secrets_set"`
		}
		call(t, s.api, "GET", "/credentials/aws-prod", nil, &cred)
		if strings.Join(cred.SecretsSet, ",") != "secret_access_key" {
			t.Errorf("credential secrets set: %v", cred.SecretsSet)
		}

		// A change: one region less, another schedule, a webhook event.
		changed := strings.Replace(applyFixture, "regions: [us-east-1, eu-west-1]", "regions: [us-east-1]", 1)
		changed = strings.Replace(changed, "schedule: 15m", "schedule: 1h", 1)
		changed = strings.Replace(changed, "events: [sync.failed]", "events: [sync.failed, sync.partial]", 1)
		writeFile(t, file, changed)
		wantChange := []string{
			"~ source prod/aws-prod: config.regions, schedule",
			"~ webhook prod/ops: events",
		}
		dry = s.mustRoster(t, "apply", "-f", file, "--dry-run")
		if got := lines(dry); strings.Join(got, "\n") != strings.Join(append(wantChange, "dry run: 2 change(s) not applied"), "\n") {
			t.Fatalf("dry run of the change:\n%s", dry)
		}
		call(t, s.api, "GET", "/sources/prod%2Faws-prod", nil, &src)
		if src.Schedule != "15m" {
			t.Fatalf("the dry run changed the schedule: %q", src.Schedule)
		}
		out = s.mustRoster(t, "apply", "-f", file)
		if got := lines(out); strings.Join(got, "\n") != strings.Join(wantChange, "\n") {
			t.Fatalf("apply of the change:\n%s", out)
		}
		if out := s.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("apply after the change:\n%s", out)
		}
		call(t, s.api, "GET", "/sources/prod%2Faws-prod", nil, &src)
		if src.Schedule != "1h" || len(src.Config["regions"].([]any)) != 1 {
			t.Fatalf("source after the change: %+v", src)
		}
	})
}

func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}

// applyFixtureTo applies applyFixture to s (after making its runner
// token ci) and returns the file's path.
func applyFixtureTo(t *testing.T, s *gitopsServer) string {
	t.Helper()
	if code := call(t, s.api, "POST", "/tokens", map[string]any{"name": "ci", "role": "runner"}, nil); code != 201 {
		t.Fatalf("create token: %d", code)
	}
	dir := t.TempDir()
	file := writeFile(t, filepath.Join(dir, "roster.yaml"), applyFixture)
	writeFile(t, filepath.Join(dir, "hook-secret"), "s3cret-signing-key-0123\n")
	t.Setenv("AWS_PROD_SECRET", "wJalrXUtnFEMI/K7MDENG")
	t.Setenv("OPS_WEBHOOK_URL", "https://hooks.slack.example/services/T0/B0/XYZ")
	s.mustRoster(t, "apply", "-f", file)
	return file
}

// TestApplyPrune: --prune deletes what apply created and the files no
// longer declare, and nothing it did not create.
func TestApplyPrune(t *testing.T) {
	isolateClientConfig(t)
	gitopsEngines(t, func(t *testing.T, engine string) {
		s := applyFixtureServer(t, engine)
		file := s.file
		// Made by hand, not by apply: a source in apply's inventory, an
		// inventory of its own.
		if code := call(t, s.api, "POST", "/inventories/prod/sources", map[string]any{"name": "by-hand", "provider": "aws", "config": map[string]any{"regions": []string{"us-east-1"}}}, nil); code != 201 {
			t.Fatalf("create source by hand: %d", code)
		}
		if code := call(t, s.api, "POST", "/inventories", map[string]any{"name": "handmade"}, nil); code != 201 {
			t.Fatalf("create inventory by hand: %d", code)
		}
		// The files now declare the inventory and the credential only.
		docs := strings.Split(applyFixture, "\n---\n")
		writeFile(t, file, docs[0]+"\n---\n"+docs[1])

		// Without --prune nothing goes.
		if out := s.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("apply without --prune:\n%s", out)
		}
		want := []string{"- webhook prod/audit", "- webhook prod/ops", "- grant token=ci credential=aws-prod inventory=prod", "- source prod/aws-prod"}
		dry := s.mustRoster(t, "apply", "-f", file, "--prune", "--dry-run")
		if got := lines(dry); strings.Join(got, "\n") != strings.Join(append(slices.Clone(want), "dry run: 4 change(s) not applied"), "\n") {
			t.Fatalf("dry run of --prune:\n%s\nwant:\n%s", dry, strings.Join(want, "\n"))
		}
		if out := s.mustRoster(t, "apply", "-f", file, "--prune"); strings.Join(lines(out), "\n") != strings.Join(want, "\n") {
			t.Fatalf("apply --prune:\n%s", out)
		}
		if out := s.mustRoster(t, "apply", "-f", file, "--prune"); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("second apply --prune:\n%s", out)
		}
		for path, want := range map[string]int{
			"/sources/prod%2Faws-prod": 404, "/sources/prod%2Fby-hand": 200,
			"/inventories/handmade": 200, "/inventories/prod": 200, "/credentials/aws-prod": 200,
		} {
			if code := call(t, s.api, "GET", path, nil, nil); code != want {
				t.Errorf("GET %s after --prune: %d, want %d", path, code, want)
			}
		}

		// An empty declaration prunes the credential, and keeps the
		// inventory: it holds a source apply did not create.
		writeFile(t, file, "# nothing\n")
		out, err := s.roster(t, "", "apply", "-f", file, "--prune")
		if err != nil {
			t.Fatalf("apply --prune of nothing: %v\n%s", err, out)
		}
		if !strings.Contains(out, "- credential aws-prod") || !strings.Contains(out, "kept: inventory prod: it holds source prod/by-hand, which apply did not create") || strings.Contains(out, "- inventory") {
			t.Fatalf("apply --prune of nothing:\n%s", out)
		}
		if code := call(t, s.api, "GET", "/inventories/prod", nil, nil); code != 200 {
			t.Fatalf("the inventory with a hand-made source was pruned: %d", code)
		}
	})
}

// fixtureServer is a server the fixture was applied to.
type fixtureServer struct {
	*gitopsServer
	file string
}

func applyFixtureServer(t *testing.T, engine string) fixtureServer {
	s := serveGitops(t, engine)
	return fixtureServer{s, applyFixtureTo(t, s)}
}

// TestExportApplyRoundTrip: export writes what apply reads; applied to
// an empty server it makes the same configuration, and applied to the
// server it came from it changes nothing. No secret is exported.
func TestExportApplyRoundTrip(t *testing.T) {
	isolateClientConfig(t)
	gitopsEngines(t, func(t *testing.T, engine string) {
		a := applyFixtureServer(t, engine)
		// Something apply did not make is exported too.
		if code := call(t, a.api, "POST", "/inventories", map[string]any{"name": "lab", "name_policy": "prefix", "description": "two lines\nof text"}, nil); code != 201 {
			t.Fatalf("create inventory: %d", code)
		}
		if code := call(t, a.api, "POST", "/inventories/lab/sources", map[string]any{"name": "gce", "provider": "gcp",
			"config": map[string]any{"projects": []string{"lab-project-1"}, "zones": []string{"europe-west1-b"}, "hostnames": []string{"name"}}, "schedule": "1h", "on_missing": "disable"}, nil); code != 201 {
			t.Fatalf("create source: %d", code)
		}
		exported := a.mustRoster(t, "export")
		for _, secret := range []string{"wJalrXUtnFEMI", "XYZ", "s3cret-signing-key", "hooks.slack.example", "managed-by"} {
			if strings.Contains(exported, secret) {
				t.Fatalf("export shows %q:\n%s", secret, exported)
			}
		}
		for _, ref := range []string{"env: CREDENTIAL_AWS_PROD_SECRET_ACCESS_KEY", "env: WEBHOOK_PROD_OPS_URL", "env: WEBHOOK_PROD_AUDIT_SIGNING_SECRET", "source: prod/aws-prod", "on_missing: disable"} {
			if !strings.Contains(exported, ref) {
				t.Fatalf("export lacks %q:\n%s", ref, exported)
			}
		}
		file := writeFile(t, filepath.Join(t.TempDir(), "export.yaml"), exported)
		if out := a.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("apply of the export to its own server:\n%s", out)
		}

		b := serveGitops(t, engine)
		if code := call(t, b.api, "POST", "/tokens", map[string]any{"name": "ci", "role": "runner"}, nil); code != 201 {
			t.Fatalf("create token: %d", code)
		}
		t.Setenv("CREDENTIAL_AWS_PROD_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG")
		t.Setenv("WEBHOOK_PROD_OPS_URL", "https://hooks.slack.example/services/T0/B0/XYZ")
		t.Setenv("WEBHOOK_PROD_AUDIT_URL", "https://hooks.example.com/roster")
		t.Setenv("WEBHOOK_PROD_AUDIT_SIGNING_SECRET", "s3cret-signing-key-0123")
		if out := b.mustRoster(t, "apply", "-f", file); len(lines(out)) != 8 {
			t.Fatalf("apply of the export to an empty server: want 8 creations:\n%s", out)
		}
		if out := b.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("second apply of the export:\n%s", out)
		}
		if again := b.mustRoster(t, "export"); again != exported {
			t.Fatalf("export of the copy differs:\n--- first server\n%s\n--- copy\n%s", exported, again)
		}
	})
}

// TestApplyRefusesSecretsInFiles: a secret's value in a file is refused
// before anything changes, and the refusal does not repeat it.
func TestApplyRefusesSecretsInFiles(t *testing.T) {
	isolateClientConfig(t)
	s := serveGitops(t, "sqlite")
	file := writeFile(t, filepath.Join(t.TempDir(), "bad.yaml"), `kind: inventory
name: prod
---
kind: credential
name: aws-prod
type: aws
fields:
  access_key_id: AKIAEXAMPLE
  secret_access_key: wJalrXUtnFEMI-literal
`)
	out, err := s.roster(t, "", "apply", "-f", file)
	if err == nil || !strings.Contains(err.Error(), "field secret_access_key is secret: give a reference") {
		t.Fatalf("apply of a literal secret: %v\n%s", err, out)
	}
	if strings.Contains(err.Error()+out, "wJalrXUtnFEMI-literal") {
		t.Fatalf("the refusal repeats the secret: %v\n%s", err, out)
	}
	var invs struct{ Items []any }
	call(t, s.api, "GET", "/inventories", nil, &invs)
	if len(invs.Items) != 0 {
		t.Fatalf("a refused apply created %d inventories", len(invs.Items))
	}
	// A reference to a variable that is not set names it, and changes
	// nothing either.
	writeFile(t, file, strings.Replace(mustRead(t, file), "wJalrXUtnFEMI-literal", "{env: ROSTER_TEST_UNSET_SECRET}", 1))
	out, err = s.roster(t, "", "apply", "-f", file)
	if err == nil || !strings.Contains(err.Error(), "ROSTER_TEST_UNSET_SECRET") {
		t.Fatalf("apply with an unset variable: %v\n%s", err, out)
	}
	call(t, s.api, "GET", "/inventories", nil, &invs)
	if len(invs.Items) != 0 {
		t.Fatalf("a refused apply created %d inventories", len(invs.Items))
	}
}

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
