package api_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/browsertest"
)

// TestWebUIBrowser drives a real headless Chromium through the Web UI of
// a real server: sign in (after a wrong password), see the overview
// listing a synced source, at desktop and phone width, and sign out. Any
// console error, uncaught exception or CSP violation fails it; the
// browser's reporting of those is itself checked with a deliberate
// violation at the end.
func TestWebUIBrowser(t *testing.T) {
	f := newFixture(t)
	f.localUser("alice", alicePassword)
	f.inventory("prod")
	run := f.syncAndWait(f.source("prod", "ec2-fleet", f.awsConfig(nil)).Id)
	if run.Status != "succeeded" {
		t.Fatalf("the sync %s", run.Status)
	}
	b := browsertest.New(t)

	b.Do("opening /", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.ID("password")))
	location := browsertest.Get(b, chromedp.Location())
	if location != f.url+ui.SignInPath {
		t.Fatalf("/ without a session lands on %s, want the sign-in page", location)
	}
	b.Screenshot("sign-in")

	wrong := "not-" + alicePassword
	f.secrets = append(f.secrets, wrong)
	b.Do("signing in with a wrong password",
		chromedp.SendKeys(chromedp.ID("name"), "alice"), chromedp.SendKeys(chromedp.ID("password"), wrong),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("sign-in-error")))
	if errText := browsertest.Get(b, chromedp.Text(chromedp.ID("sign-in-error"))); !strings.Contains(errText, "the name or the password is wrong") {
		t.Errorf("the sign-in error says %q", errText)
	}
	b.Screenshot("sign-in-refused")

	b.Do("signing in",
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("section.inventory")))
	location, overview := browsertest.Get(b, chromedp.Location()), browsertest.Get(b, chromedp.Text(chromedp.CSS("main")))
	if location != f.url+"/" {
		t.Errorf("signing in lands on %s, want /", location)
	}
	for _, want := range []string{"prod", "ec2-fleet", "succeeded", fmt.Sprint(run.Counts.Seen)} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q:\n%s", want, overview)
		}
	}
	if v := browsertest.Eval[string](b, `getComputedStyle(document.querySelector(".status-succeeded")).fontWeight`); v != "600" {
		t.Errorf("the style sheet did not apply (status weight %q)", v)
	}
	b.Screenshot("overview")

	b.Do("narrowing to phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("section.inventory")))
	b.Screenshot("overview-phone")
	b.Do("widening again", chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("section.inventory")))

	b.Do("signing out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("password")))
	if location := browsertest.Get(b, chromedp.Location()); location != f.url+ui.SignInPath {
		t.Errorf("signing out lands on %s", location)
	}
	b.Screenshot("signed-out")
	b.Do("opening / after signing out", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.ID("password")))

	// The browser's reports reach the test: a script of the test's adds an
	// image from elsewhere, which the page's CSP refuses.
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = new Image(); i.src = "https://example.invalid/x.png"; document.body.append(i); return true })()`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) && !strings.Contains(strings.Join(got, "\n"), "CSP violation: img-src") {
		got = append(got, b.TakeProblems()...)
	}
	if !strings.Contains(strings.Join(got, "\n"), "CSP violation: img-src") {
		t.Errorf("a CSP violation went unreported; the browser reported %q", got)
	}
}
