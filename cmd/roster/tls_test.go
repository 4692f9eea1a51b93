package main

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/pkitest"
)

// regexpURL finds the URL in the log line of a server that serves.
var regexpURL = regexp.MustCompile(`msg="roster serving" url=(\S+)`)

// tlsServer is a `roster serve` process of the TLS tests.
type tlsServer struct {
	cmd  *exec.Cmd
	url  string
	log  string
	done chan error
}

// logs is what the server has logged so far.
func (s *tlsServer) logs() string {
	b, _ := os.ReadFile(s.log)
	return string(b)
}

// waitLog waits until the server's log says want n times.
func (s *tlsServer) waitLog(t *testing.T, want string, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); strings.Count(s.logs(), want) < n; {
		if time.Now().After(deadline) {
			t.Fatalf("the server did not log %q %d times:\n%s", want, n, tail(s.logs(), 4096))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// serveProcess starts `roster serve` on the SQLite database of dir with
// args, and waits for it to answer /healthz with client (nil: return at
// once, e.g. for a start that must fail).
func serveProcess(t *testing.T, bin, dir string, client *http.Client, args ...string) *tlsServer {
	t.Helper()
	s := &tlsServer{log: filepath.Join(dir, "serve.log"), done: make(chan error, 1)}
	logf, err := os.Create(s.log)
	must(t, err)
	s.cmd = exec.Command(bin, append([]string{"serve", "--data-dir", dir, "--log-format", "text"}, args...)...)
	s.cmd.Stdout, s.cmd.Stderr = logf, logf
	must(t, s.cmd.Start())
	go func() { s.done <- s.cmd.Wait(); logf.Close() }()
	t.Cleanup(func() {
		s.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-s.done:
		case <-time.After(20 * time.Second):
			s.cmd.Process.Kill()
		}
		if t.Failed() {
			t.Logf("roster serve log (last 4 KiB):\n%s", tail(s.logs(), 4096))
		}
	})
	if client == nil {
		return s
	}
	for deadline := time.Now().Add(30 * time.Second); ; {
		if m := regexpURL.FindStringSubmatch(s.logs()); m != nil {
			// A server on every interface is reached on 127.0.0.1 (its
			// certificate's address).
			s.url = strings.NewReplacer("[::]", "127.0.0.1", "0.0.0.0", "127.0.0.1").Replace(m[1])
			if resp, err := client.Get(s.url + "/healthz"); err == nil {
				resp.Body.Close()
				return s
			}
		}
		select {
		case err := <-s.done:
			t.Fatalf("roster serve exited: %v\n%s", err, s.logs())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("roster serve not ready:\n%s", s.logs())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tlsClient is an HTTP client trusting caFile, presenting pair if given.
func tlsClient(t *testing.T, caFile string, pair *pkitest.Pair) *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: tlsConf(t, caFile, pair)}, Timeout: 10 * time.Second}
}

func tlsConf(t *testing.T, caFile string, pair *pkitest.Pair) *tls.Config {
	t.Helper()
	pool := x509.NewCertPool()
	b, err := os.ReadFile(caFile)
	must(t, err)
	pool.AppendCertsFromPEM(b)
	conf := &tls.Config{RootCAs: pool}
	if pair != nil {
		cert, err := tls.LoadX509KeyPair(pair.Cert, pair.Key)
		must(t, err)
		conf.Certificates = []tls.Certificate{cert}
	}
	return conf
}

// runCLI runs a roster binary with env added to the user's environment.
func runCLI(bin string, env []string, args ...string) (stdout, stderr string, code int) {
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	return out.String(), errOut.String(), exitStatus(err)
}

// TestTLSServeAndClients runs a real `roster serve` over HTTPS with
// client-certificate auth and drives it with the real clients: roster's
// remote commands, roster exec (and the inventory script it hands the
// command) and roster-inventory, each with --ca and with ROSTER_CA.
func TestTLSServeAndClients(t *testing.T) {
	binDir := t.TempDir()
	bin := buildBinary(t, "./cmd/roster", binDir)
	inv := buildBinary(t, "./cmd/roster-inventory", binDir)
	pki := t.TempDir()
	ca := pkitest.NewCA(t, pki, "roster")
	server := ca.Server(t, pki, "server", "127.0.0.1")
	runners := pkitest.NewCA(t, pki, "runners")
	runner := runners.Client(t, pki, "runner")
	stranger := pkitest.NewCA(t, pki, "stranger").Client(t, pki, "stranger")

	dir := t.TempDir()
	admin := adminToken(t, bin, "--data-dir", dir)
	srv := serveProcess(t, bin, dir, tlsClient(t, ca.File, nil),
		"--listen", "127.0.0.1:0", "--tls-cert", server.Cert, "--tls-key", server.Key, "--tls-client-ca", runners.File)
	if !strings.HasPrefix(srv.url, "https://127.0.0.1:") {
		t.Fatalf("serving at %s, want https", srv.url)
	}
	withCert, noCert := tlsClient(t, ca.File, &runner), tlsClient(t, ca.File, nil)
	get := func(c *http.Client, path string) (int, string, string) {
		req, _ := http.NewRequest("GET", srv.url+path, nil)
		req.Header.Set("Authorization", "Bearer "+admin.Reveal())
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
	}

	t.Run("health checks need no client certificate, the API does", func(t *testing.T) {
		for _, p := range []string{"/healthz", "/readyz", "/metrics"} {
			if code, _, body := get(noCert, p); code != http.StatusOK {
				t.Errorf("GET %s without a client certificate: %d %s", p, code, body)
			}
		}
		for _, p := range []string{"/api/v1/inventories", "/api/v1/callbacks/rcb_x", "/nowhere"} {
			code, ct, body := get(noCert, p)
			if code != http.StatusUnauthorized || ct != "application/problem+json" || !strings.Contains(body, "client certificate is required") {
				t.Errorf("GET %s without a client certificate: %d %s %s, want a 401 problem", p, code, ct, body)
			}
		}
		if code, _, body := get(withCert, "/api/v1/inventories"); code != http.StatusOK {
			t.Fatalf("with a client certificate: %d %s", code, body)
		}
		// A certificate from a CA the server does not trust fails the
		// handshake (sent even though the server names the CAs it takes).
		conf := tlsConf(t, ca.File, &stranger)
		foreign := conf.Certificates[0]
		conf.Certificates, conf.GetClientCertificate = nil, func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &foreign, nil }
		resp, err := (&http.Client{Transport: &http.Transport{TLSClientConfig: conf}}).Get(srv.url + "/api/v1/inventories")
		if err == nil {
			resp.Body.Close()
			t.Fatalf("a client certificate from another CA: %d, want a failed handshake", resp.StatusCode)
		}
	})

	// The remote commands and roster-inventory read the CA from --ca or
	// ROSTER_CA, the client certificate from flags or the environment.
	base := []string{"HOME=" + t.TempDir(), "ROSTER_URL=" + srv.url, "ROSTER_TOKEN=" + admin.Reveal()}
	clientEnv := append(base, "ROSTER_CLIENT_CERT="+runner.Cert, "ROSTER_CLIENT_KEY="+runner.Key)
	t.Run("roster remote commands", func(t *testing.T) {
		if out, stderr, code := runCLI(bin, clientEnv, "credential", "create", "--ca", ca.File, "--name", "ops-ca", "--type", "ssh_certificate",
			"--field", "username=deploy", "--field", "ttl=10m"); code != 0 {
			t.Fatalf("credential create --ca: exit %d\n%s%s", code, out, stderr)
		}
		if out, stderr, code := runCLI(bin, append(clientEnv, "ROSTER_CA="+ca.File), "credential", "list"); code != 0 || !strings.Contains(out, "ops-ca") {
			t.Fatalf("credential list with ROSTER_CA: exit %d\n%s%s", code, out, stderr)
		}
		if out, stderr, code := runCLI(bin, append(base, "ROSTER_CA="+ca.File), "credential", "list", "--client-cert", runner.Cert, "--client-key", runner.Key); code != 0 {
			t.Fatalf("credential list --client-cert: exit %d\n%s%s", code, out, stderr)
		}
		_, stderr, code := runCLI(bin, clientEnv, "credential", "list")
		if code == 0 || !strings.Contains(stderr, "not signed by a CA this client trusts: name the CA's PEM file with --ca or ROSTER_CA") {
			t.Fatalf("without the CA: exit %d, stderr %q; want a certificate error", code, stderr)
		}
		_, stderr, code = runCLI(bin, append(base, "ROSTER_CA="+ca.File), "credential", "list")
		if code == 0 || !strings.Contains(stderr, "client certificate is required") {
			t.Fatalf("without a client certificate: exit %d, stderr %q; want the 401", code, stderr)
		}
	})

	// A runner with a grant, an inventory to read.
	c := tlsClient(t, ca.File, &runner)
	post := func(path string, body any) {
		t.Helper()
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", srv.url+path, bytes.NewReader(b))
		req.Header.Set("Authorization", "Bearer "+admin.Reveal())
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.Do(req)
		must(t, err)
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("POST %s: %d", path, resp.StatusCode)
		}
	}
	post("/api/v1/inventories", map[string]any{"name": "lab"})
	runnerOut, err := exec.Command(bin, "token", "create", "--name", "ci", "--role", "runner", "--data-dir", dir).Output()
	must(t, err)
	runnerToken := strings.TrimSpace(string(runnerOut))
	post("/api/v1/grants", map[string]string{"token": "ci", "credential": "ops-ca", "inventory": "lab"})
	runnerBase := []string{"HOME=" + t.TempDir(), "ROSTER_URL=" + srv.url, "ROSTER_TOKEN=" + runnerToken, "ROSTER_INVENTORY=lab"}

	t.Run("roster-inventory", func(t *testing.T) {
		env := append(runnerBase, "ROSTER_CA="+ca.File, "ROSTER_CLIENT_CERT="+runner.Cert, "ROSTER_CLIENT_KEY="+runner.Key)
		if out, stderr, code := runCLI(inv, env, "--list"); code != 0 || !strings.Contains(out, `"_meta"`) {
			t.Fatalf("ROSTER_CA: exit %d\n%s%s", code, out, stderr)
		}
		if out, stderr, code := runCLI(inv, runnerBase, "--list", "--ca", ca.File, "--client-cert", runner.Cert, "--client-key", runner.Key); code != 0 || !strings.Contains(out, `"_meta"`) {
			t.Fatalf("--ca: exit %d\n%s%s", code, out, stderr)
		}
		if out, stderr, code := runCLI(inv, runnerBase, "--list", "--client-cert", runner.Cert, "--client-key", runner.Key); code != 1 || out != "" ||
			!strings.Contains(stderr, "not signed by a CA this client trusts") {
			t.Fatalf("without the CA: exit %d, stdout %q, stderr %q", code, out, stderr)
		}
		if _, stderr, code := runCLI(inv, append(runnerBase, "ROSTER_CA="+ca.File), "--list"); code != 1 || !strings.Contains(stderr, "HTTP 401") {
			t.Fatalf("without a client certificate: exit %d, stderr %q; want the 401", code, stderr)
		}
	})

	t.Run("roster exec", func(t *testing.T) {
		// The command reads the inventory through the script roster exec
		// gives it: the TLS flags reach it.
		args := []string{"exec", "--inventory", "lab", "--credential", "ops-ca", "--ca", ca.File, "--client-cert", runner.Cert, "--client-key", runner.Key,
			"--", "sh", "-c", `test -s "$ROSTER_SSH_KEY_FILE" && "$ANSIBLE_INVENTORY" --list`}
		if out, stderr, code := runCLI(bin, runnerBase, args...); code != 0 || !strings.Contains(out, `"_meta"`) {
			t.Fatalf("roster exec --ca: exit %d\n%s%s", code, out, stderr)
		}
		env := append(runnerBase, "ROSTER_CA="+ca.File, "ROSTER_CLIENT_CERT="+runner.Cert, "ROSTER_CLIENT_KEY="+runner.Key)
		if out, stderr, code := runCLI(bin, env, "exec", "--inventory", "lab", "--credential", "ops-ca", "--", "true"); code != 0 {
			t.Fatalf("roster exec with ROSTER_CA: exit %d\n%s%s", code, out, stderr)
		}
		_, stderr, code := runCLI(bin, append(runnerBase, "ROSTER_CA="+ca.File), "exec", "--inventory", "lab", "--credential", "ops-ca", "--", "true")
		if code != exitExecFailed || !strings.Contains(stderr, "client certificate is required") {
			t.Fatalf("roster exec without a client certificate: exit %d, stderr %q", code, stderr)
		}
		_, stderr, code = runCLI(bin, runnerBase, "exec", "--inventory", "lab", "--credential", "ops-ca", "--", "true")
		if code != exitExecFailed || !strings.Contains(stderr, "--ca or ROSTER_CA") {
			t.Fatalf("roster exec without the CA: exit %d, stderr %q", code, stderr)
		}
	})

	t.Run("SIGHUP reloads the certificate without dropping connections", func(t *testing.T) {
		conf := tlsConf(t, ca.File, &runner)
		addr := strings.TrimPrefix(srv.url, "https://")
		conn, err := tls.Dial("tcp", addr, conf)
		must(t, err)
		defer conn.Close()
		br := bufio.NewReader(conn)
		request := func() {
			t.Helper()
			fmt.Fprintf(conn, "GET /api/v1/inventories HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n\r\n", addr, admin.Reveal())
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("a request on the connection opened before the reload: %v", err)
			}
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("a request on the connection opened before the reload: %d", resp.StatusCode)
			}
		}
		request()
		serialOf := func(c *tls.Conn) string { return c.ConnectionState().PeerCertificates[0].SerialNumber.String() }
		handshake := func() string {
			t.Helper()
			c, err := tls.Dial("tcp", addr, conf)
			must(t, err)
			defer c.Close()
			return serialOf(c)
		}
		if got := serialOf(conn); got != server.Serial.String() {
			t.Fatalf("serving serial %s, want %s", got, server.Serial)
		}

		// A new pair, written over the old one's files.
		renewed := ca.Server(t, t.TempDir(), "server", "127.0.0.1")
		replace := func(from, to string) {
			b, err := os.ReadFile(from)
			must(t, err)
			must(t, os.WriteFile(to+".new", b, 0o600))
			must(t, os.Rename(to+".new", to))
		}
		replace(renewed.Cert, server.Cert)
		replace(renewed.Key, server.Key)
		must(t, srv.cmd.Process.Signal(syscall.SIGHUP))
		srv.waitLog(t, "TLS certificate reloaded", 1)
		request() // the old connection still works, with the old certificate
		if got := serialOf(conn); got != server.Serial.String() {
			t.Fatalf("the open connection's certificate changed to %s", got)
		}
		if got := handshake(); got != renewed.Serial.String() {
			t.Fatalf("a new handshake sees serial %s, want the new certificate's %s", got, renewed.Serial)
		}

		// A bad pair keeps the one in use, and is logged.
		must(t, os.WriteFile(server.Cert, []byte("half written"), 0o600))
		must(t, srv.cmd.Process.Signal(syscall.SIGHUP))
		srv.waitLog(t, "TLS reload failed", 1)
		if got := handshake(); got != renewed.Serial.String() {
			t.Fatalf("after a bad reload a new handshake sees serial %s, want %s", got, renewed.Serial)
		}
		request()
		select {
		case err := <-srv.done:
			t.Fatalf("roster serve exited on SIGHUP: %v", err)
		default:
		}
	})
}

// TestTLSListenRefusesPlainHTTPOffLoopback: `roster serve` will not serve
// plain HTTP on an address that is not loopback, unless told to with
// --insecure-listen (and then warns); with TLS it does.
func TestTLSListenRefusesPlainHTTPOffLoopback(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	out, err := exec.Command(bin, "serve", "--listen", "0.0.0.0:0", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to serve plain HTTP on 0.0.0.0:0") || !strings.Contains(string(out), "--insecure-listen") {
		t.Fatalf("serve on 0.0.0.0 without TLS: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "serve", "--listen", ":0", "--data-dir", t.TempDir()).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "refusing to serve plain HTTP") {
		t.Fatalf("serve on every interface without TLS: %v\n%s", err, out)
	}

	plain := &http.Client{Timeout: 5 * time.Second}
	srv := serveProcess(t, bin, t.TempDir(), plain, "--listen", "0.0.0.0:0", "--insecure-listen")
	if !strings.Contains(srv.logs(), "level=WARN") || !strings.Contains(srv.logs(), "--insecure-listen") {
		t.Fatalf("no warning for --insecure-listen:\n%s", srv.logs())
	}
	srv = serveProcess(t, bin, t.TempDir(), plain, "--listen", "localhost:0")
	if strings.Contains(srv.logs(), "level=WARN") {
		t.Fatalf("a warning on localhost:\n%s", srv.logs())
	}

	pki := t.TempDir()
	ca := pkitest.NewCA(t, pki, "roster")
	pair := ca.Server(t, pki, "server", "127.0.0.1")
	srv = serveProcess(t, bin, t.TempDir(), tlsClient(t, ca.File, nil), "--listen", "0.0.0.0:0", "--tls-cert", pair.Cert, "--tls-key", pair.Key)
	if strings.Contains(srv.logs(), "level=WARN") {
		t.Fatalf("a warning with TLS:\n%s", srv.logs())
	}

	for _, args := range [][]string{{"--tls-cert", pair.Cert}, {"--tls-key", pair.Key}, {"--tls-client-ca", ca.File}} {
		out, err := exec.Command(bin, append([]string{"serve", "--listen", "127.0.0.1:0", "--data-dir", t.TempDir()}, args...)...).CombinedOutput()
		if err == nil || !strings.Contains(string(out), "TLS") && !strings.Contains(string(out), "tls") {
			t.Errorf("serve %q: %v\n%s", args, err, out)
		}
	}
}

// TestTLSPlainHTTPTokenNeverLeaves: roster's remote commands, roster exec
// and roster-inventory refuse to send a token over plain HTTP to a host
// that is not loopback, before any connection: a listener on a
// non-loopback address of this machine (where there is one) sees none.
func TestTLSPlainHTTPTokenNeverLeaves(t *testing.T) {
	binDir := t.TempDir()
	bin := buildBinary(t, "./cmd/roster", binDir)
	inv := buildBinary(t, "./cmd/roster-inventory", binDir)
	targets := []string{"http://192.0.2.1:1", "http://roster.example:8080"}
	w := pkitest.NewWitness(t)
	if w != nil {
		targets = append(targets, w.URL)
	}
	for _, u := range targets {
		env := []string{"HOME=" + t.TempDir(), "ROSTER_URL=" + u, "ROSTER_TOKEN=rst_0123456789abcdef_secret", "ROSTER_INVENTORY=lab"}
		for _, c := range []struct {
			bin  string
			args []string
		}{
			{bin, []string{"credential", "list"}},
			{bin, []string{"grant", "revoke", "g1"}},
			{bin, []string{"exec", "--inventory", "lab", "--credential", "ops-ca", "--", "true"}},
			{bin, []string{"inventory", "--list"}},
			{inv, []string{"--list"}},
		} {
			_, stderr, code := runCLI(c.bin, env, c.args...)
			if code == 0 || !strings.Contains(stderr, "refusing to send the API token over plain HTTP to ") || strings.Contains(stderr, "rst_0123") {
				t.Errorf("%s %q to %s: exit %d, stderr %q; want a refusal", filepath.Base(c.bin), c.args, u, code, stderr)
			}
		}
	}
	if w != nil && w.Connections() != 0 {
		t.Fatalf("%d connections reached %s", w.Connections(), w.URL)
	}
}

// TestPlainServeSurvivesHangup: a SIGHUP to a plain-HTTP `roster serve`
// (as `systemctl reload` or the README's `kill -HUP` sends) reloads
// its configuration and says so; the server goes on serving. An unhandled SIGHUP
// used to end the process.
func TestPlainServeSurvivesHangup(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	node := startNode(t, bin, "roster", filepath.Join(t.TempDir(), "roster.db"), nil)
	must(t, node.cmd.Process.Signal(syscall.SIGHUP))
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(node.log)
		if strings.Contains(string(b), "configuration reloaded") {
			break
		}
		select {
		case err := <-node.done:
			t.Fatalf("roster serve exited on SIGHUP: %v", err)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("no word of the SIGHUP in the log:\n%s", b)
		}
	}
	resp, err := http.Get(node.url + "/healthz")
	must(t, err)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("after SIGHUP /healthz answers %s", resp.Status)
	}
}
