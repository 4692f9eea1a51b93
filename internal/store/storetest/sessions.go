package storetest

import (
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func newSession(t *testing.T, s roster.Store, u *roster.User, now time.Time) (*roster.Session, string) {
	t.Helper()
	v, hash := roster.NewSessionValue()
	csrf := roster.HashToken(roster.SessionCSRFToken(v))
	ss := &roster.Session{UserID: u.ID, CSRFHash: csrf, Method: "password", Address: "192.0.2.1",
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour)}
	must(t, s.CreateSession(t.Context(), ss, hash))
	return ss, hash
}

func testSessions(t *testing.T, s roster.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	alice := newUser(t, s, "alice")
	ss, hash := newSession(t, s, alice, now)
	if ss.ID == "" {
		t.Fatal("created session has no id")
	}
	got, err := s.SessionByHash(ctx, hash)
	must(t, err)
	if got.ID != ss.ID || got.UserID != alice.ID || got.CSRFHash != ss.CSRFHash || got.Method != "password" || got.Address != "192.0.2.1" ||
		!got.CreatedAt.Equal(now) || !got.LastSeenAt.Equal(now) || !got.ExpiresAt.Equal(now.Add(12*time.Hour)) {
		t.Fatalf("SessionByHash = %+v, want %+v", got, ss)
	}
	_, err = s.SessionByHash(ctx, roster.HashToken("nope"))
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, s.CreateSession(ctx, &roster.Session{UserID: "absent", CSRFHash: "x", Method: "password", CreatedAt: now, LastSeenAt: now, ExpiresAt: now}, "h"), roster.ENOTFOUND)

	// Touching moves last_seen_at forward, never back.
	must(t, s.TouchSession(ctx, ss.ID, now.Add(time.Minute)))
	must(t, s.TouchSession(ctx, ss.ID, now))
	got, err = s.SessionByHash(ctx, hash)
	must(t, err)
	if !got.LastSeenAt.Equal(now.Add(time.Minute)) {
		t.Fatalf("last seen %v, want %v", got.LastSeenAt, now.Add(time.Minute))
	}

	must(t, s.DeleteSession(ctx, ss.ID))
	wantCode(t, s.DeleteSession(ctx, ss.ID), roster.ENOTFOUND)
	_, err = s.SessionByHash(ctx, hash)
	wantCode(t, err, roster.ENOTFOUND)

	// A session ends when its user is disabled, its password changes or
	// it is deleted; another update leaves it be.
	gone := func(hash string) {
		t.Helper()
		_, err := s.SessionByHash(ctx, hash)
		wantCode(t, err, roster.ENOTFOUND)
	}
	_, hash = newSession(t, s, alice, now)
	name := "Alice"
	_, err = s.UpdateUser(ctx, alice.ID, roster.UserUpdate{DisplayName: &name})
	must(t, err)
	_, err = s.SessionByHash(ctx, hash)
	must(t, err)
	yes := true
	_, err = s.UpdateUser(ctx, alice.ID, roster.UserUpdate{Disabled: &yes})
	must(t, err)
	gone(hash)
	no := false
	_, err = s.UpdateUser(ctx, alice.ID, roster.UserUpdate{Disabled: &no})
	must(t, err)
	_, hash = newSession(t, s, alice, now)
	pw := roster.Secret(phc)
	_, err = s.UpdateUser(ctx, alice.ID, roster.UserUpdate{PasswordHash: &pw})
	must(t, err)
	gone(hash)
	_, hash = newSession(t, s, alice, now)
	must(t, s.DeleteUser(ctx, alice.ID))
	gone(hash)

	// A session signed in with a token of its user's keeps the token's
	// id, and ends when the token is revoked.
	carol := newUser(t, s, "carol")
	tok := &roster.Token{Name: "carol-token", Role: roster.RoleOperator, UserID: carol.ID, CreatedAt: now}
	must(t, s.CreateToken(ctx, tok, roster.HashToken("carol-token-value")))
	bound := &roster.Session{UserID: carol.ID, TokenID: tok.ID, CSRFHash: "x", Method: "token", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateSession(ctx, bound, "bound-hash"))
	got, err = s.SessionByHash(ctx, "bound-hash")
	must(t, err)
	if got.TokenID != tok.ID || got.Method != "token" {
		t.Fatalf("a token's session reads back as %+v", got)
	}
	wantCode(t, s.CreateSession(ctx, &roster.Session{UserID: carol.ID, TokenID: "absent", CSRFHash: "x", Method: "token", CreatedAt: now, LastSeenAt: now, ExpiresAt: now}, "h2"), roster.ENOTFOUND)
	must(t, s.DeleteToken(ctx, tok.ID))
	gone("bound-hash")

	// Expired sessions are purged.
	bob := newUser(t, s, "bob")
	_, old := newSession(t, s, bob, now.Add(-24*time.Hour))
	_, live := newSession(t, s, bob, now)
	n, err := s.DeleteExpiredSessions(ctx, now)
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredSessions deleted %d, want 1", n)
	}
	gone(old)
	_, err = s.SessionByHash(ctx, live)
	must(t, err)
}

func testSignInFailures(t *testing.T, s roster.Store) {
	ctx := t.Context()
	w := time.Date(2026, 1, 2, 3, 15, 0, 0, time.UTC)
	got, err := s.SignInFailures(ctx, w, "account:alice", "address:192.0.2.1")
	must(t, err)
	if got["account:alice"] != 0 || got["address:192.0.2.1"] != 0 {
		t.Fatalf("no failures yet, got %v", got)
	}
	for range 3 {
		must(t, s.AddSignInFailure(ctx, w, "account:alice", "address:192.0.2.1"))
	}
	must(t, s.AddSignInFailure(ctx, w, "address:192.0.2.1"))
	must(t, s.AddSignInFailure(ctx, w.Add(15*time.Minute), "account:alice"))
	got, err = s.SignInFailures(ctx, w, "account:alice", "address:192.0.2.1", "account:bob")
	must(t, err)
	if got["account:alice"] != 3 || got["address:192.0.2.1"] != 4 || got["account:bob"] != 0 {
		t.Fatalf("failures = %v", got)
	}
	must(t, s.PurgeSignInFailures(ctx, w.Add(time.Minute)))
	got, err = s.SignInFailures(ctx, w, "account:alice")
	must(t, err)
	if got["account:alice"] != 0 {
		t.Fatalf("purged window still counts %v", got)
	}
	got, err = s.SignInFailures(ctx, w.Add(15*time.Minute), "account:alice")
	must(t, err)
	if got["account:alice"] != 1 {
		t.Fatalf("later window counts %v, want 1", got)
	}
}
