package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// TestAnsibleListGzip: a real `roster serve` offers the --list document
// gzip-encoded (the gunzipped bytes are the document), with an ETag of
// its own; If-None-Match with either ETag answers 304; a request without
// Accept-Encoding gets the document as it is. roster-inventory prints
// the same document whether it asked for gzip or not, and its cache, kept
// from a gzip answer, is printed on 304 either way.
func TestAnsibleListGzip(t *testing.T) {
	sim := awssim.New(awssim.Options{Seed: 31, Size: 300, Regions: []string{"us-east-1"}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	binDir := t.TempDir()
	bin := buildBinary(t, "./cmd/roster", binDir)
	script := buildBinary(t, "./cmd/roster-inventory", binDir)
	db := filepath.Join(t.TempDir(), "roster.db")
	node := startNode(t, bin, "roster", db, []string{"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey})
	token := adminToken(t, bin, "--database", db)
	api := client.New(node.url, token)
	must(t, api.Do(t.Context(), "POST", "/inventories", map[string]any{"name": "gz"}, nil))
	var src struct{ ID string }
	must(t, api.Do(t.Context(), "POST", "/inventories/gz/sources", map[string]any{"name": "ec2", "provider": "aws",
		"config": map[string]any{"regions": []string{"us-east-1"}, "endpoint_url": simSrv.URL}}, &src))
	if run := syncToEnd(t, api, src.ID); run.Status != "succeeded" || run.Counts.Added == 0 {
		t.Fatalf("sync: %+v", run)
	}

	// The transport asks for no encoding on its own: what each request
	// asks is what it says.
	hc := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	get := func(method string, header ...string) (*http.Response, []byte) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, node.url+"/api/v1/inventories/gz/ansible", nil)
		must(t, err)
		req.Header.Set("Authorization", "Bearer "+token.Reveal())
		for i := 0; i+1 < len(header); i += 2 {
			req.Header.Set(header[i], header[i+1])
		}
		resp, err := hc.Do(req)
		must(t, err)
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		must(t, err)
		if resp.Header.Get("Vary") != "Accept-Encoding" {
			t.Errorf("%s %v: Vary %q", method, header, resp.Header.Get("Vary"))
		}
		return resp, body
	}

	resp, plain := get("GET")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "" || !bytes.Contains(plain, []byte(`"_meta"`)) {
		t.Fatalf("without Accept-Encoding: %d, Content-Encoding %q, %.100s", resp.StatusCode, resp.Header.Get("Content-Encoding"), plain)
	}
	etag := resp.Header.Get("ETag")
	resp, encoded := get("GET", "Accept-Encoding", "gzip")
	gzETag := resp.Header.Get("ETag")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Encoding") != "gzip" || gzETag != strings.TrimSuffix(etag, `"`)+`-gzip"` ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(encoded)) || len(encoded) >= len(plain)/2 {
		t.Fatalf("with Accept-Encoding gzip: %d, Content-Encoding %q, ETag %s (plain %s), %d bytes for %d, Content-Length %s",
			resp.StatusCode, resp.Header.Get("Content-Encoding"), gzETag, etag, len(encoded), len(plain), resp.Header.Get("Content-Length"))
	}
	zr, err := gzip.NewReader(bytes.NewReader(encoded))
	must(t, err)
	decoded, err := io.ReadAll(zr)
	must(t, err)
	if !bytes.Equal(decoded, plain) {
		t.Fatal("the gunzipped document is not the document")
	}
	for _, tag := range []string{etag, gzETag} {
		for _, ae := range []string{"", "gzip"} {
			resp, body := get("GET", "If-None-Match", tag, "Accept-Encoding", ae)
			want := etag
			if ae == "gzip" {
				want = gzETag
			}
			if resp.StatusCode != http.StatusNotModified || len(body) != 0 || resp.Header.Get("ETag") != want {
				t.Errorf("If-None-Match %s, Accept-Encoding %q: %d, ETag %s, %d bytes (want 304, %s)", tag, ae, resp.StatusCode, resp.Header.Get("ETag"), len(body), want)
			}
		}
	}
	if resp, body := get("HEAD", "Accept-Encoding", "gzip"); resp.StatusCode != http.StatusOK || len(body) != 0 ||
		resp.Header.Get("Content-Length") != strconv.Itoa(len(encoded)) || resp.Header.Get("Content-Encoding") != "gzip" {
		t.Errorf("HEAD with gzip: %d, Content-Length %s (want %d)", resp.StatusCode, resp.Header.Get("Content-Length"), len(encoded))
	}

	// roster-inventory: the same output asking for gzip or not; the
	// server's access log tells which was sent.
	list := func(mode, cache string) string {
		t.Helper()
		cmd := exec.Command(script, "--list")
		cmd.Env = append(os.Environ(), "ROSTER_URL="+node.url, "ROSTER_TOKEN="+token.Reveal(), "ROSTER_INVENTORY=gz",
			"ROSTER_GZIP="+mode, "ROSTER_CACHE="+cache)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("roster-inventory with ROSTER_GZIP=%s: %v: %s", mode, err, stderr.String())
		}
		return string(out)
	}
	cache := t.TempDir()
	for _, c := range []struct {
		mode, cache string
		status      int
		bytes       int
	}{
		{"off", "off", http.StatusOK, len(plain)},
		{"auto", "off", http.StatusOK, len(plain)}, // loopback
		{"on", "off", http.StatusOK, len(encoded)},
		{"on", cache, http.StatusOK, len(encoded)},
		{"on", cache, http.StatusNotModified, 0},  // kept from the gzip answer
		{"off", cache, http.StatusNotModified, 0}, // its ETag is the document's either way
	} {
		before := len(listRequests(t, node.log))
		if out := list(c.mode, c.cache); out != string(plain) {
			t.Fatalf("ROSTER_GZIP=%s ROSTER_CACHE=%s: printed %d bytes, not the %d of the document", c.mode, c.cache, len(out), len(plain))
		}
		status, n := lastListRequest(t, node.log, before)
		if status != c.status || n != c.bytes {
			t.Errorf("ROSTER_GZIP=%s ROSTER_CACHE=%s: the server answered %d with %d bytes, want %d with %d", c.mode, c.cache, status, n, c.status, c.bytes)
		}
	}
}

var listRequestLine = regexp.MustCompile(`msg="http request" method=GET path=/api/v1/inventories/gz/ansible status=(\d+) bytes=(\d+)`)

func listRequests(t *testing.T, log string) [][]string {
	t.Helper()
	b, err := os.ReadFile(log)
	must(t, err)
	return listRequestLine.FindAllStringSubmatch(string(b), -1)
}

// lastListRequest is the status and body size of the last --list request
// in the server's access log, once it has more than before (the line is
// written after the answer).
func lastListRequest(t *testing.T, log string, before int) (status, bytes int) {
	t.Helper()
	m := listRequests(t, log)
	for deadline := time.Now().Add(10 * time.Second); len(m) <= before; m = listRequests(t, log) {
		if time.Now().After(deadline) {
			t.Fatal("no new --list request in the access log")
		}
		time.Sleep(20 * time.Millisecond)
	}
	last := m[len(m)-1]
	status, _ = strconv.Atoi(last[1])
	bytes, _ = strconv.Atoi(last[2])
	return status, bytes
}
