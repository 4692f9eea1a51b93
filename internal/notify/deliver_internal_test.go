package notify

import (
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"
)

func TestBackoff(t *testing.T) {
	base, limit := 30*time.Second, time.Hour
	for n, want := range map[int]time.Duration{1: 30 * time.Second, 2: time.Minute, 3: 2 * time.Minute, 5: 8 * time.Minute, 8: time.Hour, 40: time.Hour} {
		for range 50 {
			d := backoff(n, base, limit)
			if d < want-want/4 || d > want+want/4 {
				t.Fatalf("backoff(%d) = %s, want %s ± 25%%", n, d, want)
			}
		}
	}
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	for v, want := range map[string]time.Duration{
		"":                              0,
		"0":                             0,
		"-5":                            0,
		"120":                           2 * time.Minute,
		"soon":                          0,
		"Sat, 01 Mar 2025 12:00:30 GMT": 30 * time.Second,
		"Sat, 01 Mar 2025 11:00:00 GMT": 0,
		"99999999999999":                365 * 24 * time.Hour,
	} {
		if got := parseRetryAfter(v, now); got != want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", v, got, want)
		}
	}
}

func TestNextRetryHonoursRetryAfterWithinBounds(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	w := NewWorker(nil, nil, WorkerOptions{RetryBase: time.Second, RetryMax: time.Minute, RetryAfterMax: 10 * time.Minute, Now: func() time.Time { return now }})
	job := &river.Job[DeliveryArgs]{JobRow: &rivertype.JobRow{ID: 7, Attempt: 1, MaxAttempts: 8}}
	for _, tc := range []struct {
		retryAfter time.Duration
		want       time.Duration
	}{
		{5 * time.Minute, 5 * time.Minute},
		{time.Hour, 10 * time.Minute},         // bounded by RetryAfterMax
		{100 * time.Millisecond, time.Second}, // no sooner than RetryBase
	} {
		w.deferRetry(job.ID, tc.retryAfter)
		if got := w.NextRetry(job).Sub(now); got != tc.want {
			t.Errorf("Retry-After %s: next retry in %s, want %s", tc.retryAfter, got, tc.want)
		}
	}
	// Without a Retry-After: backoff.
	if got := w.NextRetry(job).Sub(now); got < 750*time.Millisecond || got > 1250*time.Millisecond {
		t.Errorf("next retry without Retry-After in %s", got)
	}
	if len(w.retryAt) != 0 {
		t.Errorf("hints left behind: %v", w.retryAt)
	}
}

func TestDescribeScrubs(t *testing.T) {
	u, _ := url.Parse("https://user:hunter2pw@hooks.example.com/services/T0AAAA/B0BBBB/cccccccc?token=dddddddd")
	s := newScrubber(u, "signing-secret-eeee")
	for _, err := range []error{
		&url.Error{Op: "Post", URL: u.String(), Err: errors.New("something odd about " + u.Redacted())},
		errors.New("unwrapped: " + u.String() + " with signing-secret-eeee"),
		errors.New("escaped: " + u.EscapedPath() + " and " + url.QueryEscape(u.RawQuery)),
	} {
		got := describe(err, time.Second, s)
		for _, secret := range []string{"T0AAAA", "B0BBBB", "cccccccc", "dddddddd", "hunter2pw", "signing-secret-eeee"} {
			if strings.Contains(got, secret) {
				t.Errorf("describe(%v) = %q: holds %q", err, got, secret)
			}
		}
		if len([]rune(got)) > maxErrorLen {
			t.Errorf("describe is too long: %q", got)
		}
	}
}
