package forward_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/testenv"
)

// TestSyslogTransports sends an audit record with a hostile reason and a
// finished run over TCP, TLS and UDP to a real rsyslogd, and reads them
// back from its file: RFC 5424 fields, the structured data and the JSON.
func TestSyslogTransports(t *testing.T) {
	srv := testenv.Syslog(t)
	for _, tc := range []struct {
		transport string
		config    roster.EventSinkConfig
	}{
		{"tcp", roster.EventSinkConfig{Address: srv.TCPAddr, Transport: "tcp"}},
		{"tls", roster.EventSinkConfig{Address: srv.TLSAddr, Transport: "tls", TLSCA: srv.CAPEM}},
		{"udp", roster.EventSinkConfig{Address: srv.UDPAddr, Transport: "udp", Facility: "audit"}},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			fw, _ := startForwarder(t, fast, sink("sys-"+tc.transport, roster.SinkSyslog, tc.config, roster.StreamAudit, roster.StreamSync))
			a := auditRecord("credential.issue." + tc.transport)
			fw.Audit(a)
			run := finishedRun()
			run.ID = "run-" + tc.transport
			fw.SyncFinished(t.Context(), run)

			line := srv.WaitLine(t, `action="credential.issue.`+tc.transport+`"`, 10*time.Second)
			fields := strings.SplitN(line, " ", 7)
			if len(fields) < 7 || fields[0] != "1" || fields[2] != "node-1" || fields[3] != "roster" || fields[5] != "audit" {
				t.Fatalf("header fields of %q", line)
			}
			if !strings.Contains(line, `reason="denied: line one line two \]\"\\ end"`) {
				t.Errorf("the reason's SD-PARAM is not escaped as RFC 5424 says: %q", line)
			}
			// The MSG is the event's JSON, on one line: the hostile
			// reason arrives whole.
			msg := line[strings.Index(line, "] {")+2:]
			var ev forward.Event
			if err := json.Unmarshal([]byte(msg), &ev); err != nil {
				t.Fatalf("MSG is not the event's JSON: %v\n%s", err, msg)
			}
			if ev.Audit == nil || ev.Audit.Reason != hostileReason || ev.Audit.Details["vault_token"] != "[redacted]" {
				t.Fatalf("audit event read back: %+v", ev.Audit)
			}
			srv.WaitLine(t, `run_id="run-`+tc.transport+`"`, 10*time.Second)
		})
	}
	for _, l := range srv.Lines(t) {
		if strings.Contains(l, "CANARY") {
			t.Fatalf("a secret reached syslog: %s", l)
		}
	}
}

// TestSyslogOutage: while rsyslogd is down events wait (and retry) or are
// dropped and counted once the queue is full; Publish never waits; after
// rsyslogd is back the queued events arrive and the sink says it recovered.
func TestSyslogOutage(t *testing.T) {
	srv := testenv.Syslog(t)
	s := sink("sys", roster.SinkSyslog, roster.EventSinkConfig{Address: srv.TCPAddr}, roster.StreamAudit)
	s.QueueSize = 50
	fw, logs := startForwarder(t, fast, s)
	fw.Audit(auditRecord("before"))
	srv.WaitLine(t, `action="before"`, 10*time.Second)

	srv.Stop()
	start := time.Now()
	for i := range 500 {
		a := auditRecord("during")
		a.TargetID = "cred-" + string(rune('a'+i%26))
		fw.Audit(a)
	}
	// A Publish that waited for room in the queue would wait out a
	// backoff (20ms to 200ms here) for each of the 450 over the queue's
	// size: seconds.
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("500 Publish calls took %v with the sink down", d)
	}
	waitFor(t, 5*time.Second, "drops counted", func() bool {
		st, _ := fw.Status("sys")
		return st.Dropped[forward.DropQueueFull] > 0 && st.Failing
	})
	waitFor(t, 5*time.Second, "the drops logged", func() bool { return logs.count("event sink dropped events") > 0 })

	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	// The queued events go once the backoff ends (at most MaxBackoff).
	waitFor(t, 10*time.Second, "the queue sent", func() bool {
		st, _ := fw.Status("sys")
		return st.QueueLength == 0 && st.Sent >= 50
	})
	fw.Audit(auditRecord("after"))
	srv.WaitLine(t, `action="after"`, 10*time.Second)
	waitFor(t, 5*time.Second, "recovered logged", func() bool { return logs.count("event sink recovered") == 1 })
}

func waitFor(t *testing.T, timeout time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestSyslogTooLarge: an event over rsyslog's default message size (8
// KiB) would be cut by the receiver, so it is not sent but counted as
// rejected; the events around it arrive.
func TestSyslogTooLarge(t *testing.T) {
	srv := testenv.Syslog(t)
	fw, _ := startForwarder(t, fast, sink("sys", roster.SinkSyslog, roster.EventSinkConfig{Address: srv.TCPAddr}, roster.StreamAudit))
	big := auditRecord("big")
	big.Details = map[string]string{}
	for i := range 8 {
		big.Details[string(rune('a'+i))] = strings.Repeat("x", 2000)
	}
	fw.Audit(auditRecord("small-1"))
	fw.Audit(big)
	fw.Audit(auditRecord("small-2"))
	srv.WaitLine(t, `action="small-2"`, 10*time.Second)
	srv.WaitLine(t, `action="small-1"`, time.Second)
	st, _ := fw.Status("sys")
	if st.Dropped[forward.DropRejected] != 1 || st.Sent != 2 {
		t.Fatalf("status %+v, want 2 sent and the big one rejected", st)
	}
}
