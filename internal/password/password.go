// Package password hashes and verifies the passwords of local users with
// Argon2id, stored as PHC strings:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// salt and hash in unpadded standard base64, as libargon2 writes them. A
// stored string is parsed strictly and its parameters are bounded before any
// work is done: a hash that asks for gigabytes of memory, or that is not in
// the canonical form, is refused, never honoured.
package password

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/crypto/argon2"

	"github.com/rosterhq/roster"
)

// Params are Argon2id's cost parameters.
type Params struct {
	// Memory in KiB.
	Memory uint32
	// Time is the number of passes over the memory.
	Time uint32
	// Threads is the degree of parallelism (lanes).
	Threads uint8
}

// Default is what new hashes use: OWASP's Password Storage Cheat Sheet
// minimum for Argon2id (19 MiB, 2 passes, 1 lane), about 40 ms on one core.
var Default = Params{Memory: 19456, Time: 2, Threads: 1}

// Bounds of what a stored hash may ask for. A hash outside them is refused
// rather than computed: the memory of one verification stays bounded
// whatever was written into the database.
const (
	MaxMemory  = 256 * 1024 // KiB: 256 MiB
	MaxTime    = 16
	MaxThreads = 16

	minSaltLen = 8 // libargon2's minimum; new hashes use saltLen
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 64

	saltLen = 16
	keyLen  = 32
)

// Lengths of an acceptable password, in bytes. The upper bound keeps what
// the KDF is fed bounded.
const (
	MinLength = 12
	MaxLength = 1024
)

// ErrMalformed is returned (wrapped) when a stored hash is not a PHC string
// this package accepts.
var ErrMalformed = errors.New("malformed password hash")

var b64 = base64.RawStdEncoding.Strict()

// Check reports whether pw is acceptable as a new password, as an
// EINVALID error naming the field "password".
func Check(pw roster.Secret) error {
	n := len(pw.Reveal())
	switch {
	case n < MinLength:
		return roster.Invalid(roster.FieldError{Field: "password", Message: fmt.Sprintf("must be at least %d bytes long", MinLength)})
	case n > MaxLength:
		return roster.Invalid(roster.FieldError{Field: "password", Message: fmt.Sprintf("must be at most %d bytes long", MaxLength)})
	}
	return nil
}

// Hash returns the PHC string of pw with the Default parameters and a
// fresh random salt.
func Hash(pw roster.Secret) (string, error) { return Default.Hash(pw) }

// Hash returns the PHC string of pw with parameters p and a fresh random
// salt. Parameters below Default or beyond the bounds are refused.
func (p Params) Hash(pw roster.Secret) (string, error) {
	if err := p.check(); err != nil {
		return "", err
	}
	if p.Memory < Default.Memory || p.Time < Default.Time {
		return "", fmt.Errorf("argon2id parameters %s are below the minimum %s", p, Default)
	}
	if len(pw.Reveal()) > MaxLength {
		return "", fmt.Errorf("password longer than %d bytes", MaxLength)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("read random salt: %w", err)
	}
	return encode(p, salt, argon2.IDKey([]byte(pw.Reveal()), salt, p.Time, p.Memory, p.Threads, keyLen)), nil
}

// String formats p as in a PHC string.
func (p Params) String() string { return fmt.Sprintf("m=%d,t=%d,p=%d", p.Memory, p.Time, p.Threads) }

func (p Params) check() error {
	switch {
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("%w: t=%d outside 1..%d", ErrMalformed, p.Time, MaxTime)
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("%w: p=%d outside 1..%d", ErrMalformed, p.Threads, MaxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory:
		return fmt.Errorf("%w: m=%d outside %d..%d", ErrMalformed, p.Memory, 8*uint32(p.Threads), MaxMemory)
	}
	return nil
}

func encode(p Params, salt, key []byte) string {
	return "$argon2id$v=19$" + p.String() + "$" + b64.EncodeToString(salt) + "$" + b64.EncodeToString(key)
}

// decoded is a parsed PHC string.
type decoded struct {
	params    Params
	salt, key []byte
}

// parse reads a PHC string strictly: Argon2id, version 19, the parameters
// m, t, p in that order without leading zeros, within the bounds, salt and
// hash in canonical unpadded base64. Anything else is ErrMalformed.
func parse(s string) (*decoded, error) {
	// "", "argon2id", "v=19", "m=..,t=..,p=..", salt, hash
	f := strings.Split(s, "$")
	if len(f) != 6 || f[0] != "" || f[1] != "argon2id" || f[2] != "v=19" {
		return nil, fmt.Errorf("%w: not an argon2id v=19 PHC string", ErrMalformed)
	}
	kv := strings.Split(f[3], ",")
	if len(kv) != 3 {
		return nil, fmt.Errorf("%w: want parameters m, t and p", ErrMalformed)
	}
	var vals [3]uint64
	for i, name := range []string{"m=", "t=", "p="} {
		v, ok := strings.CutPrefix(kv[i], name)
		if !ok || v == "" || (len(v) > 1 && v[0] == '0') {
			return nil, fmt.Errorf("%w: want parameters m, t and p", ErrMalformed)
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return nil, fmt.Errorf("%w: parameter %s out of range", ErrMalformed, name[:1])
		}
		vals[i] = n
	}
	if vals[2] > MaxThreads { // before the uint8 conversion
		return nil, fmt.Errorf("%w: p=%d outside 1..%d", ErrMalformed, vals[2], MaxThreads)
	}
	d := &decoded{params: Params{Memory: uint32(vals[0]), Time: uint32(vals[1]), Threads: uint8(vals[2])}}
	if err := d.params.check(); err != nil {
		return nil, err
	}
	var err error
	if d.salt, err = b64.DecodeString(f[4]); err != nil || len(d.salt) < minSaltLen || len(d.salt) > maxSaltLen {
		return nil, fmt.Errorf("%w: salt must be %d to %d bytes of unpadded base64", ErrMalformed, minSaltLen, maxSaltLen)
	}
	if d.key, err = b64.DecodeString(f[5]); err != nil || len(d.key) < minKeyLen || len(d.key) > maxKeyLen {
		return nil, fmt.Errorf("%w: hash must be %d to %d bytes of unpadded base64", ErrMalformed, minKeyLen, maxKeyLen)
	}
	return d, nil
}

// Verify reports whether pw matches the stored PHC string. The comparison
// takes constant time. A stored string this package refuses (malformed,
// parameters out of bounds) is an error wrapping ErrMalformed, and no
// work is done for it.
//
// An empty stored string stands for a user without a password (unknown,
// or signing in elsewhere): Verify then does the work of a Default
// verification and reports false, so that the time taken does not tell
// which names exist.
func Verify(pw roster.Secret, stored string) (bool, error) {
	if stored == "" {
		Dummy(pw)
		return false, nil
	}
	d, err := parse(stored)
	if err != nil {
		return false, err
	}
	if len(pw.Reveal()) > MaxLength {
		// Never a valid password; the same work as a real check.
		Dummy(pw)
		return false, nil
	}
	key := argon2.IDKey([]byte(pw.Reveal()), d.salt, d.params.Time, d.params.Memory, d.params.Threads, uint32(len(d.key)))
	return subtle.ConstantTimeCompare(key, d.key) == 1, nil
}

// dummySalt is the salt of Dummy's verification; its value does not matter.
var dummySalt = []byte("roster-no-user!!")

// Dummy does the work of verifying a password against a Default hash and
// throws the result away: for unknown users, whose absence must not be
// told by how quickly they are refused.
func Dummy(pw roster.Secret) {
	v := pw.Reveal()
	if len(v) > MaxLength {
		v = v[:MaxLength]
	}
	argon2.IDKey([]byte(v), dummySalt, Default.Time, Default.Memory, Default.Threads, keyLen)
}

// NeedsRehash reports whether a stored hash should be replaced after a
// successful sign-in: it is malformed, or weaker than p in memory or
// passes.
func NeedsRehash(stored string, p Params) bool {
	d, err := parse(stored)
	if err != nil {
		return true
	}
	return d.params.Memory < p.Memory || d.params.Time < p.Time || len(d.salt) < saltLen || len(d.key) < keyLen
}
