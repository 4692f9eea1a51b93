package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestConfigFileErrorsSayWhy: a config file that cannot be read as
// settings is one line naming the file, the line and what is wrong.
func TestConfigFileErrorsSayWhy(t *testing.T) {
	for file, want := range map[string]string{
		"listen: [\n":              "line 1: did not find expected node content",
		"nosuch: 1\n":              "line 1: unknown setting nosuch",
		"nosuch: 1\nlisten: [a]\n": "line 1: unknown setting nosuch; line 2: cannot unmarshal !!seq into string",
		"sync_timeout: abc\n":      `"abc" is not a duration such as 30s, 10m or 2h`,
		"sync_concurrency: lots\n": "line 1: cannot unmarshal !!str `lots` into int",
	} {
		path := filepath.Join(t.TempDir(), "roster.yaml")
		must(t, os.WriteFile(path, []byte(file), 0o600))
		_, _, err := run(t, t.Context(), "serve", "--config", path, "--data-dir", t.TempDir())
		if err == nil || err.Error() != "config file "+path+": "+want {
			t.Errorf("config %q: %v, want: config file %s: %s", file, err, path, want)
		}
	}
}

// TestSignInConfigErrors: the sign-in providers of a config file are
// checked at start, every problem at once and naming its field, and a
// secret written into the file is refused without being shown.
func TestSignInConfigErrors(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.yaml")
	must(t, os.WriteFile(path, []byte(`trusted_proxies: 10.0.0.0/8, proxy.example
ldap:
  - name: corp
    url: ldap://dc.example.com
    bind_password: hunter2-in-the-config
    user_base: ou=people,dc=example
    teams:
      - {group: ops, team: "Bad Name", bindings: [{role: runner, scope: server}]}
oidc:
  - name: corp
    issuer: http://idp.example.com/
    client_id: roster
`), 0o600))
	_, _, err := run(t, t.Context(), "serve", "--config", path, "--data-dir", t.TempDir())
	if err == nil {
		t.Fatal("serve started with a bad sign-in config")
	}
	for _, want := range []string{"ldap[0].bind_password: a password goes in a file", "ldap[0].url: plain ldap://", "ldap[0].teams[0].team:",
		"ldap[0].teams[0].bindings[0].role:", "ldap[0].group_base: is required with teams", `oidc[0].name: "corp" is taken`, "oidc[0].client_secret_file: is required", "oidc[0].issuer:", "public_url: is required", `trusted_proxies: "proxy.example" is neither`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("the error does not say %q: %v", want, err)
		}
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("the error shows the password: %v", err)
	}
}
