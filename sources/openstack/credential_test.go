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
