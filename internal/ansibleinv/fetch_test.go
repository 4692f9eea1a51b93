package ansibleinv

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/pkitest"
)

const testToken = "rst_0123456789abcdef_secret"

// validList is a small --list document as Roster writes it.
const validList = `{"_meta":{"hostvars":{"web1":{"ansible_host":"10.0.0.1"},"db1":{}}},` +
	`"web":{"hosts":["web1"],"vars":{"http_port":80}},"empty":{},"prod":{"children":["web"]},` +
	`"all":{"children":["prod","ungrouped"]},"ungrouped":{"hosts":["db1"]}}` + "\n"

// run runs the script as Ansible does, with the settings in env (which
// get the test token and inventory "prod" unless they name others), from
// a directory without config files.
func run(t *testing.T, env map[string]string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	full := map[string]string{"ROSTER_TOKEN": testToken, "ROSTER_INVENTORY": "prod", "HOME": t.TempDir()}
	for k, v := range env {
		full[k] = v
	}
	var out, errOut bytes.Buffer
	code = Main(t.Context(), args, &out, &errOut, func(k string) string { return full[k] }, filepath.Join(t.TempDir(), "roster-inventory"))
	return code, out.String(), errOut.String()
}

// mustFail checks the contract of a failure: exit status 1, nothing on
// stdout, one line on stderr naming the inventory and the server, saying
// each of want, and never showing the token.
func mustFail(t *testing.T, server string, env map[string]string, args []string, want ...string) {
	t.Helper()
	if env == nil {
		env = map[string]string{}
	}
	if _, ok := env["ROSTER_URL"]; !ok {
		env["ROSTER_URL"] = server
	}
	code, stdout, stderr := run(t, env, args...)
	t.Log(stderr)
	if code != 1 {
		t.Errorf("exit status %d, want 1 (stderr %q)", code, stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
	if strings.Count(stderr, "\n") != 1 || !strings.HasSuffix(stderr, "\n") {
		t.Errorf("stderr = %q, want one line", stderr)
	}
	prefix := fmt.Sprintf("roster-inventory: read inventory %q from %s: ", "prod", displayURL(server))
	if len(args) == 2 {
		prefix = fmt.Sprintf("roster-inventory: read host %q of inventory %q from %s: ", args[1], "prod", displayURL(server))
	}
	if !strings.HasPrefix(stderr, prefix) {
		t.Errorf("stderr = %q, want it to start with %q", stderr, prefix)
	}
	for _, w := range want {
		if !strings.Contains(stderr, w) {
			t.Errorf("stderr = %q, want it to say %q", stderr, w)
		}
	}
	if strings.Contains(stderr, testToken) {
		t.Errorf("stderr shows the token: %q", stderr)
	}
}

// answer serves one fixed answer.
func answer(t *testing.T, status int, contentType, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if contentType != "" {
			w.Header().Set("Content-Type", contentType)
		}
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// rawServer answers every connection with raw bytes, then closes it:
// the responses no well-behaved HTTP server would send.
func rawServer(t *testing.T, response string) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { ln.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				conn.SetDeadline(time.Now().Add(10 * time.Second))
				if _, err := http.ReadRequest(bufio.NewReader(conn)); err != nil {
					return
				}
				io.WriteString(conn, response)
			})
		}
	})
	return "http://" + ln.Addr().String()
}

func TestValidDocumentIsPrintedAsSent(t *testing.T) {
	var auth, accept string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		auth, accept = r.Header.Get("Authorization"), r.Header.Get("Accept")
		if r.URL.Path != "/base/api/v1/inventories/prod/ansible" {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, validList)
	}))
	defer srv.Close()
	code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL + "/base/"}, "--list")
	if code != 0 || stdout != validList || stderr != "" {
		t.Fatalf("exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if auth != "Bearer "+testToken || accept != "application/json" {
		t.Fatalf("Authorization %q, Accept %q", auth, accept)
	}
}

// TestBrokenAnswers: every answer that is not a whole inventory fails
// the script, with nothing on stdout.
func TestBrokenAnswers(t *testing.T) {
	const partial = `{"_meta":{"hostvars":{"web1":{"ansible_host":"10.0.0.1"}}},"web":{"hosts":["web1"`
	complete := strings.TrimSpace(validList)
	for _, tc := range []struct {
		name   string
		server func(t *testing.T) string
		want   []string
	}{
		{"HTML with its type", func(t *testing.T) string {
			return answer(t, 200, "text/html; charset=utf-8", "<!doctype html><html><title>Sign in</title></html>")
		}, []string{"the answer is text/html, not JSON", "proxy"}},
		{"HTML without a type", func(t *testing.T) string {
			return rawServer(t, "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n<html></html>")
		}, []string{"the answer is not JSON: invalid character '<'", "at byte 1"}},
		{"Content-Length longer than the body", func(t *testing.T) string {
			return rawServer(t, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(partial)+500, partial))
		}, []string{fmt.Sprintf("the document was cut short after %d bytes: unexpected EOF", len(partial))}},
		{"chunked body cut off", func(t *testing.T) string {
			return rawServer(t, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(partial), partial))
		}, []string{"the document was cut short after", "unexpected EOF"}},
		// What Roster's own server sends when streaming fails at the end:
		// the JSON happens to be complete, the HTTP body is not.
		{"chunked body cut off after a complete document", func(t *testing.T) string {
			return rawServer(t, fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n%x\r\n%s\r\n", len(complete), complete))
		}, []string{"the document was cut short after", "unexpected EOF"}},
		{"body ended by closing, inside the JSON", func(t *testing.T) string {
			return rawServer(t, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"+partial)
		}, []string{fmt.Sprintf("the document was cut short after %d bytes: it ends inside the JSON", len(partial))}},
		{"empty body", func(t *testing.T) string { return answer(t, 200, "application/json", "") }, []string{"the answer is empty"}},
		{"a list", func(t *testing.T) string { return answer(t, 200, "application/json", "[]") }, []string{"not an Ansible inventory: the document is a list"}},
		{"an empty object", func(t *testing.T) string { return answer(t, 200, "application/json", "{}") }, []string{"not an Ansible inventory: it has no _meta.hostvars"}},
		{"an error object", func(t *testing.T) string {
			return answer(t, 200, "application/json", `{"error":{"message":"database locked"}}`)
		}, []string{"it has no _meta.hostvars"}},
		{"an error string", func(t *testing.T) string { return answer(t, 200, "application/json", `{"error":"database locked"}`) }, []string{`group "error" is a string, not an object`}},
		{"_meta without hostvars", func(t *testing.T) string { return answer(t, 200, "application/json", `{"_meta":{},"all":{}}`) }, []string{"it has no _meta.hostvars"}},
		{"host vars not an object", func(t *testing.T) string {
			return answer(t, 200, "application/json", `{"_meta":{"hostvars":{"web1":["x"]}}}`)
		}, []string{`the vars of host "web1" are a list, not an object`}},
		{"group hosts not a list", func(t *testing.T) string {
			return answer(t, 200, "application/json", `{"_meta":{"hostvars":{}},"web":{"hosts":"web1"}}`)
		}, []string{`the hosts of group "web" are not a list of names`}},
		{"group children not names", func(t *testing.T) string {
			return answer(t, 200, "application/json", `{"_meta":{"hostvars":{}},"web":{"children":[1]}}`)
		}, []string{`the children of group "web" are not a list of names`}},
		{"group vars not an object", func(t *testing.T) string {
			return answer(t, 200, "application/json", `{"_meta":{"hostvars":{}},"web":{"vars":[]}}`)
		}, []string{`the vars of group "web" are not an object`}},
		{"group null", func(t *testing.T) string {
			return answer(t, 200, "application/json", `{"_meta":{"hostvars":{}},"web":null}`)
		}, []string{`group "web" is null`}},
		{"two documents", func(t *testing.T) string {
			return answer(t, 200, "application/json", complete+` {"_meta":{"hostvars":{}}}`)
		}, []string{"more than one JSON value"}},
		{"trailing garbage", func(t *testing.T) string { return answer(t, 200, "application/json", complete+"<!-- cached -->") }, []string{"not JSON: invalid character '<'"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, tc.server(t), nil, []string{"--list"}, tc.want...)
		})
	}
}

func TestHTTPErrors(t *testing.T) {
	problem := func(status int, detail string) string {
		return fmt.Sprintf(`{"type":"about:blank","title":%q,"status":%d,"code":"x","detail":%q}`, http.StatusText(status), status, detail)
	}
	for _, tc := range []struct {
		status            int
		contentType, body string
		want              []string
	}{
		{401, "application/problem+json", problem(401, "invalid or expired token"), []string{"HTTP 401 Unauthorized: the API token was refused: invalid or expired token"}},
		{401, "", "", []string{"HTTP 401 Unauthorized: the API token was refused"}},
		{403, "application/problem+json", problem(403, "role runner may not do this"), []string{"HTTP 403 Forbidden: the API token may not read this inventory: role runner may not do this"}},
		{404, "application/problem+json", problem(404, `no inventory "prod"`), []string{`HTTP 404 Not Found: no such inventory: no inventory "prod"`}},
		{404, "text/html", "<h1>Not Found</h1>", []string{"HTTP 404 Not Found: no Roster API there: is ROSTER_URL Roster's base URL?"}},
		{500, "application/problem+json", problem(500, "internal error"), []string{"HTTP 500 Internal Server Error: internal error"}},
		{502, "text/html", "<html><body><h1>502 Bad Gateway</h1>\n<hr>nginx</body></html>", []string{"HTTP 502 Bad Gateway"}},
		{502, "text/plain", "upstream connect error\nor disconnect", []string{"HTTP 502 Bad Gateway: upstream connect error"}},
		{503, "application/problem+json", problem(503, "the database does not answer"), []string{"HTTP 503 Service Unavailable: the database does not answer"}},
		{503, "", "", []string{"HTTP 503 Service Unavailable"}},
		// A server echoing the token does not make the script show it.
		{401, "application/problem+json", problem(401, "token "+testToken+" is unknown"), []string{"token [redacted] is unknown"}},
	} {
		t.Run(fmt.Sprint(tc.status, tc.contentType), func(t *testing.T) {
			mustFail(t, answer(t, tc.status, tc.contentType, tc.body), nil, []string{"--list"}, tc.want...)
		})
	}
	t.Run("one host", func(t *testing.T) {
		srv := answer(t, 404, "application/problem+json", problem(404, `inventory "prod" has no host "web9"`))
		mustFail(t, srv, nil, []string{"--host", "web9"}, `HTTP 404 Not Found: no such host, or no such inventory: inventory "prod" has no host "web9"`)
	})
}

func TestUnreachable(t *testing.T) {
	t.Run("connection refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		mustFail(t, "http://"+addr, nil, []string{"--list"}, "connection refused")
	})
	t.Run("unknown host", func(t *testing.T) {
		mustFail(t, "https://roster.invalid:8080", nil, []string{"--list"}, "cannot look up roster.invalid")
	})
	t.Run("credentials in the URL stay out of the message", func(t *testing.T) {
		srv := answer(t, 401, "", "")
		u, _ := url.Parse(srv)
		u.User = url.UserPassword("ops", "hunter22")
		u.RawQuery = "token=hunter23"
		code, _, stderr := run(t, map[string]string{"ROSTER_URL": u.String()}, "--list")
		if code != 1 || !strings.Contains(stderr, srv+":") || strings.Contains(stderr, "hunter2") || strings.Contains(stderr, "ops") {
			t.Fatalf("exit %d, stderr %q", code, stderr)
		}
	})
	t.Run("a certificate not trusted", func(t *testing.T) {
		srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
		defer srv.Close()
		mustFail(t, srv.URL, nil, []string{"--list"}, "tls: failed to verify certificate")
	})
	t.Run("https to a plain server", func(t *testing.T) {
		srv := answer(t, 200, "application/json", validList)
		mustFail(t, strings.Replace(srv, "http://", "https://", 1), nil, []string{"--list"}, "server gave HTTP response to HTTPS client")
	})
}

func TestTimeouts(t *testing.T) {
	t.Run("no answer", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			<-r.Context().Done()
		}))
		defer srv.Close()
		start := time.Now()
		mustFail(t, srv.URL, map[string]string{"ROSTER_TIMEOUT": "300ms"}, []string{"--list"}, "no answer within 300ms (ROSTER_TIMEOUT)")
		if d := time.Since(start); d > 10*time.Second {
			t.Fatalf("gave up after %v", d)
		}
	})
	t.Run("a body that never ends", func(t *testing.T) {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"_meta":{"hostvars":{`)
			for i := 0; ; i++ {
				w.(http.Flusher).Flush()
				select {
				case <-r.Context().Done():
					return
				case <-time.After(20 * time.Millisecond):
				}
				fmt.Fprintf(w, `"h%d":{},`, i)
			}
		}))
		defer srv.Close()
		mustFail(t, srv.URL, map[string]string{"ROSTER_TIMEOUT": "300ms"}, []string{"--list"}, "the document did not arrive within 300ms (ROSTER_TIMEOUT)")
	})
}

func TestRedirects(t *testing.T) {
	var elsewhere atomic.Int32
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "" {
			elsewhere.Add(1)
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, validList)
	}))
	defer other.Close()
	otherURL := strings.Replace(other.URL, "127.0.0.1", "localhost", 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/v1/inventories/prod/ansible":
			http.Redirect(w, r, otherURL+r.URL.Path, http.StatusFound)
		case "/moved/api/v1/inventories/prod/ansible":
			http.Redirect(w, r, "/new/doc", http.StatusMovedPermanently)
		case "/new/doc":
			if r.Header.Get("Authorization") != "Bearer "+testToken {
				w.WriteHeader(http.StatusUnauthorized)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, validList)
		}
	}))
	defer srv.Close()

	mustFail(t, srv.URL, nil, []string{"--list"}, "redirected to "+otherURL+"/api/v1/inventories/prod/ansible", "not followed")
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the token went to another server %d times", n)
	}
	// The same server: followed, with the token.
	code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL + "/moved"}, "--list")
	if code != 0 || stdout != validList {
		t.Fatalf("same-origin redirect: exit %d, stderr %q", code, stderr)
	}
}

// TestTooLarge: an endless body stops at the configured size.
func TestTooLarge(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"_meta":{"hostvars":{`)
		for i := 0; ; i++ {
			if _, err := fmt.Fprintf(w, `"host-%d":{"ansible_host":"10.0.0.1"},`, i); err != nil {
				return
			}
		}
	}))
	defer srv.Close()
	mustFail(t, srv.URL, map[string]string{"ROSTER_MAX_SIZE": "1MiB"}, []string{"--list"}, "the document is larger than 1MiB (ROSTER_MAX_SIZE)")

	// At the limit exactly, it passes.
	code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": answer(t, 200, "application/json", validList),
		"ROSTER_MAX_SIZE": fmt.Sprint(len(validList))}, "--list")
	if code != 0 || stdout != validList {
		t.Fatalf("a document of exactly max_size: exit %d, stderr %q", code, stderr)
	}
}

// TestRetryAfter: Roster answers a crowd with 429 and Retry-After; the
// script waits and asks again, within its timeout.
func TestRetryAfter(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.Header().Set("Retry-After", "0")
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusTooManyRequests)
			io.WriteString(w, `{"detail":"too many whole-inventory reads at once"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, validList)
	}))
	defer srv.Close()
	code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL}, "--list")
	if code != 0 || stdout != validList || calls.Load() != 3 {
		t.Fatalf("exit %d after %d requests, stderr %q", code, calls.Load(), stderr)
	}

	// Always busy: the script gives up after maxAttempts.
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "0")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer busy.Close()
	mustFail(t, busy.URL, nil, []string{"--list"}, "HTTP 429 Too Many Requests", fmt.Sprintf("tried %d times", maxAttempts))

	// A wait past the timeout is not waited for.
	later := answerWithHeader(t, http.StatusServiceUnavailable, "Retry-After", "3600")
	start := time.Now()
	mustFail(t, later, map[string]string{"ROSTER_TIMEOUT": "20s"}, []string{"--list"}, "HTTP 503 Service Unavailable", "asked to retry after 1h0m0s")
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("waited %v for a retry that could not fit", d)
	}
}

func answerWithHeader(t *testing.T, status int, header, value string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set(header, value)
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestHostVars(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Query().Get("host") {
		case "web1":
			io.WriteString(w, `{"ansible_host":"10.0.0.1"}`)
		case "web2":
			io.WriteString(w, `["not","vars"]`)
		}
	}))
	defer srv.Close()
	code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL}, "--host", "web1")
	if code != 0 || stdout != `{"ansible_host":"10.0.0.1"}` || query != "host=web1" {
		t.Fatalf("exit %d, stdout %q, stderr %q, query %q", code, stdout, stderr, query)
	}
	mustFail(t, srv.URL, nil, []string{"--host", "web2"}, "the answer is not a host's vars: it is a list, not an object")
}

func TestMaxAgeIsAskedFor(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Write([]byte(`{"_meta":{"hostvars":{}}}`))
	}))
	defer srv.Close()
	for _, tc := range []struct{ maxAge, want string }{{"90s", "max_age=90"}, {"1500ms", "max_age=2"}} {
		if code, _, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL, "ROSTER_MAX_AGE": tc.maxAge}, "--list"); code != 0 {
			t.Fatal(stderr)
		}
		if query != tc.want {
			t.Fatalf("ROSTER_MAX_AGE=%s: query = %q, want %s", tc.maxAge, query, tc.want)
		}
	}
	if code, _, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL, "ROSTER_MAX_AGE": "soon"}, "--list"); code != 2 || !strings.Contains(stderr, "ROSTER_MAX_AGE") {
		t.Fatalf("bad ROSTER_MAX_AGE: exit %d, %q", code, stderr)
	}
}

// TestPlainHTTPIsForLoopbackOnly: with a plain http:// URL to a host that
// is not loopback, the script refuses as a settings error (status 2)
// before any connection; loopback stays allowed.
func TestPlainHTTPIsForLoopbackOnly(t *testing.T) {
	urls := []string{"http://192.0.2.1:1", "http://roster.example:8080", "http://[2001:db8::1]:1"}
	w := pkitest.NewWitness(t)
	if w != nil {
		urls = append(urls, w.URL)
	}
	for _, u := range urls {
		code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": u}, "--list")
		if code != 2 || stdout != "" || !strings.Contains(stderr, "refusing to send the API token over plain HTTP to ") || strings.Contains(stderr, testToken) {
			t.Errorf("%s: exit %d, stderr %q; want status 2 and a refusal", u, code, stderr)
		}
	}
	if w != nil && w.Connections() != 0 {
		t.Fatalf("%d connections reached %s", w.Connections(), w.URL)
	}
	srv := answer(t, 200, "application/json", validList)
	for _, u := range []string{srv, strings.Replace(srv, "127.0.0.1", "localhost", 1)} {
		if code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": u}, "--list"); code != 0 || stdout != validList {
			t.Errorf("%s: exit %d, stderr %q", u, code, stderr)
		}
	}
}

// TestServerCertificate: the script verifies Roster's certificate against
// the CA given as ROSTER_CA, --ca or the config file's ca (relative to
// the file), presents a client certificate when given one, and says what
// to do when the certificate is not trusted.
func TestServerCertificate(t *testing.T) {
	dir := t.TempDir()
	ca := pkitest.NewCA(t, dir, "roster")
	pair := ca.Server(t, dir, "server", "127.0.0.1")
	runners := pkitest.NewCA(t, dir, "runners")
	runner := runners.Client(t, dir, "runner")
	cert, err := tls.LoadX509KeyPair(pair.Cert, pair.Key)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	b, _ := os.ReadFile(runners.File)
	pool.AppendCertsFromPEM(b)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if len(r.TLS.VerifiedChains) == 0 {
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusUnauthorized)
			io.WriteString(w, `{"title":"Unauthorized","detail":"a client certificate is required"}`)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, validList)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, ClientCAs: pool, ClientAuth: tls.VerifyClientCertIfGiven}
	srv.StartTLS()
	defer srv.Close()
	withCert := map[string]string{"ROSTER_URL": srv.URL, "ROSTER_CLIENT_CERT": runner.Cert, "ROSTER_CLIENT_KEY": runner.Key}

	env := maps.Clone(withCert)
	env["ROSTER_CA"] = ca.File
	if code, stdout, stderr := run(t, env, "--list"); code != 0 || stdout != validList {
		t.Fatalf("ROSTER_CA: exit %d, stderr %q", code, stderr)
	}
	if code, stdout, stderr := run(t, maps.Clone(withCert), "--ca", ca.File, "--list"); code != 0 || stdout != validList {
		t.Fatalf("--ca: exit %d, stderr %q", code, stderr)
	}
	confDir := t.TempDir()
	os.WriteFile(filepath.Join(confDir, "ca.pem"), must(os.ReadFile(ca.File)), 0o600)
	conf := writeFile(t, filepath.Join(confDir, "inventory.yaml"), "url: "+srv.URL+"\nca: ca.pem\nclient_cert: "+runner.Cert+"\nclient_key: "+runner.Key+"\n")
	if code, stdout, stderr := run(t, map[string]string{configEnv: conf}, "--list"); code != 0 || stdout != validList {
		t.Fatalf("ca: in the config file: exit %d, stderr %q", code, stderr)
	}

	mustFail(t, srv.URL, maps.Clone(withCert), []string{"--list"}, "not signed by a CA this client trusts: name the CA's PEM file with --ca or ROSTER_CA")
	mustFail(t, srv.URL, map[string]string{"ROSTER_CA": ca.File}, []string{"--list"}, "HTTP 401", "a client certificate is required")
	if code, _, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL, "ROSTER_CA": filepath.Join(dir, "nope.pem")}, "--list"); code != 2 || !strings.Contains(stderr, "read the CA file") {
		t.Fatalf("a missing CA file: exit %d, stderr %q; want status 2", code, stderr)
	}
	if code, _, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL, "ROSTER_CLIENT_CERT": runner.Cert}, "--list"); code != 2 || !strings.Contains(stderr, "both the certificate and its key") {
		t.Fatalf("a client certificate without its key: exit %d, stderr %q; want status 2", code, stderr)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
