package openstacksim

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Operations, as Stats and Faults.Ops name them.
const (
	OpVersions = "versions" // GET of a version document (Keystone, Nova, Glance)
	OpAuth     = "auth"     // POST /v3/auth/tokens
	OpServers  = "servers"  // GET servers/detail
	OpFlavors  = "flavors"  // GET flavors/detail
	OpImages   = "images"   // GET /v2/images
)

// Faults are the failures the server injects. The zero value injects none.
//
// Order of checks for a request to a known route (requests with a missing,
// unknown or expired token are refused with 401 first, and never faulted):
//
//  1. Latency is waited (eligible operations).
//  2. DownRegions: every compute and image request of these regions
//     answers 503, version documents included.
//  3. ExpireTokensAfter: a token that has served that many compute and
//     image requests is refused with 401 from then on, as a token expiring
//     mid-pagination is; the client must authenticate again.
//  4. Over-limit (eligible operations): OverLimitEvery / OverLimitRate
//     answer OverLimitStatus (413, as Nova's legacy rate limiting did, or
//  429. with a Retry-After header of RetryAfter seconds.
//  5. Server errors (eligible operations): ErrorEvery / ErrorRate answer
//     503.
//  6. FailAfterPage: servers/detail pages after that one answer 500, every
//     time (retries do not help).
//
// "Every Nth" counts eligible requests (retries included) since the last
// SetFaults. Rates are drawn from a generator seeded with Options.Seed.
type Faults struct {
	// Latency is added to every eligible request before it is answered.
	Latency time.Duration
	// DownRegions are regions whose compute and image endpoints answer
	// 503 to everything.
	DownRegions []string
	// ExpireTokensAfter refuses a token once it has served this many
	// compute and image requests (0 = never). Clients sharing one token
	// concurrently need it above their concurrency: gophercloud retries a
	// request once after re-authenticating, and the others may use the
	// fresh token up first.
	ExpireTokensAfter int
	// OverLimitEvery answers every Nth eligible request "over limit".
	OverLimitEvery int
	// OverLimitRate answers each eligible request "over limit" with this
	// probability.
	OverLimitRate float64
	// OverLimitStatus is 413 (the default) or 429.
	OverLimitStatus int
	// RetryAfter is the Retry-After of over-limit answers, in seconds
	// (0 = 1).
	RetryAfter int
	// ErrorEvery answers every Nth eligible request with 503.
	ErrorEvery int
	// ErrorRate answers each eligible request with 503 with this
	// probability.
	ErrorRate float64
	// FailAfterPage makes servers/detail pages after this one answer 500
	// (page 1 is the request without a marker); 0 = never.
	FailAfterPage int
	// Ops limits Latency, over-limit and server errors to these
	// operations (OpServers, OpAuth, ...); empty = every operation.
	Ops []string
}

// Call identifies requests by operation and region ("" for Keystone).
type Call struct {
	Op     string
	Region string
}

// Stats counts what the server saw since it started (or ResetStats).
type Stats struct {
	// Requests are the requests of known routes that got past token
	// checks, including those answered with an injected fault.
	Requests map[Call]int
	// Injected are the requests answered with an injected fault.
	Injected map[Call]int
	// InjectedStatus counts injected faults by HTTP status.
	InjectedStatus map[int]int
	// TokensIssued counts successful authentications.
	TokensIssued int
	// AuthFailures counts authentications refused with 401.
	AuthFailures int
	// Unauthorized counts service requests refused with 401 (missing,
	// unknown or expired token).
	Unauthorized int
	// Expired counts the 401s caused by ExpireTokensAfter or TokenTTL.
	Expired int
}

// Calls sums Requests for op and region; "" matches any.
func (s Stats) Calls(op, region string) int { return sum(s.Requests, op, region) }

// Faulted sums Injected for op and region; "" matches any.
func (s Stats) Faulted(op, region string) int { return sum(s.Injected, op, region) }

func sum(m map[Call]int, op, region string) int {
	n := 0
	for c, v := range m {
		if (op == "" || c.Op == op) && (region == "" || c.Region == region) {
			n += v
		}
	}
	return n
}

// injector applies Faults and keeps Stats.
type injector struct {
	mu    sync.Mutex
	f     Faults
	down  map[string]bool
	ops   map[string]bool
	count int // eligible requests since SetFaults
	rng   *rand.Rand
	seed  int64
	stats Stats
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
	f.DownRegions = slices.Clone(f.DownRegions)
	f.Ops = slices.Clone(f.Ops)
	j.f = f
	j.down = map[string]bool{}
	for _, r := range f.DownRegions {
		j.down[r] = true
	}
	j.ops = map[string]bool{}
	for _, o := range f.Ops {
		j.ops[o] = true
	}
	j.count = 0
	j.rng = rand.New(rand.NewPCG(uint64(j.seed), 0xfa17))
}

func (j *injector) get() Faults {
	j.mu.Lock()
	defer j.mu.Unlock()
	f := j.f
	f.DownRegions = slices.Clone(f.DownRegions)
	f.Ops = slices.Clone(f.Ops)
	return f
}

func (j *injector) reset() {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats = Stats{Requests: map[Call]int{}, Injected: map[Call]int{}, InjectedStatus: map[int]int{}}
}

func (j *injector) snapshot() Stats {
	j.mu.Lock()
	defer j.mu.Unlock()
	s := j.stats
	s.Requests = cloneMap(j.stats.Requests)
	s.Injected = cloneMap(j.stats.Injected)
	s.InjectedStatus = cloneMap(j.stats.InjectedStatus)
	return s
}

func cloneMap[K comparable](m map[K]int) map[K]int {
	out := make(map[K]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// count adds to one of the plain counters under the lock.
func (j *injector) add(fn func(*Stats)) {
	j.mu.Lock()
	fn(&j.stats)
	j.mu.Unlock()
}

// fault is an injected failure.
type fault struct {
	status     int
	retryAfter int // seconds; 0 = no header
}

// admit counts a request of op in region ("" for Keystone) and decides
// whether it gets a fault. It returns the latency to wait first.
func (j *injector) admit(c Call) (time.Duration, *fault) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats.Requests[c]++
	f := &j.f
	eligible := len(j.ops) == 0 || j.ops[c.Op]
	var latency time.Duration
	if eligible {
		latency = f.Latency
	}
	var got *fault
	switch {
	case c.Region != "" && j.down[c.Region]:
		got = &fault{status: 503}
	case eligible:
		j.count++
		switch {
		case f.OverLimitEvery > 0 && j.count%f.OverLimitEvery == 0,
			f.OverLimitRate > 0 && j.rng.Float64() < f.OverLimitRate:
			got = &fault{status: 413, retryAfter: 1}
			if f.OverLimitStatus == 429 {
				got.status = 429
			}
			if f.RetryAfter > 0 {
				got.retryAfter = f.RetryAfter
			}
		case f.ErrorEvery > 0 && j.count%f.ErrorEvery == 0,
			f.ErrorRate > 0 && j.rng.Float64() < f.ErrorRate:
			got = &fault{status: 503}
		}
	}
	if got != nil {
		j.recordLocked(c, got.status)
	}
	return latency, got
}

// failPage reports whether servers/detail page number page must fail,
// recording the fault if so.
func (j *injector) failPage(c Call, page int) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.f.FailAfterPage <= 0 || page <= j.f.FailAfterPage {
		return false
	}
	j.recordLocked(c, 500)
	return true
}

func (j *injector) expireAfter() int {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.f.ExpireTokensAfter
}

func (j *injector) recordLocked(c Call, status int) {
	j.stats.Injected[c]++
	j.stats.InjectedStatus[status]++
}
