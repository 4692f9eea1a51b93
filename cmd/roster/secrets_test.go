package main

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testenv"
)

// databaseCommands are every command that takes --database.
var databaseCommands = [][]string{
	{"serve", "--listen", "127.0.0.1:0"},
	{"demo", "--listen", "127.0.0.1:0", "--size", "5"},
	{"migrate"},
	{"sync", "--source", "ec2"},
	{"token", "create", "--name", "ci", "--role", "runner"},
	{"token", "list"},
	{"token", "revoke", "ci"},
	{"vault", "policy"},
}

// dbPassword is the password the database URLs carry.
const dbPassword = "Pw-s3cr3t-XyZ"

// runWithDatabase runs the real binary's command with --database dsn and
// returns everything it printed; a command still running after limit is
// stopped.
func runWithDatabase(t *testing.T, bin string, args []string, dsn string, limit time.Duration) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), limit)
	defer cancel()
	dir := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, append(args, "--database", dsn, "--data-dir", dir, "--log-format", "text")...)
	cmd.Env = append(os.Environ(), "HOME="+dir, "PGCONNECT_TIMEOUT=2")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestNoCommandPrintsTheDatabasePassword runs every command that takes
// --database, as the real binary, with PostgreSQL URLs carrying a password
// that cannot work (nothing listening, no such host, a bad port or
// parameter, a password with characters it should have encoded, a
// mistyped scheme), and with a real PostgreSQL server (no such database;
// a good one), and checks that the password is in neither stdout nor
// stderr.
func TestNoCommandPrintsTheDatabasePassword(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	check := func(t *testing.T, args []string, dsn string, wantFail bool) {
		t.Helper()
		out, err := runWithDatabase(t, bin, args, dsn, 30*time.Second)
		if strings.Contains(out, dbPassword) || strings.Contains(out, url.QueryEscape(dbPassword)) {
			t.Errorf("roster %s --database %s printed the password:\n%s", strings.Join(args, " "), dsn, out)
		}
		if wantFail && (err == nil || strings.TrimSpace(out) == "") {
			t.Errorf("roster %s --database %s: err %v, output %q; want a failure that says why", strings.Join(args, " "), dsn, err, out)
		}
	}
	pw := dbPassword
	for _, dsn := range []string{
		"postgres://roster:" + pw + "@127.0.0.1:1/roster",                                              // nothing listening
		"postgres://roster:" + pw + "@192.0.2.1:5432/roster?connect_timeout=1",                         // unreachable (TEST-NET-1)
		"postgres://roster:" + pw + "@no-such-host.invalid/roster",                                     // no such host
		"postgres://roster:" + pw + "@127.0.0.1:badport/roster",                                        // cannot be parsed
		"postgres://roster:" + pw + "@127.0.0.1:1/roster?sslmode=bogus",                                // a bad parameter
		"postgres://roster@127.0.0.1:1/roster?password=" + pw + "&connect_timeout=x",                   // the password as a parameter
		"postgres://roster:p@" + pw + "@127.0.0.1:1/roster",                                            // an @ not encoded
		"postgres://roster:12/" + pw + "@127.0.0.1:1/roster",                                           // a / not encoded
		"POSTGRESQL://roster:" + pw + "@127.0.0.1:1/roster",                                            // upper case
		"postgre://roster:" + pw + "@127.0.0.1:1/roster",                                               // a mistyped scheme
		"postgres:/roster:" + pw + "@127.0.0.1:1/roster",                                               // a missing slash
		"host=127.0.0.1 port=1 user=roster password=" + pw + " dbname=roster",                          // libpq key=value
		"postgres://roster:" + pw + "@127.0.0.1:1/roster?sslmode=verify-full&sslrootcert=/nonexistent", // a missing file
	} {
		for _, args := range databaseCommands {
			if args[0] == "vault" {
				check(t, args, dsn, false) // prints a policy, using no database
				continue
			}
			check(t, args, dsn, true)
		}
	}

	t.Run("a real PostgreSQL", func(t *testing.T) {
		pg := testenv.SharedPostgres(t)
		u, err := url.Parse(pg.DSNFor("roster_no_such_db"))
		must(t, err)
		u.User = url.UserPassword(u.User.Username(), pw) // trust authentication takes any
		for _, args := range databaseCommands {
			if args[0] != "vault" {
				check(t, args, u.String(), true)
			}
		}
		u, err = url.Parse(pg.CreateDatabase(t))
		must(t, err)
		u.User = url.UserPassword(u.User.Username(), pw)
		for _, args := range [][]string{{"migrate"}, {"token", "create", "--name", "ci", "--role", "runner"}, {"token", "list"}, {"token", "revoke", "ci"}, {"sync", "--source", "ec2"}} {
			out, err := runWithDatabase(t, bin, args, u.String(), 60*time.Second)
			if strings.Contains(out, pw) {
				t.Errorf("roster %s printed the password:\n%s", strings.Join(args, " "), out)
			}
			if args[0] == "migrate" && (err != nil || !strings.Contains(out, fmt.Sprintf("postgres://%s:xxxxx@", u.User.Username()))) {
				t.Errorf("migrate: %v\n%s", err, out)
			}
		}
	})
}
