package vault

import (
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"
)

// Vault's own error text can echo what a request carried: Vault 1.14.2's
// AppRole login answers `invalid secret_id "<the secret_id>"` when a
// limited-use secret_id runs out between two checks. Whatever Roster shows
// of Vault's text is scrubbed first.
func TestVaultTextIsScrubbed(t *testing.T) {
	const sid = "S3CR3T-5f0c1d2e-secret-id"
	re := &api.ResponseError{StatusCode: 400, Errors: []string{
		`invalid secret_id "` + sid + `"`,
		"1 error occurred:\n\t* token hvs.CAESIJ0mfD7GwkHU7f3XOWxGHR4KHGh2cy5mVWpl rejected\n\n",
		"legacy s.AbCdEfGhIjKlMnOpQrStUvWx token",
	}}
	got := vaultText(re, []string{sid, ""})
	for _, leak := range []string{sid, "hvs.CAES", "s.AbCdEf"} {
		if strings.Contains(got, leak) {
			t.Errorf("vaultText kept %q: %s", leak, got)
		}
	}
	if !strings.Contains(got, "invalid secret_id") || strings.Contains(got, "\n") {
		t.Errorf("vaultText = %q, want Vault's words on one line", got)
	}
	raw := &api.ResponseError{StatusCode: 502, RawError: true, Errors: []string{"<html>proxy says " + sid + "</html>"}}
	if got := vaultText(raw, nil); strings.Contains(got, sid) {
		t.Errorf("a raw (non-Vault) body is shown: %s", got)
	}
	long := &api.ResponseError{StatusCode: 400, Errors: []string{strings.Repeat("x", 1000)}}
	if got := vaultText(long, nil); len(got) > 310 {
		t.Errorf("vaultText is %d bytes long", len(got))
	}
}
