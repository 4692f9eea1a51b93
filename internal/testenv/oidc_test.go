package testenv_test

import (
	"context"
	"crypto/rand"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rosterhq/roster/internal/testenv"
)

// callback is a client's redirect URI: it records what the provider sent back.
type callback struct {
	srv *httptest.Server
	mu  sync.Mutex
	got []url.Values
}

func newCallback(t *testing.T) *callback {
	c := &callback{}
	c.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.mu.Lock()
		c.got = append(c.got, r.URL.Query())
		c.mu.Unlock()
		io.WriteString(w, "signed in")
	}))
	t.Cleanup(c.srv.Close)
	return c
}

func (c *callback) URL() string { return c.srv.URL + "/callback" }

func (c *callback) last(t *testing.T) url.Values {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.got) == 0 {
		t.Fatal("the provider never redirected to the client's callback")
	}
	return c.got[len(c.got)-1]
}

var oidcUsers = []testenv.OIDCUser{
	{Username: "alice", Password: "alice-" + rand.Text(), Email: "alice@example.test",
		GivenName: "Alice", FamilyName: "Liddell", Groups: []string{"ops", "ops/db"}},
	{Username: "bob", Password: "bob-" + rand.Text()},
}

// TestOIDCCodeFlow signs in the way Roster will: go-oidc discovers the provider,
// x/oauth2 builds an authorization request with PKCE (S256), a browser-like
// client with a cookie jar follows the redirects to the login form and posts it,
// the code is exchanged with the verifier, and go-oidc verifies the ID token.
func TestOIDCCodeFlow(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  testenv.OIDCConfig
	}{
		{"http", testenv.OIDCConfig{}},
		{"https claims in userinfo only", testenv.OIDCConfig{TLS: true, ClaimsInUserinfoOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cb := newCallback(t)
			cfg := tc.cfg
			cfg.Users = oidcUsers
			cfg.RedirectURIs = []string{cb.URL()}
			start := time.Now()
			p := testenv.OIDC(t, cfg)
			t.Logf("provider %s ready in %s", p.Issuer, time.Since(start).Round(time.Millisecond))

			// The provider's CA is trusted through the context's client only.
			ctx := oidc.ClientContext(t.Context(), p.HTTPClient(nil))
			provider, err := oidc.NewProvider(ctx, p.Issuer)
			if err != nil {
				t.Fatalf("discovery: %v", err)
			}
			var disc struct {
				PKCE   []string `json:"code_challenge_methods_supported"`
				Device string   `json:"device_authorization_endpoint"`
			}
			if err := provider.Claims(&disc); err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(disc.PKCE, "S256") || disc.Device == "" {
				t.Errorf("discovery: code_challenge_methods_supported %v, device_authorization_endpoint %q; want S256 and an endpoint",
					disc.PKCE, disc.Device)
			}
			conf := oauth2.Config{
				ClientID: p.ClientID, ClientSecret: p.ClientSecret, RedirectURL: cb.URL(),
				Endpoint: provider.Endpoint(),
				Scopes:   []string{oidc.ScopeOpenID, "profile", "email", "groups"},
			}
			verifier := provider.Verifier(&oidc.Config{ClientID: p.ClientID})

			// signIn runs the browser part and returns the code and the nonce.
			signIn := func(t *testing.T, username, password, pkceVerifier string) (code, nonce string) {
				t.Helper()
				state, nonce := rand.Text(), rand.Text()
				authURL := conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkceVerifier), oidc.Nonce(nonce))
				resp, err := p.SignIn(ctx, p.HTTPClient(nil), authURL, username, password)
				if err != nil {
					t.Fatalf("sign in as %s: %v", username, err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK || string(body) != "signed in" {
					t.Fatalf("sign in ended at %s (%d) %q, want the client's callback", resp.Request.URL, resp.StatusCode, body)
				}
				q := cb.last(t)
				if q.Get("state") != state || q.Get("code") == "" {
					t.Fatalf("callback query %v: want state %q and a code", q, state)
				}
				return q.Get("code"), nonce
			}

			pkce := oauth2.GenerateVerifier()
			code, nonce := signIn(t, "alice", oidcUsers[0].Password, pkce)
			tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
			if err != nil {
				t.Fatalf("exchange: %v", err)
			}
			raw, _ := tok.Extra("id_token").(string)
			idt, err := verifier.Verify(ctx, raw)
			if err != nil {
				t.Fatalf("verify ID token: %v", err)
			}
			var claims struct {
				Nonce             string   `json:"nonce"`
				Groups            []string `json:"groups"`
				PreferredUsername string   `json:"preferred_username"`
				Email             string   `json:"email"`
			}
			if err := idt.Claims(&claims); err != nil {
				t.Fatal(err)
			}
			if idt.Subject != "alice" || claims.Nonce != nonce || !slices.Equal(claims.Groups, []string{"ops", "ops/db"}) {
				t.Errorf("ID token: sub %q nonce %q groups %q; want alice, %q, [ops ops/db]", idt.Subject, claims.Nonce, claims.Groups, nonce)
			}
			wantProfile := !cfg.ClaimsInUserinfoOnly
			if got := claims.PreferredUsername == "alice" && claims.Email == "alice@example.test"; got != wantProfile {
				t.Errorf("ID token: preferred_username %q email %q; want them there: %v", claims.PreferredUsername, claims.Email, wantProfile)
			}

			ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
			if err != nil {
				t.Fatalf("userinfo: %v", err)
			}
			var uiClaims struct {
				Groups            []string `json:"groups"`
				PreferredUsername string   `json:"preferred_username"`
			}
			if err := ui.Claims(&uiClaims); err != nil {
				t.Fatal(err)
			}
			if ui.Subject != "alice" || ui.Email != "alice@example.test" || uiClaims.PreferredUsername != "alice" ||
				!slices.Equal(uiClaims.Groups, []string{"ops", "ops/db"}) {
				t.Errorf("userinfo: sub %q email %q preferred_username %q groups %q", ui.Subject, ui.Email, uiClaims.PreferredUsername, uiClaims.Groups)
			}

			t.Run("code used twice", func(t *testing.T) {
				if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce)); err == nil {
					t.Fatal("the provider exchanged a code a second time")
				}
			})
			t.Run("wrong PKCE verifier", func(t *testing.T) {
				code, _ := signIn(t, "alice", oidcUsers[0].Password, oauth2.GenerateVerifier())
				_, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
				var re *oauth2.RetrieveError
				if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
					t.Fatalf("exchange with another verifier: %v, want invalid_grant", err)
				}
			})
			t.Run("wrong password", func(t *testing.T) {
				authURL := conf.AuthCodeURL(rand.Text(), oauth2.S256ChallengeOption(pkce))
				_, err := p.SignIn(ctx, p.HTTPClient(nil), authURL, "alice", "not-her-password")
				if !errors.Is(err, testenv.ErrOIDCSignInRefused) {
					t.Fatalf("SignIn with a wrong password: %v, want ErrOIDCSignInRefused", err)
				}
			})
			t.Run("no groups", func(t *testing.T) {
				pkce := oauth2.GenerateVerifier()
				code, _ := signIn(t, "bob", oidcUsers[1].Password, pkce)
				tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(pkce))
				if err != nil {
					t.Fatal(err)
				}
				idt, err := verifier.Verify(ctx, tok.Extra("id_token").(string))
				if err != nil {
					t.Fatal(err)
				}
				var c struct {
					Groups *[]string `json:"groups"`
				}
				if err := idt.Claims(&c); err != nil {
					t.Fatal(err)
				}
				if idt.Subject != "bob" || c.Groups == nil || len(*c.Groups) != 0 {
					t.Fatalf("bob's ID token: sub %q groups %v, want an empty list", idt.Subject, c.Groups)
				}
			})
			t.Run("groups scope not asked", func(t *testing.T) {
				conf := conf
				conf.Scopes = []string{oidc.ScopeOpenID, "profile"}
				state, pkce := rand.Text(), oauth2.GenerateVerifier()
				resp, err := p.SignIn(ctx, p.HTTPClient(nil), conf.AuthCodeURL(state, oauth2.S256ChallengeOption(pkce)), "alice", oidcUsers[0].Password)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				tok, err := conf.Exchange(ctx, cb.last(t).Get("code"), oauth2.VerifierOption(pkce))
				if err != nil {
					t.Fatal(err)
				}
				idt, err := verifier.Verify(ctx, tok.Extra("id_token").(string))
				if err != nil {
					t.Fatal(err)
				}
				ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
				if err != nil {
					t.Fatal(err)
				}
				var a, b map[string]any
				idt.Claims(&a)
				ui.Claims(&b)
				if _, ok := a["groups"]; ok {
					t.Errorf("ID token has groups without the groups scope: %v", a)
				}
				if _, ok := b["groups"]; ok {
					t.Errorf("userinfo has groups without the groups scope: %v", b)
				}
			})
		})
	}
}

// TestOIDCDeviceGrant runs the device authorization grant (RFC 8628) with
// x/oauth2: the device asks for a code, the user approves (or denies) it on the
// provider's pages, the device polls for its token.
func TestOIDCDeviceGrant(t *testing.T) {
	p := testenv.OIDC(t, testenv.OIDCConfig{Users: oidcUsers, RedirectURIs: []string{"http://127.0.0.1:1/unused"}})
	ctx := t.Context()
	provider, err := oidc.NewProvider(ctx, p.Issuer)
	if err != nil {
		t.Fatal(err)
	}
	var disc struct {
		Device string `json:"device_authorization_endpoint"`
	}
	if err := provider.Claims(&disc); err != nil {
		t.Fatal(err)
	}
	conf := oauth2.Config{ClientID: p.DeviceClientID, ClientSecret: p.DeviceClientSecret,
		Endpoint: provider.Endpoint(), Scopes: []string{oidc.ScopeOpenID, "profile", "groups"}}
	conf.Endpoint.DeviceAuthURL = disc.Device
	conf.Endpoint.AuthStyle = oauth2.AuthStyleInHeader // the provider refuses the secret in the body

	t.Run("allowed", func(t *testing.T) {
		t.Parallel()
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatalf("device authorization: %v", err)
		}
		if err := p.ApproveDevice(ctx, da.UserCode, "alice", "wrong", true); !errors.Is(err, testenv.ErrOIDCSignInRefused) {
			t.Fatalf("approve with a wrong password: %v, want ErrOIDCSignInRefused", err)
		}
		if err := p.ApproveDevice(ctx, da.UserCode, "alice", oidcUsers[0].Password, true); err != nil {
			t.Fatalf("approve: %v", err)
		}
		pollCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		tok, err := conf.DeviceAccessToken(pollCtx, da)
		if err != nil {
			t.Fatalf("device token: %v", err)
		}
		idt, err := provider.Verifier(&oidc.Config{ClientID: p.DeviceClientID}).Verify(ctx, tok.Extra("id_token").(string))
		if err != nil {
			t.Fatalf("verify ID token: %v", err)
		}
		var c struct {
			Groups []string `json:"groups"`
		}
		if err := idt.Claims(&c); err != nil {
			t.Fatal(err)
		}
		if idt.Subject != "alice" || !slices.Equal(c.Groups, []string{"ops", "ops/db"}) {
			t.Fatalf("device ID token: sub %q groups %q", idt.Subject, c.Groups)
		}
	})
	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		da, err := conf.DeviceAuth(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.ApproveDevice(ctx, da.UserCode, "bob", oidcUsers[1].Password, false); err != nil {
			t.Fatalf("deny: %v", err)
		}
		pollCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
		defer cancel()
		_, err = conf.DeviceAccessToken(pollCtx, da)
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "access_denied" {
			t.Fatalf("device token after a denial: %v, want access_denied", err)
		}
	})
}
