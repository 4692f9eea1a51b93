package main

import (
	"bytes"
	"io"
	"log/slog"
	"math"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/forward/forwardtest"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// lockedBuffer is a log written by the server and read by the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// serveForwarding runs Roster in this process with forwarding intervals
// short enough for a test, its log captured, an admin token, a password
// credential granted to it on inventory "prod", and a client.
func serveForwarding(t *testing.T) (*Main, *client.Client, *lockedBuffer) {
	t.Helper()
	c := defaultConfig()
	c.Listen = "127.0.0.1:0"
	c.DataDir = t.TempDir()
	c.Database = filepath.Join(c.DataDir, "roster.db")
	logs := &lockedBuffer{}
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		ForwardOptions: forward.Options{DropLogEvery: time.Second, FlushInterval: 50 * time.Millisecond, BackoffBase: 100 * time.Millisecond,
			MaxBackoff: time.Second, SendTimeout: 2 * time.Second}}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	value, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(t.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash); err != nil {
		t.Fatal(err)
	}
	api := client.New(m.URL, value)
	for _, step := range []struct {
		path string
		body any
	}{
		{"/inventories", map[string]any{"name": "prod"}},
		{"/credentials", map[string]any{"name": "db", "type": "password", "fields": map[string]string{"username": "app", "password": "CANARY-db-password"}}},
		{"/grants", map[string]string{"token": "admin", "credential": "db", "inventory": "prod"}},
	} {
		if status := call(t, api, "POST", step.path, step.body, nil); status != http.StatusCreated {
			t.Fatalf("POST %s: %d", step.path, status)
		}
	}
	return m, api, logs
}

// issueLoad issues the credential n times from 8 goroutines (each issue
// is one audit record, forwarded) and returns the latencies, sorted.
func issueLoad(t *testing.T, api *client.Client, n int) []time.Duration {
	t.Helper()
	var mu sync.Mutex
	var lat []time.Duration
	var failed int
	var wg sync.WaitGroup
	next := make(chan struct{}, n)
	for range n {
		next <- struct{}{}
	}
	close(next)
	for range 8 {
		wg.Go(func() {
			for range next {
				start := time.Now()
				status, err := api.Call(t.Context(), "POST", "/credentials/db/issue", map[string]any{"inventory": "prod"}, nil)
				d := time.Since(start)
				mu.Lock()
				lat = append(lat, d)
				if err != nil || status != http.StatusOK {
					failed++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if failed > 0 {
		t.Fatalf("%d of %d issues failed", failed, n)
	}
	slices.Sort(lat)
	return lat
}

func quantile(sorted []time.Duration, q float64) time.Duration {
	return sorted[min(len(sorted)-1, int(math.Ceil(q*float64(len(sorted))))-1)]
}

// metric reads one sample of the server's /metrics.
func metric(t *testing.T, url, name string, labels ...string) float64 {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	sel := name + "{" + strings.Join(labels, ",") + "}"
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, sel+" "); ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", sel)
	return 0
}

// TestForwardingNeverSlowsTheAPI is issue 20's check: with a syslog sink
// (a real rsyslogd) and a HEC sink, the API's latency while both are down
// (rsyslogd stopped, the HEC endpoint accepting and never answering) is
// the latency while both are up, within noise; the drops are counted in
// /metrics and logged once per interval; and after the sinks come back,
// events flow again.
func TestForwardingNeverSlowsTheAPI(t *testing.T) {
	syslog := testenv.Syslog(t)
	hec := forwardtest.HEC(t, "CANARY-hec-token")
	m, api, logs := serveForwarding(t)
	const queue = 300
	for _, s := range []map[string]any{
		{"name": "sys", "type": "syslog", "address": syslog.TCPAddr, "streams": []string{"audit", "sync"}, "queue_size": queue},
		{"name": "splunk", "type": "hec", "url": hec.URL, "token": "CANARY-hec-token", "streams": []string{"audit", "sync"}, "queue_size": queue},
	} {
		if status := call(t, api, "POST", "/event-sinks", s, nil); status != http.StatusCreated {
			t.Fatalf("create sink %s: %d", s["name"], status)
		}
	}
	const n = 800
	issueLoad(t, api, 50) // warm up
	up := issueLoad(t, api, n)
	syslog.WaitLine(t, `action="credential.issue"`, 10*time.Second)
	hec.WaitEvents(t, n, 20*time.Second)

	syslog.Stop()
	hec.SetMode(forwardtest.Hang)
	downStart := time.Now()
	down := issueLoad(t, api, n)
	p50A, p99A, p50B, p99B := quantile(up, .5), quantile(up, .99), quantile(down, .5), quantile(down, .99)
	t.Logf("latency with sinks up: p50 %v p99 %v; down: p50 %v p99 %v (%d calls each, 8 at a time)", p50A, p99A, p50B, p99B, n)
	// A Publish that waited for a sink would cost a call a send's
	// timeout (2s here) or more; the margin is for the noise of a shared
	// machine between two phases of one run.
	if limit := p99A*2 + 10*time.Millisecond; p99B > limit {
		t.Errorf("p99 with the sinks down %v, over 2 × p99 with them up + 10ms = %v", p99B, limit)
	}
	if limit := p50A*3/2 + 5*time.Millisecond; p50B > limit {
		t.Errorf("p50 with the sinks down %v, over 1.5 × p50 with them up + 5ms = %v", p50B, limit)
	}
	for _, sink := range []string{"sys", "splunk"} {
		if v := metric(t, m.URL, "roster_forward_dropped_total", `reason="queue_full"`, `sink="`+sink+`"`); v <= 0 {
			t.Errorf("sink %s: roster_forward_dropped_total{reason=queue_full} = %v, want > 0", sink, v)
		}
		if v := metric(t, m.URL, "roster_forward_queue_length", `sink="`+sink+`"`); v < queue-1 {
			t.Errorf("sink %s: queue length %v, want it full (%d)", sink, v, queue)
		}
	}
	// Both sinks fail (the HEC send waits out its 2s timeout), and their
	// drops are logged once per interval (1s here) at most.
	for _, sink := range []string{"sys", "splunk"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			var st client.EventSinkStatus
			call(t, api, "GET", "/event-sinks/"+sink+"/status", nil, &st)
			if st.Failing {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sink %s does not say it fails: %+v", sink, st)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	time.Sleep(1100 * time.Millisecond)
	dropsFor := time.Since(downStart)
	for _, sink := range []string{"sys", "splunk"} {
		lines := regexp.MustCompile(`msg="event sink dropped events" component=forward sink=`+sink+` `).FindAllString(logs.String(), -1)
		if max := int(math.Ceil(dropsFor.Seconds())) + 1; len(lines) == 0 || len(lines) > max {
			t.Errorf("sink %s: %d drop log lines in %v since the drops began, want 1 to %d", sink, len(lines), dropsFor, max)
		}
	}

	if err := syslog.Start(); err != nil {
		t.Fatal(err)
	}
	hec.SetMode(forwardtest.Accept)
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(logs.String(), `msg="event sink recovered" component=forward sink=sys`) ||
		!strings.Contains(logs.String(), `msg="event sink recovered" component=forward sink=splunk`) {
		if time.Now().After(deadline) {
			t.Fatalf("the sinks did not recover:\n%s", lastBytes(logs.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	before := len(hec.Events())
	waitQueuesEmpty(t, m.URL, "sys", "splunk")
	if status := call(t, api, "PATCH", "/inventories/prod", map[string]any{"description": "after the outage"}, nil); status != http.StatusOK {
		t.Fatalf("PATCH: %d", status)
	}
	syslog.WaitLine(t, `action="inventory.update"`, 10*time.Second)
	hec.WaitEvents(t, before+1, 10*time.Second)

	for _, out := range append(syslog.Lines(t), append(hec.Bodies(), logs.String())...) {
		if strings.Contains(out, "CANARY") {
			t.Fatalf("a secret left: %.300s", out)
		}
	}
}

// withoutLines is s without the lines containing substr.
func withoutLines(s, substr string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(slices.DeleteFunc(lines, func(l string) bool { return strings.Contains(l, substr) }), "\n")
}

func lastBytes(s string, n int) string { return s[max(0, len(s)-n):] }

func waitQueuesEmpty(t *testing.T, url string, sinks ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for _, s := range sinks {
		for metric(t, url, "roster_forward_queue_length", `sink="`+s+`"`) > 0 {
			if time.Now().After(deadline) {
				t.Fatalf("sink %s's queue did not empty", s)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
}

// TestForwardingLeaksNoSecret: canary secrets everywhere a secret goes
// (a credential's password, issued; a webhook's URL; a HEC token; an
// HTTP sink's bearer token; a log line's token attribute) appear in no
// sink's output and in no server log line.
func TestForwardingLeaksNoSecret(t *testing.T) {
	syslog := testenv.Syslog(t)
	hec := forwardtest.HEC(t, "CANARY-hec-token")
	ndjson := forwardtest.JSON(t, "ndjson", "Bearer CANARY-bearer")
	m, api, logs := serveForwarding(t)
	for _, s := range []map[string]any{
		{"name": "sys", "type": "syslog", "address": syslog.UDPAddr, "transport": "udp", "streams": []string{"audit", "sync", "log"}, "log_level": "debug"},
		{"name": "splunk", "type": "hec", "url": hec.URL, "token": "CANARY-hec-token", "streams": []string{"audit", "sync", "log"}, "log_level": "debug"},
		{"name": "ls", "type": "http_json", "url": ndjson.URL, "bearer_token": "CANARY-bearer", "streams": []string{"audit", "log"}, "log_level": "debug"},
	} {
		if status := call(t, api, "POST", "/event-sinks", s, nil); status != http.StatusCreated {
			t.Fatalf("create sink %s: %d", s["name"], status)
		}
	}
	var issued struct {
		Fields map[string]string `json:"fields"`
	}
	if status := call(t, api, "POST", "/credentials/db/issue", map[string]any{"inventory": "prod"}, &issued); status != http.StatusOK ||
		issued.Fields["password"] != "CANARY-db-password" {
		t.Fatalf("issue: %d %v", status, issued.Fields)
	}
	if status := call(t, api, "POST", "/webhooks", map[string]any{"name": "hook", "inventory": "prod", "events": []string{"sync.failed"},
		"url": "http://127.0.0.1:9/CANARY-hook-path"}, nil); status != http.StatusCreated {
		t.Fatalf("webhook: %d", status)
	}
	// A finished run reaches the sinks through the syncer's OnFinish.
	sim := awssim.New(awssim.Options{Seed: 7, Size: 10, Regions: []string{"us-east-1"}})
	simURL, stopSim, err := sim.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopSim)
	t.Setenv("AWS_ACCESS_KEY_ID", simAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", simSecretKey)
	var src struct{ ID string }
	if status := call(t, api, "POST", "/inventories/prod/sources", map[string]any{"name": "ec2", "provider": "aws",
		"config": map[string]any{"regions": []string{"us-east-1"}, "endpoint_url": simURL}}, &src); status != http.StatusCreated {
		t.Fatalf("create source: %d", status)
	}
	syncAndWait(t, api, src.ID)
	m.Log.Warn("a log line with a secret attribute", "api_token", "CANARY-log-token", "component", "test")
	for _, name := range []string{"sys", "splunk", "ls"} {
		var res client.EventSinkTestResult
		if status := call(t, api, "POST", "/event-sinks/"+name+"/test", nil, &res); status != http.StatusOK || !res.Delivered {
			t.Fatalf("test %s: %d %+v", name, status, res)
		}
	}
	syslog.WaitLine(t, `action="webhook.create"`, 10*time.Second)
	syslog.WaitLine(t, `run_id="`, 10*time.Second)
	syslog.WaitLine(t, `msg":"a log line with a secret attribute"`, 10*time.Second)
	waitFor := func(r *forwardtest.Receiver, substr string) {
		deadline := time.Now().Add(10 * time.Second)
		for !strings.Contains(strings.Join(r.Bodies(), "\n"), substr) {
			if time.Now().After(deadline) {
				t.Fatalf("%s never arrived", substr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor(hec, `"sourcetype":"roster:sync.run"`)
	for _, r := range []*forwardtest.Receiver{hec, ndjson} {
		waitFor(r, `"action":"credential.issue"`)
		waitFor(r, `"action":"webhook.create"`)
		waitFor(r, `"msg":"a log line with a secret attribute"`)
	}
	outputs := map[string]string{"syslog": strings.Join(syslog.Lines(t), "\n"), "hec": strings.Join(hec.Bodies(), "\n"),
		"http_json": strings.Join(ndjson.Bodies(), "\n"), "server log": withoutLines(logs.String(), "a log line with a secret attribute")}
	for where, out := range outputs {
		if i := strings.Index(out, "CANARY"); i >= 0 {
			t.Errorf("a secret reached the %s: …%s…", where, out[max(0, i-200):min(len(out), i+100)])
		}
	}
	if strings.Contains(outputs["http_json"], `"type":"sync.run"`) {
		t.Errorf("a sink without the sync stream got a run")
	}
	if !strings.Contains(outputs["hec"], `"api_token":"[redacted]"`) {
		t.Errorf("the log record's secret attribute was not redacted but dropped or absent: %s", lastBytes(outputs["hec"], 2000))
	}
}
