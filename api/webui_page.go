package api

import (
	"cmp"
	"context"
	"net/http"
	"net/url"
	"slices"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
)

// What every page of a signed-in person shares: finding the session,
// answering with an HTML page when something goes wrong, and checking a
// form that changes something.

// uiRequest is a request of a signed-in person, as a page handler sees
// it.
type uiRequest struct {
	// ctx carries the caller: store calls and authorizeCaller see the
	// person as the API would.
	ctx    context.Context
	caller *caller
	// Page is what the page's template needs of every page.
	Page ui.Page
}

// pageOf is the common part of a page of c's, under section.
func pageOf(c *caller, section string) ui.Page {
	return ui.Page{User: c.user.Name, CSRF: roster.SessionCSRFToken(c.sessionValue).Reveal(), Section: section}
}

// signedIn wraps a page of a signed-in person under section of the main
// navigation: without a valid session it sends to the sign-in page (a GET)
// or refuses (anything else: a form's post must not be lost in a
// redirect without the person knowing).
func (s *Server) signedIn(section string, h func(w http.ResponseWriter, r *http.Request, p *uiRequest)) http.HandlerFunc {
	return s.uiPage(func(w http.ResponseWriter, r *http.Request) {
		c := s.uiSession(r)
		if c == nil {
			if r.Method == http.MethodGet || r.Method == http.MethodHead {
				http.Redirect(w, r, ui.SignInPath, http.StatusSeeOther)
				return
			}
			s.render(w, http.StatusUnauthorized, "error", ui.ErrorPage{Status: http.StatusUnauthorized, Title: "Signed out",
				Message: "Your session ended: sign in again, then send the form again."})
			return
		}
		h(w, r, &uiRequest{ctx: withCaller(r.Context(), c), caller: c, Page: pageOf(c, section)})
	})
}

// uiError answers with an error page.
func (s *Server) uiError(w http.ResponseWriter, p *uiRequest, status int, title, message string) {
	page := ui.ErrorPage{Status: status, Title: title, Message: message}
	if p != nil {
		page.Page = p.Page
	}
	s.render(w, status, "error", page)
}

// uiFail answers with the page of err: its own words for what the
// person can act on (not found, not allowed, bad input), a generic
// message (and a log line) for anything else, as writeProblem does.
func (s *Server) uiFail(w http.ResponseWriter, p *uiRequest, err error) {
	code := roster.ErrorCode(err)
	status, ok := statusOf[code]
	if !ok || code == roster.EINTERNAL {
		s.log.Error("showing a page failed", "err", err)
		s.uiError(w, p, http.StatusInternalServerError, "Something went wrong", "Roster could not show this page: try again.")
		return
	}
	title := map[string]string{
		roster.ENOTFOUND:     "Not found",
		roster.EFORBIDDEN:    "Not allowed",
		roster.EUNAUTHORIZED: "Signed out",
		roster.ETOOMANY:      "Too many requests",
		roster.EUNAVAILABLE:  "Unavailable",
	}[code]
	if title == "" {
		title = "Refused"
	}
	s.uiError(w, p, status, title, roster.ErrorMessage(err))
}

// uiFormMax bounds a form's body unless a page says otherwise.
const uiFormMax = 64 << 10

// uiForm reads a form that changes something: same-origin only, at most
// max bytes (0: uiFormMax), with the session's CSRF token. On false it
// has answered.
func (s *Server) uiForm(w http.ResponseWriter, r *http.Request, p *uiRequest, max int64) bool {
	if max <= 0 {
		max = uiFormMax
	}
	if err := s.crossOrigin.Check(r); err != nil {
		s.uiError(w, p, http.StatusForbidden, "Refused", "A cross-origin request may not change anything.")
		return false
	}
	r.Body = http.MaxBytesReader(w, r.Body, max)
	if err := r.ParseForm(); err != nil {
		s.uiError(w, p, http.StatusBadRequest, "Refused", "The form could not be read (is it larger than the page allows?).")
		return false
	}
	if !constantTimeEqual(r.PostFormValue("csrf_token"), p.Page.CSRF) {
		s.uiError(w, p, http.StatusForbidden, "Refused", "The form is stale: reload the page and send it again.")
		return false
	}
	return true
}

// serveNoPage answers a path under /ui/ that is no page.
func (s *Server) serveNoPage(w http.ResponseWriter, r *http.Request) {
	var p *uiRequest
	if c := s.uiSession(r); c != nil {
		p = &uiRequest{ctx: withCaller(r.Context(), c), caller: c, Page: pageOf(c, "")}
	}
	s.uiError(w, p, http.StatusNotFound, "Not found", "There is no page at "+clip(r.URL.Path)+".")
}

// apiAs authorizes operation op for the person of p as the API's
// middleware authorizes a request whose path names params (a refusal of
// what the person may not see is a 404), and returns the context to call
// op's handler with. It acts on a copy of the caller: which of the
// person's views act is decided per operation, and a page that does
// several must not carry one's into the next.
func (s *Server) apiAs(p *uiRequest, op string, params map[string]string) (context.Context, error) {
	c := p.caller
	one := &caller{tok: c.tok, user: c.user, method: c.method, views: c.views, session: c.session, sessionValue: c.sessionValue}
	ctx := withCaller(p.ctx, one)
	return ctx, s.authorizeRequest(ctx, op, params)
}

// visibleInventories are the inventories the caller, acting for the
// operation last authorized, sees, by name.
func (s *Server) visibleInventories(ctx context.Context) ([]*roster.Inventory, error) {
	invs, err := s.store.Inventories(ctx)
	if err != nil {
		return nil, err
	}
	invs, err = visibleOnly(ctx, invs, func(ctx context.Context, inv *roster.Inventory) (bool, error) { return s.seesInventory(ctx, inv.ID) })
	slices.SortFunc(invs, func(a, b *roster.Inventory) int { return cmp.Compare(a.Name, b.Name) })
	return invs, err
}

// inventoriesFor lists, by name, the inventories the person sees doing
// op (ListSources, say), as the API's op would see them, with the context
// acting for op. Doing op at all refused is an EFORBIDDEN error.
func (s *Server) inventoriesFor(p *uiRequest, op string) (context.Context, []*roster.Inventory, error) {
	ctx, err := s.apiAs(p, op, nil)
	if err != nil {
		return nil, nil, err
	}
	invs, err := s.visibleInventories(ctx)
	return ctx, invs, err
}

// seesFor reports which inventories (by id) the person sees doing op;
// none if op is refused.
func (s *Server) seesFor(p *uiRequest, op string) (func(inventoryID string) (bool, error), error) {
	ctx, err := s.apiAs(p, op, nil)
	if roster.ErrorCode(err) == roster.EFORBIDDEN {
		return func(string) (bool, error) { return false, nil }, nil
	} else if err != nil {
		return nil, err
	}
	return func(id string) (bool, error) { return s.seesInventory(ctx, id) }, nil
}

// maxCursorParam bounds a page's cursor parameter (the store's cursors
// are far shorter).
const maxCursorParam = 1024

// cursorParam is the cursor of a page's query parameter name; one longer
// than any cursor the store makes is refused (errBadCursor), as the store
// refuses one it did not make.
func cursorParam(q url.Values, name string) (string, error) {
	c := q.Get(name)
	if len(c) > maxCursorParam {
		return "", errBadCursor
	}
	return c, nil
}

// errBadCursor is a page link whose cursor is no store's.
var errBadCursor = roster.Errorf(roster.EINVALID, "the page link is not valid: start from the first page")

// uiPageFail answers a failed read of a listing's page: the store refuses
// a cursor it did not make as invalid, a page link gone stale or altered.
func (s *Server) uiPageFail(w http.ResponseWriter, p *uiRequest, err error) {
	if roster.ErrorCode(err) == roster.EINVALID {
		s.uiError(w, p, http.StatusBadRequest, "Refused", "The page link is not valid: start from the first page.")
		return
	}
	s.uiFail(w, p, err)
}
