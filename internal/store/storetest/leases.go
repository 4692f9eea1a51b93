package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// start starts run as holder, leased until now+lease.
func start(t *testing.T, s roster.Store, run *roster.SyncRun, holder string, lease time.Duration) {
	t.Helper()
	now := time.Now().UTC().Truncate(time.Microsecond)
	until := now.Add(lease)
	run.StartedAt, run.Holder, run.LeaseUntil = &now, holder, &until
	must(t, s.StartSyncRun(t.Context(), run))
}

// testRunLeases: a running run belongs to its holder while its lease lasts;
// once it ends, anyone may fail it, and the holder can no longer write.
func testRunLeases(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	run := newRun(t, s, src)
	start(t, s, run, "node-a", time.Minute)
	got, err := s.SyncRun(ctx, run.ID)
	must(t, err)
	if got.Holder != "node-a" || got.LeaseUntil == nil || !got.LeaseUntil.Equal(*run.LeaseUntil) || got.Attempt != 1 {
		t.Fatalf("started run = holder %q lease %v attempt %d", got.Holder, got.LeaseUntil, got.Attempt)
	}

	// Only the holder renews it, updates it or finishes it.
	renewed := time.Now().Add(2 * time.Minute).UTC().Truncate(time.Microsecond)
	must(t, s.RenewSyncRun(ctx, &roster.SyncRun{ID: run.ID, Holder: "node-a", LeaseUntil: &renewed}))
	if got, _ := s.SyncRun(ctx, run.ID); !got.LeaseUntil.Equal(renewed) {
		t.Fatalf("renewed lease = %v, want %v", got.LeaseUntil, renewed)
	}
	other := *run
	other.Holder = "node-b"
	wantCode(t, s.RenewSyncRun(ctx, &other), roster.ECONFLICT)
	wantCode(t, s.UpdateSyncRun(ctx, &other), roster.ECONFLICT)
	other.Status = roster.SyncSucceeded
	wantCode(t, s.FinishSyncRun(ctx, &other, &roster.HostChanges{Add: []*roster.Host{host("i-b", "r", "b")}, Scopes: []string{"r"}}), roster.ECONFLICT)
	must(t, s.UpdateSyncRun(ctx, run))

	// While the lease lasts, nothing expires; after, the run is failed.
	expired, err := s.ExpireSyncRuns(ctx, time.Now(), "gone", "", 10)
	must(t, err)
	if len(expired) != 0 {
		t.Fatalf("expired a run whose lease lasts: %v", expired)
	}
	later := renewed.Add(time.Second)
	expired, err = s.ExpireSyncRuns(ctx, later, "gone", "", 10)
	must(t, err)
	if len(expired) != 1 || expired[0].ID != run.ID || expired[0].Status != roster.SyncFailed || expired[0].Error != "gone" ||
		expired[0].FinishedAt == nil || expired[0].Holder != "node-a" {
		t.Fatalf("ExpireSyncRuns = %+v, want run %s failed", expired, run.ID)
	}
	if expired[0].NextAttempt != 2 {
		t.Fatalf("an expired run of the API owes attempt %d, want 2", expired[0].NextAttempt)
	}
	// The holder comes back too late: nothing it writes is kept.
	run.Status = roster.SyncSucceeded
	wantCode(t, s.FinishSyncRun(ctx, run, &roster.HostChanges{Add: []*roster.Host{host("i-a", "r", "a")}, Scopes: []string{"r"}}), roster.ECONFLICT)
	wantCode(t, s.RenewSyncRun(ctx, run), roster.ECONFLICT)
	if hosts := allHosts(t, s, roster.HostFilter{InventoryID: inv.ID}); len(hosts) != 0 {
		t.Fatalf("a run that lost its lease wrote %d hosts", len(hosts))
	}
	if got, _ := s.SyncRun(ctx, run.ID); got.Status != roster.SyncFailed || got.Error != "gone" {
		t.Fatalf("expired run after its holder's late finish = %s %q", got.Status, got.Error)
	}
	if again, _ := s.ExpireSyncRuns(ctx, later, "gone", "", 10); len(again) != 0 {
		t.Fatalf("a failed run expired twice: %v", again)
	}
	newRun(t, s, src) // the source syncs again
}

// testLeaseOfAHeldQueuedRun: a run recorded by the process that runs it
// (the CLI) is that process's from the start: others cannot start it, and
// it expires like a running one; a queued run without a holder (the job
// queue's) never expires.
func testLeaseOfAHeldQueuedRun(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	until := time.Now().Add(time.Minute).UTC().Truncate(time.Microsecond)
	held := &roster.SyncRun{SourceID: newSource(t, s, inv, "a").ID, InventoryID: inv.ID, Trigger: roster.TriggerCLI, Holder: "cli-1", LeaseUntil: &until}
	if active, err := s.CreateSyncRun(ctx, held); err != nil || active != nil {
		t.Fatalf("CreateSyncRun = %v, %v", active, err)
	}
	queued := newRun(t, s, newSource(t, s, inv, "b"))
	c := newSource(t, s, inv, "c")
	other := newRun(t, s, c)
	start(t, s, other, "node-c", -time.Minute) // its lease ended too

	taken := *held
	taken.Holder = "node-b"
	wantCode(t, s.StartSyncRun(ctx, &taken), roster.ECONFLICT)

	// One source's expiry leaves the others' runs alone.
	expired, err := s.ExpireSyncRuns(ctx, until.Add(time.Hour), "gone", held.SourceID, 10)
	must(t, err)
	if len(expired) != 1 || expired[0].ID != held.ID || expired[0].NextAttempt != 0 {
		t.Fatalf("ExpireSyncRuns(source a) = %+v, want only the held run %s, owing no retry (a CLI run)", expired, held.ID)
	}
	if got, _ := s.SyncRun(ctx, other.ID); got.Status != roster.SyncRunning {
		t.Fatalf("another source's expired run = %s, want it left to the next sweep", got.Status)
	}
	if got, _ := s.SyncRun(ctx, queued.ID); got.Status != roster.SyncQueued {
		t.Fatalf("a queued run without a holder = %s, want queued", got.Status)
	}
}

// testFinishStampsAfterWriting: a run's finished_at is when its changes
// were written, not when the caller began recording them.
func testFinishStampsAfterWriting(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	run := newRun(t, s, src)
	start(t, s, run, "node-a", time.Minute)
	var hosts []*roster.Host
	for i := range 2000 {
		hosts = append(hosts, host(fmt.Sprint("i-", i), "r", fmt.Sprint("web-", i), "web"))
	}
	early := time.Now().Add(-time.Hour)
	run.Status, run.FinishedAt = roster.SyncSucceeded, &early // a stale stamp from the caller is not kept
	before := time.Now()
	must(t, s.FinishSyncRun(ctx, run, &roster.HostChanges{Add: hosts, Scopes: []string{"r"}}))
	after := time.Now()
	got, err := s.SyncRun(ctx, run.ID)
	must(t, err)
	if got.FinishedAt == nil || got.FinishedAt.Before(before.Truncate(time.Microsecond)) || got.FinishedAt.After(after) ||
		!got.FinishedAt.Equal(*run.FinishedAt) {
		t.Fatalf("finished_at = %v (run says %v), want within the FinishSyncRun call [%v, %v]", got.FinishedAt, run.FinishedAt, before, after)
	}
	if ss, ok := s.(roster.SchedulerStore); ok {
		states, err := ss.SourceSyncStates(ctx, inv.ID)
		must(t, err)
		if len(states) != 1 || states[0].LastSynced == nil || !states[0].LastSynced.Equal(*got.FinishedAt) {
			t.Fatalf("last synced = %+v, want the run's finished_at %v", states, got.FinishedAt)
		}
	}
}

// testRetries: a retry is a run of its own that says which attempt it is
// and what it retries; a run is retried at most once.
func testRetries(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	first := newRun(t, s, src)
	first.Status, first.Error = roster.SyncFailed, "boom"
	must(t, s.FinishSyncRun(ctx, first, nil))

	notBefore := time.Now().Add(time.Hour).UTC().Truncate(time.Microsecond)
	retry := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerSchedule, Attempt: 2, RetryOf: first.ID, NotBefore: &notBefore}
	if active, err := s.CreateSyncRun(ctx, retry); err != nil || active != nil {
		t.Fatalf("CreateSyncRun(retry) = %v, %v", active, err)
	}
	got, err := s.SyncRun(ctx, retry.ID)
	must(t, err)
	if got.Attempt != 2 || got.RetryOf != first.ID || got.NotBefore == nil || !got.NotBefore.Equal(notBefore) {
		t.Fatalf("retry = attempt %d of %q not before %v", got.Attempt, got.RetryOf, got.NotBefore)
	}
	if ss, ok := s.(roster.SchedulerStore); ok {
		// Not lost while its backoff lasts.
		lost, err := ss.QueuedSyncRuns(ctx, time.Now().Add(time.Minute), 10)
		must(t, err)
		if len(lost) != 0 {
			t.Fatalf("QueuedSyncRuns = %v during the retry's backoff", lost)
		}
		if lost, _ = ss.QueuedSyncRuns(ctx, notBefore.Add(time.Second), 10); len(lost) != 1 || lost[0].ID != retry.ID {
			t.Fatalf("QueuedSyncRuns after the backoff = %v, want the retry", lost)
		}
	}
	finish(t, s, retry, nil)
	again := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerSchedule, Attempt: 2, RetryOf: first.ID}
	_, err = s.CreateSyncRun(ctx, again)
	wantCode(t, err, roster.ECONFLICT)
}

// testLateFinishOfAnUnclaimedRun: a holder whose lease ran out while it
// waited to finish (the database was busy) still finishes its run when
// nobody failed it meanwhile: the lease only lets others take the run.
func testLateFinishOfAnUnclaimedRun(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	run := newRun(t, s, src)
	start(t, s, run, "node-a", -time.Second)
	run.Status = roster.SyncSucceeded
	must(t, s.FinishSyncRun(ctx, run, &roster.HostChanges{Add: []*roster.Host{host("i-1", "r", "web-1")}, Scopes: []string{"r"}}))
	if hosts := allHosts(t, s, roster.HostFilter{InventoryID: inv.ID}); len(hosts) != 1 {
		t.Fatalf("%d hosts after the late finish, want 1", len(hosts))
	}
}

// testOwedRetries: a failure records the retry it owes; recording the
// retry settles it in the same transaction, and a newer run of the source
// supersedes it.
func testOwedRetries(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	a, b := newSource(t, s, inv, "a"), newSource(t, s, inv, "b")
	failed := func(src *roster.Source) *roster.SyncRun {
		run := newRun(t, s, src)
		run.Status, run.Error, run.NextAttempt = roster.SyncFailed, "boom", 2
		must(t, s.FinishSyncRun(ctx, run, nil))
		return run
	}
	ra, rb := failed(a), failed(b)
	owed, err := s.OwedRetries(ctx, 10)
	must(t, err)
	if len(owed) != 2 || owed[0].ID != ra.ID || owed[1].ID != rb.ID || owed[0].NextAttempt != 2 {
		t.Fatalf("OwedRetries = %+v, want %s then %s owing attempt 2", owed, ra.ID, rb.ID)
	}
	// a's retry is recorded; b is synced anew before its retry is.
	retry := &roster.SyncRun{SourceID: a.ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI, Attempt: 2, RetryOf: ra.ID}
	if active, err := s.CreateSyncRun(ctx, retry); err != nil || active != nil {
		t.Fatalf("CreateSyncRun(retry of a) = %v, %v", active, err)
	}
	newer := newRun(t, s, b)
	_, err = s.CreateSyncRun(ctx, &roster.SyncRun{SourceID: b.ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI, Attempt: 2, RetryOf: rb.ID})
	wantCode(t, err, roster.ECONFLICT)
	if owed, _ = s.OwedRetries(ctx, 10); len(owed) != 0 {
		t.Fatalf("OwedRetries = %+v after a retry and a newer run, want none", owed)
	}
	if got, _ := s.SyncRun(ctx, newer.ID); got.Status != roster.SyncQueued {
		t.Fatalf("the newer run = %s", got.Status)
	}
	// Attempts used up: the caller settles what is owed.
	finish(t, s, retry, nil)
	rc := failed(a)
	must(t, s.SettleRetry(ctx, rc.ID))
	if owed, _ = s.OwedRetries(ctx, 10); len(owed) != 0 {
		t.Fatalf("OwedRetries = %+v after SettleRetry", owed)
	}
}
