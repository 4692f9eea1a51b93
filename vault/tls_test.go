package vault_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/vault/vaulttest"
)

// TestVaultTLSAndNamespace puts a TLS listener that requires a client
// certificate in front of the real Vault (as a production listener would
// be) and checks that the backend trusts Vault through its CA file, presents
// its client certificate, and sends X-Vault-Namespace on every request. The
// dev server is open source, without namespaces: the proxy records the
// header and strips it.
func TestVaultTLSAndNamespace(t *testing.T) {
	t.Parallel()
	setup := vaulttest.Configure(t, testenv.SharedVault(t), vaulttest.Options{})
	pki := newTestPKI(t)

	target, _ := url.Parse(setup.Server.Addr)
	proxy := httputil.NewSingleHostReverseProxy(target)
	var (
		mu         sync.Mutex
		namespaces = map[string]string{} // path -> header seen
	)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		namespaces[r.URL.Path] = r.Header.Get("X-Vault-Namespace")
		mu.Unlock()
		r.Header.Del("X-Vault-Namespace")
		proxy.ServeHTTP(w, r)
	}))
	srv.TLS = &tls.Config{
		Certificates: []tls.Certificate{pki.server},
		ClientCAs:    pki.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)

	cfg := setup.Config()
	cfg.Address = srv.URL
	cfg.CACert, cfg.ClientCert, cfg.ClientKey = pki.caFile, pki.clientCertFile, pki.clientKeyFile
	cfg.Namespace = "team-a/roster"
	v := newVault(t, cfg)
	ctx := t.Context()
	if err := v.Health(ctx); err != nil {
		t.Fatalf("Health through TLS: %v", err)
	}
	if _, err := v.PutSecrets(ctx, "tls/a", roster.SecretFields{"k": "v"}, 0); err != nil {
		t.Fatal(err)
	}
	if f, _, err := v.GetSecrets(ctx, "tls/a"); err != nil || f["k"].Reveal() != "v" {
		t.Fatalf("read through TLS: %v", err)
	}
	mu.Lock()
	for _, p := range []string{"/v1/auth/" + setup.AppRoleMount + "/login", "/v1/sys/health", "/v1/" + setup.KVMount + "/data/roster/credentials/tls/a"} {
		if ns, ok := namespaces[p]; !ok || ns != "team-a/roster" {
			t.Errorf("%s: X-Vault-Namespace %q (seen: %v)", p, ns, ok)
		}
	}
	mu.Unlock()

	// Without the CA file, Vault's certificate is not trusted.
	noCA := cfg
	noCA.CACert = ""
	wantErr(t, "Health without the CA file", newVault(t, noCA).Health(ctx), roster.EUNAVAILABLE,
		"Vault at "+srv.URL+" is unreachable", "TLS certificate is not trusted")

	// Without the client certificate, the listener refuses the handshake.
	noClient := cfg
	noClient.ClientCert, noClient.ClientKey = "", ""
	wantErr(t, "Health without the client certificate", newVault(t, noClient).Health(ctx), roster.EUNAVAILABLE,
		"unreachable", "TLS handshake was refused")

	// Plain HTTP to the TLS listener, and HTTPS to the plain dev server.
	plain := cfg
	plain.Address = setup.Server.Addr[:len("http")] + "s" + setup.Server.Addr[len("http"):]
	wantErr(t, "HTTPS to a plain HTTP Vault", newVault(t, plain).Health(ctx), roster.EUNAVAILABLE,
		"unreachable", "does not speak TLS")
}

type testPKI struct {
	pool                                  *x509.CertPool
	server                                tls.Certificate
	caFile, clientCertFile, clientKeyFile string
}

func newTestPKI(t *testing.T) *testPKI {
	t.Helper()
	dir := t.TempDir()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "roster test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		KeyUsage:              x509.KeyUsageCertSign,
		BasicConstraintsValid: true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	caCert, _ := x509.ParseCertificate(caDER)
	pool := x509.NewCertPool()
	pool.AddCert(caCert)

	issue := func(serial int64, usage x509.ExtKeyUsage, ips []net.IP) ([]byte, *ecdsa.PrivateKey) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: "roster test"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  ips,
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		return der, key
	}
	writePEM := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	serverDER, serverKey := issue(2, x509.ExtKeyUsageServerAuth, []net.IP{net.IPv4(127, 0, 0, 1)})
	clientDER, clientKey := issue(3, x509.ExtKeyUsageClientAuth, nil)
	clientKeyDER, _ := x509.MarshalECPrivateKey(clientKey)
	return &testPKI{
		pool:           pool,
		server:         tls.Certificate{Certificate: [][]byte{serverDER}, PrivateKey: serverKey},
		caFile:         writePEM("ca.pem", "CERTIFICATE", caDER),
		clientCertFile: writePEM("client.pem", "CERTIFICATE", clientDER),
		clientKeyFile:  writePEM("client-key.pem", "EC PRIVATE KEY", clientKeyDER),
	}
}
