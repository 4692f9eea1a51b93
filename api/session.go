package api

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/password"
)

// Session defaults (flags --session-idle-timeout, --session-max-age).
const (
	DefaultSessionIdleTimeout = 30 * time.Minute
	DefaultSessionMaxAge      = 12 * time.Hour
)

// Session cookies: the __Host- prefix makes browsers take the cookie only
// when Secure, with Path=/ and no Domain, set by this very host; it needs
// TLS, so a server on plain HTTP (loopback, or behind a proxy that
// terminates TLS) names it without the prefix.
const (
	sessionCookieTLS   = "__Host-roster_session"
	sessionCookiePlain = "roster_session"
	// CSRFHeader carries a session's CSRF token on requests that change
	// anything.
	CSRFHeader = "X-CSRF-Token"
)

// signInPath reports whether a path signs in: it takes no credential
// but what it is sent (a password, a provider's code, a device code).
func signInPath(p string) bool {
	switch p {
	case "/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/providers", "/api/v1/auth/device", "/api/v1/auth/device/token":
		return true
	}
	return strings.HasPrefix(p, oidcPrefix)
}

// Brute-force limits: failed sign-ins per window, counted in the
// database (every node counts the same). Past a limit, sign-in is refused
// (429) until the window ends, whatever the password.
const (
	signInWindow        = 15 * time.Minute
	maxFailsAccountAddr = 5
	maxFailsAccount     = 30
	maxFailsAddress     = 100
	kdfWait             = 2 * time.Second
	// maxDirectorySignIns bounds the directory binds under way at once.
	maxDirectorySignIns   = 16
	errSignInFailedString = "the name or the password is wrong"
)

var errSignInFailed = roster.Errorf(roster.EUNAUTHORIZED, errSignInFailedString)

func sessionCookieName(secure bool) string {
	if secure {
		return sessionCookieTLS
	}
	return sessionCookiePlain
}

// client is what the authenticate middleware keeps of the request for
// handlers that need it: its address and whether its cookies must be
// Secure.
type client struct {
	addr string // the peer's IP address
	// tls: the request came over TLS, or Roster's public URL is https
	// (TLS ends at a proxy in front): cookies are Secure, __Host-.
	tls bool
	// flowCookie is the state of the OIDC sign-in this browser started,
	// if any.
	flowCookie string
}

type clientKey struct{}

func clientFrom(ctx context.Context) client {
	c, _ := ctx.Value(clientKey{}).(client)
	return c
}

func (s *Server) withClient(r *http.Request) *http.Request {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	host = s.clientAddress(host, r.Header.Values("X-Forwarded-For"))
	cl := client{addr: host, tls: r.TLS != nil || strings.HasPrefix(s.publicURL, "https://")}
	if ck, err := r.Cookie(flowCookieName(cl.tls)); err == nil && len(ck.Value) <= 256 {
		cl.flowCookie = ck.Value
	}
	return r.WithContext(context.WithValue(r.Context(), clientKey{}, cl))
}

// clientAddress is the address of the client behind a request from peer:
// the peer itself, unless it is a trusted proxy (--trusted-proxies); then
// the right-most address of X-Forwarded-For that is no trusted proxy (the
// ones left of it are whatever the client chose to send).
func (s *Server) clientAddress(peer string, forwarded []string) string {
	if len(s.trustedProxies) == 0 || len(forwarded) == 0 || !s.trusted(peer) {
		return peer
	}
	var hops []string
	for _, v := range forwarded {
		hops = append(hops, strings.Split(v, ",")...)
	}
	for i := len(hops) - 1; i >= 0 && i >= len(hops)-maxForwardedHops; i-- {
		ip, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			return peer // a hop a trusted proxy would not write: trust none
		}
		if !s.trusted(ip.String()) {
			return ip.Unmap().String()
		}
	}
	return peer
}

// maxForwardedHops bounds the X-Forwarded-For entries read.
const maxForwardedHops = 16

func (s *Server) trusted(addr string) bool {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return false
	}
	ip = ip.Unmap()
	for _, p := range s.trustedProxies {
		if p.Contains(ip) {
			return true
		}
	}
	return false
}

// addressKey is the brute-force key of an address: an IPv4 address, or
// the /64 of an IPv6 one (one host usually holds a whole /64).
func addressKey(addr string) string {
	ip, err := netip.ParseAddr(addr)
	if err != nil {
		return addr
	}
	if ip.Is4() || ip.Is4In6() {
		return ip.Unmap().String()
	}
	p, _ := ip.Prefix(64)
	return p.String()
}

// sessionOf finds the session of a request's cookie, and its caller. ok
// is false when the request carries no session cookie.
func (s *Server) sessionOf(r *http.Request) (c *caller, ok bool, err error) {
	return s.findSession(r, true)
}

// findSession is sessionOf; touch false leaves the session's last use as
// it was (a check made for the person, not by it: a live view re-checking
// its session must not keep an idle session alive).
func (s *Server) findSession(r *http.Request, touch bool) (c *caller, ok bool, err error) {
	ck, err := r.Cookie(sessionCookieName(clientFrom(r.Context()).tls))
	if err != nil || ck.Value == "" {
		return nil, false, nil
	}
	bad := roster.Errorf(roster.EUNAUTHORIZED, "the session is not valid (signed out, ended or expired): sign in again")
	if !roster.WellFormedSession(ck.Value) {
		return nil, true, bad
	}
	ctx := r.Context()
	value := roster.Secret(ck.Value)
	ss, err := s.store.SessionByHash(ctx, roster.HashToken(value))
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, true, bad
	} else if err != nil {
		return nil, true, err
	}
	now := s.now()
	if !now.Before(ss.ExpiresAt) || now.Sub(ss.LastSeenAt) > s.sessionIdle {
		if err := s.store.DeleteSession(context.WithoutCancel(ctx), ss.ID); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
			s.log.Warn("deleting an ended session failed", "err", err)
		}
		return nil, true, bad
	}
	u, err := s.store.User(ctx, ss.UserID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, true, bad
	} else if err != nil {
		return nil, true, err
	}
	if u.Disabled {
		return nil, true, bad
	}
	// A session signed in with a token of the user's acts as the token
	// does: its limits cut the user's rights. It ends with the token
	// (revoked: its row and the session's are gone; expired: here).
	var tok *roster.Token
	if ss.TokenID != "" {
		tok, err = s.store.Token(ctx, ss.TokenID)
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			return nil, true, bad
		} else if err != nil {
			return nil, true, err
		}
		if tok.UserID != u.ID || tok.Expired(now) {
			return nil, true, bad
		}
	}
	c, err = s.userCaller(ctx, u, tok, ss.Method)
	if err != nil {
		return nil, true, err
	}
	c.session, c.sessionValue = ss, value
	if touch {
		s.touchSession(ss, now)
	}
	return c, true, nil
}

// touchSession records a session's use at most once a minute, as touch
// does a token's: the idle timeout is thus exact to a minute.
func (s *Server) touchSession(ss *roster.Session, now time.Time) {
	if !s.touched.due("session:"+ss.ID, now) {
		return
	}
	ss.LastSeenAt = now
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.store.TouchSession(ctx, ss.ID, now); err != nil {
			s.log.Warn("recording session use failed", "err", err)
		}
	}()
}

// checkCSRF guards a cookie-authenticated request that may change
// something: it must be same-origin as browsers tell
// (http.CrossOriginProtection: Sec-Fetch-Site, Origin) and carry the
// session's CSRF token, which only a page that read it from Roster has.
func (s *Server) checkCSRF(r *http.Request, c *caller) error {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if err := s.crossOrigin.Check(r); err != nil {
		return roster.Errorf(roster.EFORBIDDEN, "a cross-origin request may not use the session")
	}
	got := roster.HashToken(roster.Secret(r.Header.Get(CSRFHeader)))
	if r.Header.Get(CSRFHeader) == "" || subtle.ConstantTimeCompare([]byte(got), []byte(c.session.CSRFHash)) != 1 {
		return roster.Errorf(roster.EFORBIDDEN, "missing or wrong CSRF token: send the session's token (from sign-in or GET /api/v1/me) in %s", CSRFHeader)
	}
	return nil
}

// sessionCookie is the Set-Cookie value of a session (value "" and
// maxAge < 0: clear it).
func sessionCookie(tls bool, value roster.Secret, maxAge time.Duration) string {
	ck := &http.Cookie{Name: sessionCookiePlain, Value: value.Reveal(), Path: "/", HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: tls}
	if tls {
		ck.Name = sessionCookieTLS
	}
	if maxAge < 0 {
		ck.MaxAge = -1
	} else {
		ck.MaxAge = int(maxAge / time.Second)
	}
	return ck.String()
}

// checkPassword signs a user in with its name and password: a local
// user (provider "" or "local"), or a user of a directory of the config.
// It refuses always in the same words; past the brute-force limits it
// refuses before looking, with 429. It returns the user and the sign-in
// method, as sessions and the audit log name it.
func (s *Server) checkPassword(ctx context.Context, provider, name string, pw roster.Secret) (*roster.User, string, error) {
	var dir *Directory
	switch provider {
	case "", "local":
		provider = "local"
	default:
		if dir = s.directories[provider]; dir == nil {
			return nil, "", roster.Invalid(roster.FieldError{Field: "provider", Message: fmt.Sprintf("no directory %q: local or a directory of the config (GET /api/v1/auth/providers)", clip(provider))})
		}
	}
	method := "password"
	if dir != nil {
		method = "ldap:" + dir.Name
	}
	cl := clientFrom(ctx)
	// One account, however typed: directories ignore case and runs of
	// spaces, and so does the account's brute-force key.
	name = strings.Join(strings.Fields(strings.ToLower(name)), " ")
	addr := addressKey(cl.addr)
	account := provider + ":" + name
	if dir != nil {
		account = "ldap:" + account
	}
	keys := []string{"account:" + account, "address:" + addr, "account_address:" + account + "|" + addr}
	// The KDF takes memory and a core, a directory's bind a connection
	// (directories have slots of their own, so that a slow or flooded
	// directory never holds up local sign-in): a bounded number run at
	// once. The failure counts are read once a slot is held, so that a
	// burst of tries waiting for slots does not all pass one count.
	slots := s.kdf
	if dir != nil {
		slots = s.directorySlots
	}
	wait := time.NewTimer(kdfWait)
	defer wait.Stop()
	select {
	case slots <- struct{}{}:
		defer func() { <-slots }()
	case <-wait.C:
		return nil, "", &tooMany{wait: time.Second, err: roster.Errorf(roster.ETOOMANY, "too many sign-ins at once: try again")}
	case <-ctx.Done():
		return nil, "", ctx.Err()
	}
	now := s.now()
	window := now.Truncate(signInWindow)
	counts, err := s.store.SignInFailures(ctx, window, keys...)
	if err != nil {
		return nil, "", err
	}
	if counts[keys[0]] >= maxFailsAccount || counts[keys[1]] >= maxFailsAddress || counts[keys[2]] >= maxFailsAccountAddr {
		s.auditSignIn(ctx, roster.AuditDenied, nil, name, method, cl, "too many failed sign-ins")
		return nil, "", &tooMany{wait: window.Add(signInWindow).Sub(now),
			err: roster.Errorf(roster.ETOOMANY, "too many failed sign-ins: try again later")}
	}
	fail := func(u *roster.User, reason string) (*roster.User, string, error) {
		if err := s.store.AddSignInFailure(context.WithoutCancel(ctx), window, keys...); err != nil {
			return nil, "", err
		}
		s.auditSignIn(ctx, roster.AuditDenied, u, name, method, cl, reason)
		return nil, "", errSignInFailed
	}
	var u *roster.User
	if dir != nil {
		id, err := dir.Auth.Authenticate(ctx, name, pw)
		switch {
		case roster.ErrorCode(err) == roster.EUNAUTHORIZED:
			return fail(nil, "wrong name or password")
		case err != nil:
			// The directory is down or refuses Roster: nobody gets in,
			// and it is not the person's failure.
			s.auditSignIn(ctx, roster.AuditFailed, nil, name, method, cl, roster.ErrorMessage(err))
			if roster.ErrorCode(err) == roster.EUNAVAILABLE {
				return nil, "", roster.Errorf(roster.EUNAVAILABLE, "%s: sign in later, or as a local user", roster.ErrorMessage(err))
			}
			return nil, "", err
		}
		if u, err = s.signInExternal(ctx, id, dir.Teams); err != nil {
			s.auditSignIn(ctx, roster.AuditDenied, nil, name, method, cl, roster.ErrorMessage(err))
			return nil, "", err
		}
		if u.Disabled {
			return fail(u, "user disabled")
		}
	} else {
		// By name only: a user's id is no second name to guess with.
		if roster.ValidateUserName("name", name) == nil {
			u, err = s.store.User(ctx, name)
			if err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
				return nil, "", err
			}
			if u != nil && u.Name != name {
				u = nil
			}
		}
		stored := ""
		if u != nil && u.Source == roster.UserLocal {
			stored = u.PasswordHash.Reveal()
		}
		// An unknown user, an external one or one without a password
		// costs a verification as well (Verify of "" does a dummy one):
		// the time taken does not tell which names exist.
		match, err := password.Verify(pw, stored)
		if err != nil {
			s.log.Error("a stored password hash is malformed", "user", u.Name, "err", err)
			match = false
		}
		if !match || u.Disabled {
			return fail(u, "wrong name or password, or user disabled")
		}
		if password.NeedsRehash(stored, password.Default) {
			if h, err := password.Hash(pw); err == nil {
				hs := roster.Secret(h)
				if _, err := s.store.UpdateUser(ctx, u.ID, roster.UserUpdate{PasswordHash: &hs}); err != nil {
					s.log.Warn("rehashing a password failed", "user", u.Name, "err", err)
				}
			}
		}
	}
	if err := s.store.RecordSignIn(ctx, u.ID, now); err != nil {
		s.log.Warn("recording a sign-in failed", "user", u.Name, "err", err)
	}
	s.auditSignIn(ctx, roster.AuditAllowed, u, name, method, cl, "")
	return u, method, nil
}

// Login implements StrictServerInterface.
func (s *Server) Login(ctx context.Context, req LoginRequestObject) (LoginResponseObject, error) {
	u, method, err := s.checkPassword(ctx, deref(req.Body.Provider), req.Body.Name, roster.Secret(deref(req.Body.Password)))
	if err != nil {
		return nil, err
	}
	me, cookie, err := s.startSession(ctx, u, method)
	if err != nil {
		return nil, err
	}
	return Login200JSONResponse{Body: me, Headers: Login200ResponseHeaders{SetCookie: &cookie}}, nil
}

// startSession starts a session of u, signed in by method, and returns
// what GET /me says of it and its Set-Cookie value.
func (s *Server) startSession(ctx context.Context, u *roster.User, method string) (Me, string, error) {
	return s.startSessionWith(ctx, u, nil, method)
}

// startSessionWith is startSession bound to tok, a token of u's (nil:
// none): the session acts as the token does and ends with it, at its
// expiry at the latest.
func (s *Server) startSessionWith(ctx context.Context, u *roster.User, tok *roster.Token, method string) (Me, string, error) {
	cl, now := clientFrom(ctx), s.now()
	value, hash := roster.NewSessionValue()
	csrf := roster.SessionCSRFToken(value)
	ss := &roster.Session{UserID: u.ID, CSRFHash: roster.HashToken(csrf), Method: method, Address: cl.addr,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.sessionMaxAge)}
	if tok != nil {
		ss.TokenID = tok.ID
		if tok.ExpiresAt != nil && tok.ExpiresAt.Before(ss.ExpiresAt) {
			ss.ExpiresAt = *tok.ExpiresAt
		}
	}
	if err := s.store.CreateSession(ctx, ss, hash); err != nil {
		return Me{}, "", err
	}
	out := userOut(u)
	cookie := sessionCookie(cl.tls, value, s.sessionMaxAge)
	return Me{Method: MeMethodSession, User: &out, CsrfToken: ptr(csrf.Reveal()), ExpiresAt: &ss.ExpiresAt}, cookie, nil
}

// CreateLoginToken implements StrictServerInterface.
func (s *Server) CreateLoginToken(ctx context.Context, req CreateLoginTokenRequestObject) (CreateLoginTokenResponseObject, error) {
	u, method, err := s.checkPassword(ctx, deref(req.Body.Provider), req.Body.Name, roster.Secret(deref(req.Body.Password)))
	if err != nil {
		return nil, err
	}
	return s.loginToken(ctx, u, method)
}

// loginTokenTTL is how long a token of roster login lives: a session's
// age, or the token bound if shorter.
func (s *Server) loginTokenTTL() time.Duration {
	if s.tokenMaxTTL > 0 && s.tokenMaxTTL < s.sessionMaxAge {
		return s.tokenMaxTTL
	}
	return s.sessionMaxAge
}

// loginToken makes a token of u's for the command line, signed in by
// method.
func (s *Server) loginToken(ctx context.Context, u *roster.User, method string) (CreateLoginToken201JSONResponse, error) {
	ttl := s.loginTokenTTL()
	var suffix [4]byte
	rand.Read(suffix[:])
	tok, err := NewToken(ctx, s.store, TokenSpec{Name: loginTokenName(u.Name, hex.EncodeToString(suffix[:])), Role: roster.RoleAdmin, TTL: &ttl}, s.now(), 0)
	if err != nil {
		return CreateLoginToken201JSONResponse{}, err
	}
	// Role admin is no ceiling: the token does what its user may.
	tok.UserID = u.ID
	value, hash := roster.NewTokenValue()
	if err := s.store.CreateToken(ctx, tok, hash); err != nil {
		return CreateLoginToken201JSONResponse{}, err
	}
	e := &roster.AuditEvent{Actor: u.Name, Action: "token.create", Outcome: roster.AuditAllowed, TargetType: "token", TargetID: tok.ID, TargetName: tok.Name,
		Details: TokenAuditDetails(tok)}
	e.Details["actor_user"], e.Details["actor_user_id"], e.Details["actor_method"] = u.Name, u.ID, method
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("writing an audit record failed", "action", e.Action, "err", err)
	}
	t := tokenOut(tok)
	return CreateLoginToken201JSONResponse{
		Id: t.Id, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, ReadOnly: t.ReadOnly, UserId: t.UserId,
		Value: value.Reveal(), // shown once
	}, nil
}

// loginTokenPrefix starts the name of every token roster login makes.
const loginTokenPrefix = "login-"

// loginTokenName names a sign-in's token: login-USER-RANDOM, the user's
// name cut to what a token name may hold.
func loginTokenName(user, suffix string) string {
	b := []byte(user)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '-'
		}
	}
	if len(b) > 40 {
		b = b[:40]
	}
	return loginTokenPrefix + string(b) + "-" + suffix
}

// auditSignIn records a sign-in, allowed or refused (refusals aggregate).
func (s *Server) auditSignIn(ctx context.Context, outcome roster.AuditOutcome, u *roster.User, name, method string, cl client, reason string) {
	e := &roster.AuditEvent{Actor: name, Action: "auth.sign_in", Outcome: outcome, TargetType: "user", TargetName: clip(name),
		Reason: reason, Details: map[string]string{"method": method, "address": cl.addr}}
	if u != nil {
		e.TargetID = u.ID
		e.Details["actor_user"], e.Details["actor_user_id"] = u.Name, u.ID
	}
	e.Actor = clip(e.Actor)
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("writing an audit record failed", "action", e.Action, "err", err)
	}
}

// clip bounds a name the caller typed, for the audit log.
func clip(s string) string {
	if len(s) > 128 {
		return s[:128]
	}
	return s
}

// Logout implements StrictServerInterface.
func (s *Server) Logout(ctx context.Context, _ LogoutRequestObject) (LogoutResponseObject, error) {
	c := callerFrom(ctx)
	if c != nil && c.session == nil && c.user != nil && strings.HasPrefix(c.tok.Name, loginTokenPrefix) {
		// A token of roster login: revoked, as its user signs out.
		if err := s.store.DeleteToken(ctx, c.tok.ID); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
			return nil, err
		}
		s.auditChange(ctx, "token.delete", "token", c.tok.ID, c.tok.Name, "", nil)
		return Logout204Response{}, nil
	}
	if c == nil || c.session == nil {
		return nil, roster.Errorf(roster.EINVALID, "this request holds no session to end, and its token is not one roster login made (a service token, or one an admin made): an admin deletes it (DELETE /api/v1/tokens/{token})")
	}
	if err := s.store.DeleteSession(ctx, c.session.ID); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
		return nil, err
	}
	s.auditChange(ctx, "auth.sign_out", "user", c.user.ID, c.user.Name, "", nil)
	cookie := sessionCookie(clientFrom(ctx).tls, "", -1)
	return Logout204Response{Headers: Logout204ResponseHeaders{SetCookie: &cookie}}, nil
}

// GetMe implements StrictServerInterface.
func (s *Server) GetMe(ctx context.Context, _ GetMeRequestObject) (GetMeResponseObject, error) {
	c := callerFrom(ctx)
	if c == nil {
		return nil, errors.New("no caller")
	}
	out := GetMe200JSONResponse{Method: MeMethodToken}
	if c.user != nil {
		u := userOut(c.user)
		out.User = &u
	}
	if c.tok != nil {
		t := tokenOut(c.tok)
		out.Token = &t
	}
	if c.session != nil {
		out.Method = MeMethodSession
		out.CsrfToken = ptr(roster.SessionCSRFToken(c.sessionValue).Reveal())
		out.ExpiresAt = &c.session.ExpiresAt
	}
	return out, nil
}

// constantTimeEqual compares two strings a caller sent and Roster keeps
// in time that does not tell where they differ.
func constantTimeEqual(a, b string) bool {
	return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
