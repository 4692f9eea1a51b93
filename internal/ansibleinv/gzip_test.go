package ansibleinv

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

func gzipped(s string) string {
	var b bytes.Buffer
	zw := gzip.NewWriter(&b)
	io.WriteString(zw, s)
	zw.Close()
	return b.String()
}

// TestAskGzip: by default gzip is asked for unless Roster's host is
// loopback; ROSTER_GZIP=on and off say otherwise.
func TestAskGzip(t *testing.T) {
	for _, tc := range []struct {
		url, mode string
		want      bool
	}{
		{"http://127.0.0.1:8080", "", false},
		{"http://127.0.0.2:8080", GzipAuto, false},
		{"https://[::1]:8443", "", false},
		{"https://[::ffff:127.0.0.1]:8443", "", false},
		{"http://localhost:8080", "", false},
		{"http://LocalHost.:8080", "", false},
		{"http://roster.localhost:8080", "", false},
		{"https://roster.example:8443", "", true},
		{"https://10.1.2.3", GzipAuto, true},
		{"https://[2001:db8::1]", "", true},
		{"https://roster.example:8443", GzipOff, false},
		{"http://127.0.0.1:8080", GzipOn, true},
	} {
		if got := askGzip(Config{URL: tc.url, Gzip: tc.mode}); got != tc.want {
			t.Errorf("%s with %q: %v, want %v", tc.url, tc.mode, got, tc.want)
		}
	}
	if code, _, stderr := run(t, map[string]string{"ROSTER_GZIP": "yes"}, "--list"); code != 2 || !strings.Contains(stderr, "ROSTER_GZIP") || !strings.Contains(stderr, "auto, on or off") {
		t.Errorf("ROSTER_GZIP=yes: exit %d, stderr %q", code, stderr)
	}
}

// TestGzipAnswer: the script asks for gzip itself when told to (and only
// then: Go's transport would ask on its own), prints the decoded
// document, and keeps the decoded document in its cache, printed on 304.
func TestGzipAnswer(t *testing.T) {
	var mu sync.Mutex
	var asked []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.Header.Get("Accept-Encoding")+"|"+r.Header.Get("If-None-Match"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if r.Header.Get("Accept-Encoding") == "gzip" {
			if r.Header.Get("If-None-Match") == `"v1-gzip"` {
				w.WriteHeader(http.StatusNotModified)
				return
			}
			w.Header().Set("ETag", `"v1-gzip"`)
			w.Header().Set("Content-Encoding", "gzip")
			io.WriteString(w, gzipped(validList))
			return
		}
		io.WriteString(w, validList)
	}))
	defer srv.Close()
	cache := t.TempDir()
	for _, tc := range []struct{ mode, cache, asked string }{
		{"", "off", "|"},
		{"auto", "off", "|"},
		{"off", "off", "|"},
		{"on", "off", "gzip|"},
		{"on", cache, "gzip|"},
		{"on", cache, `gzip|"v1-gzip"`}, // 304: the kept copy
	} {
		mu.Lock()
		asked = nil
		mu.Unlock()
		code, stdout, stderr := run(t, map[string]string{"ROSTER_URL": srv.URL, "ROSTER_GZIP": tc.mode, "ROSTER_CACHE": tc.cache}, "--list")
		if code != 0 || stdout != validList {
			t.Fatalf("ROSTER_GZIP=%q ROSTER_CACHE=%s: exit %d, stdout %q, stderr %q", tc.mode, tc.cache, code, stdout, stderr)
		}
		mu.Lock()
		if fmt.Sprint(asked) != "["+tc.asked+"]" {
			t.Errorf("ROSTER_GZIP=%q: asked %q (Accept-Encoding|If-None-Match), want %q", tc.mode, asked, tc.asked)
		}
		mu.Unlock()
	}
}

// TestBrokenGzipAnswers: a gzip-encoded answer that cannot be decoded, or
// an encoding not asked for, fails the script with nothing on stdout.
func TestBrokenGzipAnswers(t *testing.T) {
	encoded := gzipped(validList)
	damaged := []byte(encoded)
	damaged[len(damaged)-5] ^= 0xff // the trailer's checksum
	const head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: %s\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s"
	for _, tc := range []struct {
		name, response string
		want           []string
	}{
		{"not gzip", fmt.Sprintf(head, "gzip", len(validList), validList), []string{"the gzip-encoded document is damaged: gzip: invalid header"}},
		{"checksum", fmt.Sprintf(head, "gzip", len(damaged), damaged), []string{"the gzip-encoded document is damaged: gzip: invalid checksum"}},
		{"cut inside the stream", fmt.Sprintf(head, "gzip", len(encoded)/2, encoded[:len(encoded)/2]), []string{"the gzip-encoded document is damaged: unexpected EOF"}},
		{"body cut short", fmt.Sprintf(head, "gzip", len(encoded), encoded[:len(encoded)/2]), []string{"the document was cut short", "unexpected EOF"}},
		{"empty", fmt.Sprintf(head, "gzip", 0, ""), []string{"the answer is empty"}},
		{"another encoding", fmt.Sprintf(head, "br", len(validList), validList), []string{`the answer is encoded as "br", which was not asked for`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			mustFail(t, rawServer(t, tc.response), map[string]string{"ROSTER_GZIP": "on", "ROSTER_CACHE": "off"}, []string{"--list"}, tc.want...)
		})
	}
}
