package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestCLIPeople drives users, teams, members and role bindings through the
// built binary against a real server: names wherever ids, a password only
// from a file or stdin, and the errors a user makes.
func TestCLIPeople(t *testing.T) {
	srv := startCLIServer(t)
	cli := newCLIEnv(t, srv.bin, "ROSTER_URL="+srv.url, "ROSTER_TOKEN_FILE="+srv.tokenFile)
	dir := t.TempDir()
	const pw, pw2 = "correct horse battery staple", "another long passphrase"
	pwFile := filepath.Join(dir, "alice.pw")
	must(t, os.WriteFile(pwFile, []byte(pw+"\n"), 0o600))

	type user struct {
		apiObject
		Source      string `json:"source"`
		DisplayName string `json:"display_name"`
		HasPassword bool   `json:"has_password"`
		Disabled    bool   `json:"disabled"`
	}
	// Users: a password from a file, another from stdin; never a flag.
	var alice user
	out := cli.ok("user", "create", "alice", "--display-name", "Alice Example", "--password-file", pwFile, "-o", "json")
	if strings.Contains(out, pw) || strings.Contains(out, "argon2") {
		t.Fatalf("user create shows the password or its hash: %s", out)
	}
	cli.json(&alice, "user", "get", "alice")
	if alice.Name != "alice" || alice.Source != "local" || !alice.HasPassword || alice.DisplayName != "Alice Example" {
		t.Fatalf("user get: %+v", alice)
	}
	cli.fails("unknown flag: --password", "user", "create", "mallory", "--password", pw)
	cli.fails("--password-file", "user", "create", "mallory", "--password-file", filepath.Join(dir, "absent"))
	stdout, stderr, code := cli.run(pw2+"\n", "user", "update", "alice", "--password-file", "-", "--disabled", "-o", "json")
	if code != 0 || strings.Contains(stdout+stderr, pw2) {
		t.Fatalf("user update --password-file -: exit %d\n%s%s", code, stdout, stderr)
	}
	cli.json(&alice, "user", "get", alice.ID)
	if !alice.Disabled || !alice.HasPassword {
		t.Fatalf("after update: %+v", alice)
	}
	cli.json(&alice, "user", "update", "alice", "--disabled=false")
	if alice.Disabled {
		t.Fatalf("--disabled=false left the user disabled: %+v", alice)
	}
	var bob user
	cli.json(&bob, "user", "create", "bob@example.test", "--source", "oidc")
	if bob.Source != "oidc" || bob.HasPassword {
		t.Fatalf("user create --source oidc: %+v", bob)
	}
	cli.fails("only a local user has a password", "user", "create", "carol", "--source", "ldap", "--password-file", pwFile)
	cli.fails("name", "user", "create", "Carol")
	if table := cli.ok("user", "list"); !regexp.MustCompile(`(?m)^NAME\s+ID\s+SOURCE\s+DISPLAY NAME\s+EMAIL\s+PASSWORD\s+DISABLED\s+LAST SIGN-IN\n` +
		`alice\s+` + alice.ID + `\s+local\s+Alice Example\s+-\s+set\s+false\s+-\n` + `bob@example.test\s+` + bob.ID + `\s+oidc\s+-\s+-\s+no\s+false\s+-\n`).MatchString(table) {
		t.Fatalf("user list table:\n%s", table)
	}

	// Teams and members, by name or id.
	var ops struct {
		apiObject
		Description string `json:"description"`
	}
	cli.json(&ops, "team", "create", "ops", "--description", "Operations")
	if ops.Name != "ops" || ops.Description != "Operations" {
		t.Fatalf("team create: %+v", ops)
	}
	cli.fails("already exists", "team", "create", "ops")
	var members []apiObject
	cli.json(&members, "team", "member", "add", "ops", "alice")
	cli.json(&members, "team", "member", "add", ops.ID, bob.ID)
	if len(members) != 2 || members[0].Name != "alice" || members[1].Name != "bob@example.test" {
		t.Fatalf("team member add: %+v", members)
	}
	cli.fails("user", "team", "member", "add", "ops", "nobody")
	if out := cli.ok("team", "member", "remove", "ops", "bob@example.test"); !strings.Contains(out, "removed bob@example.test from team ops") {
		t.Fatalf("team member remove: %s", out)
	}
	cli.fails("not a member", "team", "member", "remove", "ops", "bob@example.test")
	cli.json(&members, "team", "member", "list", "ops")
	if len(members) != 1 || members[0].Name != "alice" {
		t.Fatalf("team member list: %+v", members)
	}
	cli.json(&ops, "team", "update", "ops", "--name", "operations")
	if ops.Name != "operations" {
		t.Fatalf("team update --name: %+v", ops)
	}
	if table := cli.ok("team", "list"); !regexp.MustCompile(`(?m)^NAME\s+ID\s+DESCRIPTION\s+CREATED\n` + `operations\s+` + ops.ID + `\s+Operations\s`).MatchString(table) {
		t.Fatalf("team list table:\n%s", table)
	}

	// Role bindings: names in, names out.
	cli.ok("inventory", "create", "prod")
	type binding struct {
		ID          string  `json:"id"`
		SubjectKind string  `json:"subject_kind"`
		SubjectName string  `json:"subject_name"`
		Role        string  `json:"role"`
		Scope       string  `json:"scope"`
		TargetName  *string `json:"target_name"`
	}
	var onProd, onServer binding
	cli.json(&onProd, "binding", "create", "--team", "operations", "--role", "runner", "--scope", "inventory", "--target", "prod")
	if onProd.SubjectKind != "team" || onProd.SubjectName != "operations" || onProd.TargetName == nil || *onProd.TargetName != "prod" {
		t.Fatalf("binding create: %+v", onProd)
	}
	cli.json(&onServer, "binding", "create", "--user", "alice", "--role", "auditor", "--scope", "server")
	cli.fails("runner", "binding", "create", "--user", "alice", "--role", "runner", "--scope", "server")
	cli.fails("target", "binding", "create", "--user", "alice", "--role", "operator", "--scope", "inventory", "--target", "staging")
	cli.fails("user", "binding", "create", "--role", "admin", "--scope", "server")
	cli.fails("none of the others can be", "binding", "create", "--user", "alice", "--team", "operations", "--role", "admin", "--scope", "server")
	var bindings []binding
	cli.json(&bindings, "binding", "list", "--user", "alice")
	if len(bindings) != 1 || bindings[0].ID != onServer.ID {
		t.Fatalf("binding list --user alice: %+v", bindings)
	}
	cli.json(&bindings, "binding", "list", "--scope", "inventory", "--target", "prod")
	if len(bindings) != 1 || bindings[0].ID != onProd.ID {
		t.Fatalf("binding list --scope inventory --target prod: %+v", bindings)
	}
	if table := cli.ok("binding", "list"); !regexp.MustCompile(`(?m)^ID\s+SUBJECT\s+ROLE\s+SCOPE\s+TARGET\s+CREATED\n`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^`+onProd.ID+`\s+team operations\s+runner\s+inventory\s+prod\s`).MatchString(table) ||
		!regexp.MustCompile(`(?m)^`+onServer.ID+`\s+user alice\s+auditor\s+server\s+-\s`).MatchString(table) {
		t.Fatalf("binding list table:\n%s", table)
	}
	var got binding
	cli.json(&got, "binding", "get", onProd.ID)
	if got.ID != onProd.ID {
		t.Fatalf("binding get: %+v", got)
	}
	if out := cli.ok("binding", "delete", onProd.ID); !strings.Contains(out, "deleted role binding "+onProd.ID) {
		t.Fatalf("binding delete: %s", out)
	}
	cli.fails("not found", "binding", "delete", onProd.ID)

	// Deleting a team leaves its members; deleting a user its bindings.
	cli.ok("team", "delete", "operations")
	cli.fails("not found", "team", "get", "operations")
	cli.ok("user", "get", "alice")
	cli.ok("user", "delete", "alice")
	cli.json(&bindings, "binding", "list")
	if len(bindings) != 0 {
		t.Fatalf("bindings after deleting alice: %+v", bindings)
	}
	cli.fails("not found", "user", "get", "alice")
}
