package forward_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/forward"
)

// logBuffer is a slog handler's output that tests read while it grows.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func (b *logBuffer) count(substr string) int { return strings.Count(b.String(), substr) }

func newLogger() (*slog.Logger, *logBuffer) {
	b := &logBuffer{}
	return slog.New(slog.NewTextHandler(b, &slog.HandlerOptions{Level: slog.LevelDebug})), b
}

// fast are runner options for tests: small batches, quick flushes and
// retries.
var fast = forward.Options{FlushInterval: 20 * time.Millisecond, BackoffBase: 20 * time.Millisecond,
	MaxBackoff: 200 * time.Millisecond, SendTimeout: 2 * time.Second, DropLogEvery: 200 * time.Millisecond}

func startForwarder(t *testing.T, opts forward.Options, sinks ...forward.Sink) (*forward.Forwarder, *logBuffer) {
	t.Helper()
	log, buf := newLogger()
	fw := forward.New("node-1", log.With("component", "forward"), nil, opts)
	for i := range sinks {
		sinks[i].Normalize()
		if err := sinks[i].Validate(secretNames(sinks[i].Secrets)); err != nil {
			t.Fatalf("sink %s: %v", sinks[i].Name, err)
		}
	}
	fw.Set(sinks)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		fw.Close(ctx)
	})
	return fw, buf
}

func secretNames(s roster.SecretFields) []string {
	var out []string
	for k := range s {
		out = append(out, k)
	}
	return out
}

func sink(id string, typ roster.EventSinkType, c roster.EventSinkConfig, streams ...roster.EventStream) forward.Sink {
	return forward.Sink{EventSink: roster.EventSink{ID: id, Name: id, Type: typ, Config: c, Enabled: true,
		Streams: streams}}
}

// hostileReason has what could break a line, an SD-PARAM or JSON.
const hostileReason = "denied: line one\nline two ]\"\\ end"

func auditRecord(action string) *roster.AuditEvent {
	return &roster.AuditEvent{ID: "a-" + action, Time: time.Now(), Actor: "ci-runner", ActorID: "tok-1", Action: action,
		Outcome: roster.AuditDenied, TargetType: "credential", TargetID: "cred-1", TargetName: "prod-ssh",
		Reason: hostileReason, Details: map[string]string{"ttl": "1h", "vault_token": "s.CANARY-details", "url_redacted": "https://x/…"},
		Count: 1}
}

func finishedRun() *roster.SyncRun {
	start := time.Now().Add(-3 * time.Second)
	end := time.Now()
	return &roster.SyncRun{ID: "run-1", SourceID: "src-1", InventoryID: "inv-1", Trigger: roster.TriggerAPI,
		Status: roster.SyncPartial, StartedAt: &start, FinishedAt: &end, Counts: roster.SyncCounts{Seen: 5, Added: 2},
		Scopes: []roster.ScopeResult{{Name: "us-east-1", Status: roster.ScopeFailed, Error: "throttled"},
			{Name: "eu-west-1", Status: roster.ScopeSucceeded}}}
}

// TestEventRedactsSecrets: detail and log attribute values under names
// that may hold a secret never leave; the rest do.
func TestEventRedactsSecrets(t *testing.T) {
	e := forward.FromAudit(auditRecord("credential.issue"), "n")
	js := string(e.JSON())
	if strings.Contains(js, "CANARY") {
		t.Fatalf("a secret detail left in the event: %s", js)
	}
	if e.Audit.Details["vault_token"] != "[redacted]" || e.Audit.Details["ttl"] != "1h" || e.Audit.Details["url_redacted"] != "https://x/…" {
		t.Fatalf("details = %v", e.Audit.Details)
	}
	var back forward.Event
	if err := json.Unmarshal(e.JSON(), &back); err != nil || back.Audit.Reason != hostileReason {
		t.Fatalf("reason did not survive JSON: %q, %v", back.Audit.Reason, err)
	}

	r := slog.NewRecord(time.Now(), slog.LevelWarn, "vault login failed", 0)
	r.AddAttrs(slog.String("password", "CANARY-pw"), slog.String("addr", "127.0.0.1"), slog.Any("dsn", "postgres://u:CANARY@h/db"))
	le := forward.FromLog(r, []slog.Attr{slog.String("component", "broker"), slog.String("api_token", "CANARY-tok")}, "n")
	if js := string(le.JSON()); strings.Contains(js, "CANARY") || le.Log.Component != "broker" || le.Log.Attrs["addr"] != "127.0.0.1" {
		t.Fatalf("log event: %s", js)
	}

	se := forward.FromRun(finishedRun(), "n")
	if se.Sync.DurationMS < 2900 || len(se.Sync.FailedScopes) != 1 || se.Sync.FailedScopes[0].Error != "throttled" {
		t.Fatalf("sync event: %s", se.JSON())
	}
}
