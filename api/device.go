package api

import (
	"context"
	"encoding/json"
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
		data, _ := json.Marshal(deviceFlowData{Address: clientFrom(ctx).addr})
		f := &roster.SignInFlow{ID: roster.HashToken(device), Kind: roster.FlowDevice, Provider: p.Name, UserCode: code, Data: roster.Secret(data),
			Status: roster.FlowPending, CreatedAt: now, ExpiresAt: now.Add(flowTTL)}
		err := s.store.CreateSignInFlow(ctx, f)
		if roster.ErrorCode(err) == roster.ECONFLICT {
			continue
		}
		if err != nil {
			return nil, err
		}
		// No link carries the code: the person types it from the
		// terminal, so a link someone else sends approves nothing.
		return StartDeviceSignIn200JSONResponse{
			DeviceCode: device.Reveal(), UserCode: code, VerificationUri: s.publicURL + DevicePath + "?provider=" + url.QueryEscape(p.Name),
			ExpiresIn: int(flowTTL / time.Second), Interval: devicePollEvery,
		}, nil
	}
	return nil, roster.Errorf(roster.EUNAVAILABLE, "no free user code: try again")
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
	return FinishDeviceSignIn201JSONResponse(out), nil
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

// deviceFlowData is what a device sign-in keeps: where it was started,
// shown to the person who approves it.
type deviceFlowData struct {
	Address string `json:"address"`
}

// deviceChecksPerWindow bounds the codes one address or one person may
// try on the page per window (RFC 8628 5.1: codes are short).
const deviceChecksPerWindow = 20

var devicePage = template.Must(template.New("device").Parse(`<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Roster: sign in the command line</title></head>
<body><main>
<h1>Sign in the command line</h1>
{{if .Message}}<p role="status">{{.Message}}</p>{{end}}
{{if .Ask}}<p>Signed in as <strong>{{.User}}</strong>.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="provider" value="{{.Provider}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<label for="user_code">The code your command line (<code>roster login</code>) shows</label>
<input id="user_code" name="user_code" autocomplete="off" autocapitalize="characters" required>
<button type="submit" name="action" value="check">Continue</button>
</form>{{end}}
{{if .Approve}}<p>A command line started at {{.Started}} from {{.From}} asks to act as <strong>{{.User}}</strong> for up to {{.For}}.
Approve only if you started it yourself.</p>
<form method="post" action="{{.Action}}">
<input type="hidden" name="provider" value="{{.Provider}}">
<input type="hidden" name="user_code" value="{{.Code}}">
<input type="hidden" name="csrf_token" value="{{.CSRF}}">
<button type="submit" name="action" value="approve">Approve</button>
<button type="submit" name="action" value="deny">Deny</button>
</form>{{end}}
</main></body></html>
`))

type devicePageData struct {
	Message, User, Code, CSRF, Action, Provider, Started, From, For string
	Approve, Ask                                                    bool
}

// serveDevicePage answers DevicePath?provider=P (mounted through
// uiPage, which sets the Web UI's headers and the request's client). A browser without a
// session of P is sent to P to sign in, and back. A signed-in person
// types the code the command line shows (tries are counted per address
// and per person), sees where and when the command line started, and
// approves or denies. Posts must be same-origin and carry the session's
// CSRF token.
func (s *Server) serveDevicePage(w http.ResponseWriter, r *http.Request) {
	render := func(status int, d devicePageData) {
		d.Action = DevicePath
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.WriteHeader(status)
		devicePage.Execute(w, d)
	}
	ctx := r.Context()
	if r.Method == http.MethodPost {
		if err := s.crossOrigin.Check(r); err != nil {
			render(http.StatusForbidden, devicePageData{Message: "A cross-origin request may not approve a sign-in."})
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 4096)
		if err := r.ParseForm(); err != nil {
			render(http.StatusBadRequest, devicePageData{Message: "The form could not be read."})
			return
		}
	}
	provider := r.FormValue("provider")
	if s.oidc[provider] == nil {
		render(http.StatusNotFound, devicePageData{Message: "This link names no identity provider of this Roster: run roster login --sso again."})
		return
	}
	c, ok, err := s.sessionOf(r)
	if !ok || err != nil || c.session == nil || c.session.Method != "oidc:"+provider {
		if r.Method == http.MethodPost {
			render(http.StatusUnauthorized, devicePageData{Message: "Your session ended: open the link again."})
			return
		}
		// Sign in with the provider, then come back here.
		back := DevicePath + "?provider=" + url.QueryEscape(provider)
		http.Redirect(w, r, oidcPrefix+provider+"/start?return_to="+url.QueryEscape(back), http.StatusFound)
		return
	}
	csrf := roster.SessionCSRFToken(c.sessionValue).Reveal()
	page := devicePageData{User: c.user.Name, CSRF: csrf, Provider: provider}
	if r.Method != http.MethodPost {
		page.Ask = true
		render(http.StatusOK, page)
		return
	}
	if !constantTimeEqual(r.PostFormValue("csrf_token"), csrf) {
		render(http.StatusForbidden, devicePageData{Message: "The form is stale: open the link again."})
		return
	}
	if tooMany, err := s.countDeviceCheck(ctx, c.user.ID); err != nil {
		s.log.Error("counting a device code check failed", "err", err)
		render(http.StatusInternalServerError, devicePageData{Message: "Roster could not check the code: try again."})
		return
	} else if tooMany {
		render(http.StatusTooManyRequests, devicePageData{Message: "Too many codes tried: wait a quarter of an hour."})
		return
	}
	code := normalizeUserCode(r.PostFormValue("user_code"))
	var f *roster.SignInFlow
	if code != "" {
		f, err = s.store.SignInFlowByUserCode(ctx, code, s.now())
	}
	if code == "" || roster.ErrorCode(err) == roster.ENOTFOUND || err == nil && f.Provider != provider {
		page.Ask, page.Message = true, "No command line is waiting for this code (it has eight letters, like BCDF-GHJK; it was used, or took longer than 10 minutes)."
		render(http.StatusNotFound, page)
		return
	} else if err != nil {
		s.log.Error("reading a device sign-in failed", "err", err)
		render(http.StatusInternalServerError, devicePageData{Message: "Roster could not read the sign-in: try again."})
		return
	}
	switch r.PostFormValue("action") {
	case "check":
		var data deviceFlowData
		json.Unmarshal([]byte(f.Data.Reveal()), &data)
		page.Approve, page.Code, page.From = true, code, data.Address
		page.Started, page.For = f.CreatedAt.UTC().Format("15:04:05 UTC"), s.loginTokenTTL().String()
		render(http.StatusOK, page)
		return
	case "approve", "deny":
	default:
		render(http.StatusBadRequest, devicePageData{Message: "The form could not be read."})
		return
	}
	status, userID, action := roster.FlowApproved, c.user.ID, "auth.device.approve"
	if r.PostFormValue("action") == "deny" {
		status, userID, action = roster.FlowDenied, "", "auth.device.deny"
	}
	if err := s.store.DecideSignInFlow(ctx, f.ID, status, userID); roster.ErrorCode(err) == roster.ECONFLICT {
		render(http.StatusConflict, devicePageData{Message: "This sign-in was approved or denied already."})
		return
	} else if err != nil {
		s.log.Error("deciding a device sign-in failed", "err", err)
		render(http.StatusInternalServerError, devicePageData{Message: "Roster could not record your answer: try again."})
		return
	}
	ctx = withCaller(ctx, c)
	s.audit(ctx, &roster.AuditEvent{Action: action, Outcome: roster.AuditAllowed, TargetType: "user", TargetID: c.user.ID, TargetName: c.user.Name,
		Details: map[string]string{"provider": f.Provider, "address": clientFrom(ctx).addr}})
	if status == roster.FlowApproved {
		render(http.StatusOK, devicePageData{Message: "Approved: the command line is signed in as " + c.user.Name + ". You may close this page."})
		return
	}
	render(http.StatusOK, devicePageData{Message: "Denied: the command line is not signed in."})
}

// countDeviceCheck counts a code typed on the device page, per address
// and per person, and reports whether either is past the bound.
func (s *Server) countDeviceCheck(ctx context.Context, userID string) (bool, error) {
	window := s.now().Truncate(signInWindow)
	keys := []string{"device_check:" + addressKey(clientFrom(ctx).addr), "device_check_user:" + userID}
	counts, err := s.store.SignInFailures(ctx, window, keys...)
	if err != nil {
		return false, err
	}
	if counts[keys[0]] >= deviceChecksPerWindow || counts[keys[1]] >= deviceChecksPerWindow {
		return true, nil
	}
	return false, s.store.AddSignInFailure(context.WithoutCancel(ctx), window, keys...)
}
