package testenv

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
)

// PeakRSS returns the peak resident set size (VmHWM in /proc/PID/status,
// Linux) of process pid, in bytes.
func PeakRSS(t testing.TB, pid int) int64 {
	t.Helper()
	if _, err := os.Stat("/proc/self/status"); err != nil {
		Need(t, "/proc/PID/status (Linux), to read a process's peak memory", err)
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatalf("testenv: read the status of process %d: %v", pid, err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
			if err != nil {
				t.Fatalf("testenv: VmHWM %q: %v", v, err)
			}
			return kb << 10
		}
	}
	t.Fatalf("testenv: no VmHWM in /proc/%d/status", pid)
	return 0
}
