package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestConfigFileErrorsSayWhy: a config file that cannot be read as
// settings is one line naming the file, the line and what is wrong.
func TestConfigFileErrorsSayWhy(t *testing.T) {
	for file, want := range map[string]string{
		"listen: [\n":              "line 1: did not find expected node content",
		"nosuch: 1\n":              "line 1: unknown setting nosuch",
		"nosuch: 1\nlisten: [a]\n": "line 1: unknown setting nosuch; line 2: cannot unmarshal !!seq into string",
		"sync_timeout: abc\n":      `"abc" is not a duration such as 30s, 10m or 2h`,
		"sync_concurrency: lots\n": "line 1: cannot unmarshal !!str `lots` into int",
	} {
		path := filepath.Join(t.TempDir(), "roster.yaml")
		must(t, os.WriteFile(path, []byte(file), 0o600))
		_, _, err := run(t, t.Context(), "serve", "--config", path, "--data-dir", t.TempDir())
		if err == nil || err.Error() != "config file "+path+": "+want {
			t.Errorf("config %q: %v, want: config file %s: %s", file, err, path, want)
		}
	}
}
