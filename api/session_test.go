package api_test

import (
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

const alicePassword = "correct horse battery staple"

// localUser makes a local user with a password, bound as an operator over
// the server.
func (f *fixture) localUser(name, password string) {
	f.t.Helper()
	f.secrets = append(f.secrets, password)
	wantStatus(f.t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "password": password}), http.StatusCreated)
	f.bind(map[string]any{"user": name, "role": "operator", "scope": "server"})
}

// session is a signed-in client: its cookie and CSRF token.
type session struct {
	cookie, csrf string
}

func (f *fixture) login(name, password string) (response, session) {
	f.t.Helper()
	return f.loginAs(map[string]any{"name": name, "password": password})
}

// loginAs signs in with body; a refused sign-in gives no session.
func (f *fixture) loginAs(body map[string]any) (response, session) {
	f.t.Helper()
	r := f.do("POST", "/api/v1/auth/login", "", body)
	var ss session
	if r.status != http.StatusOK {
		return r, ss
	}
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "roster_session" {
			ss.cookie = c.Name + "=" + c.Value
			f.secrets = append(f.secrets, c.Value)
		}
	}
	var me api.Me
	r.json(f.t, &me)
	if me.CsrfToken == nil || ss.cookie == "" {
		f.t.Fatalf("signing in answered no cookie or CSRF token: %v %s", r.header, r.body)
	}
	ss.csrf = *me.CsrfToken
	return r, ss
}

// as sends a request of a session, with its CSRF token unless csrf is
// false.
func (f *fixture) as(ss session, method, path string, body any, csrf bool, header http.Header) response {
	f.t.Helper()
	h := http.Header{"Cookie": {ss.cookie}}
	if csrf {
		h.Set(api.CSRFHeader, ss.csrf)
	}
	for k, v := range header {
		h[k] = v
	}
	return f.send(method, path, "", body, h)
}

// TestSessions: a local user signs in with its password, works with the
// session's cookie and CSRF token, and the session ends when the user
// signs out, is disabled or its password changes.
func TestSessions(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)

	// Every failure answers the same.
	wrong := f.do("POST", "/api/v1/auth/login", "", map[string]any{"name": "alice", "password": "not the password at all"})
	unknown := f.do("POST", "/api/v1/auth/login", "", map[string]any{"name": "nobody", "password": "not the password at all"})
	wantStatus(t, wrong, http.StatusUnauthorized)
	if string(wrong.body) != string(unknown.body) || unknown.status != wrong.status {
		t.Errorf("a wrong password answers %d %s, an unknown user %d %s", wrong.status, wrong.body, unknown.status, unknown.body)
	}
	// A body without a Content-Type is not read: a cross-site form could
	// send one.
	wantStatus(t, f.send("POST", "/api/v1/auth/login", "", `{"name":"alice","password":"`+alicePassword+`"}`, http.Header{"Content-Type": nil}), http.StatusUnsupportedMediaType)
	wantStatus(t, f.send("POST", "/api/v1/auth/login", "", map[string]any{"name": "alice", "password": alicePassword}, http.Header{"Sec-Fetch-Site": {"cross-site"}}), http.StatusForbidden)

	r, ss := f.login("alice", alicePassword)
	wantStatus(t, r, http.StatusOK)
	setCookie := r.header.Get("Set-Cookie")
	for _, attr := range []string{"HttpOnly", "SameSite=Lax", "Path=/", "Max-Age=43200"} {
		if !strings.Contains(setCookie, attr) {
			t.Errorf("session cookie %q lacks %s", setCookie, attr)
		}
	}
	if strings.Contains(setCookie, "Secure") {
		t.Errorf("session cookie over plain HTTP is Secure: %q", setCookie)
	}
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "no-store") {
		t.Errorf("sign-in answer Cache-Control %q", cc)
	}

	var me api.Me
	f.as(ss, "GET", "/api/v1/me", nil, false, nil).json(t, &me)
	if me.Method != api.MeMethodSession || me.User == nil || me.User.Name != "alice" || me.CsrfToken == nil || *me.CsrfToken != ss.csrf || me.Token != nil {
		t.Fatalf("GET /me of the session: %+v", me)
	}
	wantStatus(t, f.as(ss, "GET", "/api/v1/inventories", nil, false, nil), http.StatusOK)

	// Changes need the CSRF token, from the same origin, as JSON.
	wantStatus(t, f.as(ss, "POST", "/api/v1/inventories", map[string]any{"name": "a"}, false, nil), http.StatusForbidden)
	wantStatus(t, f.as(ss, "POST", "/api/v1/inventories", map[string]any{"name": "a"}, false, http.Header{api.CSRFHeader: {"rsc_wrong"}}), http.StatusForbidden)
	wantStatus(t, f.as(ss, "POST", "/api/v1/inventories", map[string]any{"name": "a"}, true, http.Header{"Sec-Fetch-Site": {"cross-site"}}), http.StatusForbidden)
	wantStatus(t, f.as(ss, "POST", "/api/v1/inventories", `{"name":"a"}`, true, http.Header{"Content-Type": nil}), http.StatusUnsupportedMediaType)
	wantStatus(t, f.as(ss, "POST", "/api/v1/inventories", map[string]any{"name": "a"}, true, nil), http.StatusCreated)
	// The session is alice's: an operator makes no token.
	wantStatus(t, f.as(ss, "POST", "/api/v1/tokens", map[string]any{"name": "t", "role": "runner"}, true, nil), http.StatusForbidden)

	// A token request ignores cookies and needs no CSRF token.
	wantStatus(t, f.send("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "b"}, http.Header{"Cookie": {ss.cookie}}), http.StatusCreated)
	wantStatus(t, f.send("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "c"}, http.Header{"Cookie": {"roster_session=garbage"}}), http.StatusCreated)
	// A token has no session to end.
	wantStatus(t, f.do("POST", "/api/v1/auth/logout", f.admin, nil), http.StatusBadRequest)

	// The sign-ins are in the audit log, with the person.
	var events api.AuditEventList
	f.do("GET", "/api/v1/audit?action=auth.sign_in", f.admin, nil).json(t, &events)
	outcomes := map[api.AuditEventOutcome]int64{}
	for _, e := range events.Items {
		outcomes[e.Outcome] += e.Count
	}
	if outcomes["allowed"] != 1 || outcomes["denied"] != 2 {
		t.Errorf("sign-in audit records: %+v", events.Items)
	}
	f.do("GET", "/api/v1/audit?action=inventory.create", f.admin, nil).json(t, &events)
	var byAlice int
	for _, e := range events.Items {
		if e.Actor == "alice" && (*e.Details)["actor_method"] == "password" && (*e.Details)["actor_user"] == "alice" {
			byAlice++
		}
	}
	if byAlice != 1 {
		t.Errorf("alice's change is not audited as hers: %+v", events.Items)
	}

	// Signing out ends the session and clears the cookie.
	wantStatus(t, f.as(ss, "POST", "/api/v1/auth/logout", nil, false, nil), http.StatusForbidden)
	r = f.as(ss, "POST", "/api/v1/auth/logout", nil, true, nil)
	wantStatus(t, r, http.StatusNoContent)
	if c := r.header.Get("Set-Cookie"); !strings.Contains(c, "roster_session=;") || !strings.Contains(c, "Max-Age=0") {
		t.Errorf("sign-out Set-Cookie %q does not clear the cookie", c)
	}
	wantStatus(t, f.as(ss, "GET", "/api/v1/me", nil, false, nil), http.StatusUnauthorized)

	// Disabling the user ends its sessions, for good.
	_, ss = f.login("alice", alicePassword)
	wantStatus(t, f.do("PATCH", "/api/v1/users/alice", f.admin, map[string]any{"disabled": true}), http.StatusOK)
	wantStatus(t, f.as(ss, "GET", "/api/v1/me", nil, false, nil), http.StatusUnauthorized)
	r, _ = f.login("alice", alicePassword)
	wantStatus(t, r, http.StatusUnauthorized)
	if string(r.body) != string(unknown.body) {
		t.Errorf("a disabled user's sign-in answers %s, an unknown user's %s", r.body, unknown.body)
	}
	wantStatus(t, f.do("PATCH", "/api/v1/users/alice", f.admin, map[string]any{"disabled": false}), http.StatusOK)
	wantStatus(t, f.as(ss, "GET", "/api/v1/me", nil, false, nil), http.StatusUnauthorized)

	// So does a new password.
	_, ss = f.login("alice", alicePassword)
	wantStatus(t, f.as(ss, "GET", "/api/v1/me", nil, false, nil), http.StatusOK)
	const newPassword = "another long enough password"
	f.secrets = append(f.secrets, newPassword)
	wantStatus(t, f.do("PATCH", "/api/v1/users/alice", f.admin, map[string]any{"password": newPassword}), http.StatusOK)
	wantStatus(t, f.as(ss, "GET", "/api/v1/me", nil, false, nil), http.StatusUnauthorized)
	r, _ = f.login("alice", newPassword)
	wantStatus(t, r, http.StatusOK)

	// And deleting the user.
	_, ss = f.login("alice", newPassword)
	wantStatus(t, f.do("DELETE", "/api/v1/users/alice", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.as(ss, "GET", "/api/v1/me", nil, false, nil), http.StatusUnauthorized)
}

// A session unused for the idle timeout, or older than its absolute end,
// is over, and deleted.
func TestSessionTimeouts(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	u, err := f.store.User(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for _, tc := range []struct {
		name             string
		lastSeen, expiry time.Time
		status           int
	}{
		{"fresh", now, now.Add(time.Hour), http.StatusOK},
		{"idle", now.Add(-api.DefaultSessionIdleTimeout - time.Minute), now.Add(time.Hour), http.StatusUnauthorized},
		{"expired", now, now.Add(-time.Second), http.StatusUnauthorized},
	} {
		value, hash := roster.NewSessionValue()
		f.secrets = append(f.secrets, value.Reveal())
		ss := &roster.Session{UserID: u.ID, CSRFHash: roster.HashToken(roster.SessionCSRFToken(value)), Method: "password",
			CreatedAt: tc.lastSeen, LastSeenAt: tc.lastSeen, ExpiresAt: tc.expiry}
		if err := f.store.CreateSession(t.Context(), ss, hash); err != nil {
			t.Fatal(err)
		}
		r := f.send("GET", "/api/v1/me", "", nil, http.Header{"Cookie": {"roster_session=" + value.Reveal()}})
		if r.status != tc.status {
			t.Errorf("%s session: %d, want %d", tc.name, r.status, tc.status)
		}
		_, err := f.store.SessionByHash(t.Context(), hash)
		if gone := roster.ErrorCode(err) == roster.ENOTFOUND; gone != (tc.status != http.StatusOK) {
			t.Errorf("%s session: deleted %v", tc.name, gone)
		}
	}
}

// Failed sign-ins are limited per account and address: past 5 in a
// window, even the right password is refused, with Retry-After; an
// account that does not exist is limited alike, so the answer tells
// nothing.
func TestSignInLimits(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	answers := map[string]response{}
	for _, name := range []string{"alice", "nobody"} {
		for range 5 {
			wantStatus(t, f.do("POST", "/api/v1/auth/login", "", map[string]any{"name": name, "password": "a wrong password, long"}), http.StatusUnauthorized)
		}
		r := f.do("POST", "/api/v1/auth/login", "", map[string]any{"name": name, "password": alicePassword})
		wantStatus(t, r, http.StatusTooManyRequests)
		secs, err := strconv.Atoi(r.header.Get("Retry-After"))
		if err != nil || secs < 1 || secs > 15*60 {
			t.Errorf("%s: Retry-After %q", name, r.header.Get("Retry-After"))
		}
		answers[name] = r
	}
	if string(answers["alice"].body) != string(answers["nobody"].body) {
		t.Errorf("a limited account answers %s, a limited unknown one %s", answers["alice"].body, answers["nobody"].body)
	}
	// The counts are in the database, for every node.
	window := time.Now().Truncate(15 * time.Minute)
	counts, err := f.store.SignInFailures(t.Context(), window, "account:local:alice", "address:127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if counts["account:local:alice"] != 5 || counts["address:127.0.0.1"] != 10 {
		t.Errorf("failure counts %v", counts)
	}
}

// A user trades its password for a token of its own (roster login), which
// acts as the user and is revoked by signing out.
func TestLoginToken(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	wantStatus(t, f.do("POST", "/api/v1/auth/token", "", map[string]any{"name": "alice", "password": "a wrong password, long"}), http.StatusUnauthorized)
	r := f.do("POST", "/api/v1/auth/token", "", map[string]any{"name": "alice", "password": alicePassword})
	wantStatus(t, r, http.StatusCreated)
	var created api.TokenCreated
	r.json(t, &created)
	f.secrets = append(f.secrets, created.Value)
	if created.UserId == nil || created.ExpiresAt == nil || time.Until(*created.ExpiresAt) > api.DefaultSessionMaxAge || !strings.HasPrefix(created.Name, "login-alice-") {
		t.Fatalf("login token %+v", created)
	}
	var me api.Me
	f.do("GET", "/api/v1/me", created.Value, nil).json(t, &me)
	if me.Method != api.MeMethodToken || me.User == nil || me.User.Name != "alice" || me.CsrfToken != nil {
		t.Fatalf("GET /me of a login token: %+v", me)
	}
	// An operator: it changes inventories, makes no token.
	wantStatus(t, f.do("POST", "/api/v1/inventories", created.Value, map[string]any{"name": "a"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/tokens", created.Value, map[string]any{"name": "t", "role": "runner"}), http.StatusForbidden)

	wantStatus(t, f.do("POST", "/api/v1/auth/logout", created.Value, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/me", created.Value, nil), http.StatusUnauthorized)

	// A new password ends every roster login token of the old one; a
	// token an admin made for the user stays, and logout does not end it.
	r = f.do("POST", "/api/v1/auth/token", "", map[string]any{"name": "alice", "password": alicePassword})
	wantStatus(t, r, http.StatusCreated)
	r.json(t, &created)
	f.secrets = append(f.secrets, created.Value)
	r = f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": "alices-ci", "role": "operator", "user": "alice"})
	wantStatus(t, r, http.StatusCreated)
	var made api.TokenCreated
	r.json(t, &made)
	f.secrets = append(f.secrets, made.Value)
	wantStatus(t, f.do("POST", "/api/v1/auth/logout", made.Value, nil), http.StatusBadRequest)
	wantStatus(t, f.do("PATCH", "/api/v1/users/alice", f.admin, map[string]any{"password": "a brand new passphrase"}), http.StatusOK)
	f.secrets = append(f.secrets, "a brand new passphrase")
	wantStatus(t, f.do("GET", "/api/v1/me", created.Value, nil), http.StatusUnauthorized)
	wantStatus(t, f.do("GET", "/api/v1/me", made.Value, nil), http.StatusOK)
}

// TestTrustedProxies: behind a trusted proxy, sign-in limits count the
// client X-Forwarded-For names (the right-most hop that is no trusted
// proxy); from anyone else, the header is ignored, so it cannot dodge the
// per-address limit.
func TestTrustedProxies(t *testing.T) {
	f := newFixtureWith(t, func(_ string, c *api.Config) {
		c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
	})
	f.localUser("alice", alicePassword)
	fail := func(forwarded string) {
		h := http.Header{}
		if forwarded != "" {
			h.Set("X-Forwarded-For", forwarded)
		}
		wantStatus(t, f.send("POST", "/api/v1/auth/login", "", map[string]any{"name": "alice", "password": "a wrong password, long"}, h), http.StatusUnauthorized)
	}
	fail("198.51.100.7")
	fail("203.0.113.9, 198.51.100.7") // the client chose 203.0.113.9: not believed
	fail("198.51.100.7, 127.0.0.2")   // a second trusted proxy in the chain
	fail("2001:db8::1")
	fail("")
	window := time.Now().Truncate(15 * time.Minute)
	counts, err := f.store.SignInFailures(t.Context(), window, "address:198.51.100.7", "address:203.0.113.9", "address:2001:db8::/64", "address:127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	if counts["address:198.51.100.7"] != 3 || counts["address:203.0.113.9"] != 0 || counts["address:2001:db8::/64"] != 1 || counts["address:127.0.0.1"] != 1 {
		t.Fatalf("failures by address: %v", counts)
	}

	// Not a trusted proxy: the header changes nothing.
	g := newFixture(t)
	g.localUser("alice", alicePassword)
	for _, xff := range []string{"198.51.100.1", "198.51.100.2"} {
		wantStatus(t, g.send("POST", "/api/v1/auth/login", "", map[string]any{"name": "alice", "password": "a wrong password, long"}, http.Header{"X-Forwarded-For": {xff}}), http.StatusUnauthorized)
	}
	counts, err = g.store.SignInFailures(t.Context(), window, "address:127.0.0.1", "address:198.51.100.1")
	if err != nil {
		t.Fatal(err)
	}
	if counts["address:127.0.0.1"] != 2 || counts["address:198.51.100.1"] != 0 {
		t.Fatalf("failures by address without trust: %v", counts)
	}
}
