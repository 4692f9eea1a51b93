package main

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault/vaulttest"
)

// BenchmarkSSHSign compares SSH certificate issuance through Roster's
// broker (HTTP API: token, grant check, policy, audit record, Vault's SSH
// engine) with the same signature asked of Vault directly over HTTP, in the
// same run against the same Vault dev server.
func BenchmarkSSHSign(b *testing.B) {
	srv := testenv.Vault(b)
	setup := vaulttest.Configure(b, srv, vaulttest.Options{AllowedUsers: []string{"deploy"}})
	m := vaultMain(b, setup)
	adminValue, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(b.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash); err != nil {
		b.Fatal(err)
	}
	admin := client.New(m.URL, adminValue)
	runnerValue, hash := roster.NewTokenValue()
	if err := m.Store.CreateToken(b.Context(), &roster.Token{Name: "runner", Role: roster.RoleRunner}, hash); err != nil {
		b.Fatal(err)
	}
	runner := client.New(m.URL, runnerValue)
	for _, step := range []struct {
		path string
		body any
	}{
		{"/inventories", map[string]any{"name": "prod"}},
		{"/credentials", map[string]any{"name": "ca", "type": "ssh_certificate", "fields": map[string]string{"username": "deploy", "role": setup.SSHRole, "ttl": "10m"}}},
		{"/grants", map[string]string{"token": "runner", "credential": "ca", "inventory": "prod"}},
	} {
		if err := admin.Do(b.Context(), "POST", step.path, step.body, nil); err != nil {
			b.Fatal(err)
		}
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	sshPub, _ := ssh.NewPublicKey(pub)
	key := string(ssh.MarshalAuthorizedKey(sshPub))

	b.Run("vault-direct", func(b *testing.B) {
		body, _ := json.Marshal(map[string]any{"public_key": key, "valid_principals": "deploy", "ttl": "10m", "cert_type": "user"})
		httpc := &http.Client{}
		for b.Loop() {
			req, _ := http.NewRequest("POST", srv.Addr+"/v1/"+setup.SSHMount+"/sign/"+setup.SSHRole, bytes.NewReader(body))
			req.Header.Set("X-Vault-Token", srv.RootToken)
			resp, err := httpc.Do(req)
			if err != nil {
				b.Fatal(err)
			}
			var out struct {
				Data struct {
					SignedKey string `json:"signed_key"`
				} `json:"data"`
			}
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if out.Data.SignedKey == "" {
				b.Fatalf("vault answered %s", resp.Status)
			}
		}
	})
	b.Run("roster-broker", func(b *testing.B) {
		for b.Loop() {
			var out struct {
				Certificate string `json:"certificate"`
			}
			if err := runner.Do(b.Context(), "POST", "/credentials/ca/ssh/sign", map[string]any{"inventory": "prod", "public_key": key}, &out); err != nil {
				b.Fatal(err)
			}
			if out.Certificate == "" {
				b.Fatal("no certificate")
			}
		}
	})
}
