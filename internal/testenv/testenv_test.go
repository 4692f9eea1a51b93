package testenv_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

// recorder stands in for a *testing.T to see what Need does.
type recorder struct {
	testing.TB
	fatal, skip string
}

func (r *recorder) Helper()                           {}
func (r *recorder) Fatalf(format string, args ...any) { r.fatal = fmt.Sprintf(format, args...) }
func (r *recorder) Skipf(format string, args ...any)  { r.skip = fmt.Sprintf(format, args...) }

func TestNeed(t *testing.T) {
	missing := errors.New("not installed")
	for _, tc := range []struct {
		env             string
		err             error
		wantFatal, want bool
	}{
		{env: "", err: nil},
		{env: "1", err: nil},
		{env: "", err: missing, want: true},
		{env: "0", err: missing, want: true},
		{env: "1", err: missing, want: true, wantFatal: true},
		{env: "true", err: missing, want: true, wantFatal: true},
	} {
		t.Run(tc.env+"/"+fmt.Sprint(tc.err), func(t *testing.T) {
			t.Setenv(testenv.RequireEnv, tc.env)
			r := &recorder{TB: t}
			testenv.Need(r, "widget", tc.err)
			switch {
			case !tc.want && (r.fatal != "" || r.skip != ""):
				t.Fatalf("Need acted on a nil error: fatal=%q skip=%q", r.fatal, r.skip)
			case tc.want && tc.wantFatal && (r.fatal == "" || r.skip != ""):
				t.Fatalf("want failure, got fatal=%q skip=%q", r.fatal, r.skip)
			case tc.want && !tc.wantFatal && (r.skip == "" || r.fatal != ""):
				t.Fatalf("want skip, got fatal=%q skip=%q", r.fatal, r.skip)
			}
			if msg := r.fatal + r.skip; tc.want && (!strings.Contains(msg, "widget") || !strings.Contains(msg, "not installed")) {
				t.Fatalf("message does not name the dependency and the cause: %q", msg)
			}
		})
	}
}

func TestAnsibleInventory(t *testing.T) {
	bin := testenv.AnsibleInventory(t)
	inv := filepath.Join(t.TempDir(), "hosts.ini")
	if err := os.WriteFile(inv, []byte("[web]\nweb1 ansible_host=10.0.0.1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-i", inv, "--list")
	cmd.Env = append(os.Environ(), "ANSIBLE_LOCAL_TEMP="+t.TempDir(), "ANSIBLE_HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s --list: %v", bin, err)
	}
	var got struct {
		Meta struct {
			Hostvars map[string]map[string]any `json:"hostvars"`
		} `json:"_meta"`
		Web struct {
			Hosts []string `json:"hosts"`
		} `json:"web"`
	}
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("ansible-inventory output is not JSON: %v\n%s", err, out)
	}
	if len(got.Web.Hosts) != 1 || got.Web.Hosts[0] != "web1" || got.Meta.Hostvars["web1"]["ansible_host"] != "10.0.0.1" {
		t.Fatalf("unexpected inventory: %s", out)
	}
}

func TestVaultKV(t *testing.T) {
	v := testenv.SharedVault(t)
	if status, _ := v.Do(t, http.MethodGet, "sys/health", nil); status != http.StatusOK {
		t.Fatalf("sys/health: %d", status)
	}
	path := "secret/data/" + t.Name()
	if status, out := v.Do(t, http.MethodPost, path, map[string]any{"data": map[string]any{"password": "s3cret"}}); status != http.StatusOK {
		t.Fatalf("KV v2 put: %d %v", status, out)
	}
	status, out := v.Do(t, http.MethodGet, path, nil)
	if status != http.StatusOK {
		t.Fatalf("KV v2 get: %d %v", status, out)
	}
	data, _ := out["data"].(map[string]any)
	inner, _ := data["data"].(map[string]any)
	if inner["password"] != "s3cret" {
		t.Fatalf("KV v2 get returned %v", out)
	}
	// Check-and-set: a stale version is a conflict (400).
	status, _ = v.Do(t, http.MethodPost, path, map[string]any{"options": map[string]any{"cas": 0}, "data": map[string]any{"x": "y"}})
	if status != http.StatusBadRequest {
		t.Fatalf("KV v2 put with stale cas: %d, want 400", status)
	}
	// The shared server is the same one for every caller.
	if testenv.SharedVault(t) != v {
		t.Fatal("SharedVault returned a different server")
	}
}

func TestVaultSSHSign(t *testing.T) {
	v := testenv.SharedVault(t)
	mount := "ssh-" + strings.ToLower(t.Name())
	steps := []struct {
		path string
		body map[string]any
	}{
		{"sys/mounts/" + mount, map[string]any{"type": "ssh"}},
		{mount + "/config/ca", map[string]any{"generate_signing_key": true}},
		{mount + "/roles/deploy", map[string]any{
			"key_type": "ca", "allow_user_certificates": true, "allowed_users": "deploy",
			"default_user": "deploy", "ttl": "5m",
		}},
	}
	for _, s := range steps {
		if status, out := v.Do(t, http.MethodPost, s.path, s.body); status/100 != 2 {
			t.Fatalf("POST %s: %d %v", s.path, status, out)
		}
	}
	pub := sshEd25519PublicKey(t)
	status, out := v.Do(t, http.MethodPost, mount+"/sign/deploy", map[string]any{"public_key": pub, "valid_principals": "deploy"})
	if status != http.StatusOK {
		t.Fatalf("sign: %d %v", status, out)
	}
	data, _ := out["data"].(map[string]any)
	if signed, _ := data["signed_key"].(string); !strings.HasPrefix(signed, "ssh-ed25519-cert-v01@openssh.com ") {
		t.Fatalf("signed_key = %q", signed)
	}
	// A principal outside allowed_users is refused.
	if status, _ := v.Do(t, http.MethodPost, mount+"/sign/deploy", map[string]any{"public_key": pub, "valid_principals": "root"}); status != http.StatusBadRequest {
		t.Fatalf("sign for root: %d, want 400", status)
	}
}

// sshEd25519PublicKey returns a fresh public key in authorized_keys format.
func sshEd25519PublicKey(t *testing.T) string {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	var b []byte
	for _, field := range [][]byte{[]byte("ssh-ed25519"), pub} {
		b = binary.BigEndian.AppendUint32(b, uint32(len(field)))
		b = append(b, field...)
	}
	return "ssh-ed25519 " + base64.StdEncoding.EncodeToString(b)
}

func TestVaultSealUnseal(t *testing.T) {
	v := testenv.Vault(t)
	if v.UnsealKey == "" {
		t.Fatal("no unseal key captured")
	}
	if status, out := v.Do(t, http.MethodPost, "secret/data/k", map[string]any{"data": map[string]any{"a": "b"}}); status != http.StatusOK {
		t.Fatalf("KV put: %d %v", status, out)
	}
	v.Seal(t)
	status, out := v.Do(t, http.MethodGet, "secret/data/k", nil)
	if status != http.StatusServiceUnavailable {
		t.Fatalf("read while sealed: %d %v, want 503", status, out)
	}
	v.Unseal(t)
	status, out = v.Do(t, http.MethodGet, "secret/data/k", nil)
	if status != http.StatusOK {
		t.Fatalf("read after unseal: %d %v", status, out)
	}
	v.Stop()
	v.Stop() // idempotent; the cleanup calls it again too
}

func TestPostgres(t *testing.T) {
	p := testenv.Postgres(t)
	if got := p.Psql(t, p.DSN, "select 1"); got != "1" {
		t.Fatalf("select 1 = %q", got)
	}
	if !strings.HasPrefix(p.DSN, "postgres://postgres@127.0.0.1:") || !strings.HasSuffix(p.DSN, "/postgres?sslmode=disable") {
		t.Fatalf("DSN = %q", p.DSN)
	}
	if got := p.Psql(t, p.DSN, "show fsync"); got != "off" {
		t.Fatalf("fsync = %q", got)
	}
	if got := p.Psql(t, p.DSN, "show listen_addresses"); got != "127.0.0.1" {
		t.Fatalf("listen_addresses = %q", got)
	}
}

func TestSharedPostgresDatabases(t *testing.T) {
	p := testenv.SharedPostgres(t)
	if testenv.SharedPostgres(t) != p {
		t.Fatal("SharedPostgres returned a different server")
	}
	a := p.CreateDatabase(t)
	b := p.CreateDatabase(t)
	if a == b {
		t.Fatalf("CreateDatabase returned %q twice", a)
	}
	p.Psql(t, a, "create table hosts (id text primary key); insert into hosts values ('i-1')")
	if got := p.Psql(t, a, "select count(*) from hosts"); got != "1" {
		t.Fatalf("count = %q", got)
	}
	if got := p.Psql(t, b, "select count(*) from pg_tables where tablename = 'hosts'"); got != "0" {
		t.Fatalf("database b sees a's table: %q", got)
	}
	var name string
	t.Run("dropped at cleanup", func(t *testing.T) {
		dsn := p.CreateDatabase(t)
		name = p.Psql(t, dsn, "select current_database()")
	})
	if got := p.Psql(t, p.DSN, "select count(*) from pg_database where datname = '"+name+"'"); got != "0" {
		t.Fatalf("database %s still exists after its test ended", name)
	}
}
