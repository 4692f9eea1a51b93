package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/oidcauth"
)

// uiGet and uiPost are a browser without redirects: each answer is
// checked for the headers every page carries.
func (f *fixture) uiGet(path, cookie string) response {
	f.t.Helper()
	return f.uiSend("GET", path, cookie, nil, nil)
}

func (f *fixture) uiPost(path, cookie string, form url.Values, header http.Header) response {
	f.t.Helper()
	return f.uiSend("POST", path, cookie, form, header)
}

func (f *fixture) uiSend(method, path, cookie string, form url.Values, header http.Header) response {
	f.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.url+path, body)
	if err != nil {
		f.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if cookie != "" {
		req.Header.Set("Cookie", cookie)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	for name, want := range map[string]string{
		"Content-Security-Policy": ui.CSP, "X-Content-Type-Options": "nosniff",
		"Referrer-Policy": "no-referrer", "Cache-Control": "no-store",
	} {
		if got := resp.Header.Get(name); got != want {
			f.t.Errorf("%s %s: %s = %q, want %q", method, path, name, got, want)
		}
	}
	if hasInline(out) {
		f.t.Errorf("%s %s: the page has inline script or style", method, path)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: out}
}

func wantRedirect(t *testing.T, r response, to string) {
	t.Helper()
	if r.status != http.StatusSeeOther || r.header.Get("Location") != to {
		t.Fatalf("answer %d to %q, want 303 to %q: %s", r.status, r.header.Get("Location"), to, r.body)
	}
}

// sessionCookie is the session cookie an answer sets ("" if none).
func sessionCookieOf(r response) string {
	for _, c := range (&http.Response{Header: r.header}).Cookies() {
		if c.Name == "roster_session" && c.Value != "" {
			return c.Name + "=" + c.Value
		}
	}
	return ""
}

// csrfOf is the CSRF token of a page's sign-out form.
// uiSignIn signs name in through the sign-in form and returns the
// session's cookie ("roster_session=…"), kept among the fixture's
// secrets.
func (f *fixture) uiSignIn(name, password string) string {
	f.t.Helper()
	r := f.uiPost(ui.SignInPath, "", url.Values{"name": {name}, "password": {password}}, nil)
	wantRedirect(f.t, r, "/")
	cookie := sessionCookieOf(r)
	if cookie == "" {
		f.t.Fatalf("signing in %s set no session cookie", name)
	}
	f.secrets = append(f.secrets, strings.TrimPrefix(cookie, "roster_session="))
	return cookie
}

func csrfOf(t *testing.T, page []byte) string {
	t.Helper()
	_, rest, ok := strings.Cut(string(page), `name="csrf_token" value="`)
	v, _, ok2 := strings.Cut(rest, `"`)
	if !ok || !ok2 || v == "" {
		t.Fatalf("the page has no sign-out form with a CSRF token: %s", page)
	}
	return v
}

// TestWebUISignInAndOut: a page without a session sends to the sign-in
// page; a wrong password is refused without the password in the page; a
// right one starts a session whose overview lists the synced source; the
// sign-out form needs the session's CSRF token and ends the session.
func TestWebUISignInAndOut(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	run := f.syncAndWait(src.Id)

	wantRedirect(t, f.uiGet("/", ""), ui.SignInPath)
	wantRedirect(t, f.uiGet("/", "roster_session=garbage"), ui.SignInPath)
	r := f.uiGet(ui.SignInPath, "")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`<label for="name">`, `<label for="password">`, `<main`, `<header`, `href="` + ui.StylePath + "?v="} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("the sign-in page lacks %s", want)
		}
	}
	if strings.Contains(string(r.body), `name="provider"`) {
		t.Error("the sign-in page offers a provider choice without directories")
	}

	wrong := "not-" + alicePassword
	f.secrets = append(f.secrets, wrong)
	r = f.uiPost(ui.SignInPath, "", url.Values{"name": {"alice"}, "password": {wrong}}, nil)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "the name or the password is wrong") || !strings.Contains(string(r.body), `value="alice"`) {
		t.Errorf("a wrong password's page does not say so, or forgot the name: %s", r.body)
	}
	if strings.Contains(string(r.body), wrong) || sessionCookieOf(r) != "" {
		t.Errorf("a wrong password's page echoes it, or sets a session")
	}

	r = f.uiPost(ui.SignInPath, "", url.Values{"name": {"alice"}, "password": {alicePassword}}, nil)
	wantRedirect(t, r, "/")
	cookie := sessionCookieOf(r)
	if cookie == "" {
		t.Fatalf("signing in set no session cookie: %v", r.header)
	}
	f.secrets = append(f.secrets, strings.TrimPrefix(cookie, "roster_session="))
	wantRedirect(t, f.uiGet(ui.SignInPath, cookie), "/")

	r = f.uiGet("/", cookie)
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{"Signed in as <strong>alice</strong>", `<a href="/ui/inventories/prod">prod</a></h2>`, `<a href="/ui/sources/prod/ec2">ec2</a></th>`, "status-succeeded", fmt.Sprintf(">%d hosts,", run.Counts.Seen)} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("the overview lacks %q (run %s: %s, %d seen): %s", want, run.Id, run.Status, run.Counts.Seen, r.body)
		}
	}
	csrf := csrfOf(t, r.body)
	f.secrets = append(f.secrets, csrf)

	// The API takes the same session.
	wantStatus(t, f.send("GET", "/api/v1/me", "", nil, http.Header{"Cookie": {cookie}}), http.StatusOK)

	r = f.uiSend("POST", ui.SignOutPath, cookie, url.Values{"csrf_token": {"wrong"}}, nil)
	wantStatus(t, r, http.StatusForbidden)
	wantStatus(t, f.uiGet("/", cookie), http.StatusOK)
	r = f.uiPost(ui.SignOutPath, cookie, url.Values{"csrf_token": {csrf}}, nil)
	wantRedirect(t, r, ui.SignInPath)
	if !strings.Contains(r.header.Get("Set-Cookie"), "Max-Age=0") {
		t.Errorf("signing out does not clear the cookie: %q", r.header.Get("Set-Cookie"))
	}
	wantRedirect(t, f.uiGet("/", cookie), ui.SignInPath)
	wantStatus(t, f.send("GET", "/api/v1/me", "", nil, http.Header{"Cookie": {cookie}}), http.StatusUnauthorized)

	var actions []string
	for _, e := range f.auditLog(url.Values{}) {
		actions = append(actions, e.Action+":"+string(e.Outcome))
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "auth.sign_out:allowed") || !strings.Contains(got, "auth.sign_in:allowed") || !strings.Contains(got, "auth.sign_in:denied") {
		t.Errorf("the audit log has %s, want the sign-ins and the sign-out", got)
	}
}

// TestWebUICrossOrigin: a browser's cross-origin post may neither sign in
// (login CSRF) nor sign out, whatever it sends.
func TestWebUICrossOrigin(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	cross := http.Header{"Sec-Fetch-Site": {"cross-site"}, "Origin": {"https://evil.example"}}
	r := f.uiPost(ui.SignInPath, "", url.Values{"name": {"alice"}, "password": {alicePassword}}, cross)
	wantStatus(t, r, http.StatusForbidden)
	if sessionCookieOf(r) != "" {
		t.Fatal("a cross-origin post signed in")
	}
	r = f.uiPost(ui.SignInPath, "", url.Values{"name": {"alice"}, "password": {alicePassword}}, http.Header{"Sec-Fetch-Site": {"same-origin"}})
	wantRedirect(t, r, "/")
	cookie := sessionCookieOf(r)
	f.secrets = append(f.secrets, strings.TrimPrefix(cookie, "roster_session="))
	csrf := csrfOf(t, f.uiGet("/", cookie).body)
	wantStatus(t, f.uiPost(ui.SignOutPath, cookie, url.Values{"csrf_token": {csrf}}, cross), http.StatusForbidden)
	wantStatus(t, f.uiGet("/", cookie), http.StatusOK)
}

// TestWebUIOverviewVisibility: the overview lists what the API lists the
// person: a user bound on one inventory sees that one, with its failing
// source before its healthy one; a user bound to nothing is told why it
// sees nothing.
func TestWebUIOverviewVisibility(t *testing.T) {
	f := newFixture(t)
	f.inventory("mine")
	f.inventory("theirs")
	good := f.source("mine", "a-good", f.awsConfig(nil))
	bad := f.source("mine", "b-bad", f.awsConfig(map[string]any{"endpoint_url": "http://127.0.0.1:1"}))
	f.syncAndWait(good.Id)
	if run := f.syncAndWait(bad.Id); run.Status != "failed" {
		t.Fatalf("the broken source's run is %s, want failed", run.Status)
	}
	for _, name := range []string{"bob", "carol"} {
		f.secrets = append(f.secrets, alicePassword)
		wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "password": alicePassword}), http.StatusCreated)
	}
	f.bind(map[string]any{"user": "bob", "role": "auditor", "scope": "inventory", "target": "mine"})
	signIn := func(name string) string {
		r := f.uiPost(ui.SignInPath, "", url.Values{"name": {name}, "password": {alicePassword}}, nil)
		wantRedirect(t, r, "/")
		c := sessionCookieOf(r)
		f.secrets = append(f.secrets, strings.TrimPrefix(c, "roster_session="))
		return c
	}

	r := f.uiGet("/", signIn("bob"))
	wantStatus(t, r, http.StatusOK)
	page := string(r.body)
	if !strings.Contains(page, ">mine</a></h2>") || strings.Contains(page, "theirs") {
		t.Errorf("bob's overview does not list exactly the inventory bob may see: %s", page)
	}
	if i, j := strings.Index(page, ">b-bad<"), strings.Index(page, ">a-good<"); i < 0 || j < 0 || i > j {
		t.Errorf("the failing source is not listed first: %s", page)
	}
	if !strings.Contains(page, "1 source failed its last sync") {
		t.Errorf("the overview does not count the failing source: %s", page)
	}

	r = f.uiGet("/", signIn("carol"))
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "You may not list inventories") || strings.Contains(string(r.body), "mine") {
		t.Errorf("carol's overview: %s", r.body)
	}
}

// refusingDirectory is a directory that knows nobody.
type refusingDirectory struct{}

func (refusingDirectory) Authenticate(context.Context, string, roster.Secret) (*roster.ExternalIdentity, error) {
	return nil, roster.Errorf(roster.EUNAUTHORIZED, "invalid credentials")
}

// TestWebUISignInProviders: the sign-in page offers what GET
// /api/v1/auth/providers lists: a choice of local or a directory for the
// password, and a link per OpenID Connect provider that comes back to /.
func TestWebUISignInProviders(t *testing.T) {
	f := newFixtureWith(t, func(base string, c *api.Config) {
		p, err := oidcauth.New(oidcauth.Config{Name: "down", Issuer: "http://127.0.0.1:1/", ClientID: "roster", ClientSecret: "down's secret"}, base+api.OIDCCallbackPath("down"))
		if err != nil {
			t.Fatal(err)
		}
		c.OIDC = []api.OIDCProvider{{Name: "down", Client: p}}
		c.Directories = []api.Directory{{Name: "corp", Auth: refusingDirectory{}}}
		c.PublicURL = base
	})
	f.secrets = append(f.secrets, "down's secret")
	r := f.uiGet(ui.SignInPath, "")
	wantStatus(t, r, http.StatusOK)
	for _, want := range []string{`<label for="provider">`, `<option value="local">Roster user</option>`, `<option value="corp">corp (directory)</option>`,
		`href="/api/v1/auth/oidc/down/start?return_to=/"`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("the sign-in page lacks %s: %s", want, r.body)
		}
	}
	pw := "a directory password"
	f.secrets = append(f.secrets, pw)
	r = f.uiPost(ui.SignInPath, "", url.Values{"provider": {"corp"}, "name": {"alice"}, "password": {pw}}, nil)
	wantStatus(t, r, http.StatusOK)
	if !strings.Contains(string(r.body), "the name or the password is wrong") || !strings.Contains(string(r.body), `<option value="corp" selected>`) {
		t.Errorf("a directory's refusal: %s", r.body)
	}
	r = f.uiPost(ui.SignInPath, "", url.Values{"provider": {"<nope>"}, "name": {"alice"}, "password": {pw}}, nil)
	wantStatus(t, r, http.StatusBadRequest)
	if strings.Contains(string(r.body), "<nope>") || strings.Contains(string(r.body), pw) {
		t.Errorf("an unknown provider's page echoes it unescaped, or the password: %s", r.body)
	}
}

var (
	scriptTag = regexp.MustCompile(`(?i)<script\b[^>]*>`)
	// handlerAttr: an attribute such as onclick= in a tag.
	handlerAttr = regexp.MustCompile(`(?i)<[a-z][^>]*\son[a-z]+\s*=`)
)

// hasInline reports whether a page has script or style the CSP would
// refuse: a <script> without src, an event handler attribute, a style
// attribute or element. (The browser tests catch what this misses: any
// CSP violation fails them.)
func hasInline(page []byte) bool {
	for _, tag := range scriptTag.FindAll(page, -1) {
		if !bytes.Contains(tag, []byte(" src=")) {
			return true
		}
	}
	return handlerAttr.Match(page) || bytes.Contains(page, []byte(" style=")) || bytes.Contains(page, []byte("<style"))
}

// TestWebUINoPage: a path under /ui/ that is no page answers an HTML 404
// (with the navigation when signed in), never the API's problem+json;
// the UI's script is served, an unknown one is not.
func TestWebUINoPage(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	r := f.uiGet("/ui/no-such-page", "")
	wantStatus(t, r, http.StatusNotFound)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") || !strings.Contains(string(r.body), "There is no page at /ui/no-such-page.") {
		t.Errorf("a missing page answers %s: %s", ct, r.body)
	}
	cookie := f.uiSignIn("alice", alicePassword)
	r = f.uiGet("/ui/no-such-page", cookie)
	wantStatus(t, r, http.StatusNotFound)
	if !strings.Contains(string(r.body), "Signed in as <strong>alice</strong>") {
		t.Errorf("a signed-in person's missing page lacks the navigation: %s", r.body)
	}

	page := f.uiGet("/", cookie)
	src := regexp.MustCompile(`<script src="([^"]+)"`).FindSubmatch(page.body)
	if src == nil {
		t.Fatalf("the overview links no script: %s", page.body)
	}
	resp, err := http.Get(f.url + string(src[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/javascript") {
		t.Errorf("GET %s: %s %s", src[1], resp.Status, resp.Header.Get("Content-Type"))
	}
	resp, err = http.Get(f.url + ui.ScriptPrefix + "nope.js")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown script answers %s", resp.Status)
	}
}

// TestWebUIViewsDifferByOperation: a person's views differ by operation,
// and each page shows what each operation's views see. dave audits
// "audited" and runs on "ran": GET /api/v1/inventories lists both, but
// only "audited"'s sources and runs are his to list, so neither the
// overview nor the inventories page may show "ran"'s.
func TestWebUIViewsDifferByOperation(t *testing.T) {
	f := newFixture(t)
	f.inventory("audited")
	f.inventory("ran")
	f.syncAndWait(f.source("audited", "seen-src", f.awsConfig(nil)).Id)
	f.syncAndWait(f.source("ran", "hidden-src", f.awsConfig(map[string]any{"endpoint_url": "http://127.0.0.1:1"})).Id)
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "dave", "password": alicePassword}), http.StatusCreated)
	f.bind(map[string]any{"user": "dave", "role": "auditor", "scope": "inventory", "target": "audited"})
	f.bind(map[string]any{"user": "dave", "role": "runner", "scope": "inventory", "target": "ran"})
	cookie := f.uiSignIn("dave", alicePassword)

	// What the API answers dave.
	wantStatus(t, f.send("GET", "/api/v1/inventories/ran/sources", "", nil, http.Header{"Cookie": {cookie}}), http.StatusForbidden)
	wantStatus(t, f.send("GET", "/api/v1/inventories/audited/sources", "", nil, http.Header{"Cookie": {cookie}}), http.StatusOK)

	r := f.uiGet("/", cookie)
	wantStatus(t, r, http.StatusOK)
	page := string(r.body)
	if !strings.Contains(page, ">ran</a></h2>") || !strings.Contains(page, ">seen-src</a>") {
		t.Errorf("dave's overview lacks an inventory or the source he may see: %s", page)
	}
	if strings.Contains(page, "hidden-src") || strings.Contains(page, "status-failed") || strings.Contains(page, "127.0.0.1:1") {
		t.Errorf("dave's overview shows a source, or a run, of an inventory he may not list sources of: %s", page)
	}
	if !strings.Contains(page, "You may not list the sources of some inventories") {
		t.Errorf("dave's overview does not say why sources are missing: %s", page)
	}

	r = f.uiGet(ui.InventoriesPath, cookie)
	wantStatus(t, r, http.StatusOK)
	rows := regexp.MustCompile(`(?s)<tr>.*?</tr>`).FindAllString(string(r.body), -1)
	var ran string
	for _, row := range rows {
		if strings.Contains(row, ">ran</a>") {
			ran = row
		}
	}
	if !strings.Contains(ran, `data-label="Sources">–</td>`) {
		t.Errorf("the inventories page counts the sources of an inventory dave may not list them of: %q", ran)
	}
	if strings.Contains(string(r.body), "hidden-src") {
		t.Errorf("the inventories page names a hidden source")
	}
}

// TestWebUITokenSignIn: a person signs in with an API token of its own;
// the session does what the token may (its role and inventories cut the
// user's), and ends when the token is revoked. A service token, or a
// token that is no token, signs no one in; every try is audited.
func TestWebUITokenSignIn(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	f.inventory("prod")
	f.inventory("other")
	f.syncAndWait(f.source("prod", "ec2", f.awsConfig(nil)).Id)

	// An admin gives alice an auditor token limited to prod.
	cookie := f.uiSignIn("alice", alicePassword)
	r := f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": "alice-prod", "role": "auditor", "inventories": []string{"prod"}, "user": "alice"})
	wantStatus(t, r, http.StatusCreated)
	var created struct {
		Token string `json:"value"`
		ID    string `json:"id"`
	}
	if err := json.Unmarshal(r.body, &created); err != nil || created.Token == "" {
		t.Fatalf("token create: %v %s", err, r.body)
	}
	f.secrets = append(f.secrets, created.Token)

	r = f.uiPost(ui.SignInPath, "", url.Values{"token": {created.Token}}, nil)
	wantRedirect(t, r, "/")
	tokCookie := sessionCookieOf(r)
	if tokCookie == "" {
		t.Fatal("signing in with a token set no session")
	}
	f.secrets = append(f.secrets, strings.TrimPrefix(tokCookie, "roster_session="))
	page := f.uiGet("/", tokCookie)
	wantStatus(t, page, http.StatusOK)
	if !strings.Contains(string(page.body), ">prod</a></h2>") || strings.Contains(string(page.body), ">other</a></h2>") {
		t.Errorf("the token's session does not see exactly the token's inventory: %s", page.body)
	}
	// An auditor may not sync: the form is refused, nothing is queued.
	tokCSRF := csrfOf(t, page.body)
	wantStatus(t, f.uiPost(ui.SourcePath("prod", "ec2")+"/sync", tokCookie, url.Values{"csrf_token": {tokCSRF}}, nil), http.StatusForbidden)
	// ... though alice's own session may.
	wantStatus(t, f.uiGet(ui.InventoryPath("other"), cookie), http.StatusOK)
	wantStatus(t, f.uiGet(ui.InventoryPath("other"), tokCookie), http.StatusNotFound)

	for what, value := range map[string]string{"a service token": f.admin, "a made-up token": "rst_" + strings.Repeat("a", 52), "garbage": "not-a-token-zz9"} {
		r := f.uiPost(ui.SignInPath, "", url.Values{"token": {value}}, nil)
		wantStatus(t, r, http.StatusOK)
		if sessionCookieOf(r) != "" || !strings.Contains(string(r.body), `id="sign-in-error"`) || !strings.Contains(string(r.body), "<details class=\"token-sign-in\" open>") {
			t.Errorf("signing in with %s: no refusal shown, or a session set: %s", what, r.body)
		}
		if strings.Contains(string(r.body), value) {
			t.Errorf("the refusal of %s echoes it", what)
		}
	}

	// Revoking the token ends its session, not alice's own.
	wantStatus(t, f.do("DELETE", "/api/v1/tokens/"+created.ID, f.admin, nil), http.StatusNoContent)
	wantRedirect(t, f.uiGet("/", tokCookie), ui.SignInPath)
	wantStatus(t, f.uiGet("/", cookie), http.StatusOK)

	r = f.do("GET", "/api/v1/audit?action=auth.sign_in", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	// Refusals aggregate: the allowed one, a service token's, the two
	// unknown ones in one record.
	for _, want := range []string{`"method":"token"},"id":"[^"]+","last_time":"[^"]+","outcome":"allowed"`,
		`"reason":"a service token belongs to no user"`, `"count":2,"details":\{"address":"127.0.0.1","method":"token"\}`} {
		if !regexp.MustCompile(want).Match(r.body) {
			t.Errorf("the audit lacks %s: %s", want, r.body)
		}
	}
}
