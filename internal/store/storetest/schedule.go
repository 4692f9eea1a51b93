package storetest

import (
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// SchedulerStore is a store that also serves the scheduler and metrics.
type SchedulerStore interface {
	roster.Store
	roster.SchedulerStore
	roster.StatsStore
}

// RunScheduler runs the conformance suite of roster.SchedulerStore.
func RunScheduler(t *testing.T, open func(t *testing.T) SchedulerStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, SchedulerStore)
	}{
		{"ScheduleFields", testScheduleFields},
		{"DueSources", testDueSources},
		{"ClaimScheduledSync", testClaimScheduledSync},
		{"ClaimRace", testClaimRace},
		{"CallbackKeys", testCallbackKeys},
		{"SourceSyncStates", testSourceSyncStates},
		{"QueuedSyncRuns", testQueuedSyncRuns},
		{"InventoryPrometheusSD", testInventoryPrometheusSD},
		{"HostCounts", testHostCounts},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

var t0 = time.Date(2026, 11, 26, 9, 0, 0, 0, time.UTC)

func next(tick time.Time, jitter time.Duration) *roster.ScheduledSync {
	return &roster.ScheduledSync{Tick: tick, Due: tick.Add(jitter)}
}

func scheduledSource(t *testing.T, s roster.Store, inv *roster.Inventory, name, spec string, n *roster.ScheduledSync) *roster.Source {
	t.Helper()
	src := &roster.Source{InventoryID: inv.ID, Name: name, Provider: "aws", OnMissing: roster.OnMissingRemove,
		Schedule: spec, ScheduleJitter: roster.DefaultJitter, NextSync: n}
	must(t, s.CreateSource(t.Context(), src))
	return src
}

func testScheduleFields(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove,
		Schedule: "15m", ScheduleJitter: 30 * time.Second, Timeout: 5 * time.Minute, UpdateCacheTimeout: time.Minute,
		NextSync: next(t0, 7*time.Second)}
	must(t, s.CreateSource(ctx, src))
	got, err := s.Source(ctx, src.ID)
	must(t, err)
	if got.Schedule != "15m" || got.ScheduleJitter != 30*time.Second || got.Timeout != 5*time.Minute || got.UpdateCacheTimeout != time.Minute {
		t.Fatalf("Source = %+v", got)
	}
	if got.NextSync == nil || !got.NextSync.Tick.Equal(t0) || !got.NextSync.Due.Equal(t0.Add(7*time.Second)) {
		t.Fatalf("NextSync = %+v, want tick %v due +7s", got.NextSync, t0)
	}
	if got.HasCallbackKey {
		t.Fatal("a new source has a callback key")
	}

	// The default jitter is a marker that survives the round trip.
	def := roster.DefaultJitter
	got, err = s.UpdateSource(ctx, src.ID, roster.SourceUpdate{ScheduleJitter: &def, NextSync: next(t0, 0)})
	must(t, err)
	if got.ScheduleJitter != roster.DefaultJitter || got.NextSync == nil || !got.NextSync.Due.Equal(t0) {
		t.Fatalf("after setting the default jitter: %+v", got)
	}
	// An update that does not touch the schedule keeps the next sync.
	timeout := time.Hour
	got, err = s.UpdateSource(ctx, src.ID, roster.SourceUpdate{Timeout: &timeout, NextSync: next(t0.Add(time.Hour), 0)})
	must(t, err)
	if got.Timeout != time.Hour || !got.NextSync.Tick.Equal(t0) {
		t.Fatalf("after changing the timeout: %+v (the next sync must not move)", got)
	}
	// Removing the schedule removes the next sync.
	none := ""
	got, err = s.UpdateSource(ctx, src.ID, roster.SourceUpdate{Schedule: &none})
	must(t, err)
	if got.Schedule != "" || got.NextSync != nil {
		t.Fatalf("after removing the schedule: %+v", got)
	}
	// A source made without scheduling fields has none.
	plain := newSource(t, s, inv, "plain")
	got, err = s.Source(ctx, plain.ID)
	must(t, err)
	if got.Schedule != "" || got.NextSync != nil || got.Timeout != 0 || got.UpdateCacheTimeout != 0 {
		t.Fatalf("plain source = %+v", got)
	}
}

func sourceIDs(srcs []*roster.Source) []string {
	var out []string
	for _, s := range srcs {
		out = append(out, s.Name)
	}
	return out
}

func testDueSources(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	scheduledSource(t, s, inv, "later", "15m", next(t0.Add(time.Hour), 0))
	scheduledSource(t, s, inv, "due", "15m", next(t0, time.Minute))
	scheduledSource(t, s, inv, "overdue", "15m", next(t0.Add(-time.Hour), 0))
	scheduledSource(t, s, inv, "unplanned", "15m", nil)
	newSource(t, s, inv, "manual")

	due, err := s.DueSources(ctx, t0.Add(time.Minute), 10)
	must(t, err)
	got := sourceIDs(due)
	want := []string{"unplanned", "overdue", "due"}
	if len(got) != len(want) {
		t.Fatalf("DueSources = %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("DueSources = %v, want %v (unplanned first, then soonest)", got, want)
		}
	}
	due, err = s.DueSources(ctx, t0.Add(time.Minute), 2)
	must(t, err)
	if len(due) != 2 {
		t.Fatalf("DueSources(limit 2) = %v", sourceIDs(due))
	}
	// Jitter counts: "due" is not due before its tick plus jitter.
	due, err = s.DueSources(ctx, t0.Add(30*time.Second), 10)
	must(t, err)
	if len(due) != 2 {
		t.Fatalf("DueSources(before the jitter elapsed) = %v, want unplanned, overdue", sourceIDs(due))
	}
}

func testClaimScheduledSync(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := scheduledSource(t, s, inv, "ec2", "15m", nil)

	// Planning a source that had no next sync claims the zero tick.
	run, claimed, err := s.ClaimScheduledSync(ctx, src.ID, time.Time{}, next(t0, time.Second))
	must(t, err)
	if !claimed || run != nil {
		t.Fatalf("planning: claimed=%v run=%v, want claimed and no run", claimed, run)
	}
	if _, claimed, _ = s.ClaimScheduledSync(ctx, src.ID, time.Time{}, next(t0, 0)); claimed {
		t.Fatal("planning twice succeeded")
	}

	// Claiming the tick records a queued run for it and moves the next sync.
	run, claimed, err = s.ClaimScheduledSync(ctx, src.ID, t0, next(t0.Add(15*time.Minute), 0))
	must(t, err)
	if !claimed || run == nil || run.Status != roster.SyncQueued || run.Trigger != roster.TriggerSchedule ||
		run.ScheduledFor == nil || !run.ScheduledFor.Equal(t0) || run.InventoryID != inv.ID {
		t.Fatalf("claim: claimed=%v run=%+v", claimed, run)
	}
	stored, err := s.SyncRun(ctx, run.ID)
	must(t, err)
	if stored.ScheduledFor == nil || !stored.ScheduledFor.Equal(t0) || stored.Trigger != roster.TriggerSchedule {
		t.Fatalf("stored run = %+v", stored)
	}
	got, err := s.Source(ctx, src.ID)
	must(t, err)
	if !got.NextSync.Tick.Equal(t0.Add(15 * time.Minute)) {
		t.Fatalf("next sync = %+v, want the following tick", got.NextSync)
	}
	// The same tick again (a second node, a retried leader) claims nothing.
	again, claimed, err := s.ClaimScheduledSync(ctx, src.ID, t0, next(t0.Add(15*time.Minute), 0))
	must(t, err)
	if claimed || again != nil {
		t.Fatalf("second claim of the tick: claimed=%v run=%v", claimed, again)
	}

	// While a run is active, a tick is claimed (the schedule moves on) but
	// no second run is recorded: a source never syncs twice at once.
	t1 := t0.Add(15 * time.Minute)
	skipped, claimed, err := s.ClaimScheduledSync(ctx, src.ID, t1, next(t1.Add(15*time.Minute), 0))
	must(t, err)
	if !claimed || skipped != nil {
		t.Fatalf("claim while active: claimed=%v run=%v, want claimed, no run", claimed, skipped)
	}
	finish(t, s, run, nil)
	t2 := t1.Add(15 * time.Minute)
	run2, claimed, err := s.ClaimScheduledSync(ctx, src.ID, t2, nil)
	must(t, err)
	if !claimed || run2 == nil {
		t.Fatalf("claim after the run finished: claimed=%v run=%v", claimed, run2)
	}
	got, err = s.Source(ctx, src.ID)
	must(t, err)
	if got.NextSync != nil {
		t.Fatalf("next sync after claiming with none = %+v", got.NextSync)
	}

	_, _, err = s.ClaimScheduledSync(ctx, "missing", t0, nil)
	wantCode(t, err, roster.ENOTFOUND)
}

func testClaimRace(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	const sources, nodes = 5, 6
	var srcs []*roster.Source
	for i := range sources {
		srcs = append(srcs, scheduledSource(t, s, inv, string(rune('a'+i)), "1m", next(t0, 0)))
	}
	var mu sync.Mutex
	runs := map[string]int{}
	var wg sync.WaitGroup
	for range nodes {
		wg.Go(func() {
			for _, src := range srcs {
				run, claimed, err := s.ClaimScheduledSync(ctx, src.ID, t0, next(t0.Add(time.Minute), 0))
				if err != nil {
					t.Error(err)
					return
				}
				if claimed != (run != nil) {
					t.Errorf("claimed=%v with run %v", claimed, run)
				}
				if run != nil {
					mu.Lock()
					runs[src.ID]++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	for _, src := range srcs {
		if runs[src.ID] != 1 {
			t.Errorf("source %s: %d runs for one tick claimed by %d nodes, want 1", src.Name, runs[src.ID], nodes)
		}
	}
}

func testCallbackKeys(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	other := newSource(t, s, inv, "gce")
	_, err := s.SourceByCallbackKey(ctx, "h1")
	wantCode(t, err, roster.ENOTFOUND)
	must(t, s.SetCallbackKey(ctx, src.ID, "h1"))
	wantCode(t, s.SetCallbackKey(ctx, "missing", "h2"), roster.ENOTFOUND)
	// Keys are random, but a clash must not hand one source's key to another.
	wantCode(t, s.SetCallbackKey(ctx, other.ID, "h1"), roster.ECONFLICT)
	got, err := s.SourceByCallbackKey(ctx, "h1")
	must(t, err)
	if got.ID != src.ID || !got.HasCallbackKey {
		t.Fatalf("SourceByCallbackKey = %+v", got)
	}

	ok, _, err := s.TakeCallback(ctx, src.ID, t0, 10*time.Second)
	must(t, err)
	if !ok {
		t.Fatal("first callback refused")
	}
	ok, wait, err := s.TakeCallback(ctx, src.ID, t0.Add(4*time.Second), 10*time.Second)
	must(t, err)
	if ok || wait != 6*time.Second {
		t.Fatalf("callback 4s later: ok=%v wait=%v, want refused, wait 6s", ok, wait)
	}
	// The limit is per source.
	if ok, _, _ := s.TakeCallback(ctx, other.ID, t0.Add(time.Second), 10*time.Second); !ok {
		t.Fatal("another source's callback was refused")
	}
	if ok, _, _ := s.TakeCallback(ctx, src.ID, t0.Add(10*time.Second), 10*time.Second); !ok {
		t.Fatal("callback after the gap refused")
	}

	// A new key replaces the old one.
	must(t, s.SetCallbackKey(ctx, src.ID, "h3"))
	_, err = s.SourceByCallbackKey(ctx, "h1")
	wantCode(t, err, roster.ENOTFOUND)
	must(t, s.SetCallbackKey(ctx, src.ID, ""))
	_, err = s.SourceByCallbackKey(ctx, "h3")
	wantCode(t, err, roster.ENOTFOUND)
	got, err = s.Source(ctx, src.ID)
	must(t, err)
	if got.HasCallbackKey {
		t.Fatal("the key was removed but the source still has one")
	}
}

func testSourceSyncStates(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	a := newSource(t, s, inv, "a")
	b := &roster.Source{InventoryID: inv.ID, Name: "b", Provider: "aws", OnMissing: roster.OnMissingRemove, UpdateCacheTimeout: 5 * time.Minute}
	must(t, s.CreateSource(ctx, b))
	newSource(t, s, newInventory(t, s, "dev"), "elsewhere")

	states, err := s.SourceSyncStates(ctx, inv.ID)
	must(t, err)
	if len(states) != 2 || states[0].SourceID != a.ID || states[1].SourceID != b.ID {
		t.Fatalf("states = %+v", states)
	}
	if states[0].LastSynced != nil || states[0].Active != nil || states[1].UpdateCacheTimeout != 5*time.Minute {
		t.Fatalf("states before any sync = %+v", states)
	}

	run := newRun(t, s, a)
	finish(t, s, run, nil)
	failed := newRun(t, s, b)
	failed.Status, failed.Error = roster.SyncFailed, "boom"
	must(t, s.FinishSyncRun(ctx, failed, nil))
	active := newRun(t, s, b)

	states, err = s.SourceSyncStates(ctx, inv.ID)
	must(t, err)
	if states[0].LastSynced == nil || !states[0].LastSynced.Equal(*run.FinishedAt) {
		t.Fatalf("a: last synced %v, want %v", states[0].LastSynced, run.FinishedAt)
	}
	if states[1].LastSynced != nil {
		t.Fatalf("b: a failed run counts as synced at %v", states[1].LastSynced)
	}
	if states[1].Active == nil || states[1].Active.ID != active.ID || states[0].Active != nil {
		t.Fatalf("active runs = %v, %v", states[0].Active, states[1].Active)
	}
}

func testQueuedSyncRuns(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	a, b, c := newSource(t, s, inv, "a"), newSource(t, s, inv, "b"), newSource(t, s, inv, "c")
	ra := newRun(t, s, a)
	rb := newRun(t, s, b)
	start(t, s, rb, "node-a", time.Minute)
	rc := newRun(t, s, c)
	finish(t, s, rc, nil)

	queued, err := s.QueuedSyncRuns(ctx, time.Now().Add(time.Second), 10)
	must(t, err)
	if len(queued) != 1 || queued[0].ID != ra.ID {
		t.Fatalf("QueuedSyncRuns = %v, want only %s", queued, ra.ID)
	}
	queued, err = s.QueuedSyncRuns(ctx, ra.CreatedAt, 10)
	must(t, err)
	if len(queued) != 0 {
		t.Fatalf("QueuedSyncRuns(before it was made) = %v", queued)
	}
}

func testInventoryPrometheusSD(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	mapping := json.RawMessage(`{"port":9100,"labels":{"region":"placement.region"}}`)
	inv := &roster.Inventory{Name: "prod", PrometheusSD: mapping}
	must(t, s.CreateInventory(ctx, inv))
	got, err := s.Inventory(ctx, inv.ID)
	must(t, err)
	if string(got.PrometheusSD) != string(mapping) {
		t.Fatalf("PrometheusSD = %s, want %s", got.PrometheusSD, mapping)
	}
	desc := "d"
	got, err = s.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{Description: &desc})
	must(t, err)
	if string(got.PrometheusSD) != string(mapping) {
		t.Fatalf("an update of the description changed the mapping to %s", got.PrometheusSD)
	}
	var none json.RawMessage
	_, err = s.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{PrometheusSD: &none})
	must(t, err)
	got, err = s.Inventory(ctx, "prod")
	must(t, err)
	if got.PrometheusSD != nil {
		t.Fatalf("after removing it, PrometheusSD = %s", got.PrometheusSD)
	}
	plain := newInventory(t, s, "dev")
	if plain.PrometheusSD != nil {
		t.Fatal("a new inventory has a mapping")
	}
}

func testHostCounts(t *testing.T, s SchedulerStore) {
	ctx := t.Context()
	prod, dev := newInventory(t, s, "prod"), newInventory(t, s, "dev")
	src := newSource(t, s, prod, "ec2")
	run := newRun(t, s, src)
	stopped := host("i-2", "us-east-1", "b")
	stopped.Enabled = false
	finish(t, s, run, &roster.HostChanges{Add: []*roster.Host{host("i-1", "us-east-1", "a"), stopped, host("i-3", "us-east-1", "c")}})
	counts, err := s.HostCounts(ctx)
	must(t, err)
	want := []roster.HostCount{{InventoryID: dev.ID, Inventory: "dev"}, {InventoryID: prod.ID, Inventory: "prod", Hosts: 3, Enabled: 2}}
	if len(counts) != 2 || counts[0] != want[0] || counts[1] != want[1] {
		t.Fatalf("HostCounts = %+v, want %+v", counts, want)
	}
}
