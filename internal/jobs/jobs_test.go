package jobs_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// node is one Roster process's queue, engine and store over a real SQLite
// file, syncing from a real EC2 simulator through the AWS SDK.
type node struct {
	t      *testing.T
	sim    *awssim.Server
	simURL string
	store  *store.SQLite
	queue  *jobs.Queue
	engine *syncer.Engine
	inv    *roster.Inventory
	path   string
}

func logger() *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func newNode(t *testing.T, cfg jobs.Config, opts ...syncer.Option) *node {
	t.Helper()
	sim := awssim.New(awssim.Options{Seed: 3, Size: 30, Regions: []string{"us-east-1", "eu-west-1"}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	path := filepath.Join(t.TempDir(), "roster.db")
	st, err := store.OpenSQLite(t.Context(), path)
	must(t, err)
	t.Cleanup(func() { st.Close() })
	cfg.Log, cfg.Store = logger(), st
	q, err := jobs.OpenSQLite(t.Context(), path, cfg)
	must(t, err)
	reg := sources.NewRegistry(aws.Driver{Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""), MaxBackoff: 10 * time.Millisecond})
	timeouts := cfg.Timeouts
	if timeouts.Max == 0 {
		timeouts = syncer.DefaultTimeouts
	}
	e := syncer.New(st, reg, cfg.Log, append([]syncer.Option{syncer.WithQueue(q), syncer.WithTimeouts(timeouts)}, opts...)...)
	n := &node{t: t, sim: sim, simURL: srv.URL, store: st, queue: q, engine: e, path: path}
	n.inv = &roster.Inventory{Name: "prod"}
	must(t, st.CreateInventory(t.Context(), n.inv))
	return n
}

func (n *node) start() {
	must(n.t, n.queue.Start(n.t.Context(), n.engine))
	n.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := n.queue.Stop(ctx); err != nil {
			n.t.Errorf("stop queue: %v", err)
		}
	})
}

func (n *node) source(name string, mod func(*roster.Source)) *roster.Source {
	src := &roster.Source{InventoryID: n.inv.ID, Name: name, Provider: "aws", OnMissing: roster.OnMissingRemove,
		Config: map[string]any{"regions": []any{"us-east-1", "eu-west-1"}, "endpoint_url": n.simURL}}
	if mod != nil {
		mod(src)
	}
	must(n.t, n.store.CreateSource(n.t.Context(), src))
	return src
}

// wait polls the run until it is done.
func (n *node) wait(id string) *roster.SyncRun {
	n.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		run, err := n.store.SyncRun(n.t.Context(), id)
		must(n.t, err)
		if run.Status.Done() {
			return run
		}
		if time.Now().After(deadline) {
			n.t.Fatalf("run %s still %s after 30s", id, run.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// runs returns the source's runs, oldest first.
func (n *node) runs(src *roster.Source) []*roster.SyncRun {
	runs, _, err := n.store.SyncRuns(n.t.Context(), roster.SyncRunFilter{SourceID: src.ID, Limit: 100})
	must(n.t, err)
	for i, j := 0, len(runs)-1; i < j; i, j = i+1, j-1 {
		runs[i], runs[j] = runs[j], runs[i]
	}
	return runs
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestTriggeredRunIsWorkedFromTheQueue(t *testing.T) {
	n := newNode(t, jobs.Config{})
	n.start()
	src := n.source("ec2", nil)
	run, created, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	if !created || run.Status != roster.SyncQueued {
		t.Fatalf("Trigger: created=%v status=%s", created, run.Status)
	}
	done := n.wait(run.ID)
	if done.Status != roster.SyncSucceeded || done.Counts.Added == 0 || done.Counts.Added != done.Counts.Seen {
		t.Fatalf("run = %s, counts %+v, error %q; want succeeded with every host added", done.Status, done.Counts, done.Error)
	}
}

func TestRunsQueuedBeforeStartAreWorkedAfter(t *testing.T) {
	n := newNode(t, jobs.Config{})
	src := n.source("ec2", nil)
	run, _, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	depth, err := n.queue.Depth(t.Context())
	must(t, err)
	if depth["available"] != 1 {
		t.Fatalf("before start, queue depth = %v, want 1 available", depth)
	}
	n.start()
	if done := n.wait(run.ID); done.Status != roster.SyncSucceeded {
		t.Fatalf("run = %s (%s)", done.Status, done.Error)
	}
}

func TestScheduleTicksRunOncePerTick(t *testing.T) {
	n := newNode(t, jobs.Config{})
	src := n.source("ec2", func(s *roster.Source) { s.Schedule, s.ScheduleJitter = "1m", 0 })
	other := n.source("manual", nil)
	now := time.Now()

	// The first tick plans the source's first sync; nothing runs yet.
	res, err := n.queue.Tick(t.Context(), now)
	must(t, err)
	if res.Planned != 1 || res.Queued != 0 {
		t.Fatalf("first tick = %+v, want 1 planned", res)
	}
	got, err := n.store.Source(t.Context(), src.ID)
	must(t, err)
	tick := got.NextSync.Tick
	if !tick.After(now) || tick.Sub(now) > time.Minute {
		t.Fatalf("next tick %v, want within a minute after %v", tick, now)
	}
	// Before the tick: nothing. At it: one run, however many nodes tick.
	if res, _ := n.queue.Tick(t.Context(), tick.Add(-time.Millisecond)); res != (jobs.TickResult{}) {
		t.Fatalf("tick before due = %+v", res)
	}
	var queued int
	for range 3 {
		res, err := n.queue.Tick(t.Context(), tick)
		must(t, err)
		queued += res.Queued
	}
	if queued != 1 {
		t.Fatalf("three ticks at the due time queued %d runs, want 1", queued)
	}
	runs := n.runs(src)
	if len(runs) != 1 || runs[0].Trigger != roster.TriggerSchedule || !runs[0].ScheduledFor.Equal(tick) {
		t.Fatalf("runs = %+v, want one scheduled run for %v", runs, tick)
	}
	if len(n.runs(other)) != 0 {
		t.Fatal("an unscheduled source ran")
	}

	// While that run is still queued, the next tick is skipped, not doubled.
	res, err = n.queue.Tick(t.Context(), tick.Add(time.Minute))
	must(t, err)
	if res.Skipped != 1 || res.Queued != 0 {
		t.Fatalf("tick while the previous run is active = %+v, want 1 skipped", res)
	}
	// A node that was down for an hour runs the missed schedule once, not
	// sixty times.
	n.start()
	n.wait(runs[0].ID)
	res, err = n.queue.Tick(t.Context(), tick.Add(time.Hour))
	must(t, err)
	if res.Queued != 1 {
		t.Fatalf("tick after an hour = %+v, want 1 queued", res)
	}
	got, _ = n.store.Source(t.Context(), src.ID)
	if !got.NextSync.Tick.After(tick.Add(time.Hour)) {
		t.Fatalf("next tick %v is not after the hour that passed", got.NextSync.Tick)
	}
	for _, run := range n.runs(src) {
		if r := n.wait(run.ID); r.Status != roster.SyncSucceeded {
			t.Fatalf("scheduled run %s = %s (%s)", r.ID, r.Status, r.Error)
		}
	}
}

func TestFailedSyncIsRetriedAsANewRun(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 3, Backoff: func(int) time.Duration { return 300 * time.Millisecond }}))
	n.sim.SetFaults(awssim.Faults{DenyScopes: []string{"us-east-1", "eu-west-1"}})
	n.start()
	src := n.source("ec2", nil)
	first, _, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	if r := n.wait(first.ID); r.Status != roster.SyncFailed {
		t.Fatalf("first attempt = %s", r.Status)
	}
	// Each retry is a run of its own, after a backoff, that says which
	// attempt it is and which run it retries; after the third attempt,
	// there is no fourth.
	deadline := time.Now().Add(30 * time.Second)
	for len(n.runs(src)) < 3 || !n.runs(src)[2].Status.Done() {
		if time.Now().After(deadline) {
			t.Fatalf("the failed sync was not retried twice: %d runs", len(n.runs(src)))
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(time.Second) // a fourth attempt would be queued by now
	runs := n.runs(src)
	if len(runs) != 3 {
		t.Fatalf("%d runs after 3 attempts, want 3", len(runs))
	}
	for i, r := range runs {
		want := ""
		if i > 0 {
			want = runs[i-1].ID
		}
		if r.Attempt != i+1 || r.RetryOf != want || r.Status != roster.SyncFailed || r.Trigger != roster.TriggerAPI {
			t.Fatalf("run %d = attempt %d retry of %q, %s %s", i, r.Attempt, r.RetryOf, r.Status, r.Trigger)
		}
		if i > 0 && (r.NotBefore == nil || r.NotBefore.Before(*runs[i-1].FinishedAt) || r.StartedAt.Before(*r.NotBefore)) {
			t.Fatalf("retry %d started at %v, not after its backoff (%v from %v)", i, r.StartedAt, r.NotBefore, runs[i-1].FinishedAt)
		}
	}
	hosts, _, err := n.store.Hosts(t.Context(), roster.HostFilter{InventoryID: n.inv.ID})
	must(t, err)
	if len(hosts) != 0 {
		t.Fatalf("failed runs wrote %d hosts", len(hosts))
	}
}

func TestFailureARetryWouldRepeatIsNotRetried(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 3, Backoff: func(int) time.Duration { return 100 * time.Millisecond }}))
	n.start()
	// Every host fails its strict compose: the same on every try.
	src := n.source("ec2", func(s *roster.Source) {
		s.Config["strict"] = true
		s.Config["compose"] = map[string]any{"x": "no_such_var + 1"}
	})
	run, _, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	if done := n.wait(run.ID); done.Status != roster.SyncFailed || !strings.Contains(done.Error, "compose.x") {
		t.Fatalf("run = %s %q, want failed for compose.x", done.Status, done.Error)
	}
	time.Sleep(time.Second) // ten backoffs
	if runs := n.runs(src); len(runs) != 1 {
		t.Fatalf("%d runs, want the failed one and no retry", len(runs))
	}
}

func TestRunExceedingItsTimeoutIsCanceled(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 1}))
	n.sim.SetFaults(awssim.Faults{Latency: 3 * time.Second, Ops: []string{"DescribeInstances"}})
	n.start()
	src := n.source("ec2", func(s *roster.Source) { s.Timeout = 300 * time.Millisecond })
	run, _, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	done := n.wait(run.ID)
	if done.Status != roster.SyncCanceled || !strings.Contains(done.Error, "timeout (300ms)") {
		t.Fatalf("run = %s %q, want canceled for its timeout", done.Status, done.Error)
	}
}

func TestLostJobIsQueuedAgain(t *testing.T) {
	n := newNode(t, jobs.Config{LostAfter: time.Second})
	src := n.source("ec2", nil)
	// A process recorded the run and died before queueing its job.
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerAPI}
	active, err := n.store.CreateSyncRun(t.Context(), run)
	must(t, err)
	if active != nil {
		t.Fatal("unexpected active run")
	}
	res, err := n.queue.Tick(t.Context(), time.Now())
	must(t, err)
	if res.Requeued != 0 {
		t.Fatalf("a fresh queued run was requeued: %+v", res)
	}
	res, err = n.queue.Tick(t.Context(), time.Now().Add(2*time.Second))
	must(t, err)
	if res.Requeued != 1 {
		t.Fatalf("tick = %+v, want the lost run requeued", res)
	}
	if res, _ = n.queue.Tick(t.Context(), time.Now().Add(2*time.Second)); res.Requeued != 0 {
		t.Fatalf("second tick requeued again: %+v", res)
	}
	n.start()
	if done := n.wait(run.ID); done.Status != roster.SyncSucceeded {
		t.Fatalf("lost run = %s (%s)", done.Status, done.Error)
	}
}

func TestMaintenanceJobRunsTheMaintenanceFunction(t *testing.T) {
	called := make(chan struct{}, 1)
	n := newNode(t, jobs.Config{Maintenance: func(context.Context) error { called <- struct{}{}; return nil }})
	n.start()
	// River's leader queues it hourly; here it is queued by hand.
	if _, err := n.queue.Insert(t.Context(), jobs.MaintenanceArgs{}, nil); err != nil {
		t.Fatal(err)
	}
	select {
	case <-called:
	case <-time.After(30 * time.Second):
		t.Fatal("the maintenance function did not run")
	}
}

func TestFollowUpSyncsAfterTheRunningOne(t *testing.T) {
	n := newNode(t, jobs.Config{})
	n.sim.SetFaults(awssim.Faults{Latency: 500 * time.Millisecond, Ops: []string{"DescribeInstances"}})
	n.start()
	src := n.source("ec2", nil)
	first, _, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	deadline := time.Now().Add(30 * time.Second)
	for {
		run, err := n.store.SyncRun(t.Context(), first.ID)
		must(t, err)
		if run.Status == roster.SyncRunning {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first run never ran")
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Two callbacks while it runs: one follow-up.
	must(t, n.queue.SyncAfter(t.Context(), first, roster.TriggerCallback))
	must(t, n.queue.SyncAfter(t.Context(), first, roster.TriggerCallback))
	n.wait(first.ID)
	deadline = time.Now().Add(30 * time.Second)
	for len(n.runs(src)) < 2 {
		if time.Now().After(deadline) {
			t.Fatal("no follow-up sync")
		}
		time.Sleep(20 * time.Millisecond)
	}
	runs := n.runs(src)
	follow := n.wait(runs[1].ID)
	if follow.Trigger != roster.TriggerCallback || follow.Status != roster.SyncSucceeded || follow.StartedAt.Before(*runs[0].FinishedAt) {
		t.Fatalf("follow-up = %+v", follow)
	}
	time.Sleep(1500 * time.Millisecond) // a second follow-up would have been queued by now
	if got := len(n.runs(src)); got != 2 {
		t.Fatalf("%d runs, want the first and one follow-up", got)
	}
}

// abandonedRun records a run of src started by a process that then died:
// its lease ends at leaseUntil.
func (n *node) abandonedRun(src *roster.Source, trigger roster.SyncTrigger, leaseUntil time.Time) *roster.SyncRun {
	n.t.Helper()
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: trigger}
	active, err := n.store.CreateSyncRun(n.t.Context(), run)
	must(n.t, err)
	if active != nil {
		n.t.Fatal("unexpected active run")
	}
	started := time.Now()
	run.StartedAt, run.Holder, run.LeaseUntil = &started, "dead-process", &leaseUntil
	must(n.t, n.store.StartSyncRun(n.t.Context(), run))
	return run
}

func TestRunOfADeadProcessIsFailedByTheTickAndRetried(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 2, Backoff: func(int) time.Duration { return 0 }}))
	n.start()
	src := n.source("ec2", nil)
	leaseEnd := time.Now().Add(time.Minute)
	run := n.abandonedRun(src, roster.TriggerSchedule, leaseEnd)

	// While its lease lasts, the run is its holder's, however long ago it
	// started; once it ends, the tick fails it and the retry syncs.
	res, err := n.queue.Tick(t.Context(), leaseEnd.Add(-time.Second))
	must(t, err)
	if res.Failed != 0 {
		t.Fatalf("tick before the lease ended = %+v, want nothing failed", res)
	}
	res, err = n.queue.Tick(t.Context(), leaseEnd.Add(time.Second))
	must(t, err)
	if res.Failed != 1 {
		t.Fatalf("tick after the lease ended = %+v, want the run failed", res)
	}
	got, err := n.store.SyncRun(t.Context(), run.ID)
	must(t, err)
	if got.Status != roster.SyncFailed || got.Error != syncer.ExpiredReason {
		t.Fatalf("abandoned run = %s %q", got.Status, got.Error)
	}
	runs := n.runs(src)
	if len(runs) != 2 || runs[1].RetryOf != run.ID || runs[1].Attempt != 2 {
		t.Fatalf("runs = %+v, want the abandoned run and its retry", runs)
	}
	if done := n.wait(runs[1].ID); done.Status != roster.SyncSucceeded {
		t.Fatalf("retry = %s (%s)", done.Status, done.Error)
	}
}

func TestRunOfADeadProcessIsNotRetriedPastItsAttempts(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 2, Backoff: func(int) time.Duration { return 0 }}))
	src := n.source("ec2", nil)
	// The second attempt of a sync whose process died (say, every attempt
	// kills its process): it is failed, and not tried a third time.
	first := n.abandonedRun(src, roster.TriggerSchedule, time.Now().Add(-time.Hour))
	expired, err := n.engine.Expire(t.Context(), time.Now())
	must(t, err)
	if len(expired) != 1 {
		t.Fatalf("expired %d runs, want 1", len(expired))
	}
	runs := n.runs(src)
	if len(runs) != 2 || runs[1].RetryOf != first.ID {
		t.Fatalf("runs = %v", runs)
	}
	// The retry is taken by a process that dies too.
	retry := runs[1]
	started, lease := time.Now(), time.Now().Add(-time.Minute)
	retry.StartedAt, retry.Holder, retry.LeaseUntil = &started, "dead-process-2", &lease
	must(t, n.store.StartSyncRun(t.Context(), retry))
	if expired, err = n.engine.Expire(t.Context(), time.Now()); err != nil || len(expired) != 1 {
		t.Fatalf("Expire = %v, %v", expired, err)
	}
	runs = n.runs(src)
	if len(runs) != 2 {
		t.Fatalf("%d runs, want no third attempt after the second died", len(runs))
	}
	for _, r := range runs {
		if r.Status != roster.SyncFailed {
			t.Fatalf("run %s = %s, want failed", r.ID, r.Status)
		}
	}
}

func TestTriggerFailsARunWhoseLeaseEnded(t *testing.T) {
	n := newNode(t, jobs.Config{})
	n.start()
	src := n.source("ec2", nil)
	dead := n.abandonedRun(src, roster.TriggerCLI, time.Now().Add(-time.Second))
	// A CLI run is its user's: it is not retried, but it no longer blocks
	// the source either.
	run, created, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	if !created || run.ID == dead.ID {
		t.Fatalf("Trigger = %s created=%v, want a new run", run.ID, created)
	}
	if done := n.wait(run.ID); done.Status != roster.SyncSucceeded {
		t.Fatalf("new run = %s (%s)", done.Status, done.Error)
	}
	if got, _ := n.store.SyncRun(t.Context(), dead.ID); got.Status != roster.SyncFailed {
		t.Fatalf("dead run = %s", got.Status)
	}
	if got := len(n.runs(src)); got != 2 {
		t.Fatalf("%d runs, want the dead one and the new one (a CLI run is not retried)", got)
	}
}

func TestRetryOwedByAFailedRunIsRecordedByTheTick(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 3, Backoff: func(int) time.Duration { return 0 }}))
	n.start()
	src := n.source("ec2", nil)
	// A process recorded this failure and died before it recorded the
	// retry the failure owes.
	failed := &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: roster.TriggerSchedule}
	active, err := n.store.CreateSyncRun(t.Context(), failed)
	must(t, err)
	if active != nil {
		t.Fatal("unexpected active run")
	}
	failed.Status, failed.Error, failed.NextAttempt = roster.SyncFailed, "boom", 2
	must(t, n.store.FinishSyncRun(t.Context(), failed, nil))

	res, err := n.queue.Tick(t.Context(), time.Now())
	must(t, err)
	if res.Retried != 1 {
		t.Fatalf("tick = %+v, want the owed retry recorded", res)
	}
	runs := n.runs(src)
	if len(runs) != 2 || runs[1].RetryOf != failed.ID || runs[1].Attempt != 2 {
		t.Fatalf("runs = %+v, want the failure and its retry", runs)
	}
	if done := n.wait(runs[1].ID); done.Status != roster.SyncSucceeded {
		t.Fatalf("retry = %s (%s)", done.Status, done.Error)
	}
	if res, _ = n.queue.Tick(t.Context(), time.Now()); res.Retried != 0 {
		t.Fatalf("second tick = %+v, want nothing owed any more", res)
	}
}

func TestSyncAskedForNowReplacesARetryWaitingForItsBackoff(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 3, Backoff: func(int) time.Duration { return time.Hour }}))
	n.sim.SetFaults(awssim.Faults{DenyScopes: []string{"us-east-1", "eu-west-1"}})
	n.start()
	src := n.source("ec2", nil)
	first, _, err := n.engine.Trigger(t.Context(), src, roster.TriggerSchedule)
	must(t, err)
	n.wait(first.ID)
	// The retry is recorded just after the failure.
	runs := n.runs(src)
	for deadline := time.Now().Add(10 * time.Second); len(runs) < 2 && time.Now().Before(deadline); runs = n.runs(src) {
		time.Sleep(10 * time.Millisecond)
	}
	if len(runs) != 2 || runs[1].Status != roster.SyncQueued || runs[1].NotBefore == nil {
		t.Fatalf("runs = %+v, want the failure and a retry waiting an hour", runs)
	}
	waiting := runs[1]
	// The schedule does not jump the queue; someone asking does.
	if run, created, err := n.engine.Trigger(t.Context(), src, roster.TriggerSchedule); err != nil || created || run.ID != waiting.ID {
		t.Fatalf("scheduled Trigger = %v created=%v %v, want the waiting retry", run, created, err)
	}
	n.sim.SetFaults(awssim.Faults{})
	now, created, err := n.engine.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	if !created {
		t.Fatalf("Trigger answered the waiting retry %s, want a sync now", now.ID)
	}
	if done := n.wait(now.ID); done.Status != roster.SyncSucceeded {
		t.Fatalf("sync now = %s (%s)", done.Status, done.Error)
	}
	got, err := n.store.SyncRun(t.Context(), waiting.ID)
	must(t, err)
	if got.Status != roster.SyncCanceled || !strings.Contains(got.Error, "replaced by a sync asked for by api") {
		t.Fatalf("the waiting retry = %s %q", got.Status, got.Error)
	}
}

func TestSyncCommandFailsOnlyItsOwnSourcesDeadRun(t *testing.T) {
	n := newNode(t, jobs.Config{}, syncer.WithRetries(syncer.Retries{Attempts: 3, Backoff: func(int) time.Duration { return 0 }}))
	a, b := n.source("a", nil), n.source("b", nil)
	gone := time.Now().Add(-time.Second)
	deadA := n.abandonedRun(a, roster.TriggerSchedule, gone)
	deadB := n.abandonedRun(b, roster.TriggerSchedule, gone)
	// roster sync of a (an engine without a queue) while no server runs.
	cli := n.engine.Inline()
	run, created, err := cli.Trigger(t.Context(), a, roster.TriggerCLI)
	must(t, err)
	if !created {
		t.Fatalf("roster sync of a got %s, want a new run", run.ID)
	}
	must(t, cli.Run(t.Context(), run, nil))
	if got, _ := n.store.SyncRun(t.Context(), deadA.ID); got.Status != roster.SyncFailed {
		t.Fatalf("a's dead run = %s", got.Status)
	}
	if got, _ := n.store.SyncRun(t.Context(), deadB.ID); got.Status != roster.SyncRunning {
		t.Fatalf("b's dead run = %s, want it left to a server (which retries it)", got.Status)
	}
	// The server's next tick fails b's run and retries it.
	n.start()
	res, err := n.queue.Tick(t.Context(), time.Now())
	must(t, err)
	if res.Failed != 1 {
		t.Fatalf("tick = %+v, want b's run failed", res)
	}
	runs := n.runs(b)
	if len(runs) != 2 || runs[1].RetryOf != deadB.ID {
		t.Fatalf("b's runs = %+v, want the dead run and its retry", runs)
	}
	if done := n.wait(runs[1].ID); done.Status != roster.SyncSucceeded {
		t.Fatalf("b's retry = %s (%s)", done.Status, done.Error)
	}
	// a's dead run was superseded by the CLI's sync: no retry of it.
	if runs := n.runs(a); len(runs) != 2 {
		t.Fatalf("a has %d runs, want the dead one and the CLI's", len(runs))
	}
}

// startFailsOnce is a store whose first StartSyncRun fails as a database
// that went away would.
type startFailsOnce struct {
	*store.SQLite
	failed atomic.Bool
}

func (s *startFailsOnce) StartSyncRun(ctx context.Context, run *roster.SyncRun) error {
	if s.failed.CompareAndSwap(false, true) {
		return errors.New("database is locked")
	}
	return s.SQLite.StartSyncRun(ctx, run)
}

func TestRunThatCouldNotStartIsTriedAgain(t *testing.T) {
	n := newNode(t, jobs.Config{})
	st := &startFailsOnce{SQLite: n.store}
	q, err := jobs.OpenSQLite(t.Context(), n.path, jobs.Config{Store: st, Log: logger()})
	must(t, err)
	e := syncer.New(st, n.engine.Registry(), logger(), syncer.WithQueue(q))
	must(t, q.Start(t.Context(), e))
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		q.Stop(ctx)
	})
	src := n.source("ec2", nil)
	run, _, err := e.Trigger(t.Context(), src, roster.TriggerAPI)
	must(t, err)
	if done := n.wait(run.ID); done.Status != roster.SyncSucceeded || !st.failed.Load() {
		t.Fatalf("run = %s (%s), start failed first: %v", done.Status, done.Error, st.failed.Load())
	}
}
