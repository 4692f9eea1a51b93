package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testenv"
)

// zeroSecretKey gives the local secret backend a key (all zeros) through
// the environment, so that it writes no key file to the disk under test.
const zeroSecretKey = "ROSTER_SECRET_KEY=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="

// fullDisk runs script with sh in a mount namespace of its own in which
// dir is a tmpfs of the given size: a disk that really fills, without
// touching the machine's. As root it needs nothing more; otherwise it runs
// in a user namespace of its own too (where mounting a tmpfs is allowed).
func fullDisk(t *testing.T, dir, size, script string) *exec.Cmd {
	t.Helper()
	unshare, err := exec.LookPath("unshare")
	testenv.Need(t, "unshare (util-linux)", err)
	args := []string{"--mount", "--propagation", "private"}
	if os.Geteuid() != 0 {
		args = append([]string{"--user", "--map-root-user"}, args...)
	}
	return exec.Command(unshare, append(args, "sh", "-c",
		fmt.Sprintf("mount -t tmpfs -o size=%s tmpfs %s && %s", size, dir, script))...)
}

// inNamespaceOf runs a command in the mount namespace (and, when not
// root, the user namespace) of the process pid, as fullDisk made it.
func inNamespaceOf(pid int, name string, args ...string) *exec.Cmd {
	ns := []string{"--target", fmt.Sprint(pid), "--mount"}
	if os.Geteuid() != 0 {
		ns = append(ns, "--user", "--preserve-credentials")
	}
	return exec.Command("nsenter", append(append(ns, "--", name), args...)...)
}

// rawCall sends one API request as JSON and returns the status and body
// as they came (0 and the error for a transport error): these tests read
// problems the typed client turns into errors.
func rawCall(base, token, method, path string, body any) (int, []byte) {
	var r io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		r = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, r)
	if err != nil {
		return 0, []byte(err.Error())
	}
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, []byte(err.Error())
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	return resp.StatusCode, out.Bytes()
}

// TestFullDiskIsSaidWhereItIs: when the disk under the database fills,
// the API answers 507 naming the database, the CLI says the same in one
// line, the server stays up, and once space is freed it works again.
func TestFullDiskIsSaidWhereItIs(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	dir := t.TempDir()
	addr := freeAddr(t)
	logPath := filepath.Join(t.TempDir(), "serve.log")
	logf, err := os.Create(logPath)
	must(t, err)
	defer logf.Close()
	// The token is made in the namespace before the server starts; the
	// test reads it from the log file (outside the tmpfs).
	serve := fullDisk(t, dir, "4m", fmt.Sprintf(
		"%[1]s token create --name admin --role admin --data-dir %[2]s | tail -n 1 >&2 && exec %[1]s serve --data-dir %[2]s --listen %[3]s --log-format text",
		bin, dir, addr))
	serve.Env = append(os.Environ(), zeroSecretKey)
	serve.Stdout, serve.Stderr = logf, logf
	must(t, serve.Start())
	done := make(chan error, 1)
	go func() { done <- serve.Wait() }()
	t.Cleanup(func() {
		serve.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			serve.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("server log:\n%s", tail(string(b), 4096))
		}
	})
	url := "http://" + addr
	var token string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				b, _ := os.ReadFile(logPath)
				for _, line := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(line, "rst_") && token == "" {
						token = strings.TrimSpace(line)
					}
				}
				break
			}
		}
		select {
		case err := <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("roster serve exited: %v\n%s", err, b)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("roster serve not ready")
		}
	}
	post := func(i int) (int, []byte) {
		return rawCall(url+"/api/v1", token, "POST", "/inventories", map[string]any{"name": fmt.Sprintf("inv-%d", i), "description": strings.Repeat("x", 1000)})
	}

	// Fill the disk through the API until it says so.
	db := filepath.Join(dir, "roster.db")
	var problem struct{ Code, Detail string }
	for i := 0; ; i++ {
		status, body := post(i)
		if status == http.StatusCreated {
			if i > 5000 {
				t.Fatal("the 4 MiB disk never filled")
			}
			continue
		}
		if status != http.StatusInsufficientStorage {
			t.Fatalf("POST %d = %d %s, want 507 when the disk fills", i, status, body)
		}
		must(t, json.Unmarshal(body, &problem))
		t.Logf("after %d inventories: %d %s", i, status, body)
		break
	}
	if problem.Code != "storage_full" || !strings.Contains(problem.Detail, "full") || !strings.Contains(problem.Detail, db) {
		t.Fatalf("problem = %+v, want storage_full naming %s", problem, db)
	}

	// The CLI in the same namespace (the server's) says it in one line.
	var out []byte
	for i := 0; ; i++ {
		cli := inNamespaceOf(serve.Process.Pid,
			bin, "token", "create", "--name", fmt.Sprintf("cli-%d", i), "--role", "admin", "--data-dir", dir)
		cli.Env = serve.Env
		out, err = cli.CombinedOutput()
		if err != nil {
			break
		}
		if i > 100 {
			t.Fatal("the CLI kept writing to a full disk")
		}
	}
	msg := strings.TrimSpace(string(out))
	t.Logf("roster token create on the full disk: %s", msg)
	if strings.Count(msg, "\n") != 0 || !strings.Contains(msg, "full") || !strings.Contains(msg, db) {
		t.Fatalf("roster token create on a full disk said:\n%s\nwant one line naming %s as full", msg, db)
	}

	// The server is still up, and once space is freed, writes work again.
	resp, err := http.Get(url + "/readyz")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readyz = %d on a full disk", resp.StatusCode)
	}
	grow := inNamespaceOf(serve.Process.Pid, "mount", "-o", "remount,size=16m", dir)
	if b, err := grow.CombinedOutput(); err != nil {
		t.Fatalf("grow the tmpfs: %v %s", err, b)
	}
	if status, body := post(100000); status != http.StatusCreated {
		t.Fatalf("after space was freed: %d %s", status, body)
	}
}

// TestUnwritableDataDirIsOneLine: a data directory that cannot be written
// or created (here on a read-only file system, which binds root too) is
// one line naming it, from the server and from the CLI.
func TestUnwritableDataDirIsOneLine(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	ro := t.TempDir()
	for _, tc := range []struct{ dataDir, want string }{
		{ro, "the data directory " + ro + " cannot be written by this process: read-only file system"},
		{ro + "/sub/dir", "the data directory " + ro + "/sub/dir cannot be created: read-only file system"},
	} {
		for _, args := range [][]string{
			{"serve", "--listen", freeAddr(t)},
			{"token", "create", "--name", "a", "--role", "admin"},
		} {
			script := fmt.Sprintf("mount -o remount,ro %s && exec %s %s --data-dir %s", ro, bin, strings.Join(args, " "), tc.dataDir)
			cmd := fullDisk(t, ro, "1m", script)
			out, err := cmd.CombinedOutput()
			msg := strings.TrimSpace(string(out))
			if err == nil || msg != "roster: "+tc.want {
				t.Errorf("roster %s --data-dir %s: %v\n%s\nwant the one line: roster: %s", args[0], tc.dataDir, err, msg, tc.want)
			}
		}
	}
}

// TestFullDocumentDiskIsSaid: when the disk holding rendered documents
// (--document-dir) is full, a whole-document read answers 507 naming it,
// and other reads go on.
func TestFullDocumentDiskIsSaid(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	data, docs := t.TempDir(), t.TempDir()
	token := adminToken(t, bin, "--data-dir", data).Reveal()
	addr := freeAddr(t)
	serve := fullDisk(t, docs, "128k", fmt.Sprintf("exec %s serve --data-dir %s --document-dir %s --listen %s --log-format text", bin, data, docs, addr))
	serve.Env = append(os.Environ(), zeroSecretKey)
	var logs bytes.Buffer
	serve.Stdout, serve.Stderr = &logs, &logs
	must(t, serve.Start())
	t.Cleanup(func() { serve.Process.Signal(syscall.SIGTERM); serve.Wait() })
	url := "http://" + addr + "/api/v1"
	call := func(method, path string, body any) (int, []byte) { return rawCall(url, token, method, path, body) }
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if status, _ := call("GET", "/inventories", nil); status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster serve not ready:\n%s", logs.String())
		}
	}
	if status, body := call("POST", "/inventories", map[string]any{"name": "prod"}); status != http.StatusCreated {
		t.Fatalf("create inventory: %d %s", status, body)
	}
	// Group vars of 512 KiB make a document four times the document disk.
	if status, body := call("PUT", "/inventories/prod/groups/web/vars", map[string]any{"motd": strings.Repeat("x", 512<<10)}); status != http.StatusOK {
		t.Fatalf("set group vars: %d %s", status, body)
	}
	status, body := call("GET", "/inventories/prod/ansible", nil)
	var problem struct{ Code, Detail string }
	json.Unmarshal(body, &problem)
	if status != http.StatusInsufficientStorage || problem.Code != "storage_full" || !strings.Contains(problem.Detail, docs) {
		t.Fatalf("GET ansible with a full document disk = %d %s, want 507 storage_full naming %s", status, body, docs)
	}
	if status, body := call("GET", "/inventories/prod/groups", nil); status != http.StatusOK {
		t.Fatalf("another read = %d %s", status, body)
	}
}
