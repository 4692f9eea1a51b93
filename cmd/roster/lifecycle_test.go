package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// TestShutdownDrains: SIGTERM to a `roster serve` process with a sync
// running. /readyz goes 503, a sync asked for meanwhile stays queued (for
// another node, or the next start), a request in flight when the listener
// closes completes, and the process exits 0. With a shutdown timeout
// longer than the sync, the sync succeeds; with a shorter one it ends
// failed with the shutdown's reason, within the timeout. No run is left
// running.
func TestShutdownDrains(t *testing.T) {
	if testing.Short() {
		t.Skip("runs roster serve processes")
	}
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	for _, tc := range []struct {
		name            string
		latency, budget time.Duration
		want            roster.SyncStatus
		wantErr         string
	}{
		{"the sync finishes in time", 5 * time.Second, 30 * time.Second, roster.SyncSucceeded, ""},
		{"the sync outlives the timeout", time.Minute, 4 * time.Second, roster.SyncFailed,
			"roster serve stopped before the sync finished (shutdown timeout 4s); nothing was changed"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newLeaseEnv(t, bin, filepath.Join(t.TempDir(), "roster.db"))
			other := &roster.Source{InventoryID: e.src.InventoryID, Name: "ec2-other", Provider: "aws", OnMissing: roster.OnMissingRemove,
				Config: e.src.Config}
			must(t, e.store.CreateSource(t.Context(), other))
			e.sim.SetFaults(awssim.Faults{Latency: tc.latency, Ops: []string{"DescribeInstances"}})
			n := startNode(t, bin, "serve", e.dsn, e.env, "--shutdown-timeout", tc.budget.String(),
				"--sync-timeout", "2m", "--sync-timeout-max", "2m")
			c := client.New(n.url, e.token)
			must(t, c.Do(t.Context(), "POST", "/sources/"+e.src.ID+"/syncs", nil, nil))
			running := e.waitRunning(n.cmd.Process.Pid)

			// A request whose headers are in but whose body is not: in
			// flight across the shutdown.
			inFlight := startRequest(t, n.url, e.token, `{"name":"made-while-stopping"}`)
			must(t, n.cmd.Process.Signal(syscall.SIGTERM))
			signaled := time.Now()
			waitStatus(t, n.url+"/readyz", http.StatusServiceUnavailable)
			var queued struct {
				ID string `json:"id"`
			}
			if status := call(t, c, "POST", "/sources/"+other.ID+"/syncs", nil, &queued); status != http.StatusAccepted {
				t.Fatalf("a sync asked for while draining: %d, want 202 (queued)", status)
			}

			// Once the listener is closed, the request in flight still
			// gets its answer.
			waitRefused(t, n.url)
			if status := inFlight.finish(t); status != http.StatusCreated {
				t.Fatalf("the request in flight at the shutdown got %d, want 201", status)
			}
			var exitErr error
			select {
			case exitErr = <-n.done:
			case <-time.After(tc.budget + 30*time.Second):
				t.Fatal("roster serve did not exit")
			}
			took := time.Since(signaled)
			if exitErr != nil {
				t.Fatalf("roster serve exited with %v, want 0", exitErr)
			}
			if tc.want == roster.SyncFailed && took > tc.budget+15*time.Second {
				t.Fatalf("the shutdown took %s with a %s timeout", took.Round(time.Millisecond), tc.budget)
			}
			got, err := e.store.SyncRun(t.Context(), running.ID)
			must(t, err)
			if got.Status != tc.want || got.Error != tc.wantErr {
				t.Fatalf("the running sync ended %s %q, want %s %q", got.Status, got.Error, tc.want, tc.wantErr)
			}
			q, err := e.store.SyncRun(t.Context(), queued.ID)
			must(t, err)
			if q.Status != roster.SyncQueued {
				t.Fatalf("the sync asked for while draining is %s, want queued (nothing new starts)", q.Status)
			}
			if _, err := e.store.Inventory(t.Context(), "made-while-stopping"); err != nil {
				t.Fatalf("the request in flight was not applied: %v", err)
			}
			t.Logf("SIGTERM to exit: %s", took.Round(time.Millisecond))
		})
	}
}

// pendingRequest is a POST /api/v1/inventories whose body is not all sent.
type pendingRequest struct {
	conn net.Conn
	rest string
}

// startRequest sends a request's headers and the first byte of its body,
// and waits until the server has them (the connection is then active).
func startRequest(t *testing.T, base string, token roster.Secret, body string) *pendingRequest {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	must(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "POST /api/v1/inventories HTTP/1.1\r\nHost: roster\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s",
		token.Reveal(), len(body), body[:1])
	must(t, err)
	time.Sleep(200 * time.Millisecond)
	return &pendingRequest{conn: conn, rest: body[1:]}
}

// finish sends the rest of the body and returns the response's status.
func (p *pendingRequest) finish(t *testing.T) int {
	t.Helper()
	_, err := p.conn.Write([]byte(p.rest))
	must(t, err)
	must(t, p.conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(p.conn), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// waitStatus waits until GET url answers status.
func waitStatus(t *testing.T, url string, status int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		resp, err := http.Get(url)
		if err != nil {
			continue
		}
		resp.Body.Close()
		if resp.StatusCode == status {
			return
		}
	}
	t.Fatalf("GET %s never answered %d", url, status)
}

// waitRefused waits until base refuses connections (its listener closed).
func waitRefused(t *testing.T, base string) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
		if err != nil {
			return
		}
		conn.Close()
	}
	t.Fatalf("%s still accepts connections", base)
}

// TestHangupReloadsConfig: a SIGHUP to a plain-HTTP `roster serve` reads
// its config file again: a new log level applies at once, a setting that
// needs a restart is named as such, and a config file that does not load
// keeps the running configuration and says so. The process serves on.
func TestHangupReloadsConfig(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	dir := t.TempDir()
	conf := filepath.Join(dir, "roster.yaml")
	must(t, os.WriteFile(conf, []byte("log_level: info\n"), 0o600))
	srv := serveProcess(t, bin, dir, http.DefaultClient, "--config", conf, "--listen", freeAddr(t))
	hangups := 0
	hangup := func(content, want string) string {
		t.Helper()
		must(t, os.WriteFile(conf, []byte(content), 0o600))
		before := len(srv.logs())
		must(t, srv.cmd.Process.Signal(syscall.SIGHUP))
		hangups++
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(50 * time.Millisecond) {
			if added := srv.logs()[before:]; strings.Contains(added, want) {
				return added
			}
			select {
			case err := <-srv.done:
				t.Fatalf("roster serve exited on SIGHUP: %v", err)
			default:
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the log after SIGHUP %d:\n%s", want, hangups, srv.logs()[before:])
			}
		}
	}
	// River's chatter is logged at debug every few seconds: debug lines
	// come once debug applies, and stop once info does.
	const debugLine = "level=DEBUG"
	waitDebug := func(from int) {
		t.Helper()
		for deadline := time.Now().Add(15 * time.Second); !strings.Contains(srv.logs()[from:], debugLine); time.Sleep(100 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("no debug line at level debug:\n%s", srv.logs()[from:])
			}
		}
	}
	got := hangup("log_level: debug\nchange_retention: 2d\nsync_concurrency: 2\n", "configuration reloaded")
	for _, want := range []string{`applied="[log-level change-retention]"`, "settings changed that only a restart applies", "settings=[sync-concurrency]"} {
		if !strings.Contains(got, want) {
			t.Fatalf("the reload's log lacks %q:\n%s", want, got)
		}
	}
	waitDebug(len(srv.logs()))

	got = hangup("log_level: loud\n", "config reload failed: keeping the running configuration")
	if !strings.Contains(got, `log level \"loud\"`) {
		t.Fatalf("the failed reload does not say why:\n%s", got)
	}
	waitDebug(len(srv.logs())) // still at debug: the bad file changed nothing
	if got := metricLine(t, srv.url, "roster_config_last_reload_successful"); got != "roster_config_last_reload_successful 0" {
		t.Fatalf("after a failed reload: %q", got)
	}

	hangup("log_level: info\n", "configuration reloaded")
	if got := metricLine(t, srv.url, "roster_config_last_reload_successful"); got != "roster_config_last_reload_successful 1" {
		t.Fatalf("after a reload: %q", got)
	}
	from := len(srv.logs())
	time.Sleep(8 * time.Second)
	if quiet := srv.logs()[from:]; strings.Contains(quiet, debugLine) {
		t.Fatalf("debug lines after the reload to info:\n%s", quiet)
	}
	resp, err := http.Get(srv.url + "/healthz")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after the reloads /healthz answers %s", resp.Status)
	}
}

// metricLine is the line of /metrics that starts with name.
func metricLine(t *testing.T, base, name string) string {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	must(t, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), name+" ") {
			return sc.Text()
		}
	}
	t.Fatalf("no %s in /metrics", name)
	return ""
}
