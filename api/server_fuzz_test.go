package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/notify"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/openstack"
	"github.com/rosterhq/roster/vault"
)

// fuzzServer is the API over a real SQLite store, called in-process (no
// network, no job queue, no simulator): a fuzz worker sends thousands of
// requests a second to it. It is built once per worker process and shared
// by every input that process runs, so inputs that succeed undo what they
// made (see FuzzRequestBody) to keep its state small and the same.
type fuzzServer struct {
	h      http.Handler
	store  *store.SQLite
	router routers.Router
	errs   *errorLog
	admin  string
	// What the operations' paths name, made once. The updates have
	// targets of their own (updInv, updSrc, updPW, updCA), which inputs
	// may rename at will: the names the other operations' seeds use
	// (fz, pw, ca, admin, runner) stay.
	inv, src, pwCred, caCred, webhook, callbackKey string
	updInv, updSrc, updPW, updCA                   string
}

// errorLog keeps the server's warnings and errors since the last reset, so
// that a 500 can be reported with the cause the client is not told.
type errorLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *errorLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.b.Len() < 64<<10 {
		l.b.Write(p)
	}
	return len(p), nil
}

func (l *errorLog) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.b.String()
	l.b.Reset()
	return s
}

func newFuzzServer(tb testing.TB) *fuzzServer {
	tb.Helper()
	fs := &fuzzServer{errs: &errorLog{}}
	st, err := store.OpenSQLite(context.Background(), filepath.Join(tb.TempDir(), "roster.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	fs.store = st
	log := slog.New(slog.NewTextHandler(fs.errs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	key, err := vault.GenerateLocalKey()
	if err != nil {
		tb.Fatal(err)
	}
	backend, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	if err != nil {
		tb.Fatal(err)
	}
	reg := sources.NewRegistry(aws.Driver{}, gcp.Driver{}, azure.Driver{}, openstack.Driver{})
	// No queue: a triggered run is recorded and never worked, which is
	// all a request body can reach.
	engine := syncer.New(st, reg, log)
	srv := api.NewServer(api.Config{Store: st, Engine: engine, Webhooks: notify.NewService(st, backend, log), EventSinks: testSinks(tb, st, backend, log),
		Broker: broker.New(st, backend, log), Log: log, MaxBodyBytes: 64 << 10, DocumentDir: tb.TempDir()})
	tb.Cleanup(func() { srv.Close() })
	if fs.h, err = srv.Handler(); err != nil {
		tb.Fatal(err)
	}
	spec, err := api.GetSwagger()
	if err != nil {
		tb.Fatal(err)
	}
	spec.Servers = nil
	if fs.router, err = legacy.NewRouter(spec); err != nil {
		tb.Fatal(err)
	}

	value, hash := roster.NewTokenValue()
	if err := st.CreateToken(context.Background(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash); err != nil {
		tb.Fatal(err)
	}
	fs.admin = value.Reveal()
	_, runnerHash := roster.NewTokenValue() // a grantee for createGrant's seeds
	if err := st.CreateToken(context.Background(), &roster.Token{Name: "runner", Role: roster.RoleRunner}, runnerHash); err != nil {
		tb.Fatal(err)
	}

	made := func(method, path, body string) map[string]any {
		tb.Helper()
		r := fs.do(method, path, fs.admin, body)
		if r.status/100 != 2 {
			tb.Fatalf("set up: %s %s → %d %s", method, path, r.status, r.body)
		}
		var out map[string]any
		if err := json.Unmarshal(r.body, &out); err != nil {
			tb.Fatalf("set up: %s %s: %v", method, path, err)
		}
		return out
	}
	id := func(m map[string]any) string { return m["id"].(string) }
	fs.inv = id(made("POST", "/api/v1/inventories", `{"name": "fz", "description": "fuzzed"}`))
	fs.src = id(made("POST", "/api/v1/inventories/"+fs.inv+"/sources",
		`{"name": "ec2", "provider": "aws", "config": {"regions": ["us-east-1"], "endpoint_url": "http://127.0.0.1:9"}}`))
	fs.pwCred = id(made("POST", "/api/v1/credentials", `{"name": "pw", "type": "password", "fields": {"username": "u", "password": "p"}}`))
	fs.caCred = id(made("POST", "/api/v1/credentials",
		`{"name": "ca", "type": "ssh_certificate", "fields": {"username": "deploy", "principals": "deploy,backup", "ttl": "20m"}}`))
	fs.updInv = id(made("POST", "/api/v1/inventories", `{"name": "upd"}`))
	fs.updSrc = id(made("POST", "/api/v1/inventories/"+fs.inv+"/sources",
		`{"name": "upd", "provider": "aws", "config": {"regions": ["us-east-1"], "endpoint_url": "http://127.0.0.1:9"}}`))
	fs.updPW = id(made("POST", "/api/v1/credentials", `{"name": "pw-upd", "type": "password", "fields": {"username": "u", "password": "p"}}`))
	fs.updCA = id(made("POST", "/api/v1/credentials",
		`{"name": "ca-upd", "type": "ssh_certificate", "fields": {"username": "deploy", "principals": "deploy", "ttl": "20m"}}`))
	for _, c := range []string{"pw", "ca"} {
		made("POST", "/api/v1/grants", `{"token": "admin", "credential": "`+c+`", "inventory": "fz"}`)
	}
	fs.webhook = id(made("POST", "/api/v1/webhooks",
		`{"name": "wh", "inventory": "fz", "events": ["sync.failed"], "url": "https://hooks.example.invalid/T0/B0/X"}`))
	fs.callbackKey = made("POST", "/api/v1/sources/"+fs.src+"/callback-key", "")["key"].(string)
	made("PUT", "/api/v1/inventories/"+fs.inv+"/groups/web/vars", `{"http_port": 80}`)
	fs.errs.take()
	return fs
}

type fuzzResponse struct {
	status int
	header http.Header
	body   []byte
}

// do sends a request to the handler; a body other than "" is JSON.
func (fs *fuzzServer) do(method, path, token, body string) fuzzResponse {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	return fs.serve(req)
}

func (fs *fuzzServer) serve(req *http.Request) fuzzResponse {
	rec := httptest.NewRecorder()
	fs.h.ServeHTTP(rec, req)
	return fuzzResponse{status: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// checkProblem fails unless r is a problem document whose status is r's.
func checkProblem(t *testing.T, what string, r fuzzResponse) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("%s → %d with Content-Type %q, want application/problem+json; body %.300q", what, r.status, ct, r.body)
	}
	var p api.Problem
	if err := json.Unmarshal(r.body, &p); err != nil {
		t.Fatalf("%s → %d: problem does not decode: %v; body %.300q", what, r.status, err, r.body)
	}
	if p.Status != r.status || p.Code == "" || p.Title == "" {
		t.Fatalf("%s → %d: problem %+v does not match its status", what, r.status, p)
	}
	return p
}

// checkSpec fails unless the response is one openapi.yaml allows for the
// request (body is the request body sent).
func (fs *fuzzServer) checkSpec(t *testing.T, req *http.Request, body []byte, r fuzzResponse) {
	t.Helper()
	route, params, err := fs.router.FindRoute(req)
	if err != nil {
		return
	}
	if r.status == http.StatusRequestEntityTooLarge && route.Operation.RequestBody == nil {
		return // every body is bounded before routing; openapi.yaml lists 413 where one is expected
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 r.status,
		Header:                 r.header,
		Body:                   io.NopCloser(bytes.NewReader(r.body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(context.Background(), in); err != nil {
		t.Fatalf("%s %s → %d does not match openapi.yaml: %v\nbody: %.300q", req.Method, req.URL.Path, r.status, err, r.body)
	}
}

// state is what the API's writes can change, as JSON: a refused request
// must leave it as it was. Left out: the audit log (refusals of the broker
// are audited on purpose) and when a token was last used (recorded in the
// background, at most once a minute).
func (fs *fuzzServer) state(t *testing.T) string {
	t.Helper()
	ctx := context.Background()
	var parts []any
	add := func(v any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("read the state: %v", err)
		}
		parts = append(parts, v)
	}
	invs, err := fs.store.Inventories(ctx)
	add(invs, err)
	for _, inv := range invs {
		add(fs.store.Sources(ctx, inv.ID))
		add(fs.store.Groups(ctx, inv.ID))
	}
	add(fs.store.Credentials(ctx))
	add(fs.store.Grants(ctx, roster.GrantFilter{}))
	add(fs.store.Webhooks(ctx, roster.WebhookFilter{}))
	runs, _, err := fs.store.SyncRuns(ctx, roster.SyncRunFilter{SourceID: fs.src})
	add(runs, err)
	toks, err := fs.store.Tokens(ctx)
	for _, tok := range toks {
		tok.LastUsedAt = nil
	}
	add(toks, err)
	b, err := json.Marshal(parts)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
