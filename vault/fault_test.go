package vault_test

import (
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault"
	"github.com/rosterhq/roster/vault/vaulttest"
)

// failClosedWithin is how fast a failure must be reported.
const failClosedWithin = 2 * time.Second

// everyCall runs each backend method once and returns the errors by name.
func everyCall(ctx context.Context, b roster.SecretBackend, path, keyLine, role string) map[string]error {
	errs := map[string]error{}
	_, errs["PutSecrets"] = b.PutSecrets(ctx, path, roster.SecretFields{"k": "v"}, 1)
	_, _, errs["GetSecrets"] = b.GetSecrets(ctx, path)
	errs["DeleteSecrets"] = b.DeleteSecrets(ctx, path+"-other")
	_, errs["SignSSHKey"] = b.SignSSHKey(ctx, roster.SSHSignRequest{
		Role: role, PublicKey: keyLine, Principals: []string{"deploy"}, TTL: time.Minute,
	})
	_, errs["SSHCAPublicKey"] = b.SSHCAPublicKey(ctx, role)
	_, errs["Wrap"] = b.Wrap(ctx, map[string]roster.Secret{"k": "v"}, time.Minute)
	errs["Health"] = b.Health(ctx)
	return errs
}

func TestVaultSealedFailsClosedAndRecovers(t *testing.T) {
	t.Parallel()
	srv := testenv.Vault(t)
	setup := vaulttest.Configure(t, srv, vaulttest.Options{})
	v := newVault(t, setup.Config())
	ctx := t.Context()
	if _, err := v.PutSecrets(ctx, "app/db", roster.SecretFields{"password": "before-seal"}, 0); err != nil {
		t.Fatal(err)
	}

	srv.Seal(t)
	key := userKeyLine(t)
	for name, err := range everyCall(ctx, v, "app/db", key, setup.SSHRole) {
		wantErr(t, name+" while sealed", err, roster.EUNAVAILABLE, "sealed")
	}
	start := time.Now()
	_, _, err := v.GetSecrets(ctx, "app/db")
	if d := time.Since(start); d > failClosedWithin {
		t.Errorf("a read of a sealed Vault took %s", d)
	}
	wantErr(t, "read while sealed", err, roster.EUNAVAILABLE, "Vault is sealed")

	srv.Unseal(t)
	// Nothing restarts: the same backend serves again.
	var fields roster.SecretFields
	waitFor(t, 10*time.Second, "a read after unsealing", func() bool {
		fields, _, err = v.GetSecrets(ctx, "app/db")
		return err == nil
	})
	if fields["password"].Reveal() != "before-seal" {
		t.Errorf("after unsealing, read %q", fields["password"].Reveal())
	}
	if err := v.Health(ctx); err != nil {
		t.Errorf("Health after unsealing: %v", err)
	}
	if n := v.LoginCount(); n != 1 {
		t.Errorf("%d logins: sealing must not cost Roster its token", n)
	}
}

func TestVaultStoppedFailsFast(t *testing.T) {
	t.Parallel()
	srv := testenv.Vault(t)
	setup := vaulttest.Configure(t, srv, vaulttest.Options{})
	v := newVault(t, setup.Config())
	ctx := t.Context()
	if _, err := v.PutSecrets(ctx, "app/db", roster.SecretFields{"password": "x"}, 0); err != nil {
		t.Fatal(err)
	}
	srv.Stop()

	key := userKeyLine(t)
	start := time.Now()
	for name, err := range everyCall(ctx, v, "app/db", key, setup.SSHRole) {
		wantErr(t, name+" with Vault stopped", err, roster.EUNAVAILABLE, "Vault at "+srv.Addr+" is unreachable")
	}
	if d := time.Since(start); d > failClosedWithin {
		t.Errorf("seven calls to a stopped Vault took %s", d)
	}

	// A backend created while Vault is down starts, and says why it cannot
	// serve.
	start = time.Now()
	v2 := newVault(t, setup.Config())
	wantErr(t, "Health of a backend started without Vault", v2.Health(ctx), roster.EUNAVAILABLE, "unreachable", "connection refused")
	if d := time.Since(start); d > failClosedWithin {
		t.Errorf("New and Health without Vault took %s", d)
	}
}

func TestVaultUnresponsiveIsBounded(t *testing.T) {
	t.Parallel()
	// A listener that accepts connections and never answers: the worst
	// case for a client without deadlines.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	addr := "http://" + ln.Addr().String()
	start := time.Now()
	v := newVault(t, vault.Config{Address: addr, Token: "hvs.unused-token-for-a-silent-server"})
	_, _, err = v.GetSecrets(t.Context(), "app/db")
	elapsed := time.Since(start)
	wantErr(t, "read from a silent server", err, roster.EUNAVAILABLE, "Vault at "+addr+" is unreachable", "no answer within 2s")
	// New's login and the read's login each wait for the default 2s bound.
	if elapsed > 2*vault.DefaultTimeout+time.Second {
		t.Errorf("New and a read against a silent server took %s", elapsed)
	}
}

func TestVaultRevokedTokenLogsInAgain(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	v := newVault(t, setup.Config())
	ctx := t.Context()
	if _, err := v.PutSecrets(ctx, "app/db", roster.SecretFields{"password": "pw"}, 0); err != nil {
		t.Fatal(err)
	}
	_, oldAccessor := v.TokenForTest()
	setup.RevokeAccessor(t, oldAccessor)

	f, _, err := v.GetSecrets(ctx, "app/db")
	if err != nil {
		t.Fatalf("read after the token was revoked: %v", err)
	}
	if f["password"].Reveal() != "pw" {
		t.Errorf("read %q", f["password"].Reveal())
	}
	_, newAccessor := v.TokenForTest()
	if n := v.LoginCount(); n != 2 || newAccessor == oldAccessor {
		t.Errorf("%d logins, accessor changed: %v; want a second AppRole login", n, newAccessor != oldAccessor)
	}
}

func TestVaultUsedUpSecretIDIsReported(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{SecretIDNumUses: 1})
	dir := t.TempDir()
	sidFile := filepath.Join(dir, "secret-id")
	if err := os.WriteFile(sidFile, []byte(setup.NewSecretID(t, nil)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := setup.Config()
	cfg.AppRole.SecretID, cfg.AppRole.SecretIDFile = "", sidFile
	v := newVault(t, cfg) // the login uses the secret_id's only use
	ctx := t.Context()
	if err := v.Health(ctx); err != nil {
		t.Fatal(err)
	}
	_, accessor := v.TokenForTest()
	setup.RevokeAccessor(t, accessor)

	_, _, err := v.GetSecrets(ctx, "app/db")
	wantErr(t, "read with a revoked token and a used-up secret_id", err, roster.EUNAVAILABLE,
		"secret_id is invalid, expired or used up", "auth/"+setup.AppRoleMount, sidFile)
	wantErr(t, "Health", v.Health(ctx), roster.EUNAVAILABLE, "secret_id is invalid, expired or used up")

	// The operator writes a new secret_id to the file: no restart needed.
	if err := os.WriteFile(sidFile, []byte(setup.NewSecretID(t, nil)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, _, err := v.GetSecrets(ctx, "app/db"); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("read after the secret_id file was rotated: %v, want ENOTFOUND (nothing stored)", err)
	}
}

func TestVaultExpiredSecretIDIsReported(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	sid := setup.NewSecretID(t, map[string]any{"ttl": "1s"})
	issued := time.Now()
	// Vault 1.14.2 does not check a secret_id's expiry at login: its AppRole
	// tidy (once a minute, or on demand) deletes expired ones. Run it.
	waitFor(t, 10*time.Second, "the expired secret_id to be tidied away", func() bool {
		if time.Since(issued) < 1100*time.Millisecond {
			return false
		}
		setup.TidySecretIDs(t)
		status, _ := setup.Server.Do(t, "PUT", "auth/"+setup.AppRoleMount+"/login",
			map[string]any{"role_id": setup.RoleID, "secret_id": sid})
		return status == 400
	})
	cfg := setup.Config()
	cfg.AppRole.SecretID = roster.Secret(sid)
	v := newVault(t, cfg)
	_, _, err := v.GetSecrets(t.Context(), "app/db")
	wantErr(t, "read with an expired secret_id", err, roster.EUNAVAILABLE,
		"secret_id is invalid, expired or used up", "approle.secret_id")

	cfg = setup.Config()
	cfg.AppRole.RoleID = "no-such-role-id"
	v = newVault(t, cfg)
	wantErr(t, "Health with an unknown role_id", v.Health(t.Context()), roster.EUNAVAILABLE, "role_id is unknown")
}

func TestVaultTokenFileRotation(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	tokenFile := filepath.Join(t.TempDir(), "token")
	tokA, accA := setup.NewToken(t, nil)
	os.WriteFile(tokenFile, []byte(tokA+"\n"), 0o600)
	cfg := setup.TokenConfig("")
	cfg.Token, cfg.TokenFile = "", tokenFile
	v := newVault(t, cfg)
	ctx := t.Context()
	if _, err := v.PutSecrets(ctx, "app/db", roster.SecretFields{"k": "v"}, 0); err != nil {
		t.Fatal(err)
	}

	// Rotated: the old token revoked, the new one in the file.
	tokB, accB := setup.NewToken(t, nil)
	setup.RevokeAccessor(t, accA)
	os.WriteFile(tokenFile, []byte(tokB), 0o600)
	if _, _, err := v.GetSecrets(ctx, "app/db"); err != nil {
		t.Fatalf("read after the token file was rotated: %v", err)
	}
	if _, acc := v.TokenForTest(); acc != accB {
		t.Errorf("the backend does not use the token from the rotated file")
	}

	// Revoked, and the file not rotated: the message says which file to fix.
	setup.RevokeAccessor(t, accB)
	_, _, err := v.GetSecrets(ctx, "app/db")
	wantErr(t, "read with the file's token revoked", err, roster.EUNAVAILABLE,
		"Vault rejected the token in "+tokenFile, "write a valid token to that file")

	os.Remove(tokenFile)
	wantErr(t, "Health with the token file gone", v.Health(ctx), roster.EUNAVAILABLE,
		"cannot read the Vault token file", tokenFile+" does not exist")
}

func TestVaultStaticTokenRevoked(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	tok, acc := setup.NewToken(t, nil)
	v := newVault(t, setup.TokenConfig(tok))
	if err := v.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	setup.RevokeAccessor(t, acc)
	_, _, err := v.GetSecrets(t.Context(), "app/db")
	wantErr(t, "read with a revoked token", err, roster.EUNAVAILABLE, "Vault rejected Roster's token", "configure a valid token")
}

func TestVaultPolicyDenialIsNotALoginProblem(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	cfg := setup.Config()
	cfg.PathPrefix = "outside/the/policy"
	v := newVault(t, cfg)
	_, err := v.PutSecrets(t.Context(), "app/db", roster.SecretFields{"k": "v"}, 0)
	wantErr(t, "write outside the policy", err, roster.EUNAVAILABLE, "Vault denied Roster's token permission to write the secret at app/db")
	if n := v.LoginCount(); n != 1 {
		t.Errorf("%d logins: a policy denial must not trigger a new login", n)
	}
}

func TestVaultRenewsItsToken(t *testing.T) {
	t.Parallel()
	const ttl = 3 * time.Second
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{TokenTTL: ttl, TokenMaxTTL: time.Minute})
	var logs logBuffer
	cfg := setup.Config()
	cfg.Logger = logs.logger()
	loggedIn := time.Now()
	v := newVault(t, cfg)
	_, accessor := v.TokenForTest()

	waitFor(t, 5*ttl, "two renewals, past the token's initial TTL", func() bool {
		return v.RenewalCount() >= 2 && time.Since(loggedIn) > ttl+time.Second
	})
	if _, _, err := v.GetSecrets(t.Context(), "app/db"); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("read past the initial TTL: %v", err)
	}
	if _, acc := v.TokenForTest(); acc != accessor || v.LoginCount() != 1 {
		t.Errorf("%d logins, same token %v: the token must be renewed, not replaced", v.LoginCount(), acc == accessor)
	}
	if !setup.TokenAccessorValid(t, accessor) {
		t.Errorf("Vault no longer knows the renewed token")
	}
	if logs.count("renewed Roster's Vault token") < 2 {
		t.Errorf("renewals are not logged:\n%s", logs.String())
	}
}

func TestVaultLogsInAgainAtMaxTTL(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{TokenTTL: 2 * time.Second, TokenMaxTTL: 4 * time.Second})
	var logs logBuffer
	cfg := setup.Config()
	cfg.Logger = logs.logger()
	v := newVault(t, cfg)
	_, first := v.TokenForTest()
	waitFor(t, 15*time.Second, "a new login before the max TTL", func() bool { return v.LoginCount() >= 2 })
	_, second := v.TokenForTest()
	if first == second {
		t.Errorf("the token was not replaced")
	}
	if _, _, err := v.GetSecrets(t.Context(), "app/db"); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("read after the new login: %v", err)
	}
	if logs.count("Roster's Vault token reaches its max TTL; logging in again") == 0 {
		t.Errorf("the max-TTL login is not logged:\n%s", logs.String())
	}
}

func TestVaultCloseStopsEverything(t *testing.T) {
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{TokenTTL: 3 * time.Second, TokenMaxTTL: time.Minute})
	before := runtime.NumGoroutine()
	v, err := vault.New(t.Context(), setup.Config())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Health(t.Context()); err != nil {
		t.Fatal(err)
	}
	_, accessor := v.TokenForTest()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	start := time.Now()
	if err := v.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if d := time.Since(start); d > failClosedWithin {
		t.Errorf("Close took %s", d)
	}
	if setup.TokenAccessorValid(t, accessor) {
		t.Errorf("the AppRole token was not revoked at Close")
	}
	wantErr(t, "a read after Close", func() error { _, _, err := v.GetSecrets(t.Context(), "x"); return err }(),
		roster.EUNAVAILABLE, "closed")
	if err := v.Close(ctx); err != nil {
		t.Errorf("second Close: %v", err)
	}
	waitFor(t, 5*time.Second, "the backend's goroutines to end", func() bool {
		return runtime.NumGoroutine() <= before
	})
}

func TestVaultConfigErrors(t *testing.T) {
	for name, tc := range map[string]struct {
		cfg   vault.Config
		field string
	}{
		"no address":        {vault.Config{Token: "t"}, "address"},
		"bad scheme":        {vault.Config{Address: "ftp://x", Token: "t"}, "address"},
		"userinfo":          {vault.Config{Address: "https://u:S3CR3T@x", Token: "t"}, "address"},
		"no auth":           {vault.Config{Address: "http://x"}, "token"},
		"token and approle": {vault.Config{Address: "http://x", Token: "t", AppRole: vault.AppRoleConfig{RoleID: "r", SecretID: "s"}}, "token"},
		"no secret_id":      {vault.Config{Address: "http://x", AppRole: vault.AppRoleConfig{RoleID: "r"}}, "approle.secret_id"},
		"half client cert":  {vault.Config{Address: "http://x", Token: "t", ClientCert: "c.pem"}, "client_cert"},
		"bad mount":         {vault.Config{Address: "http://x", Token: "t", KVMount: "a/../b"}, "kv_mount"},
		"negative timeout":  {vault.Config{Address: "http://x", Token: "t", Timeout: -1}, "timeout"},
	} {
		_, err := vault.New(t.Context(), tc.cfg)
		if roster.ErrorCode(err) != roster.EINVALID {
			t.Errorf("%s: %v, want EINVALID", name, err)
			continue
		}
		found := false
		for _, f := range roster.ErrorFields(err) {
			found = found || f.Field == tc.field
		}
		if !found || strings.Contains(err.Error(), "S3CR3T") {
			t.Errorf("%s: %v, want a field error on %s without secrets", name, err, tc.field)
		}
	}
	_, err := vault.New(t.Context(), vault.Config{Address: "https://x", Token: "t", CACert: filepath.Join(t.TempDir(), "none.pem")})
	wantErr(t, "missing CA file", err, roster.EINVALID, "TLS")
}

func TestPolicyText(t *testing.T) {
	p := vault.Policy(vault.Config{KVMount: "/kv/", PathPrefix: "teams/a", SSHMount: "ssh-ca"})
	for _, want := range []string{`path "kv/data/teams/a/*"`, `path "kv/metadata/teams/a/*"`, `path "ssh-ca/sign/*"`, `path "sys/wrapping/wrap"`, `path "auth/token/renew-self"`} {
		if !strings.Contains(p, want) {
			t.Errorf("policy lacks %s:\n%s", want, p)
		}
	}
}

func TestVaultRejectedSecretIDDoesNotLockTheRoleOut(t *testing.T) {
	t.Parallel()
	// Vault locks a role_id out for 15 minutes after 5 failed logins. A
	// backend that logged in again at every request with a bad secret_id
	// would lock Roster's role before the operator could fix the secret_id.
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	sidFile := filepath.Join(t.TempDir(), "secret-id")
	os.WriteFile(sidFile, []byte("not-a-secret-id"), 0o600)
	cfg := setup.Config()
	cfg.AppRole.SecretID, cfg.AppRole.SecretIDFile = "", sidFile
	v := newVault(t, cfg)
	ctx := t.Context()
	for i := range 10 {
		_, _, err := v.GetSecrets(ctx, "app/db")
		wantErr(t, "read with a bad secret_id", err, roster.EUNAVAILABLE, "the secret_id is invalid, expired or used up")
		if i%3 == 0 {
			wantErr(t, "Health with a bad secret_id", v.Health(ctx), roster.EUNAVAILABLE, "the secret_id is invalid")
		}
	}
	// The operator rotates the file: the next request logs in, at once.
	os.WriteFile(sidFile, []byte(setup.NewSecretID(t, nil)), 0o600)
	if _, _, err := v.GetSecrets(ctx, "app/db"); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("read after fixing the secret_id: %v (the role was locked out?)", err)
	}
	if v.LoginCount() != 1 {
		t.Errorf("%d logins, want 1", v.LoginCount())
	}
}

// tcpProxy forwards a local port to Vault and can be cut and restored on
// the same port, so a test can make Vault unreachable and reachable again
// without restarting it.
type tcpProxy struct {
	t      *testing.T
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func newTCPProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{t: t, addr: "127.0.0.1:0", target: target}
	p.start()
	p.addr = p.ln.Addr().String()
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) start() {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		p.t.Fatalf("proxy listen: %v", err)
	}
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop closes the listener and cuts every connection.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func TestVaultRecoversWhenReachableAgain(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	proxy := newTCPProxy(t, strings.TrimPrefix(setup.Server.Addr, "http://"))
	cfg := setup.Config()
	cfg.Address = "http://" + proxy.addr
	v := newVault(t, cfg)
	ctx := t.Context()
	if _, err := v.PutSecrets(ctx, "app/db", roster.SecretFields{"k": "v"}, 0); err != nil {
		t.Fatal(err)
	}

	proxy.stop()
	_, _, err := v.GetSecrets(ctx, "app/db")
	wantErr(t, "read with Vault cut off", err, roster.EUNAVAILABLE, "Vault at "+cfg.Address+" is unreachable")
	wantErr(t, "Health with Vault cut off", v.Health(ctx), roster.EUNAVAILABLE, "unreachable")

	proxy.start()
	if _, _, err := v.GetSecrets(ctx, "app/db"); err != nil {
		t.Fatalf("read once Vault is reachable again: %v", err)
	}
	if err := v.Health(ctx); err != nil {
		t.Errorf("Health once Vault is reachable again: %v", err)
	}
	if n := v.LoginCount(); n != 1 {
		t.Errorf("%d logins: an outage must not cost Roster its token", n)
	}
}

func TestVaultMissingEnginesAreNamed(t *testing.T) {
	t.Parallel()
	srv := testenv.SharedVault(t)
	cfg := vault.Config{Address: srv.Addr, Token: roster.Secret(srv.RootToken), KVMount: "no-kv-" + randomHex(3), SSHMount: "no-ssh-" + randomHex(3)}
	v := newVault(t, cfg)
	ctx := t.Context()
	_, err := v.PutSecrets(ctx, "app/db", roster.SecretFields{"k": "v"}, 0)
	wantErr(t, "write without a KV engine", err, roster.EUNAVAILABLE, "no KV version 2 engine at "+cfg.KVMount+"/")
	_, _, err = v.GetSecrets(ctx, "app/db")
	wantErr(t, "read without a KV engine", err, roster.EUNAVAILABLE, "no KV version 2 engine at "+cfg.KVMount+"/")
	_, err = v.SignSSHKey(ctx, roster.SSHSignRequest{Role: "r", PublicKey: userKeyLine(t), Principals: []string{"deploy"}, TTL: time.Minute})
	wantErr(t, "sign without an SSH engine", err, roster.EUNAVAILABLE, "no SSH secrets engine at "+cfg.SSHMount+"/")
	_, err = v.SSHCAPublicKey(ctx, "r")
	wantErr(t, "CA key without an SSH engine", err, roster.EUNAVAILABLE, "has no CA key (or is not mounted)")
	if err := v.Health(ctx); err != nil {
		t.Errorf("Health with a root token: %v", err)
	}
}
