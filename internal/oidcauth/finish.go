package oidcauth

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/rosterhq/roster"
)

// Limits on what a provider may say about a person.
const (
	maxGroups       = 1000
	maxGroupBytes   = 256
	maxSubjectBytes = 255 // OpenID Connect Core 1.0, 2: sub
	maxCodeBytes    = 4096
	maxDisplayBytes = 256
)

// Finish completes the sign-in flow began by Start: it exchanges code (the
// provider's answer at the redirect URI, its state already checked by the
// caller) with flow's PKCE verifier, verifies the ID token (signature, issuer,
// audience, expiry, flow's nonce), and returns who signed in.
//
// Claims come from the ID token; those it lacks among the username claim, the
// groups claim, email (when the email scope is asked) and name, given_name,
// family_name (profile scope) are taken from the userinfo endpoint, whose sub
// must be the ID token's. When userinfo is needed and fails, Finish fails: a
// sign-in without the person's groups would drop their memberships.
//
// The identity's Subject is "<issuer>|<sub>" (the issuer cannot contain '|';
// split at the first one). Username is the username claim in lower case;
// Groups is the groups claim (a list of strings, or one string) without empty
// or duplicate entries, sorted; more than 1000 groups, or one longer than 256
// bytes, refuses the sign-in.
func (p *Provider) Finish(ctx context.Context, flow Flow, code string) (*roster.ExternalIdentity, error) {
	if flow.State == "" || flow.Nonce == "" || flow.Verifier == "" {
		return nil, roster.Errorf(roster.EINVALID, "sign-in with %q: the sign-in flow is incomplete (state, nonce and verifier are needed)", p.cfg.Name)
	}
	if code == "" {
		return nil, p.refused("the provider sent no authorization code")
	}
	if len(code) > maxCodeBytes {
		return nil, p.refused("the authorization code is longer than %d bytes", maxCodeBytes)
	}
	e, err := p.endpoints(ctx)
	if err != nil {
		return nil, err
	}
	f := &finish{p: p, e: e, secrets: []string{code, flow.Verifier.Reveal(), p.cfg.ClientSecret.Reveal()}}
	id, err := f.run(oidc.ClientContext(ctx, p.hc), flow, code)
	if err != nil {
		if roster.ErrorCode(err) == roster.EUNAVAILABLE {
			p.forget(e)
		}
		return nil, f.scrub(err)
	}
	return id, nil
}

// finish is one run of Finish, with the values no error may show.
type finish struct {
	p       *Provider
	e       *endpoints
	secrets []string
}

func (f *finish) run(ctx context.Context, flow Flow, code string) (*roster.ExternalIdentity, error) {
	p := f.p
	tok, err := f.e.oauth.Exchange(ctx, code, oauth2.VerifierOption(flow.Verifier.Reveal()))
	if err != nil {
		return nil, f.exchangeError(err)
	}
	f.secrets = append(f.secrets, tok.AccessToken, tok.RefreshToken)
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return nil, p.refused("the token response holds no ID token (is the openid scope allowed for client %q?)", p.cfg.ClientID)
	}
	f.secrets = append(f.secrets, raw)
	idt, err := f.e.verifier.Verify(ctx, raw)
	if err != nil {
		if strings.Contains(err.Error(), "fetching keys") {
			return nil, roster.Errorf(roster.EUNAVAILABLE, "identity provider %q: its signing keys cannot be fetched: %s",
				p.cfg.Name, clip(strings.TrimPrefix(err.Error(), "failed to verify signature: ")))
		}
		return nil, p.refused("the ID token is not valid: %s", describeVerifyError(err))
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(flow.Nonce)) != 1 {
		return nil, p.refused("the ID token's nonce is not this sign-in's (a replayed or injected answer)")
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return nil, p.refused("the ID token's at_hash does not match the access token")
		}
	}
	if idt.Subject == "" || len(idt.Subject) > maxSubjectBytes {
		return nil, p.refused("the ID token's sub is empty or longer than %d bytes", maxSubjectBytes)
	}
	var claims claimSet
	if err := idt.Claims(&claims); err != nil {
		return nil, p.refused("the ID token's claims cannot be read: %v", err)
	}
	if missing := p.missingClaims(claims); len(missing) > 0 && f.e.op.UserInfoEndpoint() != "" {
		info, err := f.userinfo(ctx, tok, idt.Subject)
		if err != nil {
			return nil, err
		}
		for _, name := range missing {
			if info.has(name) {
				claims[name] = info[name]
			}
		}
	}
	return p.identity(idt, claims)
}

// missingClaims lists the claims Finish wants that claims lacks.
func (p *Provider) missingClaims(claims claimSet) []string {
	want := []string{p.cfg.UsernameClaim, p.cfg.GroupsClaim}
	if p.cfg.UsernameClaim == "email" {
		want = append(want, "email_verified")
	}
	if slices.Contains(p.cfg.Scopes, "email") {
		want = append(want, "email")
	}
	if slices.Contains(p.cfg.Scopes, "profile") {
		want = append(want, "name", "given_name", "family_name", "preferred_username")
	}
	var missing []string
	for _, name := range want {
		if name != "sub" && !claims.has(name) && !slices.Contains(missing, name) {
			missing = append(missing, name)
		}
	}
	return missing
}

func (f *finish) userinfo(ctx context.Context, tok *oauth2.Token, sub string) (claimSet, error) {
	p := f.p
	ui, err := f.e.op.UserInfo(ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		return nil, p.unreachable(f.e.op.UserInfoEndpoint(), err)
	}
	if ui.Subject != sub {
		return nil, p.refused("the userinfo endpoint answered for subject %q, not the ID token's %q", clip(ui.Subject), sub)
	}
	var info claimSet
	if err := ui.Claims(&info); err != nil {
		return nil, roster.Errorf(roster.EUNAVAILABLE, "identity provider %q: its userinfo answer cannot be read: %v", p.cfg.Name, err)
	}
	return info, nil
}

// identity builds the result from verified claims.
func (p *Provider) identity(idt *oidc.IDToken, claims claimSet) (*roster.ExternalIdentity, error) {
	id := &roster.ExternalIdentity{
		Source:   roster.UserOIDC,
		Provider: p.cfg.Name,
		Subject:  idt.Issuer + "|" + idt.Subject,
	}
	var err error
	if id.Email, _, err = claims.str("email"); err != nil {
		return nil, p.refused("%v", err)
	}

	switch p.cfg.UsernameClaim {
	case "sub":
		id.Username = idt.Subject
	case "email":
		if !claims.has("email") {
			return nil, p.noUsername(idt.Subject)
		}
		// Only an email the provider says it verified names a person:
		// some providers send no email_verified and let users set any
		// address (the "nOAuth" takeover).
		if verified, err := claims.boolean("email_verified"); err != nil || verified == nil || !*verified {
			return nil, p.refused("the email %q of subject %q is not marked verified (email_verified: true); with username_claim email only a verified one is accepted", id.Email, idt.Subject)
		}
		id.Username = id.Email
	default:
		var ok bool
		if id.Username, ok, err = claims.str(p.cfg.UsernameClaim); err != nil {
			return nil, p.refused("%v", err)
		} else if !ok {
			return nil, p.noUsername(idt.Subject)
		}
	}
	if id.Username == "" {
		return nil, p.noUsername(idt.Subject)
	}
	id.Username = strings.ToLower(id.Username)

	name, _, _ := claims.str("name")
	if name = strings.TrimSpace(name); name == "" { // some providers join empty given and family names
		given, _, _ := claims.str("given_name")
		family, _, _ := claims.str("family_name")
		name = strings.TrimSpace(given + " " + family)
	}
	id.DisplayName = truncate(name, maxDisplayBytes)

	if id.Groups, err = groups(claims, p.cfg.GroupsClaim); err != nil {
		return nil, p.refused("subject %q: %v", idt.Subject, err)
	}
	return id, nil
}

func (p *Provider) noUsername(sub string) error {
	return p.refused("the provider gave no %q claim for subject %q, in the ID token or from userinfo; it is the username claim (username_claim)",
		p.cfg.UsernameClaim, sub)
}

// groups returns the groups claim's strings, sorted, without empty or
// duplicate entries.
func groups(claims claimSet, name string) ([]string, error) {
	raw, ok := claims[name]
	if !ok || string(raw) == "null" {
		return nil, nil
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if json.Unmarshal(raw, &one) != nil {
			return nil, fmt.Errorf("the %q claim is not a list of strings", name)
		}
		list = []string{one}
	}
	var out []string
	for _, g := range list {
		if g == "" {
			continue
		}
		if len(g) > maxGroupBytes {
			return nil, fmt.Errorf("the %q claim has a group longer than %d bytes (%q...)", name, maxGroupBytes, truncate(g, 40))
		}
		out = append(out, g)
	}
	slices.Sort(out)
	out = slices.Compact(out)
	if len(out) > maxGroups {
		return nil, fmt.Errorf("the %q claim lists %d groups; at most %d are accepted", name, len(out), maxGroups)
	}
	return out, nil
}

// claimSet is a token's or userinfo's claims, decoded lazily.
type claimSet map[string]json.RawMessage

func (c claimSet) has(name string) bool {
	v, ok := c[name]
	return ok && string(v) != "null"
}

// str returns a string claim; ok is false when it is absent or null.
func (c claimSet) str(name string) (s string, ok bool, err error) {
	if !c.has(name) {
		return "", false, nil
	}
	if err := json.Unmarshal(c[name], &s); err != nil {
		return "", false, fmt.Errorf("the %q claim is not a string", name)
	}
	return s, true, nil
}

// boolean returns a boolean claim (true/false, or "true"/"false" as some
// providers send), or nil when absent.
func (c claimSet) boolean(name string) (*bool, error) {
	if !c.has(name) {
		return nil, nil
	}
	var b bool
	if json.Unmarshal(c[name], &b) == nil {
		return &b, nil
	}
	var s string
	if json.Unmarshal(c[name], &s) == nil && (s == "true" || s == "false") {
		b = s == "true"
		return &b, nil
	}
	return nil, fmt.Errorf("the %q claim is not a boolean", name)
}

// exchangeError turns a failed code exchange into an error for the user.
func (f *finish) exchangeError(err error) error {
	p := f.p
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		return p.unreachable(f.e.oauth.Endpoint.TokenURL, err)
	}
	what := re.ErrorCode
	if re.ErrorDescription != "" {
		what += ": " + re.ErrorDescription
	}
	switch {
	case re.ErrorCode == "invalid_client" || re.ErrorCode == "unauthorized_client":
		// Roster's configuration, not the person signing in.
		return roster.Errorf(roster.EUNAVAILABLE,
			"identity provider %q refused Roster's client %q at its token endpoint (%q): check client_id and client_secret",
			p.cfg.Name, p.cfg.ClientID, clip(what))
	case re.ErrorCode != "":
		return p.refused("the provider refused the authorization code (%q)", clip(what))
	case re.Response != nil && re.Response.StatusCode >= 500:
		return roster.Errorf(roster.EUNAVAILABLE, "identity provider %q: its token endpoint %s answered %s",
			p.cfg.Name, f.e.oauth.Endpoint.TokenURL, re.Response.Status)
	case re.Response != nil:
		return p.refused("the provider's token endpoint answered %s", re.Response.Status)
	default:
		return p.unreachable(f.e.oauth.Endpoint.TokenURL, err)
	}
}

// describeVerifyError says why go-oidc refused an ID token.
func describeVerifyError(err error) string {
	var expired *oidc.TokenExpiredError
	if errors.As(err, &expired) {
		return fmt.Sprintf("it expired at %s", expired.Expiry.UTC().Format("2006-01-02T15:04:05Z"))
	}
	return clip(strings.TrimPrefix(err.Error(), "oidc: "))
}

// refused is the EUNAUTHORIZED error of a sign-in the provider's answer does
// not support.
func (p *Provider) refused(format string, args ...any) error {
	return roster.Errorf(roster.EUNAUTHORIZED, "sign-in with %q refused: %s", p.cfg.Name, fmt.Sprintf(format, args...))
}

// unreachable is the EUNAVAILABLE error of a failed request to the provider.
func (p *Provider) unreachable(at string, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		if ue.Timeout() && !errors.Is(err, context.Canceled) {
			return roster.Errorf(roster.EUNAVAILABLE, "identity provider %q cannot be reached at %s: no answer in time (timeout %s)",
				p.cfg.Name, at, time.Duration(p.cfg.Timeout))
		}
		err = ue.Err // the URL is named already
	}
	return roster.Errorf(roster.EUNAVAILABLE, "identity provider %q cannot be reached at %s: %s", p.cfg.Name, at, clip(err.Error()))
}

// scrub removes the run's secret values from err's message: a provider may
// echo what it was sent.
func (f *finish) scrub(err error) error {
	var re *roster.Error
	if !errors.As(err, &re) {
		return roster.Errorf(roster.EINTERNAL, "sign-in with %q failed", f.p.cfg.Name)
	}
	msg := re.Message
	for _, s := range f.secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	return &roster.Error{Code: re.Code, Message: msg, Fields: re.Fields}
}

// clip shortens text from a provider to keep messages readable.
func clip(s string) string {
	const max = 300
	s = strings.Join(strings.Fields(s), " ") // one line
	if len(s) <= max {
		return s
	}
	return truncate(s, max) + "..."
}

// truncate cuts s to at most n bytes without splitting a character.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
