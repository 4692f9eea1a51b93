package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
)

// TestDemoProcessInTheUsersWorld runs the README's first command, the real
// `roster demo` binary, in the environment of a user's machine: none of the
// variables that choose trusted CAs (an AWS source once panicked in every
// region without AWS_CA_BUNDLE) and none of a developer's ROSTER_ settings.
// Every cloud's source must have synced with no failed scope; Ctrl-C stops it.
func TestDemoProcessInTheUsersWorld(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	dir := t.TempDir()
	cmd := exec.Command(bin, "demo", "--data-dir", dir, "--listen", "127.0.0.1:0", "--size", "60")
	cmd.Env = slices.DeleteFunc(testenv.UserEnv(), func(kv string) bool { return strings.HasPrefix(kv, "ROSTER_") })
	stdout, stderr := &syncedBuffer{}, &syncedBuffer{}
	cmd.Stdout, cmd.Stderr = stdout, stderr
	must(t, cmd.Start())
	exited := make(chan struct{})
	var waitErr error
	go func() { waitErr = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default:
			cmd.Process.Kill()
			<-exited
		}
	})
	output := func() string { return "stdout:\n" + stdout.String() + "\nstderr:\n" + stderr.String() }

	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(stdout.String(), "Ctrl-C stops the demo"); {
		select {
		case <-exited:
			t.Fatalf("the demo ended before it was ready (%v):\n%s", waitErr, output())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo did not get ready:\n%s", output())
		}
	}

	m := regexp.MustCompile(`API +(http://\S+)`).FindStringSubmatch(stdout.String())
	token, err := os.ReadFile(filepath.Join(dir, "demo-token"))
	if m == nil || err != nil {
		t.Fatalf("no API address or token (%v):\n%s", err, output())
	}
	api := client.New(m[1], roster.Secret(strings.TrimSpace(string(token))))
	var srcs struct {
		Items []struct{ ID, Name, Provider string }
	}
	if code := call(t, api, "GET", "/inventories/"+demoInventory+"/sources", nil, &srcs); code != 200 {
		t.Fatalf("list the demo's sources: %d", code)
	}
	var providers []string
	for _, src := range srcs.Items {
		providers = append(providers, src.Provider)
		var runs struct {
			Items []struct {
				Status string
				Error  string
				Counts struct{ Seen int }
				Scopes []struct{ Name, Status, Error string }
			}
		}
		if code := call(t, api, "GET", "/sources/"+src.ID+"/syncs?limit=1", nil, &runs); code != 200 || len(runs.Items) != 1 {
			t.Fatalf("%s's last sync: status %d, %d runs", src.Name, code, len(runs.Items))
		}
		run := runs.Items[0]
		if run.Status != string(roster.SyncSucceeded) || run.Counts.Seen == 0 {
			t.Errorf("%s: sync %s with %d hosts seen: %s", src.Name, run.Status, run.Counts.Seen, run.Error)
		}
		for _, s := range run.Scopes {
			if s.Status != string(roster.ScopeSucceeded) {
				t.Errorf("%s: scope %s %s: %s", src.Name, s.Name, s.Status, s.Error)
			}
		}
	}
	slices.Sort(providers)
	if want := []string{"aws", "azure", "gcp", "openstack"}; !slices.Equal(providers, want) {
		t.Errorf("the demo's sources are of %v, want one per cloud %v", providers, want)
	}

	// The Web UI works on the demo out of the box: its user signs in with
	// the password it printed and sees the demo's sources.
	pw := regexp.MustCompile(`Web UI +http://\S+ \(sign in as demo, password (\S+), also in (\S+)\)`).FindStringSubmatch(stdout.String())
	if pw == nil {
		t.Fatalf("the demo shows no Web UI sign-in:\n%s", output())
	}
	if b, err := os.ReadFile(pw[2]); err != nil || strings.TrimSpace(string(b)) != pw[1] {
		t.Fatalf("the password file %s: %q, %v", pw[2], b, err)
	}
	jar, err := cookiejar.New(nil)
	must(t, err)
	browser := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	resp, err := browser.PostForm(m[1]+"/ui/sign-in", url.Values{"name": {"demo"}, "password": {pw[1]}})
	must(t, err)
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || resp.Request.URL.Path != "/" {
		t.Fatalf("signing in to the demo's Web UI: %d at %s:\n%s", resp.StatusCode, resp.Request.URL, page)
	}
	for _, src := range srcs.Items {
		if !strings.Contains(string(page), src.Name) {
			t.Errorf("the demo's overview does not show source %s", src.Name)
		}
	}
	if t.Failed() {
		t.Fatalf("the demo's output:\n%s", output())
	}

	must(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-exited:
		if waitErr != nil || !strings.Contains(stdout.String(), "stopping") {
			t.Fatalf("Ctrl-C: the demo exited with %v:\n%s", waitErr, output())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("the demo did not stop within 30s of Ctrl-C:\n%s", output())
	}
}
