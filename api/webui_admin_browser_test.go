package api_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/browsertest"
)

// TestWebUIAdminBrowser drives a real headless Chromium through the
// administration pages as an admin: each page at desktop and phone
// width (landmarks, labels, no sideways scrolling, no console error or
// CSP violation), a credential made with a secret no page then shows, a
// token made (its value shown once, working against the API) and revoked
// with the button named "Revoke token ci", after which the API refuses
// it.
func TestWebUIAdminBrowser(t *testing.T) {
	f := newFixture(t)
	const pw = "the admin's long password"
	f.secrets = append(f.secrets, pw)
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "ada", "password": pw}), http.StatusCreated)
	f.bind(map[string]any{"user": "ada", "role": "admin", "scope": "server"})
	wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "ops", "description": "the on-call team"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/teams/ops/members", f.admin, map[string]any{"user": "ada"}), http.StatusOK)
	f.inventory("prod")
	f.credentials("ssh-ca", "db-pw")
	runner := f.token("deployer", roster.RoleRunner)
	f.secrets = append(f.secrets, runner)
	f.grant("deployer", "db-pw", "prod")
	wantStatus(t, f.do("POST", "/api/v1/webhooks", f.admin, map[string]any{"name": "ops", "inventory": "prod",
		"events": []string{"sync.failed"}, "url": "http://127.0.0.1:9/hooks/s3cr3tpathpart", "allow_insecure": true}), http.StatusCreated)
	f.secrets = append(f.secrets, "s3cr3tpathpart")

	b := browsertest.New(t)
	b.Do("signing in", chromedp.Navigate(f.url+"/ui/sign-in"), chromedp.WaitVisible(chromedp.ID("password")),
		chromedp.SendKeys(chromedp.ID("name"), "ada"), chromedp.SendKeys(chromedp.ID("password"), pw),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.CSS("form.signout")))

	pages := []struct{ path, name, wait string }{
		{"/ui/credentials", "credentials", "main table"},
		{"/ui/credentials/db-pw", "credential", "#update"},
		{"/ui/credentials?new=password", "credential-new", "#field-password"},
		{"/ui/access", "access", "#tokens"},
		{"/ui/people", "people", "#users"},
		{"/ui/webhooks", "webhooks", "main table"},
		{"/ui/audit", "audit", "main table"},
	}
	width := 1280
	visit := func(suffix string) {
		for _, p := range pages {
			b.Do("opening "+p.path, chromedp.Navigate(f.url+p.path), chromedp.WaitVisible(chromedp.CSS(p.wait)))
			html := browsertest.Get(b, chromedp.OuterHTML(chromedp.CSS("html")))
			own := browsertest.Eval[string](b, `document.querySelector("input[name=csrf_token]").value`)
			for _, s := range append([]string{runner, pw, "s3cr3tpathpart", "hunter2"}, f.secrets...) {
				if s != own && strings.Contains(html, s) {
					t.Errorf("%s shows a secret", p.path)
				}
			}
			b.Screenshot(p.name + suffix)
			// A phone's browser widens its layout to the page's content
			// (which the screenshot's check then passes): the content
			// must fit the device's width itself.
			if w := browsertest.Eval[int](b, `document.documentElement.scrollWidth`); w > width {
				t.Errorf("%s%s is %d pixels wide, more than the window's %d", p.path, suffix, w, width)
			}
		}
	}
	visit("")

	// A credential with a secret, which no page shows afterwards.
	const secret = "browser-typed-secret"
	f.secrets = append(f.secrets, secret)
	b.Do("creating a credential", chromedp.Navigate(f.url+"/ui/credentials?new=password"), chromedp.WaitVisible(chromedp.ID("field-password")),
		chromedp.SendKeys(chromedp.ID("name"), "web-db"), chromedp.SendKeys(chromedp.ID("field-username"), "deploy"),
		chromedp.SendKeys(chromedp.ID("field-password"), secret),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("update")))
	if html := browsertest.Get(b, chromedp.OuterHTML(chromedp.CSS("html"))); strings.Contains(html, secret) || !strings.Contains(html, "<h1>web-db</h1>") {
		t.Errorf("the new credential's page shows its secret, or is not its page")
	}
	b.Screenshot("credential-created")

	// A token, shown once, then revoked.
	b.Do("creating a token", chromedp.Navigate(f.url+"/ui/access"), chromedp.WaitVisible(chromedp.ID("token-name")),
		chromedp.SendKeys(chromedp.ID("token-name"), "ci"), chromedp.SetValue(chromedp.ID("token-ttl"), "24h"),
		chromedp.Click(chromedp.CSS(`form[action="/ui/access/tokens"] button[type=submit]`)), chromedp.WaitVisible(chromedp.ID("token-value")))
	value := browsertest.Get(b, chromedp.Value(chromedp.ID("token-value")))
	f.secrets = append(f.secrets, value)
	if !strings.HasPrefix(value, roster.TokenPrefix) {
		t.Fatalf("the token page shows %d bytes, not a token", len(value))
	}
	b.Screenshot("token-created")
	wantStatus(t, f.do("GET", "/api/v1/inventories", value, nil), http.StatusOK)
	b.Do("revoking the token", chromedp.Navigate(f.url+"/ui/access"), chromedp.WaitVisible(chromedp.CSS(`button[aria-label="Revoke token ci"]`)),
		// The form asks first (data-confirm); the person says yes.
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			_, err := chromedp.Evaluate[bool](`(() => { window.confirm = () => true; return true })()`)(ctx, tg)
			return err
		}),
		chromedp.Click(chromedp.CSS(`button[aria-label="Revoke token ci"]`)),
		chromedp.WaitNotPresent(chromedp.CSS(`button[aria-label="Revoke token ci"]`)))
	b.Screenshot("token-revoked")
	wantStatus(t, f.do("GET", "/api/v1/inventories", value, nil), http.StatusUnauthorized)

	b.Do("narrowing to phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile))
	width = 390
	visit("-phone")
}
