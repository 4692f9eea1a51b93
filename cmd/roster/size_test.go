package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// maxBinaryBytes bounds the roster binary as `make build` makes it.
const maxBinaryBytes = 80_000_000

// buildFlags are the Makefile's BUILDFLAGS, split as the shell splits them.
var buildFlags = []string{"-trimpath", "-ldflags=-s -w"}

// TestBinarySize builds cmd/roster as `make build` does and fails when the
// binary is larger than 80 MB. What is linked but unused shows up here:
// an SDK client kept whole because it was stored in an interface (every
// exported method of such a type is linked, text/template and gonja
// calling reflect's MethodByName) took the binary from 59 to 88 MB.
func TestBinarySize(t *testing.T) {
	makefile, err := os.ReadFile("../../Makefile")
	if err != nil {
		t.Fatal(err)
	}
	if want := `BUILDFLAGS = -trimpath -ldflags="-s -w"`; !strings.Contains(string(makefile), want) {
		t.Fatalf("the Makefile no longer says %s: update buildFlags to what it says", want)
	}
	out := filepath.Join(t.TempDir(), "roster")
	cmd := exec.Command("go", append(append([]string{"build"}, buildFlags...), "-o", out, "./cmd/roster")...)
	cmd.Dir = "../.."
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
	fi, err := os.Stat(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("roster: %.1f MB (bound %.0f MB)", float64(fi.Size())/1e6, float64(maxBinaryBytes)/1e6)
	if fi.Size() > maxBinaryBytes {
		t.Errorf("the roster binary is %.1f MB, more than %.0f MB: see what grew with `go tool nm -size -sort size`", float64(fi.Size())/1e6, float64(maxBinaryBytes)/1e6)
	}
}
