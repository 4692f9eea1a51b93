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
	"html/template"
	"io"
	"time"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static/ui.css
var css []byte

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
)

// CSP is every page's Content-Security-Policy: nothing but the style
// sheet and images of this origin, no script at all, forms posting only
// here, no framing.
const CSP = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

var (
	cssVersion = func() string { h := sha256.Sum256(css); return hex.EncodeToString(h[:6]) }()
	pages      = template.Must(template.New("").Funcs(template.FuncMap{
		"style": func() string { return StylePath + "?v=" + cssVersion },
		"when":  when,
	}).ParseFS(templateFiles, "templates/*.html"))
)

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
}

// Page is what every page of a signed-in person carries.
type Page struct {
	User string
	// CSRF is the session's CSRF token, for the sign-out form.
	CSRF string
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
	Name, Provider string
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
}

// Failing reports whether the source's last run failed in part or whole.
func (s Source) Failing() bool {
	return s.Status == "failed" || s.Status == "partial" || s.Status == "canceled"
}

// Render writes page name ("sign-in" or "overview") with data. It renders
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
