package cloudsim

import (
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"
)

// The neutral machine a fleet generator draws, before its cloud renders it
// in its own shapes (an EC2 instance, a Compute Engine instance, an Azure
// VM, a Nova server): what it is for (Machine), when it was made (Epoch,
// Age), the state it is in (Odds), its name (Namer), its tags (Tag,
// Extra), its ids (Hex64, Bytes, FormatUUID, Core.Fresh) and addresses
// (Scatter24, MAC). Each draw takes the cloud's stream and consumes it the
// same way on every run, so a seed gives the same fleet, byte for byte.

// Epoch is "now" for generated fleets: creation and launch times are drawn
// before it, so a seed always gives the same timestamps.
var Epoch = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// TwoYears is the age span of generated machines.
const TwoYears = 730 * 24 * time.Hour

// Age draws how long before Epoch something was made, under span.
func Age(r *rand.Rand, span time.Duration) time.Duration {
	return time.Duration(r.Int64N(int64(span)))
}

// Machine is the neutral description of a generated machine: what it is
// for (its role: web, db, ...; its environment and owning team) and its
// name, the facts its tags, labels or metadata spell out in its cloud's
// terms.
type Machine struct {
	Role, Env, Team string
	// Name is set by the cloud, when it has named the machine.
	Name string
}

// Profile is a cloud's vocabulary for machines. Envs repeats a value to
// weigh it. Teams empty: Machine draws no team (the cloud draws it later,
// or never).
type Profile struct {
	Roles, Envs, Teams []string
}

// Machine draws a role, an environment and, when the profile has teams, a
// team, in that order.
func (p Profile) Machine(r *rand.Rand) Machine {
	w := Machine{Role: Pick(r, p.Roles), Env: Pick(r, p.Envs)}
	if len(p.Teams) > 0 {
		w.Team = Pick(r, p.Teams)
	}
	return w
}

// The vocabularies most fleets share.
var (
	Roles       = []string{"web", "api", "worker", "db", "cache", "queue", "bastion", "batch", "search", "monitor"}
	Teams       = []string{"platform", "payments", "search", "data", "identity", "growth"}
	Apps        = []string{"checkout", "catalog", "billing", "reporting", "auth", "storefront"}
	CostCenters = []string{"R&D / 42", "Ops & Infra / 7", "Sales <EMEA> 'north'", "Marketing \"Q3\""}
	// Owners have non-ASCII letters and markup, which renderers must
	// escape.
	Owners = []string{"Jörg Müller <jorg@example.com>", "ops-team@example.com", "Zoë Ávila"}
	// EnvsByWeight is half prod, some staging, a little dev.
	EnvsByWeight = []string{"prod", "prod", "prod", "prod", "prod", "staging", "staging", "staging", "dev", "dev"}
)

// Odds draws one of its outcomes with one r.Float64(): the first outcome
// whose bound the draw is under, else the last.
type Odds[T any] struct {
	values []T
	below  []float64
}

// NewOdds returns the odds of values: values[i] when the draw is under
// below[i] (cumulative, increasing), the last value otherwise; below has
// one bound less than values.
func NewOdds[T any](values []T, below ...float64) Odds[T] {
	if len(below) != len(values)-1 {
		panic("cloudsim: NewOdds wants one bound less than values")
	}
	return Odds[T]{values: values, below: below}
}

// Draw draws an outcome.
func (o Odds[T]) Draw(r *rand.Rand) T {
	p := r.Float64()
	for i, b := range o.below {
		if p < b {
			return o.values[i]
		}
	}
	return o.values[len(o.values)-1]
}

// Namer hands out names stem-NNNN, counting per stem.
type Namer map[string]int

// Next counts one more of stem and names it.
func (n Namer) Next(stem string) string { return Name(stem, n.Bump(stem)) }

// Bump counts one more of stem and returns its number.
func (n Namer) Bump(stem string) int {
	n[stem]++
	return n[stem]
}

// Name is stem-NNNN.
func Name(stem string, n int) string { return fmt.Sprintf("%s-%04d", stem, n) }

// Tag is a key and value: a tag, a label, a metadata item.
type Tag struct {
	Key, Value string
}

// LookupTag returns the value of key.
func LookupTag(tags []Tag, key string) (string, bool) {
	for _, t := range tags {
		if t.Key == key {
			return t.Value, true
		}
	}
	return "", false
}

// SetTag replaces key's value in place, or appends it.
func SetTag(tags []Tag, key, value string) []Tag {
	for i := range tags {
		if tags[i].Key == key {
			tags[i].Value = value
			return tags
		}
	}
	return append(tags, Tag{key, value})
}

// DeleteTag removes key, in place.
func DeleteTag(tags []Tag, key string) []Tag {
	return slices.DeleteFunc(tags, func(t Tag) bool { return t.Key == key })
}

// TagsOf lists m's items, the keys of first that m has first, then the
// others by key; nil for a nil m, so that "no tags given" differs from
// "no tags".
func TagsOf(m map[string]string, first ...string) []Tag {
	if m == nil {
		return nil
	}
	out := []Tag{}
	for _, k := range first {
		if v, ok := m[k]; ok {
			out = append(out, Tag{k, v})
		}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		if !slices.Contains(first, k) {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		out = append(out, Tag{k, m[k]})
	}
	return out
}

// Extra is an optional tag a machine carries with probability Chance; its
// value is drawn (after the chance) only when it does.
type Extra struct {
	Chance float64
	Key    string
	Value  func(r *rand.Rand, w Machine) string
}

// OneOf is an Extra's value drawn from list.
func OneOf(list []string) func(*rand.Rand, Machine) string {
	return func(r *rand.Rand, _ Machine) string { return Pick(r, list) }
}

// Fixed is an Extra's value that draws nothing.
func Fixed(v string) func(*rand.Rand, Machine) string {
	return func(*rand.Rand, Machine) string { return v }
}

// AppendExtras draws each extra in order (one r.Float64() each) and
// appends those the machine carries.
func AppendExtras(r *rand.Rand, tags []Tag, w Machine, extras []Extra) []Tag {
	for _, e := range extras {
		if r.Float64() < e.Chance {
			tags = append(tags, Tag{e.Key, e.Value(r, w)})
		}
	}
	return tags
}

// Hex64 draws 16 lower-case hex digits (EC2's ids after "i-0").
func Hex64(r *rand.Rand) string { return fmt.Sprintf("%016x", r.Uint64()) }

// Bytes draws n bytes, one r.Uint32() each.
func Bytes(r *rand.Rand, n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// FormatUUID formats 16 bytes as a version 4 UUID (its version and variant
// bits set), lower-case.
func FormatUUID(b []byte) string {
	var u [16]byte
	copy(u[:], b)
	u[6] = u[6]&0x0f | 0x40
	u[8] = u[8]&0x3f | 0x80
	h := hex.EncodeToString(u[:])
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// MAC draws a MAC address in the vendor prefix oui ("fa:16:3e"): three
// more lower-case octets, colon-separated.
func MAC(r *rand.Rand, oui string) string {
	return fmt.Sprintf("%s:%02x:%02x:%02x", oui, r.IntN(256), r.IntN(256), r.IntN(256))
}

// Scatter24 hands out the next 24-bit host part of a pool of public
// addresses: counter n (advanced), its low 24-prefixBits bits under
// prefix, scattered by a bijection so that neighbours do not look
// sequential, skipping host parts that end in .0 or .255. It returns the
// counter value it used with the host part.
func Scatter24(n *int, prefix uint32, prefixBits int) (used int, x uint32) {
	low := 24 - prefixBits
	for {
		used = *n
		*n++
		x = prefix<<low | uint32(used)&(1<<low-1)
		x = (x*0x9E3779 + 0x5A17) & (1<<24 - 1) // a bijection on 24 bits
		if last := x & 255; last != 0 && last != 255 {
			return used, x
		}
	}
}

// PublicIP is a machine's public address. A dynamic one is released
// while the machine is stopped (deallocated, terminated) and comes back
// when it runs; a static one stays.
type PublicIP struct {
	Addr   string
	Static bool
}

// Shown is the address the cloud shows, while the machine holds its
// dynamic resources (held) or not.
func (p PublicIP) Shown(held bool) string {
	if held || p.Static {
		return p.Addr
	}
	return ""
}

// IPv4 is first.x, with x a 24-bit host part.
func IPv4(first int, x uint32) string {
	return fmt.Sprintf("%d.%d.%d.%d", first, x>>16, x>>8&255, x&255)
}
