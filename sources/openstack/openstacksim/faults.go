package openstacksim

import (
	"net/http"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// Operations, as Stats and Faults.Ops name them.
const (
	OpVersions = "versions" // GET of a version document (Keystone, Nova, Glance)
	OpAuth     = "auth"     // POST /v3/auth/tokens
	OpServers  = "servers"  // GET servers/detail
	OpFlavors  = "flavors"  // GET flavors/detail
	OpImages   = "images"   // GET /v2/images
)

// Faults are the failures the server injects, the chassis's knobs shared
// by every simulator (see cloudsim.Faults). The zero value injects none.
// In OpenStack's terms, for a request to a known route (requests with a
// missing, unknown or expired token are refused with 401 first, and never
// faulted):
//
//  1. Latency is waited (eligible operations).
//  2. DenyScopes are regions: every compute and image request of these
//     regions answers 503, version documents included.
//  3. ExpireTokensAfter: a token that has served that many compute and
//     image requests is refused with 401 from then on, as a token expiring
//     mid-pagination is; the client must authenticate again. Clients
//     sharing one token concurrently need it above their concurrency:
//     gophercloud retries a request once after re-authenticating, and the
//     others may use the fresh token up first.
//  4. Throttling (eligible operations) answers "over limit":
//     ThrottleStatus 413 (the default, as Nova's legacy rate limiting did)
//     or 429, with a Retry-After header of RetryAfter in whole seconds.
//  5. Server errors (eligible operations) answer 503.
//  6. FailAfterPage: servers/detail pages after that one answer 500.
//
// Ops names operations (OpServers, OpAuth, ...); empty = every operation.
type Faults = cloudsim.Faults

// Call identifies requests by operation (Op) and region (Scope; "" for
// Keystone).
type Call = cloudsim.Call

// Stats counts what the server saw since it started (or ResetStats):
// Requests are the requests of known routes that got past token checks;
// InjectedStatus counts injected faults by HTTP status; TokensIssued
// counts successful authentications, AuthFailures those refused with 401;
// Rejected counts service requests refused with 401 (missing, unknown or
// expired token), Expired those caused by ExpireTokensAfter or TokenTTL.
type Stats = cloudsim.Stats

func newInjector(seed int64, f Faults) *cloudsim.Injector {
	return cloudsim.NewInjector(seed, f, cloudsim.Policy{})
}

// fault is an injected failure.
type fault struct {
	status     int
	retryAfter int // seconds; 0 = no header
}

func (f *fault) Status() int  { return f.status }
func (f *fault) Code() string { return "" }

var unavailable = &fault{status: http.StatusServiceUnavailable}

// answers are the chassis's verdicts in OpenStack's terms: a denied region
// is down.
var answers = cloudsim.Renderer[*fault]{
	Deny: func(Call) *fault { return unavailable },
	Throttle: func(_ Call, v cloudsim.Verdict) *fault {
		f := &fault{status: http.StatusRequestEntityTooLarge, retryAfter: cloudsim.RetryAfterSeconds(v.RetryAfter)}
		if v.Status == http.StatusTooManyRequests {
			f.status = v.Status
		}
		return f
	},
	Errors: []*fault{unavailable},
	Page:   &fault{status: http.StatusInternalServerError},
}
