package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestCLISignInWithProviders: roster serve with an LDAP directory (a real
// slapd) and an OpenID Connect provider (a real provider process) in its
// config file; roster login signs in with each: --provider with a
// directory password, --sso through a browser that approves the code.
func TestCLISignInWithProviders(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	addr := freeAddr(t)
	base := "http://" + addr
	const ldapPW, idpPW = "alice's directory password", "bob's provider password"

	dirSrv := testenv.LDAP(t)
	dirSrv.AddGroup(t, "ops", dirSrv.AddUser(t, "alice", ldapPW))
	idp := testenv.OIDC(t, testenv.OIDCConfig{RedirectURIs: []string{base + "/api/v1/auth/oidc/corp/callback"},
		Users: []testenv.OIDCUser{{Username: "bob", Password: idpPW, Email: "bob@example.test", Groups: []string{"ops"}}}})

	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "bind.pw"), []byte(dirSrv.ServicePassword+"\n"), 0o600))
	must(t, os.WriteFile(filepath.Join(dir, "client.secret"), []byte(idp.ClientSecret+"\n"), 0o600))
	config := fmt.Sprintf(`public_url: %s
ldap:
  - name: corp-ad
    url: %s
    start_tls: true
    ca_file: %s
    bind_dn: %s
    bind_password_file: %s
    user_base: %s
    group_base: %s
    teams:
      - group: ops
        team: ops
        bindings:
          - {role: operator, scope: server}
oidc:
  - name: corp
    issuer: %s
    client_id: %s
    client_secret_file: %s
    teams:
      - {group: ops, team: ops}
`, base, dirSrv.URL, dirSrv.CAFile, dirSrv.ServiceDN, filepath.Join(dir, "bind.pw"), dirSrv.PeopleDN, dirSrv.GroupsDN,
		idp.Issuer, idp.ClientID, filepath.Join(dir, "client.secret"))
	cfgPath := filepath.Join(dir, "roster.yaml")
	must(t, os.WriteFile(cfgPath, []byte(config), 0o600))
	startNodeAt(t, bin, "sso", filepath.Join(dir, "roster.db"), addr, nil, "--config", cfgPath)

	cli := newCLIEnv(t, bin)
	if _, errOut, code := cli.run("a wrong password, long enough\n", "login", "--server", base, "--user", "alice", "--provider", "corp-ad", "--password-file", "-"); code == 0 ||
		!strings.Contains(errOut, "the name or the password is wrong") {
		t.Fatalf("a wrong directory password: exit %d: %s", code, errOut)
	}
	cli.fails(`no directory "nope"`, "login", "--server", base, "--user", "alice", "--provider", "nope", "--password-file", filepath.Join(dir, "bind.pw"))
	out, errOut, code := cli.run(ldapPW+"\n", "login", "--server", base, "--user", "alice", "--provider", "corp-ad", "--password-file", "-")
	if code != 0 || !strings.Contains(out, "as alice") {
		t.Fatalf("login --provider: exit %d\n%s%s", code, out, errOut)
	}
	cli.ok("inventory", "create", "by-alice") // an operator through the team ops
	cli.ok("logout")

	// --sso: the command waits while a person approves in a browser.
	sso := exec.Command(bin, "login", "--sso", "corp")
	sso.Env = cli.env
	var stdout bytes.Buffer
	sso.Stdout = &stdout
	stderr, err := sso.StderrPipe()
	must(t, err)
	must(t, sso.Start())
	t.Cleanup(func() { sso.Process.Kill() })
	type prompt struct{ link, code string }
	shown := make(chan prompt, 1)
	var said bytes.Buffer
	go func() {
		sc := bufio.NewScanner(io.TeeReader(stderr, &said))
		for sc.Scan() {
			if m := regexp.MustCompile(`Open (\S+) in a browser, sign in, type the code (\S+) and approve`).FindStringSubmatch(sc.Text()); m != nil {
				shown <- prompt{m[1], m[2]}
			}
		}
	}()
	var p prompt
	select {
	case p = <-shown:
	case <-time.After(30 * time.Second):
		t.Fatalf("roster login --sso showed no link and code: %s", said.String())
	}
	if p.link != base+"/auth/device?provider=corp" {
		t.Fatalf("the link %q is not the device page on the public URL", p.link)
	}
	browser := idp.HTTPClient(nil)
	resp, err := idp.SignIn(t.Context(), browser, p.link, "bob", idpPW)
	must(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if resp.StatusCode != http.StatusOK || csrf == nil {
		t.Fatalf("the device page: %d\n%s", resp.StatusCode, page)
	}
	for _, action := range []string{"check", "approve"} {
		resp, err = browser.PostForm(base+"/auth/device", url.Values{"provider": {"corp"}, "user_code": {p.code}, "csrf_token": {string(csrf[1])}, "action": {action}})
		must(t, err)
		page, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d\n%s", action, resp.StatusCode, page)
		}
	}
	done := make(chan error, 1)
	go func() { done <- sso.Wait() }()
	select {
	case err := <-done:
		if err != nil || !strings.Contains(stdout.String(), "as bob") {
			t.Fatalf("roster login --sso: %v\n%s%s", err, stdout.String(), said.String())
		}
	case <-time.After(60 * time.Second):
		t.Fatalf("roster login --sso did not end after the approval: %s", said.String())
	}
	if out := cli.ok("inventory", "list"); !strings.Contains(out, "by-alice") {
		t.Fatalf("inventory list as bob:\n%s", out)
	}
	cli.ok("logout")
}
