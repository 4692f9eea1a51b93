// Package ui holds the Web UI's views: html/template pages and a
// hand-written style sheet, embedded in the binary. It renders what it is
// given and knows nothing of sessions or stores; the handlers that sign
// people in and gather what a page shows live in package api, beside the
// sign-in and visibility rules they reuse (see api/webui.go).
package ui

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io"
	"io/fs"
	"path"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

// The style sheet is every static/*.css in name order (ui.css first),
// served as one file: each area of the UI keeps its rules in its own file.
//
//go:embed static/*.css
var cssFiles embed.FS

//go:embed static/*.js
var scriptFiles embed.FS

//go:embed static/icon.svg
var icon []byte

// Paths of the UI. Pages other than the overview live under /ui/.
const (
	OverviewPath = "/"
	SignInPath   = "/ui/sign-in"
	SignOutPath  = "/ui/sign-out"
	// StylePath is the style sheet's path; its query names the sheet's
	// content, so that a new binary's sheet is never one a browser cached.
	StylePath = "/ui/static/ui.css"
	// IconPath is the favicon's: browsers ask no /favicon.ico of a page
	// that names one.
	IconPath = "/ui/static/icon.svg"
	// ScriptPrefix is where the scripts (static/*.js) are served, each
	// linked with its content's hash in the query as the style sheet is.
	ScriptPrefix = "/ui/static/js/"
)

// CSP is every page's Content-Security-Policy: the style sheet, images
// and scripts of this origin only (no inline script or style, no eval),
// connections (a live view's event stream) to this origin only, forms
// posting only here, no framing. Every page works without its script:
// scripts only enhance.
const CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var (
	css        = concatCSS()
	cssVersion = version(css)
	scripts    = readScripts()
	pages      = template.Must(template.New("").Funcs(template.FuncMap{
		"style":  func() string { return StylePath + "?v=" + cssVersion },
		"script": scriptURL,
		"when":   when,
	}).ParseFS(templateFiles, "templates/*.html"))
)

func version(b []byte) string { h := sha256.Sum256(b); return hex.EncodeToString(h[:6]) }

func concatCSS() []byte {
	names, err := fs.Glob(cssFiles, "static/*.css")
	if err != nil {
		panic(err)
	}
	// ui.css holds the base rules the others refine: it goes first.
	var out []byte
	for _, first := range []bool{true, false} {
		for _, name := range names {
			if (path.Base(name) == "ui.css") != first {
				continue
			}
			b, err := fs.ReadFile(cssFiles, name)
			if err != nil {
				panic(err)
			}
			out = append(append(out, b...), '\n')
		}
	}
	return out
}

// Script is one of the UI's scripts.
type Script struct {
	Body    []byte
	Version string
}

func readScripts() map[string]Script {
	names, err := fs.Glob(scriptFiles, "static/*.js")
	if err != nil {
		panic(err)
	}
	out := map[string]Script{}
	for _, name := range names {
		b, err := fs.ReadFile(scriptFiles, name)
		if err != nil {
			panic(err)
		}
		out[path.Base(name)] = Script{Body: b, Version: version(b)}
	}
	return out
}

// scriptURL is the path of script name ("live.js"), for a template's
// <script src>. A name the binary lacks fails the page's rendering.
func scriptURL(name string) (string, error) {
	sc, ok := scripts[name]
	if !ok {
		return "", fmt.Errorf("no script %q", name)
	}
	return ScriptPrefix + name + "?v=" + sc.Version, nil
}

// ScriptNamed is the script served at ScriptPrefix+name.
func ScriptNamed(name string) (Script, bool) {
	sc, ok := scripts[name]
	return sc, ok
}

// CSS is the style sheet served at StylePath.
func CSS() []byte { return css }

// Icon is the SVG icon served at IconPath.
func Icon() []byte { return icon }

// Provider is a way to sign in the sign-in page offers.
type Provider struct {
	Name string
	// Kind: local, ldap or oidc.
	Kind string
	// StartURL starts an OpenID Connect sign-in.
	StartURL string
}

// SignIn is what the sign-in page shows.
type SignIn struct {
	// Page is empty: nobody is signed in.
	Page
	// Error says why the last try failed; it never holds the password.
	Error string
	// Name and Provider are what the person typed last, kept in the form.
	Name, Provider string
	// Directories are the password providers: local, then LDAP directories.
	Directories []Provider
	// OIDC are the providers signed in with elsewhere.
	OIDC []Provider
	// TokenTried: the last try was with an API token (its form shows the
	// error, and is open).
	TokenTried bool
}

// Page is what every page of a signed-in person carries.
type Page struct {
	User string
	// CSRF is the session's CSRF token, for the sign-out form and every
	// other form that changes something (field csrf_token).
	CSRF string
	// Section is the main navigation's entry this page is under (one of
	// the Sections' Name), marked as current.
	Section string
}

// A Section is an entry of the main navigation.
type Section struct{ Name, Path string }

// Sections are the main navigation's entries, in order.
var Sections = []Section{
	{"Overview", OverviewPath},
	{"Inventories", "/ui/inventories"},
	{"Sources", "/ui/sources"},
	{"Runs", "/ui/runs"},
	{"Schedules", "/ui/schedules"},
	{"Credentials", "/ui/credentials"},
	{"Access", "/ui/access"},
	{"People", "/ui/people"},
	{"Webhooks", "/ui/webhooks"},
	{"Audit", "/ui/audit"},
}

// Sections lets templates range over the navigation.
func (Page) Sections() []Section { return Sections }

// ErrorPage is a page that says what went wrong: not found, not allowed,
// a refused form, a failure of the server.
type ErrorPage struct {
	Page
	Status  int
	Title   string
	Message string
}

// Overview is the overview page.
type Overview struct {
	Page
	// Message says why something is missing (no permission, say).
	Message     string
	Inventories []Inventory
	// Failing counts the sources whose last sync failed, over all
	// inventories.
	Failing int
}

// Inventory is one inventory on the overview.
type Inventory struct {
	Name, Description string
	Hosts, Enabled    int
	Sources           []Source
}

// Source is one source on the overview, with its last run.
type Source struct {
	// Inventory names the source's inventory, for its page's path.
	Inventory, Name, Provider string
	// Status is the last finished run's status ("" if none finished):
	// succeeded, partial, failed or canceled.
	Status string
	// Error says why the last finished run failed.
	Error string
	// LastRun is when the last finished run finished.
	LastRun *time.Time
	// Seen is the hosts the last finished run saw.
	Seen int
	// Pending is the status of a run under way or waiting (queued,
	// running; a retry of a failed run waits as queued), "" if none.
	Pending string
	// Spark charts the durations of its last finished runs (nil: fewer
	// than two).
	Spark *Sparkline
}

// Path is the inventory's hosts page.
func (i Inventory) Path() string { return InventoryPath(i.Name) }

// Failing reports whether the source's last run failed in part or whole.
func (s Source) Failing() bool {
	return s.Status == "failed" || s.Status == "partial" || s.Status == "canceled"
}

// Path is the source's page.
func (s Source) Path() string { return SourcePath(s.Inventory, s.Name) }

// Render writes page name (a template: "sign-in", "overview", …) with data. It renders
// into a buffer first, so that a template error writes no half page.
func Render(w io.Writer, name string, data any) error {
	var b bytes.Buffer
	if err := pages.ExecuteTemplate(&b, name, data); err != nil {
		return err
	}
	_, err := w.Write(b.Bytes())
	return err
}

// when shows a time in UTC to the minute.
func when(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}
