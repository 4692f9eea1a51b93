package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// InventoryHosts is the size of one inventory, read from the store at
// scrape time.
type InventoryHosts struct {
	Inventory string // the inventory's name, unique among those returned
	Hosts     int    // every host
	Enabled   int    // the enabled ones
}

// QueueJobs is the number of sync jobs in one state of the job queue, read
// at scrape time.
type QueueJobs struct {
	State string // the queue's own state name ("available", "running", ...): a small fixed set
	Jobs  int
}

// Names of the scrape-time collectors, the values of
// roster_metrics_collect_errors_total's label.
const (
	collectorInventoryHosts = "inventory_hosts"
	collectorSyncQueue      = "sync_queue"
)

// scrapeCollector reads the gauges that live in the shared database when
// Prometheus scrapes, so that every node of a cluster reports the same
// numbers. Each read is bounded by a timeout; one that fails or times out
// is counted and logged, and its series are left out of the scrape.
type scrapeCollector struct {
	inventoryHosts func(context.Context) ([]InventoryHosts, error)
	queueJobs      func(context.Context) ([]QueueJobs, error)
	timeout        time.Duration
	log            *slog.Logger

	hosts   *prometheus.Desc
	enabled *prometheus.Desc
	queue   *prometheus.Desc
	errors  *prometheus.CounterVec
}

func newScrapeCollector(opts Options, log *slog.Logger) *scrapeCollector {
	c := &scrapeCollector{
		inventoryHosts: opts.InventoryHosts,
		queueJobs:      opts.QueueJobs,
		timeout:        opts.CollectTimeout,
		log:            log,
		hosts: prometheus.NewDesc("roster_inventory_hosts",
			"Hosts of an inventory, read from the store at scrape time.", []string{"inventory"}, nil),
		enabled: prometheus.NewDesc("roster_inventory_hosts_enabled",
			"Enabled hosts of an inventory, read from the store at scrape time.", []string{"inventory"}, nil),
		queue: prometheus.NewDesc("roster_sync_queue_jobs",
			"Sync jobs in the job queue by state, read at scrape time.", []string{"state"}, nil),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roster_metrics_collect_errors_total",
			Help: "Scrape-time reads that failed or timed out, by collector; their series are missing from that scrape.",
		}, []string{"collector"}),
	}
	if c.inventoryHosts != nil {
		c.errors.WithLabelValues(collectorInventoryHosts)
	}
	if c.queueJobs != nil {
		c.errors.WithLabelValues(collectorSyncQueue)
	}
	return c
}

func (c *scrapeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.hosts
	ch <- c.enabled
	ch <- c.queue
	c.errors.Describe(ch)
}

func (c *scrapeCollector) Collect(ch chan<- prometheus.Metric) {
	var wg sync.WaitGroup
	if c.inventoryHosts != nil {
		wg.Go(func() {
			invs, err := bounded(c.timeout, c.inventoryHosts)
			if err != nil {
				c.failed(collectorInventoryHosts, err)
				return
			}
			seen := make(map[string]bool, len(invs))
			for _, inv := range invs {
				if seen[inv.Inventory] {
					continue // a second series of one name would fail the scrape
				}
				seen[inv.Inventory] = true
				ch <- prometheus.MustNewConstMetric(c.hosts, prometheus.GaugeValue, float64(inv.Hosts), inv.Inventory)
				ch <- prometheus.MustNewConstMetric(c.enabled, prometheus.GaugeValue, float64(inv.Enabled), inv.Inventory)
			}
		})
	}
	if c.queueJobs != nil {
		wg.Go(func() {
			states, err := bounded(c.timeout, c.queueJobs)
			if err != nil {
				c.failed(collectorSyncQueue, err)
				return
			}
			seen := make(map[string]bool, len(states))
			for _, s := range states {
				if seen[s.State] {
					continue
				}
				seen[s.State] = true
				ch <- prometheus.MustNewConstMetric(c.queue, prometheus.GaugeValue, float64(s.Jobs), s.State)
			}
		})
	}
	wg.Wait()
	// After the reads, so that this scrape already counts their errors.
	c.errors.Collect(ch)
}

func (c *scrapeCollector) failed(collector string, err error) {
	c.errors.WithLabelValues(collector).Inc()
	c.log.Warn("collecting metrics failed", "collector", collector, "err", err)
}

// bounded calls fn with a context that ends after timeout, and returns when
// fn does or when the timeout passes, whichever comes first: a read that
// ignores its context cannot hold a scrape. A panic in fn is an error.
func bounded[T any](timeout time.Duration, fn func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	type result struct {
		v   T
		err error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{err: fmt.Errorf("panic: %v", p)}
			}
		}()
		v, err := fn(ctx)
		done <- result{v, err}
	}()
	select {
	case r := <-done:
		return r.v, r.err
	case <-ctx.Done():
		var zero T
		return zero, fmt.Errorf("no answer within %s", timeout)
	}
}
