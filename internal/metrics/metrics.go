// Package metrics is Roster's Prometheus instrumentation: API latency by
// route, sync runs, credential issuances, and the gauges that are read from
// the shared database at scrape time (hosts per inventory, sync queue depth),
// so that every node of a cluster reports the same truth.
//
// Everything lives on a registry of its own, never the global default. No
// label carries a secret, a token, a host var or a raw request path: the
// values are route patterns, HTTP methods and codes, and the names of
// inventories and sources, which operators create and which are few.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// DefaultCollectTimeout bounds each scrape-time read when
// Options.CollectTimeout is zero.
const DefaultCollectTimeout = 5 * time.Second

// Options configures the metrics.
type Options struct {
	// InventoryHosts, when set, is called at every scrape for
	// roster_inventory_hosts and roster_inventory_hosts_enabled.
	InventoryHosts func(ctx context.Context) ([]InventoryHosts, error)
	// QueueJobs, when set, is called at every scrape for
	// roster_sync_queue_jobs.
	QueueJobs func(ctx context.Context) ([]QueueJobs, error)
	// CollectTimeout bounds each of those calls (0: DefaultCollectTimeout).
	// A call that has not returned by then counts as a collect error and
	// its series are left out of that scrape.
	CollectTimeout time.Duration
	// Log receives collect and exposition errors (nil: discarded).
	Log *slog.Logger
}

// Metrics holds Roster's metrics and the registry they are exposed from.
type Metrics struct {
	reg          *prometheus.Registry
	handler      http.Handler
	httpDuration *prometheus.HistogramVec
	syncDuration *prometheus.HistogramVec
	syncRuns     *prometheus.CounterVec
	issuances    *prometheus.CounterVec
}

// Buckets of roster_sync_duration_seconds: a small source syncs in well
// under a second, 100,000 hosts across dozens of scopes in seconds, a
// throttled cloud in minutes.
var syncBuckets = []float64{0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800}

// New returns the metrics on a registry of their own, with the Go runtime
// and process collectors.
func New(opts Options) *Metrics {
	log := opts.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if opts.CollectTimeout <= 0 {
		opts.CollectTimeout = DefaultCollectTimeout
	}
	m := &Metrics{
		reg: prometheus.NewRegistry(),
		httpDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roster_http_request_duration_seconds",
			Help:    "Time to serve an API request, by route pattern (\"unmatched\" for requests no route matches), method and status code.",
			Buckets: prometheus.DefBuckets,
		}, []string{"route", "method", "code"}),
		syncDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "roster_sync_duration_seconds",
			Help:    "Time from the start to the end of a finished sync run (runs canceled before they started are not observed).",
			Buckets: syncBuckets,
		}, []string{"inventory", "source", "provider", "status"}),
		syncRuns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_sync_runs_total",
			Help: "Finished sync runs, by status (succeeded, partial, failed, canceled).",
		}, []string{"inventory", "source", "provider", "status"}),
		issuances: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_broker_issuances_total",
			Help: "Credential issuances (kind=issue) and SSH key signings (kind=ssh_sign), by result: issued, denied (refused to the caller) or error (Roster or its secret backend failed).",
		}, []string{"kind", "result"}),
	}
	for _, kind := range issuanceKinds {
		for _, result := range issuanceResults {
			m.issuances.WithLabelValues(kind, result) // every series from the start, at 0
		}
	}
	m.reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		m.httpDuration, m.syncDuration, m.syncRuns, m.issuances,
		newScrapeCollector(opts, log),
	)
	m.handler = promhttp.InstrumentMetricHandler(m.reg, promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		ErrorLog: errorLog{log},
		// A collector that fails leaves out its series; the rest of the
		// scrape is still served.
		ErrorHandling:       promhttp.ContinueOnError,
		Registry:            m.reg,
		MaxRequestsInFlight: 8,
	}))
	return m
}

// Handler serves the exposition of the registry (text or protobuf, as the
// scraper negotiates).
func (m *Metrics) Handler() http.Handler { return m.handler }

// Registry returns the registry, for collectors of other parts of Roster.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// errorLog adapts slog to promhttp's logger.
type errorLog struct{ log *slog.Logger }

func (l errorLog) Println(v ...any) {
	l.log.Error("serving metrics failed", "err", fmt.Sprint(v...))
}
