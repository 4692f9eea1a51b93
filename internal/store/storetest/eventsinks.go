package storetest

import (
	"slices"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
)

// EventSinkStore is a store of event sinks that tells a hook of the audit
// records it inserts.
type EventSinkStore interface {
	roster.Store
	roster.EventSinkStore
	OnAudit(func(*roster.AuditEvent))
}

// OpenEventSinks returns a fresh, empty store for one test; the suite
// closes it.
type OpenEventSinks func(t *testing.T) EventSinkStore

// RunEventSinks runs the conformance suite of roster.EventSinkStore and of
// the audit hook.
func RunEventSinks(t *testing.T, open OpenEventSinks) {
	tests := []struct {
		name string
		fn   func(*testing.T, EventSinkStore)
	}{
		{"CreateGetUpdateDelete", testEventSinkCRUD},
		{"UniqueName", testEventSinkUnique},
		{"AuditHookSeesInsertsOnly", testAuditHook},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s)
		})
	}
}

func newSink(t *testing.T, s roster.EventSinkStore, name string) *roster.EventSink {
	t.Helper()
	e := &roster.EventSink{Name: name, Type: roster.SinkHEC, Streams: []roster.EventStream{roster.StreamAudit, roster.StreamSync},
		LogLevel: "warn", Config: roster.EventSinkConfig{URL: "https://splunk.example:8088", Index: "main"}, Enabled: true,
		QueueSize: 1000, SecretPath: "sinks/" + name, SecretVersion: 1, HasSecret: true}
	must(t, s.CreateEventSink(t.Context(), e))
	return e
}

func testEventSinkCRUD(t *testing.T, s EventSinkStore) {
	ctx := t.Context()
	e := newSink(t, s, "splunk")
	if e.ID == "" || e.CreatedAt.IsZero() || !e.UpdatedAt.Equal(e.CreatedAt) {
		t.Fatalf("created sink lacks id or times: %+v", e)
	}
	got, err := s.EventSink(ctx, e.ID)
	must(t, err)
	if got.Name != "splunk" || got.Type != roster.SinkHEC || !slices.Equal(got.Streams, e.Streams) || got.LogLevel != "warn" ||
		got.Config != e.Config || !got.Enabled || got.AllowInsecure || got.QueueSize != 1000 || got.SecretPath != "sinks/splunk" ||
		got.SecretVersion != 1 || !got.HasSecret || !got.CreatedAt.Equal(e.CreatedAt) {
		t.Fatalf("EventSink = %+v, want %+v", got, e)
	}
	byName, err := s.EventSinkByName(ctx, "splunk")
	must(t, err)
	if byName.ID != e.ID {
		t.Fatalf("EventSinkByName = %+v", byName)
	}

	name, off, v := "splunk-prod", false, 2
	cfg := roster.EventSinkConfig{URL: "https://splunk.example:8088/x", SourceType: "roster"}
	upd, err := s.UpdateEventSink(ctx, e.ID, roster.EventSinkUpdate{Name: &name, Enabled: &off, Config: &cfg, SecretVersion: &v,
		Streams: []roster.EventStream{roster.StreamLog}})
	must(t, err)
	got, err = s.EventSink(ctx, e.ID)
	must(t, err)
	if got.Name != name || got.Enabled || got.Config != cfg || got.SecretVersion != 2 || !slices.Equal(got.Streams, upd.Streams) ||
		got.Type != roster.SinkHEC || got.QueueSize != 1000 || got.UpdatedAt.Before(got.CreatedAt) {
		t.Fatalf("after update: %+v", got)
	}

	other := newSink(t, s, "another")
	all, err := s.EventSinks(ctx)
	must(t, err)
	if len(all) != 2 || all[0].ID != other.ID || all[1].ID != e.ID {
		t.Fatalf("EventSinks: %+v", all)
	}
	must(t, s.DeleteEventSink(ctx, e.ID))
	for _, err := range []error{s.DeleteEventSink(ctx, e.ID), errOf(s.EventSink(ctx, e.ID)), errOf(s.EventSinkByName(ctx, name)),
		errOf(s.UpdateEventSink(ctx, e.ID, roster.EventSinkUpdate{Name: &name}))} {
		if roster.ErrorCode(err) != roster.ENOTFOUND {
			t.Fatalf("a deleted sink: %v, want ENOTFOUND", err)
		}
	}
}

func errOf[T any](_ T, err error) error { return err }

func testEventSinkUnique(t *testing.T, s EventSinkStore) {
	a := newSink(t, s, "a")
	newSink(t, s, "b")
	dup := &roster.EventSink{Name: "a", Type: roster.SinkSyslog, Streams: []roster.EventStream{roster.StreamAudit}, LogLevel: "warn",
		QueueSize: 10, SecretPath: "sinks/x"}
	if err := s.CreateEventSink(t.Context(), dup); roster.ErrorCode(err) != roster.ECONFLICT {
		t.Fatalf("second sink named a: %v, want ECONFLICT", err)
	}
	b := "b"
	if _, err := s.UpdateEventSink(t.Context(), a.ID, roster.EventSinkUpdate{Name: &b}); roster.ErrorCode(err) != roster.ECONFLICT {
		t.Fatalf("renaming a to b: %v, want ECONFLICT", err)
	}
}

// testAuditHook: the hook hears of each record inserted (an allowed event,
// the first refusal of its kind, a caller's summary record) once, after
// commit, and not of repeats folded into an existing record.
func testAuditHook(t *testing.T, s EventSinkStore) {
	var mu sync.Mutex
	var heard []roster.AuditEvent
	s.OnAudit(func(e *roster.AuditEvent) {
		mu.Lock()
		heard = append(heard, *e)
		mu.Unlock()
	})
	ctx := t.Context()
	allowed := func() *roster.AuditEvent {
		return &roster.AuditEvent{Actor: "ci", ActorID: "tok-1", Action: "credential.issue", Outcome: roster.AuditAllowed,
			TargetType: "credential", TargetID: "c1"}
	}
	denied := func(target string) *roster.AuditEvent {
		return &roster.AuditEvent{Actor: "ci", ActorID: "tok-1", Action: "credential.issue", Outcome: roster.AuditDenied,
			TargetType: "credential", TargetID: target, Reason: "no grant"}
	}
	must(t, s.AppendAudit(ctx, allowed()))
	must(t, s.AppendAudit(ctx, allowed()))
	for range 5 { // one record counting 5
		must(t, s.AppendAudit(ctx, denied("c2")))
	}
	mu.Lock()
	defer mu.Unlock()
	if len(heard) != 3 {
		t.Fatalf("the hook heard %d records, want 3 (two allowed, the first denial): %+v", len(heard), heard)
	}
	for i, want := range []roster.AuditOutcome{roster.AuditAllowed, roster.AuditAllowed, roster.AuditDenied} {
		if heard[i].Outcome != want || heard[i].ID == "" || heard[i].Count != 1 {
			t.Fatalf("record %d heard: %+v", i, heard[i])
		}
	}
	if heard[0].ID == heard[1].ID {
		t.Fatal("two allowed events heard as one record")
	}
	if heard[2].Reason != "no grant" {
		t.Fatalf("denial heard: %+v", heard[2])
	}
}
