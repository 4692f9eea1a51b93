//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestLargeDocumentInBoundedMemory: the script checks the whole document
// before printing it, without holding it in memory.
func TestLargeDocumentInBoundedMemory(t *testing.T) {
	script := filepath.Join(build(t, "roster-inventory"), "roster-inventory")
	const size = 192 << 20
	n, _ := bigInventory(io.Discard, size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", fmt.Sprint(n))
		bigInventory(w, size)
	}))
	defer srv.Close()

	cmd := exec.Command(script, "--list")
	cmd.Dir = t.TempDir()
	tmp := t.TempDir()
	cmd.Env = userEnv(t, "ROSTER_URL="+srv.URL, "ROSTER_TOKEN=rst_big", "ROSTER_INVENTORY=prod", "TMPDIR="+tmp)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The script prints once the whole document is checked; while it waits
	// for the pipe to drain, its peak is reached. (Maxrss from wait4 is no
	// use: it counts the test process that forked it.)
	first := make([]byte, 1)
	if _, err := io.ReadFull(out, first); err != nil {
		cmd.Wait()
		t.Fatalf("roster-inventory printed nothing: %s", stderr.String())
	}
	hwm := testenv.PeakRSS(t, cmd.Process.Pid)
	printed, _ := io.Copy(io.Discard, out)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("roster-inventory: %v: %s", err, stderr.String())
	}
	if printed+1 != n {
		t.Fatalf("printed %d bytes of %d", printed+1, n)
	}
	t.Logf("a %d MiB document: peak RSS %d MiB", n>>20, hwm>>20)
	if hwm > 64<<20 {
		t.Fatalf("peak RSS %d MiB for a %d MiB document: the script holds it in memory", hwm>>20, n>>20)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Fatalf("the script left %s in its temporary directory", left[0].Name())
	}
}
