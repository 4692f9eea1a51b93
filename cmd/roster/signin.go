package main

import (
	"errors"
	"fmt"
	"net/netip"
	"net/url"
	"os"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/ldapauth"
	"github.com/rosterhq/roster/internal/oidcauth"
)

// ldapSetting is an LDAP / Active Directory server of the config file
// (key ldap): ldapauth's settings, the service account's password from a
// file, and the directory's team mappings.
type ldapSetting struct {
	ldapauth.Config  `yaml:",inline"`
	BindPasswordFile string            `yaml:"bind_password_file"`
	Teams            []api.TeamMapping `yaml:"teams"`
}

// oidcSetting is an OpenID Connect provider of the config file (key
// oidc): oidcauth's settings, the client secret from a file, and the
// provider's team mappings.
type oidcSetting struct {
	oidcauth.Config  `yaml:",inline"`
	ClientSecretFile string            `yaml:"client_secret_file"`
	Teams            []api.TeamMapping `yaml:"teams"`
}

// maxSecretFile bounds a file holding one secret.
const maxSecretFile = 64 << 10

// readSecretFile reads a secret from a file: its content without the
// line's end.
func readSecretFile(field, path string) (roster.Secret, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", field, err)
	}
	defer f.Close()
	b := make([]byte, maxSecretFile+1)
	n, _ := f.Read(b)
	if n > maxSecretFile {
		return "", fmt.Errorf("%s: %s is larger than 64 KiB: not a secret", field, path)
	}
	v := strings.TrimRight(string(b[:n]), "\r\n")
	if v == "" {
		return "", fmt.Errorf("%s: %s is empty", field, path)
	}
	return roster.Secret(v), nil
}

// validateSignIn checks the sign-in providers of the config, every
// problem at once: their settings, unique names, and secrets kept in
// files, never in the config file itself.
func (c *Config) validateSignIn() error {
	var fe roster.FieldErrors
	seen := map[string]string{"local": "built in"}
	name := func(at, n string) {
		if prev, ok := seen[n]; ok && n != "" {
			fe.Add(at+".name", "%q is taken (by %s): every sign-in provider has a name of its own", n, prev)
		}
		seen[n] = at
	}
	for i := range c.LDAP {
		l := &c.LDAP[i]
		at := fmt.Sprintf("ldap[%d]", i)
		name(at, l.Name)
		if l.BindPassword != "" {
			fe.Add(at+".bind_password", "a password goes in a file: bind_password_file")
		}
		cfg := l.Config
		if l.BindPasswordFile == "" {
			fe.Add(at+".bind_password_file", "is required: a file holding the service account's password")
		} else {
			cfg.BindPassword = "set" // read at start; checked for its presence here
		}
		fe.Merge(at, cfg.Validate())
		fe.Merge("", api.ValidateTeamMappings(at+".teams", l.Teams))
		if len(l.Teams) > 0 && l.GroupBase == "" {
			// Groups map by name: one made anywhere else in the directory
			// (by someone who may make groups there) must not count.
			fe.Add(at+".group_base", "is required with teams: only groups under it map to teams")
		}
	}
	for i := range c.OIDC {
		o := &c.OIDC[i]
		at := fmt.Sprintf("oidc[%d]", i)
		name(at, o.Name)
		if o.ClientSecret != "" {
			fe.Add(at+".client_secret", "a secret goes in a file: client_secret_file")
		}
		if o.ClientSecretFile == "" {
			fe.Add(at+".client_secret_file", "is required: a file holding the client secret")
		}
		fe.Merge(at, o.Config.Validate())
		fe.Merge("", api.ValidateTeamMappings(at+".teams", o.Teams))
	}
	if len(c.OIDC) > 0 && c.PublicURL == "" {
		fe.Add("public_url", "is required with an OpenID Connect provider: the URL browsers reach Roster at (the provider sends them back to PUBLIC_URL/api/v1/auth/oidc/NAME/callback)")
	}
	if c.PublicURL != "" {
		u, err := url.Parse(c.PublicURL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
			fe.Add("public_url", "must be an http(s) URL without query, fragment or credentials, e.g. https://roster.example:8443")
		}
	}
	if _, err := c.trustedProxies(); err != nil {
		fe.Add("trusted_proxies", "%v", err)
	}
	return fe.Err()
}

// trustedProxies parses the trusted proxies setting.
func (c *Config) trustedProxies() ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, v := range strings.Split(c.TrustedProxies, ",") {
		if v = strings.TrimSpace(v); v == "" {
			continue
		}
		if p, err := netip.ParsePrefix(v); err == nil {
			out = append(out, p.Masked())
			continue
		}
		ip, err := netip.ParseAddr(v)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an address nor a prefix such as 10.0.0.0/8", v)
		}
		out = append(out, netip.PrefixFrom(ip.Unmap(), ip.Unmap().BitLen()))
	}
	return out, nil
}

// signInProviders makes the sign-in providers of the config, their
// secrets read from their files. None is contacted: a directory or an
// identity provider that is down must not stop Roster (local users sign
// in regardless).
func (c *Config) signInProviders() ([]api.Directory, []api.OIDCProvider, error) {
	var dirs []api.Directory
	var errs []error
	for i, l := range c.LDAP {
		at := fmt.Sprintf("ldap[%d]", i)
		cfg := l.Config
		pw, err := readSecretFile(at+".bind_password_file", l.BindPasswordFile)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.BindPassword = pw
		d, err := ldapauth.New(cfg)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		dirs = append(dirs, api.Directory{Name: l.Name, Auth: d, Teams: l.Teams})
	}
	var providers []api.OIDCProvider
	for i, o := range c.OIDC {
		at := fmt.Sprintf("oidc[%d]", i)
		cfg := o.Config
		secret, err := readSecretFile(at+".client_secret_file", o.ClientSecretFile)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cfg.ClientSecret = secret
		p, err := oidcauth.New(cfg, strings.TrimRight(c.PublicURL, "/")+api.OIDCCallbackPath(o.Name))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", at, err))
			continue
		}
		providers = append(providers, api.OIDCProvider{Name: o.Name, Client: p, Teams: o.Teams})
	}
	return dirs, providers, errors.Join(errs...)
}
