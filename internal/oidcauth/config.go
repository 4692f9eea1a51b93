package oidcauth

import (
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// Defaults of Config.
const (
	DefaultUsernameClaim = "preferred_username"
	DefaultGroupsClaim   = "groups"
	DefaultTimeout       = 10 * time.Second
	maxTimeout           = 5 * time.Minute
)

// DefaultScopes are asked for when Config.Scopes is empty.
var DefaultScopes = []string{"openid", "profile", "email", "groups"}

// Config is one OpenID Connect provider, an entry of the `oidc:` list of
// Roster's configuration.
type Config struct {
	// Name identifies the provider in Roster: URLs, users' source, group
	// memberships ("oidc:<name>").
	Name string `yaml:"name" json:"name"`
	// Issuer is the provider's issuer URL exactly as its discovery document
	// and ID tokens name it; discovery is at Issuer + /.well-known/openid-configuration.
	Issuer   string `yaml:"issuer" json:"issuer"`
	ClientID string `yaml:"client_id" json:"client_id"`
	// ClientSecret authenticates Roster to the token endpoint
	// (client_secret_basic). The caller fills it, from a file or a
	// credential, before New; Validate does not require it.
	ClientSecret roster.Secret `yaml:"client_secret,omitempty" json:"client_secret,omitempty"`
	// Scopes asked for; DefaultScopes when empty. openid is always added.
	Scopes []string `yaml:"scopes,omitempty" json:"scopes,omitempty"`
	// UsernameClaim gives the Roster user name: preferred_username
	// (default), email or sub.
	UsernameClaim string `yaml:"username_claim,omitempty" json:"username_claim,omitempty"`
	// GroupsClaim holds the person's groups: a list of strings, or one
	// string. Default "groups".
	GroupsClaim string `yaml:"groups_claim,omitempty" json:"groups_claim,omitempty"`
	// CAFile is a PEM file of certificate authorities trusted for the
	// provider in addition to the system's.
	CAFile string `yaml:"ca_file,omitempty" json:"ca_file,omitempty"`
	// Timeout bounds each request to the provider. Default 10s.
	Timeout Duration `yaml:"timeout,omitempty" json:"timeout,omitempty"`
}

// Duration is a time.Duration written "10s", "1m" in YAML and JSON.
type Duration time.Duration

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(time.Duration(d).String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (YAML and JSON use it).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 10s or 1m", b)
	}
	*d = Duration(v)
	return nil
}

var (
	namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	// scopePattern is RFC 6749's scope-token.
	scopePattern = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`)
	// claimPattern: a JSON member name without spaces or controls; URLs
	// (namespaced claims such as https://example.com/groups) included.
	claimPattern = regexp.MustCompile(`^[\x21-\x7E]{1,256}$`)
)

// Validate reports every problem of c at once as an EINVALID error whose
// fields are named as in the config file ("issuer", "scopes[2]"); the caller
// puts them under the entry's path with roster.FieldErrors.Merge("oidc[0]", err).
// It reads CAFile. It does not require ClientSecret (the caller fills it later).
func (c Config) Validate() error {
	var fe roster.FieldErrors
	switch {
	case c.Name == "":
		fe.Add("name", "is required")
	case !namePattern.MatchString(c.Name):
		fe.Add("name", "%q must be 1 to 63 lower-case letters, digits, '-' or '_', starting with a letter or digit", c.Name)
	}
	if msg := checkIssuer(c.Issuer); msg != "" {
		fe.Add("issuer", "%s", msg)
	}
	if strings.TrimSpace(c.ClientID) == "" {
		fe.Add("client_id", "is required")
	}
	for i, s := range c.Scopes {
		if !scopePattern.MatchString(s) {
			fe.Add(fmt.Sprintf("scopes[%d]", i), "%q is not a scope (no spaces, quotes or backslashes)", s)
		}
	}
	switch c.UsernameClaim {
	case "", "preferred_username", "email", "sub":
	default:
		fe.Add("username_claim", "%q must be preferred_username, email or sub", c.UsernameClaim)
	}
	if c.GroupsClaim != "" && !claimPattern.MatchString(c.GroupsClaim) {
		fe.Add("groups_claim", "%q is not a claim name (no spaces, at most 256 characters)", c.GroupsClaim)
	}
	if c.CAFile != "" {
		if _, err := readCAFile(c.CAFile); err != nil {
			fe.Add("ca_file", "%s", err)
		}
	}
	switch t := time.Duration(c.Timeout); {
	case t < 0:
		fe.Add("timeout", "must not be negative")
	case t > maxTimeout:
		fe.Add("timeout", "must be at most %s", maxTimeout)
	}
	return fe.Err()
}

// checkIssuer says what is wrong with an issuer URL, or "".
func checkIssuer(s string) string {
	if s == "" {
		return "is required (e.g. https://idp.example.com/realms/corp)"
	}
	u, err := url.Parse(s)
	switch {
	case err != nil || !u.IsAbs() || u.Host == "" || u.Opaque != "":
		return fmt.Sprintf("%q must be an absolute URL such as https://idp.example.com", s)
	case u.User != nil:
		return "must not hold credentials"
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(s, "#"):
		return "must not have a query or fragment"
	case strings.Contains(s, "|"):
		// The identity's Subject is issuer|sub; a "|" would make it ambiguous.
		return "must not contain '|'"
	case u.Scheme == "https":
	case u.Scheme == "http" && isLoopback(u.Hostname()):
	case u.Scheme == "http":
		return fmt.Sprintf("%q must use https (http is allowed only for a loopback host such as 127.0.0.1)", s)
	default:
		return fmt.Sprintf("%q must be an https URL", s)
	}
	return ""
}

func isLoopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// readCAFile returns the certificates of a PEM file.
func readCAFile(path string) ([]byte, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot be read: %v", err)
	}
	if !x509.NewCertPool().AppendCertsFromPEM(pem) {
		return nil, fmt.Errorf("%s holds no PEM certificate", path)
	}
	return pem, nil
}

// withDefaults returns c with its defaults filled in and openid among its
// scopes (first, without duplicates).
func (c Config) withDefaults() Config {
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = DefaultScopes
	}
	c.Scopes = []string{"openid"}
	for _, s := range scopes {
		if !slices.Contains(c.Scopes, s) {
			c.Scopes = append(c.Scopes, s)
		}
	}
	if c.UsernameClaim == "" {
		c.UsernameClaim = DefaultUsernameClaim
	}
	if c.GroupsClaim == "" {
		c.GroupsClaim = DefaultGroupsClaim
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	return c
}
