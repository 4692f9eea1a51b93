package vault_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault"
	"github.com/rosterhq/roster/vault/backendtest"
	"github.com/rosterhq/roster/vault/vaulttest"
)

func TestVaultConformance(t *testing.T) {
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	backendtest.Run(t, func(t *testing.T) roster.SecretBackend {
		return newVault(t, setup.Config())
	}, backendtest.Options{
		SSHRole:            setup.SSHRole,
		Principal:          setup.AllowedUsers[0],
		ForbiddenPrincipal: "root",
		Unwrap:             setup.Unwrap,
	})
}

func TestLocalConformance(t *testing.T) {
	backendtest.Run(t, func(t *testing.T) roster.SecretBackend {
		return newLocal(t, openStore(t), mustKey(t))
	}, backendtest.Options{Principal: "deploy"})
}

// newVault starts a Vault backend that is closed when the test ends.
func newVault(t testing.TB, cfg vault.Config) *vault.Vault {
	t.Helper()
	v, err := vault.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("vault.New: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := v.Close(ctx); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return v
}

func openStore(t testing.TB) *store.SQLite {
	t.Helper()
	s, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func mustKey(t testing.TB) *vault.LocalKey {
	t.Helper()
	k, err := vault.GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newLocal(t testing.TB, s roster.SecretBlobStore, k *vault.LocalKey) *vault.Local {
	t.Helper()
	l, err := vault.NewLocal(s, k, vault.LocalOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return l
}
