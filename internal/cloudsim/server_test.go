package cloudsim_test

import (
	"context"
	"crypto/tls"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/rosterhq/roster/internal/cloudsim"
)

func get(t *testing.T, c *http.Client, url string) string {
	t.Helper()
	r, err := c.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// TestServerStartStop: Start serves the handler on 127.0.0.1 and says
// where; stop ends it, and so does the end of the context.
func TestServerStartStop(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "hello "+r.URL.Path) })
	url, stop, err := cloudsim.Server{Name: "testsim", Handler: h}.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("url %q", url)
	}
	if got := get(t, http.DefaultClient, url+"/x"); got != "hello /x" {
		t.Fatalf("got %q", got)
	}
	stop()
	stop() // twice is fine
	if _, err := http.Get(url); err == nil {
		t.Fatal("served after stop")
	}

	ctx, cancel := context.WithCancel(t.Context())
	url, stop, err = cloudsim.Server{Name: "testsim", Handler: h}.Start(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	cancel()
	stop() // waits for the shutdown the cancel began
	if _, err := http.Get(url); err == nil {
		t.Fatal("served after the context ended")
	}
	if _, _, err := (cloudsim.Server{Name: "testsim", Handler: h}).Start(t.Context(), "256.0.0.1:0"); err == nil || !strings.Contains(err.Error(), "testsim: listen on 256.0.0.1:0") {
		t.Fatalf("bad address: %v", err)
	}
}

// TestServerTLS: with a CA's certificate the server speaks HTTPS that a
// client trusting only that CA accepts.
func TestServerTLS(t *testing.T) {
	ca, err := cloudsim.NewCA("test CA", []string{"localhost", "127.0.0.1"}, false)
	if err != nil {
		t.Fatal(err)
	}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "tls") })
	url, stop, err := cloudsim.Server{Name: "testsim", Handler: h,
		TLS: &tls.Config{Certificates: []tls.Certificate{ca.Leaf}, MinVersion: tls.VersionTLS12}}.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if !strings.HasPrefix(url, "https://") {
		t.Fatalf("url %q", url)
	}
	trusting := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Pool}}}
	if got := get(t, trusting, url); got != "tls" {
		t.Fatalf("got %q", got)
	}
	if _, err := http.Get(url); err == nil {
		t.Fatal("a client not trusting the CA was served")
	}
}
