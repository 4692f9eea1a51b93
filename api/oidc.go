package api

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/oidcauth"
)

// OIDCClient is an OpenID Connect provider as the API uses it (package
// oidcauth): Start makes the provider's authorization URL and the flow to
// keep until the browser comes back, Finish trades the code for the
// identity the provider vouches for.
type OIDCClient interface {
	Start(ctx context.Context) (authURL string, flow oidcauth.Flow, err error)
	Finish(ctx context.Context, flow oidcauth.Flow, code string) (*roster.ExternalIdentity, error)
}

// OIDCProvider is an OpenID Connect provider users sign in with through
// the browser, and the command line through a device sign-in.
type OIDCProvider struct {
	Name   string
	Client OIDCClient
	Teams  []TeamMapping
}

// OIDCCallbackPath is the redirect URI of a provider, below the server's
// public URL: register it with the provider.
func OIDCCallbackPath(provider string) string { return "/api/v1/auth/oidc/" + provider + "/callback" }

const (
	oidcPrefix = "/api/v1/auth/oidc/"
	// A sign-in under way ends unfinished after flowTTL.
	flowTTL = 10 * time.Minute
	// flowStartsPerAddress bounds the sign-ins one address starts per
	// window: each is a row until it ends.
	flowStartsPerAddress = 60
	defaultReturnTo      = "/api/v1/me"
	// The flow cookie binds an OIDC sign-in to the browser that started
	// it (no other browser can finish it: login CSRF).
	flowCookieTLS   = "__Host-roster_flow"
	flowCookiePlain = "roster_flow"
)

// oidcFlowData is what an OIDC sign-in keeps until the callback.
type oidcFlowData struct {
	Nonce    string `json:"nonce"`
	Verifier string `json:"verifier"`
	ReturnTo string `json:"return_to"`
}

// ListSignInProviders implements StrictServerInterface.
func (s *Server) ListSignInProviders(ctx context.Context, _ ListSignInProvidersRequestObject) (ListSignInProvidersResponseObject, error) {
	out := ListSignInProviders200JSONResponse{Items: []SignInProvider{{Name: "local", Kind: SignInProviderKindLocal}}}
	for _, name := range slices.Sorted(maps.Keys(s.directories)) {
		out.Items = append(out.Items, SignInProvider{Name: name, Kind: SignInProviderKindLdap})
	}
	for _, name := range slices.Sorted(maps.Keys(s.oidc)) {
		start := oidcPrefix + name + "/start"
		out.Items = append(out.Items, SignInProvider{Name: name, Kind: SignInProviderKindOidc, StartUrl: &start})
	}
	return out, nil
}

// oidcProvider finds a provider of the config by name.
func (s *Server) oidcProvider(name string) (*OIDCProvider, error) {
	if p := s.oidc[name]; p != nil {
		return p, nil
	}
	return nil, roster.Errorf(roster.ENOTFOUND, "no OpenID Connect provider %q (GET /api/v1/auth/providers lists them)", clip(name))
}

// countFlowStart counts a sign-in started from the caller's address, and
// refuses it past the window's bound.
func (s *Server) countFlowStart(ctx context.Context) error {
	now := s.now()
	window := now.Truncate(signInWindow)
	key := "flow_start:" + addressKey(clientFrom(ctx).addr)
	counts, err := s.store.SignInFailures(ctx, window, key)
	if err != nil {
		return err
	}
	if counts[key] >= flowStartsPerAddress {
		return &tooMany{wait: window.Add(signInWindow).Sub(now), err: roster.Errorf(roster.ETOOMANY, "too many sign-ins started from this address: try again later")}
	}
	return s.store.AddSignInFailure(context.WithoutCancel(ctx), window, key)
}

// checkReturnTo accepts a path of this server only: a sign-in never sends
// the browser elsewhere (an open redirect).
func checkReturnTo(v string) (string, error) {
	if v == "" {
		return defaultReturnTo, nil
	}
	u, err := url.Parse(v)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || !strings.HasPrefix(v, "/") || strings.HasPrefix(v, "//") || strings.ContainsAny(v, "\\\r\n") {
		return "", roster.Invalid(roster.FieldError{Field: "return_to", Message: "must be a path of this server, starting with a single /"})
	}
	return v, nil
}

// StartOIDCSignIn implements StrictServerInterface.
func (s *Server) StartOIDCSignIn(ctx context.Context, req StartOIDCSignInRequestObject) (StartOIDCSignInResponseObject, error) {
	p, err := s.oidcProvider(req.Provider)
	if err != nil {
		return nil, err
	}
	returnTo, err := checkReturnTo(deref(req.Params.ReturnTo))
	if err != nil {
		return nil, err
	}
	if err := s.countFlowStart(ctx); err != nil {
		return nil, err
	}
	authURL, flow, err := p.Client.Start(ctx)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(oidcFlowData{Nonce: flow.Nonce, Verifier: flow.Verifier.Reveal(), ReturnTo: returnTo})
	if err != nil {
		return nil, err
	}
	now := s.now()
	f := &roster.SignInFlow{ID: roster.HashToken(roster.Secret(flow.State)), Kind: roster.FlowOIDC, Provider: p.Name, Data: roster.Secret(data),
		Status: roster.FlowPending, CreatedAt: now, ExpiresAt: now.Add(flowTTL)}
	if err := s.store.CreateSignInFlow(ctx, f); err != nil {
		return nil, err
	}
	cookie := flowCookie(clientFrom(ctx).tls, flow.State)
	return StartOIDCSignIn302Response{Headers: StartOIDCSignIn302ResponseHeaders{Location: &authURL, SetCookie: &cookie}}, nil
}

func flowCookie(tls bool, state string) string {
	ck := &http.Cookie{Name: flowCookiePlain, Value: state, Path: "/", MaxAge: int(flowTTL / time.Second), HttpOnly: true, SameSite: http.SameSiteLaxMode, Secure: tls}
	if tls {
		ck.Name = flowCookieTLS
	}
	return ck.String()
}

func flowCookieName(tls bool) string {
	if tls {
		return flowCookieTLS
	}
	return flowCookiePlain
}

// FinishOIDCSignIn implements StrictServerInterface.
func (s *Server) FinishOIDCSignIn(ctx context.Context, req FinishOIDCSignInRequestObject) (FinishOIDCSignInResponseObject, error) {
	p, err := s.oidcProvider(req.Provider)
	if err != nil {
		return nil, err
	}
	cl := clientFrom(ctx)
	method := "oidc:" + p.Name
	state := deref(req.Params.State)
	switch {
	case state == "":
		return nil, roster.Invalid(roster.FieldError{Field: "state", Message: "is required: start signing in at " + oidcPrefix + p.Name + "/start"})
	case cl.flowCookie == "" || !constantTimeEqual(cl.flowCookie, state):
		// Not the browser that started this sign-in (or its cookie
		// expired): nobody is signed in by a link someone else sent.
		s.auditSignIn(ctx, roster.AuditDenied, nil, "", method, cl, "the state does not match this browser's sign-in")
		return nil, roster.Invalid(roster.FieldError{Field: "state", Message: "does not belong to a sign-in this browser started (or it took longer than 10 minutes): start again"})
	}
	f, err := s.store.SignInFlow(ctx, roster.HashToken(roster.Secret(state)), s.now())
	if err != nil {
		return nil, flowGone(err)
	}
	// Used once: of two callbacks with this state, one goes on.
	if err := s.store.DeleteSignInFlow(ctx, f.ID); err != nil {
		return nil, flowGone(err)
	}
	if f.Kind != roster.FlowOIDC || f.Provider != p.Name {
		return nil, roster.Invalid(roster.FieldError{Field: "state", Message: "belongs to another sign-in: start again"})
	}
	if e := deref(req.Params.Error); e != "" {
		reason := "the identity provider refused: " + clip(e)
		if d := deref(req.Params.ErrorDescription); d != "" {
			reason += ": " + clip(d)
		}
		s.auditSignIn(ctx, roster.AuditDenied, nil, "", method, cl, reason)
		return nil, roster.Errorf(roster.EUNAUTHORIZED, "%s", reason)
	}
	var data oidcFlowData
	if err := json.Unmarshal([]byte(f.Data.Reveal()), &data); err != nil {
		return nil, err
	}
	id, err := p.Client.Finish(ctx, oidcauth.Flow{State: state, Nonce: data.Nonce, Verifier: roster.Secret(data.Verifier)}, deref(req.Params.Code))
	if err != nil {
		outcome := roster.AuditDenied
		if roster.ErrorCode(err) == roster.EUNAVAILABLE {
			outcome = roster.AuditFailed
		}
		s.auditSignIn(ctx, outcome, nil, "", method, cl, roster.ErrorMessage(err))
		return nil, err
	}
	u, err := s.signInExternal(ctx, id, p.Teams)
	if err != nil {
		s.auditSignIn(ctx, roster.AuditDenied, nil, id.Username, method, cl, roster.ErrorMessage(err))
		return nil, err
	}
	if u.Disabled {
		s.auditSignIn(ctx, roster.AuditDenied, u, u.Name, method, cl, "user disabled")
		return nil, roster.Errorf(roster.EFORBIDDEN, "user %q is disabled in Roster", u.Name)
	}
	if err := s.store.RecordSignIn(ctx, u.ID, s.now()); err != nil {
		s.log.Warn("recording a sign-in failed", "user", u.Name, "err", err)
	}
	s.auditSignIn(ctx, roster.AuditAllowed, u, u.Name, method, cl, "")
	_, cookie, err := s.startSession(ctx, u, method)
	if err != nil {
		return nil, err
	}
	return FinishOIDCSignIn302Response{Headers: FinishOIDCSignIn302ResponseHeaders{Location: &data.ReturnTo, SetCookie: &cookie}}, nil
}

// flowGone explains a sign-in under way that is not there.
func flowGone(err error) error {
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return roster.Invalid(roster.FieldError{Field: "state", Message: "names no sign-in under way (it was used, or took longer than 10 minutes): start again"})
	}
	return err
}

// randomCode returns n characters of alphabet, uniformly.
func randomCode(alphabet string, n int) string {
	b := make([]byte, n)
	buf := make([]byte, 1)
	for i := 0; i < n; {
		rand.Read(buf)
		// Rejection sampling keeps the choice uniform.
		if int(buf[0]) >= 256-256%len(alphabet) {
			continue
		}
		b[i] = alphabet[int(buf[0])%len(alphabet)]
		i++
	}
	return string(b)
}
