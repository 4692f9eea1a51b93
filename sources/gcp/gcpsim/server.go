package gcpsim

import (
	"encoding/base64"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// DefaultPageSize is the page size when a list request gives no
// maxResults (or 0); MaxPageSize is the largest it may ask for.
const (
	DefaultPageSize = 500
	MaxPageSize     = 500
)

// Options configure a Server.
type Options struct {
	// Seed makes the fleet and the fault rates reproducible.
	Seed int64
	// Size is the number of instances generated.
	Size int
	// Projects the fleet spreads over; empty = DefaultProjects.
	Projects []string
	// Zones the fleet spreads over; empty = DefaultZones. Every zone of
	// the built-in catalog of real zones is visible in aggregated lists.
	Zones []string
	// ServiceAccounts are the accounts whose JWT assertions the token
	// endpoint accepts; empty = DefaultServiceAccount().
	ServiceAccounts []*ServiceAccount
	// Faults injected from the start; change them with SetFaults.
	Faults Faults
	// Fleet, when set, is served instead of one generated from Seed, Size,
	// Projects and Zones (e.g. to share a large fleet between servers).
	Fleet *Fleet
	// Logger receives one debug line per request; nil = discard. It never
	// receives tokens, assertions or keys.
	Logger *slog.Logger
}

// Server simulates the Compute Engine API's instances.aggregatedList,
// instances.list and disks.aggregatedList, and Google's OAuth2 token
// endpoint for service accounts (the JWT-bearer grant), on one endpoint.
// It is an http.Handler; Start serves it, at a url to give a Compute
// client (the token endpoint is url + TokenPath).
type Server struct {
	fleet    *Fleet
	accounts map[string]*ServiceAccount
	first    *ServiceAccount
	// Controls: SetFaults, Faults, Stats, ResetStats.
	cloudsim.Controls
	// Endpoint: Start.
	cloudsim.Endpoint
	inj *cloudsim.Injector
	log *slog.Logger

	mu     sync.Mutex
	tokens map[string]*accessToken
}

// New returns a server for opts. It fails for malformed project or zone
// names, or when a service account key cannot be generated.
func New(opts Options) (*Server, error) {
	fleet := opts.Fleet
	if fleet == nil {
		var err error
		if fleet, err = NewFleet(opts.Seed, opts.Size, opts.Projects, opts.Zones); err != nil {
			return nil, err
		}
	}
	accounts := opts.ServiceAccounts
	if len(accounts) == 0 {
		sa, err := DefaultServiceAccount()
		if err != nil {
			return nil, err
		}
		accounts = []*ServiceAccount{sa}
	}
	log := cloudsim.OrDiscard(opts.Logger)
	s := &Server{
		fleet:    fleet,
		accounts: map[string]*ServiceAccount{},
		first:    accounts[0],
		inj:      newInjector(opts.Seed, opts.Faults),
		log:      log,
		tokens:   map[string]*accessToken{},
	}
	s.Controls = s.inj.Controls()
	s.Endpoint = cloudsim.NewEndpoint(cloudsim.Server{Name: "gcpsim", Handler: s, Logger: s.log})
	for _, sa := range accounts {
		s.accounts[sa.Email] = sa
	}
	return s, nil
}

// Fleet returns the served fleet; mutate it to change what requests see.
func (s *Server) Fleet() *Fleet { return s.fleet }

// ServiceAccount returns the first accepted service account.
func (s *Server) ServiceAccount() *ServiceAccount { return s.first }

// KeyFile returns the key file of ServiceAccount with its token_uri on the
// server at baseURL (what Start returned, or an httptest server's URL).
// It holds a private key: keep it out of logs.
func (s *Server) KeyFile(baseURL string) []byte {
	return s.first.KeyFile(strings.TrimSuffix(baseURL, "/") + TokenPath)
}

// RevokeTokens forgets every issued access token: later requests with
// them answer 401, as after a key is disabled.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

// request is one Compute request being answered.
type request struct {
	cloudsim.Exchange
	s       *Server
	method  string
	project string
	zone    *zoneInfo // for MethodList
}

// ServeHTTP routes a request: the token endpoint, or a Compute list.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == TokenPath {
		s.token(w, r)
		return
	}
	q := &request{Exchange: cloudsim.NewExchange(w, r), s: s}
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case len(parts) == 6 && parts[0] == "compute" && parts[1] == "v1" && parts[2] == "projects" && parts[4] == "aggregated" && parts[5] == "instances":
		q.method = MethodAggregatedList
	case len(parts) == 6 && parts[0] == "compute" && parts[1] == "v1" && parts[2] == "projects" && parts[4] == "aggregated" && parts[5] == "disks":
		q.method = MethodDisks
	case len(parts) == 7 && parts[0] == "compute" && parts[1] == "v1" && parts[2] == "projects" && parts[4] == "zones" && parts[6] == "instances":
		q.method = MethodList
	default:
		s.inj.Reject("unknown")
		q.fail(&apiError{code: http.StatusNotFound, message: "The requested URL " + r.URL.Path + " was not found on this server.", domain: "global", reason: "notFound"})
		return
	}
	q.project = parts[3]
	if r.Method != http.MethodGet {
		s.inj.Reject(q.method)
		q.fail(&apiError{code: http.StatusMethodNotAllowed, message: "Method " + r.Method + " is not allowed here.", domain: "global", reason: "httpMethodNotAllowed"})
		return
	}
	rpc := map[string]string{MethodAggregatedList: "AggregatedList", MethodList: "List", MethodDisks: "AggregatedList"}[q.method]
	if _, err := s.authenticate(r, rpc); err != nil {
		s.inj.Reject(q.method)
		q.fail(err)
		return
	}
	s.fleet.core.RLock()
	_, known := s.fleet.projects[q.project]
	s.fleet.core.RUnlock()
	if !known {
		s.inj.Reject(q.method)
		q.fail(errNotFound("projects/" + q.project))
		return
	}
	if q.method == MethodList {
		q.zone = s.fleet.catalog.byName[parts[5]]
		if q.zone == nil {
			s.inj.Reject(q.method)
			q.fail(errNotFound("projects/" + q.project + "/zones/" + parts[5]))
			return
		}
	}
	f, ok := answers.Admit(r.Context(), s.inj, Call{Op: q.method, Scope: q.project})
	if !ok {
		return
	}
	if f != nil {
		q.fail(f)
		return
	}
	s.list(q)
}

func (q *request) fail(e *apiError) {
	writeComputeError(&q.Exchange, e)
	q.s.log.Debug("gcpsim request", "method", q.method, "project", q.project, "status", e.code,
		"reason", e.reason, "duration", q.Elapsed())
}

// cursor is where a page starts: after instance name in zone index zone.
type cursor struct {
	page int
	zone int
	name string
}

// pageToken encodes a cursor bound to the request it continues.
func pageToken(c cursor, bind string) string {
	raw := strconv.Itoa(c.page) + "\x00" + strconv.Itoa(c.zone) + "\x00" + c.name + "\x00" + strconv.FormatUint(cloudsim.HashString(bind), 36)
	return base64.RawURLEncoding.EncodeToString([]byte(raw))
}

func parsePageToken(tok, bind string) (cursor, bool) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	if err != nil {
		return cursor{}, false
	}
	f := strings.Split(string(raw), "\x00")
	if len(f) != 4 || f[3] != strconv.FormatUint(cloudsim.HashString(bind), 36) {
		return cursor{}, false
	}
	page, err1 := strconv.Atoi(f[0])
	zone, err2 := strconv.Atoi(f[1])
	if err1 != nil || err2 != nil || page < 2 || zone < 0 {
		return cursor{}, false
	}
	return cursor{page: page, zone: zone, name: f[2]}, true
}

// list answers the three list methods: parameters, the page, rendering.
func (s *Server) list(q *request) {
	form := q.R.URL.Query()
	size := DefaultPageSize
	if v := form.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		switch {
		case err != nil || n < 0:
			q.fail(errInvalidField("maxResults", v, "Must be a non-negative integer."))
			return
		case n > MaxPageSize:
			q.fail(errInvalidField("maxResults", v, "Must be less than or equal to 500"))
			return
		case n > 0:
			size = n
		}
	}
	if ob := form.Get("orderBy"); ob != "" && ob != "name" {
		q.fail(errInvalidField("orderBy", ob, "Sorting by this field is not supported by the simulator."))
		return
	}
	raw := form.Get("filter")
	flt, err := parseFilter(raw)
	if err != nil {
		q.fail(errInvalidField("filter", raw, err.Error()))
		return
	}
	bind := q.method + "\x00" + q.project + "\x00" + raw
	if q.zone != nil {
		bind += "\x00" + q.zone.name
	}
	cur := cursor{page: 1}
	if tok := form.Get("pageToken"); tok != "" {
		c, ok := parsePageToken(tok, bind)
		if !ok {
			q.fail(errInvalidField("pageToken", tok, "The page token is not valid for this request."))
			return
		}
		cur = c
	}
	if f, failed := answers.FailPage(s.inj, Call{Op: q.method, Scope: q.project}, cur.page); failed {
		q.fail(f)
		return
	}

	w := getJW()
	defer putJW(w)
	s.fleet.core.RLock()
	page, next, more := s.fleet.page(q.project, q.zone, cur, size, flt)
	switch q.method {
	case MethodAggregatedList:
		s.renderAggregated(w, q.project, page, "instances", "compute#instanceAggregatedList", (*jsonw).instance)
	case MethodDisks:
		s.renderAggregated(w, q.project, page, "disks", "compute#diskAggregatedList", (*jsonw).disk)
	case MethodList:
		w.b = append(w.b, `{"kind":"compute#instanceList","id":"projects/`...)
		w.b = append(w.b, q.project...)
		w.b = append(w.b, "/zones/"...)
		w.b = append(w.b, q.zone.name...)
		w.b = append(w.b, `/instances"`...)
		if len(page) > 0 {
			w.b = append(w.b, `,"items":[`...)
			for i, in := range page {
				if i > 0 {
					w.b = append(w.b, ',')
				}
				w.instance(in)
			}
			w.b = append(w.b, ']')
		}
	}
	s.fleet.core.RUnlock()
	if more {
		next.page = cur.page + 1
		w.raw(false, "nextPageToken", pageToken(next, bind))
	}
	if q.method == MethodList {
		w.url(false, "selfLink", "projects/", q.project, "/zones/", q.zone.name, "/instances")
	} else {
		field := "instances"
		if q.method == MethodDisks {
			field = "disks"
		}
		w.url(false, "selfLink", "projects/", q.project, "/aggregated/", field)
	}
	w.b = append(w.b, '}')

	q.Reply(http.StatusOK, "application/json; charset=UTF-8", w.b)
	s.log.Debug("gcpsim request", "method", q.method, "project", q.project, "page", cur.page, "instances", len(page),
		"more", more, "bytes", len(w.b), "duration", q.Elapsed())
}

// renderAggregated writes an aggregated list's head and items: one entry
// per zone of the catalog, with the page's instances of that zone or a
// NO_RESULTS_ON_PAGE warning.
func (s *Server) renderAggregated(w *jsonw, project string, page []*instance, field, kind string, item func(*jsonw, *instance)) {
	w.b = append(w.b, `{"kind":"`...)
	w.b = append(w.b, kind...)
	w.b = append(w.b, `","id":"projects/`...)
	w.b = append(w.b, project...)
	w.b = append(w.b, "/aggregated/"...)
	w.b = append(w.b, field...)
	w.b = append(w.b, `","items":{`...)
	i := 0
	for zi, z := range s.fleet.catalog.list {
		if zi > 0 {
			w.b = append(w.b, ',')
		}
		w.b = append(w.b, '"')
		w.b = append(w.b, z.key...)
		w.b = append(w.b, '"', ':')
		if i >= len(page) || page[i].zone.index != zi {
			w.noResults(z.key)
			continue
		}
		w.b = append(w.b, `{"`...)
		w.b = append(w.b, field...)
		w.b = append(w.b, `":[`...)
		for first := true; i < len(page) && page[i].zone.index == zi; i++ {
			if !first {
				w.b = append(w.b, ',')
			}
			first = false
			item(w, page[i])
		}
		w.b = append(w.b, "]}"...)
	}
	w.b = append(w.b, '}')
}

// page returns up to size instances of project matching flt after cur, in
// list order (zone, then name), restricted to zone when not nil; next is
// the cursor after the last one and more whether another match follows.
// The caller holds f.mu for reading.
func (f *Fleet) page(project string, zone *zoneInfo, cur cursor, size int, flt *filter) (page []*instance, next cursor, more bool) {
	p := f.projects[project]
	zones := p.zones
	first, last := cur.zone, len(zones)-1
	if zone != nil {
		first, last = zone.index, zone.index
	}
	page = make([]*instance, 0, min(size, 64))
	for zi := first; zi <= last; zi++ {
		list := zones[zi]
		start := 0
		if zi == cur.zone && cur.name != "" {
			start, _ = slices.BinarySearchFunc(list, cur.name, func(x *instance, n string) int { return strings.Compare(x.name, n) })
			if start < len(list) && list[start].name == cur.name {
				start++
			}
		}
		for _, in := range list[start:] {
			if !flt.match(in) {
				continue
			}
			if len(page) == size {
				return page, next, true
			}
			page = append(page, in)
			next = cursor{zone: zi, name: in.name}
		}
	}
	return page, next, false
}
