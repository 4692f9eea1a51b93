package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// run runs the roster command line in-process.
func run(t *testing.T, ctx context.Context, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	cmd := newRootCommand()
	var out, errOut bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&errOut)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(ctx)
	return out.String(), errOut.String(), err
}

func TestSyncCommand(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 5, Size: 200, Regions: []string{"us-east-1", "eu-west-1"}})
	url, stop, err := sim.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	t.Setenv("AWS_ACCESS_KEY_ID", simAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", simSecretKey)
	dir := t.TempDir()
	st, err := openStore(t.Context(), Config{Database: filepath.Join(dir, "roster.db")})
	if err != nil {
		t.Fatal(err)
	}
	inv := &roster.Inventory{Name: "prod"}
	if err := st.CreateInventory(t.Context(), inv); err != nil {
		t.Fatal(err)
	}
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove,
		Config: map[string]any{"regions": []any{"us-east-1", "eu-west-1"}, "endpoint_url": url}}
	if err := st.CreateSource(t.Context(), src); err != nil {
		t.Fatal(err)
	}
	st.Close()

	stdout, stderr, err := run(t, t.Context(), "sync", "--source", "ec2", "--data-dir", dir)
	if err != nil {
		t.Fatalf("sync: %v\n%s\n%s", err, stdout, stderr)
	}
	if !regexp.MustCompile(`sync of ec2 succeeded in \S+: \d+ hosts seen; \d+ added, 0 updated, 0 removed, 0 disabled, 0 unchanged`).MatchString(stdout) {
		t.Fatalf("summary = %q", stdout)
	}
	if !strings.Contains(stderr, "2/2 scopes done") {
		t.Fatalf("progress = %q", stderr)
	}
	if strings.Contains(stdout+stderr, simSecretKey) {
		t.Fatal("the AWS secret key was printed")
	}

	// One region down: exit status 3, the region's error in the summary.
	sim.SetFaults(awssim.Faults{DenyScopes: []string{"eu-west-1"}})
	stdout, _, err = run(t, t.Context(), "sync", "--source", "ec2", "--data-dir", dir)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != exitSyncPartial {
		t.Fatalf("partial sync: err %v, want exit status %d", err, exitSyncPartial)
	}
	if !strings.Contains(stdout, "sync of ec2 partial") || !strings.Contains(stdout, "scope eu-west-1 failed: ") {
		t.Fatalf("summary = %q", stdout)
	}

	// The configured timeout applies, as on the server.
	sim.SetFaults(awssim.Faults{Latency: 3 * time.Second, Ops: []string{"DescribeInstances"}})
	stdout, _, err = run(t, t.Context(), "sync", "--source", "ec2", "--data-dir", dir, "--sync-timeout", "1s")
	if err == nil || !strings.Contains(stdout, "canceled") || !strings.Contains(stdout, "1s") {
		t.Fatalf("sync past --sync-timeout: err %v, summary %q", err, stdout)
	}
	sim.SetFaults(awssim.Faults{})

	_, _, err = run(t, t.Context(), "sync", "--source", "nope", "--data-dir", dir)
	if roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("unknown source: %v", err)
	}
}

func TestTokenCommands(t *testing.T) {
	dir := t.TempDir()
	stdout, _, err := run(t, t.Context(), "token", "create", "--name", "ci", "--role", "runner", "--data-dir", dir)
	if err != nil {
		t.Fatal(err)
	}
	value := strings.TrimSpace(stdout)
	if !strings.HasPrefix(value, roster.TokenPrefix) {
		t.Fatalf("token create printed %q", stdout)
	}
	stdout, _, err = run(t, t.Context(), "token", "list", "--data-dir", dir)
	if err != nil || !strings.Contains(stdout, "ci") || strings.Contains(stdout, value) {
		t.Fatalf("token list: %v\n%s", err, stdout)
	}
	if _, _, err := run(t, t.Context(), "token", "create", "--name", "x", "--role", "root", "--data-dir", dir); err == nil {
		t.Fatal("an unknown role was accepted")
	}
	// Limits: inventories that exist, and read-only.
	if _, _, err := run(t, t.Context(), "token", "create", "--name", "x", "--role", "runner", "--inventory", "nosuch", "--data-dir", dir); err == nil ||
		!strings.Contains(err.Error(), `--inventory: inventory "nosuch" not found`) {
		t.Fatalf("a token limited to an inventory that does not exist: %v", err)
	}
	st, err := store.OpenSQLite(t.Context(), filepath.Join(dir, "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	must(t, st.CreateInventory(t.Context(), &roster.Inventory{Name: "prod"}))
	st.Close()
	if _, _, err := run(t, t.Context(), "token", "create", "--name", "ro", "--role", "operator", "--inventory", "prod", "--read-only", "--ttl", "2h", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
	stdout, _, err = run(t, t.Context(), "token", "list", "--data-dir", dir)
	if err != nil || !regexp.MustCompile(`(?m)^ro\s+operator\s+prod, read-only\s`).MatchString(stdout) || !regexp.MustCompile(`(?m)^ci\s+runner\s+granted inventories\s`).MatchString(stdout) {
		t.Fatalf("token list does not show the limits: %v\n%s", err, stdout)
	}
	if _, _, err := run(t, t.Context(), "token", "revoke", "ci", "--data-dir", dir); err != nil {
		t.Fatal(err)
	}
}

// TestDemo runs the README's first command in-process twice: the second
// run reuses the data directory and its sync finds nothing changed. Then
// once more with the simulators' usual ports taken: the demo moves them
// and points its sources and credentials there.
func TestDemo(t *testing.T) {
	dir := t.TempDir()
	var urls []string
	for i := range 3 {
		if i == 2 {
			for _, port := range []string{"4566", "4567", "4568", "4569"} {
				if l, err := net.Listen("tcp", "127.0.0.1:"+port); err == nil {
					defer l.Close()
				}
			}
		}
		ctx, cancel := context.WithCancel(t.Context())
		out := &syncedBuffer{}
		done := make(chan error, 1)
		go func() {
			c := defaultConfig()
			c.DataDir, c.Database, c.Listen = dir, filepath.Join(dir, "roster.db"), "127.0.0.1:0"
			done <- runDemo(ctx, c, 120, out)
		}()
		deadline := time.Now().Add(60 * time.Second)
		for !strings.Contains(out.String(), "Ctrl-C stops the demo") {
			select {
			case err := <-done:
				cancel()
				t.Fatalf("run %d: the demo ended early: %v\n%s", i, err, out.String())
			default:
			}
			if time.Now().After(deadline) {
				cancel()
				t.Fatalf("run %d: the demo did not get ready:\n%s", i, out.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		text := out.String()
		urls = append(urls, strings.Join(regexp.MustCompile(`simulator .* at (\S+)`).FindAllString(text, -1), "\n"))
		if i == 0 {
			demoAnsibleHasEveryHost(t, text, filepath.Join(dir, "demo-token"))
		}
		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run %d: %v", i, err)
		}
		for _, src := range []string{"aws-demo", "gcp-demo", "azure-demo", "openstack-demo"} {
			line := regexp.MustCompile(`sync of ` + src + ` succeeded in \S+: (\d+) hosts seen; (\d+) added, (\d+) updated, 0 removed, 0 disabled, (\d+) unchanged`).FindStringSubmatch(text)
			switch {
			case line == nil:
				t.Fatalf("run %d: no successful sync of %s:\n%s", i, src, text)
			case i == 0 && (line[1] == "0" || line[2] != line[1] || line[3] != "0"):
				t.Fatalf("run %d: first sync of %s: %s", i, src, line[0])
			case i == 1 && urls[0] == urls[1] && (line[2] != "0" || line[3] != "0" || line[4] != line[1]):
				t.Fatalf("run %d: the second run's sync of %s changed hosts: %s", i, src, line[0])
			}
		}
		token, err := os.ReadFile(filepath.Join(dir, "demo-token"))
		if err != nil || !strings.Contains(text, "export ROSTER_TOKEN="+strings.TrimSpace(string(token))) {
			t.Fatalf("run %d: token file and printed token differ (%v)", i, err)
		}
		for _, cmd := range []string{"curl -s -H", "ansible-inventory -i " + filepath.Join(dir, "roster-inventory") + " --graph"} {
			if !strings.Contains(text, cmd) {
				t.Fatalf("run %d: no %q in the instructions", i, cmd)
			}
		}
	}
}

// demoAnsibleHasEveryHost: the simulated clouds name machines alike, and
// the demo's Ansible document still lists every host of every source
// (its inventory's name_policy is prefix), the --host example among them.
func demoAnsibleHasEveryHost(t *testing.T, text, tokenFile string) {
	t.Helper()
	seen := 0
	for _, m := range regexp.MustCompile(`sync of \S+ succeeded in \S+: (\d+) hosts seen`).FindAllStringSubmatch(text, -1) {
		n, _ := strconv.Atoi(m[1])
		seen += n
	}
	api := regexp.MustCompile(`(http://\S+/api/v1)/inventories/demo/groups`).FindStringSubmatch(text)
	example := regexp.MustCompile(`ansible-inventory -i \S+ --host (\S+)`).FindStringSubmatch(text)
	if api == nil || example == nil {
		t.Fatalf("the demo's instructions name no API or no --host example:\n%s", text)
	}
	token, err := os.ReadFile(tokenFile)
	must(t, err)
	req, err := http.NewRequestWithContext(t.Context(), "GET", api[1]+"/inventories/demo/ansible?all=true", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(token)))
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	var doc struct {
		Meta struct {
			Hostvars map[string]json.RawMessage `json:"hostvars"`
		} `json:"_meta"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("the demo's Ansible document: %d %v", resp.StatusCode, err)
	}
	if len(doc.Meta.Hostvars) != seen || seen == 0 {
		t.Fatalf("the demo's Ansible document lists %d hosts; its syncs saw %d", len(doc.Meta.Hostvars), seen)
	}
	if _, ok := doc.Meta.Hostvars[example[1]]; !ok {
		t.Fatalf("the --host example %q is not a host of the demo's Ansible document", example[1])
	}
}

type syncedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestLostLocalKeyIsNotReplaced: with sealed secrets in the database, a
// missing key file stops the start instead of being replaced silently.
func TestLostLocalKeyIsNotReplaced(t *testing.T) {
	c := defaultConfig()
	c.Listen, c.DataDir = "127.0.0.1:0", t.TempDir()
	c.Database, c.SecretKeyFile = filepath.Join(c.DataDir, "roster.db"), filepath.Join(c.DataDir, "secret.key")
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	must(t, m.Run(t.Context()))
	_, err := m.Broker.Create(t.Context(), broker.Actor{Name: "test"}, broker.CredentialInput{Name: "t", Type: roster.CredentialToken, Fields: map[string]roster.Secret{"token": "x"}})
	must(t, err)
	m.Close()
	must(t, os.Remove(c.SecretKeyFile))
	m = &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err = m.Run(t.Context())
	m.Close()
	if err == nil || !strings.Contains(err.Error(), "restore that file") {
		t.Fatalf("start without the key: %v", err)
	}
	if _, statErr := os.Stat(c.SecretKeyFile); !os.IsNotExist(statErr) {
		t.Fatal("a new key file was created")
	}
}

func TestDatabaseSettingNeverShowsAPassword(t *testing.T) {
	stdout, stderr, err := run(t, t.Context(), "migrate", "--database", "host=db user=roster password=s3cret", "--data-dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "postgres:// URL") {
		t.Fatalf("a key=value DSN: err = %v", err)
	}
	if strings.Contains(stdout+stderr+err.Error(), "s3cret") {
		t.Fatal("the password was shown")
	}
	for in, want := range map[string]string{
		"POSTGRESQL://roster@db/roster?sslmode=disable": "postgresql://roster@db/roster?sslmode=disable",
		"/var/lib/roster/a=b/roster.db":                 "/var/lib/roster/a=b/roster.db",
		"dbname=roster sslmode=disable":                 "",
		"PASSWORD=x HOST=db":                            "",
		"sslpassword=x application_name=roster":         "",
	} {
		got, err := normalizeDatabase(in)
		if got != want || (err != nil) != (want == "") {
			t.Errorf("normalizeDatabase(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for in, want := range map[string]string{
		"postgres://roster:s3cret@db:5432/roster?sslmode=require&password=s3cret": "postgres://roster:xxxxx@db:5432/roster",
		"POSTGRESQL://roster@db/roster":                                           "postgresql://roster@db/roster",
		"/var/lib/roster/roster.db":                                               "/var/lib/roster/roster.db",
	} {
		if got := displayDatabase(in); got != want {
			t.Errorf("displayDatabase(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestOneServerPerSQLiteDatabase: a second roster serve on the same SQLite
// file refuses to start (it would take the first one's running jobs for
// abandoned); once the first stops, it starts.
func TestOneServerPerSQLiteDatabase(t *testing.T) {
	c := defaultConfig()
	c.Listen, c.DataDir = "127.0.0.1:0", t.TempDir()
	c.Database, c.SecretKeyFile = filepath.Join(c.DataDir, "roster.db"), filepath.Join(c.DataDir, "secret.key")
	first := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	must(t, first.Run(t.Context()))
	second := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	err := second.Run(t.Context())
	second.Close()
	if err == nil || !strings.Contains(err.Error(), "another roster serve") {
		first.Close()
		t.Fatalf("second server: %v", err)
	}
	must(t, first.Close())
	third := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	must(t, third.Run(t.Context()))
	must(t, third.Close())
}
