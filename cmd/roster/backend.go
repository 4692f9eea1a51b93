package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

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
		path := c.SecretKeyFile
		if path == "" {
			path = filepath.Join(c.DataDir, "secret.key")
		}
		if err := keyMayBeCreated(ctx, path, st); err != nil {
			return nil, nil, err
		}
		key, err = vault.LoadOrCreateKeyFile(path)
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

// keyMayBeCreated refuses to let a new local key replace a missing one
// while the database holds secrets sealed with it: they would all become
// unreadable without a word.
func keyMayBeCreated(ctx context.Context, path string, st roster.SecretBlobStore) error {
	if _, err := os.Stat(path); !errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	sealed, ok := st.(interface {
		HasSecretBlobs(context.Context) (bool, error)
	})
	if !ok {
		return nil
	}
	has, err := sealed.HasSecretBlobs(ctx)
	if err != nil {
		return err
	}
	if has {
		return fmt.Errorf("the local secret key file %s is missing, but the database holds secrets sealed with a key: restore that file (or set ROSTER_SECRET_KEY); Roster does not create a new key, which would make them unreadable", path)
	}
	return nil
}

func newVaultCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "vault",
		Short: "Help setting up Vault for Roster",
	}
	base := defaultConfig()
	policy := &cobra.Command{
		Use:   "policy",
		Short: "Print the least-privilege Vault policy for Roster's configured mounts",
		Example: `  roster vault policy --vault-kv-mount secret --vault-ssh-mount ssh | vault policy write roster -
  vault write auth/approle/role/roster token_policies=roster token_ttl=1h token_max_ttl=4h`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			fmt.Fprint(cmd.OutOrStdout(), vault.Policy(vault.Config{KVMount: c.VaultKVMount, PathPrefix: c.VaultKVPrefix, SSHMount: c.VaultSSHMount}))
			return nil
		},
	}
	addConfigFlags(policy.Flags(), &base)
	cmd.AddCommand(policy)
	return cmd
}
