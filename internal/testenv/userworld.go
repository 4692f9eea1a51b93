package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
)

// trustVariables change which certificate authorities a TLS client trusts: the AWS
// SDKs (AWS_CA_BUNDLE), Go's crypto/x509 and OpenSSL (SSL_CERT_FILE, SSL_CERT_DIR),
// Python's requests, as inside Ansible (REQUESTS_CA_BUNDLE), curl (CURL_CA_BUNDLE)
// and Nix-built programs (NIX_SSL_CERT_FILE). Development and CI machines often
// export them; a user's machine usually does not. scripts/test.sh removes the same
// list (TestScriptRemovesTheTrustVariables keeps the two in step).
var trustVariables = []string{
	"AWS_CA_BUNDLE",
	"SSL_CERT_FILE",
	"SSL_CERT_DIR",
	"REQUESTS_CA_BUNDLE",
	"CURL_CA_BUNDLE",
	"NIX_SSL_CERT_FILE",
}

// childVar marks a test binary started by RunInChild; its value is the test to run.
const childVar = "ROSTER_TESTENV_CHILD"

// UserEnv returns this process's environment without the variables that choose
// trusted certificate authorities, plus extra ("NAME=value"; a later entry wins, as
// in exec.Cmd.Env): the environment of a program a test starts the way a user would.
func UserEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !slices.Contains(trustVariables, name) {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// enterUsersWorld makes the test process one that never saw the trust variables, so
// that no test passes only because this machine trusts more than a user's does (an
// AWS source once worked only with AWS_CA_BUNDLE set).
//
// Unsetting them in TestMain could be too late: crypto/x509 reads SSL_CERT_FILE and
// SSL_CERT_DIR once per process, and package initialisers run before TestMain. So
// when one is set, the test binary executes itself again without them: same
// process id, arguments and open files, so `go test` sees nothing but a test
// binary that started in the user's world. A child of RunInChild keeps the
// environment its parent chose for it.
func enterUsersWorld() {
	if os.Getenv(childVar) != "" {
		return
	}
	env := UserEnv()
	if len(env) == len(os.Environ()) {
		return
	}
	exe, err := os.Executable()
	if err == nil {
		err = syscall.Exec(exe, os.Args, env) // returns only on failure
	}
	fmt.Fprintf(os.Stderr, "testenv: cannot restart the test binary without %s: %v\n",
		strings.Join(trustVariables, ", "), err)
	os.Exit(2)
}

// InChild reports whether this process is the child RunInChild started to run t.
func InChild(t testing.TB) bool {
	return os.Getenv(childVar) == t.Name()
}

// RunInChild runs the calling test again in a new process of the test binary, whose
// environment is UserEnv(env...), and fails t with the child's output unless the
// child ran the test and it passed (a skip in the child skips t). The test tells its
// two runs apart with InChild. It is for what a process can only be given when it
// starts, such as an SSL_CERT_FILE naming a simulator's CA:
//
//	if testenv.InChild(t) {
//		// runs with SSL_CERT_FILE set, and nothing else from the list above
//		return
//	}
//	testenv.RunInChild(t, "SSL_CERT_FILE="+caFile)
func RunInChild(t *testing.T, env ...string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatalf("testenv: find the test binary: %v", err)
	}
	levels := strings.Split(t.Name(), "/")
	for i, l := range levels {
		levels[i] = "^" + regexp.QuoteMeta(l) + "$"
	}
	cmd := exec.CommandContext(t.Context(), exe, "-test.run="+strings.Join(levels, "/"), "-test.v", "-test.count=1")
	cmd.Env = UserEnv(append(env, childVar+"="+t.Name())...)
	cmd.SysProcAttr = &syscall.SysProcAttr{}
	setDeathSignal(cmd.SysProcAttr, syscall.SIGKILL) // a test binary that times out takes its child along
	out, err := cmd.CombinedOutput()
	switch {
	case err != nil:
		t.Fatalf("testenv: the child run of %s failed: %v\n%s", t.Name(), err, out)
	case strings.Contains(string(out), "--- SKIP: "+t.Name()+" "):
		t.Skipf("testenv: the child run of %s skipped:\n%s", t.Name(), out)
	case !strings.Contains(string(out), "--- PASS: "+t.Name()+" "):
		t.Fatalf("testenv: the child run did not run %s:\n%s", t.Name(), out)
	}
}
