package testenv_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testenv"
)

func TestPrometheus(t *testing.T) {
	prom := testenv.Prometheus(t, `
global:
  scrape_interval: 1h
scrape_configs:
  - job_name: static
    static_configs:
      - targets: ["192.0.2.1:9100"]
        labels: {team: "infra"}
`)
	if !strings.HasPrefix(prom.URL, "http://127.0.0.1:") {
		t.Fatalf("URL %q is not on 127.0.0.1", prom.URL)
	}
	// Static targets reach the scrape manager through discovery too: poll.
	deadline := time.Now().Add(30 * time.Second)
	for {
		targets, err := prom.ActiveTargets(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if len(targets) == 1 {
			tg := targets[0]
			if tg.ScrapePool != "static" || tg.Labels["instance"] != "192.0.2.1:9100" || tg.Labels["team"] != "infra" || tg.DiscoveredLabels["__address__"] != "192.0.2.1:9100" {
				t.Fatalf("target %+v", tg)
			}
			return
		}
		if len(targets) > 1 || time.Now().After(deadline) {
			t.Fatalf("active targets %+v, want the one static target", targets)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
