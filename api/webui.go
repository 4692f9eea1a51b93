package api

import (
	"cmp"
	"context"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
)

// The Web UI's handlers. They live here, not in package ui, because they
// are the API's own sign-in and visibility rules seen through a browser:
// checkPassword and startSession sign in (same limits, same audit as
// POST /api/v1/auth/login), sessionOf finds the person, and the overview
// shows what the API would list to that person. Package ui only renders.

// mountUI serves the Web UI on mux. Its paths are outside /api/, so the
// API's authentication passes them by: each handler finds the session
// itself.
func (s *Server) mountUI(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.signedIn("Overview", s.serveOverview))
	mux.HandleFunc("GET "+ui.SignInPath, s.uiPage(s.serveSignInPage))
	mux.HandleFunc("POST "+ui.SignInPath, s.uiPage(s.serveSignIn))
	mux.HandleFunc("POST "+ui.SignOutPath, s.uiPage(s.serveSignOut))
	mux.HandleFunc("GET "+ui.StylePath, serveStatic("text/css; charset=utf-8", ui.CSS()))
	mux.HandleFunc("GET "+ui.IconPath, serveStatic("image/svg+xml", ui.Icon()))
	mux.HandleFunc("GET "+ui.ScriptPrefix+"{name}", serveScript)
	s.mountInventoryPages(mux)
	s.mountSourcePages(mux)
	s.mountAdminPages(mux)
	// Anything else under /ui/ is a page that does not exist: an HTML
	// 404 (or 405), never the API's problem+json.
	mux.HandleFunc("/ui/", s.uiPage(s.serveNoPage))
}

// serveScript serves one of the UI's scripts.
func serveScript(w http.ResponseWriter, r *http.Request) {
	sc, ok := ui.ScriptNamed(r.PathValue("name"))
	if !ok {
		http.NotFound(w, r)
		return
	}
	serveStatic("text/javascript; charset=utf-8", sc.Body)(w, r)
}

// uiPage sets what every page answers with, and the request's client.
func (s *Server) uiPage(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", ui.CSP)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "no-referrer")
		hd.Set("Cache-Control", "no-store")
		h(w, s.withClient(r))
	}
}

// serveStatic serves a file of the binary. The style sheet is linked with
// its content's hash in the query, so it may be cached for a day.
func serveStatic(contentType string, body []byte) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Type", contentType)
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Content-Security-Policy", ui.CSP)
		hd.Set("Cache-Control", "public, max-age=86400")
		w.Write(body)
	}
}

// render writes a page; a template error is logged and answered with a
// plain 500 (the half page is never written: ui.Render buffers).
func (s *Server) render(w http.ResponseWriter, status int, name string, data any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	var b bytesWriter
	if err := ui.Render(&b, name, data); err != nil {
		s.log.Error("rendering a page failed", "page", name, "err", err)
		http.Error(w, "Roster could not show this page.", http.StatusInternalServerError)
		return
	}
	w.WriteHeader(status)
	w.Write(b)
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// uiSession is the caller of the request's session, or nil when it has
// none that is valid (signed out, ended, expired, or a store error,
// logged).
func (s *Server) uiSession(r *http.Request) *caller {
	c, ok, err := s.sessionOf(r)
	if !ok {
		return nil
	}
	if err != nil {
		if roster.ErrorCode(err) != roster.EUNAUTHORIZED {
			s.log.Error("reading a session failed", "err", err)
		}
		return nil
	}
	return c
}

// signInForm is the sign-in page's data: the providers the server has,
// listed as GET /api/v1/auth/providers lists them.
func (s *Server) signInForm() ui.SignIn {
	var page ui.SignIn
	page.Directories = []ui.Provider{{Name: "local", Kind: "local"}}
	for _, name := range slices.Sorted(maps.Keys(s.directories)) {
		page.Directories = append(page.Directories, ui.Provider{Name: name, Kind: "ldap"})
	}
	for _, name := range slices.Sorted(maps.Keys(s.oidc)) {
		page.OIDC = append(page.OIDC, ui.Provider{Name: name, Kind: "oidc", StartURL: oidcPrefix + name + "/start?return_to=/"})
	}
	return page
}

func (s *Server) serveSignInPage(w http.ResponseWriter, r *http.Request) {
	if s.uiSession(r) != nil {
		http.Redirect(w, r, ui.OverviewPath, http.StatusSeeOther)
		return
	}
	s.render(w, http.StatusOK, "sign-in", s.signInForm())
}

// serveSignIn signs in with the form's name and password. Like the API's
// login, a cross-origin post may not sign in (login CSRF). The page of a
// refused sign-in keeps the name, never the password.
func (s *Server) serveSignIn(w http.ResponseWriter, r *http.Request) {
	page := s.signInForm()
	if err := s.crossOrigin.Check(r); err != nil {
		page.Error = "A cross-origin request may not sign in."
		s.render(w, http.StatusForbidden, "sign-in", page)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 8<<10)
	if err := r.ParseForm(); err != nil {
		page.Error = "The form could not be read."
		s.render(w, http.StatusBadRequest, "sign-in", page)
		return
	}
	if r.PostForm.Has("token") {
		s.serveTokenSignIn(w, r, page)
		return
	}
	page.Name, page.Provider = clip(r.PostFormValue("name")), clip(r.PostFormValue("provider"))
	ctx := r.Context()
	u, method, err := s.checkPassword(ctx, page.Provider, page.Name, roster.Secret(r.PostFormValue("password")))
	if err == nil {
		var cookie string
		if _, cookie, err = s.startSession(ctx, u, method); err == nil {
			w.Header().Add("Set-Cookie", cookie)
			http.Redirect(w, r, ui.OverviewPath, http.StatusSeeOther)
			return
		}
	}
	code := roster.ErrorCode(err)
	status := statusOf[code]
	switch code {
	case roster.ETOOMANY:
		if wait := retryAfter(err); wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(wait))
		}
		page.Error = "Too many sign-ins: try again later."
	case roster.EUNAUTHORIZED:
		// The form again, with the same words for any wrong name or
		// password. 200, not 401: a 401 needs a WWW-Authenticate
		// challenge no browser form answers, and browsers log it as a
		// failed load.
		page.Error = roster.ErrorMessage(err)
		status = http.StatusOK
	case roster.EINVALID, roster.EFORBIDDEN, roster.EUNAVAILABLE:
		// Messages written for the person.
		page.Error = roster.ErrorMessage(err)
	default:
		s.log.Error("signing in failed", "err", err)
		page.Error = "Roster could not sign you in: try again."
		status = http.StatusInternalServerError
	}
	s.render(w, status, "sign-in", page)
}

// serveTokenSignIn signs in with an API token of a user's: a session
// of that user that acts as the token does (its role, inventories and
// read-only flag cut the user's rights) and ends with it. A service token
// is nobody's: it signs no one in. Token values are 256 random bits, so
// no limiter is needed against guessing; every try is audited.
func (s *Server) serveTokenSignIn(w http.ResponseWriter, r *http.Request, page ui.SignIn) {
	ctx, cl := r.Context(), clientFrom(r.Context())
	page.TokenTried = true
	value := strings.TrimSpace(r.PostFormValue("token"))
	tok, err := s.tokenByValue(ctx, value)
	if err != nil {
		if roster.ErrorCode(err) != roster.EUNAUTHORIZED {
			s.log.Error("signing in with a token failed", "err", err)
			page.Error = "Roster could not sign you in: try again."
			s.render(w, http.StatusInternalServerError, "sign-in", page)
			return
		}
		s.auditSignIn(ctx, roster.AuditDenied, nil, "", "token", cl, roster.ErrorMessage(err))
		page.Error = "The token is not valid (unknown, revoked or expired)."
		s.render(w, http.StatusOK, "sign-in", page)
		return
	}
	if tok.UserID == "" {
		s.auditSignIn(ctx, roster.AuditDenied, nil, tok.Name, "token", cl, "a service token belongs to no user")
		page.Error = "A service token belongs to no person: sign in as a user, or with a token a user owns."
		s.render(w, http.StatusOK, "sign-in", page)
		return
	}
	u, err := s.store.User(ctx, tok.UserID)
	if err == nil && u.Disabled {
		s.auditSignIn(ctx, roster.AuditDenied, u, u.Name, "token", cl, "user disabled")
		page.Error = "The token's user is disabled."
		s.render(w, http.StatusOK, "sign-in", page)
		return
	}
	var cookie string
	if err == nil {
		_, cookie, err = s.startSessionWith(ctx, u, tok, "token")
	}
	if err != nil {
		s.log.Error("signing in with a token failed", "err", err)
		page.Error = "Roster could not sign you in: try again."
		s.render(w, http.StatusInternalServerError, "sign-in", page)
		return
	}
	s.auditSignIn(ctx, roster.AuditAllowed, u, u.Name, "token", cl, "")
	w.Header().Add("Set-Cookie", cookie)
	http.Redirect(w, r, ui.OverviewPath, http.StatusSeeOther)
}

// serveSignOut ends the session: a same-origin post with the session's
// CSRF token, audited as POST /api/v1/auth/logout is.
func (s *Server) serveSignOut(w http.ResponseWriter, r *http.Request) {
	c := s.uiSession(r)
	if c == nil {
		http.Redirect(w, r, ui.SignInPath, http.StatusSeeOther)
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 4<<10)
	refuse := func(status int, msg string) {
		http.Error(w, msg, status)
	}
	if err := s.crossOrigin.Check(r); err != nil {
		refuse(http.StatusForbidden, "A cross-origin request may not sign out.")
		return
	}
	if err := r.ParseForm(); err != nil {
		refuse(http.StatusBadRequest, "The form could not be read.")
		return
	}
	if !constantTimeEqual(r.PostFormValue("csrf_token"), roster.SessionCSRFToken(c.sessionValue).Reveal()) {
		refuse(http.StatusForbidden, "The form is stale: reload the page and sign out again.")
		return
	}
	ctx := withCaller(r.Context(), c)
	if err := s.store.DeleteSession(ctx, c.session.ID); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
		s.log.Error("ending a session failed", "err", err)
		refuse(http.StatusInternalServerError, "Roster could not sign you out: try again.")
		return
	}
	s.auditChange(ctx, "auth.sign_out", "user", c.user.ID, c.user.Name, "", nil)
	w.Header().Add("Set-Cookie", sessionCookie(clientFrom(ctx).tls, "", -1))
	http.Redirect(w, r, ui.SignInPath, http.StatusSeeOther)
}

// serveOverview shows the signed-in person the inventories it may see,
// their sources with their last sync (failing first) and host counts.
func (s *Server) serveOverview(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	page := ui.Overview{Page: p.Page}
	if err := s.overview(p, &page); err != nil {
		s.log.Error("gathering the overview failed", "err", err)
		page.Inventories, page.Failing = nil, 0
		page.Message = "Roster could not read the inventories: reload the page."
		s.render(w, http.StatusInternalServerError, "overview", page)
		return
	}
	s.render(w, http.StatusOK, "overview", page)
}

// overview fills page with what the person may list: the inventories
// GET /api/v1/inventories lists it, the sources of those whose sources it
// may list, and the runs of those whose runs it may list (each as the
// API's own list would: a person's views differ by operation).
func (s *Server) overview(p *uiRequest, page *ui.Overview) error {
	ctx, invs, err := s.inventoriesFor(p, "ListInventories")
	if roster.ErrorCode(err) == roster.EFORBIDDEN {
		page.Message = "You may not list inventories: ask an admin for a role binding."
		return nil
	} else if err != nil {
		return err
	}
	counts, err := s.hostCounts(ctx)
	if err != nil {
		return err
	}
	seesSources, err := s.seesFor(p, "ListSources")
	if err != nil {
		return err
	}
	seesRuns, err := s.seesFor(p, "ListSyncRuns")
	if err != nil {
		return err
	}
	hidden := false
	for _, inv := range invs {
		out := ui.Inventory{Name: inv.Name, Description: inv.Description, Hosts: counts[inv.ID].Hosts, Enabled: counts[inv.ID].Enabled}
		sources, err := seesSources(inv.ID)
		if err != nil {
			return err
		}
		runs, err := seesRuns(inv.ID)
		if err != nil {
			return err
		}
		if !sources || !runs {
			hidden = true
			page.Inventories = append(page.Inventories, out)
			continue
		}
		srcs, err := s.store.Sources(ctx, inv.ID)
		if err != nil {
			return err
		}
		for _, src := range srcs {
			o := ui.Source{Inventory: inv.Name, Name: src.Name, Provider: src.Provider}
			if _, err := s.lastRuns(ctx, src.ID, &o); err != nil {
				return err
			}
			if o.Failing() {
				page.Failing++
			}
			out.Sources = append(out.Sources, o)
		}
		slices.SortStableFunc(out.Sources, func(a, b ui.Source) int {
			if a.Failing() != b.Failing() {
				if a.Failing() {
					return -1
				}
				return 1
			}
			return cmp.Compare(a.Name, b.Name)
		})
		page.Inventories = append(page.Inventories, out)
	}
	if hidden {
		page.Message = "You may not list the sources of some inventories: their sync results are not shown."
	}
	return nil
}

// overviewRuns bounds the runs read of a source: its last finished one
// (past a run under way and a retry waiting its backoff), and the
// durations of its last sparkRuns finished ones for its sparkline.
const (
	sparkRuns    = 20
	overviewRuns = sparkRuns + 2
)

// lastRuns sets o's last finished run, the run under way if any, and the
// sparkline of its last finished runs' durations; it returns the last
// finished run (nil if none).
func (s *Server) lastRuns(ctx context.Context, sourceID string, o *ui.Source) (*roster.SyncRun, error) {
	runs, _, err := s.store.SyncRuns(ctx, roster.SyncRunFilter{SourceID: sourceID, Limit: overviewRuns})
	if err != nil {
		return nil, err
	}
	var last *roster.SyncRun
	var durations []time.Duration
	for i, run := range runs {
		if !run.Status.Done() {
			if i == 0 {
				o.Pending = string(run.Status)
			}
			continue
		}
		if last == nil {
			last = run
			o.Status, o.Error, o.Seen = string(run.Status), run.Error, run.Counts.Seen
			o.LastRun = cmp.Or(run.FinishedAt, run.StartedAt, &run.CreatedAt)
		}
		if run.StartedAt != nil && run.FinishedAt != nil && len(durations) < sparkRuns {
			durations = append(durations, run.FinishedAt.Sub(*run.StartedAt))
		}
	}
	slices.Reverse(durations) // oldest first
	o.Spark = ui.NewSparkline(durations)
	return last, nil
}
