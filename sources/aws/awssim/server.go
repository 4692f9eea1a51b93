package awssim

import (
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// Options configure a Server.
type Options struct {
	// Seed makes the fleet, the issued ids and the fault rates reproducible.
	Seed int64
	// Size is the number of instances generated.
	Size int
	// Regions the fleet spreads over; empty = DefaultRegions. Every one of
	// them is enabled, as are DefaultRegions.
	Regions []string
	// AccessKeys, when not empty, are the only access key ids accepted
	// (plus the temporary keys this server's AssumeRole issued).
	AccessKeys []string
	// AccountID owns the instances and answers GetCallerIdentity;
	// empty = DefaultAccountID.
	AccountID string
	// Faults injected from the start; change them with SetFaults.
	Faults Faults
	// Fleet, when set, is served instead of one generated from Seed, Size
	// and Regions (e.g. to share a large fleet between servers).
	Fleet *Fleet
	// SettleDelay is waited before every response; zero means
	// DefaultSettleDelay, negative means none. See ClientTransport.
	SettleDelay time.Duration
	// Logger receives one debug line per request; nil = discard.
	Logger *slog.Logger
}

// Server simulates EC2 (DescribeRegions, DescribeAvailabilityZones,
// DescribeInstances) and STS (AssumeRole, GetCallerIdentity) over the Query
// protocol on one endpoint serving every region. It is an http.Handler;
// Start serves it, at a url that is the SDK's BaseEndpoint.
type Server struct {
	account string
	fleet   *Fleet
	catalog *regionCatalog
	keys    map[string]bool
	// Controls: SetFaults, Faults, Stats, ResetStats.
	cloudsim.Controls
	// Endpoint: Start.
	cloudsim.Endpoint
	inj    *cloudsim.Injector
	log    *slog.Logger
	settle time.Duration

	mu          sync.Mutex
	issued      map[string]assumedRole // temporary access key id → role
	assumeCalls []AssumeRoleCall
}

// New returns a server for opts.
func New(opts Options) *Server {
	account := opts.AccountID
	if account == "" {
		account = DefaultAccountID
	}
	fleet := opts.Fleet
	if fleet == nil {
		fleet = newFleet(opts.Seed, opts.Size, opts.Regions, account)
	} else {
		account = fleet.account
	}
	log := cloudsim.OrDiscard(opts.Logger)
	s := &Server{
		account: account,
		fleet:   fleet,
		catalog: newRegionCatalog(fleet.Regions()),
		inj:     newInjector(opts.Seed, opts.Faults),
		log:     log,
		issued:  map[string]assumedRole{},
		settle:  opts.SettleDelay,
	}
	s.Controls = s.inj.Controls()
	s.Endpoint = cloudsim.NewEndpoint(cloudsim.Server{Name: "awssim", Handler: s, Logger: s.log})
	if s.settle == 0 {
		s.settle = DefaultSettleDelay
	}
	if len(opts.AccessKeys) > 0 {
		s.keys = map[string]bool{}
		for _, k := range opts.AccessKeys {
			s.keys[k] = true
		}
	}
	return s
}

// Fleet returns the served fleet; mutate it to change what requests see.
func (s *Server) Fleet() *Fleet { return s.fleet }

// AccountID returns the account that owns the instances.
func (s *Server) AccountID() string { return s.account }

// Regions returns the enabled regions, in DescribeRegions order.
func (s *Server) Regions() []string { return slices.Clone(s.catalog.enabled) }

// request is one request being answered.
type request struct {
	cloudsim.Exchange
	s      *Server
	id     string
	sts    bool
	action string
	region string
	akid   string
}

// handler answers an action.
type handler func(*Server, *request)

// The actions each protocol answers.
var (
	ec2Actions = map[string]handler{
		"DescribeInstances":         (*Server).describeInstances,
		"DescribeRegions":           (*Server).describeRegions,
		"DescribeAvailabilityZones": (*Server).describeAvailabilityZones,
	}
	stsActions = map[string]handler{
		"AssumeRole":        (*Server).assumeRole,
		"GetCallerIdentity": (*Server).getCallerIdentity,
	}
)

func isSTSAction(a string) bool { return stsActions[a] != nil }

// ServeHTTP answers one Query API request: authentication and region
// checks, fault injection, then the action.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := &request{Exchange: cloudsim.NewExchange(w, r), s: s, id: cloudsim.RequestID()}
	if r.Method != http.MethodPost && r.Method != http.MethodGet {
		s.inj.Reject("")
		q.fail(http.StatusMethodNotAllowed, "InvalidAction", "The HTTP method "+r.Method+" is not supported.")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
	if err := r.ParseForm(); err != nil {
		s.inj.Reject("")
		q.fail(http.StatusBadRequest, "MalformedQueryString", "The request could not be parsed.")
		return
	}
	q.action = r.Form.Get("Action")
	scope, authOK := parseAuth(r)
	q.region, q.akid = scope.region, scope.akid
	switch scope.service {
	case "sts":
		q.sts = true
	case "ec2":
	default:
		q.sts = isSTSAction(q.action) || r.Form.Get("Version") == "2011-06-15"
	}

	switch {
	case !authOK && q.sts:
		s.reject(q, http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token")
	case !authOK:
		s.reject(q, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	case !s.keyAccepted(scope.akid) && q.sts:
		s.reject(q, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
	case !s.keyAccepted(scope.akid):
		s.reject(q, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	case !s.catalog.isOn[q.region] && q.sts:
		s.reject(q, http.StatusForbidden, "RegionDisabledException",
			"STS is not activated in this region for account:"+s.account+". Your account administrator can activate STS in this region using the IAM Console.")
	case !s.catalog.isOn[q.region]:
		// What EC2 answers for a region the account has not opted into.
		s.reject(q, http.StatusUnauthorized, "AuthFailure", "AWS was not able to validate the provided access credentials")
	case q.action == "" && q.sts:
		s.reject(q, http.StatusBadRequest, "MissingAction", "Missing Action")
	case q.action == "":
		s.reject(q, http.StatusBadRequest, "MissingAction", "The request must contain the parameter Action")
	default:
		s.dispatch(q)
	}
}

func (s *Server) reject(q *request, status int, code, message string) {
	s.inj.Reject("")
	q.fail(status, code, message)
}

func (s *Server) dispatch(q *request) {
	actions := ec2Actions
	if q.sts {
		actions = stsActions
	}
	h := actions[q.action]
	if h == nil {
		msg := "The action " + q.action + " is not valid for this web service."
		if q.sts {
			msg = "Could not find operation " + q.action + " for version 2011-06-15"
		}
		s.reject(q, http.StatusBadRequest, "InvalidAction", msg)
		return
	}
	f, ok := answers.Admit(q.R.Context(), s.inj, Call{Op: q.action, Scope: q.region})
	if !ok {
		return
	}
	if f != nil {
		q.fail(f.status, f.code, f.message)
		return
	}
	if !q.sts && q.R.Form.Get("DryRun") == "true" {
		q.fail(http.StatusPreconditionFailed, "DryRunOperation", "Request would have succeeded, but DryRun flag is set.")
		return
	}
	h(s, q)
}

func (s *Server) keyAccepted(akid string) bool {
	if s.keys == nil || s.keys[akid] {
		return true
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.issued[akid]
	return ok
}

// sigScope is what the simulator reads from a SigV4 signature.
type sigScope struct {
	akid, date, region, service string
}

// parseAuth reads the SigV4 credential scope from the Authorization header
// (or a presigned query). The signature itself is not verified: the
// simulator does not know the secret keys.
func parseAuth(r *http.Request) (sigScope, bool) {
	var cred, signed, sig string
	if h := r.Header.Get("Authorization"); h != "" {
		rest, ok := strings.CutPrefix(h, "AWS4-HMAC-SHA256 ")
		if !ok {
			return sigScope{}, false
		}
		for part := range strings.SplitSeq(rest, ",") {
			k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
			switch k {
			case "Credential":
				cred = v
			case "SignedHeaders":
				signed = v
			case "Signature":
				sig = v
			}
		}
	} else if q := r.URL.Query(); q.Get("X-Amz-Algorithm") == "AWS4-HMAC-SHA256" {
		cred, signed, sig = q.Get("X-Amz-Credential"), q.Get("X-Amz-SignedHeaders"), q.Get("X-Amz-Signature")
	}
	parts := strings.Split(cred, "/")
	if len(parts) != 5 || parts[0] == "" || len(parts[1]) != 8 || parts[2] == "" || parts[3] == "" || parts[4] != "aws4_request" {
		return sigScope{}, false
	}
	if _, err := strconv.Atoi(parts[1]); err != nil {
		return sigScope{}, false
	}
	if !slices.Contains(strings.Split(signed, ";"), "host") || len(sig) != 64 || strings.Trim(sig, "0123456789abcdef") != "" {
		return sigScope{}, false
	}
	return sigScope{akid: parts[0], date: parts[1], region: parts[2], service: parts[3]}, true
}

// fail answers with an error in the protocol of the request.
func (q *request) fail(status int, code, message string) {
	w := getW()
	defer putW(w)
	if q.sts {
		typ := "Sender"
		if status >= 500 {
			typ = "Receiver"
		}
		w.stsError(typ, code, message, q.id)
	} else {
		w.ec2Error(code, message, q.id)
	}
	q.write(status, w.b, code)
}

// ok answers 200 with body.
func (q *request) ok(body []byte) { q.write(http.StatusOK, body, "") }

func (q *request) write(status int, body []byte, code string) {
	if d := q.s.settle; d > 0 {
		time.Sleep(d)
	}
	q.W.Header().Set("X-Amzn-Requestid", q.id)
	q.Reply(status, "text/xml;charset=UTF-8", body)
	q.s.log.Debug("awssim request", "action", q.action, "region", q.region, "status", status,
		"code", code, "bytes", len(body), "duration", q.Elapsed())
}
