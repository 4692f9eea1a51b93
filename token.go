package roster

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/hex"
	"strings"
	"time"
)

// Role is what an API token may do.
type Role string

const (
	// RoleAdmin may do everything, including managing tokens.
	RoleAdmin Role = "admin"
	// RoleOperator manages inventories and sources and runs syncs.
	RoleOperator Role = "operator"
	// RoleAuditor reads everything but secrets and changes nothing.
	RoleAuditor Role = "auditor"
	// RoleRunner reads inventories (what Ansible needs) and, with grants,
	// obtains credentials.
	RoleRunner Role = "runner"
)

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	switch r {
	case RoleAdmin, RoleOperator, RoleAuditor, RoleRunner:
		return true
	}
	return false
}

// Token is an API token. Only a hash of its value is stored; the value is
// shown once, when it is created.
type Token struct {
	ID   string
	Name string
	Role Role
	// Inventories, when not nil, limits the token to these inventories (by
	// id) and what belongs to them: it sees nothing else. A nil list is
	// no limit, except for a runner, which sees only the inventories it
	// holds grants for. An empty, non-nil list sees no inventory.
	Inventories []string
	// ReadOnly limits the token to operations that change nothing.
	ReadOnly bool
	// UserID is the user the token belongs to; "" for a service token.
	UserID     string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
}

// Scoped reports whether the token is limited to some inventories rather
// than seeing every one its role may: a limited token, or a runner.
func (t *Token) Scoped() bool { return t.Inventories != nil || t.Role == RoleRunner }

// Expired reports whether the token has expired at now.
func (t *Token) Expired(now time.Time) bool { return t.ExpiresAt != nil && !now.Before(*t.ExpiresAt) }

// TokenPrefix starts every token value, so that secret scanners and people
// recognise a leaked one.
const TokenPrefix = "rst_"

// CallbackKeyPrefix starts every source callback key.
const CallbackKeyPrefix = "rcb_"

// NewTokenValue returns a fresh random token value and its hash.
func NewTokenValue() (Secret, string) { return newRandomSecret(TokenPrefix) }

// NewCallbackKey returns a fresh random callback key and its hash
// (HashToken's).
func NewCallbackKey() (Secret, string) { return newRandomSecret(CallbackKeyPrefix) }

func newRandomSecret(prefix string) (Secret, string) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	v := prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b[:]))
	return Secret(v), HashToken(Secret(v))
}

// tokenLen is the length of a token value: the prefix and 256 bits in
// unpadded base32.
var tokenLen = len(TokenPrefix) + base32.StdEncoding.WithPadding(base32.NoPadding).EncodedLen(32)

// WellFormedToken reports whether v has the shape of a token value: the
// prefix, then 52 characters of lower-case base32. Anything else cannot be
// one, and is refused without a look in the store.
func WellFormedToken(v string) bool {
	if len(v) != tokenLen || !strings.HasPrefix(v, TokenPrefix) {
		return false
	}
	for _, c := range v[len(TokenPrefix):] {
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// HashToken returns the stored form of a token value. Token values are 256
// random bits, so a fast hash is enough: there is nothing to brute-force.
func HashToken(v Secret) string {
	sum := sha256.Sum256([]byte(v.Reveal()))
	return hex.EncodeToString(sum[:])
}

// TokenStore persists API tokens.
type TokenStore interface {
	CreateToken(ctx context.Context, t *Token, hash string) error
	// TokenByHash finds a token by the hash of its value.
	TokenByHash(ctx context.Context, hash string) (*Token, error)
	// Token finds a token by id or name.
	Token(ctx context.Context, idOrName string) (*Token, error)
	Tokens(ctx context.Context) ([]*Token, error)
	// DeleteToken deletes a token by id.
	DeleteToken(ctx context.Context, id string) error
	// TouchToken records that a token was used at t.
	TouchToken(ctx context.Context, id string, t time.Time) error
}

// Store is everything Roster persists. The SQLite and PostgreSQL
// implementations pass one conformance suite.
type Store interface {
	InventoryStore
	SourceStore
	HostStore
	SyncRunStore
	HostChangeStore
	TokenStore
	CredentialStore
	GrantStore
	AuditStore
	SecretBlobStore
	UserStore
	TeamStore
	RoleBindingStore
	SessionStore
	SignInLimiterStore
	SignInFlowStore
	// Ping checks that the store can serve requests.
	Ping(ctx context.Context) error
	Close() error
}
