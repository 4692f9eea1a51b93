// Package vaulttest prepares a real Vault dev server (from
// internal/testenv) for Roster: a KV v2 engine, an SSH engine configured as
// a user CA with a role, and an AppRole whose token holds exactly the policy
// vault.Policy writes. Every Configure call uses mounts of its own, so tests
// can share one server.
package vaulttest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault"
)

// Options shape the AppRole role and the SSH role; the zero value is fine.
type Options struct {
	// TokenTTL and TokenMaxTTL are the AppRole's token TTLs (default 1h
	// and 4h).
	TokenTTL, TokenMaxTTL time.Duration
	// SecretIDNumUses limits how many logins one secret_id allows (0:
	// unlimited).
	SecretIDNumUses int
	// AllowedUsers are the SSH role's allowed principals (default "deploy"
	// and "ansible").
	AllowedUsers []string
	// SSHMaxTTL is the SSH role's max_ttl (default 1h).
	SSHMaxTTL time.Duration
}

// Setup is a Vault prepared for one Roster backend.
type Setup struct {
	Server       *testenv.VaultServer
	KVMount      string
	PathPrefix   string
	SSHMount     string
	SSHRole      string
	AppRoleMount string
	AppRoleName  string
	PolicyName   string
	RoleID       string
	// SecretID is a secret_id of the role, issued by Configure.
	SecretID string
	// AllowedUsers are the principals the SSH role signs for.
	AllowedUsers []string
}

// Configure mounts and configures the engines, the policy and the AppRole.
func Configure(t testing.TB, srv *testenv.VaultServer, o Options) *Setup {
	t.Helper()
	if o.TokenTTL == 0 {
		o.TokenTTL = time.Hour
	}
	if o.TokenMaxTTL == 0 {
		o.TokenMaxTTL = 4 * time.Hour
	}
	if len(o.AllowedUsers) == 0 {
		o.AllowedUsers = []string{"deploy", "ansible"}
	}
	if o.SSHMaxTTL == 0 {
		o.SSHMaxTTL = time.Hour
	}
	id := randomID()
	s := &Setup{
		Server:       srv,
		KVMount:      "kv-" + id,
		PathPrefix:   "roster/credentials",
		SSHMount:     "ssh-" + id,
		SSHRole:      "runner",
		AppRoleMount: "approle-" + id,
		AppRoleName:  "roster",
		PolicyName:   "roster-" + id,
		AllowedUsers: o.AllowedUsers,
	}
	s.must(t, "PUT", "sys/mounts/"+s.KVMount, map[string]any{"type": "kv", "options": map[string]any{"version": "2"}})
	s.must(t, "PUT", "sys/mounts/"+s.SSHMount, map[string]any{"type": "ssh"})
	s.must(t, "PUT", s.SSHMount+"/config/ca", map[string]any{"generate_signing_key": true, "key_type": "ed25519"})
	s.must(t, "PUT", s.SSHMount+"/roles/"+s.SSHRole, map[string]any{
		"key_type":                "ca",
		"allow_user_certificates": true,
		"allowed_users":           strings.Join(o.AllowedUsers, ","),
		"allow_user_key_ids":      true,
		"ttl":                     "30m",
		"max_ttl":                 seconds(o.SSHMaxTTL),
		"default_extensions":      map[string]any{"permit-pty": ""},
		"allowed_extensions":      "permit-pty,permit-user-rc,permit-port-forwarding,permit-agent-forwarding",
	})
	s.must(t, "PUT", "sys/policies/acl/"+s.PolicyName, map[string]any{"policy": vault.Policy(s.baseConfig())})
	s.must(t, "PUT", "sys/auth/"+s.AppRoleMount, map[string]any{"type": "approle"})
	s.must(t, "PUT", s.rolePath(), map[string]any{
		"token_policies":          s.PolicyName,
		"token_no_default_policy": true,
		"token_ttl":               seconds(o.TokenTTL),
		"token_max_ttl":           seconds(o.TokenMaxTTL),
		"secret_id_num_uses":      o.SecretIDNumUses,
	})
	out := s.must(t, "GET", s.rolePath()+"/role-id", nil)
	s.RoleID = str(out, "role_id")
	s.SecretID = s.NewSecretID(t, nil)
	// Wait until the role logs in: mounts and roles are usable at once on a
	// dev server, but this also proves the setup before a test relies on it.
	if status, body := s.Server.Do(t, "PUT", "auth/"+s.AppRoleMount+"/login",
		map[string]any{"role_id": s.RoleID, "secret_id": s.NewSecretID(t, nil)}); status != http.StatusOK {
		t.Fatalf("vaulttest: AppRole login: %d %v", status, body)
	}
	return s
}

func (s *Setup) rolePath() string { return "auth/" + s.AppRoleMount + "/role/" + s.AppRoleName }

func (s *Setup) baseConfig() vault.Config {
	return vault.Config{
		Address:    s.Server.Addr,
		KVMount:    s.KVMount,
		PathPrefix: s.PathPrefix,
		SSHMount:   s.SSHMount,
	}
}

// Config returns a backend configuration that logs in with the role's
// role_id and the SecretID.
func (s *Setup) Config() vault.Config {
	c := s.baseConfig()
	c.AppRole = vault.AppRoleConfig{Mount: s.AppRoleMount, RoleID: roster.Secret(s.RoleID), SecretID: roster.Secret(s.SecretID)}
	return c
}

// TokenConfig returns a backend configuration that uses token.
func (s *Setup) TokenConfig(token string) vault.Config {
	c := s.baseConfig()
	c.Token = roster.Secret(token)
	return c
}

// NewSecretID issues a secret_id of the role; params are those of
// auth/approle/role/:name/secret-id (e.g. "ttl", "num_uses"), or nil.
func (s *Setup) NewSecretID(t testing.TB, params map[string]any) string {
	t.Helper()
	if params == nil {
		params = map[string]any{}
	}
	out := s.must(t, "PUT", s.rolePath()+"/secret-id", params)
	return str(out, "secret_id")
}

// CustomSecretID registers secretID (a value of the test's choosing) as a
// secret_id of the role.
func (s *Setup) CustomSecretID(t testing.TB, secretID string, params map[string]any) {
	t.Helper()
	p := map[string]any{"secret_id": secretID}
	for k, v := range params {
		p[k] = v
	}
	s.must(t, "PUT", s.rolePath()+"/custom-secret-id", p)
}

// NewToken creates a token with Roster's policy. params are those of
// auth/token/create (e.g. "ttl", "explicit_max_ttl", "id"), or nil. It
// returns the token and its accessor.
func (s *Setup) NewToken(t testing.TB, params map[string]any) (token, accessor string) {
	t.Helper()
	p := map[string]any{"policies": []string{s.PolicyName}, "no_default_policy": true, "ttl": "1h"}
	for k, v := range params {
		p[k] = v
	}
	status, out := s.Server.Do(t, "PUT", "auth/token/create", p)
	if status != http.StatusOK {
		t.Fatalf("vaulttest: create token: %d %v", status, out)
	}
	auth, _ := out["auth"].(map[string]any)
	return str(auth, "client_token"), str(auth, "accessor")
}

// TidySecretIDs runs the AppRole tidy, which deletes expired secret_ids.
// Vault 1.14.2 does not check a secret_id's expiry at login: an expired
// secret_id keeps working until the tidy (run once a minute by Vault
// itself) removes it.
func (s *Setup) TidySecretIDs(t testing.TB) {
	t.Helper()
	s.Server.Do(t, "PUT", "auth/"+s.AppRoleMount+"/tidy/secret-id", nil)
}

// RevokeAccessor revokes the token with accessor.
func (s *Setup) RevokeAccessor(t testing.TB, accessor string) {
	t.Helper()
	s.must(t, "PUT", "auth/token/revoke-accessor", map[string]any{"accessor": accessor})
}

// TokenAccessorValid reports whether the token with accessor still exists.
func (s *Setup) TokenAccessorValid(t testing.TB, accessor string) bool {
	t.Helper()
	status, _ := s.Server.Do(t, "PUT", "auth/token/lookup-accessor", map[string]any{"accessor": accessor})
	return status == http.StatusOK
}

// Unwrap unwraps a wrapping token the way a runner does (the token is its
// own authentication) and returns the wrapped data.
func (s *Setup) Unwrap(ctx context.Context, token string) (map[string]string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, s.Server.Addr+"/v1/sys/wrapping/unwrap", nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("X-Vault-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var out struct {
		Data   map[string]string `json:"data"`
		Errors []string          `json:"errors"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, fmt.Errorf("unwrap: HTTP %d, undecodable answer", resp.StatusCode)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("unwrap: HTTP %d: %s", resp.StatusCode, strings.Join(out.Errors, "; "))
	}
	if out.Data == nil {
		return nil, errors.New("unwrap: no data")
	}
	return out.Data, nil
}

func (s *Setup) must(t testing.TB, method, path string, body any) map[string]any {
	t.Helper()
	status, out := s.Server.Do(t, method, path, body)
	if status/100 != 2 {
		t.Fatalf("vaulttest: %s %s: %d %v", method, path, status, out)
	}
	data, _ := out["data"].(map[string]any)
	return data
}

func str(m map[string]any, k string) string {
	s, _ := m[k].(string)
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%ds", int(d/time.Second)) }

func randomID() string {
	b := make([]byte, 4)
	rand.Read(b)
	return hex.EncodeToString(b)
}
