// Package browsertest drives a headless Chromium for the Web UI's tests,
// through chromedp: the API package's page tests and the end-to-end
// tests of a real `roster serve` share it. It records every console
// message, uncaught exception, browser log entry and Content-Security-
// Policy violation of the pages; a step fails its test on any error among
// them. Only tests import it.
package browsertest

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

	"github.com/rosterhq/roster/internal/testenv"
)

// ArtifactsEnv names a directory where browser tests leave their
// screenshots (CI keeps it); without it they go to a temporary directory.
const ArtifactsEnv = "ROSTER_TEST_ARTIFACTS"

// Browser is a headless Chromium of one test.
type Browser struct {
	t *testing.T
	// Ctx is chromedp's context of the browser's tab.
	Ctx context.Context
	dir string // screenshots
	n   int

	mu       sync.Mutex
	problems []string
}

// New starts Chromium (testenv.Chromium: skip, or fail under
// ROSTER_REQUIRE_INTEGRATION=1, when it is missing).
func New(t *testing.T) *Browser {
	t.Helper()
	bin := testenv.Chromium(t)
	b := &Browser{t: t, dir: t.TempDir()}
	if d := os.Getenv(ArtifactsEnv); d != "" {
		b.dir = filepath.Join(d, t.Name())
		if err := os.MkdirAll(b.dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	var out syncBuffer
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900), chromedp.CombinedOutput(&out))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithListener(b.listen))
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		if t.Failed() && out.Len() > 0 {
			// Chromium's own chatter (no D-Bus here) is long: its tail.
			o := out.String()
			if len(o) > 4096 {
				o = "…" + o[len(o)-4096:]
			}
			t.Logf("chromium's output (tail):\n%s", o)
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
	b.Ctx = ctx
	return b
}

// syncBuffer is Chromium's output, written by chromedp's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) Len() int       { s.mu.Lock(); defer s.mu.Unlock(); return s.b.Len() }
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

func (b *Browser) listen(ev any) {
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

// TakeProblems returns what went wrong in the pages so far, and forgets it.
func (b *Browser) TakeProblems() []string {
	time.Sleep(100 * time.Millisecond) // events of the last page may trail its load
	b.mu.Lock()
	defer b.mu.Unlock()
	p := b.problems
	b.problems = nil
	return p
}

// Do runs steps, and fails the test on an error of the steps or of the
// page.
func (b *Browser) Do(what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	b.DoWithin(20*time.Second, what, steps...)
}

// DoWithin is Do with a deadline of its own (a sync watched to its end).
func (b *Browser) DoWithin(limit time.Duration, what string, steps ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, limit)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		b.t.Fatalf("%s: %v", what, err)
	}
	if p := b.TakeProblems(); len(p) > 0 {
		b.t.Fatalf("%s: the browser reported:\n%s", what, strings.Join(p, "\n"))
	}
}

// Get runs an action that reads something of the page.
func Get[T any](b *Browser, a chromedp.Action[T]) T {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.Ctx, 10*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		b.t.Fatalf("reading the page: %v", err)
	}
	return v
}

// Eval evaluates a script of the test's (not the page's) in the page.
func Eval[T any](b *Browser, expr string) T {
	b.t.Helper()
	return Get(b, chromedp.Evaluate[T](expr))
}

// Screenshot saves the whole page as NN-name.png, and checks what every
// page must hold: landmarks, a label for every input, no horizontal
// scrolling at the window's width. It returns the file's path.
func (b *Browser) Screenshot(name string) string {
	b.t.Helper()
	b.n++
	ctx, cancel := context.WithTimeout(b.Ctx, 20*time.Second)
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
	if bad := Eval[[]string](b, `[...document.querySelectorAll("input:not([type=hidden]), select, textarea")]
		.filter(e => e.labels.length === 0 && !e.getAttribute("aria-label")).map(e => e.name)`); len(bad) > 0 {
		b.t.Errorf("%s: inputs without a label: %v", name, bad)
	}
	if n := Eval[int](b, `document.querySelectorAll("header, main").length`); n != 2 {
		b.t.Errorf("%s: %d header and main landmarks, want one of each", name, n)
	}
	if wide := Eval[bool](b, `document.documentElement.scrollWidth > window.innerWidth`); wide {
		b.t.Errorf("%s: the page scrolls sideways at %d pixels", name, Eval[int](b, `window.innerWidth`))
	}
	return file
}

// ConfirmYes makes the page's window.confirm answer yes (a form with
// data-confirm asks first), as a person clicking OK would; it lasts until
// the page is left.
var ConfirmYes = chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
	_, err := chromedp.Evaluate[bool](`(() => { window.confirm = () => true; return true })()`)(ctx, tg)
	return err
})

// RunningScopes waits until a run page's live view shows the running
// run's scopes (a run still queued shows 0 of 0), and returns their
// total as shown.
func RunningScopes(b *Browser) string {
	b.t.Helper()
	Get(b, chromedp.Poll[bool](`(() => { const e = document.querySelector('#live [data-live="scopes_total"]'); return !!e && e.textContent !== "0" })()`))
	return Get(b, chromedp.Text(chromedp.CSS(`#live [data-live="scopes_total"]`)))
}
