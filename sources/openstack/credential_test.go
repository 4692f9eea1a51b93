package openstack

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// TestBrokerCredential: a source with an openstack credential from the
// broker and no cloud of its own syncs with the credential's Keystone, user
// and project; a cloud at another auth_url never gets the credential's
// password.
func TestBrokerCredential(t *testing.T) {
	e := newSimEnv(t, openstacksim.Options{Seed: 3, Size: 40})
	e.driver.Credentials = nil // only the broker's credential
	cred := &sources.Credential{Type: roster.CredentialOpenStack, Fields: map[string]roster.Secret{
		"auth_url": roster.Secret(e.authURL()), "username": "demo", "user_domain_name": "Default",
		"project_name": "demo", "project_domain_name": "Default", "password": openstacksim.DefaultPassword,
	}}
	discard := slog.New(slog.NewTextHandler(io.Discard, nil))
	p, err := e.driver.Open(t.Context(), map[string]any{}, cred, discard)
	if err != nil {
		t.Fatal(err)
	}
	got := 0
	for _, insts := range collectAll(t, p) {
		got += len(insts)
	}
	if got == 0 {
		t.Fatal("no server through the broker's credential")
	}

	// A source whose cloud points elsewhere: the password stays home.
	other := map[string]any{"clouds": map[string]any{"elsewhere": map[string]any{"auth": map[string]any{
		"auth_url": "http://127.0.0.1:1/v3", "username": "demo", "user_domain_name": "Default", "project_name": "demo", "project_domain_name": "Default",
	}}}}
	p, err = e.driver.Open(t.Context(), other, cred, discard)
	if err == nil {
		_, err = p.Scopes(t.Context())
	}
	if err == nil || !strings.Contains(err.Error(), "elsewhere") {
		t.Fatalf("a cloud at another auth_url synced with the credential (err %v)", err)
	}
}

// TestAuthOptionsUserDomain: a user given by name is looked up in its
// domain by name when the cloud names one, else by id, whether it logs in
// with a password or an application credential; domain_name stands in for
// user_domain_name.
func TestAuthOptionsUserDomain(t *testing.T) {
	for _, tc := range []struct {
		name             string
		auth             authConfig
		wantID, wantName string
	}{
		{"password, domain id", authConfig{userDomainID: "d1"}, "d1", ""},
		{"password, domain name wins", authConfig{userDomainID: "d1", userDomainName: "Default"}, "", "Default"},
		{"password, domain_name", authConfig{domainName: "Shared"}, "", "Shared"},
		{"app credential, domain id", authConfig{appCredName: "ci", userDomainID: "d1"}, "d1", ""},
		{"app credential, domain name wins", authConfig{appCredName: "ci", userDomainID: "d1", userDomainName: "Default"}, "", "Default"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := tc.auth
			a.authURL, a.username = "https://keystone.example.com:5000/v3", "demo"
			a.hasPassword, a.password = true, "pw"
			a.hasAppCredSecret, a.appCredSecret = true, "secret"
			ao, err := authOptions(&cloudConfig{name: "c", auth: a}, projectRef{})
			if err != nil {
				t.Fatal(err)
			}
			if ao.Username != "demo" || ao.DomainID != tc.wantID || ao.DomainName != tc.wantName {
				t.Errorf("user %q in domain id %q name %q, want demo in %q %q", ao.Username, ao.DomainID, ao.DomainName, tc.wantID, tc.wantName)
			}
		})
	}
}
