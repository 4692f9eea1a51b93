package api_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/oidcauth"
	"github.com/rosterhq/roster/internal/testenv"
)

const idpPassword = "alice's password at the identity provider"

// oidcFixture is a Roster whose provider "corp" is a real OpenID Connect
// provider process with the user alice, in groups ops and ops/db.
func oidcFixture(t *testing.T) (*fixture, *testenv.OIDCProvider) {
	var idp *testenv.OIDCProvider
	f := newFixtureWith(t, func(base string, c *api.Config) {
		callback := base + api.OIDCCallbackPath("corp")
		idp = testenv.OIDC(t, testenv.OIDCConfig{RedirectURIs: []string{callback}, Users: []testenv.OIDCUser{
			{Username: "alice", Password: idpPassword, Email: "alice@example.test", GivenName: "Alice", FamilyName: "Example", Groups: []string{"ops", "ops/db"}},
		}})
		p, err := oidcauth.New(oidcauth.Config{Name: "corp", Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: roster.Secret(idp.ClientSecret)}, callback)
		if err != nil {
			t.Fatal(err)
		}
		// A provider nobody answers for: port 1 of loopback.
		down, err := oidcauth.New(oidcauth.Config{Name: "down", Issuer: "http://127.0.0.1:1/", ClientID: "roster", ClientSecret: "down's secret"}, base+api.OIDCCallbackPath("down"))
		if err != nil {
			t.Fatal(err)
		}
		c.OIDC = []api.OIDCProvider{{Name: "corp", Client: p, Teams: []api.TeamMapping{
			{Group: "ops", Team: "operations", Bindings: []api.TeamBinding{{Role: roster.RoleOperator, Scope: roster.ScopeServer}}},
		}}, {Name: "down", Client: down}}
		c.PublicURL = base
	})
	f.secrets = append(f.secrets, idpPassword, idp.ClientSecret)
	return f, idp
}

// TestOIDCSignIn signs a browser in through a real OpenID Connect
// provider: the user is made with its teams, the session works, and a
// callback is honoured once, for the browser that started it only.
func TestOIDCSignIn(t *testing.T) {
	f, idp := oidcFixture(t)
	ctx := t.Context()

	var providers api.SignInProviderList
	f.do("GET", "/api/v1/auth/providers", "", nil).json(t, &providers)
	if len(providers.Items) != 3 || providers.Items[1].Name != "corp" || providers.Items[1].Kind != api.SignInProviderKindOidc ||
		providers.Items[1].StartUrl == nil || *providers.Items[1].StartUrl != "/api/v1/auth/oidc/corp/start" {
		t.Fatalf("providers: %+v", providers)
	}
	wantStatus(t, f.do("GET", "/api/v1/auth/oidc/nope/start", "", nil), http.StatusNotFound)
	r := f.do("GET", "/api/v1/auth/oidc/corp/start?return_to="+url.QueryEscape("https://evil.example/"), "", nil)
	wantStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "return_to") {
		t.Fatalf("an absolute return_to: %s", r.body)
	}

	// The whole flow in a browser that follows redirects and keeps cookies.
	browser := idp.HTTPClient(nil)
	resp, err := idp.SignIn(ctx, browser, f.url+"/api/v1/auth/oidc/corp/start?return_to="+url.QueryEscape("/api/v1/me"), "alice", idpPassword)
	if err != nil {
		t.Fatal(err)
	}
	var me api.Me
	readJSON(t, resp, http.StatusOK, &me)
	if resp.Request.URL.Path != "/api/v1/me" || me.Method != api.MeMethodSession || me.User == nil || me.User.Name != "alice" || me.User.Source != "oidc" || me.CsrfToken == nil {
		t.Fatalf("after signing in, at %s: %+v", resp.Request.URL, me)
	}
	for _, c := range browser.Jar.Cookies(mustURL(t, f.url)) {
		f.secrets = append(f.secrets, c.Value)
		if c.Name == "roster_session" {
			// The browser's session works, with its bindings.
			h := http.Header{"Cookie": {c.Name + "=" + c.Value}, api.CSRFHeader: {*me.CsrfToken}}
			wantStatus(t, f.send("POST", "/api/v1/inventories", "", map[string]any{"name": "by-alice"}, h), http.StatusCreated)
		}
	}
	var alice api.User
	f.do("GET", "/api/v1/users/alice", f.admin, nil).json(t, &alice)
	if alice.Email != "alice@example.test" || alice.DisplayName != "Alice Example" || alice.HasPassword {
		t.Fatalf("alice: %+v", alice)
	}
	if got := f.teamsOf("alice"); !slices.Equal(got, []string{"operations"}) {
		t.Fatalf("alice's teams: %v", got)
	}

	// A callback stopped on its way: honoured for its browser only, once.
	stop := idp.HTTPClient(func(req *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(req.URL.String(), f.url+"/api/v1/auth/oidc/corp/callback") {
			return http.ErrUseLastResponse
		}
		return nil
	})
	resp, err = idp.SignIn(ctx, stop, f.url+"/api/v1/auth/oidc/corp/start", "alice", idpPassword)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	callback := resp.Header.Get("Location")
	if !strings.HasPrefix(callback, f.url+"/api/v1/auth/oidc/corp/callback?") {
		t.Fatalf("the provider sent the browser to %q", callback)
	}
	other := idp.HTTPClient(nil) // another browser: no flow cookie
	resp, err = other.Get(callback)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "state") {
		t.Fatalf("another browser's callback: %d %s", resp.StatusCode, body)
	}
	stop.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for i, want := range []int{http.StatusFound, http.StatusBadRequest} {
		resp, err = stop.Get(callback)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("callback #%d: %d, want %d", i+1, resp.StatusCode, want)
		}
	}

	// A provider down: a clear 503, and local users still sign in.
	r = f.do("GET", "/api/v1/auth/oidc/down/start", "", nil)
	wantStatus(t, r, http.StatusServiceUnavailable)
	if d := problemDetail(t, r); !strings.Contains(d, `"down"`) || !strings.Contains(d, "127.0.0.1:1") {
		t.Fatalf("the provider down: %s", d)
	}
	f.localUser("root", "the local root's password")
	f.loginWith(map[string]any{"name": "root", "password": "the local root's password"})
}

// TestDeviceSignIn: roster login --sso's flow. The command line starts a
// device sign-in; a person opens the page, signs in with the provider,
// types the code, sees where the command line started and approves; the
// command line's poll gets a token of the person's, once. A denied
// sign-in gives none; codes are typed, never carried by a link, and tries
// are counted.
func TestDeviceSignIn(t *testing.T) {
	f, idp := oidcFixture(t)
	ctx := t.Context()
	start := func() api.DeviceSignIn {
		var d api.DeviceSignIn
		r := f.do("POST", "/api/v1/auth/device", "", map[string]any{"provider": "corp"})
		wantStatus(t, r, http.StatusOK)
		r.json(t, &d)
		f.secrets = append(f.secrets, d.DeviceCode)
		if !regexp.MustCompile(`^[B-Z]{4}-[B-Z]{4}$`).MatchString(d.UserCode) || d.VerificationUri != f.url+api.DevicePath+"?provider=corp" ||
			strings.Contains(d.VerificationUri, d.UserCode) || d.Interval < 1 || d.ExpiresIn != 600 {
			t.Fatalf("device sign-in: %+v", d)
		}
		return d
	}
	poll := func(d api.DeviceSignIn) response {
		return f.do("POST", "/api/v1/auth/device/token", "", map[string]any{"device_code": d.DeviceCode})
	}
	r := f.do("POST", "/api/v1/auth/device", "", map[string]any{"provider": "local"})
	wantStatus(t, r, http.StatusBadRequest)

	d := start()
	wantStatus(t, poll(d), http.StatusAccepted)
	wantStatus(t, f.do("POST", "/api/v1/auth/device/token", "", map[string]any{"device_code": "rsd_nothing"}), http.StatusNotFound)

	// The person: the page sends an unsigned browser to the provider, and
	// back to the page, which asks for the code.
	browser := idp.HTTPClient(nil)
	resp, err := idp.SignIn(ctx, browser, d.VerificationUri, "alice", idpPassword)
	if err != nil {
		t.Fatal(err)
	}
	page := readPage(t, resp, http.StatusOK)
	if resp.Request.URL.Path != api.DevicePath || !strings.Contains(page, "<strong>alice</strong>") || !strings.Contains(page, `name="user_code"`) || strings.Contains(page, d.UserCode) {
		t.Fatalf("the code page, at %s:\n%s", resp.Request.URL, page)
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'none'") {
		t.Fatalf("the page's CSP: %q", csp)
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	if csrf == nil {
		t.Fatalf("no CSRF token in the form:\n%s", page)
	}
	submit := func(action, code, token string) (int, string) {
		resp, err := browser.PostForm(f.url+api.DevicePath, url.Values{"provider": {"corp"}, "user_code": {code}, "csrf_token": {token}, "action": {action}})
		if err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, readPage(t, resp, resp.StatusCode)
	}
	if code, _ := submit("approve", d.UserCode, "rsc_forged"); code != http.StatusForbidden {
		t.Fatalf("approving with a forged CSRF token: %d", code)
	}
	if code, page := submit("check", "BCDF-GHJK", csrf[1]); code != http.StatusNotFound || !strings.Contains(page, "No command line is waiting") {
		t.Fatalf("a code nobody waits for: %d\n%s", code, page)
	}
	// Typed as people type: lower case, no dash.
	code, page := submit("check", strings.ToLower(strings.ReplaceAll(d.UserCode, "-", "")), csrf[1])
	if code != http.StatusOK || !strings.Contains(page, "from 127.0.0.1") || !strings.Contains(page, `value="approve"`) {
		t.Fatalf("checking the code: %d\n%s", code, page)
	}
	wantStatus(t, poll(d), http.StatusAccepted)
	if code, page := submit("approve", d.UserCode, csrf[1]); code != http.StatusOK || !strings.Contains(page, "Approved") {
		t.Fatalf("approving: %d\n%s", code, page)
	}
	r = poll(d)
	wantStatus(t, r, http.StatusCreated)
	var tok api.TokenCreated
	r.json(t, &tok)
	f.secrets = append(f.secrets, tok.Value)
	var me api.Me
	f.do("GET", "/api/v1/me", tok.Value, nil).json(t, &me)
	if me.User == nil || me.User.Name != "alice" || me.Method != api.MeMethodToken {
		t.Fatalf("the device's token is not alice's: %+v", me)
	}
	wantStatus(t, f.do("POST", "/api/v1/inventories", tok.Value, map[string]any{"name": "via-device"}), http.StatusCreated)
	wantStatus(t, poll(d), http.StatusNotFound) // once
	if code, _ := submit("approve", d.UserCode, csrf[1]); code != http.StatusNotFound {
		t.Fatalf("approving a used code: %d", code)
	}

	// Denied: no token.
	d2 := start()
	if code, page := submit("deny", d2.UserCode, csrf[1]); code != http.StatusOK || !strings.Contains(page, "Denied") {
		t.Fatalf("denying: %d\n%s", code, page)
	}
	wantStatus(t, poll(d2), http.StatusForbidden)
	wantStatus(t, poll(d2), http.StatusNotFound)

	// Codes are short: tries are bounded per person and address.
	var last int
	for range 25 {
		last, _ = submit("check", "ZZZZ-ZZZZ", csrf[1])
	}
	if last != http.StatusTooManyRequests {
		t.Fatalf("25 wrong codes: the last answered %d, want 429", last)
	}
	// A session of another method (a password) is sent to the provider.
	f.localUser("root", "the local root's password")
	_, ss := f.loginWith(map[string]any{"name": "root", "password": "the local root's password"})
	req, err := http.NewRequestWithContext(ctx, "GET", f.url+api.DevicePath+"?provider=corp", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cookie", ss.cookie)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err = noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/api/v1/auth/oidc/corp/start?") {
		t.Fatalf("a password session on the device page: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func readJSON(t *testing.T, resp *http.Response, status int, v any) {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s: %d, want %d: %s", resp.Request.URL, resp.StatusCode, status, b)
	}
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v: %s", resp.Request.URL, err, b)
	}
}

func readPage(t *testing.T, resp *http.Response, status int) string {
	t.Helper()
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status {
		t.Fatalf("%s: %d, want %d: %s", resp.Request.URL, resp.StatusCode, status, b)
	}
	return string(b)
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
