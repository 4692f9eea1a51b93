package api_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// uiPerson makes a local user bound to role over the whole server (no
// binding for role ""), signs it in through the sign-in form, and
// returns its cookie and the CSRF token of its pages.
func (f *fixture) uiPerson(name, role string) (cookie, csrf string) {
	f.t.Helper()
	const pw = "a person's long password"
	f.secrets = append(f.secrets, pw)
	wantStatus(f.t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "password": pw}), http.StatusCreated)
	if role != "" {
		f.bind(map[string]any{"user": name, "role": role, "scope": "server"})
	}
	cookie = f.uiSignIn(name, pw)
	csrf = csrfOf(f.t, f.uiGet("/", cookie).body)
	f.secrets = append(f.secrets, csrf)
	return cookie, csrf
}

// noSecrets fails the test when a page holds one of the fixture's
// secrets (a password, a token, a credential's secret field) beyond those
// allowed on it.
func (f *fixture) noSecrets(what string, r response, allowed ...string) {
	f.t.Helper()
	// The page's own CSRF token is in its forms.
	if _, rest, ok := strings.Cut(string(r.body), `name="csrf_token" value="`); ok {
		own, _, _ := strings.Cut(rest, `"`)
		allowed = append(allowed, own)
	}
	for i, s := range append([]string{simSecret, f.admin}, f.secrets...) {
		if s == "" || strings.Contains(strings.Join(allowed, "\x00"), s) {
			continue
		}
		if strings.Contains(string(r.body), s) {
			f.t.Errorf("%s: the page shows secret %d", what, i)
		}
	}
}

func wantIn(t *testing.T, what string, r response, wants ...string) {
	t.Helper()
	for _, want := range wants {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("%s lacks %q:\n%s", what, want, r.body)
		}
	}
}

func wantNotIn(t *testing.T, what string, r response, unwanted ...string) {
	t.Helper()
	for _, u := range unwanted {
		if strings.Contains(string(r.body), u) {
			t.Errorf("%s has %q:\n%s", what, u, r.body)
		}
	}
}

// TestWebUICredentials: an operator creates, updates and deletes a
// credential through the pages; no page ever holds a secret field's
// value, an empty secret input keeps the stored secret, bad input is
// refused with every field's error and changes nothing, a hostile
// description is escaped, and an auditor sees the metadata without the
// forms, and is refused them.
func TestWebUICredentials(t *testing.T) {
	f := newFixture(t)
	op, opCSRF := f.uiPerson("olga", "operator")
	aud, audCSRF := f.uiPerson("arne", "auditor")
	const secret = "the-db-password-nobody-sees"
	f.secrets = append(f.secrets, secret)
	hostile := `<script>alert("x")</script>`

	r := f.uiGet("/ui/credentials", op)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the operator's credentials page", r, `<select id="new-type" name="new">`, `aria-current="page">Credentials`)
	r = f.uiGet("/ui/credentials?new=password", op)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the new password credential form", r, `name="field.password" type="password"`, `name="field.username"`)
	wantStatus(t, f.uiGet("/ui/credentials?new=nope", op), http.StatusBadRequest)
	wantIn(t, "the new gcp credential form", f.uiGet("/ui/credentials?new=gcp", op), `<textarea id="field-service_account_json" name="field.service_account_json" rows="6" autocomplete="off" spellcheck="false" aria-describedby="help-service_account_json"></textarea>`)

	// Bad input: every field's error, nothing made.
	r = f.uiPost("/ui/credentials", op, url.Values{"csrf_token": {opCSRF}, "type": {"password"}, "name": {"-bad"},
		"field.password": {secret}}, nil)
	wantStatus(t, r, http.StatusBadRequest)
	wantIn(t, "a refused credential", r, "Nothing was changed", "name")
	f.noSecrets("a refused credential", r)
	var list api.CredentialList
	f.do("GET", "/api/v1/credentials", f.admin, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("a refused form made %d credentials", len(list.Items))
	}

	r = f.uiPost("/ui/credentials", op, url.Values{"csrf_token": {opCSRF}, "type": {"password"}, "name": {"db"},
		"description": {hostile}, "field.username": {"deploy"}, "field.password": {secret}}, nil)
	wantRedirect(t, r, "/ui/credentials/db")
	r = f.uiGet("/ui/credentials/db", op)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the credential's page", r, "<h1>db</h1>", `value="deploy"`, `<span class="field-set">password</span>`, "&lt;script&gt;",
		`data-confirm="Delete credential db?`, `name="field.password" type="password" autocomplete="new-password" value=""`)
	wantNotIn(t, "the credential's page", r, hostile)
	f.noSecrets("the credential's page", r)
	r = f.uiGet("/ui/credentials", op)
	wantIn(t, "the credentials page", r, `<a href="/ui/credentials/db">db</a>`, "password (secret)")
	f.noSecrets("the credentials page", r)
	version := func() int {
		var c api.Credential
		f.do("GET", "/api/v1/credentials/db", f.admin, nil).json(t, &c)
		return c.Version
	}
	v1 := version()

	// An empty secret input keeps the secret; a typed one replaces it.
	r = f.uiPost("/ui/credentials/db", op, url.Values{"csrf_token": {opCSRF}, "name": {"db"}, "description": {"main db"},
		"field.username": {"deploy"}, "field.password": {""}}, nil)
	wantRedirect(t, r, "/ui/credentials/db")
	if v := version(); v != v1 {
		t.Errorf("an empty secret input changed the secret: version %d, was %d", v, v1)
	}
	const secret2 = "the-next-db-password"
	f.secrets = append(f.secrets, secret2)
	r = f.uiPost("/ui/credentials/db", op, url.Values{"csrf_token": {opCSRF}, "name": {"db"}, "field.password": {secret2}}, nil)
	wantRedirect(t, r, "/ui/credentials/db")
	if v := version(); v == v1 {
		t.Errorf("a typed secret did not replace the secret (version %d)", v)
	}
	f.noSecrets("the updated credential's page", f.uiGet("/ui/credentials/db", op))

	// The auditor reads, without forms, and is refused them.
	r = f.uiGet("/ui/credentials/db", aud)
	wantStatus(t, r, http.StatusOK)
	wantNotIn(t, "the auditor's credential page", r, "<form method=\"post\" action=\"/ui/credentials/db\"", "Delete credential")
	wantNotIn(t, "the auditor's credentials page", f.uiGet("/ui/credentials", aud), `name="new"`)
	wantStatus(t, f.uiGet("/ui/credentials?new=password", aud), http.StatusForbidden)
	r = f.uiPost("/ui/credentials/db/delete", aud, url.Values{"csrf_token": {audCSRF}}, nil)
	wantStatus(t, r, http.StatusForbidden)
	wantIn(t, "the auditor's refused delete", r, "Not allowed")
	wantStatus(t, f.uiPost("/ui/credentials", aud, url.Values{"csrf_token": {audCSRF}, "type": {"password"}, "name": {"x"}}, nil), http.StatusForbidden)
	wantStatus(t, f.do("GET", "/api/v1/credentials/db", f.admin, nil), http.StatusOK)

	// A stale form, and a cross-origin one, change nothing.
	wantStatus(t, f.uiPost("/ui/credentials/db/delete", op, url.Values{"csrf_token": {"stale"}}, nil), http.StatusForbidden)
	wantStatus(t, f.uiPost("/ui/credentials/db/delete", op, url.Values{"csrf_token": {opCSRF}}, http.Header{"Sec-Fetch-Site": {"cross-site"}}), http.StatusForbidden)
	wantStatus(t, f.do("GET", "/api/v1/credentials/db", f.admin, nil), http.StatusOK)
	wantStatus(t, f.uiGet("/ui/credentials/nope", op), http.StatusNotFound)

	wantRedirect(t, f.uiPost("/ui/credentials/db/delete", op, url.Values{"csrf_token": {opCSRF}}, nil), "/ui/credentials")
	wantStatus(t, f.do("GET", "/api/v1/credentials/db", f.admin, nil), http.StatusNotFound)

	// Someone bound to nothing may not list credentials.
	nobody, _ := f.uiPerson("nadia", "")
	wantStatus(t, f.uiGet("/ui/credentials", nobody), http.StatusForbidden)
}

var tokenValue = regexp.MustCompile(`id="token-value" class="secret-value" readonly value="([^"]+)"`)

// TestWebUITokens: an admin creates a token through the access page,
// which shows its value once (no-store) and never again; the token works
// against the API until the admin revokes it there, and then does not.
// An auditor sees the grants but not the tokens, and no form.
func TestWebUITokens(t *testing.T) {
	f := newFixture(t)
	adm, admCSRF := f.uiPerson("ada", "admin")
	aud, audCSRF := f.uiPerson("arne", "auditor")
	f.inventory("prod")
	f.credentials("ca", "pw")

	r := f.uiGet("/ui/access", adm)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the admin's access page", r, `<h2 id="tokens">Tokens</h2>`, `action="/ui/access/tokens"`, `<h2 id="grants">Grants</h2>`)

	r = f.uiPost("/ui/access/tokens", adm, url.Values{"csrf_token": {admCSRF}, "name": {"bad name"}, "role": {"auditor"}}, nil)
	wantStatus(t, r, http.StatusBadRequest)
	wantIn(t, "a refused token", r, "Nothing was changed", "name")
	r = f.uiPost("/ui/access/tokens", adm, url.Values{"csrf_token": {admCSRF}, "name": {"ci"}, "role": {"auditor"}, "ttl": {"soon"}}, nil)
	wantStatus(t, r, http.StatusBadRequest)
	wantIn(t, "a token with a bad ttl", r, "ttl")

	r = f.uiPost("/ui/access/tokens", adm, url.Values{"csrf_token": {admCSRF}, "name": {"ci"}, "role": {"auditor"}, "ttl": {"24h"}}, nil)
	wantStatus(t, r, http.StatusCreated)
	m := tokenValue.FindSubmatch(r.body)
	if m == nil {
		t.Fatalf("the new token's page shows no token: %s", r.body)
	}
	value := string(m[1])
	f.secrets = append(f.secrets, value)
	if !strings.HasPrefix(value, roster.TokenPrefix) || r.header.Get("Cache-Control") != "no-store" {
		t.Errorf("the new token is %d bytes with Cache-Control %q", len(value), r.header.Get("Cache-Control"))
	}
	wantIn(t, "the new token's page", r, "Copy the token now")
	wantStatus(t, f.do("GET", "/api/v1/inventories", value, nil), http.StatusOK)

	r = f.uiGet("/ui/access", adm)
	wantIn(t, "the access page", r, `<th scope="row">ci</th>`, `aria-label="Revoke token ci"`, `data-confirm="Revoke token ci?`)
	f.noSecrets("the access page", r)

	// Grants and runners.
	runner := f.token("deployer", roster.RoleRunner)
	f.secrets = append(f.secrets, runner)
	r = f.uiPost("/ui/access/grants", adm, url.Values{"csrf_token": {admCSRF}, "token": {"deployer"}, "credential": {"nope"}, "inventory": {"prod"}}, nil)
	wantStatus(t, r, http.StatusBadRequest)
	wantIn(t, "a refused grant", r, "credential")
	wantRedirect(t, f.uiPost("/ui/access/grants", adm, url.Values{"csrf_token": {admCSRF}, "token": {"deployer"}, "credential": {"pw"}, "inventory": {"prod"}}, nil), "/ui/access")
	r = f.uiGet("/ui/access", adm)
	wantIn(t, "the access page with a grant", r, `<h2 id="runners">Runners</h2>`, "pw (prod)", `<td data-label="Credential">pw</td>`)

	// The auditor sees grants, not tokens, and no form.
	r = f.uiGet("/ui/access", aud)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the auditor's access page", r, "You may not list tokens", `<td data-label="Credential">pw</td>`)
	wantNotIn(t, "the auditor's access page", r, `<h2 id="tokens">`, "Revoke", `action="/ui/access/grants"`, `>ci<`)
	wantStatus(t, f.uiPost("/ui/access/tokens", aud, url.Values{"csrf_token": {audCSRF}, "name": {"mine"}, "role": {"admin"}}, nil), http.StatusForbidden)
	wantStatus(t, f.uiPost("/ui/access/tokens/ci/revoke", aud, url.Values{"csrf_token": {audCSRF}}, nil), http.StatusForbidden)
	wantStatus(t, f.do("GET", "/api/v1/inventories", value, nil), http.StatusOK)

	// Revoking: stale forms change nothing; the admin's form does.
	wantStatus(t, f.uiPost("/ui/access/tokens/ci/revoke", adm, url.Values{"csrf_token": {"stale"}}, nil), http.StatusForbidden)
	wantStatus(t, f.uiPost("/ui/access/tokens/nope/revoke", adm, url.Values{"csrf_token": {admCSRF}}, nil), http.StatusNotFound)
	wantRedirect(t, f.uiPost("/ui/access/tokens/ci/revoke", adm, url.Values{"csrf_token": {admCSRF}}, nil), "/ui/access")
	wantStatus(t, f.do("GET", "/api/v1/inventories", value, nil), http.StatusUnauthorized)
	wantNotIn(t, "the access page after revoking", f.uiGet("/ui/access", adm), `<th scope="row">ci</th>`)

	// Someone bound to nothing sees a 403 page.
	nobody, _ := f.uiPerson("nadia", "")
	wantStatus(t, f.uiGet("/ui/access", nobody), http.StatusForbidden)

	var actions []string
	for _, e := range f.auditLog(url.Values{"actor": {"ada"}}) {
		actions = append(actions, e.Action)
	}
	if got := strings.Join(actions, " "); !strings.Contains(got, "token.create") || !strings.Contains(got, "token.delete") || !strings.Contains(got, "grant.create") {
		t.Errorf("the audit log has %q of ada, want the token's creation and deletion and the grant", got)
	}
}

// TestWebUIPeople: an admin lists users, teams and bindings, creates a
// local user (its password never shown), and disables it, after which it
// cannot sign in; a hostile display name is escaped; an auditor reads
// without forms; an operator may not read people.
func TestWebUIPeople(t *testing.T) {
	f := newFixture(t)
	adm, admCSRF := f.uiPerson("ada", "admin")
	aud, audCSRF := f.uiPerson("arne", "auditor")
	opr, _ := f.uiPerson("olga", "operator")
	hostile := `<img src=x onerror=alert(1)>`
	wantStatus(t, f.do("PATCH", "/api/v1/users/arne", f.admin, map[string]any{"display_name": hostile}), http.StatusOK)
	wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "ops"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/teams/ops/members", f.admin, map[string]any{"user": "olga"}), http.StatusOK)

	r := f.uiGet("/ui/people", adm)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the admin's people page", r, `<th scope="row">ada</th>`, "&lt;img src=x onerror=alert(1)&gt;", `<th scope="row">ops</th>`,
		`aria-label="Remove olga from team ops"`, "the whole server", `action="/ui/people/users"`, `aria-label="Disable user arne"`)
	wantNotIn(t, "the admin's people page", r, hostile)

	const pw = "carl's brand new password"
	f.secrets = append(f.secrets, pw)
	r = f.uiPost("/ui/people/users", adm, url.Values{"csrf_token": {admCSRF}, "name": {"carl"}, "password": {"short"}}, nil)
	wantStatus(t, r, http.StatusBadRequest)
	wantIn(t, "a refused user", r, "password")
	wantStatus(t, f.do("GET", "/api/v1/users/carl", f.admin, nil), http.StatusNotFound)
	wantRedirect(t, f.uiPost("/ui/people/users", adm, url.Values{"csrf_token": {admCSRF}, "name": {"carl"}, "password": {pw}}, nil), "/ui/people")
	r = f.uiGet("/ui/people", adm)
	wantIn(t, "the people page", r, `<th scope="row">carl</th>`)
	f.noSecrets("the people page", r)
	f.uiSignIn("carl", pw)

	wantRedirect(t, f.uiPost("/ui/people/users/carl/disable", adm, url.Values{"csrf_token": {admCSRF}}, nil), "/ui/people")
	r = f.uiPost("/ui/sign-in", "", url.Values{"name": {"carl"}, "password": {pw}}, nil)
	if sessionCookieOf(r) != "" {
		t.Error("a disabled user signed in")
	}
	wantIn(t, "the people page", f.uiGet("/ui/people", adm), `aria-label="Enable user carl"`)
	wantRedirect(t, f.uiPost("/ui/people/users/carl/enable", adm, url.Values{"csrf_token": {admCSRF}}, nil), "/ui/people")
	f.uiSignIn("carl", pw)

	// Teams and their members.
	wantStatus(t, f.uiPost("/ui/people/teams", adm, url.Values{"csrf_token": {admCSRF}, "name": {"bad team"}}, nil), http.StatusBadRequest)
	wantRedirect(t, f.uiPost("/ui/people/teams", adm, url.Values{"csrf_token": {admCSRF}, "name": {"dba"}, "description": {hostile}}, nil), "/ui/people")
	wantStatus(t, f.uiPost("/ui/people/teams/dba/members", adm, url.Values{"csrf_token": {admCSRF}, "user": {"nobody"}}, nil), http.StatusBadRequest)
	wantRedirect(t, f.uiPost("/ui/people/teams/dba/members", adm, url.Values{"csrf_token": {admCSRF}, "user": {"carl"}}, nil), "/ui/people")
	if got := f.teamsOf("carl"); len(got) != 1 || got[0] != "dba" {
		t.Errorf("carl's teams are %v after being added to dba", got)
	}
	r = f.uiGet("/ui/people", adm)
	wantIn(t, "the people page with team dba", r, `aria-label="Remove carl from team dba"`, `<label for="add-dba">`)
	wantNotIn(t, "the people page with team dba", r, hostile)
	wantRedirect(t, f.uiPost("/ui/people/teams/dba/members/carl/remove", adm, url.Values{"csrf_token": {admCSRF}}, nil), "/ui/people")
	if got := f.teamsOf("carl"); len(got) != 0 {
		t.Errorf("carl's teams are %v after being removed from dba", got)
	}

	r = f.uiGet("/ui/people", aud)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the auditor's people page", r, `<th scope="row">carl</th>`, `<th scope="row">dba</th>`)
	wantNotIn(t, "the auditor's people page", r, `action="/ui/people/users"`, "Disable user", `action="/ui/people/teams`)
	wantStatus(t, f.uiPost("/ui/people/teams/dba/members", aud, url.Values{"csrf_token": {audCSRF}, "user": {"arne"}}, nil), http.StatusForbidden)
	wantStatus(t, f.uiPost("/ui/people/users", aud, url.Values{"csrf_token": {audCSRF}, "name": {"eve"}, "password": {pw}}, nil), http.StatusForbidden)
	wantStatus(t, f.uiPost("/ui/people/users/carl/disable", aud, url.Values{"csrf_token": {audCSRF}}, nil), http.StatusForbidden)
	wantStatus(t, f.do("GET", "/api/v1/users/eve", f.admin, nil), http.StatusNotFound)

	wantStatus(t, f.uiGet("/ui/people", opr), http.StatusForbidden)
}

// TestWebUIAudit: the audit page lists the stream newest first, filtered
// by action and time, paged with a link to older records; a bad filter
// is a 400 page saying what is wrong; an operator may not read it.
func TestWebUIAudit(t *testing.T) {
	f := newFixture(t)
	adm, _ := f.uiPerson("ada", "admin")
	opr, _ := f.uiPerson("olga", "operator")
	f.inventory("first")
	f.inventory("second")

	r := f.uiGet("/ui/audit", adm)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the audit page", r, `<caption>Audit records, newest first</caption>`, "inventory.create", `<label for="f-since">`)
	if i, j := strings.Index(string(r.body), "inventory second "), strings.Index(string(r.body), "inventory first "); i < 0 || j < 0 || i > j {
		t.Errorf("the audit page is not newest first")
	}
	r = f.uiGet("/ui/audit?action=inventory.create&limit=1", adm)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the first page", r, "inventory second ", `rel="next"`)
	wantNotIn(t, "the first page", r, "inventory first ")
	next := regexp.MustCompile(`rel="next" href="([^"]+)"`).FindSubmatch(r.body)
	if next == nil {
		t.Fatal("no next page")
	}
	r = f.uiGet(strings.ReplaceAll(string(next[1]), "&amp;", "&"), adm)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the second page", r, "inventory first ")

	wantNotIn(t, "a range in the future", f.uiGet("/ui/audit?since=2999-01-01", adm), "inventory.create")
	wantIn(t, "a range in the past", f.uiGet("/ui/audit?action=inventory.create&until=2999-01-01T00:00", adm), "second", "first")

	for q, want := range map[string]string{
		"limit=0": "limit", "limit=5000": "limit", "since=yesterday": "since",
		"since=2026-12-07&until=2026-12-01": "until", "cursor=garbage": "cursor",
		"actor=" + strings.Repeat("a", 200): "actor",
	} {
		r := f.uiGet("/ui/audit?"+q, adm)
		wantStatus(t, r, http.StatusBadRequest)
		wantIn(t, "the audit page of "+q, r, want, "This page cannot be shown")
	}
	r = f.uiGet("/ui/audit?action="+url.QueryEscape(`<b>x</b>`), adm)
	wantNotIn(t, "a hostile filter", r, "<b>x</b>")
	wantStatus(t, f.uiGet("/ui/audit", opr), http.StatusForbidden)
}

// TestWebUIWebhooks: the webhooks page lists a webhook with its URL cut to
// scheme and host, and its page the delivery attempts (outcome, attempt,
// status, error), never the URL's secret path; someone bound to an
// unrelated inventory does not see it.
func TestWebUIWebhooks(t *testing.T) {
	f := newFixture(t)
	aud, _ := f.uiPerson("arne", "auditor")
	f.inventory("prod")
	f.inventory("other")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	rc := &receiver{fails: 1}
	srv := httptest.NewServer(rc)
	t.Cleanup(srv.Close)
	f.secrets = append(f.secrets, "s3cr3tpathpart")
	r := f.do("POST", "/api/v1/webhooks", f.admin, map[string]any{"name": "ops", "inventory": "prod", "events": []string{"sync.succeeded"}, "url": srv.URL + "/hooks/s3cr3tpathpart"})
	wantStatus(t, r, http.StatusCreated)
	var hook api.Webhook
	r.json(t, &hook)
	f.syncAndWait(src.Id)
	waitFor(t, "two attempts", func() bool {
		var log api.WebhookDeliveryList
		f.do("GET", "/api/v1/webhooks/"+hook.Id+"/deliveries", f.admin, nil).json(t, &log)
		return len(log.Items) == 2
	})

	r = f.uiGet("/ui/webhooks", aud)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the webhooks page", r, `<a href="/ui/webhooks/`+hook.Id+`">ops</a>`, "<td data-label=\"Inventory\">prod</td>", "sync.succeeded")
	f.noSecrets("the webhooks page", r)
	r = f.uiGet("/ui/webhooks/"+hook.Id, aud)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the webhook's page", r, "delivery-delivered", "delivery-retrying", `<td class="num" data-label="HTTP status">503</td>`)
	f.noSecrets("the webhook's page", r)
	wantStatus(t, f.uiGet("/ui/webhooks/nope", aud), http.StatusNotFound)
	wantStatus(t, f.uiGet("/ui/webhooks/"+hook.Id+"?cursor=garbage", aud), http.StatusBadRequest)
	// The page after the API's first delivery holds the older attempt only.
	var first api.WebhookDeliveryList
	f.do("GET", "/api/v1/webhooks/"+hook.Id+"/deliveries?limit=1", f.admin, nil).json(t, &first)
	if first.NextCursor == nil {
		t.Fatal("the API gives no second page of deliveries")
	}
	r = f.uiGet("/ui/webhooks/"+hook.Id+"?"+url.Values{"cursor": {*first.NextCursor}}.Encode(), aud)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "the second page of deliveries", r, "delivery-retrying")
	wantNotIn(t, "the second page of deliveries", r, "delivery-delivered")

	// Bound on another inventory only: the webhook is not there.
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "ines", "password": "ines's long password"}), http.StatusCreated)
	f.secrets = append(f.secrets, "ines's long password")
	f.bind(map[string]any{"user": "ines", "role": "auditor", "scope": "inventory", "target": "other"})
	ines := f.uiSignIn("ines", "ines's long password")
	r = f.uiGet("/ui/webhooks", ines)
	wantStatus(t, r, http.StatusOK)
	wantNotIn(t, "ines's webhooks page", r, "ops")
	wantStatus(t, f.uiGet("/ui/webhooks/"+hook.Id, ines), http.StatusNotFound)
}

// TestWebUICredentialBinding: someone bound to one credential sees and
// may change that one only, as through the API; another credential's
// forms are refused as absent.
func TestWebUICredentialBinding(t *testing.T) {
	f := newFixture(t)
	f.credentials("ca", "pw")
	cora, csrf := f.uiPerson("cora", "")
	f.bind(map[string]any{"user": "cora", "role": "operator", "scope": "credential", "target": "pw"})

	r := f.uiGet("/ui/credentials", cora)
	wantStatus(t, r, http.StatusOK)
	wantIn(t, "cora's credentials page", r, `<a href="/ui/credentials/pw">pw</a>`)
	wantNotIn(t, "cora's credentials page", r, `/ui/credentials/ca"`, `name="new"`)
	wantIn(t, "cora's credential page", f.uiGet("/ui/credentials/pw", cora), `action="/ui/credentials/pw"`)
	wantStatus(t, f.uiGet("/ui/credentials/ca", cora), http.StatusNotFound)
	wantStatus(t, f.uiPost("/ui/credentials/ca/delete", cora, url.Values{"csrf_token": {csrf}}, nil), http.StatusNotFound)
	wantStatus(t, f.do("GET", "/api/v1/credentials/ca", f.admin, nil), http.StatusOK)
	wantRedirect(t, f.uiPost("/ui/credentials/pw", cora, url.Values{"csrf_token": {csrf}, "name": {"pw"}, "description": {"cora's"}}, nil), "/ui/credentials/pw")
	var c api.Credential
	f.do("GET", "/api/v1/credentials/pw", f.admin, nil).json(t, &c)
	if c.Description != "cora's" {
		t.Errorf("the description is %q after cora's update", c.Description)
	}
}
