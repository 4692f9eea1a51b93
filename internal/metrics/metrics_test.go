package metrics_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/metrics"
)

// scrape GETs url (a /metrics endpoint) as Prometheus would and returns the
// text exposition.
func scrape(t *testing.T, url string) string {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d: %s", url, resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Fatalf("GET %s: content type %q", url, ct)
	}
	return string(body)
}

// samples returns the samples of the metric name (exactly: not others that
// share its prefix) in a text exposition, keyed by their label set as
// written ("{a=\"b\"}", or "" for none).
func samples(text, name string) map[string]string {
	out := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		i := strings.LastIndexByte(rest, ' ')
		out[strings.TrimSpace(rest[:i])] = rest[i+1:]
	}
	return out
}

func equalSamples(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s%s = %q, want %q", what, k, got[k], v)
		}
	}
	for k, v := range got {
		if _, ok := want[k]; !ok {
			t.Errorf("unexpected series %s%s %s", what, k, v)
		}
	}
}

func serve(t *testing.T, m *metrics.Metrics) string {
	t.Helper()
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	return srv.URL + "/metrics"
}

func TestObserveSync(t *testing.T) {
	m := metrics.New(metrics.Options{})
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	run := func(status roster.SyncStatus, started bool, d time.Duration) *roster.SyncRun {
		r := &roster.SyncRun{ID: "run", Status: status, CreatedAt: t0}
		if started {
			start, end := t0.Add(time.Second), t0.Add(time.Second+d)
			r.StartedAt, r.FinishedAt = &start, &end
		} else if status.Done() {
			end := t0.Add(time.Second)
			r.FinishedAt = &end
		}
		return r
	}
	m.ObserveSync("prod", "aws-eu", "aws", run(roster.SyncSucceeded, true, 2*time.Second))
	m.ObserveSync("prod", "aws-eu", "aws", run(roster.SyncSucceeded, true, 40*time.Second))
	m.ObserveSync("prod", "aws-eu", "aws", run(roster.SyncPartial, true, 300*time.Millisecond))
	m.ObserveSync("dev", "gcp-main", "gcp", run(roster.SyncFailed, true, 700*time.Second))
	m.ObserveSync("dev", "gcp-main", "gcp", run(roster.SyncCanceled, false, 0)) // canceled while queued
	m.ObserveSync("dev", "gcp-main", "gcp", run(roster.SyncRunning, true, time.Second))
	m.ObserveSync("dev", "gcp-main", "gcp", run(roster.SyncQueued, false, 0))
	m.ObserveSync("dev", "gcp-main", "gcp", nil)

	const want = `
# HELP roster_sync_runs_total Finished sync runs, by status (succeeded, partial, failed, canceled).
# TYPE roster_sync_runs_total counter
roster_sync_runs_total{inventory="dev",provider="gcp",source="gcp-main",status="canceled"} 1
roster_sync_runs_total{inventory="dev",provider="gcp",source="gcp-main",status="failed"} 1
roster_sync_runs_total{inventory="prod",provider="aws",source="aws-eu",status="partial"} 1
roster_sync_runs_total{inventory="prod",provider="aws",source="aws-eu",status="succeeded"} 2
# HELP roster_sync_duration_seconds Time from the start to the end of a finished sync run (runs canceled before they started are not observed).
# TYPE roster_sync_duration_seconds histogram
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="0.1"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="0.25"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="0.5"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="1"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="2.5"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="5"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="10"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="30"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="60"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="120"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="300"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="600"} 0
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="1800"} 1
roster_sync_duration_seconds_bucket{inventory="dev",provider="gcp",source="gcp-main",status="failed",le="+Inf"} 1
roster_sync_duration_seconds_sum{inventory="dev",provider="gcp",source="gcp-main",status="failed"} 700
roster_sync_duration_seconds_count{inventory="dev",provider="gcp",source="gcp-main",status="failed"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="0.1"} 0
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="0.25"} 0
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="0.5"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="1"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="2.5"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="5"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="10"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="30"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="60"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="120"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="300"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="600"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="1800"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="partial",le="+Inf"} 1
roster_sync_duration_seconds_sum{inventory="prod",provider="aws",source="aws-eu",status="partial"} 0.3
roster_sync_duration_seconds_count{inventory="prod",provider="aws",source="aws-eu",status="partial"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="0.1"} 0
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="0.25"} 0
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="0.5"} 0
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="1"} 0
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="2.5"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="5"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="10"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="30"} 1
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="60"} 2
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="120"} 2
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="300"} 2
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="600"} 2
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="1800"} 2
roster_sync_duration_seconds_bucket{inventory="prod",provider="aws",source="aws-eu",status="succeeded",le="+Inf"} 2
roster_sync_duration_seconds_sum{inventory="prod",provider="aws",source="aws-eu",status="succeeded"} 42
roster_sync_duration_seconds_count{inventory="prod",provider="aws",source="aws-eu",status="succeeded"} 2
`
	if err := testutil.ScrapeAndCompare(serve(t, m), strings.NewReader(want), "roster_sync_runs_total", "roster_sync_duration_seconds"); err != nil {
		t.Fatal(err)
	}
}

func TestObserveIssuanceKeepsLabelsBounded(t *testing.T) {
	m := metrics.New(metrics.Options{})
	m.ObserveIssuance("issue", "issued")
	m.ObserveIssuance("ssh_sign", "denied")
	m.ObserveIssuance("issue", "hunter2") // never a label value of its own
	m.ObserveIssuance("anything", "error")
	got := samples(scrape(t, serve(t, m)), "roster_broker_issuances_total")
	equalSamples(t, "roster_broker_issuances_total", got, map[string]string{
		`{kind="issue",result="denied"}`:    "0",
		`{kind="issue",result="error"}`:     "0",
		`{kind="issue",result="issued"}`:    "1",
		`{kind="issue",result="unknown"}`:   "1",
		`{kind="ssh_sign",result="denied"}`: "1",
		`{kind="ssh_sign",result="error"}`:  "0",
		`{kind="ssh_sign",result="issued"}`: "0",
		`{kind="unknown",result="error"}`:   "1",
	})
}

func TestRuntimeCollectors(t *testing.T) {
	text := scrape(t, serve(t, metrics.New(metrics.Options{})))
	for _, name := range []string{"go_goroutines", "go_memstats_heap_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
		if len(samples(text, name)) != 1 {
			t.Errorf("no %s in the scrape", name)
		}
	}
	// Without scrape-time functions there are no such series, nor errors.
	for _, name := range []string{"roster_inventory_hosts", "roster_sync_queue_jobs", "roster_metrics_collect_errors_total"} {
		if got := samples(text, name); len(got) != 0 {
			t.Errorf("%s without a function: %v", name, got)
		}
	}
}

// source is a scrape-time function whose answer the test changes.
type source[T any] struct {
	mu    sync.Mutex
	value T
	err   error
	block bool // ignore the context and hang until released
	panic bool
	calls int
	noCtx bool // the context had no deadline
	free  chan struct{}
}

func (s *source[T]) fn(ctx context.Context) (T, error) {
	s.mu.Lock()
	s.calls++
	if _, ok := ctx.Deadline(); !ok {
		s.noCtx = true
	}
	v, err, block, panics := s.value, s.err, s.block, s.panic
	s.mu.Unlock()
	if panics {
		panic("collector bug")
	}
	if block {
		<-s.free
	}
	return v, err
}

func (s *source[T]) set(f func(*source[T])) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s)
}

func TestScrapeTimeGauges(t *testing.T) {
	hosts := &source[[]metrics.InventoryHosts]{free: make(chan struct{})}
	queue := &source[[]metrics.QueueJobs]{free: make(chan struct{})}
	t.Cleanup(func() { close(hosts.free) })
	hosts.set(func(s *source[[]metrics.InventoryHosts]) {
		s.value = []metrics.InventoryHosts{{Inventory: "prod", Hosts: 1200, Enabled: 1150}, {Inventory: "dev", Hosts: 3, Enabled: 3}}
	})
	queue.set(func(s *source[[]metrics.QueueJobs]) {
		s.value = []metrics.QueueJobs{{State: "available", Jobs: 4}, {State: "running", Jobs: 2}}
	})
	m := metrics.New(metrics.Options{InventoryHosts: hosts.fn, QueueJobs: queue.fn, CollectTimeout: 300 * time.Millisecond})
	url := serve(t, m)
	check := func(text string, wantHosts, wantEnabled, wantQueue, wantErrors map[string]string) {
		t.Helper()
		equalSamples(t, "roster_inventory_hosts", samples(text, "roster_inventory_hosts"), wantHosts)
		equalSamples(t, "roster_inventory_hosts_enabled", samples(text, "roster_inventory_hosts_enabled"), wantEnabled)
		equalSamples(t, "roster_sync_queue_jobs", samples(text, "roster_sync_queue_jobs"), wantQueue)
		equalSamples(t, "roster_metrics_collect_errors_total", samples(text, "roster_metrics_collect_errors_total"), wantErrors)
	}
	queueSeries := map[string]string{`{state="available"}`: "4", `{state="running"}`: "2"}

	check(scrape(t, url),
		map[string]string{`{inventory="dev"}`: "3", `{inventory="prod"}`: "1200"},
		map[string]string{`{inventory="dev"}`: "3", `{inventory="prod"}`: "1150"},
		queueSeries,
		map[string]string{`{collector="inventory_hosts"}`: "0", `{collector="sync_queue"}`: "0"})

	// Read at every scrape: a change shows in the next one. A duplicate name
	// is reported once rather than failing the scrape.
	hosts.set(func(s *source[[]metrics.InventoryHosts]) {
		s.value = []metrics.InventoryHosts{{Inventory: "prod", Hosts: 1300, Enabled: 1299}, {Inventory: "prod", Hosts: 1, Enabled: 1}}
	})
	check(scrape(t, url),
		map[string]string{`{inventory="prod"}`: "1300"},
		map[string]string{`{inventory="prod"}`: "1299"},
		queueSeries,
		map[string]string{`{collector="inventory_hosts"}`: "0", `{collector="sync_queue"}`: "0"})

	// A failing read leaves out its series and is counted in the same
	// scrape; the rest is served.
	hosts.set(func(s *source[[]metrics.InventoryHosts]) { s.err = errors.New("database is locked") })
	check(scrape(t, url), nil, nil, queueSeries,
		map[string]string{`{collector="inventory_hosts"}`: "1", `{collector="sync_queue"}`: "0"})

	// A read that ignores its context cannot hold the scrape past the
	// timeout.
	hosts.set(func(s *source[[]metrics.InventoryHosts]) { s.err, s.block = nil, true })
	start := time.Now()
	text := scrape(t, url)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a hung read held the scrape for %s", d)
	}
	check(text, nil, nil, queueSeries,
		map[string]string{`{collector="inventory_hosts"}`: "2", `{collector="sync_queue"}`: "0"})

	// A read that panics does not take the process down.
	hosts.set(func(s *source[[]metrics.InventoryHosts]) { s.block, s.panic = false, true })
	queue.set(func(s *source[[]metrics.QueueJobs]) { s.err = context.DeadlineExceeded })
	check(scrape(t, url), nil, nil, nil,
		map[string]string{`{collector="inventory_hosts"}`: "3", `{collector="sync_queue"}`: "1"})

	hosts.set(func(s *source[[]metrics.InventoryHosts]) {
		s.panic = false
		s.value = []metrics.InventoryHosts{{Inventory: "prod", Hosts: 0, Enabled: 0}}
	})
	queue.set(func(s *source[[]metrics.QueueJobs]) { s.err = nil })
	check(scrape(t, url),
		map[string]string{`{inventory="prod"}`: "0"},
		map[string]string{`{inventory="prod"}`: "0"},
		queueSeries,
		map[string]string{`{collector="inventory_hosts"}`: "3", `{collector="sync_queue"}`: "1"})

	hosts.set(func(s *source[[]metrics.InventoryHosts]) {
		if s.calls != 6 || s.noCtx {
			t.Errorf("inventory hosts read %d times (want once per scrape, 6), without a deadline: %v", s.calls, s.noCtx)
		}
	})
}

// Middleware with no router takes the route from r.Pattern, set by the
// ServeMux it wraps.
func TestMiddlewareOverServeMux(t *testing.T) {
	m := metrics.New(metrics.Options{})
	mux := http.NewServeMux()
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "item") })
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	srv := httptest.NewServer(m.Middleware(nil, mux))
	t.Cleanup(srv.Close)
	for _, req := range []struct{ method, path string }{
		{"GET", "/items/1"}, {"GET", "/items/2?token=s3cr3t"}, {"HEAD", "/items/3"}, {"POST", "/items"},
		{"GET", "/nothing/here"}, {"DELETE", "/items/1"}, {"BREW", "/items/1"},
	} {
		r, err := http.NewRequestWithContext(t.Context(), req.method, srv.URL+req.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	text := scrape(t, serve(t, m))
	equalSamples(t, "roster_http_request_duration_seconds_count", samples(text, "roster_http_request_duration_seconds_count"), map[string]string{
		`{code="200",method="get",route="GET /items/{id}"}`:  "2",
		`{code="200",method="head",route="GET /items/{id}"}`: "1",
		`{code="201",method="post",route="POST /items"}`:     "1",
		`{code="404",method="get",route="unmatched"}`:        "1",
		`{code="405",method="delete",route="unmatched"}`:     "1",
		`{code="405",method="unknown",route="unmatched"}`:    "1",
	})
	for _, leak := range []string{"s3cr3t", "/items/1", "/nothing", "BREW", "brew"} {
		if strings.Contains(text, leak) {
			t.Errorf("the scrape contains %q", leak)
		}
	}
}
