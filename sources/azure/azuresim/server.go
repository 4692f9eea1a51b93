package azuresim

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// Identities the server accepts when Options leave them empty. None of
// them is a secret: they open nothing but a simulator.
const (
	DefaultTenantID     = "9c7d3e51-2a4b-4c6d-8e0f-a1b2c3d4e5f6"
	DefaultClientID     = "4a1f6e2b-7c3d-4e5f-9a0b-c1d2e3f4a5b6"
	DefaultClientSecret = "roster-azure-simulator-secret-not-a-secret"
)

// DefaultPageSize is how many items a list page holds when
// Options.PageSize is zero.
const DefaultPageSize = 1000

// DefaultTokenLifetime is how long an issued access token is good for.
const DefaultTokenLifetime = time.Hour

// Options configure a Server.
type Options struct {
	// Seed makes the fleet, the issued ids and the fault rates
	// reproducible.
	Seed int64
	// Size is the number of standalone VMs generated.
	Size int
	// ScaleSets is the number of scale sets generated: about a quarter
	// flexible (made of standalone VMs), the rest uniform with 2 to 8
	// instances of their own.
	ScaleSets int
	// Subscriptions the fleet spreads over; empty = DefaultSubscriptions.
	Subscriptions []string
	// PageSize bounds the items of one list page; 0 = DefaultPageSize.
	PageSize int
	// TenantID, ClientID and ClientSecret are the one service principal
	// the token endpoint accepts; empty = the Default constants.
	TenantID, ClientID, ClientSecret string
	// TokenLifetime is how long issued tokens are good for; 0 =
	// DefaultTokenLifetime.
	TokenLifetime time.Duration
	// Hosts are more names or addresses the serving certificate is valid
	// for, besides localhost, 127.0.0.1 and ::1.
	Hosts []string
	// Faults injected from the start; change them with SetFaults.
	Faults Faults
	// Fleet, when set, is served instead of one generated from Seed, Size,
	// ScaleSets and Subscriptions (e.g. to share a large fleet).
	Fleet *Fleet
	// Logger receives one debug line per request; nil = discard.
	Logger *slog.Logger
}

// Server simulates the parts of Azure Resource Manager (compute and network
// list operations) and of the Microsoft identity platform (OpenID
// configuration, instance discovery, the client-credentials token
// endpoint) that Roster's Azure source uses, on one HTTPS endpoint. It is
// an http.Handler; Start serves it over HTTPS, at a url (https://HOST:PORT)
// that is both the authority host and the Resource Manager endpoint;
// clients must trust CACertificatePEM (Client and Transport do).
type Server struct {
	fleet    *Fleet
	pageSize int
	tenant   string
	client   string
	secret   string
	lifetime time.Duration
	certs    *cloudsim.CA
	// Controls: SetFaults, Faults, Stats, ResetStats.
	cloudsim.Controls
	// Endpoint: Start.
	cloudsim.Endpoint
	inj *cloudsim.Injector
	log *slog.Logger

	mu     sync.Mutex
	tokens map[string]issuedToken
}

type issuedToken struct {
	expires time.Time
}

// New returns a server for opts. It generates a throwaway CA and a serving
// certificate signed by it (see CACertificatePEM).
func New(opts Options) *Server {
	fleet := opts.Fleet
	if fleet == nil {
		fleet = NewFleet(opts.Seed, opts.Size, opts.ScaleSets, opts.Subscriptions)
	}
	log := cloudsim.OrDiscard(opts.Logger)
	c, err := newCerts(opts.Hosts)
	if err != nil {
		// Only a broken crypto/rand gets here.
		panic("azuresim: generate certificates: " + err.Error())
	}
	s := &Server{
		fleet:    fleet,
		pageSize: opts.PageSize,
		tenant:   orDefault(opts.TenantID, DefaultTenantID),
		client:   orDefault(opts.ClientID, DefaultClientID),
		secret:   orDefault(opts.ClientSecret, DefaultClientSecret),
		lifetime: opts.TokenLifetime,
		certs:    c,
		inj:      newInjector(opts.Seed, opts.Faults),
		log:      log,
		tokens:   map[string]issuedToken{},
	}
	s.Controls = s.inj.Controls()
	s.Endpoint = cloudsim.NewEndpoint(cloudsim.Server{Name: "azuresim", Handler: s, TLS: s.TLSConfig(), Logger: s.log})
	if s.pageSize <= 0 {
		s.pageSize = DefaultPageSize
	}
	if s.lifetime <= 0 {
		s.lifetime = DefaultTokenLifetime
	}
	return s
}

func orDefault(v, d string) string {
	if v == "" {
		return d
	}
	return v
}

// Fleet returns the served fleet; mutate it to change what requests see.
func (s *Server) Fleet() *Fleet { return s.fleet }

// TenantID, ClientID and ClientSecret return the service principal the
// token endpoint accepts.
func (s *Server) TenantID() string     { return s.tenant }
func (s *Server) ClientID() string     { return s.client }
func (s *Server) ClientSecret() string { return s.secret }

// ExpireTokens makes every issued access token expired, as if an hour had
// passed: the next ARM request answers 401 ExpiredAuthenticationToken.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for k := range s.tokens {
		s.tokens[k] = issuedToken{expires: time.Now().Add(-time.Second)}
	}
}

// request is one request being answered.
type request struct {
	cloudsim.Exchange
	s   *Server
	id  string
	op  string
	sub string
}

// ServeHTTP answers one request: the identity endpoints, or an ARM
// operation under /subscriptions/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{Exchange: cloudsim.NewExchange(w, r), s: s, id: cloudsim.RequestID()}
	segs := splitPath(r.URL.Path)
	if len(segs) > 0 && strings.EqualFold(segs[0], "subscriptions") {
		s.serveARM(q, segs)
		return
	}
	if len(segs) == 1 && strings.EqualFold(segs[0], "batch") {
		s.serveBatch(q)
		return
	}
	s.serveIdentity(q, segs)
}

func splitPath(p string) []string {
	var out []string
	for seg := range strings.SplitSeq(p, "/") {
		if seg != "" {
			out = append(out, seg)
		}
	}
	return out
}

// admit counts the request as op and applies the faults: it waits the
// latency and answers an injected fault itself. It returns false when the
// request is answered.
func (q *request) admit(op, sub string) bool {
	q.op, q.sub = op, sub
	f, ok := answers.Admit(q.R.Context(), q.s.inj, Call{Op: op, Scope: sub})
	if !ok {
		return false
	}
	if f != nil {
		q.armFault(f)
		return false
	}
	return true
}

func (q *request) reject(status int, code, message string) {
	q.s.inj.Reject("")
	q.armError(status, code, message)
}

// armError answers ARM's error body: {"error": {"code", "message"}}.
func (q *request) armError(status int, code, message string) {
	w := getW()
	defer putW(w)
	w.obj()
	w.key("error")
	w.obj()
	w.str("code", code)
	w.str("message", message)
	w.endObj()
	w.endObj()
	q.write(status, w.b, code)
}

func (q *request) armFault(f *fault) {
	if f.retryAfter > 0 {
		h := q.W.Header()
		h.Set("Retry-After", retrySeconds(f.retryAfter))
		if f.retryAfter%time.Second != 0 {
			h.Set("x-ms-retry-after-ms", strconv.FormatInt(f.retryAfter.Milliseconds(), 10))
		}
	}
	q.armError(f.status, f.code, f.message)
}

// retrySeconds is d in whole seconds, rounded up, at least 1.
func retrySeconds(d time.Duration) string {
	return strconv.Itoa(cloudsim.RetryAfterSeconds(d))
}

// ok answers 200 with a JSON body.
func (q *request) ok(body []byte) { q.write(http.StatusOK, body, "") }

func (q *request) write(status int, body []byte, code string) {
	h := q.W.Header()
	h.Set("x-ms-request-id", q.id)
	h.Set("x-ms-correlation-request-id", q.id)
	if c := q.R.Header.Get("x-ms-client-request-id"); c != "" {
		h.Set("x-ms-client-request-id", c)
	}
	q.Reply(status, "application/json; charset=utf-8", body)
	q.s.log.Debug("azuresim request", "method", q.R.Method, "op", q.op, "subscription", q.sub, "status", status,
		"code", code, "bytes", len(body), "duration", q.Elapsed())
}
