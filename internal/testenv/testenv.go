// Package testenv gives tests the real components Roster integrates with: a Vault dev
// server, a throwaway PostgreSQL cluster, Ansible's ansible-inventory, an OpenLDAP
// slapd with a directory of the test's own (LDAP) and an OpenID Connect provider
// (OIDC).
//
// # The rule for missing dependencies
//
// A test that needs a component calls the helper for it (Vault, Postgres,
// AnsibleInventory, ...). When the component is not installed the helper calls Need,
// which skips the test, or fails it when ROSTER_REQUIRE_INTEGRATION=1 (as CI sets it,
// after running scripts/install-test-deps.sh). A component that is installed but
// misbehaves (does not start, does not answer) always fails the test.
//
// # Per-test and shared servers
//
// Vault(t) and Postgres(t) start a server for the calling test and stop it in
// t.Cleanup. SharedVault(t) and SharedPostgres(t) return one server per test binary
// (started on first use); they need the package's TestMain to hand control to Main,
// which stops the shared servers when the tests are done:
//
//	func TestMain(m *testing.M) { testenv.Main(m) }
//
// Tests using a shared server must not change its global state (seal it, stop it) and
// should isolate their data: PostgresServer.CreateDatabase gives each test a fresh
// database; on Vault, use a mount path of the test's own.
//
// Every server runs in its own process group on 127.0.0.1 and gets SIGKILL (Vault) or
// SIGQUIT (PostgreSQL) from the kernel if the test binary dies without cleaning up.
// Its output goes to a log file that is written into the test log when a test using
// the server fails.
//
// # The user's world
//
// Development and CI machines export variables a user's machine lacks, such as
// SSL_CERT_FILE and AWS_CA_BUNDLE, and a test can pass only because of them. Main
// runs the package's tests in a process that never saw the variables that choose
// trusted certificate authorities (it restarts the test binary without them), so
// every package with tests that talk TLS or start the cloud SDKs calls it from its
// TestMain, even if it shares no server. UserEnv is the environment for programs a
// test starts; RunInChild runs a test again in a child process with an environment
// of its choosing, such as an SSL_CERT_FILE naming a simulator's CA, the way a user
// trusts one.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"testing"
)

// RequireEnv names the environment variable that turns a missing dependency from a
// skip into a failure ("1" or "true").
const RequireEnv = "ROSTER_REQUIRE_INTEGRATION"

// Required reports whether missing dependencies fail tests instead of skipping them.
func Required() bool {
	v, _ := strconv.ParseBool(os.Getenv(RequireEnv))
	return v
}

// Need is the rule for a dependency the test cannot run without: when err is nil it
// does nothing; otherwise it skips the test, or fails it if Required().
func Need(t testing.TB, what string, err error) {
	t.Helper()
	if err == nil {
		return
	}
	if Required() {
		t.Fatalf("testenv: %s is required (%s=1) but unavailable: %v", what, RequireEnv, err)
		return // Fatalf does not return; this keeps stand-ins for testing.TB honest
	}
	t.Skipf("testenv: skipping: %s unavailable: %v (scripts/install-test-deps.sh installs it; %s=1 makes this a failure)",
		what, err, RequireEnv)
}

// unavailableError marks a dependency that is not installed (as opposed to one that
// is installed but fails): the helpers turn it into Need.
type unavailableError struct {
	what string
	err  error
}

func (e *unavailableError) Error() string { return e.what + ": " + e.err.Error() }
func (e *unavailableError) Unwrap() error { return e.err }

func unavailable(what string, format string, args ...any) error {
	return &unavailableError{what: what, err: fmt.Errorf(format, args...)}
}

// check applies the rule to an error from starting a component.
func check(t testing.TB, err error) {
	t.Helper()
	if err == nil {
		return
	}
	var u *unavailableError
	if errors.As(err, &u) {
		Need(t, u.what, u.err)
		return
	}
	t.Fatalf("testenv: %v", err)
}

// AnsibleInventory returns the path of the ansible-inventory program (Debian package
// ansible-core), or Needs it.
func AnsibleInventory(t testing.TB) string {
	t.Helper()
	p, err := exec.LookPath("ansible-inventory")
	Need(t, "ansible-inventory (Debian package ansible-core)", err)
	return p
}

// shared holds the servers started by SharedVault and SharedPostgres.
var shared struct {
	mu         sync.Mutex
	mainActive bool
	stopped    bool

	vault    *VaultServer
	vaultErr error
	pg       *PostgresServer
	pgErr    error
}

// Main runs the tests of a package in the user's world and then stops the shared
// servers; call it from TestMain. It does not return.
func Main(m *testing.M) {
	enterUsersWorld()
	shared.mu.Lock()
	shared.mainActive = true
	shared.mu.Unlock()
	code := m.Run()
	StopShared()
	os.Exit(code)
}

// StopShared stops the shared servers, if any were started. Main calls it; a TestMain
// of its own shape must call it after m.Run. Shared helpers fail after it.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.stopped = true
	if shared.vault != nil {
		shared.vault.stop()
	}
	if shared.pg != nil {
		shared.pg.stop()
	}
}

func sharedUsable(t testing.TB, name string) {
	t.Helper()
	if !shared.mainActive {
		t.Fatalf("testenv: %s needs the package's TestMain to call testenv.Main(m), "+
			"which stops shared servers when the tests end", name)
	}
	if shared.stopped {
		t.Fatalf("testenv: %s called after StopShared", name)
	}
}

// SharedVault returns the test binary's shared Vault dev server, starting it on first
// use. See the package documentation for the rules of shared servers.
func SharedVault(t testing.TB) *VaultServer {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	sharedUsable(t, "SharedVault")
	if shared.vault == nil && shared.vaultErr == nil {
		shared.vault, shared.vaultErr = startVault("")
	}
	check(t, shared.vaultErr)
	dumpLogOnFailure(t, "vault", shared.vault.proc)
	return shared.vault
}

// SharedPostgres returns the test binary's shared PostgreSQL server, starting it on
// first use. Use CreateDatabase for each test's data. See the package documentation
// for the rules of shared servers.
func SharedPostgres(t testing.TB) *PostgresServer {
	t.Helper()
	shared.mu.Lock()
	defer shared.mu.Unlock()
	sharedUsable(t, "SharedPostgres")
	if shared.pg == nil && shared.pgErr == nil {
		shared.pg, shared.pgErr = startPostgres()
	}
	check(t, shared.pgErr)
	dumpLogOnFailure(t, "postgres", shared.pg.proc)
	return shared.pg
}
