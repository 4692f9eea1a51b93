package api

import (
	"context"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// The device sign-in (roster login --sso): the command line starts it and
// polls; its person opens DevicePath in a browser, signs in with the
// provider and approves. Shaped after RFC 8628, with Roster as the
// authorization server whatever the provider supports.
const (
	// DevicePath is the page where a person approves a device sign-in.
	DevicePath       = "/auth/device"
	devicePollEvery  = 5                      // seconds
	userCodeAlphabet = "BCDFGHJKLMNPQRSTVWXZ" // no vowels: no words; no look-alikes
)

// StartDeviceSignIn implements StrictServerInterface.
func (s *Server) StartDeviceSignIn(ctx context.Context, req StartDeviceSignInRequestObject) (StartDeviceSignInResponseObject, error) {
	p := s.oidc[req.Body.Provider]
	if p == nil {
		return nil, roster.Invalid(roster.FieldError{Field: "provider", Message: "names no OpenID Connect provider of the config (GET /api/v1/auth/providers lists them)"})
	}
	if err := s.countFlowStart(ctx); err != nil {
		return nil, err
	}
	now := s.now()
	for range 3 { // a user code taken by another sign-in: draw again
		device, _ := roster.NewDeviceCode()
		code := randomCode(userCodeAlphabet, 4) + "-" + randomCode(userCodeAlphabet, 4)
		f := &roster.SignInFlow{ID: roster.HashToken(device), Kind: roster.FlowDevice, Provider: p.Name, UserCode: code,
			Status: roster.FlowPending, CreatedAt: now, ExpiresAt: now.Add(flowTTL)}
		err := s.store.CreateSignInFlow(ctx, f)
		if roster.ErrorCode(err) == roster.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, err
		}
		verify := s.publicBase(ctx) + DevicePath
		return StartDeviceSignIn200JSONResponse{
			DeviceCode: device.Reveal(), UserCode: code, VerificationUri: verify,
			VerificationUriComplete: verify + "?user_code=" + url.QueryEscape(code),
			ExpiresIn:               int(flowTTL / time.Second), Interval: devicePollEvery,
		}, nil
	}
	return nil, roster.Errorf(roster.EUNAVAILABLE, "no free user code: try again")
}

// publicBase is the server's URL as browsers reach it.
func (s *Server) publicBase(ctx context.Context) string {
	if s.publicURL != "" {
		return s.publicURL
	}
	return clientFrom(ctx).base
}

// FinishDeviceSignIn implements StrictServerInterface.
func (s *Server) FinishDeviceSignIn(ctx context.Context, req FinishDeviceSignInRequestObject) (FinishDeviceSignInResponseObject, error) {
	gone := roster.Errorf(roster.ENOTFOUND, "no such sign-in under way (it was used, denied, or took longer than 10 minutes): run roster login again")
	code := roster.Secret(req.Body.DeviceCode)
	if !strings.HasPrefix(code.Reveal(), roster.DeviceCodePrefix) {
		return nil, gone
	}
	f, err := s.store.SignInFlow(ctx, roster.HashToken(code), s.now())
	if roster.ErrorCode(err) == roster.ENOTFOUND || err == nil && f.Kind != roster.FlowDevice {
		return nil, gone
	} else if err != nil {
		return nil, err
	}
	switch f.Status {
	case roster.FlowPending:
		return FinishDeviceSignIn202JSONResponse{Status: DeviceSignInPendingStatusPending, Interval: devicePollEvery}, nil
	case roster.FlowDenied:
		if err := s.store.DeleteSignInFlow(ctx, f.ID); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
			return nil, err
		}
		return nil, roster.Errorf(roster.EFORBIDDEN, "the sign-in was denied in the browser")
	}
	// Approved: the token is handed once.
	if err := s.store.DeleteSignInFlow(ctx, f.ID); roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, gone
	} else if err != nil {
		return nil, err
	}
	u, err := s.store.User(ctx, f.UserID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, gone
	} else if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, roster.Errorf(roster.EFORBIDDEN, "user %q is disabled in Roster", u.Name)
	}
	out, err := s.loginToken(ctx, u, "device:oidc:"+f.Provider)
	if err != nil {
		return nil, err
	}
	return FinishDeviceSignIn201JSONResponse(out.(CreateLoginToken201JSONResponse)), nil
}

// normalizeUserCode reads a user code as a person types it: any case,
// with or without the dash or spaces.
func normalizeUserCode(v string) string {
	v = strings.ToUpper(strings.NewReplacer("-", "", " ", "").Replace(v))
	if len(v) != 8 {
		return ""
	}
	for _, c := range v {
		if !strings.ContainsRune(userCodeAlphabet, c) {
			return ""
		}
	}
	return v[:4] + "-" + v[4:]
}

var devicePage = template.Must(template.New("device").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Roster: sign in the command line</title></head>
<body><main>
<h1>Sign in the command line</h1>
{{if .Message}}<p role="status">{{.Message}}</p>{{end}}
{{if .Approve}}<p>A command line (<code>roster login</code>) asks to act as <strong>{{.User}}</strong>.
Approve only if you started it and it shows the code <strong>{{.Code}}</strong>.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="user_code" value="{{.Code}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>{{end}}
{{if .Ask}}<form method="get" action="{{.Action}}">
<label for="user_code">The code the command line shows</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" required>
<button type="submit">Continue</button>
</form>{{end}}
</main></body></html>
`))

type devicePageData struct {
	Message, User, Code, CSRF, Action string
	Approve, Ask                      bool
}

// serveDevicePage answers DevicePath: GET asks for the user code, sends a
// browser without a session to the provider to sign in, and asks a signed
// in person to approve; POST approves or denies (same origin, with the
// session's CSRF token).
func (s *Server) serveDevicePage(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Security-Policy", "default-src 'none'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	render := func(status int, d devicePageData) {
		d.Action = DevicePath
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		devicePage.Execute(w, d)
	}
	r = withClient(r)
	ctx := r.Context()
	if r.Method == http.MethodPost {
		if err := s.crossOrigin.Check(r); err != nil {
			render(http.StatusForbidden, devicePageData{Message: "A cross-origin request may not approve a sign-in."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if err := r.ParseForm(); err != nil {
			render(http.StatusBadRequest, devicePageData{Message: "The form could not be read.", Ask: true})
			return
		}
	}
	code := normalizeUserCode(r.FormValue("user_code"))
	if code == "" {
		status := http.StatusOK
		msg := ""
		if r.FormValue("user_code") != "" {
			status, msg = http.StatusBadRequest, "That is not a code of Roster's: it has eight letters, like BCDF-GHJK."
		}
		render(status, devicePageData{Message: msg, Ask: true})
		return
	}
	f, err := s.store.SignInFlowByUserCode(ctx, code, s.now())
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		render(http.StatusNotFound, devicePageData{Message: "No sign-in is waiting for this code (it was used, or took longer than 10 minutes): run roster login again.", Ask: true})
		return
	} else if err != nil {
		s.log.Error("reading a device sign-in failed", "err", err)
		render(http.StatusInternalServerError, devicePageData{Message: "Roster could not read the sign-in: try again."})
		return
	}
	c, ok, err := s.sessionOf(r)
	if !ok || err != nil || c.session == nil {
		if r.Method == http.MethodPost {
			render(http.StatusUnauthorized, devicePageData{Message: "Your session ended: open the link again."})
			return
		}
		// Sign in with the sign-in's provider, then come back here.
		back := DevicePath + "?user_code=" + url.QueryEscape(code)
		http.Redirect(w, r, oidcPrefix+f.Provider+"/start?return_to="+url.QueryEscape(back), http.StatusFound)
		return
	}
	csrf := roster.SessionCSRFToken(c.sessionValue)
	if r.Method != http.MethodPost {
		render(http.StatusOK, devicePageData{Approve: true, User: c.user.Name, Code: code, CSRF: csrf.Reveal()})
		return
	}
	if !constantTimeEqual(r.PostFormValue("csrf_token"), csrf.Reveal()) {
		render(http.StatusForbidden, devicePageData{Message: "The form is stale: open the link again."})
		return
	}
	status, verb := roster.FlowApproved, "approved"
	if r.PostFormValue("action") != "approve" {
		status, verb = roster.FlowDenied, "denied"
	}
	userID := c.user.ID
	if status == roster.FlowDenied {
		userID = ""
	}
	if err := s.store.DecideSignInFlow(ctx, f.ID, status, userID); err != nil {
		render(http.StatusConflict, devicePageData{Message: "This sign-in was approved or denied already."})
		return
	}
	ctx = withCaller(ctx, c)
	s.audit(ctx, &roster.AuditEvent{Action: "auth.device." + verb[:len(verb)-1], Outcome: roster.AuditAllowed, TargetType: "user", TargetID: c.user.ID, TargetName: c.user.Name,
		Details: map[string]string{"provider": f.Provider, "address": clientFrom(ctx).addr}})
	if status == roster.FlowApproved {
		render(http.StatusOK, devicePageData{Message: "Approved: the command line is signed in as " + c.user.Name + ". You may close this page."})
		return
	}
	render(http.StatusOK, devicePageData{Message: "Denied: the command line is not signed in."})
}
