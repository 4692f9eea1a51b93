package ldapauth

import (
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rosterhq/roster"
)

// Membership modes: where a user's groups are read from.
const (
	// MembershipMemberOf reads the user's memberOf attribute (Active
	// Directory; OpenLDAP with the memberof overlay), and each group's own
	// memberOf for nesting.
	MembershipMemberOf = "memberOf"
	// MembershipSearch searches group_base with group_filter, {dn} being the
	// user's DN, then each group's DN for nesting.
	MembershipSearch = "search"
)

// Defaults of the settings left empty.
const (
	DefaultUserFilter         = "(&(objectClass=person)(|(uid={username})(sAMAccountName={username})))"
	DefaultUsernameAttribute  = "uid"
	DefaultDisplayAttribute   = "cn"
	DefaultEmailAttribute     = "mail"
	DefaultIDAttribute        = "entryUUID"
	DefaultGroupFilter        = "(&(objectClass=groupOfNames)(member={dn}))"
	DefaultGroupNameAttribute = "cn"
	DefaultMaxDepth           = 8
	DefaultMaxGroups          = 1000
	DefaultTimeout            = 10 * time.Second
)

// Bounds of the numeric settings.
const (
	maxMaxDepth  = 64
	maxMaxGroups = 100_000
	maxTimeout   = 5 * time.Minute
)

// Config is one directory, an entry of the ldap: list in Roster's config
// file.
type Config struct {
	// Name names the directory in Roster (identities' Provider, messages).
	Name string `yaml:"name" json:"name"`
	// URL is ldaps://host[:port] or ldap://host[:port]. Plain ldap://
	// needs StartTLS unless the host is loopback: the bind carries the
	// password.
	URL string `yaml:"url" json:"url"`
	// StartTLS upgrades an ldap:// connection to TLS before any bind.
	StartTLS bool `yaml:"start_tls" json:"start_tls"`
	// CAFile is a PEM file of the CAs trusted to sign the directory's
	// certificate; empty: the system's. The server name checked is the
	// URL's host. Certificate checking cannot be turned off.
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// BindDN and BindPassword are the service account that searches the
	// directory. The caller fills BindPassword (from a file).
	BindDN       string        `yaml:"bind_dn" json:"bind_dn"`
	BindPassword roster.Secret `yaml:"bind_password,omitempty" json:"bind_password,omitempty"`

	// UserBase is where users are searched (whole subtree) with
	// UserFilter, in which {username} stands for the name typed, escaped.
	UserBase   string `yaml:"user_base" json:"user_base"`
	UserFilter string `yaml:"user_filter" json:"user_filter"`
	// UsernameAttribute (uid; sAMAccountName on Active Directory),
	// DisplayNameAttribute (cn or displayName) and EmailAttribute (mail)
	// fill the identity. IDAttribute is its stable subject: entryUUID,
	// or objectGUID on Active Directory (rendered as a canonical UUID).
	UsernameAttribute    string `yaml:"username_attribute" json:"username_attribute"`
	DisplayNameAttribute string `yaml:"display_name_attribute" json:"display_name_attribute"`
	EmailAttribute       string `yaml:"email_attribute" json:"email_attribute"`
	IDAttribute          string `yaml:"id_attribute" json:"id_attribute"`

	// GroupBase is where groups are searched in the search mode; in the
	// memberOf mode, when set, only groups under it count (and are
	// followed for nesting). GroupFilter finds the groups whose member is
	// {dn} (also {username}); GroupNameAttribute names a group.
	GroupBase          string `yaml:"group_base" json:"group_base"`
	GroupFilter        string `yaml:"group_filter" json:"group_filter"`
	GroupNameAttribute string `yaml:"group_name_attribute" json:"group_name_attribute"`
	// Membership is MembershipMemberOf (the default) or MembershipSearch.
	Membership string `yaml:"membership" json:"membership"`
	// Nested follows groups in groups (default true), at most MaxDepth
	// levels (direct groups are level 1). MaxGroups bounds the groups
	// visited: a user in more is refused sign-in (EUNAVAILABLE), since a
	// cut list would depend on the order the directory answers in.
	Nested    *bool `yaml:"nested" json:"nested"`
	MaxDepth  int   `yaml:"max_depth" json:"max_depth"`
	MaxGroups int   `yaml:"max_groups" json:"max_groups"`
	// Timeout bounds a whole sign-in: connection, binds and searches.
	Timeout Duration `yaml:"timeout" json:"timeout"`
}

// Duration is a time.Duration written as "10s" or "1m30s" in the config file.
type Duration time.Duration

func (d Duration) String() string { return time.Duration(d).String() }

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler (YAML and JSON use it).
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(strings.TrimSpace(string(b)))
	if err != nil {
		return fmt.Errorf("%q is not a duration such as 10s or 1m", b)
	}
	*d = Duration(v)
	return nil
}

// withDefaults returns c with the empty settings set to their defaults.
func (c Config) withDefaults() Config {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.UserFilter, DefaultUserFilter)
	def(&c.UsernameAttribute, DefaultUsernameAttribute)
	def(&c.DisplayNameAttribute, DefaultDisplayAttribute)
	def(&c.EmailAttribute, DefaultEmailAttribute)
	def(&c.IDAttribute, DefaultIDAttribute)
	def(&c.GroupFilter, DefaultGroupFilter)
	def(&c.GroupNameAttribute, DefaultGroupNameAttribute)
	def(&c.Membership, MembershipMemberOf)
	if c.Nested == nil {
		yes := true
		c.Nested = &yes
	}
	if c.MaxDepth == 0 {
		c.MaxDepth = DefaultMaxDepth
	}
	if c.MaxGroups == 0 {
		c.MaxGroups = DefaultMaxGroups
	}
	if c.Timeout == 0 {
		c.Timeout = Duration(DefaultTimeout)
	}
	return c
}

// attributePattern matches an attribute description: a name or an OID.
var attributePattern = regexp.MustCompile(`^([A-Za-z][A-Za-z0-9-]{0,127}|[0-9]+(\.[0-9]+)+)$`)

// Validate checks the directory's settings, the defaults applied, and
// returns every problem at once as an EINVALID *roster.Error whose fields
// are the settings' keys ("url", "user_filter"). Callers validating the
// ldap: list use ValidateAll, which names them "ldap[0].url".
func (c *Config) Validate() error {
	cfg := c.withDefaults()
	var fe roster.FieldErrors
	if err := roster.ValidateName("name", cfg.Name); err != nil {
		fe = append(fe, *err)
	}
	cfg.validateURL(&fe)
	if cfg.BindDN == "" {
		fe.Add("bind_dn", "required: the service account that searches for users")
	} else if _, err := ldap.ParseDN(cfg.BindDN); err != nil {
		fe.Add("bind_dn", "is not a DN: %v", err)
	}
	if cfg.BindPassword == "" {
		fe.Add("bind_password", "required: the service account's password")
	}
	dn := func(field, value string, required bool) {
		switch {
		case value == "" && required:
			fe.Add(field, "required")
		case value == "":
		default:
			if _, err := ldap.ParseDN(value); err != nil {
				fe.Add(field, "is not a DN: %v", err)
			}
		}
	}
	dn("user_base", cfg.UserBase, true)
	dn("group_base", cfg.GroupBase, cfg.Membership == MembershipSearch)

	filter := func(field, value string, placeholders ...string) {
		probe := value
		for _, p := range placeholders {
			if !strings.Contains(value, p) {
				fe.Add(field, "must contain %s", p)
			}
			probe = strings.ReplaceAll(probe, p, "x")
		}
		probe = strings.ReplaceAll(probe, "{username}", "x")
		if _, err := ldap.CompileFilter(probe); err != nil {
			fe.Add(field, "is not an LDAP filter: %v", err)
		}
	}
	filter("user_filter", cfg.UserFilter, "{username}")
	if cfg.Membership == MembershipSearch {
		filter("group_filter", cfg.GroupFilter, "{dn}")
	}

	for _, a := range []struct{ field, value string }{
		{"username_attribute", cfg.UsernameAttribute},
		{"display_name_attribute", cfg.DisplayNameAttribute},
		{"email_attribute", cfg.EmailAttribute},
		{"id_attribute", cfg.IDAttribute},
		{"group_name_attribute", cfg.GroupNameAttribute},
	} {
		if !attributePattern.MatchString(a.value) {
			fe.Add(a.field, "%q is not an attribute name", a.value)
		}
	}

	switch cfg.Membership {
	case MembershipMemberOf, MembershipSearch:
	default:
		fe.Add("membership", "%q is not a membership mode: give %s or %s", cfg.Membership, MembershipMemberOf, MembershipSearch)
	}
	if cfg.MaxDepth < 1 || cfg.MaxDepth > maxMaxDepth {
		fe.Add("max_depth", "must be 1 to %d (levels of nested groups; 0 means %d)", maxMaxDepth, DefaultMaxDepth)
	}
	if cfg.MaxGroups < 1 || cfg.MaxGroups > maxMaxGroups {
		fe.Add("max_groups", "must be 1 to %d (0 means %d)", maxMaxGroups, DefaultMaxGroups)
	}
	if t := time.Duration(cfg.Timeout); t < 0 || t > maxTimeout {
		fe.Add("timeout", "must be more than 0 and at most %s (0 means %s)", maxTimeout, DefaultTimeout)
	}
	return fe.Err()
}

func (c *Config) validateURL(fe *roster.FieldErrors) {
	if c.URL == "" {
		fe.Add("url", "required: ldaps://host[:port] or ldap://host[:port]")
		return
	}
	u, err := url.Parse(c.URL)
	if err != nil {
		fe.Add("url", "is not a URL: %v", err)
		return
	}
	switch {
	case u.Scheme != "ldap" && u.Scheme != "ldaps":
		fe.Add("url", "must be ldaps://host[:port] or ldap://host[:port]")
	case u.Hostname() == "":
		fe.Add("url", "has no host")
	case u.User != nil:
		fe.Add("url", "must not hold a user (give bind_dn and bind_password)")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		fe.Add("url", "must be only scheme://host[:port], without a DN or query (give user_base)")
	case u.Port() != "":
		if p, err := strconv.Atoi(u.Port()); err != nil || p < 1 || p > 65535 {
			fe.Add("url", "has a bad port %q", u.Port())
		}
	}
	switch {
	case u.Scheme == "ldaps" && c.StartTLS:
		fe.Add("start_tls", "is for ldap:// URLs: ldaps:// is TLS from the start")
	case u.Scheme == "ldap" && !c.StartTLS && u.Hostname() != "" && !roster.IsLoopbackHost(u.Hostname()):
		fe.Add("url", "plain ldap:// to %s would send passwords in the clear: use ldaps:// or start_tls: true", u.Hostname())
	case u.Scheme == "ldap" && !c.StartTLS && c.CAFile != "":
		fe.Add("ca_file", "is used only with ldaps:// or start_tls: true")
	}
}

// ValidateAll checks the ldap: list: each entry (its problems named
// "ldap[0].url") and that no two share a name.
func ValidateAll(list []Config) error {
	var fe roster.FieldErrors
	seen := map[string]int{}
	for i := range list {
		prefix := fmt.Sprintf("ldap[%d]", i)
		fe.Merge(prefix, list[i].Validate())
		if j, dup := seen[strings.ToLower(list[i].Name)]; dup && list[i].Name != "" {
			fe.Add(prefix+".name", "%q is also the name of ldap[%d]", list[i].Name, j)
		} else {
			seen[strings.ToLower(list[i].Name)] = i
		}
	}
	return fe.Err()
}
