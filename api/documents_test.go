package api_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/store"
)

// TestDocumentsFollowEveryChange reads the Ansible and Prometheus SD
// documents with If-None-Match after each kind of change made through the
// API: a client holding the current document gets 304, and after any
// change the new document, never the cached one.
func TestDocumentsFollowEveryChange(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(map[string]any{"compose": map[string]any{"round": "'1'"}}))
	f.syncAndWait(src.Id)

	type ansibleDoc struct {
		Meta struct {
			Hostvars map[string]map[string]any `json:"hostvars"`
		} `json:"_meta"`
		Web struct {
			Vars map[string]any `json:"vars"`
		} `json:"tag_Role_web"`
	}
	// get reads path with If-None-Match etag ("": none), wants status,
	// and returns the answer's ETag.
	get := func(path, etag string, status int) (string, response) {
		t.Helper()
		h := http.Header{}
		if etag != "" {
			h.Set("If-None-Match", etag)
		}
		r := f.send("GET", path, f.admin, nil, h)
		wantStatus(t, r, status)
		tag := r.header.Get("ETag")
		if tag == "" || r.header.Get("Roster-Stale") == "" {
			t.Fatalf("GET %s → %d without ETag or freshness headers: %v", path, status, r.header)
		}
		if status == http.StatusNotModified && (len(r.body) != 0 || !strings.Contains(etag, tag)) {
			t.Fatalf("304 with ETag %s (asked for %s) and %d bytes", tag, etag, len(r.body))
		}
		return tag, r
	}
	round := func(r response) any {
		t.Helper()
		var doc ansibleDoc
		r.json(t, &doc)
		for _, vars := range doc.Meta.Hostvars {
			return vars["round"]
		}
		t.Fatal("no host in the document")
		return nil
	}
	const list = "/api/v1/inventories/prod/ansible"

	e1, r := get(list, "", http.StatusOK)
	if round(r) != "1" {
		t.Fatalf("round %v, want 1", round(r))
	}
	get(list, e1, http.StatusNotModified)
	get(list, "W/"+e1+`, "other"`, http.StatusNotModified)

	// A sync that changes every host.
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{
		"config": f.awsConfig(map[string]any{"compose": map[string]any{"round": "'2'"}})}), http.StatusOK)
	get(list, e1, http.StatusNotModified) // a source's config alone changes no document
	f.syncAndWait(src.Id)
	e2, r := get(list, e1, http.StatusOK)
	if e2 == e1 || round(r) != "2" {
		t.Fatalf("after a sync: ETag %s (was %s), round %v", e2, e1, round(r))
	}
	// A sync that changes nothing keeps the document.
	f.syncAndWait(src.Id)
	get(list, e2, http.StatusNotModified)

	// Group vars.
	wantStatus(t, f.do("PUT", "/api/v1/inventories/prod/groups/tag_Role_web/vars", f.admin, map[string]any{"http_port": 8080}), http.StatusOK)
	e3, r := get(list, e2, http.StatusOK)
	var doc ansibleDoc
	r.json(t, &doc)
	if doc.Web.Vars["http_port"] != float64(8080) {
		t.Fatalf("after setting group vars: %v", doc.Web.Vars)
	}
	// ?all=true is another document, with its own tag.
	all, _ := get(list+"?all=true", e3, http.StatusOK)
	if all == e3 {
		t.Fatal("the documents with and without disabled hosts share an ETag")
	}

	// Prometheus SD names the source: a rename is a change.
	wantStatus(t, f.do("PATCH", "/api/v1/inventories/prod", f.admin, map[string]any{"prometheus_sd": map[string]any{"port": 9100}}), http.StatusOK)
	sd := "/api/v1/inventories/prod/prometheus-sd"
	p1, _ := get(sd, "", http.StatusOK)
	get(sd, p1, http.StatusNotModified)
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"name": "ec2-renamed"}), http.StatusOK)
	_, r = get(sd, p1, http.StatusOK)
	var groups []struct{ Labels map[string]string }
	r.json(t, &groups)
	if len(groups) == 0 || groups[0].Labels["__meta_roster_source"] != "ec2-renamed" {
		t.Fatalf("after renaming the source: %.300s", r.body)
	}

	// Deleting the source takes its hosts out.
	e4, _ := get(list, "", http.StatusOK)
	wantStatus(t, f.do("DELETE", "/api/v1/sources/"+src.Id, f.admin, nil), http.StatusNoContent)
	_, r = get(list, e4, http.StatusOK)
	doc = ansibleDoc{}
	r.json(t, &doc)
	if len(doc.Meta.Hostvars) != 0 {
		t.Fatalf("the deleted source's %d hosts are still served", len(doc.Meta.Hostvars))
	}

	// What nobody reads any more is gone from disk (once the last
	// handler has let go of it): one file per kind, and the gzip encoding
	// of the Ansible ones (this client, Go's, asks for gzip and decodes
	// it unseen).
	eventually(t, "one rendered document per kind", func() bool {
		var docs, encoded int
		for _, path := range documentFiles(t, f.docDir) {
			if strings.HasSuffix(path, ".gz") {
				encoded++
			} else {
				docs++
			}
		}
		return docs <= 3 && encoded <= 2
	})
}

// documentFiles lists the rendered documents in a server's DocumentDir.
func documentFiles(t *testing.T, dir string) []string {
	t.Helper()
	found, err := filepath.Glob(filepath.Join(dir, "*", "*"))
	if err != nil {
		t.Fatal(err)
	}
	return found
}

// eventually waits until cond holds, at most 10 s: for what a handler
// does after its client has the whole answer.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not so after 10 s: %s", what)
		}
	}
}

// docServer is an API server over a real SQLite store with one inventory,
// "prod", of hosts with large vars, and an admin token; it counts the
// store's walks (renders).
type docServer struct {
	t     *testing.T
	url   string
	token string
	st    *countingStore
	inv   *roster.Inventory
	src   *roster.Source
	srv   *api.Server
	dir   string // its DocumentDir
}

type countingStore struct {
	*store.SQLite
	walks atomic.Int64
}

func (c *countingStore) WalkInventory(ctx context.Context, inventoryID string, host func(*roster.Host) error, group func(*roster.Group) error) (int64, error) {
	c.walks.Add(1)
	return c.SQLite.WalkInventory(ctx, inventoryID, host, group)
}

// newDocServer fills prod with hosts hosts of varBytes of vars each, on a
// store with readers read connections.
func newDocServer(t *testing.T, hosts, varBytes, readers int, adm api.Admission) *docServer {
	t.Helper()
	ctx := t.Context()
	sq, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "roster.db"), store.SQLiteReaders(readers))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sq.Close() })
	d := &docServer{t: t, st: &countingStore{SQLite: sq}, inv: &roster.Inventory{Name: "prod"}}
	must(t, sq.CreateInventory(ctx, d.inv))
	d.src = &roster.Source{InventoryID: d.inv.ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove}
	must(t, sq.CreateSource(ctx, d.src))
	blob := strings.Repeat("x", varBytes)
	var add []*roster.Host
	for i := range hosts {
		vars, _ := json.Marshal(map[string]string{"blob": blob})
		add = append(add, &roster.Host{ExternalID: strconv.Itoa(i), Scope: "r", Name: fmt.Sprintf("h-%04d", i), Enabled: i%10 != 0,
			Groups: []string{"web"}, Vars: vars, Hash: strconv.Itoa(i)})
	}
	d.finish(&roster.HostChanges{Add: add, Scopes: []string{"r"}, ReplaceEdges: true})
	value, hash := roster.NewTokenValue()
	must(t, sq.CreateToken(ctx, &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash))
	d.token = value.Reveal()
	d.dir = t.TempDir()
	d.srv = api.NewServer(api.Config{Store: d.st, Log: slog.New(slog.NewTextHandler(io.Discard, nil)), DocumentDir: d.dir, Admission: adm})
	h, err := d.srv.Handler()
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(h)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		hs.Close()
		d.srv.Close()
	})
	d.url = hs.URL
	return d
}

// finish records a sync of prod's source that writes c.
func (d *docServer) finish(c *roster.HostChanges) {
	d.t.Helper()
	run := &roster.SyncRun{SourceID: d.src.ID, InventoryID: d.inv.ID, Trigger: roster.TriggerCLI}
	if _, err := d.st.CreateSyncRun(d.t.Context(), run); err != nil {
		d.t.Fatal(err)
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	must(d.t, d.st.FinishSyncRun(d.t.Context(), run, c))
}

// get asks for path and returns the response, its body unread.
func (d *docServer) get(ctx context.Context, path string) (*http.Response, error) {
	return d.do(ctx, "GET", path)
}

func (d *docServer) do(ctx context.Context, method, path string, header ...string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, method, d.url+path, nil)
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(path, "/readyz") && !strings.HasPrefix(path, "/healthz") {
		req.Header.Set("Authorization", "Bearer "+d.token)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Add(header[i], header[i+1])
	}
	return plainClient.Do(req)
}

// plainClient asks for no encoding but those its requests name (Go's
// default transport asks for gzip, and decodes it, on its own).
var plainClient = &http.Client{Transport: &http.Transport{DisableCompression: true}}

// read asks for path and returns the status and body.
func (d *docServer) read(path string) (int, http.Header, []byte) {
	d.t.Helper()
	ctx, cancel := context.WithTimeout(d.t.Context(), 30*time.Second)
	defer cancel()
	resp, err := d.get(ctx, path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	return resp.StatusCode, resp.Header, body
}

// stall asks for path and reads only the response's headers, as a client
// that stopped reading; the response is closed at the end of the test.
func (d *docServer) stall(path string) *http.Response {
	d.t.Helper()
	resp, err := d.get(d.t.Context(), path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	d.t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestStalledDocumentReadersHoldNoConnection: with every read connection
// of the store taken by as many clients that stopped reading the Ansible
// document (32 MiB: the server is left blocked writing to them), the
// server still answers a single-host read and another whole document.
func TestStalledDocumentReadersHoldNoConnection(t *testing.T) {
	const readers = 2
	d := newDocServer(t, 128, 256<<10, readers, api.Admission{})
	for range readers {
		if resp := d.stall("/api/v1/inventories/prod/ansible"); resp.StatusCode != http.StatusOK {
			t.Fatalf("stalled reader: status %d", resp.StatusCode)
		}
	}
	if status, _, body := d.read("/api/v1/inventories/prod/ansible?host=h-0001"); status != http.StatusOK || !strings.Contains(string(body), "blob") {
		t.Fatalf("single-host read with %d stalled document readers: %d %.100s", readers, status, body)
	}
	status, h, body := d.read("/api/v1/inventories/prod/ansible")
	if status != http.StatusOK || strconv.Itoa(len(body)) != h.Get("Content-Length") || !json.Valid(body) {
		t.Fatalf("whole document with %d stalled readers: %d, %d bytes of %s", readers, status, len(body), h.Get("Content-Length"))
	}
}

// TestDocumentRenderedOncePerGeneration: many readers of a new generation
// cause one render, and the next change one more.
func TestDocumentRenderedOncePerGeneration(t *testing.T) {
	d := newDocServer(t, 50, 100, 8, api.Admission{})
	readAll := func(path string) string {
		t.Helper()
		const n = 16
		bodies := make([]string, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				resp, err := d.get(t.Context(), path)
				if err != nil {
					t.Error(err)
					return
				}
				defer resp.Body.Close()
				b, _ := io.ReadAll(resp.Body)
				if resp.StatusCode != http.StatusOK {
					t.Errorf("GET %s: %d %.200s", path, resp.StatusCode, b)
				}
				bodies[i] = string(b)
			})
		}
		wg.Wait()
		for _, b := range bodies[1:] {
			if b != bodies[0] {
				t.Fatal("concurrent readers got different documents")
			}
		}
		return bodies[0]
	}
	wantWalks := func(n int64) {
		t.Helper()
		if got := d.st.walks.Load(); got != n {
			t.Fatalf("%d renders, want %d", got, n)
		}
	}
	doc := readAll("/api/v1/inventories/prod/ansible")
	wantWalks(1)
	if strings.Contains(doc, "h-0000") || !strings.Contains(doc, "h-0001") {
		t.Fatal("the document without disabled hosts lists h-0000 or misses h-0001")
	}
	must(t, d.st.SetGroupVars(t.Context(), d.inv.ID, "web", json.RawMessage(`{"port":443}`)))
	if doc := readAll("/api/v1/inventories/prod/ansible"); !strings.Contains(doc, `"port":443`) {
		t.Fatal("the group vars set are not in the document")
	}
	wantWalks(2)
	if doc := readAll("/api/v1/inventories/prod/ansible?all=true"); !strings.Contains(doc, "h-0000") {
		t.Fatal("the document with disabled hosts misses h-0000")
	}
	wantWalks(3)
}

// TestAdmission: a class of requests that is full answers 429 with
// Retry-After and a problem, while the other class and the health checks
// are answered.
func TestAdmission(t *testing.T) {
	d := newDocServer(t, 128, 256<<10, 8, api.Admission{Documents: 1, Requests: 1, Wait: 100 * time.Millisecond, SlowReader: time.Hour})
	wantTooMany := func(path string) {
		t.Helper()
		status, h, body := d.read(path)
		var p api.Problem
		if status != http.StatusTooManyRequests || h.Get("Content-Type") != "application/problem+json" || json.Unmarshal(body, &p) != nil {
			t.Fatalf("GET %s with its class full: %d %s %.200s", path, status, h.Get("Content-Type"), body)
		}
		if secs, err := strconv.Atoi(h.Get("Retry-After")); err != nil || secs < 1 || p.Code != "too_many_requests" {
			t.Fatalf("429 with Retry-After %q and code %q", h.Get("Retry-After"), p.Code)
		}
	}
	wantOK := func(path string) {
		t.Helper()
		if status, _, body := d.read(path); status != http.StatusOK {
			t.Fatalf("GET %s: %d %.200s", path, status, body)
		}
	}

	// A reader that stopped reading holds the one place for documents.
	d.stall("/api/v1/inventories/prod/ansible")
	wantTooMany("/api/v1/inventories/prod/ansible?all=true")
	wantOK("/api/v1/inventories/prod/ansible?host=h-0001")
	wantOK("/readyz")

	// A request whose body never ends holds the one place for the rest.
	body, pipe := io.Pipe()
	defer pipe.Close()
	go pipe.Write([]byte(`{"port":`)) // the headers go with the first chunk
	req, err := http.NewRequestWithContext(t.Context(), "PUT", d.url+"/api/v1/inventories/prod/groups/web/vars", body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+d.token)
	req.Header.Set("Content-Type", "application/json")
	done := make(chan struct{})
	go func() {
		defer close(done)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	}()
	// It is admitted once the server has it; until then another request
	// may still take the place.
	deadline := time.Now().Add(20 * time.Second)
	for {
		status, _, _ := d.read("/api/v1/inventories")
		if status == http.StatusTooManyRequests {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a request held the only place for 20 s, yet GET /api/v1/inventories answers %d", status)
		}
	}
	wantTooMany("/api/v1/inventories/prod/ansible?host=h-0001")
	wantOK("/readyz")
	wantOK("/healthz")
	pipe.Close()
	<-done
	wantOK("/api/v1/inventories/prod/ansible?host=h-0001")
}

// TestDocumentFilesRemoved: the server's rendered documents are removed
// once superseded and unread, with their inventory, and all of them by
// Close.
func TestDocumentFilesRemoved(t *testing.T) {
	d := newDocServer(t, 5, 10, 8, api.Admission{})
	for i := range 5 {
		must(t, d.st.SetGroupVars(t.Context(), d.inv.ID, "all", json.RawMessage(`{"i":`+strconv.Itoa(i)+`}`)))
		if status, _, body := d.read("/api/v1/inventories/prod/ansible"); status != http.StatusOK {
			t.Fatalf("GET: %d %.200s", status, body)
		}
		eventually(t, fmt.Sprintf("one file after %d generations", i+1), func() bool { return len(documentFiles(t, d.dir)) == 1 })
	}
	resp, err := d.do(t.Context(), "DELETE", "/api/v1/inventories/prod")
	if err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("DELETE the inventory: %v %v", resp, err)
	}
	resp.Body.Close()
	eventually(t, "no file of a deleted inventory", func() bool { return len(documentFiles(t, d.dir)) == 0 })
	if status, _, _ := d.read("/api/v1/inventories/prod/ansible"); status != http.StatusNotFound {
		t.Fatalf("the deleted inventory's document: %d", status)
	}
	must(t, d.srv.Close())
	if entries, err := os.ReadDir(d.dir); err != nil || len(entries) != 0 {
		t.Fatalf("after Close the document directory holds %v (%v)", entries, err)
	}
}

// TestSlowReaderFreesItsPlace: a client still reading its document after
// SlowReader leaves its place to another, fast, one.
func TestSlowReaderFreesItsPlace(t *testing.T) {
	d := newDocServer(t, 128, 256<<10, 8, api.Admission{Documents: 1, Wait: 100 * time.Millisecond, SlowReader: 100 * time.Millisecond})
	d.stall("/api/v1/inventories/prod/ansible")
	// Until it is taken for a slow reader, a second document may get 429.
	eventually(t, "a second document served beside a stalled reader", func() bool {
		status, _, _ := d.read("/api/v1/inventories/prod/ansible")
		return status == http.StatusOK
	})
}

// TestDocumentGzip: the Ansible document is offered gzip-encoded, encoded
// once per generation however many ask at once, with an ETag of its own;
// If-None-Match with either ETag answers 304; a request that does not
// take gzip (none, q=0) gets the document as it is; HEAD and Range
// requests are answered; the encoded file goes with the document.
func TestDocumentGzip(t *testing.T) {
	d := newDocServer(t, 200, 2000, 8, api.Admission{})
	const path = "/api/v1/inventories/prod/ansible"
	type answer struct {
		status int
		header http.Header
		body   []byte
	}
	ask := func(method string, header ...string) answer {
		t.Helper()
		resp, err := d.do(t.Context(), method, path, header...)
		if err != nil {
			t.Fatalf("%s %v: %v", method, header, err)
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("%s %v: %v", method, header, err)
		}
		if v := resp.Header.Get("Vary"); v != "Accept-Encoding" {
			t.Errorf("%s %v: Vary %q", method, header, v)
		}
		return answer{resp.StatusCode, resp.Header, body}
	}
	gunzip := func(b []byte) []byte {
		t.Helper()
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		out, err := io.ReadAll(zr)
		if err != nil {
			t.Fatalf("gunzip: %v", err)
		}
		return out
	}

	plain := ask("GET")
	if plain.status != http.StatusOK || plain.header.Get("Content-Encoding") != "" || !json.Valid(plain.body) {
		t.Fatalf("plain: %d, Content-Encoding %q, %.100s", plain.status, plain.header.Get("Content-Encoding"), plain.body)
	}
	etag := plain.header.Get("ETag")
	gzETag := strings.TrimSuffix(etag, `"`) + `-gzip"`

	// Many at once on a new generation: one encoding, all the same bytes.
	var wg sync.WaitGroup
	answers := make([]answer, 8)
	for i := range answers {
		wg.Go(func() {
			resp, err := d.do(t.Context(), "GET", path, "Accept-Encoding", "gzip, deflate, br")
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			answers[i] = answer{resp.StatusCode, resp.Header, b}
		})
	}
	wg.Wait()
	for _, a := range answers {
		if a.status != http.StatusOK || a.header.Get("Content-Encoding") != "gzip" || a.header.Get("ETag") != gzETag ||
			a.header.Get("Content-Length") != strconv.Itoa(len(a.body)) || !bytes.Equal(a.body, answers[0].body) {
			t.Fatalf("gzip: %d, Content-Encoding %q, ETag %s (want %s), Content-Length %s for %d bytes",
				a.status, a.header.Get("Content-Encoding"), a.header.Get("ETag"), gzETag, a.header.Get("Content-Length"), len(a.body))
		}
	}
	if !bytes.Equal(gunzip(answers[0].body), plain.body) {
		t.Fatal("the gzip-encoded document is not the document")
	}
	if len(answers[0].body) >= len(plain.body)/2 {
		t.Fatalf("gzip: %d bytes for a document of %d", len(answers[0].body), len(plain.body))
	}
	if n := d.st.walks.Load(); n != 1 {
		t.Fatalf("%d renders, want 1", n)
	}
	if files := documentFiles(t, d.dir); len(files) != 2 {
		t.Fatalf("files %v, want the document and one encoding", files)
	}

	// Either ETag is the document, whichever encoding is asked for; a 304
	// names the encoding the request would get.
	for _, c := range []struct {
		header   []string
		wantETag string
	}{
		{[]string{"If-None-Match", etag}, etag},
		{[]string{"If-None-Match", gzETag}, etag},
		{[]string{"If-None-Match", etag, "Accept-Encoding", "gzip"}, gzETag},
		{[]string{"If-None-Match", `W/` + gzETag, "Accept-Encoding", "gzip"}, gzETag},
		{[]string{"If-None-Match", `"other", ` + gzETag, "Accept-Encoding", "gzip"}, gzETag},
	} {
		if a := ask("GET", c.header...); a.status != http.StatusNotModified || a.header.Get("ETag") != c.wantETag || len(a.body) != 0 {
			t.Errorf("%v: %d, ETag %s (want 304, %s)", c.header, a.status, a.header.Get("ETag"), c.wantETag)
		}
	}
	if a := ask("GET", "If-None-Match", `"other-gzip"`, "Accept-Encoding", "gzip"); a.status != http.StatusOK {
		t.Errorf("another ETag: %d", a.status)
	}

	// What does not take gzip gets the document as it is; Accept-Encoding
	// over two lines is one list.
	for _, header := range [][]string{
		{"Accept-Encoding", "gzip;q=0"},
		{"Accept-Encoding", "identity"},
		{"Accept-Encoding", "*;q=0.5, gzip; q=0"},
		{"Accept-Encoding", "br", "Accept-Encoding", "deflate"},
	} {
		if a := ask("GET", header...); a.status != http.StatusOK || a.header.Get("Content-Encoding") != "" || a.header.Get("ETag") != etag || !bytes.Equal(a.body, plain.body) {
			t.Errorf("%v: %d, Content-Encoding %q, ETag %s", header, a.status, a.header.Get("Content-Encoding"), a.header.Get("ETag"))
		}
	}
	for _, header := range [][]string{
		{"Accept-Encoding", "*"},
		{"Accept-Encoding", "x-gzip"},
		{"Accept-Encoding", "identity", "Accept-Encoding", "gzip;q=0.8"},
	} {
		if a := ask("GET", header...); a.status != http.StatusOK || a.header.Get("Content-Encoding") != "gzip" || !bytes.Equal(a.body, answers[0].body) {
			t.Errorf("%v: %d, Content-Encoding %q", header, a.status, a.header.Get("Content-Encoding"))
		}
	}

	// HEAD: the headers of GET, no body.
	for _, c := range []struct {
		header []string
		body   []byte
		etag   string
	}{{nil, plain.body, etag}, {[]string{"Accept-Encoding", "gzip"}, answers[0].body, gzETag}} {
		a := ask("HEAD", c.header...)
		if a.status != http.StatusOK || a.header.Get("ETag") != c.etag || a.header.Get("Content-Length") != strconv.Itoa(len(c.body)) || len(a.body) != 0 {
			t.Errorf("HEAD %v: %d, ETag %s, Content-Length %s (want %d)", c.header, a.status, a.header.Get("ETag"), a.header.Get("Content-Length"), len(c.body))
		}
	}
	// Range: not served in part, but answered whole and right.
	for _, c := range []struct {
		header []string
		body   []byte
	}{{[]string{"Range", "bytes=0-99"}, plain.body}, {[]string{"Range", "bytes=0-99", "Accept-Encoding", "gzip"}, answers[0].body}} {
		a := ask("GET", c.header...)
		if a.status != http.StatusOK || !bytes.Equal(a.body, c.body) {
			t.Errorf("GET %v: %d, %d bytes (want 200, %d)", c.header, a.status, len(a.body), len(c.body))
		}
	}

	// A new generation: the old encoding goes with its document, and the
	// new one is made when asked for.
	must(t, d.st.SetGroupVars(t.Context(), d.inv.ID, "web", json.RawMessage(`{"port":443}`)))
	next := ask("GET", "If-None-Match", gzETag, "Accept-Encoding", "gzip")
	if next.status != http.StatusOK || next.header.Get("ETag") == gzETag || !strings.HasSuffix(next.header.Get("ETag"), `-gzip"`) ||
		!strings.Contains(string(gunzip(next.body)), `"port":443`) {
		t.Fatalf("after a change: %d, ETag %s", next.status, next.header.Get("ETag"))
	}
	eventually(t, "the old document and its encoding removed", func() bool { return len(documentFiles(t, d.dir)) == 2 })
	must(t, d.srv.Close())
	if entries, err := os.ReadDir(d.dir); err != nil || len(entries) != 0 {
		t.Fatalf("after Close the document directory holds %v (%v)", entries, err)
	}
}
