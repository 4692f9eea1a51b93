package ldapauth

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
)

func validConfig() Config {
	return Config{
		Name:         "corp",
		URL:          "ldaps://dc1.corp.example:636",
		BindDN:       "cn=service,dc=corp,dc=example",
		BindPassword: "service-password",
		UserBase:     "ou=people,dc=corp,dc=example",
	}
}

// TestValidate checks that each setting is refused with its own field name,
// every problem at once.
func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   map[string]string // field -> part of the message; empty: valid
	}{
		{"defaults", func(*Config) {}, nil},
		{"starttls", func(c *Config) { c.URL = "ldap://dc1.corp.example"; c.StartTLS = true }, nil},
		{"plain loopback", func(c *Config) { c.URL = "ldap://127.0.0.1:3389" }, nil},
		{"plain localhost", func(c *Config) { c.URL = "ldap://localhost" }, nil},
		{"plain elsewhere", func(c *Config) { c.URL = "ldap://dc1.corp.example" },
			map[string]string{"url": "in the clear"}},
		{"plain address elsewhere", func(c *Config) { c.URL = "ldap://10.0.0.5:389" },
			map[string]string{"url": "in the clear"}},
		{"starttls on ldaps", func(c *Config) { c.StartTLS = true },
			map[string]string{"start_tls": "ldap://"}},
		{"ca file unused", func(c *Config) { c.URL = "ldap://127.0.0.1"; c.CAFile = "/ca.pem" },
			map[string]string{"ca_file": "only with"}},
		{"other scheme", func(c *Config) { c.URL = "https://dc1.corp.example" },
			map[string]string{"url": "ldaps://"}},
		{"url with a dn", func(c *Config) { c.URL = "ldaps://dc1.corp.example/dc=corp?uid" },
			map[string]string{"url": "without a DN"}},
		{"url with a user", func(c *Config) { c.URL = "ldaps://u:p@dc1.corp.example" },
			map[string]string{"url": "user"}},
		{"no url", func(c *Config) { c.URL = "" }, map[string]string{"url": "required"}},
		{"membership", func(c *Config) { c.Membership = "nested" },
			map[string]string{"membership": `"nested" is not a membership mode`}},
		{"search needs group_base", func(c *Config) { c.Membership = MembershipSearch },
			map[string]string{"group_base": "required"}},
		{"group filter without dn", func(c *Config) {
			c.Membership, c.GroupBase, c.GroupFilter = MembershipSearch, "ou=groups,dc=corp", "(objectClass=group)"
		}, map[string]string{"group_filter": "{dn}"}},
		{"user filter without username", func(c *Config) { c.UserFilter = "(uid=alice)" },
			map[string]string{"user_filter": "{username}"}},
		{"user filter broken", func(c *Config) { c.UserFilter = "(&(uid={username})" },
			map[string]string{"user_filter": "not an LDAP filter"}},
		{"attribute", func(c *Config) { c.IDAttribute = "entry UUID" },
			map[string]string{"id_attribute": "not an attribute name"}},
		{"limits", func(c *Config) { c.MaxDepth, c.MaxGroups, c.Timeout = -1, 1_000_000, Duration(-time.Second) },
			map[string]string{"max_depth": "1 to 64", "max_groups": "1 to", "timeout": "more than 0"}},
		{"everything at once", func(c *Config) { *c = Config{} }, map[string]string{
			"name": "1-63", "url": "required", "bind_dn": "required", "bind_password": "required", "user_base": "required",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate() = %v, want nil", err)
				}
				return
			}
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("Validate() = %v (code %q), want EINVALID", err, roster.ErrorCode(err))
			}
			got := map[string]string{}
			for _, f := range roster.ErrorFields(err) {
				got[f.Field] += f.Message + ";"
			}
			for field, part := range tc.want {
				if !strings.Contains(got[field], part) {
					t.Errorf("%s: got %q, want a message with %q (all: %v)", field, got[field], part, err)
				}
			}
			if len(got) != len(tc.want) {
				t.Errorf("fields %v, want only %v", got, tc.want)
			}
		})
	}
}

// TestValidateAll names problems as they sit in the config file, and
// refuses two directories of one name.
func TestValidateAll(t *testing.T) {
	a, b := validConfig(), validConfig()
	b.URL = "ldap://dc2.corp.example"
	err := ValidateAll([]Config{a, b})
	got := map[string]bool{}
	for _, f := range roster.ErrorFields(err) {
		got[f.Field] = true
	}
	if !got["ldap[1].url"] || !got["ldap[1].name"] || len(got) != 2 {
		t.Errorf("ValidateAll = %v, want ldap[1].url (plain ldap) and ldap[1].name (duplicate)", err)
	}
	b.Name, b.StartTLS = "branch", true
	if err := ValidateAll([]Config{a, b}); err != nil {
		t.Errorf("ValidateAll = %v, want nil", err)
	}
}

// TestConfigFile reads a directory as it sits in Roster's YAML config file,
// and shows its password redacted however it is printed.
func TestConfigFile(t *testing.T) {
	var file struct {
		LDAP []Config `yaml:"ldap"`
	}
	err := yaml.Unmarshal([]byte(`
ldap:
  - name: corp
    url: ldap://dc1.corp.example
    start_tls: true
    ca_file: /etc/roster/corp-ca.pem
    bind_dn: CN=roster,OU=Services,DC=corp,DC=example
    bind_password: from-the-file-1234
    user_base: OU=Staff,DC=corp,DC=example
    username_attribute: sAMAccountName
    display_name_attribute: displayName
    id_attribute: objectGUID
    membership: memberOf
    nested: false
    max_depth: 3
    timeout: 2500ms
`), &file)
	if err != nil {
		t.Fatal(err)
	}
	if len(file.LDAP) != 1 {
		t.Fatalf("read %d directories, want 1", len(file.LDAP))
	}
	c := file.LDAP[0]
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate() = %v", err)
	}
	if c.Nested == nil || *c.Nested || c.MaxDepth != 3 || time.Duration(c.Timeout) != 2500*time.Millisecond ||
		c.UsernameAttribute != "sAMAccountName" || !c.StartTLS || c.BindPassword.Reveal() != "from-the-file-1234" {
		t.Errorf("read %+v", c)
	}
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	y, err := yaml.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{fmt.Sprintf("%v %+v %#v", c, c, c), string(j), string(y)} {
		if strings.Contains(out, "from-the-file-1234") {
			t.Errorf("the bind password shows: %s", out)
		}
	}
	var back Config
	if err := json.Unmarshal([]byte(`{"timeout":"3s","max_groups":50}`), &back); err != nil || time.Duration(back.Timeout) != 3*time.Second {
		t.Errorf("JSON timeout: %v %v", back.Timeout, err)
	}
}
