package syncer

import (
	"encoding/json"
	"os"
	"runtime"
	"slices"
	"testing"

	"github.com/rosterhq/roster"
)

func TestSpillGivesBackWhatItKept(t *testing.T) {
	dir := t.TempDir()
	s := newSpill(dir)
	hosts := []*roster.Host{
		{ExternalID: "a", Groups: []string{"web", "prod"}, Vars: json.RawMessage(`{"x":1}`)},
		{ExternalID: "b", Groups: nil, Vars: json.RawMessage(`{}`)},
		{ExternalID: "c", Groups: []string{"", "with\x00nul", "ünï", "with\x1fsep"}, Vars: json.RawMessage(`{"y":"z"}`)},
	}
	want := make([]roster.Host, len(hosts))
	for i, h := range hosts {
		want[i] = roster.Host{Groups: slices.Clone(h.Groups), Vars: slices.Clone(h.Vars)}
		if err := s.keep(h); err != nil {
			t.Fatal(err)
		}
		if h.Groups != nil || h.Vars != nil {
			t.Fatalf("host %s still holds its body after keep", h.ExternalID)
		}
	}
	if runtime.GOOS == "linux" {
		// The file is unlinked at once: a crash leaves nothing behind.
		if entries, _ := os.ReadDir(dir); len(entries) != 0 {
			t.Fatalf("the spill file is visible in %s: %v", dir, entries)
		}
	}
	other := &roster.Host{ExternalID: "d", Vars: json.RawMessage(`{"kept":"in memory"}`)}
	if err := s.Load(append(slices.Clone(hosts), other)); err != nil {
		t.Fatal(err)
	}
	for i, h := range hosts {
		if !slices.Equal(h.Groups, want[i].Groups) && (len(h.Groups) != 0 || len(want[i].Groups) != 0) || string(h.Vars) != string(want[i].Vars) {
			t.Fatalf("host %s came back as %q %s, want %q %s", h.ExternalID, h.Groups, h.Vars, want[i].Groups, want[i].Vars)
		}
	}
	if string(other.Vars) != `{"kept":"in memory"}` {
		t.Fatalf("a host not kept was changed by Load: %s", other.Vars)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the spill file outlived Close: %v", entries)
	}
}

func TestSpillFailsClearlyWhereItCannotWrite(t *testing.T) {
	s := newSpill(t.TempDir() + "/absent")
	defer s.Close()
	h := &roster.Host{ExternalID: "a", Vars: json.RawMessage(`{}`)}
	if err := s.keep(h); err == nil {
		t.Fatal("keeping a host in a directory that does not exist succeeded")
	}
}
