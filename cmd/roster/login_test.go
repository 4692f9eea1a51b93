package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCLILogin: a person signs in with roster login, works as itself with
// the token it keeps in a context, and roster logout revokes the token on
// the server and forgets it, all through the built binary.
func TestCLILogin(t *testing.T) {
	srv := startCLIServer(t)
	admin := newCLIEnv(t, srv.bin, "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile)
	const pw = "correct horse battery staple"
	dir := t.TempDir()
	pwFile := filepath.Join(dir, "alice.pw")
	must(t, os.WriteFile(pwFile, []byte(pw+"\n"), 0o600))
	admin.ok("user", "create", "alice", "--password-file", pwFile)
	admin.ok("binding", "create", "--user", "alice", "--role", "operator", "--scope", "server")

	cli := newCLIEnv(t, srv.bin)
	home := strings.TrimPrefix(cli.env[slices.IndexFunc(cli.env, func(kv string) bool { return strings.HasPrefix(kv, "HOME=") })], "HOME=")
	file := filepath.Join(home, ".config", "roster", "config.yaml")

	cli.fails("give --server URL", "login", "--user", "alice", "--password-file", pwFile)
	cli.fails("no terminal to ask the password on", "login", "--server", srv.url, "--user", "alice")
	if _, errOut, code := cli.run("a wrong password, long enough\n", "login", "--server", srv.url, "--user", "alice", "--password-file", "-"); code == 0 || !strings.Contains(errOut, "the name or the password is wrong") {
		t.Fatalf("login with a wrong password: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(file); err == nil {
		t.Fatal("a failed sign-in wrote the contexts file")
	}
	out, errOut, code := cli.run(pw+"\n", "login", "--server", srv.url, "--user", "alice", "--password-file", "-")
	if code != 0 || !strings.Contains(out, "signed in to") || !strings.Contains(out, "as alice (context default)") || strings.Contains(out+errOut, pw) {
		t.Fatalf("login: exit %d\n%s%s", code, out, errOut)
	}
	fi, err := os.Stat(file)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s is %v, want 0600", file, fi.Mode().Perm())
	}
	b, err := os.ReadFile(file)
	must(t, err)
	token := ""
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "token: "); ok {
			token = v
		}
	}
	if !strings.HasPrefix(token, "rst_") || strings.Contains(string(b), pw) {
		t.Fatalf("the contexts file keeps no token, or the password:\n%s", b)
	}

	// The token acts as alice: an operator, who makes no token.
	cli.ok("inventory", "create", "alices")
	cli.fails(`user "alice" may not do this`, "token", "create", "--name", "t", "--role", "runner")
	cli.fails(`user "alice" may not do this`, "user", "list")

	// A context with a token file keeps the token there.
	tokFile := filepath.Join(dir, "prod.token")
	cli.ok("context", "set", "prod", "--server", srv.url, "--token-file", tokFile)
	cli.ok("login", "--context", "prod", "--user", "alice", "--password-file", pwFile)
	fi, err = os.Stat(tokFile)
	must(t, err)
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("%s is %v, want 0600", tokFile, fi.Mode().Perm())
	}
	if out := cli.ok("inventory", "list", "--context", "prod"); !strings.Contains(out, "alices") {
		t.Fatalf("inventory list with the token file:\n%s", out)
	}
	cli.ok("logout", "--context", "prod")
	if _, err := os.Stat(tokFile); err == nil {
		t.Fatal("logout left the token file")
	}

	// Signing out revokes the token on the server, not only here.
	revoked := newCLIEnv(t, srv.bin, "ROSTER_URL="+srv.url, "ROSTER_TOKEN="+token)
	revoked.ok("inventory", "get", "alices")
	if out := cli.ok("logout"); !strings.Contains(out, "signed out of") {
		t.Fatalf("logout: %s", out)
	}
	revoked.fails("not valid", "inventory", "get", "alices")
	cli.fails("context default has no token", "inventory", "list")
	cli.fails("holds no token", "logout")

	// A service token is not revoked by logout.
	svc := newCLIEnv(t, srv.bin)
	svc.ok("context", "set", "svc", "--server", srv.url, "--token-file", srv.tokenFile)
	svc.fails("service token", "logout")
	admin.ok("inventory", "list")
}
