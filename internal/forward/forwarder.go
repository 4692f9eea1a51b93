package forward

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rosterhq/roster"
)

// Sink is a sink's settings with its secret fields, as the forwarder
// needs them.
type Sink struct {
	roster.EventSink
	Secrets roster.SecretFields
}

// Forwarder sends events to every enabled sink that wants them.
type Forwarder struct {
	node string
	log  *slog.Logger
	opts Options

	// setMu makes Set and Close one at a time; mu guards the map, and is
	// never held while a runner stops, so Publish never waits on a send.
	setMu  sync.Mutex
	mu     sync.RWMutex
	sinks  map[string]*entry // by sink id
	closed bool
	// logLevel is the least level any sink's log stream takes
	// (math.MaxInt64: none has one), so the log tee decides without a lock.
	logLevel atomic.Int64
}

type entry struct {
	sink        roster.EventSink
	fingerprint string
	level       slog.Level
	r           *runner // nil: the sink could not be set up (err says why)
	err         string
	st          *stats
}

// New returns a forwarder with no sinks. node names this process in the
// events; log must not be a logger whose records are forwarded (the log
// tee skips component=forward, so log.With("component", "forward") will
// do). A non-nil reg gets the forwarding metrics.
func New(node string, log *slog.Logger, reg prometheus.Registerer, opts Options) *Forwarder {
	f := &Forwarder{node: node, log: log, opts: opts.withDefaults(), sinks: map[string]*entry{}}
	f.logLevel.Store(math.MaxInt64)
	if reg != nil {
		reg.MustRegister(f)
	}
	return f
}

// Node is the name events carry for this process.
func (f *Forwarder) Node() string { return f.node }

// Set makes sinks the forwarder's sinks: new ones start, removed ones
// stop (dropping what they held), and a sink whose settings or secrets
// changed gets a new runner that takes over the old one's queue (after
// the events that came meanwhile). Stopping a runner may wait for a send
// in flight to end: that happens after the lock is released, so Publish
// never waits for it.
func (f *Forwarder) Set(sinks []Sink) {
	f.setMu.Lock()
	defer f.setMu.Unlock()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	type handover struct{ old, new *entry }
	var handovers []handover
	keep := map[string]bool{}
	for _, s := range sinks {
		keep[s.ID] = true
		fp := fingerprint(s)
		old := f.sinks[s.ID]
		if old != nil && old.fingerprint == fp {
			// Streams and log level are read as events come: no new runner.
			old.sink = s.EventSink
			old.level = parseLevel(s.LogLevel)
			continue
		}
		e := f.newEntry(s, fp, old)
		f.sinks[s.ID] = e
		handovers = append(handovers, handover{old, e})
	}
	for id, e := range f.sinks {
		if !keep[id] {
			handovers = append(handovers, handover{e, nil})
			delete(f.sinks, id)
		}
	}
	f.updateLogLevel()
	f.mu.Unlock()

	for _, h := range handovers {
		var left []*Event
		if h.old != nil && h.old.r != nil {
			left = h.old.r.halt()
		}
		if h.new == nil || h.new.r == nil {
			if h.old != nil {
				h.old.st.drop(DropShutdown, len(left))
			}
			continue
		}
		for _, ev := range left {
			h.new.r.offer(ev)
		}
		go h.new.r.run()
	}
}

// newEntry makes the entry of s, with old's counters, and its runner
// (not started) when s is enabled and its settings work.
func (f *Forwarder) newEntry(s Sink, fp string, old *entry) *entry {
	e := &entry{sink: s.EventSink, fingerprint: fp, st: &stats{}, level: parseLevel(s.LogLevel)}
	if old != nil {
		e.st = old.st
	}
	if !s.Enabled {
		return e
	}
	tr, err := newTransport(&s.EventSink, s.Secrets, f.node)
	if err != nil {
		e.err = err.Error()
		f.log.Warn("event sink not started", "sink", s.Name, "err", err)
		return e
	}
	size := s.QueueSize
	if size <= 0 {
		size = roster.EventSinkQueueDefault
	}
	e.r = newRunner(s.Name, tr, size, e.st, f.opts, f.log)
	return e
}

func parseLevel(s string) slog.Level {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return slog.LevelWarn
	}
	return l
}

func newTransport(s *roster.EventSink, secrets roster.SecretFields, node string) (transport, error) {
	if s.Type == roster.SinkSyslog {
		return newSyslog(s, node)
	}
	return newHTTP(s, secrets, node)
}

// fingerprint changes when anything the runner was made from changes.
func fingerprint(s Sink) string {
	b, _ := json.Marshal(struct {
		T  roster.EventSinkType
		C  roster.EventSinkConfig
		E  bool
		Q  int
		V  int
		N  string
		SP string
	}{s.Type, s.Config, s.Enabled, s.QueueSize, s.SecretVersion, s.Name, s.SecretPath})
	return string(b)
}

func (f *Forwarder) updateLogLevel() {
	least := int64(math.MaxInt64)
	for _, e := range f.sinks {
		if e.r != nil && e.sink.Wants(roster.StreamLog) {
			least = min(least, int64(e.level))
		}
	}
	f.logLevel.Store(least)
}

// WantsLog reports whether some sink takes log records of level l.
func (f *Forwarder) WantsLog(l slog.Level) bool { return int64(l) >= f.logLevel.Load() }

// Publish queues e for every sink that wants its stream. It never waits:
// a full queue drops e and counts the drop.
func (f *Forwarder) Publish(e *Event) {
	stream := e.Stream()
	var level slog.Level
	if e.Log != nil {
		_ = level.UnmarshalText([]byte(e.Log.Level))
	}
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, s := range f.sinks {
		if s.r == nil || !s.sink.Wants(stream) || (stream == roster.StreamLog && level < s.level) {
			continue
		}
		s.r.offer(e)
	}
}

// Audit forwards an audit record the store inserted.
func (f *Forwarder) Audit(a *roster.AuditEvent) { f.Publish(FromAudit(a, f.node)) }

// SyncFinished forwards a finished run (a syncer.OnFinish hook).
func (f *Forwarder) SyncFinished(_ context.Context, run *roster.SyncRun) {
	f.Publish(FromRun(run, f.node))
}

// Status is what this process knows of one sink's forwarding.
type Status struct {
	Running     bool
	QueueLength int
	QueueSize   int
	Sent        uint64
	Dropped     map[string]uint64
	LastError   string
	LastFailure time.Time
	LastSuccess time.Time
	Failing     bool
}

// Status returns the status of the sink with id, if this process has it.
func (f *Forwarder) Status(id string) (Status, bool) {
	f.mu.RLock()
	e := f.sinks[id]
	f.mu.RUnlock()
	if e == nil {
		return Status{}, false
	}
	s := Status{Sent: e.st.sent.Load(), Dropped: map[string]uint64{}, LastError: e.err}
	for i, r := range dropReasons {
		s.Dropped[r] = e.st.dropped[i].Load()
	}
	if e.r != nil {
		s.Running, s.QueueLength, s.QueueSize = true, len(e.r.q), cap(e.r.q)
	}
	e.st.mu.Lock()
	if e.st.lastError != "" {
		s.LastError = e.st.lastError
	}
	s.LastFailure, s.LastSuccess, s.Failing = e.st.lastFailure, e.st.lastSuccess, e.st.failing
	e.st.mu.Unlock()
	return s, true
}

// Close sends what the queues hold until ctx ends, then stops every
// runner; what is left counts as dropped.
func (f *Forwarder) Close(ctx context.Context) {
	f.setMu.Lock()
	defer f.setMu.Unlock()
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	entries := make([]*entry, 0, len(f.sinks))
	for _, e := range f.sinks {
		entries = append(entries, e)
	}
	f.logLevel.Store(math.MaxInt64)
	f.mu.Unlock()
	var wg sync.WaitGroup
	for _, e := range entries {
		if e.r != nil {
			wg.Go(func() { e.r.drain(ctx) })
		}
	}
	wg.Wait()
}

// TestResult is the outcome of sending one test event.
type TestResult struct {
	Delivered bool
	Error     string
	Duration  time.Duration
}

// Test sends one synthetic event to s at once, bypassing its queue, so it
// tells the truth even when the queue is full.
func Test(ctx context.Context, s *roster.EventSink, secrets roster.SecretFields, node string, timeout time.Duration) TestResult {
	start := time.Now()
	tr, err := newTransport(s, secrets, node)
	if err != nil {
		return TestResult{Error: err.Error()}
	}
	defer tr.close()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	rejected, err := tr.send(ctx, []*Event{TestEvent(s.Name, node)})
	res := TestResult{Duration: time.Since(start)}
	switch {
	case err != nil:
		res.Error = err.Error()
	case rejected > 0:
		res.Error = "the sink refused the event"
	default:
		res.Delivered = true
	}
	return res
}

var (
	descSent    = prometheus.NewDesc("roster_forward_events_total", "Events forwarded to an event sink, by result (sent: accepted by the sink; rejected: refused by it for good).", []string{"sink", "result"}, nil)
	descDropped = prometheus.NewDesc("roster_forward_dropped_total", "Events an event sink never received, by reason (queue_full, gave_up, rejected, shutdown).", []string{"sink", "reason"}, nil)
	descQueue   = prometheus.NewDesc("roster_forward_queue_length", "Events waiting in an event sink's queue.", []string{"sink"}, nil)
	descSuccess = prometheus.NewDesc("roster_forward_last_success_timestamp_seconds", "When an event sink last accepted a batch (0: never, since this process started).", []string{"sink"}, nil)
)

// Describe implements prometheus.Collector.
func (f *Forwarder) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descSent, descDropped, descQueue, descSuccess} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: one series set per sink, at 0
// from the sink's creation.
func (f *Forwarder) Collect(ch chan<- prometheus.Metric) {
	f.mu.RLock()
	ids := make([]string, 0, len(f.sinks))
	for id := range f.sinks {
		ids = append(ids, id)
	}
	f.mu.RUnlock()
	slices.Sort(ids)
	for _, id := range ids {
		f.mu.RLock()
		e := f.sinks[id]
		var name string
		if e != nil {
			name = e.sink.Name // a reload writes it under the lock
		}
		f.mu.RUnlock()
		if e == nil {
			continue
		}
		st, _ := f.Status(id)
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.Sent), name, "sent")
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(st.Dropped[DropRejected]), name, "rejected")
		for _, r := range dropReasons {
			ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(st.Dropped[r]), name, r)
		}
		ch <- prometheus.MustNewConstMetric(descQueue, prometheus.GaugeValue, float64(st.QueueLength), name)
		last := 0.0
		if !st.LastSuccess.IsZero() {
			last = float64(st.LastSuccess.UnixMilli()) / 1e3
		}
		ch <- prometheus.MustNewConstMetric(descSuccess, prometheus.GaugeValue, last, name)
	}
}
