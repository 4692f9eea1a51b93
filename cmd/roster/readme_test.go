package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
)

// readmeSkips are the README's shell commands this test does not run, by
// the start of their first line, each with why. Every other command of
// every ```sh block runs, in the README's order, against a `roster serve`
// the test starts; an entry that matches no command fails the test, so
// the list cannot outlive the README.
var readmeSkips = []struct{ prefix, why string }{
	{"go run ./cmd/roster demo", "serves on fixed ports until Ctrl-C; TestDemoProcessInTheUsersWorld runs the demo"},
	{"make test", "the whole test suite, this test included"},
	{"roster serve ", "serves in the foreground until stopped, from system paths; this test runs `roster serve` itself (startNode)"},
	{"roster token create --name admin --role admin --data-dir /var/lib/roster", "writes under /var/lib/roster; the test makes its admin token with this command on its own database (adminToken)"},
	{`kill -HUP "$(pidof roster)"`, "signals every roster process of the machine; TestTLSServeAndClients checks the reload on SIGHUP"},
	{"export ROSTER_DATABASE='postgres://roster@db.example", "names a PostgreSQL server that does not exist; the test's database is in ROSTER_DATABASE (TestClusterOnPostgres serves on PostgreSQL)"},
	{"export ROSTER_URL=http://127.0.0.1:8080 ", "the test sets ROSTER_URL and ROSTER_TOKEN to its own server and admin token"},
	{"make build && sudo install ", "installs into /usr/local/bin with sudo"},
	{"export ROSTER_URL=https://roster.example:8080 ", "names an example server"},
	{"ansible-inventory -i /usr/local/bin/roster-inventory", "needs roster-inventory installed by the skipped line above; TestEndToEndWithAnsible runs ansible-inventory through roster-inventory"},
	{"roster restore --from roster-2026-12-07.tar.gz", "writes under /var/lib/roster; TestBackupDuringSync restores archives this way"},
	{"pg_dump --format=custom", "needs PostgreSQL: TestPostgresDumpRestore runs this recipe against a real server"},
	{"pg_restore --exit-on-error", "needs PostgreSQL: TestPostgresDumpRestore runs this recipe against a real server"},
	{"ansible-playbook -i /usr/local/bin/roster-inventory", "needs roster-inventory installed by the skipped line above, and a playbook"},
}

// TestReadmeExamples runs every shell example of README.md against a real
// server syncing a simulated EC2 fleet: an example that no longer works
// (a missing header, a placeholder, a renamed flag) fails it. curl is
// given --fail-with-body, so an answer of 4xx or 5xx fails its example.
func TestReadmeExamples(t *testing.T) {
	realCurl, err := exec.LookPath("curl")
	testenv.Need(t, "curl (Debian package curl)", err)
	_, err = exec.LookPath("jq")
	testenv.Need(t, "jq (Debian package jq)", err)
	_, err = exec.LookPath("ansible-playbook")
	testenv.Need(t, "ansible-playbook (Debian package ansible-core)", err)
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := shellBlocks(string(readme))

	binDir := t.TempDir()
	bin := buildBinary(t, "./cmd/roster", binDir)
	sim := startSimulator(t, bin, "aws", "--regions", "us-east-1,eu-west-1", "--size", "40")
	db := filepath.Join(t.TempDir(), "roster.db")
	node := startNode(t, bin, "readme", db, []string{
		// The README's source names no endpoint: the SDK's own variable
		// points it at the simulator, as it would at a private endpoint.
		"AWS_ENDPOINT_URL=" + sim, "AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey, "AWS_EC2_METADATA_DISABLED=true",
	})
	admin := adminToken(t, bin, "--database", db)

	// curl as the examples run it: failing on an error answer, quiet.
	wrapDir := t.TempDir()
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %q --fail-with-body --silent --show-error --max-time 60 \"$@\"\n", realCurl)
	if err := os.WriteFile(filepath.Join(wrapDir, "curl"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	work, home := t.TempDir(), t.TempDir()
	// The playbook of `roster exec ... -- ansible-playbook site.yml`: it
	// checks what roster exec hands it.
	site := `- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: roster exec gave a signed key and an inventory
      ansible.builtin.assert:
        that:
          - lookup('env', 'ANSIBLE_PRIVATE_KEY_FILE') is file
          - (lookup('env', 'ANSIBLE_PRIVATE_KEY_FILE') ~ '-cert.pub') is file
          - lookup('env', 'ANSIBLE_REMOTE_USER') == 'deploy'
          - groups['all'] | length > 0
`
	if err := os.WriteFile(filepath.Join(work, "site.yml"), []byte(site), 0o644); err != nil {
		t.Fatal(err)
	}
	// The plugin file of the command line's example.
	plugin := "plugin: amazon.aws.aws_ec2\nregions: [us-east-1]\nkeyed_groups:\n  - prefix: tag\n    key: tags\n"
	if err := os.WriteFile(filepath.Join(work, "aws_ec2.yml"), []byte(plugin), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + wrapDir + string(os.PathListSeparator) + binDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + home, "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"), "XDG_CACHE_HOME=" + filepath.Join(home, ".cache"),
		"XDG_DATA_HOME=" + filepath.Join(home, ".local/share"),
		"ROSTER_URL=" + node.url, "ROSTER_TOKEN=" + admin.Reveal(), "ROSTER_DATABASE=" + db,
		"ANSIBLE_HOST_KEY_CHECKING=false", "ANSIBLE_NOCOLOR=1",
		"STAGE_TOKEN=rst_example", // the contexts example's second server
	}
	for _, kv := range os.Environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "ROSTER_") && !strings.HasPrefix(name, "ANSIBLE_") && !strings.HasPrefix(name, "XDG_") &&
			!slices.Contains([]string{"PATH", "HOME", "CURL_HOME"}, name) {
			env = append(env, kv)
		}
	}

	used := make([]bool, len(readmeSkips))
	ran := 0
	for _, b := range blocks {
		var script strings.Builder
		script.WriteString("set -euo pipefail\n")
		run := 0
		for _, c := range b.commands {
			if i := slices.IndexFunc(readmeSkips, func(s struct{ prefix, why string }) bool { return strings.HasPrefix(c, s.prefix) }); i >= 0 {
				used[i] = true
				t.Logf("README.md:%d: skipped %q: %s", b.line, firstLine(c), readmeSkips[i].why)
				continue
			}
			script.WriteString(c + "\n")
			run++
		}
		ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
		cmd := exec.CommandContext(ctx, "bash", "-c", script.String())
		cmd.Dir, cmd.Env = work, env
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil {
			t.Fatalf("README.md:%d: the example fails: %v\n--- script\n%s\n--- output\n%s", b.line, err, script.String(), out)
		}
		t.Logf("README.md:%d: ran %d command(s); output ends:\n%s", b.line, run, tail(string(out), 400))
		ran += run
	}
	for i, u := range used {
		if !u {
			t.Errorf("readmeSkips[%d] (%q) matches no command of README.md: remove it", i, readmeSkips[i].prefix)
		}
	}
	if ran < 10 {
		t.Fatalf("ran %d commands of README.md: the blocks were not found", ran)
	}

	// What the examples did is there: the source, patched, and its syncs
	// (the API's, the callback's) succeeded.
	api := client.New(node.url, admin)
	var src struct {
		ID       string         `json:"id"`
		Schedule string         `json:"schedule"`
		Config   map[string]any `json:"config"`
	}
	if code := call(t, api, "GET", "/sources/prod%2Faws-prod", nil, &src); code != 200 {
		t.Fatalf("GET the README's source: %d", code)
	}
	if src.Schedule != "15m" || fmt.Sprint(src.Config["regions"]) != "[us-east-1]" || fmt.Sprint(src.Config["filters"]) != "map[]" || src.Config["keyed_groups"] == nil {
		t.Errorf("the README's source after its examples: schedule %q, config %v", src.Schedule, src.Config)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		var runs struct {
			Items []struct {
				Status string `json:"status"`
				Error  string `json:"error"`
			} `json:"items"`
		}
		if code := call(t, api, "GET", "/sources/"+src.ID+"/syncs", nil, &runs); code != 200 {
			t.Fatalf("list runs: %d", code)
		}
		done := len(runs.Items) >= 2
		for _, r := range runs.Items {
			switch r.Status {
			case "queued", "running":
				done = false
			case "succeeded":
			default:
				t.Fatalf("a sync of the README's source: %s %s", r.Status, r.Error)
			}
		}
		if done {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the README's syncs did not finish: %+v", runs.Items)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// shellBlock is one ```sh block of a Markdown file: its commands, each
// with its continuation lines and multi-line quoted arguments.
type shellBlock struct {
	line     int // of the opening fence
	commands []string
}

func shellBlocks(md string) []shellBlock {
	var blocks []shellBlock
	lines := strings.Split(md, "\n")
	for i := 0; i < len(lines); i++ {
		if strings.TrimSpace(lines[i]) != "```sh" {
			continue
		}
		b := shellBlock{line: i + 1}
		var body []string
		for i++; i < len(lines) && strings.TrimSpace(lines[i]) != "```"; i++ {
			body = append(body, lines[i])
		}
		b.commands = shellCommands(body)
		blocks = append(blocks, b)
	}
	return blocks
}

// shellCommands splits lines of shell into commands: a command goes on
// while a quote is open or a line ends with a backslash. Comment lines
// between commands are left out.
func shellCommands(lines []string) []string {
	var out []string
	var cur strings.Builder
	var single, double bool
	for _, line := range lines {
		if cur.Len() == 0 && (strings.HasPrefix(strings.TrimSpace(line), "#") || strings.TrimSpace(line) == "") {
			continue
		}
		cur.WriteString(line)
		escaped := false
		for _, r := range line {
			switch {
			case escaped:
				escaped = false
			case r == '\\' && !single:
				escaped = true
			case r == '\'' && !double:
				single = !single
			case r == '"' && !single:
				double = !double
			case r == '#' && !single && !double:
				// The rest of the line is a comment (quotes in it do not count).
				goto endOfLine
			}
		}
	endOfLine:
		if single || double || escaped {
			cur.WriteString("\n")
			continue
		}
		out = append(out, cur.String())
		cur.Reset()
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// startSimulator starts `roster simulate CLOUD ARGS...` and returns its URL.
func startSimulator(t *testing.T, bin, cloud string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"simulate", cloud, "--listen", "127.0.0.1:0"}, args...)...)
	cmd.Dir = t.TempDir()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("%s simulator: %v", cloud, err)
	}
	go io.Copy(io.Discard, stdout)
	i := strings.LastIndex(line, " at ")
	if i < 0 {
		t.Fatalf("%s simulator said %q", cloud, line)
	}
	return strings.TrimSpace(line[i+4:])
}
