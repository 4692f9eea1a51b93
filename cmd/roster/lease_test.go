package main

import (
	"encoding/base64"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// leaseEnv is a database with one EC2 source, served by `roster serve`
// processes started on it, and the simulator it syncs from.
type leaseEnv struct {
	t     *testing.T
	bin   string
	dsn   string
	env   []string
	sim   *awssim.Server
	store rosterStore
	token roster.Secret
	src   *roster.Source
}

func newLeaseEnv(t *testing.T, bin, dsn string) *leaseEnv {
	t.Helper()
	sim := awssim.New(awssim.Options{Seed: 9, Size: 20, Regions: []string{"us-east-1"}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	e := &leaseEnv{t: t, bin: bin, dsn: dsn, sim: sim, env: []string{
		"ROSTER_SECRET_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey}}
	st, err := openStore(t.Context(), Config{Database: dsn})
	must(t, err)
	t.Cleanup(func() { st.Close() })
	e.store = st
	inv := &roster.Inventory{Name: "prod"}
	must(t, st.CreateInventory(t.Context(), inv))
	e.src = &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove,
		Config: map[string]any{"regions": []any{"us-east-1"}, "endpoint_url": srv.URL}}
	must(t, st.CreateSource(t.Context(), e.src))
	e.token = adminToken(t, bin, "--database", dsn)
	return e
}

// runs returns the source's runs, newest first.
func (e *leaseEnv) runs() []*roster.SyncRun {
	e.t.Helper()
	runs, _, err := e.store.SyncRuns(e.t.Context(), roster.SyncRunFilter{SourceID: e.src.ID, Limit: 100})
	must(e.t, err)
	return runs
}

// waitRunning waits until the source's newest run is running, held by
// the process pid, and returns it.
func (e *leaseEnv) waitRunning(pid int) *roster.SyncRun {
	e.t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if runs := e.runs(); len(runs) > 0 && runs[0].Status == roster.SyncRunning && strings.Contains(runs[0].Holder, fmt.Sprintf("-%d-", pid)) {
			return runs[0]
		}
	}
	e.t.Fatalf("no run of the source started in process %d", pid)
	return nil
}

// TestKilledSyncCommandDoesNotBlockItsSource: `kill -9` of `roster sync`
// in the middle of its sync leaves a run that nobody renews; within two
// minutes, with the default lease and no one stepping in, the source takes
// a new sync (through a server's API, or through the next `roster sync`),
// on SQLite and on PostgreSQL.
func TestKilledSyncCommandDoesNotBlockItsSource(t *testing.T) {
	if testing.Short() {
		t.Skip("waits out a one-minute lease")
	}
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	sqlite := func(t *testing.T) string { return filepath.Join(t.TempDir(), "roster.db") }
	postgres := func(t *testing.T) string { return testenv.Postgres(t).CreateDatabase(t) }
	for _, tc := range []struct {
		name        string
		dsn         func(*testing.T) string
		withAServer bool
	}{
		{"SQLite with a server", sqlite, true},
		{"SQLite without a server", sqlite, false},
		{"PostgreSQL with a server", postgres, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newLeaseEnv(t, bin, tc.dsn(t))
			var n *clusterNode
			if tc.withAServer {
				n = startNode(t, bin, "serve", e.dsn, e.env)
			}
			// A sync slow enough to be killed in its middle.
			e.sim.SetFaults(awssim.Faults{Latency: 5 * time.Second, Ops: []string{"DescribeInstances"}})
			cli := exec.Command(bin, "sync", "--source", "ec2", "--database", e.dsn)
			cli.Env = append(os.Environ(), e.env...)
			must(t, cli.Start())
			cliDone := make(chan error, 1)
			go func() { cliDone <- cli.Wait() }()
			killed := e.waitRunning(cli.Process.Pid)
			must(t, cli.Process.Signal(syscall.SIGKILL))
			<-cliDone
			killedAt := time.Now()
			e.sim.SetFaults(awssim.Faults{})

			// Ask for a sync every 2 s until one is taken.
			for accepted := false; !accepted; {
				if time.Since(killedAt) > 2*time.Minute {
					t.Fatalf("the source still refuses a sync %s after the kill", time.Since(killedAt).Round(time.Second))
				}
				if tc.withAServer {
					status, err := client.New(n.url, e.token).Call(t.Context(), "POST", "/sources/"+e.src.ID+"/syncs", nil, nil)
					must(t, err)
					accepted = status == 202
				} else {
					sync := exec.Command(bin, "sync", "--source", "ec2", "--database", e.dsn)
					sync.Env = append(os.Environ(), e.env...)
					out, err := sync.CombinedOutput()
					switch {
					case err == nil:
						accepted = true
					case !strings.Contains(string(out), "is already syncing"):
						t.Fatalf("roster sync after the kill: %v\n%s", err, out)
					}
				}
				if !accepted {
					time.Sleep(2 * time.Second)
				}
			}
			t.Logf("a new sync was accepted %s after the kill (lease %s)", time.Since(killedAt).Round(time.Second), syncer.DefaultLease)

			for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
				runs := e.runs()
				if len(runs) != 2 {
					t.Fatalf("%d runs, want the killed one and the new one (a CLI run is not retried)", len(runs))
				}
				newest, old := runs[0], runs[1]
				if old.ID != killed.ID || old.Status != roster.SyncFailed || old.Error != syncer.ExpiredReason {
					t.Fatalf("killed run = %s %q, want it failed for its stopped process", old.Status, old.Error)
				}
				if newest.Status == roster.SyncSucceeded {
					break
				}
				if time.Now().After(deadline) || newest.Status.Done() {
					t.Fatalf("the new sync = %s %q", newest.Status, newest.Error)
				}
			}
		})
	}
}

// TestCrashingSyncIsNotReplayedForever: a server killed in the middle of a
// sync, every time, as a sync that exhausts its memory would: each crash
// costs one of --sync-attempts tries, then the sync is left failed; no run
// stays running and nothing replays it after the last restart.
func TestCrashingSyncIsNotReplayedForever(t *testing.T) {
	if testing.Short() {
		t.Skip("kills and restarts roster serve")
	}
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	e := newLeaseEnv(t, bin, filepath.Join(t.TempDir(), "roster.db"))
	e.sim.SetFaults(awssim.Faults{Latency: 3 * time.Second, Ops: []string{"DescribeInstances"}})
	args := []string{"--sync-lease", "3s", "--sync-attempts", "2", "--sync-timeout", "1m", "--sync-timeout-max", "1m"}
	n := startNode(t, bin, "serve-1", e.dsn, e.env, args...)
	must(t, client.New(n.url, e.token).Do(t.Context(), "POST", "/sources/"+e.src.ID+"/syncs", nil, nil))

	var cut []*roster.SyncRun
	for i := 1; i <= 2; i++ {
		cut = append(cut, e.waitRunning(n.cmd.Process.Pid))
		must(t, n.cmd.Process.Signal(syscall.SIGKILL))
		<-n.done
		n = startNode(t, bin, fmt.Sprintf("serve-%d", i+1), e.dsn, e.env, args...)
	}
	// The second crash was the last attempt: its run is failed when its
	// lease ends, and nothing follows it (a retry would be queued at once,
	// to run after its backoff).
	for deadline := time.Now().Add(30 * time.Second); e.runs()[0].Status != roster.SyncFailed; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the last cut-off run is still %s", e.runs()[0].Status)
		}
	}
	time.Sleep(15 * time.Second)
	runs := e.runs()
	if len(runs) != 2 {
		t.Fatalf("%d runs, want two attempts and no more", len(runs))
	}
	for i, r := range runs {
		want := cut[len(cut)-1-i]
		if r.ID != want.ID || r.Status != roster.SyncFailed || r.Error != syncer.ExpiredReason || r.Attempt != 2-i {
			t.Fatalf("run %d = %s %s %q attempt %d, want %s failed for its stopped process, attempt %d", i, r.ID, r.Status, r.Error, r.Attempt, want.ID, 2-i)
		}
	}
	if runs[0].RetryOf != runs[1].ID {
		t.Fatalf("the second attempt retries %q, want %s", runs[0].RetryOf, runs[1].ID)
	}
	// The server is up and the source syncs again when asked.
	e.sim.SetFaults(awssim.Faults{})
	var next struct{ ID string }
	must(t, client.New(n.url, e.token).Do(t.Context(), "POST", "/sources/"+e.src.ID+"/syncs", nil, &next))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		run, err := e.store.SyncRun(t.Context(), next.ID)
		must(t, err)
		if run.Status == roster.SyncSucceeded {
			break
		}
		if run.Status.Done() || time.Now().After(deadline) {
			t.Fatalf("sync after the crashes = %s %q", run.Status, run.Error)
		}
	}
}
