// Package forwardtest gives tests HTTP receivers of the wire formats event
// sinks post: a Splunk HTTP Event Collector (POST /services/collector/event,
// "Authorization: Splunk <token>", envelopes one after another, answering
// {"text":"Success","code":0}) and a logstash-style JSON input (ndjson, or a
// JSON array one event per element; optional basic or bearer auth). Either
// can be told to fail (an HTTP status, optionally with Retry-After) or to
// hang (accept the request and never answer).
package forwardtest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Mode is how a receiver answers.
type Mode int

const (
	// Accept answers success.
	Accept Mode = iota
	// Fail answers the Status set with SetFail.
	Fail
	// Hang reads the request and answers nothing until the test ends or
	// the mode changes.
	Hang
)

// Receiver is a running receiver.
type Receiver struct {
	URL string
	srv *httptest.Server

	kind   string // hec, ndjson, array
	authz  string // the Authorization header it requires ("" none)
	mu     sync.Mutex
	mode   Mode
	status int
	after  int
	wake   chan struct{} // closed when the mode leaves Hang
	events []map[string]any
	bodies []string
	reqs   int
}

// HEC starts a Splunk HEC receiver that requires token.
func HEC(t testing.TB, token string) *Receiver {
	return start(t, "hec", "Splunk "+token)
}

// JSON starts a logstash-style receiver of format "ndjson" or "array";
// authz is the Authorization header it requires ("" for none).
func JSON(t testing.TB, format, authz string) *Receiver {
	return start(t, format, authz)
}

func start(t testing.TB, kind, authz string) *Receiver {
	r := &Receiver{kind: kind, authz: authz, wake: make(chan struct{})}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	r.URL = r.srv.URL
	t.Cleanup(func() {
		r.SetMode(Accept) // let hanging handlers end
		r.srv.CloseClientConnections()
		r.srv.Close()
	})
	return r
}

// SetMode sets how the receiver answers from now on.
func (r *Receiver) SetMode(m Mode) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mode == Hang && m != Hang {
		close(r.wake)
		r.wake = make(chan struct{})
	}
	r.mode = m
}

// SetFail makes the receiver answer status (with Retry-After: after
// seconds, when after > 0).
func (r *Receiver) SetFail(status, after int) {
	r.mu.Lock()
	r.status, r.after = status, after
	r.mu.Unlock()
	r.SetMode(Fail)
}

// Events returns the events received so far (HEC: the envelopes).
func (r *Receiver) Events() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.events...)
}

// Bodies returns the raw request bodies accepted so far.
func (r *Receiver) Bodies() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.bodies...)
}

// Requests counts the requests accepted so far.
func (r *Receiver) Requests() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.reqs
}

// WaitEvents waits until at least n events arrived.
func (r *Receiver) WaitEvents(t testing.TB, n int, timeout time.Duration) []map[string]any {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ev := r.Events()
		if len(ev) >= n {
			return ev
		}
		if time.Now().After(deadline) {
			t.Fatalf("forwardtest: %d events arrived within %v, want %d", len(ev), timeout, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 8<<20))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	r.mu.Lock()
	mode, status, after, wake := r.mode, r.status, r.after, r.wake
	r.mu.Unlock()
	switch mode {
	case Hang:
		select {
		case <-wake:
		case <-req.Context().Done():
		}
		return
	case Fail:
		if after > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(after))
		}
		http.Error(w, `{"text":"Server is busy","code":9}`, status)
		return
	}
	if req.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if r.authz != "" && req.Header.Get("Authorization") != r.authz {
		r.answer(w, http.StatusUnauthorized, `{"text":"Invalid authorization","code":3}`)
		return
	}
	events, code, msg := r.parse(req, body)
	if code != http.StatusOK {
		r.answer(w, code, msg)
		return
	}
	r.mu.Lock()
	r.events = append(r.events, events...)
	r.bodies = append(r.bodies, string(body))
	r.reqs++
	r.mu.Unlock()
	r.answer(w, http.StatusOK, msg)
}

func (r *Receiver) answer(w http.ResponseWriter, code int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	io.WriteString(w, msg)
}

// parse reads body in the receiver's format.
func (r *Receiver) parse(req *http.Request, body []byte) ([]map[string]any, int, string) {
	switch r.kind {
	case "hec":
		if req.URL.Path != "/services/collector/event" {
			return nil, http.StatusNotFound, `{"text":"The requested URL was not found on this server.","code":404}`
		}
		return parseHEC(body)
	case "array":
		if !strings.HasPrefix(req.Header.Get("Content-Type"), "application/json") {
			return nil, http.StatusUnsupportedMediaType, "want application/json"
		}
		var arr []map[string]any
		if err := json.Unmarshal(body, &arr); err != nil {
			return nil, http.StatusBadRequest, "not a JSON array: " + err.Error()
		}
		return arr, http.StatusOK, "ok"
	default: // ndjson: one JSON document per line
		var out []map[string]any
		for i, line := range bytes.Split(bytes.TrimSuffix(body, []byte("\n")), []byte("\n")) {
			var m map[string]any
			if err := json.Unmarshal(line, &m); err != nil {
				return nil, http.StatusBadRequest, "line " + strconv.Itoa(i+1) + ": " + err.Error()
			}
			out = append(out, m)
		}
		return out, http.StatusOK, "ok"
	}
}

// parseHEC reads whitespace-separated JSON objects, as HEC takes them;
// each must carry "event".
func parseHEC(body []byte) ([]map[string]any, int, string) {
	dec := json.NewDecoder(bytes.NewReader(body))
	var out []map[string]any
	for n := 0; dec.More(); n++ {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			return nil, http.StatusBadRequest, `{"text":"Invalid data format","code":6,"invalid-event-number":` + strconv.Itoa(n) + `}`
		}
		if _, ok := m["event"]; !ok {
			return nil, http.StatusBadRequest, `{"text":"Event field is required","code":12,"invalid-event-number":` + strconv.Itoa(n) + `}`
		}
		out = append(out, m)
	}
	if len(out) == 0 {
		return nil, http.StatusBadRequest, `{"text":"No data","code":5}`
	}
	return out, http.StatusOK, `{"text":"Success","code":0}`
}
