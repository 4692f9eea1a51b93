package testenv

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// VaultVersion is the Vault release scripts/build-vault.sh builds (the last MPL-2.0
// line; see shared/notes/vault-binary.md).
const VaultVersion = "1.14.2"

// VaultBinEnv names the environment variable that points at a Vault binary.
const VaultBinEnv = "ROSTER_VAULT_BIN"

const vaultStartTimeout = 20 * time.Second

// VaultServer is a running `vault server -dev`: in-memory storage, unsealed, with KV
// v2 mounted at secret/, listening on plain HTTP on 127.0.0.1.
type VaultServer struct {
	Addr      string // base URL, e.g. "http://127.0.0.1:38123"
	RootToken string // random per server
	UnsealKey string // the dev server's single unseal key (base64), for Unseal
	Bin       string // the vault binary

	proc   *process
	dir    string // removed on stop when owned
	owned  bool
	client *http.Client
}

// VaultBinary finds a Vault binary: $ROSTER_VAULT_BIN, else the cache of
// scripts/build-vault.sh (${XDG_CACHE_HOME:-$HOME/.cache}/roster/vault-1.14.2/vault),
// else `vault` on PATH.
func VaultBinary() (string, error) {
	if p := os.Getenv(VaultBinEnv); p != "" {
		if !isExecutable(p) {
			if _, err := os.Stat(p); err != nil {
				return "", fmt.Errorf("%s: %w", VaultBinEnv, err)
			}
			return "", fmt.Errorf("%s=%s is not an executable file", VaultBinEnv, p)
		}
		return p, nil
	}
	if dir, err := os.UserCacheDir(); err == nil {
		p := filepath.Join(dir, "roster", "vault-"+VaultVersion, "vault")
		if isExecutable(p) {
			return p, nil
		}
	}
	if p, err := exec.LookPath("vault"); err == nil {
		return p, nil
	}
	return "", errors.New("no Vault binary: set " + VaultBinEnv + " or run scripts/build-vault.sh")
}

// Vault starts a Vault dev server for the calling test and stops it when the test
// ends. It Needs the binary (see VaultBinary).
func Vault(t testing.TB) *VaultServer {
	t.Helper()
	v, err := startVault(t.TempDir())
	own(t, "vault", v, err)
	return v
}

func startVault(dir string) (*VaultServer, error) {
	bin, err := VaultBinary()
	if err != nil {
		return nil, &unavailableError{what: "Vault " + VaultVersion, err: err}
	}
	owned := false
	if dir == "" {
		if dir, err = os.MkdirTemp("", "roster-vault-"); err != nil {
			return nil, err
		}
		owned = true
	}
	token, err := randomToken()
	if err != nil {
		return nil, err
	}
	v := &VaultServer{RootToken: token, Bin: bin, dir: dir, owned: owned, client: &http.Client{Timeout: 10 * time.Second}}
	err = startOnFreePort(bin, true, 5*time.Second, func(attempt, port int) (*process, error) {
		v.Addr = "http://127.0.0.1:" + strconv.Itoa(port)
		v.UnsealKey = ""
		cmd := exec.Command(bin, "server", "-dev",
			"-dev-root-token-id="+token,
			"-dev-listen-address=127.0.0.1:"+strconv.Itoa(port),
			"-dev-no-store-token",
			"-log-level=info",
		)
		cmd.Dir = dir
		// The server must not pick up a developer's Vault settings.
		cmd.Env = childEnv([]string{"VAULT_"}, "HOME="+dir)
		var err error
		v.proc, err = startProcess("vault", cmd, filepath.Join(dir, fmt.Sprintf("vault-%d.log", attempt)), syscall.SIGTERM, syscall.SIGKILL)
		return v.proc, err
	}, func() error { return v.waitReady(vaultStartTimeout, true) })
	if err != nil {
		if owned {
			os.RemoveAll(dir)
		}
		return nil, err
	}
	return v, nil
}

// waitReady polls /v1/sys/health until the server is active and unsealed; withKey
// also waits for the unseal key line of the dev server's banner.
func (v *VaultServer) waitReady(timeout time.Duration, withKey bool) error {
	return v.proc.poll(timeout, 50*time.Millisecond, func() error {
		if withKey && v.UnsealKey == "" {
			v.UnsealKey = v.findUnsealKey()
		}
		status, err := v.health()
		switch {
		case err != nil:
			return err
		case status != http.StatusOK:
			return errors.New("sys/health answered " + strconv.Itoa(status))
		case withKey && v.UnsealKey == "":
			// The banner with the key comes after the dev server has mounted
			// secret/, which happens after sys/health first answers 200.
			return errors.New("no unseal key in the dev server's output")
		}
		return nil
	})
}

func (v *VaultServer) health() (int, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, v.Addr+"/v1/sys/health", nil)
	if err != nil {
		return 0, err
	}
	resp, err := v.client.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

func (v *VaultServer) findUnsealKey() string {
	f, err := os.Open(v.proc.logPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if k, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Unseal Key: "); ok {
			return strings.TrimSpace(k)
		}
	}
	return ""
}

// Stop stops the server (idempotent). Vault(t) calls it at cleanup; do not call it
// on a shared server.
func (v *VaultServer) Stop() { v.stop() }

func (v *VaultServer) process() *process { return v.proc }

func (v *VaultServer) stop() {
	v.proc.stop(5 * time.Second)
	if v.owned {
		os.RemoveAll(v.dir)
	}
}

// Logs returns the server's recent output.
func (v *VaultServer) Logs() string { return v.proc.logs(64 << 10) }

// Do sends a request to the HTTP API with the root token. path is relative to /v1/
// (e.g. "secret/data/app"); body, if not nil, is sent as JSON. It returns the status
// and the decoded JSON answer (nil when the body is empty). Transport errors fail t.
func (v *VaultServer) Do(t testing.TB, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			t.Fatalf("testenv: vault %s %s: %v", method, path, err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, v.Addr+"/v1/"+strings.TrimPrefix(path, "/"), rd)
	if err != nil {
		t.Fatalf("testenv: vault %s %s: %v", method, path, err)
	}
	req.Header.Set("X-Vault-Token", v.RootToken)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := v.client.Do(req)
	if err != nil {
		t.Fatalf("testenv: vault %s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testenv: vault %s %s: reading answer: %v", method, path, err)
	}
	if len(bytes.TrimSpace(raw)) == 0 {
		return resp.StatusCode, nil
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("testenv: vault %s %s: answer %d is not JSON: %v: %q", method, path, resp.StatusCode, err, raw)
	}
	return resp.StatusCode, out
}

// Seal seals the server; requests then fail with 503 until Unseal. Not for shared
// servers.
func (v *VaultServer) Seal(t testing.TB) {
	t.Helper()
	if status, out := v.Do(t, http.MethodPut, "sys/seal", nil); status/100 != 2 {
		t.Fatalf("testenv: vault seal: %d %v", status, out)
	}
}

// Unseal unseals the server with the dev unseal key and waits until it is active.
func (v *VaultServer) Unseal(t testing.TB) {
	t.Helper()
	if v.UnsealKey == "" {
		t.Fatalf("testenv: vault unseal: no unseal key was captured")
	}
	status, out := v.Do(t, http.MethodPut, "sys/unseal", map[string]any{"key": v.UnsealKey})
	if status != http.StatusOK {
		t.Fatalf("testenv: vault unseal: %d %v", status, out)
	}
	if sealed, _ := out["sealed"].(bool); sealed {
		t.Fatalf("testenv: vault unseal: still sealed: %v", out)
	}
	if err := v.waitReady(vaultStartTimeout, false); err != nil {
		t.Fatalf("testenv: vault after unseal: %v", err)
	}
}

func randomToken() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "roster-root-" + hex.EncodeToString(b), nil
}
