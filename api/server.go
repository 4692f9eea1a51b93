// Package api serves Roster's REST API, generated from openapi.yaml with
// oapi-codegen's strict server: handlers take and return the generated
// wire types and convert to and from the domain at the edge.
package api

import (
	"cmp"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/notify"
	"github.com/rosterhq/roster/internal/syncer"
)

// DefaultMaxBodyBytes bounds request bodies.
const DefaultMaxBodyBytes = 1 << 20

// Config holds what a Server needs.
type Config struct {
	Store  roster.Store
	Engine *syncer.Engine
	// Scheduler serves callbacks and fresh reads (the store, when it is
	// one: every Roster store is).
	Scheduler roster.SchedulerStore
	// FollowUps queues syncs after running ones (provisioning callbacks).
	FollowUps FollowUps
	// Webhooks manages notifications; nil answers their endpoints with 503.
	Webhooks *notify.Service
	// EventSinks manages event forwarding; nil answers its endpoints
	// with 503.
	EventSinks *forward.Service
	Broker     *broker.Broker
	Log        *slog.Logger
	// MaxBodyBytes bounds request bodies (0: DefaultMaxBodyBytes).
	MaxBodyBytes int64
	// Metrics, when set, times every request by route into
	// roster_http_request_duration_seconds and serves the registry at
	// GET MetricsPath. That endpoint takes no token, as Prometheus expects
	// of a scrape target: operators restrict it at the network (bind a
	// private interface, firewall it, or put a proxy in front). It serves no
	// secret, but does name inventories and sources.
	Metrics *metrics.Metrics
	// DocumentDir is where rendered whole-inventory documents are kept
	// while they are current or being read, in a directory the server
	// makes there and Close removes; empty: the system's temporary
	// directory. About one document per inventory and kind (Ansible,
	// Ansible with disabled hosts, Prometheus SD): 160 MiB for Ansible's
	// document of 100,000 hosts.
	DocumentDir string
	// Admission bounds the requests served at once, by class.
	Admission Admission
	// TokenMaxTTL bounds the lifetime of the tokens made through the API
	// (0: none; tokens made without a TTL then never expire).
	TokenMaxTTL time.Duration
	// RequireClientCertificate refuses (401) every request that came
	// without a verified TLS client certificate, but for /healthz,
	// /readyz and MetricsPath, which load balancers and Prometheus reach
	// without one. The TLS listener verifies the certificate (Roster's
	// asks for one with tls.VerifyClientCertIfGiven).
	RequireClientCertificate bool
	// SessionIdleTimeout ends a session unused this long (0:
	// DefaultSessionIdleTimeout); SessionMaxAge ends any session this
	// long after sign-in (0: DefaultSessionMaxAge).
	SessionIdleTimeout, SessionMaxAge time.Duration
	// LiveRecheck is how often a Web UI live view of a run checks again
	// that its session is valid and its person may still read the run
	// (0: every 15 s).
	LiveRecheck time.Duration
	// Version is Roster's, as AWX's API reports it (GET /api/v2/ping/,
	// /api/v2/config/); empty: "devel".
	Version string
	// Directories are the LDAP / Active Directory servers users may sign
	// in with (POST /api/v1/auth/login with their name as provider).
	Directories []Directory
	// OIDC are the OpenID Connect providers users may sign in with.
	OIDC []OIDCProvider
	// PublicURL is the server's URL as browsers reach it: where a device
	// sign-in sends the person (PublicURL + /auth/device).
	PublicURL string
	// TrustedProxies are the proxies whose X-Forwarded-For names the
	// client (for brute-force limits and the audit log).
	TrustedProxies []netip.Prefix
}

// MetricsPath is where the Prometheus exposition is served when
// Config.Metrics is set.
const MetricsPath = "/metrics"

// Server implements the API.
type Server struct {
	store      roster.Store
	engine     *syncer.Engine
	scheduler  roster.SchedulerStore
	followUps  FollowUps
	webhooks   *notify.Service
	sinks      *forward.Service
	broker     *broker.Broker
	metrics    *metrics.Metrics
	log        *slog.Logger
	maxBody    int64
	now        func() time.Time
	touched    recentUse // when tokens and sessions were last written down as used
	docs       *documents
	groupTrees groupTrees // the Web UI's group trees, by inventory generation
	// background is the context of work a request starts that outlives
	// it (a group tree's rebuild); Close cancels it and waits for
	// backgroundWork.
	background     context.Context
	stopBackground context.CancelFunc
	backgroundWork sync.WaitGroup
	gates          gates
	tokenMaxTTL    time.Duration
	// clientCerts: every request but health checks needs a verified
	// client certificate.
	clientCerts bool
	// sessionIdle and sessionMaxAge end sessions; kdf bounds the
	// password hashes computed at once.
	sessionIdle, sessionMaxAge time.Duration
	kdf                        chan struct{}
	directorySlots             chan struct{}
	directories                map[string]*Directory
	oidc                       map[string]*OIDCProvider
	publicURL                  string
	trustedProxies             []netip.Prefix
	crossOrigin                *http.CrossOriginProtection
	// version is Roster's, and node the host name of this node, for
	// AWX's API.
	version, node string
	// live serves the Web UI's live views of runs (webui_source.go).
	live *liveStreams
	// draining: the process is shutting down; /readyz says so, so that
	// load balancers send new requests elsewhere.
	draining atomic.Bool
}

// Drain makes /readyz answer 503 from now on: the process is shutting
// down. Requests are still served (those in flight, and those a load
// balancer sends before it notices).
func (s *Server) Drain() { s.draining.Store(true) }

var _ StrictServerInterface = (*Server)(nil)

// NewServer returns a server.
func NewServer(c Config) *Server {
	s := &Server{store: c.Store, engine: c.Engine, scheduler: c.Scheduler, followUps: c.FollowUps, webhooks: c.Webhooks, sinks: c.EventSinks, broker: c.Broker, metrics: c.Metrics, log: c.Log, maxBody: c.MaxBodyBytes, now: time.Now,
		docs: newDocuments(c.DocumentDir, c.Log), gates: newGates(c.Admission), tokenMaxTTL: c.TokenMaxTTL, clientCerts: c.RequireClientCertificate}
	if s.maxBody <= 0 {
		s.maxBody = DefaultMaxBodyBytes
	}
	s.background, s.stopBackground = context.WithCancel(context.Background())
	s.live = newLiveStreams(s, MaxLiveStreams, livePoll, cmp.Or(c.LiveRecheck, liveHeartbeat))
	s.sessionIdle, s.sessionMaxAge = c.SessionIdleTimeout, c.SessionMaxAge
	if s.sessionIdle <= 0 {
		s.sessionIdle = DefaultSessionIdleTimeout
	}
	if s.sessionMaxAge <= 0 {
		s.sessionMaxAge = DefaultSessionMaxAge
	}
	s.kdf = make(chan struct{}, runtime.GOMAXPROCS(0))
	s.directorySlots = make(chan struct{}, maxDirectorySignIns)
	s.directories = map[string]*Directory{}
	for i := range c.Directories {
		s.directories[c.Directories[i].Name] = &c.Directories[i]
	}
	s.oidc = map[string]*OIDCProvider{}
	for i := range c.OIDC {
		s.oidc[c.OIDC[i].Name] = &c.OIDC[i]
	}
	s.publicURL = strings.TrimRight(c.PublicURL, "/")
	s.trustedProxies = c.TrustedProxies
	s.crossOrigin = http.NewCrossOriginProtection()
	if s.version = c.Version; s.version == "" {
		s.version = "devel"
	}
	s.node, _ = os.Hostname()
	if s.scheduler == nil {
		s.scheduler, _ = c.Store.(roster.SchedulerStore)
	}
	return s
}

// Close stops the renders of documents and removes their files.
func (s *Server) Close() error {
	s.stopBackground()
	s.backgroundWork.Wait()
	return s.docs.close()
}

// Handler returns the HTTP handler of the API.
func (s *Server) Handler() (http.Handler, error) {
	v, err := newValidator()
	if err != nil {
		return nil, err
	}
	problem := func(w http.ResponseWriter, r *http.Request, err error) { writeProblem(w, r, s.log, err) }
	strict := NewStrictHandlerWithOptions(s, []StrictMiddlewareFunc{s.authorizeOperation}, StrictHTTPServerOptions{
		RequestErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			problem(w, r, roster.Invalid(roster.FieldError{Field: "body", Message: err.Error()}))
		},
		ResponseErrorHandlerFunc: problem,
	})
	mux := http.NewServeMux()
	s.mountAWX(mux)
	s.mountUI(mux)
	mux.HandleFunc("GET "+DevicePath, s.uiPage(s.serveDevicePage))
	mux.HandleFunc("POST "+DevicePath, s.uiPage(s.serveDevicePage))
	h := HandlerWithOptions(strict, StdHTTPServerOptions{
		BaseRouter: mux,
		ErrorHandlerFunc: func(w http.ResponseWriter, r *http.Request, err error) {
			problem(w, r, roster.Invalid(roster.FieldError{Message: err.Error()}))
		},
	})
	var root http.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// Unknown paths and methods get problems too, not net/http's text.
		if _, pattern := mux.Handler(r); pattern == "" {
			if allow := allowedMethods(mux, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				problem(w, r, roster.Errorf(roster.EMETHOD, "%s is not allowed on %s (allowed: %s)", r.Method, r.URL.Path, strings.Join(allow, ", ")))
				return
			}
			problem(w, r, roster.Errorf(roster.ENOTFOUND, "no such endpoint: %s %s", r.Method, r.URL.Path))
			return
		}
		h.ServeHTTP(w, r)
	})
	root = v.middleware(s.authorizeRequest, problem)(root)
	root = joinListFields(root)
	root = s.authenticate(root)
	root = s.serveAWX(mux, root) // AWX's API authenticates as AWX does
	if s.clientCerts {
		root = s.requireClientCertificate(root)
	}
	root = s.limitBody(root)
	root = s.admit(mux, root)
	root = s.recoverPanics(root)
	if s.metrics != nil {
		return securityHeaders(s.withMetrics(mux, s.accessLog(root))), nil
	}
	return securityHeaders(s.accessLog(root)), nil
}

// listFields are the request header fields the API reads that are lists,
// which a client may send over several lines.
var listFields = []string{"Accept-Encoding", "If-None-Match"}

// joinListFields makes each of listFields one line, its lines joined with
// commas (RFC 9110 5.3): the generated code takes one line, and answers
// 400 to more.
func joinListFields(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		for _, name := range listFields {
			if v := r.Header.Values(name); len(v) > 1 {
				r.Header.Set(name, strings.Join(v, ", "))
			}
		}
		next.ServeHTTP(w, r)
	})
}

// secretAnswers are the operations whose answers hold secret material:
// no cache, shared or the client's, may keep them.
var secretAnswers = map[string]bool{
	"IssueCredential": true, "SignSSHKey": true, "CreateToken": true, "CreateCallbackKey": true,
	"Login": true, "GetMe": true, // a session's CSRF token
	"CreateLoginToken": true, "StartDeviceSignIn": true, "FinishDeviceSignIn": true, "StartOIDCSignIn": true, "FinishOIDCSignIn": true,
}

// securityHeaders sets what every answer carries: no browser may guess a
// content type other than the one given (a host var is not HTML).
func securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		next.ServeHTTP(w, r)
	})
}

// withMetrics times the API's requests by the route mux matches and serves
// the metrics at GET MetricsPath, outside the API's authentication and
// OpenAPI validation.
func (s *Server) withMetrics(mux *http.ServeMux, api http.Handler) http.Handler {
	api = s.metrics.Middleware(mux, api)
	scrape := s.accessLog(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			writeProblem(w, r, s.log, roster.Errorf(roster.EMETHOD, "%s is not allowed on %s (allowed: GET, HEAD)", r.Method, MetricsPath))
			return
		}
		s.metrics.Handler().ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == MetricsPath {
			scrape.ServeHTTP(w, r)
			return
		}
		api.ServeHTTP(w, r)
	})
}

// allowedMethods lists the methods the mux serves on r's path.
func allowedMethods(mux *http.ServeMux, r *http.Request) []string {
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := mux.Handler(probe); pattern != "" {
			allow = append(allow, m)
		}
	}
	return allow
}

func (s *Server) authorizeOperation(f StrictHandlerFunc, operationID string) StrictHandlerFunc {
	return func(ctx context.Context, w http.ResponseWriter, r *http.Request, req any) (any, error) {
		if err := authorizeCaller(ctx, operationID); err != nil {
			return nil, err
		}
		return f(ctx, w, r, req)
	}
}

// requireClientCertificate answers 401 to a request without a verified
// client certificate, but for the health checks (MetricsPath is served
// before this handler).
func (s *Server) requireClientCertificate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || (r.TLS != nil && len(r.TLS.VerifiedChains) > 0) {
			next.ServeHTTP(w, r)
			return
		}
		writeProblem(w, r, s.log, roster.Errorf(roster.EUNAUTHORIZED,
			"a TLS client certificate is required: this server takes API requests only from clients presenting a certificate its client CA signed"))
	})
}

func (s *Server) limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ContentLength > s.maxBody {
			writeProblem(w, r, s.log, roster.Errorf(roster.ETOOLARGE, "the request body is larger than %d bytes", s.maxBody))
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, s.maxBody)
		next.ServeHTTP(w, r)
	})
}

func (s *Server) recoverPanics(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("handler panicked", "method", r.Method, "path", loggedPath(r.URL.Path), "panic", v, "stack", string(debug.Stack()))
				writeProblem(w, r, s.log, roster.Errorf(roster.EINTERNAL, "internal error"))
			}
		}()
		next.ServeHTTP(w, r)
	})
}

// statusRecorder remembers the status a handler wrote, for the access log.
type statusRecorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom lets a file reach net/http's ReadFrom, which sends it with
// sendfile(2) where it can.
func (w *statusRecorder) ReadFrom(r io.Reader) (int64, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := io.Copy(w.ResponseWriter, r) // a file's WriteTo ends in the writer's ReadFrom
	w.bytes += n
	return n, err
}

// accessLog logs one line per request: never headers or bodies, which hold
// tokens and secrets, and the path without its query.
func (s *Server) accessLog(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		info := &requestInfo{}
		defer func() { s.logRequest(r, rec, info, start) }() // aborted responses too
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
	})
}

func (s *Server) logRequest(r *http.Request, rec *statusRecorder, info *requestInfo, start time.Time) {
	level := slog.LevelInfo
	if r.URL.Path == "/healthz" || r.URL.Path == "/readyz" || r.URL.Path == MetricsPath {
		level = slog.LevelDebug
	}
	attrs := []any{"method", r.Method, "path", loggedPath(r.URL.Path), "status", rec.status, "bytes", rec.bytes,
		"duration_ms", time.Since(start).Milliseconds()}
	if info.user != "" {
		attrs = append(attrs, "user", info.user)
	}
	if info.token != "" {
		attrs = append(attrs, "token", info.token)
	}
	s.log.Log(r.Context(), level, "http request", attrs...)
}

// callbackPrefix starts the paths whose last segment is a secret: the
// callback key.
const callbackPrefix = "/api/v1/callbacks/"

// loggedPath is a request path fit for the log: whatever follows a
// "callbacks" segment (a callback key) is hidden, whatever the path's
// shape ("/api/v1/callbacks//KEY" and "/api/v1/callbacks/./KEY" are
// redirected, and logged, too), and so is any segment that looks like a
// callback key (a mistyped path).
func loggedPath(p string) string {
	segs := strings.Split(p, "/")
	for i, seg := range segs {
		if strings.EqualFold(seg, "callbacks") && i < len(segs)-1 {
			return strings.Join(segs[:i+1], "/") + "/{key}"
		}
		if strings.HasPrefix(seg, roster.CallbackKeyPrefix) {
			segs[i] = "{key}"
		}
	}
	return strings.Join(segs, "/")
}

// requestInfo carries what inner handlers learn back to the access log.
type requestInfo struct {
	token string
	user  string
}

type requestInfoKey struct{}
