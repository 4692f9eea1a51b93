package api_test

import (
	"context"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/forward/forwardtest"
)

// testSinks is the event sink service of a test's server; its forwarder
// stops with the test.
func testSinks(tb testing.TB, st roster.EventSinkStore, backend roster.SecretBackend, log *slog.Logger) *forward.Service {
	fw := forward.New("test-node", log.With("component", "forward"), nil, forward.Options{})
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		fw.Close(ctx)
	})
	// The store tells the forwarder of its audit records, as in roster serve.
	if hooked, ok := st.(interface {
		OnAudit(func(*roster.AuditEvent))
	}); ok {
		hooked.OnAudit(fw.Audit)
	}
	return forward.NewService(st, backend, fw, log.With("component", "forward"))
}

// TestEventSinksAPI: create, read, change, test and delete a sink through
// the API; secrets are written and never read back; bad input is a 400
// naming the field, and changes nothing.
func TestEventSinksAPI(t *testing.T) {
	f := newFixture(t)
	rcv := forwardtest.HEC(t, "CANARY-api-token")
	r := f.do("POST", "/api/v1/event-sinks", f.admin, map[string]any{"name": "splunk", "type": "hec", "url": rcv.URL,
		"streams": []string{"audit", "sync"}, "token": "CANARY-api-token", "queue_size": 500})
	wantStatus(t, r, http.StatusCreated)
	if strings.Contains(string(r.body), "CANARY") {
		t.Fatalf("the answer shows the token: %s", r.body)
	}
	var sink api.EventSink
	r.json(t, &sink)
	if !sink.HasSecret || sink.QueueSize != 500 || sink.LogLevel != api.LogLevelWarn || !sink.Enabled ||
		sink.Target != "http://"+strings.TrimPrefix(rcv.URL, "http://")+"/…" {
		t.Fatalf("created: %+v", sink)
	}

	// The test event goes at once; so does what the API audits (the
	// sink's own creation and test are audit records).
	var res api.EventSinkTestResult
	f.do("POST", "/api/v1/event-sinks/splunk/test", f.admin, nil).json(t, &res)
	if !res.Delivered || res.Error != nil {
		t.Fatalf("test: %+v", res)
	}
	events := rcv.WaitEvents(t, 2, 10*time.Second)
	types := map[any]bool{}
	for _, e := range events {
		types[e["event"].(map[string]any)["type"]] = true
	}
	if !types["test"] || !types["audit"] {
		t.Fatalf("received %v", events)
	}
	var st api.EventSinkStatus
	f.do("GET", "/api/v1/event-sinks/splunk/status", f.admin, nil).json(t, &st)
	if !st.Running || st.QueueSize != 500 || st.Node != "test-node" {
		t.Fatalf("status: %+v", st)
	}

	for _, tc := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"url": "https://u:p@splunk.example/x"}, "url"},
		{map[string]any{"url": "http://splunk.example/x"}, "url"},
		{map[string]any{"queue_size": 0}, "queue_size"},
		{map[string]any{"streams": []string{"everything"}}, "streams[0]"},
		{map[string]any{"token": ""}, "token"},
		{map[string]any{"address": "127.0.0.1:514"}, "address"},
		{map[string]any{"type": "syslog"}, "type"},
	} {
		r := f.do("PATCH", "/api/v1/event-sinks/splunk", f.admin, tc.body)
		if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"`+tc.field+`"`) {
			t.Errorf("PATCH %v: %d %s, want 400 naming %q", tc.body, r.status, r.body, tc.field)
		}
	}
	r = f.do("POST", "/api/v1/event-sinks", f.admin, map[string]any{"name": "sys", "type": "syslog", "address": "logs.example:514",
		"streams": []string{"audit"}})
	if r.status != http.StatusBadRequest || !strings.Contains(string(r.body), `"transport"`) {
		t.Errorf("plain tcp syslog to a remote host: %d %s, want 400 naming transport", r.status, r.body)
	}
	var after api.EventSink
	f.do("GET", "/api/v1/event-sinks/splunk", f.admin, nil).json(t, &after)
	if !after.UpdatedAt.Equal(sink.UpdatedAt) || after.Url == nil || *after.Url != rcv.URL {
		t.Fatalf("a refused change changed the sink: %+v", after)
	}

	wantStatus(t, f.do("PATCH", "/api/v1/event-sinks/splunk", f.admin, map[string]any{"enabled": false}), http.StatusOK)
	f.do("GET", "/api/v1/event-sinks/splunk/status", f.admin, nil).json(t, &st)
	if st.Running {
		t.Fatalf("a disabled sink runs: %+v", st)
	}
	wantStatus(t, f.do("DELETE", "/api/v1/event-sinks/splunk", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/event-sinks/splunk", f.admin, nil), http.StatusNotFound)
	if strings.Contains(f.logs.String(), "CANARY") {
		t.Fatal("the server log shows the token")
	}
}
