package testenv_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestChromiumMissing: a ROSTER_CHROMIUM_BIN that names no program fails a
// test under ROSTER_REQUIRE_INTEGRATION=1 and skips it otherwise.
func TestChromiumMissing(t *testing.T) {
	notExec := filepath.Join(t.TempDir(), "chromium")
	if err := os.WriteFile(notExec, []byte("not a program"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv(testenv.ChromiumBinEnv, notExec)
	for env, wantFatal := range map[string]bool{"1": true, "": false} {
		t.Setenv(testenv.RequireEnv, env)
		r := &recorder{TB: t}
		testenv.Chromium(r)
		if got := r.fatal != ""; got != wantFatal || r.fatal+r.skip == "" || !strings.Contains(r.fatal+r.skip, testenv.ChromiumBinEnv) {
			t.Errorf("%s=%q: fatal=%q skip=%q", testenv.RequireEnv, env, r.fatal, r.skip)
		}
	}
}

// TestChromium: the Chromium the browser tests use is installed.
func TestChromium(t *testing.T) {
	bin := testenv.Chromium(t)
	if !filepath.IsAbs(bin) {
		t.Errorf("Chromium = %q, want an absolute path", bin)
	}
}
