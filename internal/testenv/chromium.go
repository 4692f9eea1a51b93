package testenv

import (
	"testing"
)

// ChromiumBinEnv names the environment variable that points at a Chromium (or
// Chrome) the Web UI's browser tests drive headless.
const ChromiumBinEnv = "ROSTER_CHROMIUM_BIN"

// ChromiumBinary finds Chromium: $ROSTER_CHROMIUM_BIN, else /usr/bin/chromium
// (Debian package chromium), else chromium or chromium-browser on PATH.
func ChromiumBinary() (string, error) {
	return findBinary(ChromiumBinEnv, "/usr/bin/chromium", "chromium package", "chromium", "chromium-browser")
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
