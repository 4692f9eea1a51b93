package azuresim

import (
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Operations the server answers, as Stats and Faults.Operations name them.
const (
	OpOpenIDConfiguration = "identity.openidConfiguration"
	OpInstanceDiscovery   = "identity.instanceDiscovery"
	OpToken               = "identity.token"

	OpVMListAll              = "virtualMachines.listAll"
	OpVMListAllStatus        = "virtualMachines.listAll(statusOnly)"
	OpVMList                 = "virtualMachines.list"
	OpVMInstanceView         = "virtualMachines.instanceView"
	OpScaleSetListAll        = "virtualMachineScaleSets.listAll"
	OpScaleSetList           = "virtualMachineScaleSets.list"
	OpScaleSetVMList         = "virtualMachineScaleSetVMs.list"
	OpScaleSetVMInstanceView = "virtualMachineScaleSetVMs.getInstanceView"
	OpNICListAll             = "networkInterfaces.listAll"
	OpNICList                = "networkInterfaces.list"
	OpNICListScaleSet        = "networkInterfaces.listVirtualMachineScaleSetNetworkInterfaces"
	OpNICListScaleSetVM      = "networkInterfaces.listVirtualMachineScaleSetVMNetworkInterfaces"
	OpNICGet                 = "networkInterfaces.get"
	OpNICGetScaleSetVM       = "networkInterfaces.getVirtualMachineScaleSetNetworkInterface"
	OpPublicIPListAll        = "publicIPAddresses.listAll"
	OpPublicIPList           = "publicIPAddresses.list"
	OpPublicIPListScale      = "publicIPAddresses.listVirtualMachineScaleSetPublicIPAddresses"
	OpPublicIPGet            = "publicIPAddresses.get"
	OpPublicIPGetScaleSetVM  = "publicIPAddresses.getVirtualMachineScaleSetPublicIPAddress"
)

// isIdentity reports whether op is one of the identity endpoint's.
func isIdentity(op string) bool { return strings.HasPrefix(op, "identity.") }

// Faults are the failures the server injects. The zero value injects none.
//
// Order of checks for an authenticated ARM request of a known operation on
// a known subscription (requests failing those checks are rejected, never
// faulted):
//
//  1. Latency is waited (eligible operations): slow pages.
//  2. FailSubscriptions: every ARM request on one of these subscriptions
//     answers 403 AuthorizationFailed (not retried by the SDK).
//  3. Throttling (eligible operations): ThrottleEvery / ThrottleRate answer
//     429 with ARM's SubscriptionRequestsThrottled error and a Retry-After
//     header (retried by the SDK after that delay).
//  4. Server errors (eligible operations): ErrorEvery / ErrorRate answer
//     500 InternalServerError and 503 ServiceUnavailable alternately,
//     InternalServerError first (both retried).
//  5. FailAfterPage: pages of a list after page FailAfterPage answer 500
//     InternalServerError every time (so retries do not help).
//
// Identity requests (token, OpenID configuration, instance discovery) are
// eligible for latency, throttling and errors only when named in
// Operations; the ARM operations are eligible when Operations is empty or
// names them.
// "Every Nth" counts eligible requests (retries included) from the last
// SetFaults. Rates are drawn from a generator seeded with Options.Seed.
type Faults struct {
	// ThrottleEvery throttles every Nth eligible request (0 = never).
	ThrottleEvery int
	// ThrottleRate throttles each eligible request with this probability.
	ThrottleRate float64
	// RetryAfter is the delay a throttled answer asks for (0 = 1s). ARM
	// sends whole seconds in Retry-After; a delay that is not a whole
	// number of seconds is also sent in milliseconds as
	// x-ms-retry-after-ms, which the Azure SDK prefers, so tests can
	// throttle without waiting seconds.
	RetryAfter time.Duration
	// ErrorEvery answers every Nth eligible request with a 5xx (0 = never).
	ErrorEvery int
	// ErrorRate answers each eligible request with a 5xx with this
	// probability.
	ErrorRate float64
	// Latency is added to every eligible request before it is answered.
	Latency time.Duration
	// FailSubscriptions always answer 403 AuthorizationFailed, like a
	// subscription the service principal has no role on.
	FailSubscriptions []string
	// FailAfterPage makes list pages after this one fail (page 1 is the
	// request without $skiptoken); 0 = never.
	FailAfterPage int
	// Operations limits Latency, throttling, server errors and
	// FailAfterPage to these operations (the Op constants); empty = every
	// ARM operation.
	Operations []string
}

// Call identifies requests by operation and subscription ("" for the
// identity endpoints).
type Call struct {
	Operation    string
	Subscription string
}

// Stats counts what the server saw since it started (or ResetStats).
type Stats struct {
	// Requests are requests of known operations that passed
	// authentication, including those answered with an injected fault.
	Requests map[Call]int
	// Injected are the requests answered with an injected fault.
	Injected map[Call]int
	// InjectedCodes counts injected faults by error code.
	InjectedCodes map[string]int
	// Rejected counts requests refused before dispatch: no or a bad
	// token, a wrong client secret, an unknown subscription, tenant or
	// path, a missing api-version.
	Rejected int
	// Tokens counts the access tokens issued.
	Tokens int
}

// Calls sums Requests for an operation and a subscription; "" matches any.
func (s Stats) Calls(op, subscription string) int { return sum(s.Requests, op, subscription) }

// Faulted sums Injected for an operation and a subscription; "" matches
// any.
func (s Stats) Faulted(op, subscription string) int { return sum(s.Injected, op, subscription) }

// Total is the number of HTTP requests the server answered, rejected ones
// included.
func (s Stats) Total() int { return s.Calls("", "") + s.Rejected }

func sum(m map[Call]int, op, sub string) int {
	n := 0
	for c, v := range m {
		if (op == "" || c.Operation == op) && (sub == "" || strings.EqualFold(c.Subscription, sub)) {
			n += v
		}
	}
	return n
}

// injector applies Faults and keeps Stats.
type injector struct {
	mu       sync.Mutex
	faults   Faults
	failing  map[string]bool
	ops      map[string]bool
	count    int
	errCount int
	rng      *rand.Rand
	seed     int64
	stats    Stats
}

func newInjector(seed int64, f Faults) *injector {
	j := &injector{seed: seed}
	j.set(f)
	j.reset()
	return j
}

func (j *injector) set(f Faults) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f.FailSubscriptions = slices.Clone(f.FailSubscriptions)
	f.Operations = slices.Clone(f.Operations)
	j.faults = f
	j.failing = map[string]bool{}
	for _, s := range f.FailSubscriptions {
		j.failing[strings.ToLower(s)] = true
	}
	j.ops = map[string]bool{}
	for _, o := range f.Operations {
		j.ops[o] = true
	}
	j.count, j.errCount = 0, 0
	j.rng = rand.New(rand.NewPCG(uint64(j.seed), 0xfa17))
}

func (j *injector) get() Faults {
	j.mu.Lock()
	defer j.mu.Unlock()
	f := j.faults
	f.FailSubscriptions = slices.Clone(f.FailSubscriptions)
	f.Operations = slices.Clone(f.Operations)
	return f
}

func (j *injector) reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats = Stats{Requests: map[Call]int{}, Injected: map[Call]int{}, InjectedCodes: map[string]int{}}
}

func (j *injector) snapshot() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := Stats{
		Requests:      make(map[Call]int, len(j.stats.Requests)),
		Injected:      make(map[Call]int, len(j.stats.Injected)),
		InjectedCodes: make(map[string]int, len(j.stats.InjectedCodes)),
		Rejected:      j.stats.Rejected,
		Tokens:        j.stats.Tokens,
	}
	for k, v := range j.stats.Requests {
		s.Requests[k] = v
	}
	for k, v := range j.stats.Injected {
		s.Injected[k] = v
	}
	for k, v := range j.stats.InjectedCodes {
		s.InjectedCodes[k] = v
	}
	return s
}

func (j *injector) rejected() {
	j.mu.Lock()
	j.stats.Rejected++
	j.mu.Unlock()
}

func (j *injector) tokenIssued() {
	j.mu.Lock()
	j.stats.Tokens++
	j.mu.Unlock()
}

// fault is an injected failure.
type fault struct {
	status     int
	code       string
	message    string
	retryAfter time.Duration
}

var (
	faultInternal    = &fault{status: http.StatusInternalServerError, code: "InternalServerError", message: "Encountered internal server error. Diagnostic information: timestamp '20250601T000000Z', subscription id '', tracking id '', request correlation id ''."}
	faultUnavailable = &fault{status: http.StatusServiceUnavailable, code: "ServiceUnavailable", message: "The server is currently unable to handle the request due to a temporary overloading or maintenance of the server. Please try again later."}
)

func throttleFault(sub string, after time.Duration) *fault {
	return &fault{
		status:     http.StatusTooManyRequests,
		code:       "SubscriptionRequestsThrottled",
		message:    "Number of 'read' requests for subscription '" + sub + "' actor 'roster' exceeded. Please try again after '" + retrySeconds(after) + "' seconds after additional '1' requests.",
		retryAfter: after,
	}
}

func deniedFault(sub, op string) *fault {
	action := "Microsoft.Compute/virtualMachines/read"
	if strings.HasPrefix(op, "networkInterfaces") {
		action = "Microsoft.Network/networkInterfaces/read"
	} else if strings.HasPrefix(op, "publicIPAddresses") {
		action = "Microsoft.Network/publicIPAddresses/read"
	} else if strings.HasPrefix(op, "virtualMachineScaleSet") {
		action = "Microsoft.Compute/virtualMachineScaleSets/read"
	}
	return &fault{
		status: http.StatusForbidden,
		code:   "AuthorizationFailed",
		message: "The client '" + DefaultClientID + "' with object id '" + DefaultClientID + "' does not have authorization to perform action '" + action +
			"' over scope '/subscriptions/" + sub + "' or the scope is invalid. If access was recently granted, please refresh your credentials.",
	}
}

// admit counts a request and decides whether it gets a fault (other than
// FailAfterPage). It returns the latency to wait first.
func (j *injector) admit(c Call) (time.Duration, *fault) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats.Requests[c]++
	f := &j.faults
	eligible := j.ops[c.Operation] || len(j.ops) == 0 && !isIdentity(c.Operation)
	var latency time.Duration
	if eligible {
		latency = f.Latency
	}
	var got *fault
	switch {
	case !isIdentity(c.Operation) && j.failing[strings.ToLower(c.Subscription)]:
		got = deniedFault(c.Subscription, c.Operation)
	case eligible:
		j.count++
		switch {
		case f.ThrottleEvery > 0 && j.count%f.ThrottleEvery == 0,
			f.ThrottleRate > 0 && j.rng.Float64() < f.ThrottleRate:
			after := f.RetryAfter
			if after <= 0 {
				after = time.Second
			}
			got = throttleFault(c.Subscription, after)
		case f.ErrorEvery > 0 && j.count%f.ErrorEvery == 0,
			f.ErrorRate > 0 && j.rng.Float64() < f.ErrorRate:
			j.errCount++
			got = faultInternal
			if j.errCount%2 == 0 {
				got = faultUnavailable
			}
		}
	}
	if got != nil {
		j.recordLocked(c, got)
	}
	return latency, got
}

// failPage reports whether page number page of a list must fail,
// recording the fault if so.
func (j *injector) failPage(c Call, page int) *fault {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.faults.FailAfterPage <= 0 || page <= j.faults.FailAfterPage || len(j.ops) > 0 && !j.ops[c.Operation] {
		return nil
	}
	j.recordLocked(c, faultInternal)
	return faultInternal
}

func (j *injector) recordLocked(c Call, f *fault) {
	j.stats.Injected[c]++
	j.stats.InjectedCodes[f.code]++
}
