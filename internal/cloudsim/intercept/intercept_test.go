package intercept_test

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim/intercept"
	"github.com/rosterhq/roster/internal/testenv"
)

// TestMain runs the tests in the user's world: without the variables that
// choose trusted CAs (see testenv.Main).
func TestMain(m *testing.M) { testenv.Main(m) }

// start runs a proxy for hosts in front of h and returns its URL and a
// client that goes through it, trusting its CA only.
func start(t *testing.T, h http.Handler, hosts ...string) (*intercept.Proxy, string, *http.Client) {
	t.Helper()
	p, err := intercept.New(intercept.Options{Hosts: hosts, Handler: h})
	if err != nil {
		t.Fatal(err)
	}
	proxyURL, stop, err := p.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(p.CACertificatePEM()) {
		t.Fatal("the CA is not PEM")
	}
	u, _ := url.Parse(proxyURL)
	tr := &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}
	t.Cleanup(tr.CloseIdleConnections)
	return p, proxyURL, &http.Client{Transport: tr, Timeout: 10 * time.Second}
}

func TestInterceptedHostReachesTheHandler(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.TLS == nil {
			t.Errorf("request without TLS")
		}
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "%s %s %s %s %s", r.Proto, r.Method, r.Host, r.URL.RequestURI(), body)
	})
	_, _, c := start(t, h, "www.googleapis.com", "OAuth2.googleapis.com")
	for i, tc := range []struct{ method, url, body, want string }{
		{"GET", "https://www.googleapis.com/compute/v1/projects/p/aggregated/instances?filter=a", "",
			"HTTP/1.1 GET www.googleapis.com /compute/v1/projects/p/aggregated/instances?filter=a "},
		{"POST", "https://oauth2.googleapis.com/token", "grant_type=x", "HTTP/1.1 POST oauth2.googleapis.com /token grant_type=x"},
		// The same tunnel serves several requests.
		{"GET", "https://www.googleapis.com/again", "", "HTTP/1.1 GET www.googleapis.com /again "},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tc.method, tc.url, strings.NewReader(tc.body))
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(b) != tc.want {
			t.Errorf("%d: %d %q, want %q", i, resp.StatusCode, b, tc.want)
		}
	}
}

func TestOtherHostsAreRefused(t *testing.T) {
	var called atomic.Bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { called.Store(true) })
	_, proxyURL, c := start(t, h, "management.azure.com")
	for _, target := range []string{"https://example.com/", "https://management.azure.com:8443/", "https://evil.management.azure.com/"} {
		resp, err := c.Get(target)
		if err == nil {
			resp.Body.Close()
			t.Errorf("%s: reached through the proxy (%d)", target, resp.StatusCode)
		} else if !strings.Contains(err.Error(), "Forbidden") {
			t.Errorf("%s: %v, want the proxy's 403", target, err)
		}
	}
	// Plain HTTP through the proxy is not forwarded either.
	u, _ := url.Parse(proxyURL)
	plain := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u)}}
	resp, err := plain.Get("http://management.azure.com/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("plain http: %d, want 405", resp.StatusCode)
	}
	if called.Load() {
		t.Error("the handler was called")
	}
}

// A client that trusts only the system's CAs refuses the proxy's
// certificate: the CA is the test's own.
func TestCertificateIsTheTestCAs(t *testing.T) {
	_, proxyURL, _ := start(t, http.NotFoundHandler(), "login.microsoftonline.com")
	u, _ := url.Parse(proxyURL)
	c := &http.Client{Transport: &http.Transport{Proxy: http.ProxyURL(u), TLSClientConfig: &tls.Config{RootCAs: x509.NewCertPool()}}}
	resp, err := c.Get("https://login.microsoftonline.com/")
	if err == nil {
		resp.Body.Close()
		t.Fatal("a client without the CA accepted the certificate")
	}
	if !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("%v, want a certificate error", err)
	}
}

func TestHeaderSizeIsBounded(t *testing.T) {
	_, proxyURL, _ := start(t, http.NotFoundHandler(), "www.googleapis.com")
	conn, err := net.Dial("tcp", strings.TrimPrefix(proxyURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	go func() {
		fmt.Fprintf(conn, "CONNECT www.googleapis.com:443 HTTP/1.1\r\nHost: www.googleapis.com:443\r\nX-Big: %s\r\n\r\n",
			strings.Repeat("a", 2*intercept.MaxHeaderBytes))
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("%d, want 431", resp.StatusCode)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []intercept.Options{
		{Handler: http.NotFoundHandler()},
		{Hosts: []string{"www.googleapis.com"}},
		{Hosts: []string{"www.googleapis.com:443"}, Handler: http.NotFoundHandler()},
	} {
		if _, err := intercept.New(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
