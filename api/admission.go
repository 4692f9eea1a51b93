package api

import (
	"context"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// Admission bounds how many requests of each class the server serves at
// once, so that one class cannot starve another: whole-inventory documents
// (Ansible's --list, Prometheus SD), which are large, and every other API
// request. A request that finds its class full waits up to Wait for a
// place, then is answered 429 with Retry-After. /healthz, /readyz and
// /metrics are never limited. Zero fields take the defaults.
//
// Sending a document costs CPU for every byte, so its places bound the CPU
// documents take. A client still reading its document after SlowReader
// reads at the pace of its network, taking little CPU: it moves to a lane
// of slow readers, SlowReadersPerPlace times as wide, and frees its place
// for another.
type Admission struct {
	// Documents bounds the whole-inventory documents served at once, slow
	// readers aside (default: DefaultAdmitDocumentsPerCPU per CPU Go may
	// use): more places serve more documents at once and leave less CPU to
	// the other requests.
	Documents int
	// Requests bounds the other API requests served at once
	// (DefaultAdmitRequests).
	Requests int
	// Wait is how long a request waits for a place (DefaultAdmitWait).
	Wait time.Duration
	// SlowReader is how long a client may read its document before it is
	// taken for a slow reader (DefaultSlowReader).
	SlowReader time.Duration
}

// The defaults of Admission.
const (
	DefaultAdmitDocumentsPerCPU = 1
	DefaultAdmitRequests        = 256
	DefaultAdmitWait            = 2 * time.Second
)

// SlowReadersPerPlace is how many slow document readers there may be per
// place for documents.
const SlowReadersPerPlace = 8

// DefaultSlowReader is Admission.SlowReader's default: 39 MB (20,000
// hosts) take a fast client well under a second.
const DefaultSlowReader = 2 * time.Second

func (a Admission) withDefaults() Admission {
	if a.Documents <= 0 {
		a.Documents = DefaultAdmitDocumentsPerCPU * runtime.GOMAXPROCS(0)
	}
	if a.Requests <= 0 {
		a.Requests = DefaultAdmitRequests
	}
	if a.Wait <= 0 {
		a.Wait = DefaultAdmitWait
	}
	if a.SlowReader <= 0 {
		a.SlowReader = DefaultSlowReader
	}
	return a
}

// gate admits up to cap(places) requests of a class at once.
type gate struct {
	what   string // the class, for the 429's message
	places chan struct{}
	wait   time.Duration
}

func newGate(what string, n int, wait time.Duration) *gate {
	return &gate{what: what, places: make(chan struct{}, n), wait: wait}
}

// enter takes a place, waiting at most g.wait; leave gives it back.
func (g *gate) enter(ctx context.Context) error {
	select {
	case g.places <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(g.wait)
	defer t.Stop()
	select {
	case g.places <- struct{}{}:
		return nil
	case <-t.C:
		return &tooMany{wait: g.wait, err: roster.Errorf(roster.ETOOMANY, "the server is serving as many %s as it takes at once (%d); try again later", g.what, cap(g.places))}
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (g *gate) leave() { <-g.places }

// gates are a server's admission classes.
type gates struct {
	documents, requests *gate
	slowReaders         *gate // entered only by documents' readers, never waited for
	slowReader          time.Duration
}

func newGates(a Admission) gates {
	a = a.withDefaults()
	return gates{
		documents:   newGate("whole-inventory documents", a.Documents, a.Wait),
		requests:    newGate("requests", a.Requests, a.Wait),
		slowReaders: newGate("slow document readers", SlowReadersPerPlace*a.Documents, 0),
		slowReader:  a.SlowReader,
	}
}

// ticket is the place a request holds.
type ticket struct {
	mu   sync.Mutex
	gate *gate // nil once left
}

func (t *ticket) leave() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gate != nil {
		t.gate.leave()
		t.gate = nil
	}
}

// moveTo trades the ticket's place for one of g's, when g has one free
// (else it keeps its place).
func (t *ticket) moveTo(g *gate) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.gate == nil || t.gate == g {
		return
	}
	select {
	case g.places <- struct{}{}:
		t.gate.leave()
		t.gate = g
	default:
	}
}

// The routes of whole-inventory documents, as the mux names them.
const (
	ansibleRoute      = "GET /api/v1/inventories/{inventory}/ansible"
	prometheusSDRoute = "GET /api/v1/inventories/{inventory}/prometheus-sd"
)

// isRequest reports whether a request to route is of the requests class.
// Health checks are never limited; whole-inventory documents take a place
// of their own class once they have a document to send (Server.document),
// not while they wait for syncs or a render.
func isRequest(route string, r *http.Request) bool {
	switch route {
	case "GET /healthz", "GET /readyz", prometheusSDRoute:
		return false
	case liveEventsRoute:
		return false // bounded by its own limit (webui_source.go): it streams for minutes
	case ansibleRoute:
		return r.URL.Query().Has("host")
	case awxScriptRoute:
		return r.URL.Query().Get("host") != "" // AWX reads an empty host as none
	}
	return true
}

// admit serves a request of the requests class once it has a place.
func (s *Server) admit(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, route := mux.Handler(r); !isRequest(route, r) {
			next.ServeHTTP(w, r)
			return
		}
		if err := s.gates.requests.enter(r.Context()); err != nil {
			writeProblem(w, r, s.log, err)
			return
		}
		defer s.gates.requests.leave()
		next.ServeHTTP(w, r)
	})
}
