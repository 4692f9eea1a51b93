package client_test

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/pkitest"
)

const token = roster.Secret("rst_0123456789abcdef_secret")

func TestIsLoopback(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "127.8.9.10": true, "::1": true, "localhost": true, "LocalHost.": true,
		"0.0.0.0": false, "::": false, "192.0.2.1": false, "10.0.0.1": false, "roster.example": false,
		"localhost.example": false, "127.0.0.1.nip.io": false, "": false,
	} {
		if got := client.IsLoopback(host); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", host, got, want)
		}
	}
}

// TestPlainHTTPTokenIsRefusedBeforeDialing: a token never goes over plain
// HTTP to a host that is not loopback: the URL is refused when the client
// is made, and a client made without that check refuses at the request,
// before a connection (a listener on a non-loopback address of this
// machine, where there is one, sees none).
func TestPlainHTTPTokenIsRefusedBeforeDialing(t *testing.T) {
	urls := []string{"http://192.0.2.1:1", "http://roster.example:8080", "http://[2001:db8::1]:8080", "http://0.0.0.0:8080"}
	w := pkitest.NewWitness(t)
	if w != nil {
		urls = append(urls, w.URL)
	} else {
		t.Log("no non-loopback address on this machine: the refusal is checked by its error alone")
	}
	for _, u := range urls {
		_, err := client.NewWithTLS(u+"?token=hunter2", token, client.TLS{})
		var plain *client.PlainHTTPError
		if !errors.As(err, &plain) || !strings.Contains(err.Error(), "refusing to send the API token over plain HTTP") {
			t.Errorf("NewWithTLS(%s): %v, want a refusal", u, err)
		}
		if err != nil && strings.Contains(err.Error(), "hunter2") {
			t.Errorf("the refusal shows the URL's query: %v", err)
		}
		_, err = client.New(u, token).Call(t.Context(), "GET", "/inventories", nil, nil)
		if !errors.As(err, &plain) {
			t.Errorf("New(%s).Call: %v, want a refusal", u, err)
		}
	}
	if w != nil && w.Connections() != 0 {
		t.Fatalf("%d connections reached %s", w.Connections(), w.URL)
	}
	// Loopback in the clear is allowed (the demo, a local proxy).
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{}`)
	}))
	defer srv.Close()
	for _, u := range []string{srv.URL, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1)} {
		c, err := client.NewWithTLS(u, token, client.TLS{})
		if err != nil {
			t.Fatalf("NewWithTLS(%s): %v", u, err)
		}
		if err := c.Do(t.Context(), "GET", "/x", nil, nil); err != nil {
			t.Fatalf("GET on loopback over http: %v", err)
		}
	}
}

// TestRedirectsStayInTheOrigin: the token follows a redirect only to the
// same scheme, host and port. Go's own client would keep Authorization on
// another port of the same host, and from https to http on the same
// host; neither happens.
func TestRedirectsStayInTheOrigin(t *testing.T) {
	var leaked atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			leaked.Add(1)
		}
		io.WriteString(w, `{}`)
	}))
	defer other.Close()
	var requests atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		switch r.URL.Path {
		case "/api/v1/elsewhere":
			http.Redirect(w, r, other.URL+"/api/v1/x", http.StatusTemporaryRedirect)
		case "/api/v1/downgrade":
			http.Redirect(w, r, "http://"+r.Host+"/api/v1/x", http.StatusFound)
		case "/api/v1/moved":
			http.Redirect(w, r, "/api/v1/here", http.StatusPermanentRedirect)
		case "/api/v1/here":
			if r.Header.Get("Authorization") != "Bearer "+token.Reveal() || r.Method != http.MethodPost {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			io.WriteString(w, `{}`)
		}
	}))
	defer srv.Close()
	ca := writeCA(t, srv.Certificate())
	c, err := client.NewWithTLS(srv.URL, token, client.TLS{CA: ca})
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/elsewhere", "/downgrade"} {
		requests.Store(0)
		err := c.Do(t.Context(), "POST", path, map[string]string{"a": "b"}, nil)
		if err == nil || !strings.Contains(err.Error(), "redirected to http://") || !strings.Contains(err.Error(), "not followed") {
			t.Errorf("POST %s: %v, want a redirect not followed", path, err)
		}
		if requests.Load() != 1 {
			t.Errorf("POST %s: %d requests reached the server, want 1", path, requests.Load())
		}
	}
	if leaked.Load() != 0 {
		t.Fatalf("the token reached another server %d times", leaked.Load())
	}
	// Within the origin: followed, with the token (and the body, for a 308).
	if err := c.Do(t.Context(), "POST", "/moved", map[string]string{"a": "b"}, nil); err != nil {
		t.Fatalf("same-origin redirect: %v", err)
	}
}

// TestServerCertificate: the client trusts the CA it is given instead of
// the system's, says what to do when the server's certificate is not
// signed by a CA it trusts, and presents a client certificate when given
// one.
func TestServerCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := pkitest.NewCA(t, dir, "roster")
	serverPair := ca.Server(t, dir, "server", "127.0.0.1")
	runners := pkitest.NewCA(t, dir, "runners")
	runner := runners.Client(t, dir, "runner")
	cert, err := tls.LoadX509KeyPair(serverPair.Cert, serverPair.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	runnersPEM, _ := os.ReadFile(runners.File)
	pool.AppendCertsFromPEM(runnersPEM)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.VerifiedChains) == 0 {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{}`)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	defer srv.Close()

	c, err := client.NewWithTLS(srv.URL, token, client.TLS{CA: ca.File, ClientCert: runner.Cert, ClientKey: runner.Key})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(t.Context(), "GET", "/x", nil, nil); err != nil {
		t.Fatalf("with the CA and a client certificate: %v", err)
	}
	c, _ = client.NewWithTLS(srv.URL, token, client.TLS{CA: ca.File})
	var apiErr *client.Error
	if err := c.Do(t.Context(), "GET", "/x", nil, nil); !errors.As(err, &apiErr) || apiErr.Status != http.StatusUnauthorized {
		t.Fatalf("without a client certificate: %v, want the server's 401", err)
	}
	c, _ = client.NewWithTLS(srv.URL, token, client.TLS{})
	err = c.Do(t.Context(), "GET", "/x", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "not signed by a CA this client trusts") || !strings.Contains(err.Error(), "ROSTER_CA") {
		t.Fatalf("without the CA: %v, want a certificate error naming ROSTER_CA", err)
	}
	c, _ = client.NewWithTLS(strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), token, client.TLS{CA: ca.File})
	if err := c.Do(t.Context(), "GET", "/x", nil, nil); err == nil || !strings.Contains(err.Error(), "not for this address") {
		t.Fatalf("a name the certificate is not for: %v", err)
	}

	for name, tc := range map[string]client.TLS{
		"missing CA file":   {CA: dir + "/nope.pem"},
		"CA file not PEM":   {CA: runner.Key + ".x"},
		"a cert, no key":    {ClientCert: runner.Cert},
		"a key, no cert":    {ClientKey: runner.Key},
		"key of another":    {ClientCert: runner.Cert, ClientKey: serverPair.Key},
		"key file not PEM?": {ClientCert: runner.Cert, ClientKey: ca.File},
	} {
		if name == "CA file not PEM" {
			os.WriteFile(tc.CA, []byte("not a certificate"), 0o600)
		}
		if _, err := client.NewWithTLS(srv.URL, token, tc); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// writeCA writes an httptest server's certificate as a CA file.
func writeCA(t *testing.T, cert *x509.Certificate) string {
	t.Helper()
	path := t.TempDir() + "/ca.pem"
	if err := os.WriteFile(path, pemCert(cert), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pemCert(cert *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
}
