package oidcauth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
)

var (
	alice = testenv.OIDCUser{Username: "alice", Password: "alice-" + rand.Text(), Email: "alice@example.test",
		GivenName: "Alice", FamilyName: "Liddell", Groups: []string{"ops/db", "ops", "ops"}}
	carol = testenv.OIDCUser{Username: "Carol.Smith", Password: "carol-" + rand.Text(), Email: "Carol.Smith@Example.test"}
	bob   = testenv.OIDCUser{Username: "bob", Password: "bob-" + rand.Text()} // no email, no groups
	crowd = testenv.OIDCUser{Username: "crowd", Password: "crowd-" + rand.Text(), Groups: manyGroups(maxGroups + 1)}
)

func manyGroups(n int) []string {
	var gs []string
	for i := range n {
		gs = append(gs, "team-"+strconv.Itoa(i))
	}
	return gs
}

// idp is a real OpenID Connect provider and the redirect URI it sends the
// browser back to.
type idp struct {
	op       *testenv.OIDCProvider
	redirect string
	users    map[string]testenv.OIDCUser

	mu      sync.Mutex
	secrets []string // codes and verifiers seen: no error may show them
}

func startIdP(t *testing.T, cfg testenv.OIDCConfig) *idp {
	t.Helper()
	cb := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "back at Roster")
	}))
	t.Cleanup(cb.Close)
	i := &idp{redirect: cb.URL + "/auth/oidc/corp/callback", users: map[string]testenv.OIDCUser{}}
	cfg.Users = []testenv.OIDCUser{alice, carol, bob, crowd}
	cfg.RedirectURIs = []string{i.redirect}
	for _, u := range cfg.Users {
		i.users[u.Username] = u
	}
	i.op = testenv.OIDC(t, cfg)
	return i
}

func (i *idp) config() Config {
	return Config{Name: "corp", Issuer: i.op.Issuer, ClientID: i.op.ClientID,
		ClientSecret: roster.Secret(i.op.ClientSecret), CAFile: i.op.CAFile}
}

// provider returns a Provider for the idp, with cfg changed by change, that
// retries discovery quickly.
func (i *idp) provider(t *testing.T, change func(*Config)) *Provider {
	t.Helper()
	cfg := i.config()
	if change != nil {
		change(&cfg)
	}
	p, err := New(cfg, i.redirect)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	p.retryMin, p.retryMax = 50*time.Millisecond, 200*time.Millisecond
	return p
}

// signIn starts a flow with p and plays the browser's part as username; it
// returns the flow and the code the provider sent to the redirect URI.
func (i *idp) signIn(t *testing.T, p *Provider, username string) (Flow, string) {
	t.Helper()
	authURL, flow, err := p.Start(t.Context())
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	resp, err := i.op.SignIn(t.Context(), i.op.HTTPClient(nil), authURL, username, i.users[username].Password)
	if err != nil {
		t.Fatalf("sign in as %s: %v", username, err)
	}
	resp.Body.Close()
	back := resp.Request.URL
	q := back.Query()
	if resp.StatusCode != http.StatusOK || back.Scheme+"://"+back.Host+back.Path != i.redirect || q.Get("code") == "" {
		t.Fatalf("sign in as %s ended at %s (%d), want the redirect URI with a code", username, back, resp.StatusCode)
	}
	if q.Get("state") != flow.State {
		t.Fatalf("the provider sent back state %q, want the flow's %q", q.Get("state"), flow.State)
	}
	i.remember(q.Get("code"), flow.Verifier.Reveal())
	return flow, q.Get("code")
}

// remember adds values no error may show.
func (i *idp) remember(secrets ...string) {
	i.mu.Lock()
	i.secrets = append(i.secrets, secrets...)
	i.mu.Unlock()
}

// checkErr fails t unless err has code and its message holds each of parts
// and none of the secrets seen so far.
func (i *idp) checkErr(t *testing.T, what string, err error, code string, parts ...string) {
	t.Helper()
	if roster.ErrorCode(err) != code {
		t.Fatalf("%s: %v (code %q), want %s", what, err, roster.ErrorCode(err), code)
	}
	msg := err.Error()
	t.Logf("%s: %s", what, msg)
	for _, part := range parts {
		if !strings.Contains(msg, part) {
			t.Errorf("%s: %q, want it to say %q", what, msg, part)
		}
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	for _, s := range append([]string{i.op.ClientSecret}, i.secrets...) {
		if strings.Contains(msg, s) {
			t.Errorf("%s: the message %q shows a secret, code or verifier", what, msg)
		}
	}
}

// TestSignIn runs the authorization code flow with PKCE against a real
// provider, as a browser with a cookie jar would, over plain HTTP and over
// TLS with the provider's CA trusted through ca_file only.
func TestSignIn(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  testenv.OIDCConfig
	}{
		{"http", testenv.OIDCConfig{}},
		{"https, claims in userinfo only", testenv.OIDCConfig{TLS: true, ClaimsInUserinfoOnly: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			i := startIdP(t, tc.cfg)
			p := i.provider(t, nil)
			ctx := t.Context()

			t.Run("identity", func(t *testing.T) {
				flow, code := i.signIn(t, p, "alice")
				id, err := p.Finish(ctx, flow, code)
				if err != nil {
					t.Fatalf("Finish: %v", err)
				}
				want := roster.ExternalIdentity{Source: roster.UserOIDC, Provider: "corp", Subject: i.op.Issuer + "|alice",
					Username: "alice", DisplayName: "Alice Liddell", Email: "alice@example.test", Groups: []string{"ops", "ops/db"}}
				if !equalIdentity(*id, want) {
					t.Errorf("identity %+v, want %+v", *id, want)
				}
			})
			t.Run("authorization request", func(t *testing.T) {
				authURL, flow, err := p.Start(ctx)
				if err != nil {
					t.Fatal(err)
				}
				_, other, _ := p.Start(ctx)
				u, _ := url.Parse(authURL)
				q := u.Query()
				sum := sha256.Sum256([]byte(flow.Verifier.Reveal()))
				for name, want := range map[string]string{
					"response_type": "code", "client_id": i.op.ClientID, "redirect_uri": i.redirect,
					"scope": "openid profile email groups", "state": flow.State, "nonce": flow.Nonce,
					"code_challenge_method": "S256", "code_challenge": base64.RawURLEncoding.EncodeToString(sum[:]),
				} {
					if q.Get(name) != want {
						t.Errorf("authorization request %s=%q, want %q", name, q.Get(name), want)
					}
				}
				for _, v := range []string{flow.State, flow.Nonce, flow.Verifier.Reveal()} {
					if len(v) < 43 {
						t.Errorf("flow value %q: want at least 256 bits", v)
					}
				}
				if flow.State == other.State || flow.Nonce == other.Nonce || flow.Verifier == other.Verifier {
					t.Errorf("two flows share values: %+v %+v", flow, other)
				}
				if s := fmt.Sprintf("%v %+v %#v", flow, flow, flow); strings.Contains(s, flow.Verifier.Reveal()) {
					t.Errorf("a printed Flow shows the verifier: %s", s)
				}
			})
			t.Run("username in lower case", func(t *testing.T) {
				flow, code := i.signIn(t, p, "Carol.Smith")
				id, err := p.Finish(ctx, flow, code)
				if err != nil {
					t.Fatal(err)
				}
				if id.Username != "carol.smith" || id.Subject != i.op.Issuer+"|Carol.Smith" || id.Email != "Carol.Smith@Example.test" || id.Groups != nil {
					t.Errorf("identity %+v, want username carol.smith, the subject and email as given, no groups", *id)
				}
			})
			t.Run("no email, no groups", func(t *testing.T) {
				flow, code := i.signIn(t, p, "bob")
				id, err := p.Finish(ctx, flow, code)
				if err != nil {
					t.Fatal(err)
				}
				if id.Username != "bob" || id.Email != "" || id.DisplayName != "" || len(id.Groups) != 0 {
					t.Errorf("identity %#v", *id)
				}
			})
			t.Run("username_claim email", func(t *testing.T) {
				p := i.provider(t, func(c *Config) { c.UsernameClaim = "email" })
				flow, code := i.signIn(t, p, "Carol.Smith")
				id, err := p.Finish(ctx, flow, code)
				if err != nil || id.Username != "carol.smith@example.test" {
					t.Fatalf("Finish: %+v, %v; want username carol.smith@example.test", id, err)
				}
				flow, code = i.signIn(t, p, "bob")
				_, err = p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish for a user without the username claim", err, roster.EUNAUTHORIZED,
					`sign-in with "corp" refused`, `no "email" claim for subject "bob"`, "username_claim")
			})
			t.Run("username_claim sub, other groups_claim", func(t *testing.T) {
				p := i.provider(t, func(c *Config) { c.UsernameClaim, c.GroupsClaim = "sub", "roles" })
				flow, code := i.signIn(t, p, "Carol.Smith")
				id, err := p.Finish(ctx, flow, code)
				if err != nil || id.Username != "carol.smith" || id.Groups != nil {
					t.Fatalf("Finish: %+v, %v; want username carol.smith and no groups", id, err)
				}
			})
			t.Run("too many groups", func(t *testing.T) {
				flow, code := i.signIn(t, p, "crowd")
				_, err := p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish for a user in 1001 groups", err, roster.EUNAUTHORIZED, `"groups" claim lists 1001 groups; at most 1000`)
			})
			t.Run("wrong nonce", func(t *testing.T) {
				flow, code := i.signIn(t, p, "alice")
				flow.Nonce = random()
				_, err := p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish with another nonce", err, roster.EUNAUTHORIZED, "nonce")
			})
			t.Run("wrong verifier", func(t *testing.T) {
				flow, code := i.signIn(t, p, "alice")
				flow.Verifier = roster.Secret(random())
				_, err := p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish with another verifier", err, roster.EUNAUTHORIZED, "refused the authorization code", "invalid_grant")
			})
			t.Run("code replayed", func(t *testing.T) {
				flow, code := i.signIn(t, p, "alice")
				if _, err := p.Finish(ctx, flow, code); err != nil {
					t.Fatal(err)
				}
				_, err := p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish with a used code", err, roster.EUNAUTHORIZED, "refused the authorization code")
			})
			t.Run("made-up code", func(t *testing.T) {
				flow, _ := i.signIn(t, p, "alice")
				code := "made-up-" + rand.Text()
				i.remember(code)
				_, err := p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish with a made-up code", err, roster.EUNAUTHORIZED, "refused the authorization code")
				_, err = p.Finish(ctx, flow, "")
				i.checkErr(t, "Finish without a code", err, roster.EUNAUTHORIZED, "no authorization code")
			})
			t.Run("wrong client secret", func(t *testing.T) {
				wrong := "distinctive-wrong-secret-" + rand.Text()
				i.remember(wrong)
				p := i.provider(t, func(c *Config) { c.ClientSecret = roster.Secret(wrong) })
				flow, code := i.signIn(t, p, "alice")
				_, err := p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish with a wrong client secret", err, roster.EUNAVAILABLE,
					`identity provider "corp" refused Roster's client "roster"`, "client_secret")
			})
			if tc.cfg.TLS {
				t.Run("CA not trusted without ca_file", func(t *testing.T) {
					p := i.provider(t, func(c *Config) { c.CAFile = "" })
					_, _, err := p.Start(ctx)
					i.checkErr(t, "Start without ca_file", err, roster.EUNAVAILABLE,
						`identity provider "corp" cannot be reached at `+i.op.Issuer, "certificate")
				})
			}
			t.Run("provider stopped", func(t *testing.T) {
				flow, code := i.signIn(t, p, "alice") // before the stop
				i.op.Stop()
				fresh, err := New(i.config(), i.redirect)
				if err != nil {
					t.Fatalf("New with the provider down: %v", err)
				}
				_, _, err = fresh.Start(ctx)
				i.checkErr(t, "Start with the provider down", err, roster.EUNAVAILABLE,
					`identity provider "corp" cannot be reached at `+i.op.Issuer, "refused")
				i.checkErr(t, "Ready with the provider down", fresh.Ready(ctx), roster.EUNAVAILABLE, `identity provider "corp" cannot be reached`)

				_, err = p.Finish(ctx, flow, code)
				i.checkErr(t, "Finish with the provider down", err, roster.EUNAVAILABLE, `identity provider "corp" cannot be reached at `)
				if p.cur != nil {
					t.Error("the provider's endpoints are kept after it could not be reached; want them discovered again")
				}
			})
		})
	}
}

func equalIdentity(a, b roster.ExternalIdentity) bool {
	return a.Source == b.Source && a.Provider == b.Provider && a.Subject == b.Subject && a.Username == b.Username &&
		a.DisplayName == b.DisplayName && a.Email == b.Email && slices.Equal(a.Groups, b.Groups)
}

// gate stands for the network between Roster and the provider: closed, the
// provider cannot be reached. It counts discovery requests.
type gate struct {
	next      http.RoundTripper
	down      atomic.Bool
	discovery atomic.Int32
}

func (g *gate) RoundTrip(req *http.Request) (*http.Response, error) {
	if strings.HasSuffix(req.URL.Path, "/.well-known/openid-configuration") {
		g.discovery.Add(1)
	}
	if g.down.Load() {
		return nil, errors.New("connect: connection refused (the test's gate is closed)")
	}
	return g.next.RoundTrip(req)
}

// TestDiscoveryRetried: a provider that cannot be reached when Roster starts,
// or later, is discovered again once it can, without a new Provider.
func TestDiscoveryRetried(t *testing.T) {
	i := startIdP(t, testenv.OIDCConfig{})
	p := i.provider(t, nil)
	g := &gate{next: p.hc.Transport}
	p.hc.Transport = g
	g.down.Store(true)
	ctx := t.Context()

	_, _, err := p.Start(ctx)
	i.checkErr(t, "Start with the provider unreachable", err, roster.EUNAVAILABLE, `identity provider "corp" cannot be reached at `+i.op.Issuer)
	g.down.Store(false)
	if _, _, err := p.Start(ctx); err == nil || g.discovery.Load() != 1 {
		t.Fatalf("Start right after a failure: %v after %d discoveries; want the failure again, without a new attempt", err, g.discovery.Load())
	}
	time.Sleep(60 * time.Millisecond) // p.retryMin
	flow, code := i.signIn(t, p, "alice")
	if id, err := p.Finish(ctx, flow, code); err != nil || id.Username != "alice" {
		t.Fatalf("Finish once the provider is up: %+v, %v", id, err)
	}
	if n := g.discovery.Load(); n != 2 {
		t.Errorf("%d discoveries, want 2", n)
	}

	// Down again after discovery: the next use after it is back discovers anew.
	flow, code = i.signIn(t, p, "alice")
	g.down.Store(true)
	_, err = p.Finish(ctx, flow, code)
	i.checkErr(t, "Finish with the provider unreachable", err, roster.EUNAVAILABLE, `identity provider "corp" cannot be reached at `)
	g.down.Store(false)
	flow, code = i.signIn(t, p, "alice")
	if _, err := p.Finish(ctx, flow, code); err != nil {
		t.Fatalf("Finish once the provider is back: %v", err)
	}
	if n := g.discovery.Load(); n != 3 {
		t.Errorf("%d discoveries, want 3: one more after the failure", n)
	}
}

func TestBackoff(t *testing.T) {
	p := &Provider{retryMin: time.Second, retryMax: 30 * time.Second}
	var got []time.Duration
	for p.failures = 1; p.failures <= 7; p.failures++ {
		got = append(got, p.backoff())
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for k := range want {
		want[k] *= time.Second
	}
	if !slices.Equal(got, want) {
		t.Errorf("backoff after 1..7 failures: %v, want %v", got, want)
	}
}

// fakeIdP is an httptest server answering discovery with doc (its URL put in
// for ISSUER) and other paths with handler.
func fakeIdP(t *testing.T, doc string, handler http.HandlerFunc) (*httptest.Server, *atomic.Int32) {
	t.Helper()
	var requests atomic.Int32
	var srv *httptest.Server
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		if r.URL.Path == "/.well-known/openid-configuration" && doc != "" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, strings.ReplaceAll(doc, "ISSUER", srv.URL))
			return
		}
		handler(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv, &requests
}

const fakeDoc = `{"issuer":"ISSUER","authorization_endpoint":"ISSUER/auth","token_endpoint":"ISSUER/token","jwks_uri":"ISSUER/keys"}`

func newFake(t *testing.T, issuer string, change func(*Config)) *Provider {
	t.Helper()
	cfg := Config{Name: "corp", Issuer: issuer, ClientID: "roster", ClientSecret: "fake-client-secret-" + roster.Secret(rand.Text())}
	if change != nil {
		change(&cfg)
	}
	p, err := New(cfg, "https://roster.example.test/auth/oidc/corp/callback")
	if err != nil {
		t.Fatal(err)
	}
	p.retryMin, p.retryMax = 50*time.Millisecond, 200*time.Millisecond
	return p
}

// TestLazyDiscovery: New does not contact the provider; the first use does,
// and a failure is not retried before the backoff.
func TestLazyDiscovery(t *testing.T) {
	srv, requests := fakeIdP(t, "", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "starting up", http.StatusServiceUnavailable)
	})
	p := newFake(t, srv.URL, nil)
	if n := requests.Load(); n != 0 {
		t.Fatalf("New made %d requests to the provider, want none", n)
	}
	err := p.Ready(t.Context())
	if roster.ErrorCode(err) != roster.EUNAVAILABLE || !strings.Contains(err.Error(), `identity provider "corp" cannot be reached at `+srv.URL+": 503") {
		t.Fatalf("Ready: %v", err)
	}
	if err := p.Ready(t.Context()); err == nil || requests.Load() != 1 {
		t.Fatalf("Ready again at once: %v after %d requests; want the error, no new request", err, requests.Load())
	}
	time.Sleep(60 * time.Millisecond)
	if p.Ready(t.Context()); requests.Load() != 2 {
		t.Fatalf("%d requests after the backoff, want 2", requests.Load())
	}
}

// TestOneDiscoveryAtATime: callers arriving while discovery runs wait for it.
func TestOneDiscoveryAtATime(t *testing.T) {
	var srv *httptest.Server
	var requests atomic.Int32
	srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		time.Sleep(100 * time.Millisecond)
		io.WriteString(w, strings.ReplaceAll(fakeDoc, "ISSUER", srv.URL))
	}))
	t.Cleanup(srv.Close)
	p := newFake(t, srv.URL, nil)
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for k := range errs {
		wg.Go(func() { errs[k] = p.Ready(t.Context()) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil || requests.Load() != 1 {
		t.Fatalf("8 concurrent first uses: %v, %d discovery requests; want no error and one request", err, requests.Load())
	}

	// A caller that gives up while waiting gets an error; discovery goes on.
	p = newFake(t, srv.URL, nil)
	var first error
	wg.Go(func() { first = p.Ready(t.Context()) })
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := p.Ready(ctx); roster.ErrorCode(err) != roster.EUNAVAILABLE {
		t.Errorf("Ready that gave up waiting: %v, want %s", err, roster.EUNAVAILABLE)
	}
	wg.Wait()
	if first != nil || p.Ready(t.Context()) != nil {
		t.Errorf("the discovery a caller gave up waiting for: %v, want it done", first)
	}
}

func TestUnusableProvider(t *testing.T) {
	t.Run("slow", func(t *testing.T) {
		srv, _ := fakeIdP(t, "", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
		})
		p := newFake(t, srv.URL, func(c *Config) { c.Timeout = Duration(200 * time.Millisecond) })
		start := time.Now()
		err := p.Ready(t.Context())
		if roster.ErrorCode(err) != roster.EUNAVAILABLE || !strings.Contains(err.Error(), "no answer in time (timeout 200ms)") || time.Since(start) > 5*time.Second {
			t.Fatalf("Ready against a provider that never answers, after %s: %v", time.Since(start), err)
		}
	})
	t.Run("huge", func(t *testing.T) {
		srv, _ := fakeIdP(t, "", func(w http.ResponseWriter, r *http.Request) {
			chunk := strings.Repeat(" ", 64<<10)
			for range 64 { // 4 MiB, no Content-Length
				io.WriteString(w, chunk)
			}
		})
		err := newFake(t, srv.URL, nil).Ready(t.Context())
		if roster.ErrorCode(err) != roster.EUNAVAILABLE || !strings.Contains(err.Error(), "larger than 1048576 bytes") {
			t.Fatalf("Ready against a provider sending 4 MiB: %v", err)
		}
	})
	t.Run("issuer mismatch", func(t *testing.T) {
		srv, _ := fakeIdP(t, strings.Replace(fakeDoc, `"issuer":"ISSUER"`, `"issuer":"ISSUER/other"`, 1), nil)
		err := newFake(t, srv.URL, nil).Ready(t.Context())
		if roster.ErrorCode(err) != roster.EUNAVAILABLE || !strings.Contains(err.Error(), "names the issuer") {
			t.Fatalf("Ready against a provider naming another issuer: %v", err)
		}
	})
	t.Run("http token endpoint", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.ReplaceAll(strings.Replace(fakeDoc, "ISSUER/token", "http://idp.example.test/token", 1),
				"ISSUER", "https://"+r.Host))
		}))
		t.Cleanup(srv.Close)
		ca := t.TempDir() + "/ca.pem"
		writePEM(t, ca, srv.Certificate().Raw)
		err := newFake(t, srv.URL, func(c *Config) { c.CAFile = ca }).Ready(t.Context())
		if roster.ErrorCode(err) != roster.EUNAVAILABLE || !strings.Contains(err.Error(), `token_endpoint "http://idp.example.test/token" does not use https`) {
			t.Fatalf("Ready against a provider with an http token endpoint: %v", err)
		}
	})
}

// TestProviderEchoingSecrets: what a provider sends back may hold what it was
// sent; the errors must not.
func TestProviderEchoingSecrets(t *testing.T) {
	var accessToken = "distinctive-access-token-" + rand.Text()
	srv, _ := fakeIdP(t, fakeDoc, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/token" {
			http.NotFound(w, r)
			return
		}
		r.ParseForm()
		_, secret, _ := r.BasicAuth()
		w.Header().Set("Content-Type", "application/json")
		if r.Form.Get("code") == "code-for-a-bad-token" {
			fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","id_token":"%s.not.signed"}`, accessToken, accessToken)
			return
		}
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, `{"error":"invalid_grant","error_description":"code %s with verifier %s and secret %s is no good"}`,
			r.Form.Get("code"), r.Form.Get("code_verifier"), secret)
	})
	p := newFake(t, srv.URL, nil)
	_, flow, err := p.Start(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	code := "distinctive-code-" + rand.Text()
	_, err = p.Finish(t.Context(), flow, code)
	if roster.ErrorCode(err) != roster.EUNAUTHORIZED || !strings.Contains(err.Error(), "invalid_grant: code [redacted] with verifier [redacted] and secret [redacted]") {
		t.Errorf("Finish refused with the request echoed: %v", err)
	}
	_, err = p.Finish(t.Context(), flow, "code-for-a-bad-token")
	if roster.ErrorCode(err) != roster.EUNAUTHORIZED || !strings.Contains(err.Error(), "the ID token is not valid") || strings.Contains(err.Error(), accessToken) {
		t.Errorf("Finish with an unsigned ID token: %v", err)
	}
	for _, s := range []string{code, flow.Verifier.Reveal(), p.cfg.ClientSecret.Reveal(), accessToken} {
		if err != nil && strings.Contains(err.Error(), s) {
			t.Errorf("an error shows %q", s)
		}
	}
}

func TestNewRefuses(t *testing.T) {
	c := validConfig()
	if _, err := New(c, "https://roster.example.com/auth/oidc/corp/callback"); roster.ErrorCode(err) != roster.EINVALID ||
		!strings.Contains(err.Error(), "client_secret: is required") {
		t.Errorf("New without a client secret: %v", err)
	}
	c.ClientSecret = "s"
	if _, err := New(c, "/auth/callback"); roster.ErrorCode(err) != roster.EINVALID || !strings.Contains(err.Error(), "redirect URL") {
		t.Errorf("New with a relative redirect URL: %v", err)
	}
	c.Issuer = "http://idp.example.com/"
	if _, err := New(c, "https://roster.example.com/cb"); roster.ErrorCode(err) != roster.EINVALID || !strings.Contains(err.Error(), "issuer") {
		t.Errorf("New with an http issuer: %v", err)
	}
}

func writePEM(t *testing.T, path string, der []byte) {
	t.Helper()
	b := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
