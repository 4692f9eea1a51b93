package forward

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// transport sends a batch to a sink. It returns how many events the sink
// refused for good (they are not sent again) and an error; an error that
// is not permanent means the whole batch may be sent again.
type transport interface {
	send(ctx context.Context, batch []*Event) (rejected int, err error)
	close()
}

// sendError is an error of a send, saying whether to try again and when.
type sendError struct {
	err       error
	permanent bool
	after     time.Duration
}

func (e *sendError) Error() string { return e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }

func permanent(err error) error { return &sendError{err: err, permanent: true} }

func isPermanent(err error) bool {
	var se *sendError
	return errors.As(err, &se) && se.permanent
}

// Why events are dropped: the label of roster_forward_dropped_total.
const (
	DropQueueFull = "queue_full" // the queue was full when the event came
	DropGaveUp    = "gave_up"    // its batch failed for longer than MaxRetry
	DropRejected  = "rejected"   // refused by the sink for good, too large for it, or lost over UDP
	DropShutdown  = "shutdown"   // still queued when the flush budget ended
)

var dropReasons = []string{DropQueueFull, DropGaveUp, DropRejected, DropShutdown}

// Options tune the runners; zero fields take the defaults.
type Options struct {
	BatchMax      int           // events per batch: 100
	BatchBytes    int           // bytes of JSON per batch: 1 MiB
	FlushInterval time.Duration // longest wait to fill a batch: 1s
	SendTimeout   time.Duration // one send: 10s
	BackoffBase   time.Duration // first retry wait: 500ms
	MaxBackoff    time.Duration // longest retry wait: 60s
	MaxRetry      time.Duration // a batch failing this long is dropped: 5m
	DropLogEvery  time.Duration // drops are logged at most once per: 60s
}

const maxBackoff = 60 * time.Second

func (o Options) withDefaults() Options {
	def := func(v *time.Duration, d time.Duration) {
		if *v <= 0 {
			*v = d
		}
	}
	if o.BatchMax <= 0 {
		o.BatchMax = 100
	}
	if o.BatchBytes <= 0 {
		o.BatchBytes = 1 << 20
	}
	def(&o.FlushInterval, time.Second)
	def(&o.SendTimeout, 10*time.Second)
	def(&o.BackoffBase, 500*time.Millisecond)
	def(&o.MaxBackoff, maxBackoff)
	def(&o.MaxRetry, 5*time.Minute)
	def(&o.DropLogEvery, time.Minute)
	return o
}

// stats are a sink's counters; they survive a runner's replacement when
// the sink's settings change.
type stats struct {
	sent     atomic.Uint64
	dropped  [4]atomic.Uint64 // by dropReasons
	unlogged [4]atomic.Uint64 // drops not logged yet

	mu          sync.Mutex
	lastError   string
	lastFailure time.Time
	lastSuccess time.Time
	failing     bool
}

func (s *stats) drop(reason string, n int) {
	for i, r := range dropReasons {
		if r == reason {
			s.dropped[i].Add(uint64(n))
			s.unlogged[i].Add(uint64(n))
		}
	}
}

// runner is one sink's queue and the goroutine that empties it.
type runner struct {
	name  string
	tr    transport
	q     chan *Event
	opts  Options
	st    *stats
	log   *slog.Logger
	stop  chan struct{} // closed: stop now
	flush chan struct{} // closed: send what is queued, then stop
	done  chan struct{}
	// pending is the batch being sent when the runner stopped.
	pending []*Event
}

func newRunner(name string, tr transport, queueSize int, st *stats, opts Options, log *slog.Logger) *runner {
	return &runner{name: name, tr: tr, q: make(chan *Event, queueSize), opts: opts, st: st, log: log,
		stop: make(chan struct{}), flush: make(chan struct{}), done: make(chan struct{})}
}

// offer queues e without waiting; a full queue drops it (the newest: the
// batch being retried keeps its order).
func (r *runner) offer(e *Event) {
	select {
	case r.q <- e:
	default:
		r.st.drop(DropQueueFull, 1)
	}
}

func (r *runner) run() {
	defer close(r.done)
	defer r.tr.close()
	// Drops are logged on a ticker of their own: a send hanging until its
	// timeout must not hold them back.
	logTick := time.NewTicker(r.opts.DropLogEvery)
	defer logTick.Stop()
	ended := make(chan struct{})
	var logger sync.WaitGroup
	defer func() { close(ended); logger.Wait() }() // before done closes
	logger.Go(func() {
		for {
			select {
			case <-logTick.C:
				r.logDrops()
			case <-ended:
				return
			}
		}
	})
	for {
		select {
		case <-r.stop:
			return
		default:
		}
		batch, ok := r.collect()
		if len(batch) > 0 {
			r.deliver(batch)
		}
		if !ok {
			r.logDrops()
			return
		}
	}
}

// collect waits for a first event, then takes more until the batch is
// full or FlushInterval has passed. ok is false when the runner is to
// end (after sending batch, when flushing).
func (r *runner) collect() (batch []*Event, ok bool) {
	size := 0
	var timer <-chan time.Time
	for len(batch) < r.opts.BatchMax && size < r.opts.BatchBytes {
		select {
		case e := <-r.q:
			batch = append(batch, e)
			size += len(e.JSON())
			if timer == nil {
				timer = time.After(r.opts.FlushInterval)
			}
		case <-timer:
			return batch, true
		case <-r.flush:
			return r.drainFlush(batch)
		case <-r.stop:
			r.pending = append(r.pending, batch...)
			return nil, false
		}
	}
	return batch, true
}

// drainFlush takes what is queued into the batch (up to a batch's size)
// when the runner is flushing; ok is false once the queue is empty.
func (r *runner) drainFlush(batch []*Event) ([]*Event, bool) {
	for len(batch) < r.opts.BatchMax {
		select {
		case e := <-r.q:
			batch = append(batch, e)
		default:
			return batch, false
		}
	}
	return batch, true
}

// deliver sends batch until it goes, the sink refuses it, MaxRetry has
// passed or the runner is stopped.
func (r *runner) deliver(batch []*Event) {
	start := time.Now()
	for attempt := 0; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), r.opts.SendTimeout)
		go func() { // a stop ends a send in flight
			select {
			case <-r.stop:
				cancel()
			case <-ctx.Done():
			}
		}()
		rejected, err := r.tr.send(ctx, batch)
		cancel()
		if rejected > 0 {
			r.st.drop(DropRejected, rejected)
		}
		if err == nil || isPermanent(err) {
			r.sent(len(batch)-rejected, err)
			return
		}
		r.failed(err)
		if time.Since(start) >= r.opts.MaxRetry {
			r.st.drop(DropGaveUp, len(batch))
			return
		}
		// Closing or not, a failed batch waits its backoff: Close's
		// budget ends the retries (stop), and what is left is counted
		// as dropped at shutdown.
		wait := time.NewTimer(r.backoff(attempt, err))
		select {
		case <-wait.C:
		case <-r.stop:
			wait.Stop()
			r.pending = append(r.pending, batch...)
			return
		}
	}
}

// backoff is the wait before retry attempt+1: BackoffBase doubling up to
// MaxBackoff, with jitter, or what the sink asked for.
func (r *runner) backoff(attempt int, err error) time.Duration {
	var se *sendError
	if errors.As(err, &se) && se.after > 0 {
		return se.after
	}
	d := r.opts.BackoffBase << min(attempt, 20)
	if d > r.opts.MaxBackoff || d <= 0 {
		d = r.opts.MaxBackoff
	}
	return d/2 + rand.N(d/2+1)
}

func (r *runner) sent(n int, err error) {
	r.st.sent.Add(uint64(max(n, 0)))
	r.st.mu.Lock()
	recovered := r.st.failing
	r.st.failing = false
	if err == nil {
		r.st.lastSuccess = time.Now()
	} else {
		r.st.lastError, r.st.lastFailure = err.Error(), time.Now()
	}
	r.st.mu.Unlock()
	if recovered {
		r.log.Info("event sink recovered", "sink", r.name)
	}
	if err != nil {
		r.log.Warn("event sink refused a batch", "sink", r.name, "events", n, "err", err)
	}
}

func (r *runner) failed(err error) {
	r.st.mu.Lock()
	first := !r.st.failing
	r.st.failing = true
	r.st.lastError, r.st.lastFailure = err.Error(), time.Now()
	r.st.mu.Unlock()
	if first {
		r.log.Warn("event sink failing; retrying with backoff", "sink", r.name, "err", err)
	}
}

// logDrops logs the drops since the last call, one line for all reasons.
func (r *runner) logDrops() {
	var attrs []any
	total := uint64(0)
	for i, reason := range dropReasons {
		if n := r.st.unlogged[i].Swap(0); n > 0 {
			attrs = append(attrs, reason, n)
			total += n
		}
	}
	if total == 0 {
		return
	}
	r.log.Warn("event sink dropped events", append([]any{"sink", r.name, "dropped", total}, attrs...)...)
}

// halt stops the runner at once and returns what it had not sent: the
// batch in flight first, then the queue.
func (r *runner) halt() []*Event {
	close(r.stop)
	<-r.done
	out := r.pending
	for {
		select {
		case e := <-r.q:
			out = append(out, e)
		default:
			return out
		}
	}
}

// drain sends what is queued until ctx ends, then stops; what is left
// counts as dropped.
func (r *runner) drain(ctx context.Context) {
	close(r.flush)
	select {
	case <-r.done:
	case <-ctx.Done():
		left := r.halt()
		r.st.drop(DropShutdown, len(left))
		r.logDrops()
	}
}
