package gcpsim

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// The methods a Server counts requests of (Call.Method, Faults.Methods).
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

// Faults are the failures the server injects. The zero value injects none.
//
// Order of checks for a request that passed authentication (requests
// failing it are rejected, never faulted) and names a project that exists:
//
//  1. Latency is waited (for eligible methods): slow pages.
//  2. DenyProjects: a Compute request for one of these projects answers
//     403 forbidden "Required 'compute.instances.list' permission", which
//     the client does not retry.
//  3. Throttling (eligible methods): ThrottleEvery / ThrottleRate answer
//     429 RESOURCE_EXHAUSTED rateLimitExceeded with a Retry-After header
//     of RetryAfter (rounded up to whole seconds; at least 1).
//  4. Server errors (eligible methods): ErrorEvery / ErrorRate answer
//     503 UNAVAILABLE backendError.
//  5. FailAfterPage: list pages after page FailAfterPage answer 500
//     backendError, every time (so retries do not help).
//
// "Every Nth" counts eligible requests (retries included) since the last
// SetFaults: with ThrottleEvery 3 the 3rd, 6th, 9th ... are throttled. A
// request due both a throttle and an error is throttled. Rates are drawn
// from a generator seeded with Options.Seed.
//
// Eligible methods are Methods, or when it is empty the Compute methods
// (MethodAggregatedList, MethodList, MethodDisks): the token endpoint is
// faulted only when Methods names MethodToken.
type Faults struct {
	// ThrottleEvery throttles every Nth eligible request (0 = never).
	ThrottleEvery int
	// ThrottleRate throttles each eligible request with this probability.
	ThrottleRate float64
	// RetryAfter is the Retry-After a throttled request is told to wait
	// (0 = 1s).
	RetryAfter time.Duration
	// ErrorEvery answers every Nth eligible request with 503 (0 = never).
	ErrorEvery int
	// ErrorRate answers each eligible request with 503 with this
	// probability.
	ErrorRate float64
	// Latency is added to every eligible request before it is answered.
	Latency time.Duration
	// DenyProjects are projects whose Compute requests always fail with 403
	// forbidden, like a project the service account has no role in.
	DenyProjects []string
	// FailAfterPage makes list pages after this one fail with 500 (page 1
	// is the request without pageToken); 0 = never.
	FailAfterPage int
	// Methods limits Latency, throttling and server errors to these
	// methods (MethodAggregatedList, ...); empty = the Compute methods.
	Methods []string
}

// Call identifies requests by method and project ("" for the token
// endpoint).
type Call struct {
	Method  string
	Project string
}

// Stats counts what the server saw since it started (or ResetStats).
type Stats struct {
	// Requests are authenticated requests of known methods for existing
	// projects, including those answered with an injected fault, and
	// every token request that got past its grant-type check.
	Requests map[Call]int
	// Injected are the requests answered with an injected fault.
	Injected map[Call]int
	// InjectedStatus counts injected faults by HTTP status (429, 403, 503,
	// 500).
	InjectedStatus map[int]int
	// Rejected counts requests refused before dispatch (missing, unknown
	// or expired token, insufficient scopes, a bad assertion), by method.
	Rejected map[string]int
	// TokensIssued counts access tokens the token endpoint issued.
	TokensIssued int
}

// Calls sums Requests for method and project; "" matches any.
func (s Stats) Calls(method, project string) int { return sum(s.Requests, method, project) }

// Faulted sums Injected for method and project; "" matches any.
func (s Stats) Faulted(method, project string) int { return sum(s.Injected, method, project) }

func sum(m map[Call]int, method, project string) int {
	n := 0
	for c, v := range m {
		if (method == "" || c.Method == method) && (project == "" || c.Project == project) {
			n += v
		}
	}
	return n
}

// injector applies Faults and keeps Stats.
type injector struct {
	mu      sync.Mutex
	faults  Faults
	denied  map[string]bool
	methods map[string]bool
	count   int // eligible requests since SetFaults
	rng     *rand.Rand
	seed    int64
	stats   Stats
}

func newInjector(seed int64, f Faults) *injector {
	in := &injector{seed: seed}
	in.set(f)
	in.reset()
	return in
}

func (j *injector) set(f Faults) {
	j.mu.Lock()
	defer j.mu.Unlock()
	f.DenyProjects = slices.Clone(f.DenyProjects)
	f.Methods = slices.Clone(f.Methods)
	j.faults = f
	j.denied = map[string]bool{}
	for _, p := range f.DenyProjects {
		j.denied[p] = true
	}
	j.methods = map[string]bool{}
	for _, m := range f.Methods {
		j.methods[m] = true
	}
	if len(j.methods) == 0 {
		j.methods = map[string]bool{MethodAggregatedList: true, MethodList: true, MethodDisks: true}
	}
	j.count = 0
	j.rng = rand.New(rand.NewPCG(uint64(j.seed), 0xfa17))
}

func (j *injector) get() Faults {
	j.mu.Lock()
	defer j.mu.Unlock()
	f := j.faults
	f.DenyProjects = slices.Clone(f.DenyProjects)
	f.Methods = slices.Clone(f.Methods)
	return f
}

func (j *injector) reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats = Stats{Requests: map[Call]int{}, Injected: map[Call]int{}, InjectedStatus: map[int]int{}, Rejected: map[string]int{}}
}

func (j *injector) snapshot() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := Stats{
		Requests:       make(map[Call]int, len(j.stats.Requests)),
		Injected:       make(map[Call]int, len(j.stats.Injected)),
		InjectedStatus: make(map[int]int, len(j.stats.InjectedStatus)),
		Rejected:       make(map[string]int, len(j.stats.Rejected)),
		TokensIssued:   j.stats.TokensIssued,
	}
	for k, v := range j.stats.Requests {
		s.Requests[k] = v
	}
	for k, v := range j.stats.Injected {
		s.Injected[k] = v
	}
	for k, v := range j.stats.InjectedStatus {
		s.InjectedStatus[k] = v
	}
	for k, v := range j.stats.Rejected {
		s.Rejected[k] = v
	}
	return s
}

func (j *injector) rejected(c Call) {
	j.mu.Lock()
	j.stats.Rejected[c.Method]++
	j.mu.Unlock()
}

func (j *injector) issued() {
	j.mu.Lock()
	j.stats.TokensIssued++
	j.mu.Unlock()
}

// admit counts a request, waits the injected latency (or until ctx is
// done) and decides whether it gets a fault other than FailAfterPage.
func (j *injector) admit(ctx context.Context, c Call) *apiError {
	j.mu.Lock()
	j.stats.Requests[c]++
	f := &j.faults
	eligible := j.methods[c.Method]
	var latency time.Duration
	if eligible {
		latency = f.Latency
	}
	var got *apiError
	switch {
	case c.Method != MethodToken && j.denied[c.Project]:
		got = errPermission(c.Project)
	case eligible:
		j.count++
		switch {
		case f.ThrottleEvery > 0 && j.count%f.ThrottleEvery == 0,
			f.ThrottleRate > 0 && j.rng.Float64() < f.ThrottleRate:
			ra := f.RetryAfter
			if ra <= 0 {
				ra = time.Second
			}
			got = errThrottled(c.Project, ra)
		case f.ErrorEvery > 0 && j.count%f.ErrorEvery == 0,
			f.ErrorRate > 0 && j.rng.Float64() < f.ErrorRate:
			got = errServiceUnavailable
		}
	}
	if got != nil {
		j.recordLocked(c, got)
	}
	j.mu.Unlock()
	if latency > 0 {
		t := time.NewTimer(latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	return got
}

// failPage reports whether list page number page must fail, recording the
// fault if so.
func (j *injector) failPage(c Call, page int) *apiError {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.faults.FailAfterPage <= 0 || page <= j.faults.FailAfterPage {
		return nil
	}
	j.recordLocked(c, errInternal)
	return errInternal
}

func (j *injector) recordLocked(c Call, e *apiError) {
	j.stats.Injected[c]++
	j.stats.InjectedStatus[e.code]++
}
