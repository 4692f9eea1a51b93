package testenv_test

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestMainStartsInTheUsersWorld: whatever the shell exported, the tests of a
// package whose TestMain calls Main see none of the trust variables.
func TestMainStartsInTheUsersWorld(t *testing.T) {
	for _, name := range testenv.TrustVariables {
		if v, ok := os.LookupEnv(name); ok {
			t.Errorf("%s=%s reached the tests", name, v)
		}
	}
}

func TestUserEnv(t *testing.T) {
	t.Setenv("SSL_CERT_FILE", "/etc/ssl/certs/ca-certificates.crt")
	t.Setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
	t.Setenv("ROSTER_TESTENV_PROBE", "kept")
	env := testenv.UserEnv("SSL_CERT_FILE=/tmp/sim-ca.pem")
	for _, kv := range env {
		if name, _, _ := strings.Cut(kv, "="); slices.Contains(testenv.TrustVariables, name) && kv != "SSL_CERT_FILE=/tmp/sim-ca.pem" {
			t.Errorf("UserEnv kept %s", kv)
		}
	}
	if !slices.Contains(env, "ROSTER_TESTENV_PROBE=kept") || env[len(env)-1] != "SSL_CERT_FILE=/tmp/sim-ca.pem" {
		t.Fatalf("UserEnv lost the rest of the environment or the extra entry: %q", env)
	}
}

// TestRunInChild: the test process does not trust httptest's certificate; a
// child run with SSL_CERT_FILE naming it does, through Go's default client, as a
// user who points SSL_CERT_FILE at a simulator's CA.
func TestRunInChild(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the parent's refused handshake
	srv.StartTLS()
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err == nil {
		resp.Body.Close()
	}
	if testenv.InChild(t) {
		if err != nil {
			t.Fatalf("with SSL_CERT_FILE=%s the default client does not trust the server: %v", os.Getenv("SSL_CERT_FILE"), err)
		}
		return
	}
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Fatalf("the test process already trusts httptest's certificate (err %v), so the child would prove nothing", err)
	}
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	testenv.RunInChild(t, "SSL_CERT_FILE="+ca)
}

// TestScriptRemovesTheTrustVariables: scripts/test.sh runs `go test` without
// the variables Main removes, for packages whose TestMain does not call it.
func TestScriptRemovesTheTrustVariables(t *testing.T) {
	script, err := os.ReadFile("../../scripts/test.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range testenv.TrustVariables {
		if !strings.Contains(string(script), "-u "+name+" ") {
			t.Errorf("scripts/test.sh does not remove %s (env -u %s)", name, name)
		}
	}
}

// TestEveryTestPackageStartsInTheUsersWorld: a package whose tests run
// without testenv.Main would see this machine's trust variables when run
// by hand (scripts/test.sh removes them for the whole suite).
func TestEveryTestPackageStartsInTheUsersWorld(t *testing.T) {
	root, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	hasTests := map[string]bool{}
	callsMain := map[string]bool{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !strings.HasSuffix(path, "_test.go") {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dir := filepath.Dir(path)
		hasTests[dir] = true
		if strings.Contains(string(b), "testenv.Main(m)") {
			callsMain[dir] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(hasTests) < 10 {
		t.Fatalf("found tests in only %d packages under %s", len(hasTests), root)
	}
	for dir := range hasTests {
		if !callsMain[dir] {
			rel, _ := filepath.Rel(root, dir)
			t.Errorf("%s has tests but no TestMain calling testenv.Main", rel)
		}
	}
}
