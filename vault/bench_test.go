package vault_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault"
	"github.com/rosterhq/roster/vault/vaulttest"
	"golang.org/x/crypto/ssh"
)

// BenchmarkSSHSign signs one user key per op: through the Vault backend,
// with the same call made directly with the vault api client (the
// baseline: what the backend's checks, token handling and certificate
// parsing cost on top), and with the local CA.
//
//	ROSTER_REQUIRE_INTEGRATION=1 go test ./vault -run '^$' -bench SSHSign -benchtime 2s
func BenchmarkSSHSign(b *testing.B) {
	setup := vaulttest.Configure(b, testenv.SharedVault(b), vaulttest.Options{})
	key := userKeyLine(b)
	req := roster.SSHSignRequest{Role: setup.SSHRole, PublicKey: key, Principals: []string{setup.AllowedUsers[0]}, TTL: 10 * time.Minute, KeyID: "bench"}

	b.Run("vault-backend", func(b *testing.B) {
		cfg := setup.Config()
		cfg.Logger = slog.New(slog.DiscardHandler)
		v := newVault(b, cfg)
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := v.SignSSHKey(ctx, req); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("vault-api-direct", func(b *testing.B) {
		token, _ := setup.NewToken(b, nil)
		cfg := api.DefaultConfig()
		cfg.Address = setup.Server.Addr
		cfg.MaxRetries = 0
		client, err := api.NewClient(cfg)
		if err != nil {
			b.Fatal(err)
		}
		client.SetToken(token)
		ctx := context.Background()
		params := map[string]any{
			"public_key":       key,
			"cert_type":        "user",
			"valid_principals": strings.Join(req.Principals, ","),
			"ttl":              "600s",
			"key_id":           req.KeyID,
		}
		b.ReportAllocs()
		for b.Loop() {
			s, err := client.Logical().WriteWithContext(ctx, setup.SSHMount+"/sign/"+setup.SSHRole, params)
			if err != nil {
				b.Fatal(err)
			}
			if signed, _ := s.Data["signed_key"].(string); !strings.HasPrefix(signed, "ssh-ed25519-cert") {
				b.Fatalf("signed_key %q", signed)
			}
		}
	})

	b.Run("local", func(b *testing.B) {
		l, err := vault.NewLocal(openStore(b), mustKey(b), vault.LocalOptions{Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.ReportAllocs()
		for b.Loop() {
			res, err := l.SignSSHKey(ctx, req)
			if err != nil {
				b.Fatal(err)
			}
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(res.Certificate)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
