package oidcauth

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
)

func validConfig() Config {
	return Config{Name: "corp", Issuer: "https://idp.example.com/realms/corp", ClientID: "roster"}
}

func TestValidate(t *testing.T) {
	dir := t.TempDir()
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(*Config)
		want   map[string]string // field → part of its message; empty: valid
	}{
		{"valid", func(*Config) {}, nil},
		{"http on 127.0.0.1", func(c *Config) { c.Issuer = "http://127.0.0.1:5556/dex" }, nil},
		{"http on localhost", func(c *Config) { c.Issuer = "http://localhost:8080/" }, nil},
		{"http on ::1", func(c *Config) { c.Issuer = "http://[::1]:8080" }, nil},
		{"every option", func(c *Config) {
			c.Scopes, c.UsernameClaim, c.GroupsClaim, c.Timeout = []string{"profile", "offline_access"}, "email", "https://example.com/groups", Duration(time.Minute)
		}, nil},
		{"http elsewhere", func(c *Config) { c.Issuer = "http://idp.example.com/" },
			map[string]string{"issuer": "must use https (http is allowed only for a loopback host"}},
		{"http on a name that resolves to loopback is still refused", func(c *Config) { c.Issuer = "http://127.0.0.1.nip.io/" },
			map[string]string{"issuer": "must use https"}},
		{"no issuer", func(c *Config) { c.Issuer = "" }, map[string]string{"issuer": "is required"}},
		{"relative issuer", func(c *Config) { c.Issuer = "idp.example.com" }, map[string]string{"issuer": "absolute URL"}},
		{"issuer with a query", func(c *Config) { c.Issuer = "https://idp.example.com/?tenant=1" }, map[string]string{"issuer": "query or fragment"}},
		{"issuer with credentials", func(c *Config) { c.Issuer = "https://u:p@idp.example.com/" }, map[string]string{"issuer": "credentials"}},
		{"issuer with a bar", func(c *Config) { c.Issuer = "https://idp.example.com/a|b" }, map[string]string{"issuer": "'|'"}},
		{"ftp issuer", func(c *Config) { c.Issuer = "ftp://idp.example.com/" }, map[string]string{"issuer": "https URL"}},
		{"bad name", func(c *Config) { c.Name = "Corp IdP" }, map[string]string{"name": "lower-case letters"}},
		{"no name", func(c *Config) { c.Name = "" }, map[string]string{"name": "is required"}},
		{"no client_id", func(c *Config) { c.ClientID = " " }, map[string]string{"client_id": "is required"}},
		{"bad scope", func(c *Config) { c.Scopes = []string{"openid", "a b"} }, map[string]string{"scopes[1]": "is not a scope"}},
		{"bad username_claim", func(c *Config) { c.UsernameClaim = "name" }, map[string]string{"username_claim": "preferred_username, email or sub"}},
		{"bad groups_claim", func(c *Config) { c.GroupsClaim = "my groups" }, map[string]string{"groups_claim": "not a claim name"}},
		{"missing ca_file", func(c *Config) { c.CAFile = filepath.Join(dir, "nope.pem") }, map[string]string{"ca_file": "cannot be read"}},
		{"ca_file without PEM", func(c *Config) { c.CAFile = notPEM }, map[string]string{"ca_file": "holds no PEM certificate"}},
		{"negative timeout", func(c *Config) { c.Timeout = Duration(-time.Second) }, map[string]string{"timeout": "negative"}},
		{"huge timeout", func(c *Config) { c.Timeout = Duration(time.Hour) }, map[string]string{"timeout": "at most"}},
		{"every problem at once", func(c *Config) { *c = Config{Name: "-x", Issuer: "http://idp.example.com", UsernameClaim: "upn"} },
			map[string]string{"name": "", "issuer": "https", "client_id": "required", "username_claim": "upn"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.change(&c)
			err := c.Validate()
			if len(tc.want) == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("Validate: %v (code %q), want %s", err, roster.ErrorCode(err), roster.EINVALID)
			}
			got := map[string]string{}
			for _, f := range roster.ErrorFields(err) {
				got[f.Field] = f.Message
			}
			if len(got) != len(tc.want) {
				t.Errorf("Validate: %v; want problems with exactly %v", err, keys(tc.want))
			}
			for field, part := range tc.want {
				if msg, ok := got[field]; !ok || !strings.Contains(msg, part) {
					t.Errorf("Validate: %s: %q, want it to say %q (all: %v)", field, msg, part, err)
				}
			}
		})
	}
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// TestValidateUnderThePathOfTheEntry: the config loader names the entry.
func TestValidateUnderThePathOfTheEntry(t *testing.T) {
	c := validConfig()
	c.Issuer = "http://idp.example.com/"
	var fe roster.FieldErrors
	fe.Merge("oidc[0]", c.Validate())
	err := fe.Err()
	if err == nil || !strings.Contains(err.Error(), "oidc[0].issuer: \"http://idp.example.com/\" must use https") {
		t.Fatalf("merged: %v, want oidc[0].issuer named", err)
	}
}

func TestConfigDecodes(t *testing.T) {
	const doc = `
name: corp
issuer: https://idp.example.com/
client_id: roster
client_secret: s3cret-from-yaml
scopes: [openid, profile]
username_claim: email
groups_claim: roles
ca_file: /etc/roster/idp-ca.pem
timeout: 30s
`
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(doc))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatal(err)
	}
	want := Config{Name: "corp", Issuer: "https://idp.example.com/", ClientID: "roster", ClientSecret: "s3cret-from-yaml",
		Scopes: []string{"openid", "profile"}, UsernameClaim: "email", GroupsClaim: "roles", CAFile: "/etc/roster/idp-ca.pem",
		Timeout: Duration(30 * time.Second)}
	if !equalConfig(c, want) {
		t.Fatalf("YAML decoded to %+v, want %+v", c, want)
	}

	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "s3cret") || !strings.Contains(string(b), `"timeout":"30s"`) || !strings.Contains(string(b), `"client_id":"roster"`) {
		t.Errorf("JSON: %s; want snake_case keys, timeout 30s, the secret redacted", b)
	}
	var back Config
	if err := json.Unmarshal([]byte(`{"name":"corp","client_secret":"x","timeout":"2s"}`), &back); err != nil || back.Timeout != Duration(2*time.Second) || back.ClientSecret != "x" {
		t.Errorf("JSON decode: %+v, %v", back, err)
	}
	if err := json.Unmarshal([]byte(`{"timeout":"soon"}`), &back); err == nil || !strings.Contains(err.Error(), "not a duration") {
		t.Errorf("JSON decode of a bad timeout: %v", err)
	}
	for _, s := range []string{fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		if strings.Contains(s, "s3cret") {
			t.Errorf("formatted config shows the secret: %s", s)
		}
	}
}

func equalConfig(a, b Config) bool {
	return a.Name == b.Name && a.Issuer == b.Issuer && a.ClientID == b.ClientID && a.ClientSecret == b.ClientSecret &&
		slices.Equal(a.Scopes, b.Scopes) && a.UsernameClaim == b.UsernameClaim && a.GroupsClaim == b.GroupsClaim &&
		a.CAFile == b.CAFile && a.Timeout == b.Timeout
}

func TestDefaults(t *testing.T) {
	c := validConfig().withDefaults()
	if !slices.Equal(c.Scopes, []string{"openid", "profile", "email", "groups"}) || c.UsernameClaim != "preferred_username" ||
		c.GroupsClaim != "groups" || c.Timeout != Duration(10*time.Second) {
		t.Errorf("defaults: %+v", c)
	}
	c = validConfig()
	c.Scopes = []string{"profile", "groups", "profile"}
	if got := c.withDefaults().Scopes; !slices.Equal(got, []string{"openid", "profile", "groups"}) {
		t.Errorf("scopes without openid: %v, want openid added first and no duplicates", got)
	}
}
