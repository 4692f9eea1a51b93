package forward_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/forward/forwardtest"
)

func publishAudits(fw *forward.Forwarder, n int) {
	for range n {
		fw.Audit(auditRecord("credential.issue"))
	}
}

// TestHECBatches: 250 events go in batches of at most 100 envelopes, each
// request with the token, every envelope with its sourcetype, host and the
// event.
func TestHECBatches(t *testing.T) {
	rcv := forwardtest.HEC(t, "CANARY-hec-token")
	s := sink("splunk", roster.SinkHEC, roster.EventSinkConfig{URL: rcv.URL, Index: "main"}, roster.StreamAudit, roster.StreamSync)
	s.Secrets = roster.SecretFields{roster.SinkSecretToken: "CANARY-hec-token"}
	opts := fast
	opts.FlushInterval = 500 * time.Millisecond // the 250 events are queued before the first batch leaves
	fw, logs := startForwarder(t, opts, s)
	publishAudits(fw, 249)
	fw.SyncFinished(t.Context(), finishedRun())
	events := rcv.WaitEvents(t, 250, 10*time.Second)
	if n := rcv.Requests(); n != 3 {
		t.Errorf("250 events came in %d requests, want 3 (batches of 100)", n)
	}
	first := events[0]
	if first["sourcetype"] != "roster:audit" || first["source"] != "roster" || first["host"] != "node-1" || first["index"] != "main" {
		t.Errorf("envelope: %v", first)
	}
	if ev, ok := first["event"].(map[string]any); !ok || ev["type"] != "audit" {
		t.Errorf("envelope's event: %v", first["event"])
	}
	if last := events[249]; last["sourcetype"] != "roster:sync.run" {
		t.Errorf("the run's envelope: %v", last)
	}
	for _, b := range rcv.Bodies() {
		if strings.Contains(b, "CANARY") || strings.HasPrefix(b, "[") {
			t.Fatalf("a body carries a secret or is an array: %.200s", b)
		}
	}
	if strings.Contains(logs.String(), "CANARY") {
		t.Fatalf("the log shows the token:\n%s", logs)
	}
}

// TestHECWrongToken: a refused token is retried (it may be rotating), the
// status says why, and nothing is logged with the token.
func TestHECWrongToken(t *testing.T) {
	rcv := forwardtest.HEC(t, "right-token")
	s := sink("splunk", roster.SinkHEC, roster.EventSinkConfig{URL: rcv.URL}, roster.StreamAudit)
	s.Secrets = roster.SecretFields{roster.SinkSecretToken: "CANARY-wrong-token"}
	fw, logs := startForwarder(t, fast, s)
	publishAudits(fw, 1)
	waitFor(t, 5*time.Second, "the failure", func() bool {
		st, _ := fw.Status("splunk")
		return st.Failing && strings.Contains(st.LastError, "HTTP 401")
	})
	if rcv.Requests() != 0 || strings.Contains(logs.String(), "CANARY") {
		t.Fatalf("requests %d; log:\n%s", rcv.Requests(), logs)
	}
}

// TestHTTPJSONFormats: ndjson with basic auth and an array with a bearer
// token reach logstash-style receivers whole.
func TestHTTPJSONFormats(t *testing.T) {
	for _, tc := range []struct {
		format  string
		secrets roster.SecretFields
		user    string
		authz   string
	}{
		{"ndjson", roster.SecretFields{roster.SinkSecretPassword: "pw"}, "roster", "Basic cm9zdGVyOnB3"},
		{"array", roster.SecretFields{roster.SinkSecretBearerToken: "tok"}, "", "Bearer tok"},
	} {
		t.Run(tc.format, func(t *testing.T) {
			rcv := forwardtest.JSON(t, tc.format, tc.authz)
			s := sink("ls", roster.SinkHTTPJSON, roster.EventSinkConfig{URL: rcv.URL + "/ingest", Format: tc.format, Username: tc.user},
				roster.StreamAudit)
			s.Secrets = tc.secrets
			fw, _ := startForwarder(t, fast, s)
			publishAudits(fw, 5)
			events := rcv.WaitEvents(t, 5, 10*time.Second)
			a, _ := events[0]["audit"].(map[string]any)
			if events[0]["type"] != "audit" || a["reason"] != hostileReason {
				t.Fatalf("event: %v", events[0])
			}
		})
	}
}

// TestHTTPRejectedAndBusy: a 400 drops the batch as rejected (sending it
// again would not help); a 503 with Retry-After is retried until it goes.
func TestHTTPRejectedAndBusy(t *testing.T) {
	rcv := forwardtest.JSON(t, "ndjson", "")
	s := sink("ls", roster.SinkHTTPJSON, roster.EventSinkConfig{URL: rcv.URL}, roster.StreamAudit)
	fw, _ := startForwarder(t, fast, s)

	rcv.SetFail(http.StatusBadRequest, 0)
	publishAudits(fw, 3)
	waitFor(t, 5*time.Second, "the rejection", func() bool {
		st, _ := fw.Status("ls")
		return st.Dropped[forward.DropRejected] == 3
	})

	rcv.SetFail(http.StatusServiceUnavailable, 1)
	publishAudits(fw, 2)
	waitFor(t, 5*time.Second, "the failure", func() bool { st, _ := fw.Status("ls"); return st.Failing })
	rcv.SetMode(forwardtest.Accept)
	rcv.WaitEvents(t, 2, 10*time.Second)
}

// TestSinkTest: the test event goes at once, bypassing a queue that is
// full, and a sink that is down says why.
func TestSinkTest(t *testing.T) {
	rcv := forwardtest.HEC(t, "tok")
	s := sink("splunk", roster.SinkHEC, roster.EventSinkConfig{URL: rcv.URL}, roster.StreamAudit)
	res := forward.Test(t.Context(), &s.EventSink, roster.SecretFields{roster.SinkSecretToken: "tok"}, "node-1", 5*time.Second)
	if !res.Delivered || res.Error != "" {
		t.Fatalf("test event: %+v", res)
	}
	if ev := rcv.Events(); len(ev) != 1 || ev[0]["event"].(map[string]any)["type"] != "test" {
		t.Fatalf("received %v", ev)
	}
	rcv.SetMode(forwardtest.Hang)
	res = forward.Test(t.Context(), &s.EventSink, roster.SecretFields{roster.SinkSecretToken: "tok"}, "node-1", 300*time.Millisecond)
	if res.Delivered || !strings.Contains(res.Error, "POST http://127.0.0.1") || strings.Contains(res.Error, "tok") {
		t.Fatalf("test event to a hanging sink: %+v", res)
	}
}

// TestCloseFlushes: Close sends what is queued within its budget; what a
// hanging sink still holds at the end counts as dropped (shutdown), and
// Close returns on time.
func TestCloseFlushes(t *testing.T) {
	up := forwardtest.JSON(t, "ndjson", "")
	hang := forwardtest.JSON(t, "ndjson", "")
	hang.SetMode(forwardtest.Hang)
	opts := fast
	opts.FlushInterval = time.Hour // nothing leaves before Close
	opts.SendTimeout = time.Minute // only Close's budget ends the hanging send
	log, _ := newLogger()
	fw := forward.New("n", log, nil, opts)
	sinks := []forward.Sink{sink("up", roster.SinkHTTPJSON, roster.EventSinkConfig{URL: up.URL}, roster.StreamAudit),
		sink("hang", roster.SinkHTTPJSON, roster.EventSinkConfig{URL: hang.URL}, roster.StreamAudit)}
	for i := range sinks {
		sinks[i].Normalize()
	}
	fw.Set(sinks)
	publishAudits(fw, 150)
	ctx, cancel := context.WithTimeout(t.Context(), time.Second)
	defer cancel()
	start := time.Now()
	fw.Close(ctx)
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("Close took %v with a budget of 1s", d)
	}
	if n := len(up.Events()); n != 150 {
		t.Fatalf("the sink that was up got %d of 150 queued events", n)
	}
	st, _ := fw.Status("hang")
	if st.Dropped[forward.DropShutdown] != 150 {
		t.Fatalf("the hanging sink: %+v, want 150 dropped at shutdown", st)
	}
}
