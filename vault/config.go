package vault

import (
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// Defaults of Config.
const (
	DefaultKVMount      = "secret"
	DefaultPathPrefix   = "roster/credentials"
	DefaultSSHMount     = "ssh"
	DefaultAppRoleMount = "approle"
	DefaultTimeout      = defaultTimeout
)

// Config configures the Vault backend. Exactly one way to authenticate is
// given: a token (Token or TokenFile) or AppRole (AppRole.RoleID or
// RoleIDFile, with SecretID or SecretIDFile). Files are re-read at every
// login, so a rotated token or secret_id is picked up without a restart.
type Config struct {
	// Address is Vault's URL, e.g. "https://vault.example.com:8200".
	Address string
	// Namespace is sent as X-Vault-Namespace (Vault Enterprise).
	Namespace string

	// CACert is a PEM file of the CA(s) that sign Vault's certificate
	// (default: the system's roots).
	CACert string
	// ClientCert and ClientKey are PEM files of a TLS client certificate,
	// for Vault listeners that require one.
	ClientCert string
	ClientKey  string
	// TLSServerName overrides the name checked in Vault's certificate.
	TLSServerName string

	// Token is a Vault token.
	Token roster.Secret
	// TokenFile is a file holding a Vault token (e.g. a Vault Agent sink).
	TokenFile string
	// AppRole logs in with AppRole.
	AppRole AppRoleConfig

	// KVMount is the KV version 2 engine's mount (default "secret").
	KVMount string
	// PathPrefix is prepended to every secret path (default
	// "roster/credentials").
	PathPrefix string
	// SSHMount is the SSH secrets engine's mount (default "ssh").
	SSHMount string

	// Timeout bounds every Vault call (default 2s).
	Timeout time.Duration
	// Logger receives the backend's records (default slog.Default()).
	Logger *slog.Logger
}

// AppRoleConfig is AppRole authentication: a role_id and a secret_id, each
// from a value or a file.
type AppRoleConfig struct {
	// Mount is the AppRole auth method's mount (default "approle").
	Mount        string
	RoleID       roster.Secret
	RoleIDFile   string
	SecretID     roster.Secret
	SecretIDFile string
}

func (a AppRoleConfig) set() bool {
	return a.RoleID != "" || a.RoleIDFile != "" || a.SecretID != "" || a.SecretIDFile != ""
}

// authMethod is how the backend logs in.
type authMethod int

const (
	authToken authMethod = iota
	authTokenFile
	authAppRole
)

// normalize checks c and fills in its defaults. Field names are the
// configuration keys the command exposes under "vault.".
func (c Config) normalize() (Config, authMethod, error) {
	var fe roster.FieldErrors
	c.Address = strings.TrimRight(strings.TrimSpace(c.Address), "/")
	if c.Address == "" {
		fe.Add("address", "is required (e.g. https://vault.example.com:8200)")
	} else if u, err := url.Parse(c.Address); err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		fe.Add("address", "must be an http:// or https:// URL with a host")
	} else if u.User != nil {
		fe.Add("address", "must not hold credentials")
	} else if u.RawQuery != "" || u.Fragment != "" {
		fe.Add("address", "must not have a query or fragment")
	}
	if (c.ClientCert == "") != (c.ClientKey == "") {
		fe.Add("client_cert", "client_cert and client_key go together")
	}

	var method authMethod
	tokenSet := c.Token != "" || c.TokenFile != ""
	switch {
	case tokenSet && c.AppRole.set():
		fe.Add("token", "give either a token (token, token_file) or AppRole (approle.*), not both")
	case c.Token != "" && c.TokenFile != "":
		fe.Add("token", "give either token or token_file, not both")
	case c.Token != "":
		method = authToken
		if strings.TrimSpace(c.Token.Reveal()) == "" {
			fe.Add("token", "is blank")
		}
	case c.TokenFile != "":
		method = authTokenFile
	case c.AppRole.set():
		method = authAppRole
		a := &c.AppRole
		switch {
		case a.RoleID == "" && a.RoleIDFile == "":
			fe.Add("approle.role_id", "is required (or approle.role_id_file)")
		case a.RoleID != "" && a.RoleIDFile != "":
			fe.Add("approle.role_id", "give either approle.role_id or approle.role_id_file, not both")
		}
		switch {
		case a.SecretID == "" && a.SecretIDFile == "":
			fe.Add("approle.secret_id", "is required (or approle.secret_id_file)")
		case a.SecretID != "" && a.SecretIDFile != "":
			fe.Add("approle.secret_id", "give either approle.secret_id or approle.secret_id_file, not both")
		}
		a.Mount = mountOrDefault(a.Mount, DefaultAppRoleMount)
		if err := validateMount(a.Mount); err != "" {
			fe.Add("approle.mount", "%s", err)
		}
	default:
		fe.Add("token", "no way to log in: give token, token_file, or approle.role_id and approle.secret_id")
	}

	c.KVMount = mountOrDefault(c.KVMount, DefaultKVMount)
	if err := validateMount(c.KVMount); err != "" {
		fe.Add("kv_mount", "%s", err)
	}
	c.SSHMount = mountOrDefault(c.SSHMount, DefaultSSHMount)
	if err := validateMount(c.SSHMount); err != "" {
		fe.Add("ssh_mount", "%s", err)
	}
	c.PathPrefix = mountOrDefault(c.PathPrefix, DefaultPathPrefix)
	if err := validateMount(c.PathPrefix); err != "" {
		fe.Add("path_prefix", "%s", err)
	}
	c.Namespace = strings.Trim(strings.TrimSpace(c.Namespace), "/")
	if c.Namespace != "" {
		if err := validateMount(c.Namespace); err != "" {
			fe.Add("namespace", "%s", err)
		}
	}
	switch {
	case c.Timeout == 0:
		c.Timeout = DefaultTimeout
	case c.Timeout < 0:
		fe.Add("timeout", "must be positive")
	case c.Timeout > time.Minute:
		fe.Add("timeout", "must be at most 1m: Roster fails closed, quickly")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c, method, fe.Err()
}

func mountOrDefault(s, def string) string {
	s = strings.Trim(strings.TrimSpace(s), "/")
	if s == "" {
		return def
	}
	return s
}

// validateMount checks a mount or prefix: path segments of safe characters.
func validateMount(s string) string {
	for _, seg := range strings.Split(s, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Sprintf("%q has an empty, \".\" or \"..\" segment", s)
		}
		for _, r := range seg {
			if !pathRune(r) {
				return fmt.Sprintf("%q has the character %q", s, r)
			}
		}
	}
	return ""
}

// Policy returns the Vault policy (HCL) that lets Roster do its work with
// this configuration, and nothing more: create, read and update secret
// fields under the path prefix, delete their metadata (all versions), sign
// SSH keys with any role of the SSH engine, wrap responses, and look up,
// renew and revoke its own token.
func Policy(c Config) string {
	kv := mountOrDefault(c.KVMount, DefaultKVMount)
	prefix := mountOrDefault(c.PathPrefix, DefaultPathPrefix)
	sshMount := mountOrDefault(c.SSHMount, DefaultSSHMount)
	return fmt.Sprintf(`# Roster's credential broker.
path "%[1]s/data/%[2]s/*" {
  capabilities = ["create", "read", "update"]
}
path "%[1]s/metadata/%[2]s/*" {
  capabilities = ["delete"]
}
path "%[3]s/sign/*" {
  capabilities = ["create", "update"]
}
path "sys/wrapping/wrap" {
  capabilities = ["update"]
}
path "auth/token/lookup-self" {
  capabilities = ["read"]
}
path "auth/token/renew-self" {
  capabilities = ["update"]
}
path "auth/token/revoke-self" {
  capabilities = ["update"]
}
`, kv, prefix, sshMount)
}
