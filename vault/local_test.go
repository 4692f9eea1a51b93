package vault_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/vault"
	"golang.org/x/crypto/ssh"
)

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "dir", "secret.key")
	k1, err := vault.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 || fi.Size() != vault.LocalKeySize {
		t.Errorf("key file mode %04o size %d, want 0600 and %d bytes", fi.Mode().Perm(), fi.Size(), vault.LocalKeySize)
	}
	if di, _ := os.Stat(filepath.Dir(path)); di.Mode().Perm() != 0o700 {
		t.Errorf("key directory mode %04o, want 0700", di.Mode().Perm())
	}
	k2, err := vault.LoadOrCreateKeyFile(path)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	if k1.ID() != k2.ID() {
		t.Errorf("reloading the key file gives another key")
	}

	// A key its group or others can read is refused, with the fix.
	if err := os.Chmod(path, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = vault.LoadOrCreateKeyFile(path)
	if roster.ErrorCode(err) != roster.EINVALID || !strings.Contains(err.Error(), "chmod 600") {
		t.Errorf("group-readable key file: %v, want EINVALID naming chmod 600", err)
	}
	os.Chmod(path, 0o604)
	if _, err := vault.LoadOrCreateKeyFile(path); err == nil {
		t.Errorf("world-readable key file accepted")
	}

	// A key file in base64 text is accepted too, and is the same key.
	b64 := filepath.Join(t.TempDir(), "b64.key")
	os.WriteFile(b64, []byte(k1.Encode().Reveal()+"\n"), 0o600)
	k3, err := vault.LoadOrCreateKeyFile(b64)
	if err != nil || k3.ID() != k1.ID() {
		t.Errorf("base64 key file: %v (same key: %v)", err, err == nil && k3.ID() == k1.ID())
	}

	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte("S3CR3T-not-a-key"), 0o600)
	_, err = vault.LoadOrCreateKeyFile(bad)
	if err == nil || strings.Contains(err.Error(), "S3CR3T") {
		t.Errorf("garbage key file: %v (must fail without echoing the content)", err)
	}
}

func TestKeyFromBase64(t *testing.T) {
	raw := make([]byte, 32)
	rand.Read(raw)
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		k, err := vault.KeyFromBase64(roster.Secret(" " + enc.EncodeToString(raw) + "\n"))
		if err != nil {
			t.Fatalf("decode: %v", err)
		}
		if k.Encode().Reveal() != base64.StdEncoding.EncodeToString(raw) {
			t.Errorf("key does not round-trip")
		}
	}
	short := base64.StdEncoding.EncodeToString(raw[:16])
	for _, in := range []string{"", short, "S3CR3T-!!not base64!!"} {
		_, err := vault.KeyFromBase64(roster.Secret(in))
		if roster.ErrorCode(err) != roster.EINVALID {
			t.Errorf("KeyFromBase64(%q): %v, want EINVALID", in, err)
		}
		if in != "" && strings.Contains(err.Error(), in) {
			t.Errorf("the error echoes the value: %v", err)
		}
	}
}

func TestLocalKeyRedacts(t *testing.T) {
	k := mustKey(t)
	secret := k.Encode().Reveal()
	raw, _ := base64.StdEncoding.DecodeString(secret)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("key", "key", k)
	js, _ := json.Marshal(map[string]any{"key": k})
	l := newLocal(t, openStore(t), k)
	out := fmt.Sprintf("%v %+v %#v %s %x %X %q", k, k, k, k, k, k, k) + fmt.Sprintf("%v %+v %#v", l, l, l) + logs.String() + string(js)
	for _, leak := range []string{secret, fmt.Sprintf("%x", raw), string(raw)} {
		if strings.Contains(out, leak) {
			t.Fatalf("the key shows in formatted output: %s", out)
		}
	}
}

func TestLocalSealsAtRestAndBindsToPath(t *testing.T) {
	s := openStore(t)
	l := newLocal(t, s, mustKey(t))
	ctx := t.Context()
	const value = "S3CR3T-sealed-at-rest"
	if _, err := l.PutSecrets(ctx, "creds/a", roster.SecretFields{"password": value}, 0); err != nil {
		t.Fatal(err)
	}
	blob, _, err := s.SecretBlob(ctx, "creds/a")
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(blob, []byte(value)) || bytes.Contains(blob, []byte("password")) {
		t.Fatalf("the stored blob holds the plaintext")
	}

	// The same blob under another path does not open: the path is
	// authenticated data.
	if _, err := s.PutSecretBlob(ctx, "creds/b", blob, 0); err != nil {
		t.Fatal(err)
	}
	_, _, err = l.GetSecrets(ctx, "creds/b")
	if roster.ErrorCode(err) != roster.EINTERNAL || !strings.Contains(err.Error(), "moved") {
		t.Errorf("blob moved to another path: %v, want EINTERNAL saying it was altered or moved", err)
	}

	// A flipped bit does not open either.
	tampered := bytes.Clone(blob)
	tampered[len(tampered)-1] ^= 1
	if _, err := s.PutSecretBlob(ctx, "creds/a", tampered, 1); err != nil {
		t.Fatal(err)
	}
	if _, _, err := l.GetSecrets(ctx, "creds/a"); roster.ErrorCode(err) != roster.EINTERNAL {
		t.Errorf("tampered blob: %v, want EINTERNAL", err)
	}
}

func TestLocalWrongKey(t *testing.T) {
	s := openStore(t)
	ctx := t.Context()
	k1, k2 := mustKey(t), mustKey(t)
	l1 := newLocal(t, s, k1)
	if _, err := l1.PutSecrets(ctx, "creds/a", roster.SecretFields{"k": "v"}, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := l1.SSHCAPublicKey(ctx, ""); err != nil {
		t.Fatal(err)
	}
	l2 := newLocal(t, s, k2)
	_, _, err := l2.GetSecrets(ctx, "creds/a")
	if roster.ErrorCode(err) != roster.EUNAVAILABLE || !strings.Contains(err.Error(), "another local key") ||
		!strings.Contains(err.Error(), k1.ID()) {
		t.Errorf("read with the wrong key: %v, want EUNAVAILABLE naming the key ids", err)
	}
	if err := l2.Health(ctx); roster.ErrorCode(err) != roster.EUNAVAILABLE {
		t.Errorf("Health with the wrong key: %v, want EUNAVAILABLE", err)
	}
	if err := l1.Health(ctx); err != nil {
		t.Errorf("Health with the right key: %v", err)
	}
}

func TestLocalCAPersistsSealed(t *testing.T) {
	s := openStore(t)
	k := mustKey(t)
	ctx := t.Context()
	ca1, err := newLocal(t, s, k).SSHCAPublicKey(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	ca2, err := newLocal(t, s, k).SSHCAPublicKey(ctx, "any-role")
	if err != nil {
		t.Fatal(err)
	}
	if ca1 != ca2 || !strings.HasPrefix(ca1, "ssh-ed25519 ") {
		t.Errorf("CA key %q then %q: want one ed25519 CA kept across restarts", ca1, ca2)
	}
	blob, _, err := s.SecretBlob(ctx, "_roster/ssh-user-ca")
	if err != nil {
		t.Fatalf("the CA key is not at its reserved path: %v", err)
	}
	if bytes.Contains(blob, []byte("PRIVATE KEY")) {
		t.Errorf("the CA private key is stored in the clear")
	}
}

func TestLocalCAFirstUseRace(t *testing.T) {
	s := openStore(t)
	k := mustKey(t)
	const n = 8
	keys := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { keys[i], errs[i] = newLocal(t, s, k).SSHCAPublicKey(t.Context(), "") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("instance %d: %v", i, errs[i])
		}
		if keys[i] != keys[0] {
			t.Fatalf("instances created different CAs: %q and %q", keys[0], keys[i])
		}
	}
}

func TestLocalSignDetails(t *testing.T) {
	now := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	l, err := vault.NewLocal(openStore(t), mustKey(t), vault.LocalOptions{Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	weak, _ := ssh.NewPublicKey(&rk.PublicKey)
	_, err = l.SignSSHKey(t.Context(), roster.SSHSignRequest{
		PublicKey: string(ssh.MarshalAuthorizedKey(weak)), Principals: []string{"deploy"}, TTL: time.Minute,
	})
	if roster.ErrorCode(err) != roster.EINVALID {
		t.Errorf("RSA-1024 key: %v, want EINVALID", err)
	}

	_, line := localUserKey(t)
	res, err := l.SignSSHKey(t.Context(), roster.SSHSignRequest{PublicKey: line, Principals: []string{"deploy"}, TTL: 30 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	pub, _, _, _, _ := ssh.ParseAuthorizedKey([]byte(res.Certificate))
	cert := pub.(*ssh.Certificate)
	if got, want := time.Unix(int64(cert.ValidAfter), 0).UTC(), now.Add(-30*time.Second); !got.Equal(want) {
		t.Errorf("ValidAfter %s, want %s (30s of clock skew)", got, want)
	}
	if got, want := time.Unix(int64(cert.ValidBefore), 0).UTC(), now.Add(30*time.Minute); !got.Equal(want) {
		t.Errorf("ValidBefore %s, want %s", got, want)
	}
	if cert.KeyId != "roster" {
		t.Errorf("default KeyId %q, want roster", cert.KeyId)
	}
	for _, ext := range []string{"permit-pty", "permit-user-rc", "permit-port-forwarding", "permit-agent-forwarding"} {
		if _, ok := cert.Extensions[ext]; !ok {
			t.Errorf("extension %s missing", ext)
		}
	}
	if _, ok := cert.Extensions["permit-X11-forwarding"]; ok {
		t.Errorf("X11 forwarding permitted")
	}
}

func localUserKey(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	signer, err := ssh.NewSignerFromKey(mustEd25519(t))
	if err != nil {
		t.Fatal(err)
	}
	return signer.PublicKey(), string(ssh.MarshalAuthorizedKey(signer.PublicKey()))
}
