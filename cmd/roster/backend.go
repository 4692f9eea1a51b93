package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/vault"
)

// openBackend opens the configured secret backend. Secret values (Vault
// token, AppRole ids, the local key) come from files or the environment,
// never from flags, which other users of the machine can read.
func openBackend(ctx context.Context, c Config, st roster.SecretBlobStore, log *slog.Logger) (roster.SecretBackend, func(), error) {
	log = log.With("component", "secrets")
	if c.SecretBackend == "vault" {
		v, err := vault.New(ctx, vault.Config{
			Address:    c.VaultAddr,
			Namespace:  c.VaultNamespace,
			CACert:     c.VaultCACert,
			ClientCert: c.VaultClientCert,
			ClientKey:  c.VaultClientKey,
			Token:      roster.Secret(os.Getenv("ROSTER_VAULT_TOKEN")),
			TokenFile:  c.VaultTokenFile,
			AppRole: vault.AppRoleConfig{
				Mount:        c.VaultAppRoleMount,
				RoleID:       roster.Secret(os.Getenv("ROSTER_VAULT_ROLE_ID")),
				RoleIDFile:   c.VaultRoleIDFile,
				SecretID:     roster.Secret(os.Getenv("ROSTER_VAULT_SECRET_ID")),
				SecretIDFile: c.VaultSecretIDFile,
			},
			KVMount:    c.VaultKVMount,
			PathPrefix: c.VaultKVPrefix,
			SSHMount:   c.VaultSSHMount,
			Logger:     log,
		})
		if err != nil {
			return nil, nil, fmt.Errorf("vault: %w", err)
		}
		return v, func() { v.Close(context.Background()) }, nil
	}
	var key *vault.LocalKey
	var err error
	if env := os.Getenv("ROSTER_SECRET_KEY"); env != "" {
		key, err = vault.KeyFromBase64(roster.Secret(env))
	} else {
		key, err = vault.LoadOrCreateKeyFile(c.SecretKeyFile)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("local secret backend: %w", err)
	}
	l, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	if err != nil {
		return nil, nil, err
	}
	return l, func() {}, nil
}
