package oidcauth

import (
	"strconv"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"

	"github.com/rosterhq/roster"
)

func TestGroups(t *testing.T) {
	long := strings.Repeat("g", maxGroupBytes+1)
	many := `[` + strings.TrimSuffix(strings.Repeat(`"g",`, 3), ",")
	for i := range maxGroups + 1 {
		many += `,"g` + strconv.Itoa(i) + `"`
	}
	many += `]`
	for _, tc := range []struct {
		raw     string
		want    []string
		wantErr string
	}{
		{`["ops/db","ops","ops",""]`, []string{"ops", "ops/db"}, ""},
		{`"ops"`, []string{"ops"}, ""},
		{`null`, nil, ""},
		{`[]`, nil, ""},
		{`[1,2]`, nil, "not a list of strings"},
		{`{"a":1}`, nil, "not a list of strings"},
		{`["` + long + `"]`, nil, "longer than 256 bytes"},
		{many, nil, "lists 1002 groups; at most 1000"},
	} {
		got, err := groups(claimSet{"groups": []byte(tc.raw)}, "groups")
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("groups(%.40s): %v, want %q", tc.raw, err, tc.wantErr)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("groups(%s) = %q, %v; want %q", tc.raw, got, err, tc.want)
		}
	}
	if got, err := groups(claimSet{}, "groups"); got != nil || err != nil {
		t.Errorf("no claim: %v %v", got, err)
	}
}

// TestEmailAsUsername: with username_claim email, an email the provider says
// is not verified is refused (anyone may type one at some providers).
func TestEmailAsUsername(t *testing.T) {
	p := &Provider{cfg: Config{Name: "corp", UsernameClaim: "email"}.withDefaults()}
	idt := &oidc.IDToken{Issuer: "https://idp.example.com", Subject: "u1"}
	for _, tc := range []struct {
		verified string // the email_verified claim's JSON, "" for none
		ok       bool
	}{{"", false}, {"true", true}, {`"true"`, true}, {"false", false}, {`"false"`, false}, {`"maybe"`, false}} {
		claims := claimSet{"email": []byte(`"Ann@Example.com"`)}
		if tc.verified != "" {
			claims["email_verified"] = []byte(tc.verified)
		}
		id, err := p.identity(idt, claims)
		if tc.ok != (err == nil) || tc.ok && id.Username != "ann@example.com" {
			t.Errorf("email_verified %s: %+v, %v", tc.verified, id, err)
		}
		if !tc.ok && roster.ErrorCode(err) != roster.EUNAUTHORIZED {
			t.Errorf("email_verified %s: %v, want %s", tc.verified, err, roster.EUNAUTHORIZED)
		}
	}
}
