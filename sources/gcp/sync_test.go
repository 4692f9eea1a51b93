package gcp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/syncer/syncertest"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

var fleetProjects = []string{"roster-prod", "roster-staging", "roster-dev"}

// env is one engine over a real SQLite store, syncing from a real
// Compute Engine simulator through the real Google client libraries, on
// the transport a user gets: the Driver has no HTTPClient, and TestMain
// keeps the variables that choose CAs out of the environment.
type env struct {
	*syncertest.Harness
	sim *gcpsim.Server
	url string
	log *lockedBuffer
}

// lockedBuffer collects the engine's log lines (written concurrently).
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func newEnv(t *testing.T, size int, config map[string]any, key func(sim *gcpsim.Server, url string) []byte) *env {
	t.Helper()
	sim, err := gcpsim.New(gcpsim.Options{Seed: 7, Size: size, Projects: fleetProjects})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	k := sim.KeyFile(srv.URL)
	if key != nil {
		k = key(sim, srv.URL)
	}
	reg := sources.NewRegistry(gcp.Driver{Credentials: k, MaxBackoff: 5 * time.Millisecond})
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	cfg := map[string]any{"plugin": "google.cloud.gcp_compute", "projects": toAny(fleetProjects), "endpoint_url": srv.URL}
	for k, v := range config {
		cfg[k] = v
	}
	return &env{Harness: syncertest.New(t, reg, log, "gcp", "gce", cfg), sim: sim, url: srv.URL, log: logs}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) fleet() map[string]gcpsim.InstanceInfo {
	out := map[string]gcpsim.InstanceInfo{}
	for _, i := range e.sim.Fleet().Instances() {
		out[i.ID] = i
	}
	return out
}

func wantStatus(t *testing.T, run *roster.SyncRun, status roster.SyncStatus) {
	t.Helper()
	if run.Status != status {
		t.Fatalf("run status = %s (error %q, scopes %+v), want %s", run.Status, run.Error, run.Scopes, status)
	}
}

func TestFirstSyncAddsEveryInstanceThenResyncWritesNothing(t *testing.T) {
	e := newEnv(t, 450, nil, nil)
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	want := e.fleet()
	hosts := e.Hosts()
	if len(hosts) != len(want) || run.Counts.Added != len(want) || run.Counts.Seen != len(want) {
		t.Fatalf("synced %d hosts (counts %+v), want %d", len(hosts), run.Counts, len(want))
	}
	for id, inst := range want {
		h := hosts[id]
		if h == nil {
			t.Fatalf("instance %s missing", id)
		}
		if h.Scope != inst.Project || h.Enabled != (inst.Status == "RUNNING") {
			t.Fatalf("host %s: scope %s enabled %v; instance %s %s", id, h.Scope, h.Enabled, inst.Project, inst.Status)
		}
		// The plugin's default hostnames: public_ip, private_ip, name.
		if wantName := inst.PublicIP; wantName != "" && h.Name != wantName {
			t.Fatalf("host %s named %q, want its public ip %s", id, h.Name, wantName)
		}
		var vars map[string]any
		must(t, json.Unmarshal(h.Vars, &vars))
		if vars["id"] != id || vars["zone"] != inst.Zone || vars["project"] != inst.Project {
			t.Fatalf("host %s vars: id %v zone %v project %v", id, vars["id"], vars["zone"], vars["project"])
		}
	}
	if len(run.Scopes) != 3 {
		t.Fatalf("scopes = %+v", run.Scopes)
	}
	for _, s := range run.Scopes {
		if s.Status != roster.ScopeSucceeded || s.Hosts == 0 {
			t.Fatalf("scope %+v", s)
		}
	}

	before := e.HostWrites()
	again := e.Sync()
	wantStatus(t, again, roster.SyncSucceeded)
	if c := again.Counts; c.Unchanged != len(want) || c.Added+c.Updated+c.Removed+c.Disabled != 0 {
		t.Fatalf("unchanged re-sync counts = %+v", c)
	}
	if after := e.HostWrites(); after != before {
		t.Fatalf("an unchanged re-sync wrote host rows: %s → %s", before, after)
	}
	if n := e.sim.Stats().TokensIssued; n != 2 {
		t.Fatalf("%d tokens for two syncs", n)
	}
}

func TestRenameIsAnUpdateStoppedIsDisabledDeletedIsRemoved(t *testing.T) {
	e := newEnv(t, 150, map[string]any{"hostnames": []any{"name"}, "name_suffix": ".gce"}, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	// Instances whose names no other instance shares: renaming one must
	// not hand its old name to another.
	names := map[string]int{}
	for _, inst := range e.sim.Fleet().Instances() {
		names[inst.Name]++
	}
	var renamed, stopped, gone string
	for _, inst := range e.sim.Fleet().Instances() {
		id := inst.ID
		if inst.Status != "RUNNING" || names[inst.Name] > 1 {
			continue
		}
		switch {
		case renamed == "":
			renamed = id
		case stopped == "":
			stopped = id
		case gone == "":
			gone = id
		}
	}
	must(t, e.sim.Fleet().Rename(renamed, "renamed-host"))
	must(t, e.sim.Fleet().SetStatus(stopped, "TERMINATED"))
	must(t, e.sim.Fleet().Remove(gone))
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Updated != 2 || run.Counts.Removed != 1 || run.Counts.Added != 0 {
		t.Fatalf("counts = %+v, want 2 updated and 1 removed", run.Counts)
	}
	after := e.Hosts()
	if h := after[renamed]; h == nil || h.Name != "renamed-host.gce" || h.ID != before[renamed].ID || !h.FirstSeen.Equal(before[renamed].FirstSeen) {
		t.Fatalf("renamed host = %+v, want the same host (id %d) renamed", h, before[renamed].ID)
	}
	if h := after[stopped]; h == nil || h.Enabled {
		t.Fatalf("stopped instance: host %+v, want kept and disabled", h)
	}
	if _, ok := after[gone]; ok {
		t.Fatalf("deleted instance %s is still a host", gone)
	}
}

func TestDeniedProjectKeepsItsHostsAndMarksRunPartial(t *testing.T) {
	e := newEnv(t, 300, nil, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()

	e.sim.SetFaults(gcpsim.Faults{DenyScopes: []string{"roster-staging"}})
	var inStaging, inProd string
	for id, inst := range e.fleet() {
		switch {
		case inst.Project == "roster-staging" && inStaging == "":
			inStaging = id
		case inst.Project == "roster-prod" && inProd == "":
			inProd = id
		}
	}
	must(t, e.sim.Fleet().Remove(inStaging))
	must(t, e.sim.Fleet().Remove(inProd))
	run := e.Sync()
	wantStatus(t, run, roster.SyncPartial)
	after := e.Hosts()
	if _, ok := after[inStaging]; !ok {
		t.Fatal("a host of the denied project was removed")
	}
	if _, ok := after[inProd]; ok {
		t.Fatal("a vanished host of a healthy project was kept")
	}
	for id, h := range before {
		if h.Scope == "roster-staging" && after[id].Hash != h.Hash {
			t.Fatalf("host %s of the denied project changed", id)
		}
	}
	for _, s := range run.Scopes {
		if s.Name == "roster-staging" && (s.Status != roster.ScopeFailed || !strings.Contains(s.Error, "403 forbidden: Required 'compute.instances.list' permission for 'projects/roster-staging'")) {
			t.Fatalf("failed scope recorded as %+v", s)
		}
	}
}

func TestEveryProjectFailingChangesNothing(t *testing.T) {
	e := newEnv(t, 100, nil, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.HostWrites()
	e.sim.SetFaults(gcpsim.Faults{DenyScopes: fleetProjects})
	run := e.Sync()
	wantStatus(t, run, roster.SyncFailed)
	if !strings.Contains(run.Error, "every scope failed") {
		t.Fatalf("error = %q", run.Error)
	}
	if after := e.HostWrites(); after != before {
		t.Fatal("a failed sync changed hosts")
	}
}

func TestThrottlingAndServerErrorsAreRetried(t *testing.T) {
	e := newEnv(t, 1400, nil, nil) // the first project needs several pages
	e.sim.SetFaults(gcpsim.Faults{ThrottleEvery: 2, ErrorEvery: 3, RetryAfter: time.Second})
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Added != 1400 {
		t.Fatalf("added %d, want 1400", run.Counts.Added)
	}
	st := e.sim.Stats()
	if st.InjectedStatus[429] == 0 || st.InjectedStatus[503] == 0 {
		t.Fatalf("injected %v: the test proves nothing", st.InjectedStatus)
	}
}

func TestFailureMidPaginationWritesNothingOfThatProject(t *testing.T) {
	e := newEnv(t, 1400, nil, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	removed := map[string]string{}
	for _, inst := range e.sim.Fleet().Instances() {
		if removed[inst.Project] == "" {
			removed[inst.Project] = inst.ID
			must(t, e.sim.Fleet().Remove(inst.ID))
		}
	}
	e.sim.SetFaults(gcpsim.Faults{FailAfterPage: 1})
	run := e.Sync()
	after := e.Hosts()
	failed := 0
	for _, s := range run.Scopes {
		_, kept := after[removed[s.Name]]
		switch s.Status {
		case roster.ScopeFailed:
			failed++
			if !kept {
				t.Errorf("project %s failed on a later page, yet its vanished host was removed", s.Name)
			}
			for id, h := range before {
				if h.Scope == s.Name && (after[id] == nil || after[id].Hash != h.Hash) {
					t.Fatalf("host %s of failed project %s changed", id, s.Name)
				}
			}
		case roster.ScopeSucceeded:
			if kept {
				t.Errorf("project %s succeeded, yet its vanished host was kept", s.Name)
			}
		}
	}
	if failed == 0 {
		t.Fatalf("no project needed a second page: the test proves nothing (%+v)", run.Scopes)
	}
}

func TestFiltersAndHostnameFallback(t *testing.T) {
	e := newEnv(t, 300, map[string]any{"hostnames": []any{"labels.app"}, "filters": []any{"status = RUNNING"}}, nil)
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	hosts := e.Hosts()
	var running, unnamed int
	for id, inst := range e.fleet() {
		h := hosts[id]
		if inst.Status != "RUNNING" {
			if h != nil {
				t.Fatalf("%s (%s) should have been filtered out", id, inst.Status)
			}
			continue
		}
		running++
		if app := inst.Labels["app"]; app == "" {
			unnamed++
			if h == nil || h.Name != id {
				t.Fatalf("instance %s without an app label: host %+v, want it named by its id", id, h)
			}
		}
	}
	if len(hosts) != running || unnamed == 0 {
		t.Fatalf("%d hosts, %d running, %d without the label", len(hosts), running, unnamed)
	}
	if !slices.ContainsFunc(run.Warnings, func(w string) bool { return strings.Contains(w, "no hostnames preference matched") }) {
		t.Fatalf("no warning about the fallback: %q", run.Warnings)
	}
}

func TestCanceledSyncChangesNothing(t *testing.T) {
	e := newEnv(t, 100, nil, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.HostWrites()
	e.sim.SetFaults(gcpsim.Faults{Latency: time.Minute})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	begin := time.Now()
	run := e.SyncCtx(ctx)
	if run.Status != roster.SyncCanceled && run.Status != roster.SyncFailed {
		t.Fatalf("status = %s, want canceled", run.Status)
	}
	if d := time.Since(begin); d > 10*time.Second {
		t.Fatalf("the canceled sync took %v: a page outlived it", d)
	}
	if e.HostWrites() != before {
		t.Fatal("a canceled sync changed hosts")
	}
}

// keyMaterial returns pieces of a key file's private key that must never
// appear anywhere.
func keyMaterial(t *testing.T, keyFile []byte) []string {
	t.Helper()
	var f struct {
		PrivateKey string `json:"private_key"`
	}
	must(t, json.Unmarshal(keyFile, &f))
	var out []string
	for _, line := range strings.Split(f.PrivateKey, "\n") {
		if len(line) >= 32 && !strings.HasPrefix(line, "-----") {
			out = append(out, line[:32])
		}
	}
	return out
}

// TestNoKeyMaterialInAnyLogOrRun runs failing and succeeding syncs with
// the engine logging at debug level and the Google libraries' own logging
// switched on, and looks for the key, the assertion and the token
// everywhere.
func TestNoKeyMaterialInAnyLogOrRun(t *testing.T) {
	t.Setenv("GOOGLE_SDK_GO_LOGGING_LEVEL", "debug")
	stopCapture := captureStderr(t)
	os.Stderr.WriteString("stderr is captured\n")
	var allMaterial []string
	for _, tc := range []struct {
		name   string
		key    func(*gcpsim.Server, string) []byte
		config map[string]any
		status roster.SyncStatus
		want   string
	}{
		{"good key", nil, nil, roster.SyncSucceeded, ""},
		{"wrong scopes", nil, map[string]any{"scopes": []any{"https://www.googleapis.com/auth/devstorage.read_only"}},
			roster.SyncFailed, "403 insufficientPermissions: Request had insufficient authentication scopes."},
		{"broken key file", func(s *gcpsim.Server, url string) []byte {
			k := s.KeyFile(url)
			return k[:len(k)*2/3]
		}, nil, roster.SyncFailed, "open gcp provider: the configured service account key is not usable: it is not valid JSON"},
		{"key of another account", func(_ *gcpsim.Server, url string) []byte {
			sa, err := gcpsim.NewServiceAccount("intruder@elsewhere.iam.gserviceaccount.com")
			must(t, err)
			return sa.KeyFile(url + gcpsim.TokenPath)
		}, nil, roster.SyncFailed, "get an access token for intruder@elsewhere.iam.gserviceaccount.com"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var used []byte
			key := func(s *gcpsim.Server, url string) []byte {
				if tc.key == nil {
					used = s.KeyFile(url)
				} else {
					used = tc.key(s, url)
				}
				return used
			}
			e := newEnv(t, 60, tc.config, key)
			run := e.Sync()
			wantStatus(t, run, tc.status)
			if !strings.Contains(run.Error+scopeErrors(run), tc.want) {
				t.Fatalf("run error %q, scopes %+v; want %q", run.Error, run.Scopes, tc.want)
			}
			material := keyMaterial(t, e.sim.KeyFile(e.url))
			if len(used) > 0 && json.Valid(used) {
				material = append(material, keyMaterial(t, used)...)
			}
			allMaterial = append(allMaterial, material...)
			runJSON, _ := json.Marshal(run)
			for what, text := range map[string]string{"the run": string(runJSON), "the engine's log": e.log.String()} {
				for _, m := range material {
					if strings.Contains(text, m) {
						t.Fatalf("%s contains key material", what)
					}
				}
				for _, secret := range []string{"PRIVATE KEY", "ya29.", "assertion", "eyJ"} {
					if strings.Contains(text, secret) {
						t.Fatalf("%s contains %q: %s", what, secret, text)
					}
				}
			}
		})
	}
	stderr := stopCapture()
	if !strings.Contains(stderr, "stderr is captured") {
		t.Fatal("stderr was not captured: the test proves nothing about it")
	}
	for _, m := range allMaterial {
		if strings.Contains(stderr, m) {
			t.Fatal("stderr contains key material")
		}
	}
	for _, secret := range []string{"PRIVATE KEY", "ya29.", "assertion", "eyJ"} {
		if strings.Contains(stderr, secret) {
			t.Fatalf("stderr contains %q: %s", secret, stderr)
		}
	}
}

func scopeErrors(run *roster.SyncRun) string {
	var b strings.Builder
	for _, s := range run.Scopes {
		b.WriteString(s.Error)
	}
	return b.String()
}

// captureStderr sends os.Stderr to a pipe until the returned function is
// called; that function restores it and returns everything written.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	must(t, err)
	orig := os.Stderr
	os.Stderr = w
	var buf bytes.Buffer
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf.ReadFrom(r)
	}()
	stop := sync.OnceValue(func() string {
		os.Stderr = orig
		w.Close()
		<-done
		r.Close()
		return buf.String()
	})
	t.Cleanup(func() { stop() })
	return stop
}
