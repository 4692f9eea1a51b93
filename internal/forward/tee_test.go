package forward_test

import (
	"log/slog"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/forward/forwardtest"
)

// TestTeeForwardsLogs: records at or above the sink's level are forwarded
// with their component; the forwarder's own records (a failing sink
// logging its failure) never are, so a sink cannot feed itself.
func TestTeeForwardsLogs(t *testing.T) {
	rcv := forwardtest.JSON(t, "ndjson", "")
	s := sink("logs", roster.SinkHTTPJSON, roster.EventSinkConfig{URL: rcv.URL}, roster.StreamLog)
	s.LogLevel = "warn"
	fw, base := startForwarder(t, fast, s)
	log := slog.New(forward.NewTee(slog.NewTextHandler(base, nil), fw))

	log.Info("not forwarded: below warn")
	log.With("component", "broker").Warn("vault unreachable", "token", "CANARY")
	log.With("component", "forward").Warn("event sink failing")
	log.Error("forwarded without component", "component", "forward") // own record by attribute
	log.Error("last one")
	events := rcv.WaitEvents(t, 2, 5*time.Second)
	time.Sleep(100 * time.Millisecond)
	events = rcv.Events()
	if len(events) != 2 {
		t.Fatalf("forwarded %d records, want 2: %v", len(events), events)
	}
	l, _ := events[0]["log"].(map[string]any)
	if l["msg"] != "vault unreachable" || l["component"] != "broker" || l["attrs"].(map[string]any)["token"] != "[redacted]" {
		t.Fatalf("first record: %v", events[0])
	}
}
