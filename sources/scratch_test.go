package sources_test

import (
	"context"
	"os"
	"runtime"
	"strings"
	"testing"

	"github.com/rosterhq/roster/sources"
)

func TestScratchGivesBackEachRecord(t *testing.T) {
	dir := t.TempDir()
	s := sources.NewScratch(dir)
	if _, err := s.Read(sources.Extent{Len: 1}, nil); err == nil {
		t.Fatal("reading an empty scratch file succeeded")
	}
	records := []string{"first", "", strings.Repeat("x", 1<<20), "last"}
	extents := make([]sources.Extent, len(records))
	for i, r := range records {
		e, err := s.Append([]byte(r))
		if err != nil {
			t.Fatal(err)
		}
		extents[i] = e
	}
	if runtime.GOOS == "linux" {
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("the scratch file has a name in %s: %v", dir, entries)
		}
	}
	var buf []byte
	for i := len(records) - 1; i >= 0; i-- {
		b, err := s.Read(extents[i], buf)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != records[i] {
			t.Fatalf("record %d came back as %d bytes, want %d", i, len(b), len(records[i]))
		}
		buf = b
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the scratch file outlived Close: %v", entries)
	}
}

func TestScratchDirFollowsTheContext(t *testing.T) {
	if got := sources.ScratchDir(context.Background()); got != os.TempDir() {
		t.Fatalf("default scratch directory %q, want %q", got, os.TempDir())
	}
	if got := sources.ScratchDir(sources.WithScratchDir(context.Background(), "/data")); got != "/data" {
		t.Fatalf("scratch directory %q, want /data", got)
	}
}
