package vault_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault"
	"github.com/rosterhq/roster/vault/vaulttest"
)

// leakWatch gathers everything a backend lets out (log records, error
// strings, formatted values) and the secrets that must not be in it.
type leakWatch struct {
	t        *testing.T
	logs     logBuffer
	secrets  []string
	out      []string
	messages []string // each distinct error, for -v
}

func (w *leakWatch) secret(kind string) string {
	s := "S3CR3T-" + kind + "-" + randomHex(8)
	w.secrets = append(w.secrets, s)
	return s
}

func (w *leakWatch) also(secrets ...string) {
	for _, s := range secrets {
		if s != "" {
			w.secrets = append(w.secrets, s)
		}
	}
}

// err records an error's text, message and formatted forms.
func (w *leakWatch) err(err error) error {
	if err != nil {
		w.out = append(w.out, err.Error(), roster.ErrorMessage(err), fmt.Sprintf("%v %+v %#v", err, err, err))
		m := roster.ErrorCode(err) + ": " + err.Error()
		if !slices.Contains(w.messages, m) {
			w.messages = append(w.messages, m)
		}
	}
	return err
}

func (w *leakWatch) show(vs ...any) {
	for _, v := range vs {
		w.out = append(w.out, fmt.Sprintf("%v %+v %#v", v, v, v))
	}
}

var tokenShape = regexp.MustCompile(`hv[sbr]\.[A-Za-z0-9_-]{16,}`)

func (w *leakWatch) check() {
	w.t.Helper()
	all := append([]string{w.logs.String()}, w.out...)
	for _, text := range all {
		for _, s := range w.secrets {
			if strings.Contains(text, s) {
				w.t.Errorf("a secret (%s...) leaked into: %.300s", s[:len("S3CR3T-")+4], text)
			}
		}
		if m := tokenShape.FindString(text); m != "" {
			w.t.Errorf("a Vault token leaked into: %.300s", text)
		}
	}
	if testing.Verbose() {
		w.t.Logf("errors seen:\n%s\nlogs:\n%s", strings.Join(w.messages, "\n"), w.logs.String())
	}
	if len(w.out) < 20 {
		w.t.Errorf("the leak test saw too little to be meaningful (%d outputs)", len(w.out))
	}
}

// TestVaultNeverLeaksSecrets drives every flow, including the failing ones,
// with distinctive secret values, tokens, role_id and secret_id, and checks
// that none of them shows in the backend's logs, its errors, or the
// formatted values it returns.
func TestVaultNeverLeaksSecrets(t *testing.T) {
	t.Parallel()
	srv := testenv.Vault(t)
	setup := vaulttest.Configure(t, srv, vaulttest.Options{})
	w := &leakWatch{t: t}
	ctx := t.Context()

	// Credentials of our choosing, so they are recognisable anywhere.
	roleID, secretID := w.secret("role-id"), w.secret("secret-id")
	if status, out := srv.Do(t, "PUT", "auth/"+setup.AppRoleMount+"/role/"+setup.AppRoleName+"/role-id",
		map[string]any{"role_id": roleID}); status/100 != 2 {
		t.Fatalf("set role_id: %d %v", status, out)
	}
	setup.CustomSecretID(t, secretID, nil)
	cfg := setup.Config()
	cfg.AppRole.RoleID, cfg.AppRole.SecretID = roster.Secret(roleID), roster.Secret(secretID)
	cfg.Logger = w.logs.logger()
	w.show(cfg)
	v := newVault(t, cfg)
	w.show(v)
	tok, _ := v.TokenForTest()
	w.also(tok)

	// Secret fields: write, conflict, invalid, read.
	pem := "-----BEGIN OPENSSH PRIVATE KEY-----\n" + w.secret("pem") + "\n-----END OPENSSH PRIVATE KEY-----\n"
	fields := roster.SecretFields{"password": roster.Secret(w.secret("password")), "private_key": roster.Secret(pem)}
	_, err := v.PutSecrets(ctx, "leak/a", fields, 0)
	if w.err(err) != nil {
		t.Fatal(err)
	}
	w.err(func() error {
		_, err := v.PutSecrets(ctx, "leak/a", roster.SecretFields{"password": roster.Secret(w.secret("conflict"))}, 0)
		return err
	}())
	w.err(func() error {
		_, err := v.PutSecrets(ctx, "leak/a", roster.SecretFields{"password": roster.Secret(w.secret("bad-utf8") + "\xff")}, 1)
		return err
	}())
	got, info, err := v.GetSecrets(ctx, "leak/a")
	w.err(err)
	w.show(got, info)
	w.err(func() error { _, _, err := v.GetSecrets(ctx, "leak/missing"); return err }())

	// Wrapping: the wrapping token is a secret too.
	wrapped, err := v.Wrap(ctx, map[string]roster.Secret{"key": roster.Secret(w.secret("wrapped"))}, time.Minute)
	if w.err(err) != nil {
		t.Fatal(err)
	}
	w.also(wrapped.Token.Reveal())
	w.show(wrapped, *wrapped)
	w.err(func() error {
		_, err := v.Wrap(ctx, map[string]roster.Secret{"k": roster.Secret(w.secret("wrap-bad"))}, 0)
		return err
	}())

	// SSH: a signature, and Vault refusing one.
	key := userKeyLine(t)
	cert, err := v.SignSSHKey(ctx, roster.SSHSignRequest{Role: setup.SSHRole, PublicKey: key, Principals: []string{"deploy"}, TTL: time.Minute})
	w.err(err)
	w.show(cert)
	w.err(func() error {
		_, err := v.SignSSHKey(ctx, roster.SSHSignRequest{Role: setup.SSHRole, PublicKey: key, Principals: []string{"root"}, TTL: time.Minute})
		return err
	}())
	w.err(v.Health(ctx))

	// The token revoked: a new login, a new token.
	_, acc := v.TokenForTest()
	setup.RevokeAccessor(t, acc)
	w.err(func() error { _, _, err := v.GetSecrets(ctx, "leak/a"); return err }())
	tok, _ = v.TokenForTest()
	w.also(tok)

	// Wrong credentials, of every kind, from values and files.
	dir := t.TempDir()
	writeSecret := func(name, value string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(value), 0o600)
		return p
	}
	bad := []vault.Config{}
	c := setup.Config()
	c.AppRole.RoleID, c.AppRole.SecretID = roster.Secret(roleID), roster.Secret(w.secret("wrong-secret-id"))
	bad = append(bad, c)
	c = setup.Config()
	c.AppRole.RoleID, c.AppRole.SecretID = roster.Secret(w.secret("wrong-role-id")), roster.Secret(secretID)
	bad = append(bad, c)
	c = setup.Config()
	c.AppRole.RoleID, c.AppRole.SecretID, c.AppRole.SecretIDFile = roster.Secret(roleID), "", writeSecret("sid", w.secret("file-secret-id"))
	bad = append(bad, c)
	bad = append(bad, setup.TokenConfig(w.secret("wrong-token")))
	c = setup.TokenConfig("")
	c.Token, c.TokenFile = "", writeSecret("token", w.secret("file-token"))
	bad = append(bad, c)
	customToken := w.secret("custom-token")
	_, customAcc := setup.NewToken(t, map[string]any{"id": customToken})
	bad = append(bad, setup.TokenConfig(customToken)) // valid until revoked below
	var backends []*vault.Vault
	for _, c := range bad {
		c.Logger = w.logs.logger()
		b := newVault(t, c)
		backends = append(backends, b)
		w.err(b.Health(ctx))
		w.err(func() error {
			_, err := b.PutSecrets(ctx, "leak/b", roster.SecretFields{"k": roster.Secret(w.secret("bad-backend"))}, 0)
			return err
		}())
	}
	setup.RevokeAccessor(t, customAcc)
	w.err(func() error { _, _, err := backends[len(backends)-1].GetSecrets(ctx, "leak/b"); return err }())

	// A policy that does not allow the path.
	c = cfg
	c.PathPrefix = "elsewhere"
	w.err(func() error {
		_, err := newVault(t, c).PutSecrets(ctx, "leak/c", roster.SecretFields{"k": roster.Secret(w.secret("denied"))}, 0)
		return err
	}())

	// Sealed, then unsealed, then gone.
	srv.Seal(t)
	for _, err := range everyCall(ctx, v, "leak/a", key, setup.SSHRole) {
		w.err(err)
	}
	w.err(func() error {
		_, err := v.PutSecrets(ctx, "leak/a", roster.SecretFields{"k": roster.Secret(w.secret("sealed"))}, 1)
		return err
	}())
	srv.Unseal(t)
	w.err(v.Health(ctx))
	srv.Stop()
	for _, err := range everyCall(ctx, v, "leak/a", key, setup.SSHRole) {
		w.err(err)
	}
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	w.err(v.Close(cctx))

	if w.logs.count("logged in to Vault") < 2 {
		t.Errorf("the leak test's logs lack the logins:\n%s", w.logs.String())
	}
	w.check()
	t.Logf("checked %d errors and values and %d bytes of logs for %d secrets", len(w.out), len(w.logs.String()), len(w.secrets))
}

// TestLocalNeverLeaksSecrets does the same for the local backend.
func TestLocalNeverLeaksSecrets(t *testing.T) {
	t.Parallel()
	w := &leakWatch{t: t}
	s := openStore(t)
	key := mustKey(t)
	w.also(key.Encode().Reveal())
	l, err := vault.NewLocal(s, key, vault.LocalOptions{Logger: w.logs.logger()})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	w.show(l, key)
	_, err = l.PutSecrets(ctx, "leak/a", roster.SecretFields{"password": roster.Secret(w.secret("password"))}, 0)
	w.err(err)
	for range 3 {
		w.err(func() error {
			_, err := l.PutSecrets(ctx, "leak/a", roster.SecretFields{"password": roster.Secret(w.secret("conflict"))}, 0)
			return err
		}())
	}
	w.err(func() error {
		_, err := l.PutSecrets(ctx, "leak/a", roster.SecretFields{"p": roster.Secret(w.secret("bad-utf8") + "\xff")}, 1)
		return err
	}())
	got, info, err := l.GetSecrets(ctx, "leak/a")
	w.err(err)
	w.show(got, info)
	w.err(func() error { _, _, err := l.GetSecrets(ctx, "leak/none"); return err }())
	w.err(func() error {
		_, err := l.Wrap(ctx, map[string]roster.Secret{"k": roster.Secret(w.secret("wrap"))}, time.Minute)
		return err
	}())
	cert, err := l.SignSSHKey(ctx, roster.SSHSignRequest{PublicKey: userKeyLine(t), Principals: []string{"deploy"}, TTL: time.Minute})
	w.err(err)
	w.show(cert)
	// Another key, a moved blob.
	other, _ := vault.NewLocal(s, mustKey(t), vault.LocalOptions{Logger: w.logs.logger()})
	w.err(func() error { _, _, err := other.GetSecrets(ctx, "leak/a"); return err }())
	w.err(other.Health(ctx))
	blob, _, _ := s.SecretBlob(ctx, "leak/a")
	s.PutSecretBlob(ctx, "leak/moved", blob, 0)
	w.err(func() error { _, _, err := l.GetSecrets(ctx, "leak/moved"); return err }())
	w.err(func() error { _, err := vault.KeyFromBase64(roster.Secret(w.secret("not-a-key"))); return err }())
	s.Close()
	w.err(func() error { _, _, err := l.GetSecrets(ctx, "leak/a"); return err }())
	w.err(l.Health(ctx))
	if !strings.Contains(w.logs.String(), "sealed with another key") {
		t.Errorf("the wrong key is not logged:\n%s", w.logs.String())
	}
	w.check()
}
