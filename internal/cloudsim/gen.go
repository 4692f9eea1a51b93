package cloudsim

import "math/rand/v2"

// The deterministic core of the simulators' fleet generators: each draws
// from rand.Rand streams seeded with the simulator's seed and the hash of
// a scope's name (so a region, project or subscription generates the same
// hosts whatever else the fleet holds), and renders what it drew in its
// cloud's shapes. A change here changes every fleet, and the golden files
// and parity tests that pin them.

// The streams of a seed. A fleet is generated from FleetStream, machines
// added later come from AddStream, and a scope's own resources (images,
// networks, resource groups) from its ScopeStream: each is the same
// whatever the others draw.
const (
	FleetStream = 0xf1ee7
	AddStream   = 0xadd
)

// Stream is the random stream number stream of seed.
func Stream(seed int64, stream uint64) *rand.Rand { return rand.New(rand.NewPCG(uint64(seed), stream)) }

// ScopeStream is the stream of seed for the scope named name.
func ScopeStream(seed int64, name string) *rand.Rand { return Stream(seed, HashString(name)) }

// Scopes are the scopes a fleet spreads over: given, or defaults when none
// are given, each once.
func Scopes(given, defaults []string) []string {
	if len(given) == 0 {
		given = defaults
	}
	return Uniq(given)
}

// LowerAlnum is the alphabet of the clouds' lower-case random ids.
const LowerAlnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// Pick draws one element of s.
func Pick[T any](r *rand.Rand, s []T) T { return s[r.IntN(len(s))] }

// ID draws n characters of alphabet.
func ID(r *rand.Rand, alphabet string, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[r.IntN(len(alphabet))]
	}
	return string(b)
}

// Uniq keeps the first of each non-empty string, in order.
func Uniq(s []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, v := range s {
		if v != "" && !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	return out
}

// HashString is FNV-1a, used to derive a scope's random stream from its
// name.
func HashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}

// Spread chooses the scope (region, project, zone, subscription) of each
// generated host: the first go round-robin so that every scope gets some,
// the rest favour the first scopes, scope i weighing 1/(1+decay*i), like a
// real estate does.
type Spread struct {
	weights []float64
	total   float64
}

// NewSpread returns the spread over n scopes.
func NewSpread(n int, decay float64) Spread {
	s := Spread{weights: make([]float64, n)}
	for i := range s.weights {
		s.weights[i] = 1 / (1 + decay*float64(i))
		s.total += s.weights[i]
	}
	return s
}

// Nth is the scope of the nth host (from 0): n for the first round, then
// a draw by weight.
func (s Spread) Nth(r *rand.Rand, n int) int {
	if n < len(s.weights) {
		return n
	}
	return s.Pick(r)
}

// Pick draws a scope by weight (one r.Float64()).
func (s Spread) Pick(r *rand.Rand) int {
	x := r.Float64() * s.total
	for i, w := range s.weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(s.weights) - 1
}
