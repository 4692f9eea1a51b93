package testenv

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// ChromiumBinEnv names the environment variable that points at a Chromium (or
// Chrome) the Web UI's browser tests drive headless.
const ChromiumBinEnv = "ROSTER_CHROMIUM_BIN"

// ChromiumBinary finds Chromium: $ROSTER_CHROMIUM_BIN, else /usr/bin/chromium
// (Debian package chromium), else chromium or chromium-browser on PATH.
func ChromiumBinary() (string, error) {
	if bin := os.Getenv(ChromiumBinEnv); bin != "" {
		if !isExecutable(bin) {
			return "", fmt.Errorf("%s=%s is not an executable file", ChromiumBinEnv, bin)
		}
		return bin, nil
	}
	if isExecutable("/usr/bin/chromium") {
		return "/usr/bin/chromium", nil
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", errors.New("no chromium: install Debian's chromium package or set " + ChromiumBinEnv)
}

// Chromium is ChromiumBinary for a test that cannot run without it: it skips
// the test when Chromium is missing, or fails it under ROSTER_REQUIRE_INTEGRATION=1
// (see Need).
func Chromium(t testing.TB) string {
	t.Helper()
	bin, err := ChromiumBinary()
	Need(t, "chromium", err)
	return bin
}
