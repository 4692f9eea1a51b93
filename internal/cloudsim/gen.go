package cloudsim

import "math/rand/v2"

// The deterministic core of the simulators' fleet generators: each draws
// from rand.Rand streams seeded with the simulator's seed and the hash of
// a scope's name (so a region, project or subscription generates the same
// hosts whatever else the fleet holds), and renders what it drew in its
// cloud's shapes. A change here changes every fleet, and the golden files
// and parity tests that pin them.

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
