package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/forward/forwardtest"
)

// TestApplyEventSink: `kind: event_sink` with its token from the
// environment is created, a second apply changes nothing, a changed
// setting is an update, export writes the token as a reference, and the
// CLI shows, tests and deletes the sink.
func TestApplyEventSink(t *testing.T) {
	s := serveGitops(t, "sqlite")
	hec := forwardtest.HEC(t, "hec-secret-1")
	t.Setenv("HEC_TOKEN", "hec-secret-1")
	file := filepath.Join(t.TempDir(), "sinks.yaml")
	write := func(index string) {
		doc := `kind: event_sink
name: splunk
type: hec
streams: [sync, audit]
url: ` + hec.URL + `
index: ` + index + `
token: {env: HEC_TOKEN}
`
		if err := os.WriteFile(file, []byte(doc), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("main")
	if out := s.mustRoster(t, "apply", "-f", file); !strings.Contains(out, "+ event_sink splunk") {
		t.Fatalf("first apply:\n%s", out)
	}
	if out := s.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
		t.Fatalf("second apply:\n%s", out)
	}
	write("roster")
	if out := s.mustRoster(t, "apply", "-f", file); !strings.Contains(out, "~ event_sink splunk: index") {
		t.Fatalf("apply of a changed index:\n%s", out)
	}
	exported := s.mustRoster(t, "export")
	if !strings.Contains(exported, "kind: event_sink") || !strings.Contains(exported, "env: EVENT_SINK_SPLUNK_TOKEN") ||
		strings.Contains(exported, "hec-secret-1") {
		t.Fatalf("export:\n%s", exported)
	}

	if out := s.mustRoster(t, "sink", "test", "splunk"); !strings.Contains(out, "true") {
		t.Fatalf("sink test:\n%s", out)
	}
	if ev := hec.WaitEvents(t, 1, 5e9); ev[len(ev)-1]["index"] != "roster" {
		t.Fatalf("the test event: %v", ev[len(ev)-1])
	}
	if out := s.mustRoster(t, "sink", "list"); !strings.Contains(out, "splunk") || !strings.Contains(out, "audit,sync") {
		t.Fatalf("sink list:\n%s", out)
	}
	if out := s.mustRoster(t, "sink", "status", "splunk", "-o", "json"); !strings.Contains(out, `"running": true`) {
		t.Fatalf("sink status:\n%s", out)
	}
	tokenFile := filepath.Join(t.TempDir(), "tok")
	os.WriteFile(tokenFile, []byte("hec-secret-2\n"), 0o600)
	s.mustRoster(t, "sink", "update", "splunk", "--hec-token-file", tokenFile, "--queue-size", "50")
	if out := s.mustRoster(t, "sink", "get", "splunk", "-o", "json"); !strings.Contains(out, `"queue_size": 50`) || strings.Contains(out, "hec-secret") {
		t.Fatalf("sink get:\n%s", out)
	}
	if out, err := s.roster(t, "", "sink", "create", "bad", "--type", "syslog", "--address", "logs.example:514", "--stream", "audit"); err == nil ||
		!strings.Contains(out+err.Error(), "transport") {
		t.Fatalf("a plain syslog sink to a remote host: %v\n%s", err, out)
	}
	s.mustRoster(t, "sink", "delete", "splunk")
	if out := s.mustRoster(t, "sink", "list"); strings.Contains(out, "splunk") {
		t.Fatalf("after delete:\n%s", out)
	}
}
