package promsd_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/promsd"
	"github.com/rosterhq/roster/internal/testenv"
)

// wantTarget is a target as Prometheus should list it: the __meta_roster_
// labels (and __address__) among its discovered labels, and its labels after
// relabeling.
type wantTarget struct {
	meta   map[string]string
	labels map[string]string
}

// TestPrometheusDiscoversInventory serves Render's output to a real
// Prometheus server through http_sd_configs and checks the targets it lists,
// before and after the inventory changes.
func TestPrometheusDiscoversInventory(t *testing.T) {
	var (
		mu       sync.Mutex
		hosts    = fixtureHosts()
		requests atomic.Int64
	)
	mapping := promsd.Mapping{Port: 9100, PortVar: "exporter_port", Labels: map[string]string{"region": "placement.region", "env": "tags.Environment"}}
	sd := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		mu.Lock()
		defer mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if _, err := promsd.Render(w, mapping, meta, hostsOf(hosts...)); err != nil {
			t.Errorf("render: %v", err)
		}
	}))
	t.Cleanup(sd.Close)

	// Nothing listens at the targets: Prometheus lists them whether or not
	// a scrape succeeds, and the long interval keeps it from trying often.
	prom := testenv.Prometheus(t, fmt.Sprintf(`
global:
  scrape_interval: 1h
  scrape_timeout: 1s
scrape_configs:
  - job_name: roster
    http_sd_configs:
      - url: %s/sd
        refresh_interval: 1s
`, sd.URL))

	target := func(host, source, addr, groups string, labels map[string]string) wantTarget {
		l := map[string]string{"job": "roster", "instance": addr}
		maps.Copy(l, labels)
		return wantTarget{
			meta: map[string]string{
				"__address__":             addr,
				"__meta_roster_inventory": "prod",
				"__meta_roster_host":      host,
				"__meta_roster_source":    source,
				"__meta_roster_groups":    groups,
				"__meta_roster_enabled":   "true",
			},
			labels: l,
		}
	}
	want := map[string]wantTarget{
		"10.0.0.1:9101":  target("web1", "aws-eu", "10.0.0.1:9101", ",eu,web,", map[string]string{"region": "eu-west-1", "env": "prod"}),
		"10.0.0.2:9102":  target("db1", "aws-eu", "10.0.0.2:9102", ",db,", map[string]string{"region": "eu-west-2", "env": "prod"}),
		"192.0.2.7:9100": target("manual", "", "192.0.2.7:9100", "", nil),
	}
	waitForTargets(t, prom, want)
	if requests.Load() == 0 {
		t.Fatal("Prometheus listed targets without asking the SD endpoint")
	}

	// The inventory changes: db1 is disabled, web1 moves to staging and
	// gets a new exporter port, the pending host gets an address.
	mu.Lock()
	for _, h := range hosts {
		switch h.Name {
		case "db1":
			h.Enabled = false
		case "web1":
			h.Vars = json.RawMessage(`{"placement":{"region":"eu-west-1"},"tags":{"Environment":"staging"},"exporter_port":9200}`)
		case "pending":
			h.Address = "10.0.0.9"
		}
	}
	mu.Unlock()
	delete(want, "10.0.0.1:9101")
	delete(want, "10.0.0.2:9102")
	want["10.0.0.1:9200"] = target("web1", "aws-eu", "10.0.0.1:9200", ",eu,web,", map[string]string{"region": "eu-west-1", "env": "staging"})
	want["10.0.0.9:9100"] = target("pending", "aws-eu", "10.0.0.9:9100", ",web,", nil)
	waitForTargets(t, prom, want)
}

// waitForTargets polls Prometheus until its active targets are exactly want
// (keyed by address), or fails after a deadline with the last difference.
func waitForTargets(t *testing.T, prom *testenv.PrometheusServer, want map[string]wantTarget) {
	t.Helper()
	// Discovery updates reach the scrape manager at most every 5s.
	deadline := time.Now().Add(60 * time.Second)
	var last string
	for {
		targets, err := prom.ActiveTargets(t.Context())
		if err != nil {
			last = err.Error()
		} else if last = diffTargets(targets, want); last == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Prometheus did not list the expected targets within the deadline: %s", last)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func diffTargets(targets []testenv.PrometheusTarget, want map[string]wantTarget) string {
	got := map[string]testenv.PrometheusTarget{}
	for _, tg := range targets {
		got[tg.DiscoveredLabels["__address__"]] = tg
	}
	if g, w := slices.Sorted(maps.Keys(got)), slices.Sorted(maps.Keys(want)); !slices.Equal(g, w) {
		return fmt.Sprintf("targets %v, want %v", g, w)
	}
	var diffs []string
	for addr, w := range want {
		g := got[addr]
		if g.ScrapePool != "roster" {
			diffs = append(diffs, fmt.Sprintf("%s: scrape pool %q", addr, g.ScrapePool))
		}
		// An empty label value is no label to Prometheus, whether or not
		// its API lists it.
		meta := map[string]string{}
		for k, v := range g.DiscoveredLabels {
			if (strings.HasPrefix(k, "__meta_roster_") || k == "__address__") && v != "" {
				meta[k] = v
			}
		}
		wantMeta := maps.Clone(w.meta)
		maps.DeleteFunc(wantMeta, func(_, v string) bool { return v == "" })
		if !maps.Equal(meta, wantMeta) {
			diffs = append(diffs, fmt.Sprintf("%s: discovered %v, want %v", addr, meta, w.meta))
		}
		if !maps.Equal(g.Labels, w.labels) {
			diffs = append(diffs, fmt.Sprintf("%s: labels %v, want %v", addr, g.Labels, w.labels))
		}
	}
	slices.Sort(diffs)
	return strings.Join(diffs, "; ")
}
