// Package oidcauth signs people in with an OpenID Connect provider: the
// authorization code flow with PKCE (S256), a nonce, and a confidential client
// (client_secret_basic).
//
// The caller (the API) owns everything around the flow: it stores the Flow
// that Start returns server side, binds Flow.State to the browser (a cookie),
// checks the state the provider sends back, and hands the code to Finish at
// most once. Finish returns the roster.ExternalIdentity the provider vouches
// for; turning it into a user, memberships and a session is the caller's.
//
// A Provider contacts the identity provider only when used: discovery runs at
// the first Start, Finish or Ready, is retried after a short backoff when it
// fails, and runs again after a later failure to reach the provider, so an
// identity provider that is down when Roster starts does not stop Roster.
//
// Nothing here logs. Errors are *roster.Error: EUNAVAILABLE when the provider
// cannot be reached or answers unusably, EUNAUTHORIZED when it refuses the code
// or its answer does not prove who signed in, EINVALID for configuration.
// Their messages never hold the client secret, the code, the PKCE verifier or
// a token.
package oidcauth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rosterhq/roster"
)

// Backoff between discovery attempts after failures: retryMin after the
// first, doubling up to retryMax.
const (
	retryMin = time.Second
	retryMax = 30 * time.Second
)

// Provider is one configured OpenID Connect provider. It is safe for
// concurrent use.
type Provider struct {
	cfg      Config // with defaults
	redirect string
	hc       *http.Client

	retryMin, retryMax time.Duration

	mu       sync.Mutex
	cur      *endpoints    // nil until discovered, and after a failure to reach the provider
	running  chan struct{} // closed when the running discovery ends; nil when none runs
	lastErr  error         // of the last failed discovery
	lastTry  time.Time     // when it ended
	failures int           // consecutive failed discoveries
}

// endpoints is what discovery found.
type endpoints struct {
	op       *oidc.Provider
	oauth    oauth2.Config
	verifier *oidc.IDTokenVerifier
}

// Flow is one sign-in in progress. The caller keeps it server side until the
// browser comes back, binds State to the browser, and passes it to Finish.
// Verifier is a roster.Secret: it redacts itself when printed or marshalled,
// so store Verifier.Reveal(), not the Flow as JSON.
type Flow struct {
	State    string        // the OAuth 2.0 state sent to the provider, 256 random bits
	Nonce    string        // the ID token must carry it, 256 random bits
	Verifier roster.Secret // the PKCE code verifier, 256 random bits
}

// New returns a Provider for cfg whose redirect URI (the callback registered
// with the provider) is redirectURL. It validates cfg and reads cfg.CAFile but
// does not contact the provider. cfg.ClientSecret must be filled in.
func New(cfg Config, redirectURL string) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.ClientSecret == "" {
		return nil, roster.Invalid(roster.FieldError{Field: "client_secret", Message: "is required"})
	}
	if u, err := url.Parse(redirectURL); err != nil || !u.IsAbs() || u.Host == "" ||
		u.Scheme != "https" && u.Scheme != "http" || u.Fragment != "" {
		return nil, roster.Errorf(roster.EINVALID, "oidc provider %q: redirect URL %q is not an absolute http or https URL", cfg.Name, redirectURL)
	}
	cfg = cfg.withDefaults()
	var caPEM []byte
	if cfg.CAFile != "" {
		var err error
		if caPEM, err = readCAFile(cfg.CAFile); err != nil {
			return nil, roster.Invalid(roster.FieldError{Field: "ca_file", Message: err.Error()})
		}
	}
	hc, err := newHTTPClient(caPEM, time.Duration(cfg.Timeout), maxResponseBytes)
	if err != nil {
		return nil, roster.Invalid(roster.FieldError{Field: "ca_file", Message: err.Error()})
	}
	return &Provider{cfg: cfg, redirect: redirectURL, hc: hc, retryMin: retryMin, retryMax: retryMax}, nil
}

// Name returns the provider's name in Roster's config.
func (p *Provider) Name() string { return p.cfg.Name }

// Ready reports whether the provider has been discovered, discovering it now
// if need be (unless the last attempt failed less than a backoff ago, whose
// error it returns). For health reports.
func (p *Provider) Ready(ctx context.Context) error {
	_, err := p.endpoints(ctx)
	return err
}

// Start begins a sign-in: it returns the URL of the provider's authorization
// endpoint to send the browser to, and the Flow to keep until it comes back.
func (p *Provider) Start(ctx context.Context) (authURL string, flow Flow, err error) {
	e, err := p.endpoints(ctx)
	if err != nil {
		return "", Flow{}, err
	}
	flow = Flow{State: random(), Nonce: random(), Verifier: roster.Secret(oauth2.GenerateVerifier())}
	authURL = e.oauth.AuthCodeURL(flow.State,
		oauth2.S256ChallengeOption(flow.Verifier.Reveal()), oidc.Nonce(flow.Nonce))
	return authURL, flow, nil
}

// random returns 256 random bits, base64url-encoded.
func random() string {
	b := make([]byte, 32)
	rand.Read(b) // never fails (crypto/rand)
	return base64.RawURLEncoding.EncodeToString(b)
}

// endpoints returns the discovered endpoints, discovering them if need be.
// Concurrent callers share one discovery; each waits only as long as its ctx.
func (p *Provider) endpoints(ctx context.Context) (*endpoints, error) {
	for {
		p.mu.Lock()
		if e := p.cur; e != nil {
			p.mu.Unlock()
			return e, nil
		}
		if p.lastErr != nil && time.Since(p.lastTry) < p.backoff() {
			err := p.lastErr
			p.mu.Unlock()
			return nil, err
		}
		if running := p.running; running != nil {
			p.mu.Unlock()
			select {
			case <-running:
				continue
			case <-ctx.Done():
				return nil, p.unreachable(p.cfg.Issuer, ctx.Err())
			}
		}
		done := make(chan struct{})
		p.running = done
		p.mu.Unlock()

		e, err := p.discover(ctx)

		p.mu.Lock()
		p.running = nil
		close(done)
		switch {
		case err == nil:
			p.cur, p.lastErr, p.failures = e, nil, 0
		case ctx.Err() == nil:
			// A caller that gave up is not the provider's failure.
			p.lastErr, p.lastTry = err, time.Now()
			p.failures++
		}
		p.mu.Unlock()
		return e, err
	}
}

// backoff is how long after a failed discovery the next one may start.
// p.mu is held.
func (p *Provider) backoff() time.Duration {
	d := p.retryMin
	for i := 1; i < p.failures && d < p.retryMax; i++ {
		d *= 2
	}
	return min(d, p.retryMax)
}

// forget drops e after a failure to reach the provider, so that the next use
// discovers it again (its endpoints or keys may have moved).
func (p *Provider) forget(e *endpoints) {
	p.mu.Lock()
	if p.cur == e {
		p.cur = nil
	}
	p.mu.Unlock()
}

func (p *Provider) discover(ctx context.Context) (*endpoints, error) {
	op, err := oidc.NewProvider(oidc.ClientContext(ctx, p.hc), p.cfg.Issuer)
	if err != nil {
		var mismatch *oidc.IssuerMismatchError
		if errors.As(err, &mismatch) {
			return nil, roster.Errorf(roster.EUNAVAILABLE,
				"identity provider %q: its discovery document names the issuer %q, not %q as configured (check issuer, trailing slash included)",
				p.cfg.Name, clip(mismatch.Discovered), p.cfg.Issuer)
		}
		return nil, p.unreachable(p.cfg.Issuer, err)
	}
	ep := op.Endpoint()
	for _, u := range []struct{ name, url string }{
		{"authorization_endpoint", ep.AuthURL},
		{"token_endpoint", ep.TokenURL},
		{"userinfo_endpoint", op.UserInfoEndpoint()},
	} {
		if u.url == "" && u.name != "userinfo_endpoint" {
			return nil, roster.Errorf(roster.EUNAVAILABLE, "identity provider %q: its discovery document has no %s", p.cfg.Name, u.name)
		}
		if msg := checkEndpoint(u.url); msg != "" {
			return nil, roster.Errorf(roster.EUNAVAILABLE, "identity provider %q: its discovery document's %s %s", p.cfg.Name, u.name, msg)
		}
	}
	ep.AuthStyle = authStyle(op)
	return &endpoints{
		op: op,
		oauth: oauth2.Config{
			ClientID:     p.cfg.ClientID,
			ClientSecret: p.cfg.ClientSecret.Reveal(),
			Endpoint:     ep,
			RedirectURL:  p.redirect,
			Scopes:       p.cfg.Scopes,
		},
		verifier: op.Verifier(&oidc.Config{ClientID: p.cfg.ClientID}),
	}, nil
}

// checkEndpoint says what is wrong with an endpoint URL from discovery, or "".
// Plain http would carry the code and the client secret in the clear.
func checkEndpoint(s string) string {
	if s == "" {
		return ""
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || u.Host == "":
		return fmt.Sprintf("%q is not an absolute URL", clip(s))
	case u.Scheme == "https", u.Scheme == "http" && isLoopback(u.Hostname()):
		return ""
	default:
		return fmt.Sprintf("%q does not use https", clip(s))
	}
}

// authStyle is client_secret_basic, unless the provider says it supports
// only client_secret_post.
func authStyle(op *oidc.Provider) oauth2.AuthStyle {
	var d struct {
		Methods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if op.Claims(&d) != nil || len(d.Methods) == 0 {
		return oauth2.AuthStyleInHeader // the specification's default
	}
	post := false
	for _, m := range d.Methods {
		switch m {
		case "client_secret_basic":
			return oauth2.AuthStyleInHeader
		case "client_secret_post":
			post = true
		}
	}
	if post {
		return oauth2.AuthStyleInParams
	}
	return oauth2.AuthStyleInHeader
}
