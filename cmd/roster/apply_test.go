package main

import (
	"io"
	"log/slog"
	"os"
	"path/filepath"
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
