package cloudsim

import (
	"context"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"
)

// Faults are the failures a simulator injects, the same knobs for every
// cloud. The zero value injects none.
//
// Order of checks for a request that passed the cloud's own
// authentication and routing (requests failing those are rejected, never
// faulted):
//
//  1. Latency is waited (eligible operations): slow pages.
//  2. DenyScopes: a request whose scope (region, project, subscription)
//     is listed answers the cloud's permission error, every time.
//  3. Throttling (eligible operations): ThrottleEvery / ThrottleRate
//     answer the cloud's rate-limit error, with RetryAfter where the wire
//     has a Retry-After.
//  4. Server errors (eligible operations): ErrorEvery / ErrorRate answer
//     the cloud's 5xx.
//  5. FailAfterPage: list pages after page FailAfterPage of an eligible
//     operation answer 500, every time (so retries do not help).
//
// "Every Nth" counts eligible requests (retries included) since the last
// SetFaults: with ThrottleEvery 3 the 3rd, 6th, 9th ... are throttled. A
// request due both a throttle and an error is throttled. Rates are drawn
// from a generator seeded with the simulator's seed, so a run repeats.
type Faults struct {
	// Latency is added to every eligible request before it is answered.
	Latency time.Duration
	// ThrottleEvery throttles every Nth eligible request (0 = never).
	ThrottleEvery int
	// ThrottleRate throttles each eligible request with this probability.
	ThrottleRate float64
	// ThrottleStatus is the status of a throttled answer where the cloud
	// has a choice (OpenStack: 413, the default, or 429); others ignore it.
	ThrottleStatus int
	// RetryAfter is the delay a throttled answer asks for (0 = 1s); sent
	// in whole seconds, rounded up, where the wire has Retry-After.
	RetryAfter time.Duration
	// ErrorEvery answers every Nth eligible request with a 5xx (0 = never).
	ErrorEvery int
	// ErrorRate answers each eligible request with a 5xx with this
	// probability.
	ErrorRate float64
	// DenyScopes are scopes (AWS and OpenStack regions, GCP projects,
	// Azure subscriptions; matched without regard to case) whose requests
	// always answer the cloud's permission or availability error.
	DenyScopes []string
	// FailAfterPage makes list pages after this one fail (page 1 is the
	// request without a page token); 0 = never.
	FailAfterPage int
	// ExpireTokensAfter refuses an access token once it has served this
	// many requests (0 = never), for clouds whose clients authenticate
	// again (OpenStack); others ignore it.
	ExpireTokensAfter int
	// Ops limits Latency, throttling, server errors and FailAfterPage to
	// these operations (the simulator's operation names); empty = the
	// simulator's default set (see its package doc).
	Ops []string
}

func (f Faults) clone() Faults {
	f.DenyScopes = slices.Clone(f.DenyScopes)
	f.Ops = slices.Clone(f.Ops)
	return f
}

// retryAfter is RetryAfter with its default.
func (f Faults) retryAfter() time.Duration {
	if f.RetryAfter <= 0 {
		return time.Second
	}
	return f.RetryAfter
}

// Call identifies requests by operation and scope (region, project,
// subscription; "" for a cloud's identity endpoints).
type Call struct {
	Op    string
	Scope string
}

// Stats counts what a simulator saw since it started (or ResetStats).
type Stats struct {
	// Requests are requests of known operations that passed the cloud's
	// authentication, including those answered with an injected fault.
	Requests map[Call]int
	// Injected are the requests answered with an injected fault.
	Injected map[Call]int
	// InjectedStatus counts injected faults by HTTP status.
	InjectedStatus map[int]int
	// InjectedCodes counts injected faults by the cloud's error code
	// (RequestLimitExceeded, SubscriptionRequestsThrottled, rateLimitExceeded,
	// ...), for clouds whose errors carry one.
	InjectedCodes map[string]int
	// Rejected counts requests refused before dispatch (no or a bad
	// credential, an unknown route or scope, an expired token).
	Rejected int
	// RejectedOps counts Rejected by operation, where the simulator knew
	// it.
	RejectedOps map[string]int
	// TokensIssued counts the access tokens the identity endpoint issued.
	TokensIssued int
	// AuthFailures counts authentications the identity endpoint refused,
	// for simulators that count them apart from Rejected (OpenStack).
	AuthFailures int
	// Expired counts the requests refused because their token expired.
	Expired int
}

// Calls sums Requests for op and scope; "" matches any.
func (s Stats) Calls(op, scope string) int { return sum(s.Requests, op, scope) }

// Faulted sums Injected for op and scope; "" matches any.
func (s Stats) Faulted(op, scope string) int { return sum(s.Injected, op, scope) }

// Total is the number of requests answered, rejected ones included.
func (s Stats) Total() int { return s.Calls("", "") + s.Rejected }

func sum(m map[Call]int, op, scope string) int {
	n := 0
	for c, v := range m {
		if (op == "" || c.Op == op) && (scope == "" || strings.EqualFold(c.Scope, scope)) {
			n += v
		}
	}
	return n
}

func (s Stats) clone() Stats {
	s.Requests = cloneMap(s.Requests)
	s.Injected = cloneMap(s.Injected)
	s.InjectedStatus = cloneMap(s.InjectedStatus)
	s.InjectedCodes = cloneMap(s.InjectedCodes)
	s.RejectedOps = cloneMap(s.RejectedOps)
	return s
}

func cloneMap[K comparable](m map[K]int) map[K]int {
	out := make(map[K]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// Policy is what differs between clouds in who is faulted; everything
// else about Faults is the chassis's.
type Policy struct {
	// DefaultOps reports whether op is eligible when Faults.Ops is empty;
	// nil = every operation.
	DefaultOps func(op string) bool
	// Deniable reports whether DenyScopes applies to c; nil = every call
	// with a scope.
	Deniable func(c Call) bool
}

// Kind is the fault a request is due.
type Kind int

// The kinds of injected fault Admit decides; each cloud renders them in
// its wire format.
const (
	None Kind = iota
	Deny
	Throttle
	Error
)

// Verdict is Admit's decision.
type Verdict struct {
	Kind Kind
	// RetryAfter is the delay a Throttle asks for.
	RetryAfter time.Duration
	// Status is Faults.ThrottleStatus for a Throttle.
	Status int
	// Nth numbers the Errors injected since SetFaults (1, 2, ...), for
	// clouds that alternate their 5xx answers.
	Nth int
}

// Injector applies Faults for one simulator and keeps its Stats. It is
// safe for concurrent use.
type Injector struct {
	policy Policy
	seed   int64

	mu       sync.Mutex
	faults   Faults
	denied   map[string]bool // lower-cased DenyScopes
	ops      map[string]bool
	count    int // eligible requests since Set
	errCount int // errors injected since Set
	rng      *rand.Rand
	stats    Stats
}

// NewInjector returns an injector of f; seed makes the rates reproducible.
func NewInjector(seed int64, f Faults, p Policy) *Injector {
	j := &Injector{seed: seed, policy: p}
	j.Set(f)
	j.ResetStats()
	return j
}

// Set replaces the faults and restarts their counters and generator.
func (j *Injector) Set(f Faults) {
	f = f.clone()
	j.mu.Lock()
	defer j.mu.Unlock()
	j.faults = f
	j.denied = map[string]bool{}
	for _, s := range f.DenyScopes {
		j.denied[strings.ToLower(s)] = true
	}
	j.ops = map[string]bool{}
	for _, o := range f.Ops {
		j.ops[o] = true
	}
	j.count, j.errCount = 0, 0
	j.rng = rand.New(rand.NewPCG(uint64(j.seed), 0xfa17))
}

// Faults returns the faults in force.
func (j *Injector) Faults() Faults {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.faults.clone()
}

// Stats returns a snapshot of the counters.
func (j *Injector) Stats() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.stats.clone()
}

// ResetStats zeroes the counters.
func (j *Injector) ResetStats() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats = Stats{}.clone()
}

// Reject counts a request refused before dispatch; op may be "".
func (j *Injector) Reject(op string) {
	j.Count(func(s *Stats) {
		s.Rejected++
		if op != "" {
			s.RejectedOps[op]++
		}
	})
}

// Count changes the plain counters (TokensIssued, AuthFailures, ...)
// under the injector's lock.
func (j *Injector) Count(fn func(*Stats)) {
	j.mu.Lock()
	defer j.mu.Unlock()
	fn(&j.stats)
}

// eligible reports whether op gets latency, throttling, errors and page
// failures. Called with mu held.
func (j *Injector) eligible(op string) bool {
	if len(j.ops) > 0 {
		return j.ops[op]
	}
	return j.policy.DefaultOps == nil || j.policy.DefaultOps(op)
}

func (j *Injector) deniable(c Call) bool {
	if j.policy.Deniable != nil {
		return j.policy.Deniable(c)
	}
	return c.Scope != ""
}

// Admit counts c, decides whether it is due a fault (other than
// FailAfterPage) and waits the latency. ok is false when ctx ended while
// waiting: the client is gone and nothing is to be answered. The caller
// renders a fault in its wire format and counts it with Record.
func (j *Injector) Admit(ctx context.Context, c Call) (v Verdict, ok bool) {
	latency, v := j.decide(c)
	if latency <= 0 {
		return v, true
	}
	t := time.NewTimer(latency)
	defer t.Stop()
	select {
	case <-t.C:
		return v, true
	case <-ctx.Done():
		return v, false
	}
}

func (j *Injector) decide(c Call) (time.Duration, Verdict) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats.Requests[c]++
	f := &j.faults
	eligible := j.eligible(c.Op)
	var latency time.Duration
	if eligible {
		latency = f.Latency
	}
	switch {
	case j.deniable(c) && j.denied[strings.ToLower(c.Scope)]:
		return latency, Verdict{Kind: Deny}
	case !eligible:
		return latency, Verdict{}
	}
	j.count++
	switch {
	case f.ThrottleEvery > 0 && j.count%f.ThrottleEvery == 0,
		f.ThrottleRate > 0 && j.rng.Float64() < f.ThrottleRate:
		return latency, Verdict{Kind: Throttle, RetryAfter: f.retryAfter(), Status: f.ThrottleStatus}
	case f.ErrorEvery > 0 && j.count%f.ErrorEvery == 0,
		f.ErrorRate > 0 && j.rng.Float64() < f.ErrorRate:
		j.errCount++
		return latency, Verdict{Kind: Error, Nth: j.errCount}
	}
	return latency, Verdict{}
}

// Record counts a fault injected into c, answered with status and the
// cloud's error code ("" where its errors have none).
func (j *Injector) Record(c Call, status int, code string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.recordLocked(c, status, code)
}

func (j *Injector) recordLocked(c Call, status int, code string) {
	j.stats.Injected[c]++
	j.stats.InjectedStatus[status]++
	if code != "" {
		j.stats.InjectedCodes[code]++
	}
}

// FailPage reports whether list page number page (1 = the first) of c
// must fail under FailAfterPage, counting the fault (status, code) if so.
func (j *Injector) FailPage(c Call, page, status int, code string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.faults.FailAfterPage <= 0 || page <= j.faults.FailAfterPage || !j.eligible(c.Op) {
		return false
	}
	j.recordLocked(c, status, code)
	return true
}

// RetryAfterSeconds is d in whole seconds for a Retry-After header,
// rounded up, at least 1.
func RetryAfterSeconds(d time.Duration) int {
	s := int((d + time.Second - 1) / time.Second)
	return max(s, 1)
}

// Controls are the methods every simulator's Server offers its tests to
// steer and read the injector; a Server embeds them.
type Controls struct{ inj *Injector }

// Controls returns the controls of j.
func (j *Injector) Controls() Controls { return Controls{j} }

// SetFaults replaces the injected faults and restarts their counters.
func (c Controls) SetFaults(f Faults) { c.inj.Set(f) }

// Faults returns the faults in force.
func (c Controls) Faults() Faults { return c.inj.Faults() }

// Stats returns a snapshot of the request counters.
func (c Controls) Stats() Stats { return c.inj.Stats() }

// ResetStats zeroes the request counters.
func (c Controls) ResetStats() { c.inj.ResetStats() }

// Fault is an injected failure as a simulator answers it.
type Fault interface {
	// Status is the HTTP status of the answer.
	Status() int
	// Code is the cloud's error code, "" where its errors have none.
	Code() string
}

// Renderer is how one cloud answers the chassis's verdicts: the part of
// fault injection that is its wire format.
type Renderer[F Fault] struct {
	// Deny answers a call to a denied scope.
	Deny func(Call) F
	// Throttle answers a throttled call (Verdict.RetryAfter, .Status).
	Throttle func(Call, Verdict) F
	// Errors are the server errors, answered in turn (AWS and Azure
	// alternate a 500 and a 503).
	Errors []F
	// Page answers a page failed by FailAfterPage.
	Page F
}

// Admit admits c on j (see Injector.Admit) and renders and counts the
// fault it is due; f is the zero F when none is. ok is false when the
// client went away.
func (r Renderer[F]) Admit(ctx context.Context, j *Injector, c Call) (f F, ok bool) {
	v, ok := j.Admit(ctx, c)
	switch v.Kind {
	case None:
		return f, ok
	case Deny:
		f = r.Deny(c)
	case Throttle:
		f = r.Throttle(c, v)
	case Error:
		f = r.Errors[(v.Nth-1)%len(r.Errors)]
	}
	j.Record(c, f.Status(), f.Code())
	return f, ok
}

// FailPage reports whether list page number page of c fails under
// FailAfterPage, counting the fault; failed is false when it does not.
func (r Renderer[F]) FailPage(j *Injector, c Call, page int) (f F, failed bool) {
	if !j.FailPage(c, page, r.Page.Status(), r.Page.Code()) {
		return f, false
	}
	return r.Page, true
}
