package syncer_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/internal/syncer/syncertest"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// stallRegion answers EC2 requests signed for region only when the client
// gives up (a region whose API hangs); the others go to the simulator.
func stallRegion(next http.Handler, region string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.Contains(r.Header.Get("Authorization"), "/"+region+"/ec2/") {
			// Once the body is read, the server notices the client
			// hanging up (and cancels the request's context).
			io.Copy(io.Discard, r.Body)
			<-r.Context().Done()
			return
		}
		next.ServeHTTP(w, r)
	})
}

// newStallEnv is newEnv whose simulator hangs in one region, with an
// engine whose options are opts.
func newStallEnv(t *testing.T, stalled string, opts ...syncer.Option) *syncertest.Harness {
	t.Helper()
	sim := awssim.New(awssim.Options{Seed: 7, Size: 30, Regions: fleetRegions})
	srv := httptest.NewServer(stallRegion(sim, stalled))
	t.Cleanup(srv.Close)
	reg := sources.NewRegistry(aws.Driver{
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		MaxAttempts: 1,
	})
	h := syncertest.New(t, reg, slog.New(slog.DiscardHandler), "aws", "ec2",
		map[string]any{"regions": toAny(fleetRegions), "endpoint_url": srv.URL})
	h.Engine = syncer.New(h.Store, reg, slog.New(slog.DiscardHandler), opts...)
	return h
}

func TestTimedOutRunListsOnlyTheScopesThatFinished(t *testing.T) {
	h := newStallEnv(t, "eu-west-1", syncer.WithTimeouts(syncer.Timeouts{Default: 2 * time.Second, Max: time.Hour}))
	run := h.Sync()
	if run.Status != roster.SyncCanceled || !strings.Contains(run.Error, "timeout") {
		t.Fatalf("run = %s %q, want canceled for its timeout", run.Status, run.Error)
	}
	for _, sc := range run.Scopes {
		want := roster.ScopeSucceeded
		if sc.Name == "eu-west-1" {
			want = roster.ScopePending // cut off, not failed: it never finished
		}
		if sc.Status != want || sc.Error != "" {
			t.Fatalf("scope %s = %s %q, want %s (scopes %+v)", sc.Name, sc.Status, sc.Error, want, run.Scopes)
		}
	}
	if hosts := h.Hosts(); len(hosts) != 0 {
		t.Fatalf("a timed-out run wrote %d hosts", len(hosts))
	}
}

// syncInBackground starts a sync of h's source and returns a channel
// that yields the recorded run when it ends (the test's goroutine checks
// it: nothing here may fail the test from another goroutine).
func syncInBackground(t *testing.T, h *syncertest.Harness) <-chan *roster.SyncRun {
	t.Helper()
	run, created, err := h.Engine.Trigger(t.Context(), h.Src, roster.TriggerCLI)
	must(t, err)
	if !created {
		t.Fatalf("a run was already active: %s", run.ID)
	}
	done := make(chan *roster.SyncRun, 1)
	go func() {
		h.Engine.Run(t.Context(), run, nil)
		got, err := h.Store.SyncRun(context.Background(), run.ID)
		if err != nil {
			got = &roster.SyncRun{ID: run.ID, Error: "read back: " + err.Error()}
		}
		done <- got
	}()
	return done
}

func TestRunRenewsItsLease(t *testing.T) {
	const lease = 400 * time.Millisecond
	h := newStallEnv(t, "eu-west-1", syncer.WithTimeouts(syncer.Timeouts{Default: 2 * time.Second, Max: time.Hour, Lease: lease}))
	// The run lasts five leases (its timeout): were it not renewed, the
	// expiry below would take it.
	done := syncInBackground(t, h)
	var expired []*roster.SyncRun
	for deadline := time.Now().Add(1800 * time.Millisecond); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		runs, err := h.Store.ExpireSyncRuns(t.Context(), time.Now(), "expired", "", 10)
		must(t, err)
		expired = append(expired, runs...)
	}
	run := <-done
	if len(expired) != 0 {
		t.Fatalf("a live run expired: %+v", expired[0])
	}
	if run.Status != roster.SyncCanceled || run.LeaseUntil == nil || !run.LeaseUntil.After(run.StartedAt.Add(3*lease)) {
		t.Fatalf("run = %s %q, lease until %v (started %v), want canceled at its timeout, its lease renewed to its end",
			run.Status, run.Error, run.LeaseUntil, run.StartedAt)
	}
}

func TestRunThatLostItsLeaseStopsAtOnce(t *testing.T) {
	const lease = 400 * time.Millisecond
	sim := awssim.New(awssim.Options{Seed: 7, Size: 30, Regions: fleetRegions,
		Faults: awssim.Faults{Latency: 5 * time.Second, Ops: []string{"DescribeInstances"}}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	reg := sources.NewRegistry(aws.Driver{Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", "")})
	h := syncertest.New(t, reg, slog.New(slog.DiscardHandler), "aws", "ec2",
		map[string]any{"regions": toAny(fleetRegions), "endpoint_url": srv.URL})
	h.Engine = syncer.New(h.Store, reg, slog.New(slog.DiscardHandler),
		syncer.WithTimeouts(syncer.Timeouts{Default: time.Minute, Max: time.Hour, Lease: lease}))
	done := syncInBackground(t, h)
	// Another process takes the run for dead (as it would after the
	// holder stalled past its lease): the holder learns it at its next
	// renewal, and stops there rather than at the end of its fetch.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		runs, _, err := h.Store.SyncRuns(t.Context(), roster.SyncRunFilter{SourceID: h.Src.ID})
		must(t, err)
		if len(runs) == 1 && runs[0].Status == roster.SyncRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
	}
	taken, err := h.Store.ExpireSyncRuns(t.Context(), time.Now().Add(time.Hour), "taken for dead", "", 10)
	must(t, err)
	if len(taken) != 1 {
		t.Fatalf("expired %d runs, want the running one", len(taken))
	}
	takenAt := time.Now()
	select {
	case run := <-done:
		if run.Status != roster.SyncFailed || run.Error != "taken for dead" {
			t.Fatalf("run = %s %q, want the expiry's record kept", run.Status, run.Error)
		}
		t.Logf("the holder stopped %s after its run was taken", time.Since(takenAt).Round(time.Millisecond))
	case <-time.After(4 * time.Second): // the fetch alone takes 5 s
		t.Fatal("the run went on after losing its lease")
	}
}

// TestEngineDoesNotExpireItsOwnLiveRun: a run whose heartbeat could not
// write for a while (it queued behind another sync's long write: SQLite
// has one writer) has an ended lease in the store; the engine working it
// knows it is alive, and its own expiry sweep leaves it alone.
func TestEngineDoesNotExpireItsOwnLiveRun(t *testing.T) {
	h := newStallEnv(t, "eu-west-1", syncer.WithTimeouts(syncer.Timeouts{Default: time.Second, Max: time.Hour, Lease: time.Hour}))
	done := syncInBackground(t, h)
	var run *roster.SyncRun
	for deadline := time.Now().Add(10 * time.Second); run == nil; time.Sleep(10 * time.Millisecond) {
		runs, _, err := h.Store.SyncRuns(t.Context(), roster.SyncRunFilter{SourceID: h.Src.ID})
		must(t, err)
		if len(runs) == 1 && runs[0].Status == roster.SyncRunning {
			run = runs[0]
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never started")
		}
	}
	past := time.Now().Add(-time.Minute)
	must(t, h.Store.RenewSyncRun(t.Context(), &roster.SyncRun{ID: run.ID, Holder: run.Holder, LeaseUntil: &past}))
	expired, err := h.Engine.Expire(t.Context(), time.Now())
	must(t, err)
	if len(expired) != 0 {
		t.Fatalf("the engine expired its own live run: %+v", expired[0])
	}
	if got := <-done; got.Status != roster.SyncCanceled || !strings.Contains(got.Error, "timeout") {
		t.Fatalf("run = %s %q, want it to run to its own end (its timeout)", got.Status, got.Error)
	}
}
