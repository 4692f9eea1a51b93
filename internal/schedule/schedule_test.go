package schedule

import (
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

var t0 = time.Date(2026, 11, 26, 9, 7, 30, 0, time.UTC)

func TestParse(t *testing.T) {
	for _, s := range []string{"15m", "1h30m", "5s", "*/15 * * * *", "0 3 * * 1-5", "@hourly", "CRON_TZ=Europe/Berlin 0 6 * * *"} {
		if _, err := Parse(s); err != nil {
			t.Errorf("Parse(%q): %v", s, err)
		}
	}
	for s, want := range map[string]string{
		"":            "empty",
		"1s":          "shorter than 5s",
		"-5m":         "shorter",
		"@every 5m":   "duration",
		"every hour":  "neither a duration",
		"* * * *":     "neither a duration",
		"61 * * * *":  "neither a duration",
		"0 0 * * * *": "neither a duration", // seconds fields are not cron's
	} {
		_, err := Parse(s)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(%q) = %v, want an error saying %q", s, err, want)
		}
	}
}

func TestIntervalTicks(t *testing.T) {
	spec, _ := Parse("15m")
	first := spec.Next("src-a", t0)
	if !first.After(t0) || first.Sub(t0) > 15*time.Minute {
		t.Fatalf("Next = %v, want within 15m after %v", first, t0)
	}
	// Ticks are every interval, stable whoever computes them and from
	// whichever point in between.
	second := spec.Next("src-a", first)
	if second.Sub(first) != 15*time.Minute {
		t.Fatalf("ticks %v then %v, want 15m apart", first, second)
	}
	if got := spec.Next("src-a", first.Add(-time.Second)); !got.Equal(first) {
		t.Fatalf("Next(just before the tick) = %v, want %v", got, first)
	}
	if got := spec.Next("src-a", first.Add(7*time.Minute)); !got.Equal(second) {
		t.Fatalf("Next(mid-interval) = %v, want %v", got, second)
	}
	// Sources have different phases: 100 sources on the same 15m
	// schedule spread over the interval rather than ticking together.
	seen := map[time.Duration]bool{}
	var minute [15]int
	for i := range 100 {
		tick := spec.Next("src-"+string(rune('A'+i%26))+string(rune('a'+i/26)), t0)
		seen[tick.Sub(t0)] = true
		minute[int(tick.Sub(t0)/time.Minute)]++
	}
	if len(seen) < 95 {
		t.Fatalf("100 sources got %d distinct ticks", len(seen))
	}
	for m, n := range minute {
		if n > 20 {
			t.Fatalf("minute %d of the interval has %d of 100 sources", m, n)
		}
	}
}

func TestCronTicks(t *testing.T) {
	spec, _ := Parse("*/15 * * * *")
	if got, want := spec.Next("x", t0), time.Date(2026, 11, 26, 9, 15, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Next = %v, want %v", got, want)
	}
	if got := spec.Period(t0); got != 15*time.Minute {
		t.Fatalf("Period = %v", got)
	}
	daily, _ := Parse("@daily")
	if got := daily.DefaultJitter(t0); got != MaxDefaultJitter {
		t.Fatalf("default jitter of a daily schedule = %v, want the cap %v", got, MaxDefaultJitter)
	}
	berlin, _ := Parse("CRON_TZ=Europe/Berlin 0 6 * * *")
	if got, want := berlin.Next("x", t0), time.Date(2026, 11, 27, 5, 0, 0, 0, time.UTC); !got.Equal(want) {
		t.Fatalf("Berlin 06:00 = %v, want %v", got, want)
	}
}

func TestJitter(t *testing.T) {
	if Jitter("a", t0, 0) != 0 {
		t.Fatal("zero jitter is not zero")
	}
	j := Jitter("a", t0, time.Minute)
	if j < 0 || j >= time.Minute || j != Jitter("a", t0, time.Minute) {
		t.Fatalf("Jitter = %v, want a stable value in [0, 1m)", j)
	}
	differ := 0
	for i := range 20 {
		if Jitter("a", t0.Add(time.Duration(i+1)*time.Hour), time.Minute) != j {
			differ++
		}
	}
	if differ < 18 {
		t.Fatalf("jitter barely changes between ticks (%d of 20 differ)", differ)
	}
}

func TestCheckJitter(t *testing.T) {
	for _, c := range []struct {
		spec   string
		jitter time.Duration
		ok     bool
	}{
		{"15m", 14 * time.Minute, true},
		{"15m", 15 * time.Minute, false},
		{"15m", 0, true},
		{"15m", roster.DefaultJitter, true},
		{"", time.Hour, true},
		{"@hourly", 59 * time.Minute, true},
		{"@hourly", time.Hour, false},
		// Twice a day at 09:00 and 10:00: the shortest gap is an hour,
		// however long the other one.
		{"0 9,10 * * *", 2 * time.Hour, false},
		{"0 9,10 * * *", 30 * time.Minute, true},
	} {
		err := CheckJitter(c.spec, c.jitter, t0)
		if (err == nil) != c.ok {
			t.Errorf("CheckJitter(%q, %v) = %v, want ok=%v", c.spec, c.jitter, err, c.ok)
		}
	}
}

func TestNextSync(t *testing.T) {
	src := &roster.Source{ID: "s1", Schedule: "10m", ScheduleJitter: roster.DefaultJitter}
	n, err := NextSync(src, t0)
	if err != nil {
		t.Fatal(err)
	}
	if delay := n.Due.Sub(n.Tick); delay < 0 || delay >= time.Minute {
		t.Fatalf("due %v after the tick, want within the default jitter of 1m", delay)
	}
	src.ScheduleJitter = 0
	n, _ = NextSync(src, t0)
	if !n.Due.Equal(n.Tick) {
		t.Fatalf("no jitter: due %v, tick %v", n.Due, n.Tick)
	}
	if n, err := NextSync(&roster.Source{ID: "s2"}, t0); n != nil || err != nil {
		t.Fatalf("unscheduled source: %v, %v", n, err)
	}
	if _, err := NextSync(&roster.Source{ID: "s3", Schedule: "often"}, t0); err == nil {
		t.Fatal("a bad schedule planned a sync")
	}
}
