package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestIdleServerWritesNothingAtInfo: an idle `roster serve` is silent at
// the info level once it serves (River's periodic chatter is debug).
func TestIdleServerWritesNothingAtInfo(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	n := startNode(t, bin, "idle", filepath.Join(t.TempDir(), "roster.db"), nil)
	// River's producers report their job counts every 5 s; the scheduler
	// ticks every second (scheduleEvery).
	time.Sleep(12 * time.Second)
	b, err := os.ReadFile(n.log)
	if err != nil {
		t.Fatal(err)
	}
	_, after, ok := strings.Cut(string(b), "roster serving")
	if !ok {
		t.Fatalf("no 'roster serving' line in the log:\n%s", b)
	}
	_, after, _ = strings.Cut(after, "\n")
	if strings.TrimSpace(after) != "" {
		t.Fatalf("an idle server logged at info:\n%s", tail(after, 2048))
	}
}
