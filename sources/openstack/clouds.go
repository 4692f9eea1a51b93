package openstack

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
)

// cloudConfig is one cloud of clouds.yaml: where and as whom to
// authenticate, and which regions and interface to use.
type cloudConfig struct {
	name     string
	auth     authConfig
	authType string   // "password", "application_credential" or "" (inferred)
	regions  []string // regions, or region_name
	iface    string   // public, internal or admin; "" = public
	verify   *bool
	cacert   string
}

// authConfig is a clouds.yaml auth block. The secrets are only ever read
// from files, the environment or the credential store, never from a
// source's configuration.
type authConfig struct {
	authURL                             string
	username, userID                    string
	userDomainName, userDomainID        string
	projectName, projectID              string
	projectDomainName, projectDomainID  string
	domainName, domainID                string
	appCredID, appCredName              string
	password, appCredSecret             roster.Secret
	hasPassword, hasAppCredSecret       bool
	passwordSource, appCredSecretSource string // where the secret came from
	unsupportedAuthType                 string // an auth_type Roster refuses, from a file
}

var authStringKeys = map[string]func(*authConfig) *string{
	"auth_url":                    func(a *authConfig) *string { return &a.authURL },
	"username":                    func(a *authConfig) *string { return &a.username },
	"user_id":                     func(a *authConfig) *string { return &a.userID },
	"user_domain_name":            func(a *authConfig) *string { return &a.userDomainName },
	"user_domain_id":              func(a *authConfig) *string { return &a.userDomainID },
	"project_name":                func(a *authConfig) *string { return &a.projectName },
	"tenant_name":                 func(a *authConfig) *string { return &a.projectName },
	"project_id":                  func(a *authConfig) *string { return &a.projectID },
	"tenant_id":                   func(a *authConfig) *string { return &a.projectID },
	"project_domain_name":         func(a *authConfig) *string { return &a.projectDomainName },
	"project_domain_id":           func(a *authConfig) *string { return &a.projectDomainID },
	"domain_name":                 func(a *authConfig) *string { return &a.domainName },
	"domain_id":                   func(a *authConfig) *string { return &a.domainID },
	"application_credential_id":   func(a *authConfig) *string { return &a.appCredID },
	"application_credential_name": func(a *authConfig) *string { return &a.appCredName },
}

var cloudKeys = []string{"auth", "auth_type", "region_name", "regions", "interface", "identity_api_version", "verify", "cacert"}

// parseCloud reads one clouds.yaml cloud. strict (a source's own
// configuration) refuses secrets and unknown keys with field errors under
// prefix; otherwise (a file) secrets are kept and unknown keys ignored,
// since the file is shared with other OpenStack tools.
func parseCloud(name, prefix string, m map[string]any, strict bool, errs *roster.FieldErrors) *cloudConfig {
	c := &cloudConfig{name: name}
	bad := func(key, format string, args ...any) {
		if strict {
			errs.Add(prefix+key, format, args...)
		}
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		switch k {
		case "auth":
			am, ok := v.(map[string]any)
			if !ok {
				bad(k, "must be a map (auth_url, username, project_name, ...)")
				continue
			}
			parseAuth(&c.auth, prefix+"auth.", am, strict, errs)
		case "auth_type":
			s, _ := v.(string)
			switch s {
			case "password", "v3password":
				c.authType = "password"
			case "application_credential", "v3applicationcredential":
				c.authType = "application_credential"
			case "token", "v3token", "admin_token":
				bad(k, "token authentication is not supported: tokens are secrets and expire; use a password or an application credential")
				c.auth.unsupportedAuthType = s
			default:
				bad(k, "must be password or application_credential (v3password, v3applicationcredential)")
				c.auth.unsupportedAuthType = s
			}
		case "region_name":
			s, ok := v.(string)
			if !ok || checkName(s, "a region name") != "" {
				bad(k, "must be a region name without \"/\"")
				continue
			}
			if len(c.regions) == 0 {
				c.regions = []string{s}
			}
		case "regions":
			list, ok := v.([]any)
			if !ok {
				bad(k, "must be a list of region names")
				continue
			}
			c.regions = c.regions[:0]
			for i, item := range list {
				field := fmt.Sprintf("%s[%d]", k, i)
				var s string
				switch x := item.(type) {
				case string:
					s = x
				case map[string]any:
					s, _ = x["name"].(string)
					if _, ok := x["values"]; ok {
						bad(field+".values", "per-region settings are not supported")
					}
				}
				if err := checkName(s, "a region name"); err != "" {
					bad(field, "%s", err)
					continue
				}
				if slices.Contains(c.regions, s) {
					bad(field, "%q is listed twice", s)
					continue
				}
				c.regions = append(c.regions, s)
			}
		case "interface":
			s, _ := v.(string)
			switch strings.TrimSuffix(strings.ToLower(s), "url") {
			case "public", "internal", "admin":
				c.iface = strings.TrimSuffix(strings.ToLower(s), "url")
			default:
				bad(k, "must be public, internal or admin")
			}
		case "identity_api_version":
			if s := fmt.Sprint(v); s != "3" && s != "3.0" {
				bad(k, "only Keystone v3 is supported")
			}
		case "verify":
			b, ok := v.(bool)
			if !ok {
				bad(k, "must be a boolean")
				continue
			}
			c.verify = &b
		case "cacert":
			s, ok := v.(string)
			if !ok || s == "" {
				bad(k, "must be the path of a CA bundle file")
				continue
			}
			c.cacert = s
		default:
			bad(k, "unknown cloud setting; known settings are %s", strings.Join(cloudKeys, ", "))
		}
	}
	return c
}

func parseAuth(a *authConfig, prefix string, m map[string]any, strict bool, errs *roster.FieldErrors) {
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := m[k]
		if secretAuthKeys[k] {
			if strict {
				errs.Add(prefix+k, secretMessage)
				continue
			}
			s, ok := v.(string)
			if !ok {
				continue
			}
			switch k {
			case "password":
				a.password, a.hasPassword = roster.Secret(s), s != ""
			case "application_credential_secret":
				a.appCredSecret, a.hasAppCredSecret = roster.Secret(s), s != ""
			}
			continue
		}
		set, known := authStringKeys[k]
		if !known {
			if strict {
				errs.Add(prefix+k, "unknown auth setting; known settings are %s", strings.Join(slices.Sorted(maps.Keys(authStringKeys)), ", "))
			}
			continue
		}
		s, ok := v.(string)
		if !ok {
			if strict {
				errs.Add(prefix+k, "must be a string")
			}
			continue
		}
		*set(a) = s
		if k == "auth_url" && strict {
			if msg := checkAuthURL(s); msg != "" {
				errs.Add(prefix+k, "%s", msg)
			}
		}
	}
}

func checkAuthURL(s string) string {
	u, err := url.Parse(s)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return "must be an http or https URL (Keystone's, e.g. https://keystone.example.com:5000/v3)"
	case u.User != nil:
		return "must not contain credentials"
	case u.RawQuery != "" || u.Fragment != "":
		return "must not have a query or fragment"
	}
	return ""
}

// overlay returns base with every setting c has replacing base's.
func (c *cloudConfig) overlay(base *cloudConfig) *cloudConfig {
	if base == nil {
		return c
	}
	out := *base
	out.name = c.name
	a, b := &out.auth, &c.auth
	if b.authURL != "" && a.authURL != "" && !sameURL(a.authURL, b.authURL) {
		// The secrets of base go to base's Keystone only: a source must
		// not send a clouds.yaml password to a URL of its choosing.
		a.password, a.hasPassword, a.appCredSecret, a.hasAppCredSecret = "", false, "", false
	}
	for _, set := range authStringKeys {
		if v := *set(b); v != "" {
			*set(a) = v
		}
	}
	if b.hasPassword {
		a.password, a.hasPassword, a.passwordSource = b.password, true, b.passwordSource
	}
	if b.hasAppCredSecret {
		a.appCredSecret, a.hasAppCredSecret, a.appCredSecretSource = b.appCredSecret, true, b.appCredSecretSource
	}
	if b.unsupportedAuthType != "" {
		a.unsupportedAuthType = b.unsupportedAuthType
	}
	if c.authType != "" {
		out.authType = c.authType
	}
	if len(c.regions) > 0 {
		out.regions = c.regions
	}
	if c.iface != "" {
		out.iface = c.iface
	}
	if c.verify != nil {
		out.verify = c.verify
	}
	if c.cacert != "" {
		out.cacert = c.cacert
	}
	return &out
}

// fileClouds are the clouds of the clouds.yaml (and secure.yaml) read at
// sync time.
type fileClouds struct {
	path   string // the clouds.yaml read; "" when none was found
	clouds map[string]*cloudConfig
}

// loadFiles reads the first clouds.yaml that exists among the source's
// clouds_yaml_path, $OS_CLIENT_CONFIG_FILE and the standard locations,
// and merges the first secure.yaml found over it, like openstacksdk.
func (d Driver) loadFiles(paths []string) (*fileClouds, error) {
	fc := &fileClouds{clouds: map[string]*cloudConfig{}}
	var candidates []string
	candidates = append(candidates, paths...)
	if p := d.getenv("OS_CLIENT_CONFIG_FILE"); p != "" {
		candidates = append(candidates, p)
	}
	dirs := d.configDirs()
	for _, dir := range dirs {
		candidates = append(candidates, filepath.Join(dir, "clouds.yaml"), filepath.Join(dir, "clouds.yml"))
	}
	for i, p := range candidates {
		m, err := readYAML(p)
		if errors.Is(err, fs.ErrNotExist) {
			if i < len(paths) {
				return nil, fmt.Errorf("clouds_yaml_path: %s does not exist", p)
			}
			continue
		}
		if err != nil {
			return nil, err
		}
		fc.path = p
		addFileClouds(fc.clouds, m, p)
		break
	}
	secure := []string{}
	if p := d.getenv("OS_CLIENT_SECURE_FILE"); p != "" {
		secure = append(secure, p)
	}
	for _, dir := range dirs {
		secure = append(secure, filepath.Join(dir, "secure.yaml"), filepath.Join(dir, "secure.yml"))
	}
	for _, p := range secure {
		m, err := readYAML(p)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		over := map[string]*cloudConfig{}
		addFileClouds(over, m, p)
		for name, c := range over {
			fc.clouds[name] = c.overlay(fc.clouds[name])
		}
		break
	}
	return fc, nil
}

func addFileClouds(into map[string]*cloudConfig, m map[string]any, path string) {
	clouds, _ := m["clouds"].(map[string]any)
	var ignored roster.FieldErrors
	for name, v := range clouds {
		cm, ok := v.(map[string]any)
		if !ok {
			continue
		}
		c := parseCloud(name, "", cm, false, &ignored)
		src := "file " + path
		if c.auth.hasPassword {
			c.auth.passwordSource = src
		}
		if c.auth.hasAppCredSecret {
			c.auth.appCredSecretSource = src
		}
		into[name] = c
	}
}

// readYAML reads a YAML file into a map. Errors name the file and line,
// never a value: the file may hold passwords.
func readYAML(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m map[string]any
	if err := yaml.Unmarshal(data, &m); err != nil {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return nil, fmt.Errorf("read %s: not a clouds.yaml mapping", path)
		}
		return nil, fmt.Errorf("read %s: invalid YAML", path)
	}
	return m, nil
}

// envCloudName is openstacksdk's name for the cloud described by OS_*
// variables.
func (d Driver) envCloudName() string {
	if n := d.getenv("OS_CLOUD_NAME"); n != "" {
		return n
	}
	return "envvars"
}

// envCloud builds a cloud from the OS_* variables, or nil when
// OS_AUTH_URL is not set.
func (d Driver) envCloud() *cloudConfig {
	if d.getenv("OS_AUTH_URL") == "" {
		return nil
	}
	c := &cloudConfig{name: d.envCloudName()}
	a := &c.auth
	for env, key := range map[string]string{
		"OS_AUTH_URL": "auth_url", "OS_USERNAME": "username", "OS_USER_ID": "user_id",
		"OS_USER_DOMAIN_NAME": "user_domain_name", "OS_USER_DOMAIN_ID": "user_domain_id",
		"OS_PROJECT_NAME": "project_name", "OS_TENANT_NAME": "project_name",
		"OS_PROJECT_ID": "project_id", "OS_TENANT_ID": "project_id",
		"OS_PROJECT_DOMAIN_NAME": "project_domain_name", "OS_PROJECT_DOMAIN_ID": "project_domain_id",
		"OS_DOMAIN_NAME": "domain_name", "OS_DOMAIN_ID": "domain_id",
		"OS_APPLICATION_CREDENTIAL_ID": "application_credential_id", "OS_APPLICATION_CREDENTIAL_NAME": "application_credential_name",
	} {
		if v := d.getenv(env); v != "" && *authStringKeys[key](a) == "" {
			*authStringKeys[key](a) = v
		}
	}
	if r := d.getenv("OS_REGION_NAME"); r != "" {
		c.regions = []string{r}
	}
	for _, env := range []string{"OS_INTERFACE", "OS_ENDPOINT_TYPE"} {
		if v := strings.TrimSuffix(strings.ToLower(d.getenv(env)), "url"); v != "" && c.iface == "" {
			c.iface = v
		}
	}
	switch d.getenv("OS_AUTH_TYPE") {
	case "v3applicationcredential", "application_credential":
		c.authType = "application_credential"
	}
	if p := d.getenv("OS_CACERT"); p != "" {
		c.cacert = p
	}
	if b, err := strconv.ParseBool(d.getenv("OS_INSECURE")); err == nil && b {
		f := false
		c.verify = &f
	}
	return c
}

// resolveClouds returns the clouds a sync uses, by name: the source's own
// clouds (merged over same-named clouds of the files) when it has any,
// else every cloud of the files plus the OS_* one, like the plugin; then
// only_clouds picks among them.
func (d Driver) resolveClouds(o *Options) ([]*cloudConfig, *fileClouds, error) {
	files, err := d.loadFiles(o.CloudsYAMLPath)
	if err != nil {
		return nil, nil, err
	}
	all := map[string]*cloudConfig{}
	if len(o.clouds) > 0 {
		for name, c := range o.clouds {
			all[name] = c.overlay(files.clouds[name])
		}
	} else {
		maps.Copy(all, files.clouds)
		if env := d.envCloud(); env != nil {
			if _, dup := all[env.name]; !dup {
				all[env.name] = env
			}
		}
	}
	names := slices.Sorted(maps.Keys(all))
	if len(o.OnlyClouds) > 0 {
		for _, n := range o.OnlyClouds {
			if _, ok := all[n]; !ok {
				where := "the source's clouds"
				if len(o.clouds) == 0 {
					where = "clouds.yaml"
					if files.path != "" {
						where = files.path
					}
				}
				return nil, nil, fmt.Errorf("only_clouds: cloud %q is not in %s (clouds: %s)", n, where, strings.Join(names, ", "))
			}
		}
		names = slices.Clone(o.OnlyClouds)
		slices.Sort(names)
	}
	if len(names) == 0 {
		return nil, nil, errors.New("no cloud to sync: give the source clouds (or auth), a clouds.yaml (clouds_yaml_path), or OS_AUTH_URL and the other OS_* variables")
	}
	out := make([]*cloudConfig, 0, len(names))
	for _, n := range names {
		if err := checkName(n, "a cloud name"); err != "" {
			return nil, nil, fmt.Errorf("cloud %q: %s", n, err)
		}
		out = append(out, all[n])
	}
	return out, files, nil
}

// secrets fills in the cloud's password or application credential secret
// from, in order, the credential store, the files it came with and the
// OS_PASSWORD / OS_APPLICATION_CREDENTIAL_SECRET variables.
func (d Driver) secrets(ctx context.Context, c *cloudConfig) error {
	a := &c.auth
	if d.Credentials != nil {
		cred, ok, err := d.Credentials.Credential(ctx, c.name)
		if err != nil {
			return fmt.Errorf("read the credential of cloud %q: %w", c.name, err)
		}
		if ok && cred.Password != "" {
			a.password, a.hasPassword, a.passwordSource = cred.Password, true, "the credential store"
		}
		if ok && cred.ApplicationCredentialSecret != "" {
			a.appCredSecret, a.hasAppCredSecret, a.appCredSecretSource = cred.ApplicationCredentialSecret, true, "the credential store"
		}
	}
	// OS_PASSWORD and OS_APPLICATION_CREDENTIAL_SECRET belong to the
	// Keystone of OS_AUTH_URL: they are never sent anywhere else.
	if !sameURL(a.authURL, d.getenv("OS_AUTH_URL")) {
		return nil
	}
	if !a.hasPassword {
		if p := d.getenv("OS_PASSWORD"); p != "" {
			a.password, a.hasPassword, a.passwordSource = roster.Secret(p), true, "OS_PASSWORD"
		}
	}
	if !a.hasAppCredSecret {
		if p := d.getenv("OS_APPLICATION_CREDENTIAL_SECRET"); p != "" {
			a.appCredSecret, a.hasAppCredSecret, a.appCredSecretSource = roster.Secret(p), true, "OS_APPLICATION_CREDENTIAL_SECRET"
		}
	}
	return nil
}

// sameURL compares two auth URLs, ignoring a trailing slash.
func sameURL(a, b string) bool {
	return a != "" && strings.TrimSuffix(a, "/") == strings.TrimSuffix(b, "/")
}

func (d Driver) getenv(k string) string {
	if d.Getenv != nil {
		return d.Getenv(k)
	}
	return os.Getenv(k)
}

// configDirs are where clouds.yaml and secure.yaml are looked for.
func (d Driver) configDirs() []string {
	if d.ConfigDirs != nil {
		return d.ConfigDirs
	}
	dirs := []string{"."}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, ".config", "openstack"))
	}
	return append(dirs, "/etc/openstack")
}
