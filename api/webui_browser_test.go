package api_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rosterhq/roster/api/ui"
	"github.com/rosterhq/roster/internal/testenv"
)

// artifactsEnv names a directory where browser tests leave their
// screenshots (CI keeps it); without it they go to a temporary directory.
const artifactsEnv = "ROSTER_TEST_ARTIFACTS"

// browser is a headless Chromium of one test. It records every console
// message, uncaught exception, browser log entry and Content-Security-
// Policy violation of its pages; the test fails on any error among them.
type browser struct {
	t   *testing.T
	ctx context.Context
	dir string // screenshots
	n   int

	mu       sync.Mutex
	problems []string
}

// newBrowser starts Chromium (testenv.Chromium: skip, or fail under
// ROSTER_REQUIRE_INTEGRATION=1, when it is missing).
func newBrowser(t *testing.T) *browser {
	t.Helper()
	bin := testenv.Chromium(t)
	b := &browser{t: t, dir: t.TempDir()}
	if d := os.Getenv(artifactsEnv); d != "" {
		b.dir = filepath.Join(d, t.Name())
		if err := os.MkdirAll(b.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out bytes.Buffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900), chromedp.CombinedOutput(&out))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() && out.Len() > 0 {
			t.Logf("chromium's output:\n%s", out.String())
		}
	})
	// A script of the browser's own (the page's CSP does not apply to
	// it) reports the page's violations to the console.
	err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		_, err := cdp.Call(ctx, tg, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: `
document.addEventListener("securitypolicyviolation", e =>
  console.error("CSP violation: " + e.violatedDirective + " blocked " + e.blockedURI));`})
		return err
	}))
	if err != nil {
		t.Fatalf("starting chromium %s: %v\n%s", bin, err, out.String())
	}
	b.ctx = ctx
	return b
}

func (b *browser) listen(ev any) {
	var p string
	switch e := ev.(type) {
	case *runtime.EventConsoleAPICalled:
		if e.Type == runtime.ConsoleAPICalledTypeError || e.Type == runtime.ConsoleAPICalledTypeAssert || e.Type == runtime.ConsoleAPICalledTypeWarning {
			var args []string
			for _, a := range e.Args {
				args = append(args, strings.Trim(string(a.Value), `"`)+a.Description)
			}
			p = "console." + string(e.Type) + ": " + strings.Join(args, " ")
		}
	case *runtime.EventExceptionThrown:
		p = "exception: " + e.ExceptionDetails.Text
		if e.ExceptionDetails.Exception != nil {
			p += " " + e.ExceptionDetails.Exception.Description
		}
	case *log.EventEntryAdded:
		if e.Entry.Level == log.EntryLevelError || e.Entry.Level == log.EntryLevelWarning {
			p = fmt.Sprintf("log %s %s: %s (%s)", e.Entry.Source, e.Entry.Level, e.Entry.Text, e.Entry.URL)
		}
	}
	if p != "" {
		b.mu.Lock()
		b.problems = append(b.problems, p)
		b.mu.Unlock()
	}
}

// takeProblems returns what went wrong in the pages so far, and forgets it.
func (b *browser) takeProblems() []string {
	time.Sleep(100 * time.Millisecond) // events of the last page may trail its load
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// do runs steps, and fails the test on an error of the steps or of the page.
func (b *browser) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if p := b.takeProblems(); len(p) > 0 {
		b.t.Fatalf("%s: the browser reported:\n%s", what, strings.Join(p, "\n"))
	}
}

// get runs an action that reads something of the page.
func get[T any](b *browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("reading the page: %v", err)
	}
	return v
}

// eval evaluates a script of the test's (not the page's) in the page.
func eval[T any](b *browser, expr string) T {
	b.t.Helper()
	return get(b, chromedp.Evaluate[T](expr))
}

// screenshot saves the whole page as NN-name.png, and checks what every
// page must hold: landmarks, a label for every input, no horizontal
// scrolling at the window's width.
func (b *browser) screenshot(name string) {
	b.t.Helper()
	b.n++
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot of %s: %v", name, err)
	}
	file := filepath.Join(b.dir, fmt.Sprintf("%02d-%s.png", b.n, name))
	if err := os.WriteFile(file, png, 0o644); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("screenshot: %s", file)
	if bad := eval[[]string](b, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
		.filter(e => e.labels.length === 0 && !e.getAttribute("aria-label")).map(e => e.name)`); len(bad) > 0 {
		b.t.Errorf("%s: inputs without a label: %v", name, bad)
	}
	if n := eval[int](b, `document.querySelectorAll("header, main").length`); n != 2 {
		b.t.Errorf("%s: %d header and main landmarks, want one of each", name, n)
	}
	if wide := eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); wide {
		b.t.Errorf("%s: the page scrolls sideways at %d pixels", name, eval[int](b, `window.innerWidth`))
	}
}

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
	b := newBrowser(t)

	b.do("opening /", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.ID("password")))
	location := get(b, chromedp.Location())
	if location != f.url+ui.SignInPath {
		t.Fatalf("/ without a session lands on %s, want the sign-in page", location)
	}
	b.screenshot("sign-in")

	wrong := "not-" + alicePassword
	f.secrets = append(f.secrets, wrong)
	b.do("signing in with a wrong password",
		chromedp.SendKeys(chromedp.ID("name"), "alice"), chromedp.SendKeys(chromedp.ID("password"), wrong),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.ID("sign-in-error")))
	if errText := get(b, chromedp.Text(chromedp.ID("sign-in-error"))); !strings.Contains(errText, "the name or the password is wrong") {
		t.Errorf("the sign-in error says %q", errText)
	}
	b.screenshot("sign-in-refused")

	b.do("signing in",
		chromedp.SendKeys(chromedp.ID("password"), alicePassword),
		chromedp.Click(chromedp.CSS(`main button[type=submit]`)),
		chromedp.WaitVisible(chromedp.CSS("section.inventory")))
	location, overview := get(b, chromedp.Location()), get(b, chromedp.Text(chromedp.CSS("main")))
	if location != f.url+"/" {
		t.Errorf("signing in lands on %s, want /", location)
	}
	for _, want := range []string{"prod", "ec2-fleet", "succeeded", fmt.Sprint(run.Counts.Seen)} {
		if !strings.Contains(overview, want) {
			t.Errorf("the overview lacks %q:\n%s", want, overview)
		}
	}
	if v := eval[string](b, `getComputedStyle(document.querySelector(".status-succeeded")).fontWeight`); v != "600" {
		t.Errorf("the style sheet did not apply (status weight %q)", v)
	}
	b.screenshot("overview")

	b.do("narrowing to phone width", chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile), chromedp.Reload(),
		chromedp.WaitVisible(chromedp.CSS("section.inventory")))
	b.screenshot("overview-phone")
	b.do("widening again", chromedp.EmulateViewport(1280, 900), chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("section.inventory")))

	b.do("signing out", chromedp.Click(chromedp.CSS(`form.signout button`)), chromedp.WaitVisible(chromedp.ID("password")))
	if location := get(b, chromedp.Location()); location != f.url+ui.SignInPath {
		t.Errorf("signing out lands on %s", location)
	}
	b.screenshot("signed-out")
	b.do("opening / after signing out", chromedp.Navigate(f.url+"/"), chromedp.WaitVisible(chromedp.ID("password")))

	// The browser's reports reach the test: a script of the test's adds an
	// image from elsewhere, which the page's CSP refuses.
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`(() => { const i = new Image(); i.src = "https://example.invalid/x.png"; document.body.append(i); return true })()`)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	var got []string
	for time.Now().Before(deadline) && !strings.Contains(strings.Join(got, "\n"), "CSP violation: img-src") {
		got = append(got, b.takeProblems()...)
	}
	if !strings.Contains(strings.Join(got, "\n"), "CSP violation: img-src") {
		t.Errorf("a CSP violation went unreported; the browser reported %q", got)
	}
}
