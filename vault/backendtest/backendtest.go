// Package backendtest is the conformance suite of roster.SecretBackend: what
// every secret backend (Vault, local) must do the same way. Backends run it
// from their own tests with a real server or store behind them.
package backendtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"golang.org/x/crypto/ssh"
)

// Options say what differs between backends.
type Options struct {
	// SSHRole is the role every signing request names (Vault: a role of
	// the SSH engine; the local CA ignores it).
	SSHRole string
	// Principal is a principal the backend signs certificates for.
	Principal string
	// ForbiddenPrincipal is a principal the backend must refuse with
	// EINVALID (Vault: one outside the role's allowed_users). Empty means
	// the backend signs whatever principal Roster asks for (the local CA),
	// which the suite checks instead.
	ForbiddenPrincipal string
	// Unwrap unwraps a wrapping token the way a runner does. Nil means the
	// backend has no response wrapping: Wrap must fail with EINVALID.
	Unwrap func(ctx context.Context, token string) (map[string]string, error)
}

// Run runs the suite. newBackend returns a working backend for one subtest
// (subtests run in parallel; each uses paths of its own).
func Run(t *testing.T, newBackend func(t *testing.T) roster.SecretBackend, o Options) {
	if o.Principal == "" {
		t.Fatal("backendtest: Options.Principal is required")
	}
	tests := []struct {
		name string
		fn   func(t *testing.T, b roster.SecretBackend, o Options)
	}{
		{"Kind", testKind},
		{"PutGetVersions", testPutGetVersions},
		{"CheckAndSet", testCheckAndSet},
		{"ConcurrentCreateOneWins", testConcurrentCreate},
		{"DeleteRemovesAllVersions", testDelete},
		{"GetMissing", testGetMissing},
		{"RoundTripByteExact", testRoundTrip},
		{"PathsAreIndependent", testPathsIndependent},
		{"InvalidInput", testInvalid},
		{"SSHSign", testSSHSign},
		{"SSHSignRefusals", testSSHRefusals},
		{"SSHPrincipalPolicy", testSSHPrincipalPolicy},
		{"SSHCAPublicKeyStable", testCAPublicKeyStable},
		{"Wrap", testWrap},
		{"Health", testHealth},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.fn(t, newBackend(t), o)
		})
	}
}

// ---- helpers

func newPath(t *testing.T, name string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return "suite-" + hex.EncodeToString(b) + "/" + name
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if got := roster.ErrorCode(err); got != code {
		t.Fatalf("%s: error code %q (%v), want %q", what, got, err, code)
	}
}

func put(t *testing.T, b roster.SecretBackend, path string, f map[string]string, cas int) int {
	t.Helper()
	v, err := b.PutSecrets(t.Context(), path, secrets(f), cas)
	if err != nil {
		t.Fatalf("PutSecrets(%s, cas %d): %v", path, cas, err)
	}
	return v
}

func get(t *testing.T, b roster.SecretBackend, path string) (map[string]string, roster.BackendInfo) {
	t.Helper()
	f, info, err := b.GetSecrets(t.Context(), path)
	if err != nil {
		t.Fatalf("GetSecrets(%s): %v", path, err)
	}
	out := make(map[string]string, len(f))
	for k, v := range f {
		out[k] = v.Reveal()
	}
	return out, info
}

func secrets(m map[string]string) roster.SecretFields {
	f := make(roster.SecretFields, len(m))
	for k, v := range m {
		f[k] = roster.Secret(v)
	}
	return f
}

func sameFields(t *testing.T, what string, got, want map[string]string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d fields, want %d (%v)", what, len(got), len(want), keys(got))
	}
	for k, w := range want {
		g, ok := got[k]
		switch {
		case !ok:
			t.Errorf("%s: field %q missing", what, k)
		case g != w:
			t.Errorf("%s: field %q differs: got %d bytes %q..., want %d bytes %q...", what, k, len(g), head(g), len(w), head(w))
		}
	}
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

func head(s string) string {
	if len(s) > 40 {
		return s[:40]
	}
	return s
}

// ---- secret fields

func testKind(t *testing.T, b roster.SecretBackend, _ Options) {
	if k := b.Kind(); k != "vault" && k != "local" {
		t.Fatalf("Kind() = %q, want vault or local", k)
	}
}

func testPutGetVersions(t *testing.T, b roster.SecretBackend, _ Options) {
	p := newPath(t, "creds")
	if v := put(t, b, p, map[string]string{"password": "pw-1", "token": "tk-1"}, 0); v != 1 {
		t.Fatalf("first version = %d, want 1", v)
	}
	got, info := get(t, b, p)
	sameFields(t, "version 1", got, map[string]string{"password": "pw-1", "token": "tk-1"})
	if info.Version != 1 {
		t.Errorf("BackendInfo.Version = %d, want 1", info.Version)
	}
	if v := put(t, b, p, map[string]string{"password": "pw-2"}, 1); v != 2 {
		t.Fatalf("second version = %d, want 2", v)
	}
	got, info = get(t, b, p)
	sameFields(t, "version 2 replaces version 1", got, map[string]string{"password": "pw-2"})
	if info.Version != 2 {
		t.Errorf("BackendInfo.Version = %d, want 2", info.Version)
	}
	if b.Kind() == "vault" && info.RequestID == "" {
		t.Errorf("Vault read without a request id")
	}
}

func testCheckAndSet(t *testing.T, b roster.SecretBackend, _ Options) {
	p := newPath(t, "cas")
	_, err := b.PutSecrets(t.Context(), p, secrets(map[string]string{"k": "v"}), 3)
	wantCode(t, "cas 3 on an empty path", err, roster.ECONFLICT)
	_, _, err = b.GetSecrets(t.Context(), p)
	wantCode(t, "get after a refused create", err, roster.ENOTFOUND)

	put(t, b, p, map[string]string{"k": "v1"}, 0)
	_, err = b.PutSecrets(t.Context(), p, secrets(map[string]string{"k": "lost"}), 0)
	wantCode(t, "cas 0 when a version exists", err, roster.ECONFLICT)
	_, err = b.PutSecrets(t.Context(), p, secrets(map[string]string{"k": "lost"}), 2)
	wantCode(t, "cas ahead of the stored version", err, roster.ECONFLICT)
	put(t, b, p, map[string]string{"k": "v2"}, 1)
	_, err = b.PutSecrets(t.Context(), p, secrets(map[string]string{"k": "lost"}), 1)
	wantCode(t, "stale cas", err, roster.ECONFLICT)
	got, info := get(t, b, p)
	sameFields(t, "after refused writes", got, map[string]string{"k": "v2"})
	if info.Version != 2 {
		t.Errorf("version after refused writes = %d, want 2", info.Version)
	}
}

func testConcurrentCreate(t *testing.T, b roster.SecretBackend, _ Options) {
	p := newPath(t, "race")
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			_, errs[i] = b.PutSecrets(t.Context(), p, secrets(map[string]string{"writer": fmt.Sprint(i)}), 0)
		})
	}
	wg.Wait()
	winners := 0
	winner := ""
	for i, err := range errs {
		switch roster.ErrorCode(err) {
		case "":
			winners++
			winner = fmt.Sprint(i)
		case roster.ECONFLICT:
		default:
			t.Errorf("writer %d: %v", i, err)
		}
	}
	if winners != 1 {
		t.Fatalf("%d concurrent creates (cas 0) succeeded, want exactly 1", winners)
	}
	got, info := get(t, b, p)
	sameFields(t, "the winner's write", got, map[string]string{"writer": winner})
	if info.Version != 1 {
		t.Errorf("version = %d, want 1", info.Version)
	}
}

func testDelete(t *testing.T, b roster.SecretBackend, _ Options) {
	p := newPath(t, "gone")
	for cas := range 3 {
		put(t, b, p, map[string]string{"v": fmt.Sprint(cas + 1)}, cas)
	}
	if err := b.DeleteSecrets(t.Context(), p); err != nil {
		t.Fatalf("DeleteSecrets: %v", err)
	}
	_, _, err := b.GetSecrets(t.Context(), p)
	wantCode(t, "get after delete", err, roster.ENOTFOUND)
	// Every version is gone: the path starts over at version 1, and a
	// check-and-set against the old history fails.
	_, err = b.PutSecrets(t.Context(), p, secrets(map[string]string{"v": "x"}), 3)
	wantCode(t, "cas 3 after delete", err, roster.ECONFLICT)
	if v := put(t, b, p, map[string]string{"v": "new"}, 0); v != 1 {
		t.Errorf("version after delete and recreate = %d, want 1 (old versions survived the delete?)", v)
	}
	if err := b.DeleteSecrets(t.Context(), p); err != nil {
		t.Fatalf("second DeleteSecrets: %v", err)
	}
	if err := b.DeleteSecrets(t.Context(), p); err != nil {
		t.Errorf("deleting a path that holds nothing: %v, want nil", err)
	}
	if err := b.DeleteSecrets(t.Context(), newPath(t, "never")); err != nil {
		t.Errorf("deleting a path never written: %v, want nil", err)
	}
}

func testGetMissing(t *testing.T, b roster.SecretBackend, _ Options) {
	_, _, err := b.GetSecrets(t.Context(), newPath(t, "missing"))
	wantCode(t, "get of a path never written", err, roster.ENOTFOUND)
}

func testRoundTrip(t *testing.T, b roster.SecretBackend, _ Options) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	openssh, err := ssh.MarshalPrivateKey(priv, "roundtrip@roster")
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(priv)
	crlf := strings.ReplaceAll(string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})), "\n", "\r\n")
	long := strings.Repeat("0123456789abcdef", 4096) // 64 KiB
	want := map[string]string{
		"private_key":  string(pem.EncodeToMemory(openssh)),
		"pkcs8_crlf":   crlf,
		"unicode":      "pässwörd — 日本語 🔑 \u200b zero-width, RTL \u202e",
		"spaces":       "  leading and trailing  \n\n",
		"json_special": `"quoted" \backslash\ <html> & {"k": [1]} \u0000-literal`,
		"control":      "tab\tbell\anul\x00end",
		"empty":        "",
		"long":         long,
	}
	p := newPath(t, "roundtrip")
	put(t, b, p, want, 0)
	got, _ := get(t, b, p)
	sameFields(t, "round trip", got, want)
}

func testPathsIndependent(t *testing.T, b roster.SecretBackend, _ Options) {
	base := newPath(t, "a")
	paths := []string{base, base + "/b", base + "/b/c", base + "-x", base + "/with.dots_and-dash@host=1+2"}
	for i, p := range paths {
		put(t, b, p, map[string]string{"i": fmt.Sprint(i)}, 0)
	}
	for i, p := range paths {
		got, _ := get(t, b, p)
		sameFields(t, p, got, map[string]string{"i": fmt.Sprint(i)})
	}
	if err := b.DeleteSecrets(t.Context(), base); err != nil {
		t.Fatal(err)
	}
	got, _ := get(t, b, base+"/b")
	sameFields(t, "a child after deleting its parent path", got, map[string]string{"i": "1"})
}

func testInvalid(t *testing.T, b roster.SecretBackend, _ Options) {
	ctx := t.Context()
	ok := map[string]string{"k": "v"}
	for _, p := range []string{"", "/abs", "trailing/", "a//b", "a/../b", "./a", "sp ace", "new\nline", "_roster/ssh-user-ca", "ü"} {
		_, err := b.PutSecrets(ctx, p, secrets(ok), 0)
		wantCode(t, fmt.Sprintf("PutSecrets(%q)", p), err, roster.EINVALID)
		_, _, err = b.GetSecrets(ctx, p)
		wantCode(t, fmt.Sprintf("GetSecrets(%q)", p), err, roster.EINVALID)
		err = b.DeleteSecrets(ctx, p)
		wantCode(t, fmt.Sprintf("DeleteSecrets(%q)", p), err, roster.EINVALID)
	}
	p := newPath(t, "invalid")
	_, err := b.PutSecrets(ctx, p, secrets(ok), -1)
	wantCode(t, "negative cas", err, roster.EINVALID)
	for _, f := range []map[string]string{
		{"": "v"},
		{"bad name": "v"},
		{"k": "\xff\xfe not UTF-8"},
	} {
		_, err := b.PutSecrets(ctx, p, secrets(f), 0)
		wantCode(t, fmt.Sprintf("fields %q", keys(f)), err, roster.EINVALID)
	}
	_, _, err = b.GetSecrets(ctx, p)
	wantCode(t, "nothing was written by invalid puts", err, roster.ENOTFOUND)
}

// ---- SSH

func userKey(t *testing.T) (ssh.PublicKey, string) {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k, strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k))) + " runner@roster"
}

func caKey(t *testing.T, b roster.SecretBackend, role string) ssh.PublicKey {
	t.Helper()
	line, err := b.SSHCAPublicKey(t.Context(), role)
	if err != nil {
		t.Fatalf("SSHCAPublicKey: %v", err)
	}
	if strings.ContainsAny(line, "\r\n") {
		t.Errorf("SSHCAPublicKey has a line break: %q", line)
	}
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(line))
	if err != nil {
		t.Fatalf("SSHCAPublicKey %q: %v", line, err)
	}
	return k
}

func testSSHSign(t *testing.T, b roster.SecretBackend, o Options) {
	key, line := userKey(t)
	ca := caKey(t, b, o.SSHRole)
	before := time.Now()
	ttl := 10 * time.Minute
	res, err := b.SignSSHKey(t.Context(), roster.SSHSignRequest{
		Role: o.SSHRole, PublicKey: line, Principals: []string{o.Principal}, TTL: ttl, KeyID: "roster-suite-1",
	})
	if err != nil {
		t.Fatalf("SignSSHKey: %v", err)
	}
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(res.Certificate))
	if err != nil {
		t.Fatalf("certificate %q: %v", res.Certificate, err)
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		t.Fatalf("Certificate is a %s key, not a certificate", pub.Type())
	}
	if cert.CertType != ssh.UserCert {
		t.Errorf("CertType = %d, want user", cert.CertType)
	}
	if !bytes.Equal(cert.Key.Marshal(), key.Marshal()) {
		t.Errorf("the certificate certifies another key")
	}
	if !bytes.Equal(cert.SignatureKey.Marshal(), ca.Marshal()) {
		t.Errorf("signed by %s, not by SSHCAPublicKey's key", ssh.FingerprintSHA256(cert.SignatureKey))
	}
	checker := &ssh.CertChecker{IsUserAuthority: func(auth ssh.PublicKey) bool {
		return bytes.Equal(auth.Marshal(), ca.Marshal())
	}}
	if err := checker.CheckCert(o.Principal, cert); err != nil {
		t.Errorf("sshd's check of the certificate for %s: %v", o.Principal, err)
	}
	if got := cert.ValidPrincipals; len(got) != 1 || got[0] != o.Principal {
		t.Errorf("certificate principals %v, want [%s]", got, o.Principal)
	}
	if len(res.Principals) != 1 || res.Principals[0] != o.Principal {
		t.Errorf("SSHCertificate.Principals %v, want [%s]", res.Principals, o.Principal)
	}
	if cert.KeyId != "roster-suite-1" {
		t.Errorf("KeyId = %q, want roster-suite-1", cert.KeyId)
	}
	validAfter := time.Unix(int64(cert.ValidAfter), 0)
	validBefore := time.Unix(int64(cert.ValidBefore), 0)
	if validAfter.After(before) {
		t.Errorf("ValidAfter %s is after the request (%s): no allowance for clock skew", validAfter, before)
	}
	if before.Sub(validAfter) > 5*time.Minute {
		t.Errorf("ValidAfter %s is far in the past", validAfter)
	}
	if d := validBefore.Sub(before); d < ttl-5*time.Second || d > ttl+5*time.Second {
		t.Errorf("ValidBefore is %s after the request, want about %s", d, ttl)
	}
	if !res.ValidBefore.Equal(validBefore) {
		t.Errorf("SSHCertificate.ValidBefore %s, certificate says %s", res.ValidBefore, validBefore)
	}
	if want := fmt.Sprintf("%016x", cert.Serial); res.Serial != want {
		t.Errorf("Serial %q, certificate says %s", res.Serial, want)
	}
	if _, ok := cert.Permissions.Extensions["permit-pty"]; !ok {
		t.Errorf("no permit-pty extension: %v", cert.Permissions.Extensions)
	}
	if b.Kind() == "vault" && res.RequestID == "" {
		t.Errorf("Vault signature without a request id")
	}

	res2, err := b.SignSSHKey(t.Context(), roster.SSHSignRequest{
		Role: o.SSHRole, PublicKey: line, Principals: []string{o.Principal}, TTL: ttl,
	})
	if err != nil {
		t.Fatalf("second SignSSHKey: %v", err)
	}
	if res2.Serial == res.Serial {
		t.Errorf("two certificates share serial %s", res.Serial)
	}
}

func testSSHRefusals(t *testing.T, b roster.SecretBackend, o Options) {
	_, line := userKey(t)
	good := roster.SSHSignRequest{Role: o.SSHRole, PublicKey: line, Principals: []string{o.Principal}, TTL: time.Minute}
	// A certificate is not a key to sign.
	signed, err := b.SignSSHKey(t.Context(), good)
	if err != nil {
		t.Fatalf("SignSSHKey: %v", err)
	}
	cases := map[string]func(r *roster.SSHSignRequest){
		"no principals":       func(r *roster.SSHSignRequest) { r.Principals = nil },
		"empty principal":     func(r *roster.SSHSignRequest) { r.Principals = []string{""} },
		"comma in principal":  func(r *roster.SSHSignRequest) { r.Principals = []string{o.Principal + ",root"} },
		"zero TTL":            func(r *roster.SSHSignRequest) { r.TTL = 0 },
		"negative TTL":        func(r *roster.SSHSignRequest) { r.TTL = -time.Minute },
		"garbage public key":  func(r *roster.SSHSignRequest) { r.PublicKey = "ssh-ed25519 not-base64!" },
		"empty public key":    func(r *roster.SSHSignRequest) { r.PublicKey = "" },
		"certificate as key":  func(r *roster.SSHSignRequest) { r.PublicKey = signed.Certificate },
		"two keys":            func(r *roster.SSHSignRequest) { r.PublicKey = line + "\n" + line },
		"control char key id": func(r *roster.SSHSignRequest) { r.KeyID = "id\n-injected" },
	}
	for name, mutate := range cases {
		r := good
		r.Principals = append([]string(nil), good.Principals...)
		mutate(&r)
		_, err := b.SignSSHKey(t.Context(), r)
		wantCode(t, name, err, roster.EINVALID)
	}
}

func testSSHPrincipalPolicy(t *testing.T, b roster.SecretBackend, o Options) {
	_, line := userKey(t)
	if o.ForbiddenPrincipal != "" {
		_, err := b.SignSSHKey(t.Context(), roster.SSHSignRequest{
			Role: o.SSHRole, PublicKey: line, Principals: []string{o.ForbiddenPrincipal}, TTL: time.Minute,
		})
		wantCode(t, "a principal the backend does not allow", err, roster.EINVALID)
		_, err = b.SignSSHKey(t.Context(), roster.SSHSignRequest{
			Role: o.SSHRole, PublicKey: line, Principals: []string{o.Principal, o.ForbiddenPrincipal}, TTL: time.Minute,
		})
		wantCode(t, "an allowed and a disallowed principal", err, roster.EINVALID)
		return
	}
	// No policy of its own: the backend signs what Roster asks for.
	someone := newPath(t, "x")[len("suite-"):][:12]
	res, err := b.SignSSHKey(t.Context(), roster.SSHSignRequest{
		Role: o.SSHRole, PublicKey: line, Principals: []string{someone, o.Principal}, TTL: time.Minute,
	})
	if err != nil {
		t.Fatalf("SignSSHKey for an arbitrary principal: %v", err)
	}
	if len(res.Principals) != 2 || res.Principals[0] != someone || res.Principals[1] != o.Principal {
		t.Errorf("principals %v, want [%s %s]", res.Principals, someone, o.Principal)
	}
}

func testCAPublicKeyStable(t *testing.T, b roster.SecretBackend, o Options) {
	k1 := caKey(t, b, o.SSHRole)
	k2 := caKey(t, b, o.SSHRole)
	if !bytes.Equal(k1.Marshal(), k2.Marshal()) {
		t.Errorf("the CA public key changed between calls")
	}
}

// ---- wrapping and health

func testWrap(t *testing.T, b roster.SecretBackend, o Options) {
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	block, _ := ssh.MarshalPrivateKey(priv, "")
	data := map[string]string{"private_key": string(pem.EncodeToMemory(block)), "note": "ünïcødé 🔑"}
	if o.Unwrap == nil {
		_, err := b.Wrap(t.Context(), secrets(data), time.Minute)
		wantCode(t, "Wrap on a backend without response wrapping", err, roster.EINVALID)
		return
	}
	for _, ttl := range []time.Duration{0, -time.Second, 500 * time.Millisecond} {
		_, err := b.Wrap(t.Context(), secrets(data), ttl)
		wantCode(t, fmt.Sprintf("Wrap with ttl %s", ttl), err, roster.EINVALID)
	}
	start := time.Now()
	w, err := b.Wrap(t.Context(), secrets(data), 90*time.Second)
	if err != nil {
		t.Fatalf("Wrap: %v", err)
	}
	if w.Token == "" || w.Accessor == "" {
		t.Errorf("wrapping token or accessor missing: %+v", w)
	}
	if w.TTL != 90*time.Second {
		t.Errorf("TTL = %s, want 1m30s", w.TTL)
	}
	if d := w.CreatedAt.Sub(start); d < -5*time.Second || d > 5*time.Second {
		t.Errorf("CreatedAt %s, request at %s", w.CreatedAt, start)
	}
	if s := fmt.Sprintf("%v %+v %#v", w, w, w); strings.Contains(s, w.Token.Reveal()) {
		t.Errorf("formatting a WrappedSecret shows the token")
	}
	got, err := o.Unwrap(t.Context(), w.Token.Reveal())
	if err != nil {
		t.Fatalf("first unwrap: %v", err)
	}
	sameFields(t, "unwrapped", got, data)
	if _, err := o.Unwrap(t.Context(), w.Token.Reveal()); err == nil {
		t.Fatalf("second unwrap succeeded: a wrapping token must be single-use")
	}
}

func testHealth(t *testing.T, b roster.SecretBackend, _ Options) {
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	if err := b.Health(ctx); err != nil {
		t.Fatalf("Health: %v", err)
	}
}
