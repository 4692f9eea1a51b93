package awssim

import (
	"github.com/rosterhq/roster/internal/cloudsim"
)

// Faults are the failures the server injects, the chassis's knobs shared
// by every simulator (see cloudsim.Faults). The zero value injects none.
// In EC2's terms:
//
//  1. Latency is waited (for eligible actions).
//  2. DenyScopes are regions: an EC2 request signed for one of them answers
//     403 UnauthorizedOperation (not retried by the SDK), like a region
//     denied by an organisation policy. STS requests are not affected.
//  3. Throttling (eligible actions) answers 503 RequestLimitExceeded
//     (retried by the SDK's standard retryer).
//  4. Server errors (eligible actions) answer 500 InternalError and 503
//     Unavailable alternately, InternalError first (both retried).
//  5. FailAfterPage: DescribeInstances pages after that one answer 500
//     InternalError. Only paginated requests (MaxResults set) have a
//     second page.
//
// Ops names actions (e.g. "DescribeInstances"); empty = every action,
// STS included.
type Faults = cloudsim.Faults

// Call identifies requests by action (Op) and region (Scope, the region
// of the request's credential scope).
type Call = cloudsim.Call

// Stats counts what the server saw since it started (or ResetStats):
// Requests are authenticated requests of known actions in enabled
// regions; Rejected counts requests refused before dispatch (missing or
// bad signature, unknown access key, disabled region, unknown action);
// InjectedCodes counts by error code (RequestLimitExceeded,
// InternalError, Unavailable, UnauthorizedOperation).
type Stats = cloudsim.Stats

func newInjector(seed int64, f Faults) *cloudsim.Injector {
	return cloudsim.NewInjector(seed, f, cloudsim.Policy{
		Deniable: func(c Call) bool { return !isSTSAction(c.Op) },
	})
}

// fault is an injected failure.
type fault struct {
	status  int
	code    string
	message string
}

var (
	faultThrottle    = &fault{503, "RequestLimitExceeded", "Request limit exceeded."}
	faultInternal    = &fault{500, "InternalError", "An internal error has occurred."}
	faultUnavailable = &fault{503, "Unavailable", "The server is overloaded and can't handle the request."}
	faultDenied      = &fault{403, "UnauthorizedOperation", "You are not authorized to perform this operation."}
)

func (f *fault) Status() int  { return f.status }
func (f *fault) Code() string { return f.code }

// answers are the chassis's verdicts in EC2's terms.
var answers = cloudsim.Renderer[*fault]{
	Deny:     func(Call) *fault { return faultDenied },
	Throttle: func(Call, cloudsim.Verdict) *fault { return faultThrottle },
	Errors:   []*fault{faultInternal, faultUnavailable},
	Page:     faultInternal,
}
