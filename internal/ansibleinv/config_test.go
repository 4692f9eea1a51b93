package ansibleinv

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, path, content string) string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func getenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}

// TestConfigBesideTheProgram: Ansible runs the script by its path from
// any directory; the config file beside it and the token file it names
// are found whatever the working directory is.
func TestConfigBesideTheProgram(t *testing.T) {
	bin := t.TempDir()
	exe := filepath.Join(bin, "roster-inventory")
	writeFile(t, filepath.Join(bin, "secrets", "token"), "rst_fromfile\n")
	writeFile(t, filepath.Join(bin, "roster-inventory.yaml"), `
url: https://roster.example:8443
inventory: prod
token_file: secrets/token
include_disabled: true
timeout: 5s
max_age: 10m
max_size: 256MiB
`)
	t.Chdir(t.TempDir())
	c, err := LoadConfig(getenv(map[string]string{"HOME": t.TempDir()}), exe, nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != "https://roster.example:8443" || c.Inventory != "prod" || c.Token.Reveal() != "rst_fromfile" ||
		!c.IncludeDisabled || c.Timeout != 5*time.Second || c.MaxAge == nil || *c.MaxAge != 10*time.Minute || c.MaxSize != 256<<20 {
		t.Fatalf("config = %+v", c)
	}
}

func TestConfigPrecedence(t *testing.T) {
	home := t.TempDir()
	writeFile(t, filepath.Join(home, "tok-env"), "rst_env_file")
	writeFile(t, filepath.Join(home, "tok-flag"), "rst_flag_file")
	writeFile(t, filepath.Join(home, ".config", "roster", "inventory.yaml"), "url: https://file:1\ninventory: file\ntoken: rst_file\ntimeout: 1s\n")
	load := func(env map[string]string, flags ...flagValue) Config {
		t.Helper()
		env["HOME"] = home
		c, err := loadConfig(getenv(env), "", "", flags)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}

	c := load(map[string]string{})
	if c.URL != "https://file:1" || c.Inventory != "file" || c.Token.Reveal() != "rst_file" || c.Timeout != time.Second {
		t.Fatalf("from the user's config file: %+v", c)
	}
	// The environment wins over the file; its token file over the file's token.
	c = load(map[string]string{"ROSTER_URL": "https://env:2", "ROSTER_TOKEN_FILE": "~/tok-env"})
	if c.URL != "https://env:2" || c.Inventory != "file" || c.Token.Reveal() != "rst_env_file" {
		t.Fatalf("environment over file: %+v", c)
	}
	// In one layer the token wins over the token file.
	c = load(map[string]string{"ROSTER_TOKEN": "rst_env", "ROSTER_TOKEN_FILE": "~/tok-env"})
	if c.Token.Reveal() != "rst_env" {
		t.Fatalf("token and token file in the environment: %+v", c)
	}
	// Flags win over both.
	c = load(map[string]string{"ROSTER_URL": "https://env:2", "ROSTER_TOKEN": "rst_env", "ROSTER_TIMEOUT": "2s"},
		flagValue{"url", "https://flag:3"}, flagValue{"token-file", "~/tok-flag"}, flagValue{"inventory", "flag"}, flagValue{"timeout", "3s"})
	if c.URL != "https://flag:3" || c.Inventory != "flag" || c.Token.Reveal() != "rst_flag_file" || c.Timeout != 3*time.Second {
		t.Fatalf("flags over environment: %+v", c)
	}
	if c.MaxSize != defaultMaxSize {
		t.Fatalf("max size %d, want the default", c.MaxSize)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	base := "url: https://roster:8080\ninventory: prod\n"
	good := base + "token: rst_x\n"
	for _, tc := range []struct {
		name string
		file string // the config file's content; "" for none
		env  map[string]string
		want string
	}{
		{"no inventory", "", map[string]string{"ROSTER_TOKEN": "rst_x"}, "no inventory given"},
		{"no token", "", map[string]string{"ROSTER_INVENTORY": "prod"}, "no API token given"},
		{"missing named file", "", map[string]string{configEnv: filepath.Join(dir, "nope.yaml")}, "read the config file"},
		{"unknown key", good + "server: http://x\n", nil, `unknown key "server" (known: url, token_file, token`},
		{"not a mapping", "- url\n", nil, "cannot unmarshal"},
		{"a list value", good + "timeout: [1, 2]\n", nil, "timeout (line 4) must be a single value"},
		{"bad timeout in the file", good + "timeout: soon\n", nil, `timeout "soon" is not a duration`},
		{"bad boolean", good, map[string]string{"ROSTER_INCLUDE_DISABLED": "maybe"}, `ROSTER_INCLUDE_DISABLED="maybe" is not true or false`},
		{"bad size", good, map[string]string{"ROSTER_MAX_SIZE": "lots"}, `ROSTER_MAX_SIZE="lots" is not a size`},
		{"zero timeout", good, map[string]string{"ROSTER_TIMEOUT": "0s"}, `ROSTER_TIMEOUT="0s" is not a duration`},
		{"not http", good, map[string]string{"ROSTER_URL": "roster:8080"}, "is not an http(s) URL"},
		{"missing token file", base + "token_file: gone\n", nil, "read the token file"},
		{"empty token file", base + "token_file: empty\n", nil, "is empty"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := map[string]string{"HOME": t.TempDir()}
			if tc.file != "" {
				env[configEnv] = writeFile(t, filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml"), tc.file)
			}
			writeFile(t, filepath.Join(dir, "empty"), "\n")
			for k, v := range tc.env {
				env[k] = v
			}
			_, err := LoadConfig(getenv(env), "", nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1048576": 1 << 20, "512MiB": 512 << 20, "1GiB": 1 << 30, "2 GB": 2 << 30, "64K": 64 << 10} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "0", "-1MiB", "1TiB", "lots", "99999999999GiB"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) accepted", in)
		}
	}
}

// TestCommandLine: --help documents every setting and succeeds; bad
// arguments fail with one line and status 2, before anything is fetched.
func TestCommandLine(t *testing.T) {
	code, stdout, stderr := run(t, nil, "--help")
	if code != 0 || stderr != "" {
		t.Fatalf("--help: exit %d, stderr %q", code, stderr)
	}
	for _, s := range settings() {
		for _, name := range []string{s.env, s.key, "--" + s.flag} {
			if s.flag == "" && name == "--" {
				continue
			}
			if !strings.Contains(stdout, name) {
				t.Errorf("--help does not mention %s", name)
			}
		}
	}
	for _, want := range []string{"--list", "--host NAME", "--config", configEnv, "ANSIBLE_INVENTORY_UNPARSED_FAILED", "/etc/roster/inventory.yaml"} {
		if !strings.Contains(stdout, want) {
			t.Errorf("--help does not mention %s", want)
		}
	}
	if code, out, _ := run(t, nil, "-h"); code != 0 || out != stdout {
		t.Errorf("-h: exit %d", code)
	}

	for _, args := range [][]string{{}, {"--list", "--host", "a"}, {"--host"}, {"--host", ""}, {"--list", "extra"}, {"--token", "rst_x", "--list"}, {"--lis"}, {"--timeout", "soon", "--list"}} {
		code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": "http://127.0.0.1:1"}, args...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "roster-inventory: ") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want status 2 and one line", args, code, stdout, stderr)
		}
	}

	// Flags reach the request.
	requests := make(chan *http.Request, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests <- r.Clone(context.Background())
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, validList)
	}))
	t.Cleanup(srv.Close)
	tok := writeFile(t, filepath.Join(t.TempDir(), "tok"), testToken)
	code, stdout, stderr = run(t, map[string]string{"ROSTER_URL": "http://127.0.0.1:1", "ROSTER_TOKEN": "", "ROSTER_INVENTORY": ""},
		"--url", srv.URL, "--token-file", tok, "--inventory", "prod", "--include-disabled", "--timeout=5s", "--list")
	if code != 0 || stdout != validList {
		t.Fatalf("with flags: exit %d, stderr %q", code, stderr)
	}
	got := <-requests
	if got.URL.Path != "/api/v1/inventories/prod/ansible" || got.URL.Query().Get("all") != "true" || got.Header.Get("Authorization") != "Bearer "+testToken {
		t.Fatalf("with flags, the request was %s %s (authorization set: %v)", got.Method, got.URL, got.Header.Get("Authorization") != "")
	}
}
