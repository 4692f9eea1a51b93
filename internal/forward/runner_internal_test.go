package forward

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// scripted is a transport (a unit test's stand-in) that fails while down
// and records when each send was tried.
type scripted struct {
	mu    sync.Mutex
	down  bool
	tries []time.Time
	sent  int
}

func (s *scripted) send(_ context.Context, batch []*Event) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries = append(s.tries, time.Now())
	if s.down {
		return 0, errors.New("connection refused")
	}
	s.sent += len(batch)
	return 0, nil
}

func (s *scripted) close() {}

func (s *scripted) set(down bool) { s.mu.Lock(); s.down = down; s.mu.Unlock() }

func testRunner(tr transport, queue int, opts Options) (*runner, *bytes.Buffer) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	return newRunner("s", tr, queue, &stats{}, opts.withDefaults(), log), &buf
}

// TestRunnerBackoff: retries of a failing batch wait BackoffBase, then
// twice as long each time (with jitter, between half and all of it), never
// more than MaxBackoff; the batch goes once the sink is back.
func TestRunnerBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &scripted{down: true}
		r, _ := testRunner(tr, 10, Options{BackoffBase: time.Second, MaxBackoff: 8 * time.Second, FlushInterval: time.Millisecond,
			MaxRetry: time.Hour})
		go r.run()
		r.offer(&Event{Type: TypeAudit})
		time.Sleep(40 * time.Second)
		tr.set(false)
		time.Sleep(10 * time.Second)
		r.halt()

		tr.mu.Lock()
		defer tr.mu.Unlock()
		if tr.sent != 1 {
			t.Fatalf("sent %d events, want the one after recovery", tr.sent)
		}
		for i := 1; i < len(tr.tries); i++ {
			gap := tr.tries[i].Sub(tr.tries[i-1])
			want := min(time.Second<<(i-1), 8*time.Second)
			if gap < want/2 || gap > want {
				t.Errorf("wait before try %d = %v, want between %v and %v", i+1, gap, want/2, want)
			}
		}
		if len(tr.tries) < 6 {
			t.Errorf("%d tries in 50s", len(tr.tries))
		}
	})
}

// TestRunnerGivesUp: a batch failing longer than MaxRetry is dropped and
// counted as gave_up; the next batch is tried.
func TestRunnerGivesUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &scripted{down: true}
		r, _ := testRunner(tr, 10, Options{BackoffBase: time.Second, MaxBackoff: 2 * time.Second, MaxRetry: 10 * time.Second,
			FlushInterval: time.Millisecond})
		go r.run()
		r.offer(&Event{Type: TypeAudit})
		r.offer(&Event{Type: TypeAudit})
		time.Sleep(15 * time.Second)
		if n := r.st.dropped[1].Load(); n != 2 {
			t.Fatalf("gave_up = %d, want 2", n)
		}
		r.halt()
	})
}

// TestRunnerDropLogInterval: drops are logged once per interval, with
// their count and reason, however many there are; none logged when there
// are none.
func TestRunnerDropLogInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		tr := &scripted{down: true}
		r, logs := testRunner(tr, 5, Options{DropLogEvery: 10 * time.Second, BackoffBase: time.Second, MaxRetry: time.Hour,
			FlushInterval: time.Millisecond})
		go r.run()
		for i := range 3000 { // 30 s of a flood: 100 events a second
			r.offer(&Event{Type: TypeAudit})
			if i%100 == 99 {
				time.Sleep(time.Second)
			}
		}
		time.Sleep(35 * time.Second) // and 35 s of quiet
		r.halt()
		got := strings.Count(logs.String(), "event sink dropped events")
		if got < 3 || got > 4 {
			t.Fatalf("drops logged %d times in 65 s of which 30 s dropping, interval 10 s; want 3 or 4:\n%s", got, logs)
		}
		if !strings.Contains(logs.String(), "queue_full=") {
			t.Fatalf("the drop log names no reason:\n%s", logs)
		}
	})
}
