package gcpsim

import "github.com/rosterhq/roster/internal/cloudsim"

// The methods a Server counts requests of (Call.Op, Faults.Ops).
const (
	// MethodAggregatedList is GET .../projects/P/aggregated/instances.
	MethodAggregatedList = "instances.aggregatedList"
	// MethodList is GET .../projects/P/zones/Z/instances.
	MethodList = "instances.list"
	// MethodDisks is GET .../projects/P/aggregated/disks.
	MethodDisks = "disks.aggregatedList"
	// MethodToken is POST /token, the OAuth2 token endpoint.
	MethodToken = "token"
)

// Faults are the failures the server injects, the chassis's knobs shared
// by every simulator (see cloudsim.Faults). The zero value injects none.
// In Compute Engine's terms:
//
//  1. Latency is waited (for eligible methods): slow pages.
//  2. DenyScopes are projects: a Compute request for one of them answers
//     403 forbidden "Required 'compute.instances.list' permission", which
//     the client does not retry, like a project the service account has
//     no role in.
//  3. Throttling (eligible methods) answers 429 RESOURCE_EXHAUSTED
//     rateLimitExceeded with a Retry-After header of RetryAfter (rounded
//     up to whole seconds; at least 1).
//  4. Server errors (eligible methods) answer 503 UNAVAILABLE
//     backendError.
//  5. FailAfterPage: list pages after that one answer 500 backendError.
//
// Eligible methods are Ops, or when it is empty the Compute methods
// (MethodAggregatedList, MethodList, MethodDisks): the token endpoint is
// faulted only when Ops names MethodToken.
type Faults = cloudsim.Faults

// Call identifies requests by method (Op) and project (Scope; "" for the
// token endpoint).
type Call = cloudsim.Call

// Stats counts what the server saw since it started (or ResetStats):
// Requests are authenticated requests of known methods for existing
// projects, and every token request that got past its grant-type check;
// RejectedOps counts by method the requests refused before dispatch
// (missing, unknown or expired token, insufficient scopes, a bad
// assertion); InjectedStatus counts injected faults by HTTP status (429,
// 403, 503, 500).
type Stats = cloudsim.Stats

func newInjector(seed int64, f Faults) *cloudsim.Injector {
	return cloudsim.NewInjector(seed, f, cloudsim.Policy{
		DefaultOps: func(op string) bool { return op != MethodToken },
	})
}

// Status is the HTTP status (e.code; e.status is the google.rpc.Code name).
func (e *apiError) Status() int  { return e.code }
func (e *apiError) Code() string { return e.reason }

// answers are the chassis's verdicts in Compute's terms.
var answers = cloudsim.Renderer[*apiError]{
	Deny:     func(c Call) *apiError { return errPermission(c.Scope) },
	Throttle: func(c Call, v cloudsim.Verdict) *apiError { return errThrottled(c.Scope, v.RetryAfter) },
	Errors:   []*apiError{errServiceUnavailable},
	Page:     errInternal,
}
