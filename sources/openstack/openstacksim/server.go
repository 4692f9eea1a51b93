package openstacksim

import (
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// Paths of the services under the server's base URL.
const (
	// IdentityPath is Keystone's versionless root; the v3 API is below it.
	IdentityPath = "/identity"
	computePath  = "/compute/" // + region + "/v2.1"
	imagePath    = "/image/"   // + region + "/v2"
)

// AuthURL returns the Keystone v3 URL (a clouds.yaml auth_url) of a
// simulator served at base, e.g. "http://127.0.0.1:5000/identity/v3".
func AuthURL(base string) string { return strings.TrimSuffix(base, "/") + IdentityPath + "/v3" }

// DefaultMaxMicroversion is the highest compute API microversion served
// when Options.MaxMicroversion is empty (Nova 2024.1 "Caracal").
const DefaultMaxMicroversion = "2.96"

// DefaultMaxLimit is Nova's and Glance's default page size limit
// (osapi_max_limit, api_limit_max).
const DefaultMaxLimit = 1000

// Options configure a Server.
type Options struct {
	// Seed makes the fleet, the ids and the fault rates reproducible.
	Seed int64
	// Size is the number of servers generated.
	Size int
	// Regions the fleet spreads over; empty = DefaultRegions.
	Regions []string
	// Projects the servers belong to; empty = DefaultProjects.
	Projects []string
	// Users who may authenticate; nil = DefaultUsers().
	Users []User
	// AppCredentials that may authenticate; nil = DefaultAppCredentials().
	AppCredentials []AppCredential
	// MaxMicroversion is the highest compute microversion served
	// ("2.1" ... ); empty = DefaultMaxMicroversion.
	MaxMicroversion string
	// MaxLimit caps page sizes (0 = DefaultMaxLimit).
	MaxLimit int
	// TokenTTL is the life of an issued token (0 = one hour).
	TokenTTL time.Duration
	// Faults injected from the start; change them with SetFaults.
	Faults Faults
	// Fleet, when set, is served instead of one generated from Seed,
	// Size, Regions and Projects.
	Fleet *Fleet
	// Logger receives one debug line per request; nil = discard. Tokens
	// and passwords are never logged.
	Logger *slog.Logger
}

// Server simulates Keystone v3 (token issue with passwords and
// application credentials, a service catalog), Nova (servers/detail,
// flavors/detail, microversions) and Glance (image list) on one HTTP
// endpoint serving every region. It is an http.Handler; Start serves it,
// at a base url whose AuthURL(url) is what clients authenticate at.
type Server struct {
	seed  int64
	fleet *Fleet
	// Controls: SetFaults, Faults, Stats, ResetStats.
	cloudsim.Controls
	// Endpoint: Start.
	cloudsim.Endpoint
	inj      *cloudsim.Injector
	log      *slog.Logger
	maxMinor int
	maxLimit int
	ttl      time.Duration

	users    map[string]*userRec // by name
	usersID  map[string]*userRec // by id
	appCreds []*appCredRec

	mu     sync.Mutex
	tokens map[string]*token
}

// New returns a server for opts.
func New(opts Options) *Server {
	fleet := opts.Fleet
	if fleet == nil {
		fleet = NewFleet(opts.Seed, opts.Size, opts.Regions, opts.Projects)
	}
	log := cloudsim.OrDiscard(opts.Logger)
	maxMinor := 96
	if opts.MaxMicroversion != "" {
		m, ok := parseMicroversion(opts.MaxMicroversion)
		if !ok || m < 1 {
			panic(fmt.Sprintf("openstacksim: MaxMicroversion %q is not 2.N", opts.MaxMicroversion))
		}
		maxMinor = m
	}
	s := &Server{
		seed:     fleet.core.Seed,
		fleet:    fleet,
		inj:      newInjector(opts.Seed, opts.Faults),
		log:      log,
		maxMinor: maxMinor,
		maxLimit: opts.MaxLimit,
		ttl:      opts.TokenTTL,
		tokens:   map[string]*token{},
	}
	s.Controls = s.inj.Controls()
	s.Endpoint = cloudsim.NewEndpoint(cloudsim.Server{Name: "openstacksim", Handler: s, Logger: s.log})
	if s.maxLimit <= 0 {
		s.maxLimit = DefaultMaxLimit
	}
	if s.ttl <= 0 {
		s.ttl = time.Hour
	}
	users := opts.Users
	if users == nil {
		users = DefaultUsers()
	}
	apps := opts.AppCredentials
	if apps == nil {
		apps = DefaultAppCredentials()
	}
	s.initIdentity(users, apps)
	return s
}

// Fleet returns the served fleet; mutate it to change what requests see.
func (s *Server) Fleet() *Fleet { return s.fleet }

// request is one request being answered.
type request struct {
	cloudsim.Exchange
	s      *Server
	op     string
	region string
	base   string // scheme://host of the request, for links and the catalog
}

// ServeHTTP routes a request to Keystone, Nova or Glance.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{Exchange: cloudsim.NewExchange(w, r), s: s, base: baseURL(r)}
	defer q.logLine()
	p := r.URL.Path
	switch {
	case p == IdentityPath || strings.HasPrefix(p, IdentityPath+"/"):
		s.identity(q, strings.TrimPrefix(p, IdentityPath))
	case strings.HasPrefix(p, computePath):
		s.regional(q, strings.TrimPrefix(p, computePath), s.compute)
	case strings.HasPrefix(p, imagePath):
		s.regional(q, strings.TrimPrefix(p, imagePath), s.image)
	default:
		q.plainError(http.StatusNotFound, "The resource could not be found.")
	}
}

// listing admits a GET of a known listing (Nova's, Glance's) with a valid
// token; errf answers the rest in the service's error format.
func (s *Server) listing(q *request, known bool, errf func(status int, msg string)) (*token, bool) {
	switch {
	case !known:
		errf(http.StatusNotFound, "The resource could not be found.")
	case q.R.Method != http.MethodGet:
		errf(http.StatusMethodNotAllowed, "The method is not allowed for the requested URL.")
	default:
		return s.authorize(q)
	}
	return nil, false
}

// regional serves path (REGION/rest) of a regional service: service
// answers /rest in a region the fleet serves.
func (s *Server) regional(q *request, path string, service func(q *request, rest string)) {
	region, rest, _ := strings.Cut(path, "/")
	s.fleet.core.RLock()
	ok := s.fleet.byRegion[region] != nil
	s.fleet.core.RUnlock()
	if !ok {
		q.plainError(http.StatusNotFound, "The resource could not be found.")
		return
	}
	q.region = region
	service(q, "/"+rest)
}

func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// admit applies the injected faults to an operation; it answers the fault
// itself and returns false when there is one. fail answers in the
// service's error format.
func (q *request) admit(op string, fail func(status int, msg string)) bool {
	q.op = op
	f, ok := answers.Admit(q.R.Context(), q.s.inj, Call{Op: op, Scope: q.region})
	if !ok {
		return false
	}
	if f == nil {
		return true
	}
	if f.retryAfter > 0 {
		q.W.Header().Set("Retry-After", strconv.Itoa(f.retryAfter))
	}
	switch f.status {
	case 413, 429:
		fail(f.status, "This request was rate-limited.")
	default:
		fail(f.status, "The server is currently unavailable. Please try again at a later time.")
	}
	return false
}

// writeJSON answers status with a JSON body.
func (q *request) writeJSON(status int, body []byte) {
	q.W.Header().Set("X-Openstack-Request-Id", "req-"+cloudsim.RequestID())
	q.Reply(status, "application/json", body)
}

// plainError answers an error outside any service's own format.
func (q *request) plainError(status int, msg string) {
	w := getW()
	defer putW(w)
	w.obj("")
	w.obj("error")
	w.int("code", status)
	w.str("title", http.StatusText(status))
	w.str("message", msg)
	w.endObj()
	w.endObj()
	q.writeJSON(status, w.b)
}

func (q *request) logLine() {
	q.s.log.Debug("openstacksim request", "method", q.R.Method, "path", q.R.URL.Path, "op", q.op,
		"region", q.region, "status", q.Status, "duration", q.Elapsed())
}
