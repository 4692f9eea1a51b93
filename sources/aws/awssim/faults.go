package awssim

import (
	"math/rand/v2"
	"slices"
	"sync"
	"time"
)

// Faults are the failures the server injects. The zero value injects none.
//
// Order of checks for an authenticated request of a known action, in a
// region the account has enabled (requests failing those checks are
// rejected, never faulted):
//
//  1. Latency is waited (for eligible actions).
//  2. FailRegions: an EC2 request signed for one of these regions answers
//     403 UnauthorizedOperation (not retried by the SDK).
//  3. Throttling (eligible actions): ThrottleEvery / ThrottleRate answer
//     503 RequestLimitExceeded (retried by the SDK's standard retryer).
//  4. Server errors (eligible actions): ErrorEvery / ErrorRate answer
//     500 InternalError and 503 Unavailable alternately, InternalError
//     first (both retried).
//  5. FailAfterPage: DescribeInstances pages after page FailAfterPage answer
//     500 InternalError, every time (so retries do not help).
//
// "Every Nth" counts eligible requests (retries included) from the last
// SetFaults: with ThrottleEvery 3 the 3rd, 6th, 9th ... are throttled. When
// a request is due both a throttle and an error, it is throttled. Rates are
// drawn from a generator seeded with Options.Seed.
type Faults struct {
	// ThrottleEvery throttles every Nth eligible request (0 = never).
	ThrottleEvery int
	// ThrottleRate throttles each eligible request with this probability.
	ThrottleRate float64
	// ErrorEvery answers every Nth eligible request with a 5xx (0 = never).
	ErrorEvery int
	// ErrorRate answers each eligible request with a 5xx with this
	// probability.
	ErrorRate float64
	// Latency is added to every eligible request before it is answered.
	Latency time.Duration
	// FailRegions are regions whose EC2 requests always fail with 403
	// UnauthorizedOperation, like a region denied by an organisation policy.
	// STS requests are not affected.
	FailRegions []string
	// FailAfterPage makes DescribeInstances pages after this one fail
	// (page 1 is the request without NextToken); 0 = never. Only paginated
	// requests (MaxResults set) have a second page.
	FailAfterPage int
	// Actions limits Latency, throttling and server errors to these
	// actions (e.g. "DescribeInstances"); empty = every action, STS
	// included.
	Actions []string
}

// Call identifies requests by action and region (the region of the
// request's credential scope).
type Call struct {
	Action string
	Region string
}

// Stats counts what the server saw since it started (or ResetStats).
type Stats struct {
	// Requests are authenticated requests of known actions in enabled
	// regions, including those answered with an injected fault.
	Requests map[Call]int
	// Injected are the requests answered with an injected fault.
	Injected map[Call]int
	// InjectedCodes counts injected faults by error code
	// (RequestLimitExceeded, InternalError, Unavailable,
	// UnauthorizedOperation).
	InjectedCodes map[string]int
	// Rejected counts requests refused before dispatch: missing or bad
	// signature, unknown access key, disabled region, unknown action.
	Rejected int
}

// Calls sums Requests for action and region; "" matches any.
func (s Stats) Calls(action, region string) int { return sum(s.Requests, action, region) }

// Faulted sums Injected for action and region; "" matches any.
func (s Stats) Faulted(action, region string) int { return sum(s.Injected, action, region) }

func sum(m map[Call]int, action, region string) int {
	n := 0
	for c, v := range m {
		if (action == "" || c.Action == action) && (region == "" || c.Region == region) {
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
	actions  map[string]bool
	count    int // eligible requests since SetFaults
	errCount int // server errors injected since SetFaults
	rng      *rand.Rand
	seed     int64
	stats    Stats
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
	f.FailRegions = slices.Clone(f.FailRegions)
	f.Actions = slices.Clone(f.Actions)
	j.faults = f
	j.failing = map[string]bool{}
	for _, r := range f.FailRegions {
		j.failing[r] = true
	}
	j.actions = map[string]bool{}
	for _, a := range f.Actions {
		j.actions[a] = true
	}
	j.count, j.errCount = 0, 0
	j.rng = rand.New(rand.NewPCG(uint64(j.seed), 0xfa17))
}

func (j *injector) get() Faults {
	j.mu.Lock()
	defer j.mu.Unlock()
	f := j.faults
	f.FailRegions = slices.Clone(f.FailRegions)
	f.Actions = slices.Clone(f.Actions)
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

// admit counts a request and decides whether it gets a fault (other than
// FailAfterPage). It returns the latency to wait first.
func (j *injector) admit(c Call, ec2 bool) (time.Duration, *fault) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.stats.Requests[c]++
	f := &j.faults
	eligible := len(j.actions) == 0 || j.actions[c.Action]
	var latency time.Duration
	if eligible {
		latency = f.Latency
	}
	var got *fault
	switch {
	case ec2 && j.failing[c.Region]:
		got = faultDenied
	case eligible:
		j.count++
		switch {
		case f.ThrottleEvery > 0 && j.count%f.ThrottleEvery == 0,
			f.ThrottleRate > 0 && j.rng.Float64() < f.ThrottleRate:
			got = faultThrottle
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

// failPage reports whether DescribeInstances page number page must fail,
// recording the fault if so.
func (j *injector) failPage(c Call, page int) *fault {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.faults.FailAfterPage <= 0 || page <= j.faults.FailAfterPage {
		return nil
	}
	j.recordLocked(c, faultInternal)
	return faultInternal
}

func (j *injector) recordLocked(c Call, f *fault) {
	j.stats.Injected[c]++
	j.stats.InjectedCodes[f.code]++
}
