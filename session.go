package roster

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"strings"
	"time"
)

// SessionPrefix starts every session cookie's value.
const SessionPrefix = "rss_"

// NewSessionValue returns a fresh random session value (256 bits) and its
// hash (HashToken's: the value is random, a fast hash is enough).
func NewSessionValue() (Secret, string) { return newRandomSecret(SessionPrefix) }

// CSRFPrefix starts every session's CSRF token.
const CSRFPrefix = "rsc_"

// SessionCSRFToken returns the CSRF token of the session whose cookie
// value is session: an HMAC of the value, so that it can be handed again
// (GET /api/v1/me) without being stored, and cannot be made without the
// cookie, which a script of another site never reads.
func SessionCSRFToken(session Secret) Secret {
	m := hmac.New(sha256.New, []byte(session.Reveal()))
	m.Write([]byte("roster session csrf"))
	return Secret(CSRFPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(m.Sum(nil))))
}

// WellFormedSession reports whether v has the shape of a session value.
func WellFormedSession(v string) bool {
	return strings.HasPrefix(v, SessionPrefix) && WellFormedToken(TokenPrefix+v[len(SessionPrefix):])
}

// Session is a user signed in, usually a browser holding a cookie whose
// value only it knows: Roster keeps the value's hash, and the hash of the
// session's CSRF token.
type Session struct {
	ID       string
	UserID   string
	CSRFHash string
	// Method is how the user signed in: "password", "ldap", "oidc",
	// "token".
	Method string
	// TokenID is the API token of the user's the session was signed in
	// with, "" for none: its limits cut the session's rights, and the
	// session ends with it.
	TokenID    string
	Address    string // the client's address at sign-in
	CreatedAt  time.Time
	LastSeenAt time.Time
	// ExpiresAt is the absolute end of the session, however active.
	ExpiresAt time.Time
}

// SessionStore persists sessions. A session ends with its user: deleting
// the user, disabling it or changing its password deletes its sessions
// (UserStore.UpdateUser and DeleteUser do).
type SessionStore interface {
	CreateSession(ctx context.Context, s *Session, hash string) error
	// SessionByHash finds a session by the hash of its value.
	SessionByHash(ctx context.Context, hash string) (*Session, error)
	// TouchSession records that a session was used at t.
	TouchSession(ctx context.Context, id string, t time.Time) error
	DeleteSession(ctx context.Context, id string) error
	// DeleteExpiredSessions deletes the sessions whose absolute end is
	// before t, and returns how many.
	DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error)
}

// SignInLimiterStore counts failed sign-ins per key (an account, an
// address, both) in clock-aligned windows, in the database so that every
// node of a cluster counts the same failures.
type SignInLimiterStore interface {
	// SignInFailures returns the failures of each key in the window that
	// starts at window (0 for a key without any).
	SignInFailures(ctx context.Context, window time.Time, keys ...string) (map[string]int, error)
	// AddSignInFailure counts one failure for each key in the window that
	// starts at window.
	AddSignInFailure(ctx context.Context, window time.Time, keys ...string) error
	// PurgeSignInFailures deletes the windows that start before t.
	PurgeSignInFailures(ctx context.Context, t time.Time) error
}
