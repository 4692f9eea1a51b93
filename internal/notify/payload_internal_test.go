package notify

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

// goldenEvent is a partial run of prod/ec2 with a failed scope.
func goldenEvent(event roster.WebhookEvent) *Event {
	started := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	finished := started.Add(90 * time.Second)
	run := &roster.SyncRun{
		ID: "0198a7c2-0000-7000-8000-00000000a001", SourceID: "0198a7c2-0000-7000-8000-00000000c001", InventoryID: "inv-1",
		Trigger: roster.TriggerSchedule, Status: roster.SyncPartial, StartedAt: &started, FinishedAt: &finished,
		Counts: roster.SyncCounts{Seen: 40, Added: 2, Updated: 3, Unchanged: 35},
		Scopes: []roster.ScopeResult{{Name: "us-east-1", Status: roster.ScopeSucceeded}, {Name: "eu-west-1", Error: "AccessDenied: not authorized to DescribeInstances"}},
	}
	if event == roster.EventSyncFailed {
		run.Status, run.Error, run.Counts = roster.SyncFailed, "every scope failed: AccessDenied", roster.SyncCounts{}
	}
	e := NewEvent(event, run, &roster.Inventory{ID: "inv-1", Name: "prod"}, &roster.Source{ID: run.SourceID, Name: "ec2", Provider: "aws"})
	e.Link = "https://roster.example/ui/runs/" + run.ID
	return e
}

func golden(t *testing.T, name string, v any) {
	t.Helper()
	got, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	got = append(got, '\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from %s:\n%s", name, path, got)
	}
}

func TestGoldenBodies(t *testing.T) {
	partial := goldenEvent(roster.EventSyncPartial)
	golden(t, "mattermost", partial.mattermost("roster-bot"))
	golden(t, "rocketchat", partial.rocketChat("Roster"))
	golden(t, "teams", partial.teams())
	golden(t, "slack", partial.slack())
	cfg := &roster.PagerDutySettings{SeverityFailed: "error", SeverityPartial: "warning"}
	golden(t, "pagerduty-trigger", goldenEvent(roster.EventSyncFailed).pagerDuty("R0UTINGKEY0123456789abcdef012345", cfg, false))
	golden(t, "pagerduty-resolve", goldenEvent(roster.EventSyncSucceeded).pagerDuty("R0UTINGKEY0123456789abcdef012345", cfg, true))
	if ev := goldenEvent(roster.EventSyncSucceeded).pagerDuty("k", cfg, false); ev != nil {
		t.Errorf("a success after a success says %+v to PagerDuty, want nothing", ev)
	}
	if ev := goldenEvent(roster.EventHostsChanged).pagerDuty("k", cfg, true); ev != nil {
		t.Errorf("hosts.changed says %+v to PagerDuty, want nothing", ev)
	}
}

func TestIRCLinesAreBounded(t *testing.T) {
	e := goldenEvent(roster.EventSyncFailed)
	e.Run.Error = "line one\r\nPRIVMSG #other :injected " + string(bytes.Repeat([]byte("é"), 400))
	lines := ircLines(e.message())
	if len(lines) > ircMaxLines {
		t.Fatalf("%d lines", len(lines))
	}
	for _, l := range lines {
		if len(l) > ircMaxLineLen || bytes.ContainsAny([]byte(l), "\r\n") {
			t.Errorf("line of %d bytes, or with a line break: %q", len(l), l)
		}
	}
	if lines[len(lines)-1] != e.Link {
		t.Errorf("last line %q is not the link", lines[len(lines)-1])
	}
}
