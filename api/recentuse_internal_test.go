package api

import (
	"strconv"
	"testing"
	"time"
)

// TestRecentUseIsBounded: a use is written down once a minute per key,
// and the uses older than a minute are forgotten once there are many, so
// the server's memory follows the credentials in use, not all ever used.
func TestRecentUseIsBounded(t *testing.T) {
	var u recentUse
	t0 := time.Unix(1_800_000_000, 0)
	if !u.due("a", t0) || u.due("a", t0.Add(59*time.Second)) || !u.due("a", t0.Add(time.Minute)) {
		t.Fatal("a key's use is not due once a minute")
	}
	for i := range 3 * sweepAt {
		u.due("k"+strconv.Itoa(i), t0.Add(time.Duration(i)*time.Second))
	}
	if n := u.size(); n > sweepAt+int(useEvery/time.Second)+1 {
		t.Fatalf("%d uses remembered after %d keys, one a second: want about %d at most", n, 3*sweepAt, sweepAt)
	}
	// A key used within the minute is still remembered.
	last := "k" + strconv.Itoa(3*sweepAt-1)
	if u.due(last, t0.Add(time.Duration(3*sweepAt-1)*time.Second)) {
		t.Fatal("a use of the last second was forgotten")
	}
}
