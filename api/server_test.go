package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/riverqueue/river"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/notify"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/sources/derived"
	"github.com/rosterhq/roster/vault"
)

const simSecret = "sim-secret-key-that-must-never-be-logged"

// fixture is the whole server over a real SQLite store and a real EC2
// simulator; every response it gives is validated against openapi.yaml.
type fixture struct {
	t      *testing.T
	url    string
	sim    *awssim.Server
	simURL string
	store  roster.Store
	logs   *syncBuffer
	admin  string
	router routers.Router
	// docDir holds the server's rendered documents.
	docDir string
	// secrets are more values that must not appear in the logs.
	secrets []string
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with configure changing the API's config,
// told the server's URL first (an identity provider needs it).
func newFixtureWith(t *testing.T, configure func(url string, c *api.Config)) *fixture {
	t.Helper()
	f := &fixture{t: t, logs: &syncBuffer{}}
	f.sim = awssim.New(awssim.Options{Seed: 3, Size: 250, Regions: []string{"us-east-1", "eu-west-1"}})
	simSrv := httptest.NewServer(f.sim)
	t.Cleanup(simSrv.Close)
	f.simURL = simSrv.URL

	dbPath := filepath.Join(t.TempDir(), "roster.db")
	st, err := store.OpenSQLite(t.Context(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	f.store = st
	log := slog.New(slog.NewJSONHandler(f.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	reg := sources.NewRegistry(aws.Driver{Credentials: credentials.NewStaticCredentialsProvider("AKIDAPITEST", simSecret, ""), MaxBackoff: 20 * time.Millisecond})
	key, err := vault.GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	backend, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	queue, err := jobs.OpenSQLite(t.Context(), dbPath, jobs.Config{Store: st, SyncWorkers: 2, Log: log,
		Register: func(w *river.Workers) {
			river.AddWorker(w, notify.NewWorker(st, backend, notify.WorkerOptions{Logger: log, RetryBase: 50 * time.Millisecond}))
		},
		Queues: map[string]int{notify.Queue: 2},
	})
	if err != nil {
		t.Fatal(err)
	}
	notifier := notify.NewNotifier(st, queue, notify.NotifierOptions{Logger: log})
	reg = reg.With(derived.NewDrivers(st)...)
	var engine *syncer.Engine
	engine = syncer.New(st, reg, log, syncer.WithQueue(queue), syncer.OnFinish(func(ctx context.Context, run *roster.SyncRun) {
		if err := notifier.SyncFinished(context.WithoutCancel(ctx), run); err != nil {
			t.Errorf("notify: %v", err)
		}
		// As roster serve does: derived inventories follow their inputs.
		if run.Status == roster.SyncSucceeded {
			if _, err := engine.TriggerStale(context.WithoutCancel(ctx), run.InventoryID); err != nil {
				t.Errorf("trigger stale: %v", err)
			}
		}
	}))
	if err := queue.Start(t.Context(), engine); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		queue.Stop(ctx)
	})
	brk := broker.New(st, backend, log)
	f.docDir = t.TempDir()
	webhooks := notify.NewService(st, backend, log)
	webhooks.UseWorker(notify.NewWorker(st, backend, notify.WorkerOptions{Logger: log, Timeout: 2 * time.Second}))
	cfg := api.Config{Store: st, Engine: engine, FollowUps: queue, Webhooks: webhooks, EventSinks: testSinks(t, st, backend, log),
		Broker: brk, Log: log, MaxBodyBytes: 64 << 10, DocumentDir: f.docDir}
	srv := httptest.NewUnstartedServer(nil)
	f.url = "http://" + srv.Listener.Addr().String()
	if configure != nil {
		configure(f.url, &cfg)
	}
	apiSrv := api.NewServer(cfg)
	t.Cleanup(func() { apiSrv.Close() })
	h, err := apiSrv.Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = h
	srv.Start()
	t.Cleanup(srv.Close)
	f.admin = f.token("admin", roster.RoleAdmin)

	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	spec.Servers = nil
	if f.router, err = legacy.NewRouter(spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		logs := f.logs.String()
		for _, secret := range append([]string{simSecret, f.admin}, f.secrets...) {
			if strings.Contains(logs, secret) {
				t.Errorf("a secret appears in the logs")
			}
		}
	})
	return f
}

func (f *fixture) token(name string, role roster.Role) string {
	f.t.Helper()
	return f.scopedToken(&roster.Token{Name: name, Role: role})
}

// scopedToken stores a token made as tok says (its limits) and returns
// its value. Inventories are given by name.
func (f *fixture) scopedToken(tok *roster.Token) string {
	f.t.Helper()
	if tok.Inventories != nil {
		ids := make([]string, len(tok.Inventories))
		for i, ref := range tok.Inventories {
			inv, err := f.store.Inventory(f.t.Context(), ref)
			if err != nil {
				f.t.Fatal(err)
			}
			ids[i] = inv.ID
		}
		tok.Inventories = ids
	}
	value, hash := roster.NewTokenValue()
	if err := f.store.CreateToken(f.t.Context(), tok, hash); err != nil {
		f.t.Fatal(err)
	}
	return value.Reveal()
}

// response is a validated response.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("decode %s: %v", r.body, err)
	}
}

// problem decodes a problem response.
func (r response) problem(t *testing.T) api.Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Fatalf("content type %q, want application/problem+json (body %s)", ct, r.body)
	}
	var p api.Problem
	r.json(t, &p)
	return p
}

func (r response) fields() []string {
	var p api.Problem
	json.Unmarshal(r.body, &p)
	if p.Errors == nil {
		return nil
	}
	var out []string
	for _, e := range *p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// do sends a request with a token ("" for none) and validates the response
// against the OpenAPI document.
func (f *fixture) do(method, path, token string, body any) response {
	f.t.Helper()
	return f.send(method, path, token, body, nil)
}

// send is do with more request headers.
func (f *fixture) send(method, path, token string, body any, header http.Header) response {
	f.t.Helper()
	var rd io.Reader
	var raw []byte
	switch b := body.(type) {
	case nil:
	case string:
		raw = []byte(b)
	case []byte:
		raw = b
	default:
		raw, _ = json.Marshal(b)
	}
	if raw != nil {
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(f.t.Context(), method, f.url+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	if raw != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		f.t.Fatal(err)
	}
	f.validate(req, raw, resp, out)
	return response{status: resp.StatusCode, header: resp.Header, body: out}
}

func (f *fixture) validate(req *http.Request, reqBody []byte, resp *http.Response, body []byte) {
	f.t.Helper()
	route, params, err := f.router.FindRoute(routable(req))
	if err != nil {
		return // unknown route: nothing in the spec to check against
	}
	if reqBody != nil {
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 resp.StatusCode,
		Header:                 resp.Header,
		Body:                   io.NopCloser(bytes.NewReader(body)),
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	if err := openapi3filter.ValidateResponse(f.t.Context(), in); err != nil {
		f.t.Errorf("%s %s → %d does not match openapi.yaml: %v\nbody: %.500s", req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
}

// routable is req as kin-openapi's router finds its route: with an
// escaped "/" inside a segment ("prod%2Faws-prod") kept in one segment, as
// the server's mux keeps it.
func routable(req *http.Request) *http.Request {
	if req.URL.RawPath == "" {
		return req
	}
	u := *req.URL
	u.Path, u.RawPath = strings.ReplaceAll(req.URL.RawPath, "%2F", "%252F"), ""
	if p, err := url.PathUnescape(u.Path); err == nil {
		u.Path = p
	}
	out := *req
	out.URL = &u
	return &out
}

func wantStatus(t *testing.T, r response, status int) {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d; body %s", r.status, status, r.body)
	}
}

func wantField(t *testing.T, r response, field string) {
	t.Helper()
	wantStatus(t, r, http.StatusBadRequest)
	r.problem(t)
	if !slices.Contains(r.fields(), field) {
		t.Fatalf("errors name %v, want %q; body %s", r.fields(), field, r.body)
	}
}

func (f *fixture) awsConfig(extra map[string]any) map[string]any {
	cfg := map[string]any{"regions": []string{"us-east-1", "eu-west-1"}, "endpoint_url": f.simURL}
	for k, v := range extra {
		cfg[k] = v
	}
	return cfg
}

func (f *fixture) inventory(name string) api.Inventory {
	f.t.Helper()
	r := f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": name})
	wantStatus(f.t, r, http.StatusCreated)
	var inv api.Inventory
	r.json(f.t, &inv)
	return inv
}

func (f *fixture) source(inv, name string, cfg map[string]any) api.Source {
	f.t.Helper()
	r := f.do("POST", "/api/v1/inventories/"+inv+"/sources", f.admin, map[string]any{"name": name, "provider": "aws", "config": cfg})
	wantStatus(f.t, r, http.StatusCreated)
	var src api.Source
	r.json(f.t, &src)
	return src
}

// syncAndWait triggers a sync and polls the run until it ends.
func (f *fixture) syncAndWait(srcID string) api.SyncRun {
	f.t.Helper()
	r := f.do("POST", "/api/v1/sources/"+srcID+"/syncs", f.admin, nil)
	wantStatus(f.t, r, http.StatusAccepted)
	var run api.SyncRun
	r.json(f.t, &run)
	if loc := r.header.Get("Location"); loc != "/api/v1/syncs/"+run.Id {
		f.t.Fatalf("Location = %q", loc)
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r := f.do("GET", "/api/v1/syncs/"+run.Id, f.admin, nil)
		wantStatus(f.t, r, http.StatusOK)
		r.json(f.t, &run)
		if roster.SyncStatus(run.Status).Done() {
			return run
		}
		time.Sleep(20 * time.Millisecond)
	}
	f.t.Fatalf("run %s did not finish", run.Id)
	return run
}

func TestHealth(t *testing.T) {
	f := newFixture(t)
	wantStatus(t, f.do("GET", "/healthz", "", nil), http.StatusOK)
	wantStatus(t, f.do("GET", "/readyz", "", nil), http.StatusOK)
}

func TestAuthentication(t *testing.T) {
	f := newFixture(t)
	for name, header := range map[string]string{"none": "", "unknown": "rst_nope"} {
		t.Run(name, func(t *testing.T) {
			r := f.do("GET", "/api/v1/inventories", header, nil)
			wantStatus(t, r, http.StatusUnauthorized)
			if p := r.problem(t); p.Code != api.ProblemCodeUnauthorized {
				t.Fatalf("code %s", p.Code)
			}
			if r.header.Get("WWW-Authenticate") == "" {
				t.Fatal("no WWW-Authenticate header")
			}
		})
	}
	// An expired token is refused.
	value, hash := roster.NewTokenValue()
	past := time.Now().Add(-time.Hour)
	if err := f.store.CreateToken(t.Context(), &roster.Token{Name: "old", Role: roster.RoleAdmin, ExpiresAt: &past}, hash); err != nil {
		t.Fatal(err)
	}
	r := f.do("GET", "/api/v1/inventories", value.Reveal(), nil)
	wantStatus(t, r, http.StatusUnauthorized)
	if p := r.problem(t); !strings.Contains(*p.Detail, "expired") {
		t.Fatalf("detail %q", *p.Detail)
	}
}

func TestRoles(t *testing.T) {
	f := newFixture(t)
	inv := f.inventory("prod")
	src := f.source(inv.Name, "ec2", f.awsConfig(nil))
	runner := f.scopedToken(&roster.Token{Name: "runner", Role: roster.RoleRunner, Inventories: []string{"prod"}})
	auditor := f.token("auditor", roster.RoleAuditor)
	operator := f.token("operator", roster.RoleOperator)
	for _, tc := range []struct {
		token, method, path string
		body                any
		want                int
	}{
		{runner, "GET", "/api/v1/inventories/prod/ansible", nil, 200},
		{runner, "GET", "/api/v1/inventories/prod/hosts", nil, 200},
		{runner, "GET", "/api/v1/sources/" + src.Id, nil, 403},
		{runner, "POST", "/api/v1/inventories", map[string]any{"name": "x"}, 403},
		{runner, "POST", "/api/v1/sources/" + src.Id + "/syncs", nil, 403},
		{auditor, "GET", "/api/v1/sources/" + src.Id + "/syncs", nil, 200},
		{auditor, "PATCH", "/api/v1/inventories/prod", map[string]any{"description": "x"}, 403},
		{auditor, "GET", "/api/v1/tokens", nil, 403},
		{operator, "PATCH", "/api/v1/inventories/prod", map[string]any{"description": "x"}, 200},
		{operator, "POST", "/api/v1/tokens", map[string]any{"name": "t", "role": "admin"}, 403},
		{f.admin, "GET", "/api/v1/tokens", nil, 200},
	} {
		r := f.do(tc.method, tc.path, tc.token, tc.body)
		if r.status != tc.want {
			t.Errorf("%s %s as %s: %d, want %d (%s)", tc.method, tc.path, roleOf(tc.token, runner, auditor, operator), r.status, tc.want, r.body)
		}
		if tc.want == 403 {
			if p := r.problem(t); p.Code != api.ProblemCodeForbidden {
				t.Errorf("code %s", p.Code)
			}
		}
	}
}

func roleOf(tok, runner, auditor, operator string) string {
	switch tok {
	case runner:
		return "runner"
	case auditor:
		return "auditor"
	case operator:
		return "operator"
	}
	return "admin"
}

// TestEveryOperationHasRoles keeps the authorization table complete: an
// operation missing from it would be refused to everyone.
func TestEveryOperationHasRoles(t *testing.T) {
	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			id := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
			if !api.OperationHasRoles(id) {
				t.Errorf("%s %s (%s) has no roles", method, path, id)
			}
		}
	}
}

func TestInventoryInputErrors(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	wantField(t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "bad name!"}), "name")
	wantField(t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "ok", "colour": "blue"}), "colour")
	wantField(t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"description": "no name"}), "name")
	wantField(t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": 42}), "name")
	r := f.do("POST", "/api/v1/inventories", f.admin, `{"name": "x",`)
	wantStatus(t, r, http.StatusBadRequest)
	r.problem(t)
	r = f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "prod"})
	wantStatus(t, r, http.StatusConflict)
	r.problem(t)
	r = f.do("GET", "/api/v1/inventories/nope", f.admin, nil)
	wantStatus(t, r, http.StatusNotFound)
	r.problem(t)
	big := map[string]any{"name": "big", "description": strings.Repeat("x", 100<<10)}
	r = f.do("POST", "/api/v1/inventories", f.admin, big)
	wantStatus(t, r, http.StatusRequestEntityTooLarge)
	if p := r.problem(t); p.Code != api.ProblemCodeTooLarge {
		t.Fatalf("code %s", p.Code)
	}
	r = f.do("GET", "/api/v1/nothing-here", f.admin, nil)
	wantStatus(t, r, http.StatusNotFound)
	r.problem(t)
	// Nothing of the above was created.
	var list api.InventoryList
	f.do("GET", "/api/v1/inventories", f.admin, nil).json(t, &list)
	if len(list.Items) != 1 {
		t.Fatalf("%d inventories, want only prod", len(list.Items))
	}
}

// TestBodyParseErrorsSayWhy: a body that is not JSON, or is cut short,
// is refused with the reason, not "cannot be parsed: ".
func TestBodyParseErrorsSayWhy(t *testing.T) {
	f := newFixture(t)
	for body, want := range map[string]string{
		`{"name": "x",`:  "ends before it is complete",
		`{"name": "x"`:   "ends before it is complete",
		`{"name" "x"}`:   "invalid JSON at byte",
		`{"name": "x"}}`: "invalid JSON at byte",
		`<html>`:         "invalid JSON at byte 1",
	} {
		r := f.do("POST", "/api/v1/inventories", f.admin, body)
		wantStatus(t, r, http.StatusBadRequest)
		p := r.problem(t)
		if p.Errors == nil || len(*p.Errors) != 1 || (*p.Errors)[0].Field != "body" || !strings.Contains((*p.Errors)[0].Message, want) {
			t.Errorf("body %s: problem errors %+v, want the body's reason (%q)", body, p.Errors, want)
		}
	}
}

func TestSourceInputErrors(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	post := func(body map[string]any) response {
		return f.do("POST", "/api/v1/inventories/prod/sources", f.admin, body)
	}
	wantField(t, post(map[string]any{"name": "s", "provider": "vmware"}), "provider")
	wantField(t, post(map[string]any{"name": "s", "provider": "aws", "config": f.awsConfig(map[string]any{"regions": []string{"us-east-1", "mars-north-1a"}})}), "config.regions[1]")
	wantField(t, post(map[string]any{"name": "s", "provider": "aws", "config": f.awsConfig(map[string]any{"keyed_groups": []any{map[string]any{"key": "tags.{{"}}})}), "config.keyed_groups[0].key")
	wantField(t, post(map[string]any{"name": "s", "provider": "aws", "config": f.awsConfig(map[string]any{"compose": map[string]any{"ansible_host": "private_ip_address |"}})}), "config.compose.ansible_host")
	wantField(t, post(map[string]any{"name": "s", "provider": "aws", "config": f.awsConfig(map[string]any{"aws_secret_access_key": "shh-do-not-store"})}), "config.aws_secret_access_key")
	wantField(t, post(map[string]any{"name": "s", "provider": "aws", "config": f.awsConfig(map[string]any{"regoins": []string{"us-east-1"}})}), "config.regoins")
	wantField(t, post(map[string]any{"name": "s", "provider": "aws", "config": f.awsConfig(map[string]any{"plugin": "google.cloud.gcp_compute"})}), "config.plugin")
	wantField(t, post(map[string]any{"name": "s", "provider": "aws", "on_missing": "explode"}), "on_missing")
	var list api.SourceList
	f.do("GET", "/api/v1/inventories/prod/sources", f.admin, nil).json(t, &list)
	if len(list.Items) != 0 {
		t.Fatalf("invalid requests created %d sources", len(list.Items))
	}
	if strings.Contains(f.logs.String(), "shh-do-not-store") {
		t.Fatal("a refused secret option reached the logs")
	}
	// A pasted plugin file is accepted as is.
	r := post(map[string]any{"name": "pasted", "provider": "aws", "config": f.awsConfig(map[string]any{
		"plugin":       "amazon.aws.aws_ec2",
		"keyed_groups": []any{map[string]any{"prefix": "tag", "key": "tags"}},
		"compose":      map[string]any{"ansible_host": "private_ip_address"},
	})})
	wantStatus(t, r, http.StatusCreated)
}

// TestSourceOptionsWithNoEffect: a pasted plugin file's cache settings and
// the like are accepted, and the source and each of its runs say they have
// no effect; several unknown options are refused together, each with a
// suggestion; a bad region is refused on save.
func TestSourceOptionsWithNoEffect(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(map[string]any{
		"plugin": "amazon.aws.aws_ec2", "cache": true, "cache_plugin": "jsonfile", "cache_timeout": 3600,
		"include_extra_api_calls": true,
	}))
	want := []string{"option cache has no effect: ", "option cache_plugin has no effect: ", "option cache_timeout has no effect: ",
		"option include_extra_api_calls has no effect: "}
	check := func(what string, got []string) {
		t.Helper()
		if len(got) < len(want) {
			t.Fatalf("%s warnings %q, want %d about options", what, got, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(got[i], w) {
				t.Fatalf("%s warning %d = %q, want %q...", what, i, got[i], w)
			}
		}
	}
	if src.Warnings == nil {
		t.Fatal("the created source has no warnings")
	}
	check("created source", *src.Warnings)
	var got api.Source
	f.do("GET", "/api/v1/sources/"+src.Id, f.admin, nil).json(t, &got)
	if got.Warnings == nil {
		t.Fatal("the source read back has no warnings")
	}
	check("source", *got.Warnings)
	run := f.syncAndWait(src.Id)
	if run.Status != api.SyncRunStatusSucceeded {
		t.Fatalf("run = %+v", run)
	}
	check("run", run.Warnings)

	// Without them (removed by a merge patch), no warnings.
	r := f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"config": map[string]any{
		"cache": nil, "cache_plugin": nil, "cache_timeout": nil, "include_extra_api_calls": nil}})
	wantStatus(t, r, http.StatusOK)
	var updated api.Source
	r.json(t, &updated)
	if updated.Warnings != nil {
		t.Fatalf("warnings %q for a config without no-effect options", *updated.Warnings)
	}

	r = f.do("POST", "/api/v1/inventories/prod/sources", f.admin, map[string]any{"name": "typos", "provider": "aws",
		"config": f.awsConfig(map[string]any{"regoins": []string{"us-east-1"}, "keyed_group": []any{}, "hostname": []any{"dns-name"}})})
	for _, field := range []string{"config.regoins", "config.keyed_group", "config.hostname"} {
		wantField(t, r, field)
	}
	if !strings.Contains(string(r.body), `did you mean \"regions\"?`) {
		t.Fatalf("no suggestion for regoins: %s", r.body)
	}
	wantField(t, f.do("POST", "/api/v1/inventories/prod/sources", f.admin, map[string]any{"name": "zero", "provider": "aws",
		"config": f.awsConfig(map[string]any{"regions": []string{"us-east-01"}})}), "config.regions[0]")
}

func TestSyncHostsGroupsAndAnsible(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(map[string]any{
		"hostnames":    []any{"tag:Name", "instance-id"},
		"keyed_groups": []any{map[string]any{"prefix": "env", "key": "tags.Env", "parent_group": "environments"}},
		"compose":      map[string]any{"ansible_host": "private_ip_address"},
	}))
	run := f.syncAndWait(src.Id)
	if run.Status != api.SyncRunStatusSucceeded || run.Counts.Added == 0 || len(run.Scopes) != 2 {
		t.Fatalf("run = %+v", run)
	}

	// Pages of hosts cover every host once, in name order.
	var all []api.Host
	cursor := ""
	for pages := 0; ; pages++ {
		r := f.do("GET", "/api/v1/inventories/prod/hosts?limit=50"+cursor, f.admin, nil)
		wantStatus(t, r, http.StatusOK)
		var page api.HostList
		r.json(t, &page)
		all = append(all, page.Items...)
		if page.NextCursor == nil {
			break
		}
		cursor = "&cursor=" + *page.NextCursor
		if pages > 100 {
			t.Fatal("pagination does not end")
		}
	}
	if len(all) != run.Counts.Added {
		t.Fatalf("listed %d hosts, synced %d", len(all), run.Counts.Added)
	}
	if !slices.IsSortedFunc(all, func(a, b api.Host) int { return strings.Compare(a.Name, b.Name) }) {
		t.Fatal("hosts are not sorted by name")
	}
	r := f.do("GET", "/api/v1/inventories/prod/hosts?group=env_prod&enabled=true&limit=1000", f.admin, nil)
	var prod api.HostList
	r.json(t, &prod)
	for _, h := range prod.Items {
		if !h.Enabled || !slices.Contains(h.Groups, "env_prod") {
			t.Fatalf("host %s does not match the filter", h.Name)
		}
	}
	if len(prod.Items) == 0 {
		t.Fatal("no enabled prod host")
	}
	wantField(t, f.do("GET", "/api/v1/inventories/prod/hosts?enabled=maybe", f.admin, nil), "enabled")
	wantField(t, f.do("GET", "/api/v1/inventories/prod/hosts?limit=0", f.admin, nil), "limit")
	wantField(t, f.do("GET", "/api/v1/inventories/prod/hosts?cursor=garbage", f.admin, nil), "cursor")

	one := f.do("GET", fmt.Sprintf("/api/v1/inventories/prod/hosts/%d", all[0].Id), f.admin, nil)
	wantStatus(t, one, http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/hosts/999999", f.admin, nil), http.StatusNotFound)

	var groups api.GroupList
	f.do("GET", "/api/v1/inventories/prod/groups", f.admin, nil).json(t, &groups)
	byName := map[string]api.Group{}
	for _, g := range groups.Items {
		byName[g.Name] = g
	}
	if !slices.Contains(byName["environments"].Children, "env_prod") || byName["aws_ec2"].Hosts != len(all) {
		t.Fatalf("groups = %+v", groups.Items)
	}
	wantStatus(t, f.do("PUT", "/api/v1/inventories/prod/groups/env_prod/vars", f.admin, map[string]any{"tier": 1}), http.StatusOK)
	wantField(t, f.do("PUT", "/api/v1/inventories/prod/groups/env_prod/vars", f.admin, `[1,2]`), "body")

	// The Ansible document: every enabled host once, _meta present.
	var inv map[string]json.RawMessage
	r = f.do("GET", "/api/v1/inventories/prod/ansible", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &inv)
	var meta struct {
		Hostvars map[string]map[string]any `json:"hostvars"`
	}
	json.Unmarshal(inv["_meta"], &meta)
	enabled := 0
	for _, h := range all {
		if h.Enabled {
			enabled++
			if meta.Hostvars[h.Name]["ansible_host"] != h.Address {
				t.Fatalf("host %s: ansible_host %v, address %s", h.Name, meta.Hostvars[h.Name]["ansible_host"], h.Address)
			}
		}
	}
	if len(meta.Hostvars) != enabled {
		t.Fatalf("%d hostvars, want %d enabled hosts", len(meta.Hostvars), enabled)
	}
	var envProd struct {
		Hosts []string       `json:"hosts"`
		Vars  map[string]any `json:"vars"`
	}
	json.Unmarshal(inv["env_prod"], &envProd)
	if len(envProd.Hosts) == 0 || envProd.Vars["tier"] != float64(1) {
		t.Fatalf("env_prod = %s", inv["env_prod"])
	}
	r = f.do("GET", "/api/v1/inventories/prod/ansible?all=true", f.admin, nil)
	var withDisabled map[string]json.RawMessage
	r.json(t, &withDisabled)
	json.Unmarshal(withDisabled["_meta"], &meta)
	if len(meta.Hostvars) != len(all) {
		t.Fatalf("all=true: %d hostvars, want %d", len(meta.Hostvars), len(all))
	}

	name := prod.Items[0].Name
	r = f.do("GET", "/api/v1/inventories/prod/ansible?host="+name, f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	var vars map[string]any
	r.json(t, &vars)
	if vars["instance_id"] != prod.Items[0].ExternalId {
		t.Fatalf("--host vars = %v", vars)
	}
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/ansible?host=no-such-host", f.admin, nil), http.StatusNotFound)
}

func TestTriggerWhileRunningReturnsTheRun(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	f.sim.SetFaults(awssim.Faults{Latency: 300 * time.Millisecond})
	r1 := f.do("POST", "/api/v1/sources/"+src.Id+"/syncs", f.admin, nil)
	wantStatus(t, r1, http.StatusAccepted)
	r2 := f.do("POST", "/api/v1/sources/"+src.Id+"/syncs", f.admin, nil)
	wantStatus(t, r2, http.StatusOK)
	var a, b api.SyncRun
	r1.json(t, &a)
	r2.json(t, &b)
	if a.Id != b.Id {
		t.Fatalf("second trigger answered run %s, want the active %s", b.Id, a.Id)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		var run api.SyncRun
		f.do("GET", "/api/v1/syncs/"+a.Id, f.admin, nil).json(t, &run)
		if roster.SyncStatus(run.Status).Done() {
			if run.Status != api.SyncRunStatusSucceeded {
				t.Fatalf("run = %+v", run)
			}
			var hist api.SyncRunList
			f.do("GET", "/api/v1/sources/"+src.Id+"/syncs", f.admin, nil).json(t, &hist)
			if len(hist.Items) != 1 {
				t.Fatalf("history has %d runs, want 1", len(hist.Items))
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the run did not finish")
}

func TestTokens(t *testing.T) {
	f := newFixture(t)
	r := f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": "ci-runner", "role": "runner", "ttl": "1h"})
	wantStatus(t, r, http.StatusCreated)
	var created api.TokenCreated
	r.json(t, &created)
	if !strings.HasPrefix(created.Value, roster.TokenPrefix) || created.ExpiresAt == nil {
		t.Fatalf("created = %+v", created)
	}
	wantStatus(t, f.do("GET", "/api/v1/inventories", created.Value, nil), http.StatusOK)
	r = f.do("GET", "/api/v1/tokens", f.admin, nil)
	if bytes.Contains(r.body, []byte(created.Value)) {
		t.Fatal("the token list shows a token value")
	}
	wantField(t, f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": "x", "role": "root"}), "role")
	wantField(t, f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": "x", "role": "runner", "ttl": "soon"}), "ttl")
	wantStatus(t, f.do("DELETE", "/api/v1/tokens/ci-runner", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/inventories", created.Value, nil), http.StatusUnauthorized)
	if strings.Contains(f.logs.String(), created.Value) {
		t.Fatal("a created token's value reached the logs")
	}
}

func TestDeleteInventoryRemovesEverything(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	f.syncAndWait(src.Id)
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/prod", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/sources/"+src.Id, f.admin, nil), http.StatusNotFound)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/hosts", f.admin, nil), http.StatusNotFound)
}

// TestOnlyAdminsRouteCredentials: an operator may manage sources, but not
// point one at an endpoint of their choosing, where its credential would go.
func TestOnlyAdminsRouteCredentials(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	operator := f.token("operator", roster.RoleOperator)
	r := f.do("POST", "/api/v1/inventories/prod/sources", operator, map[string]any{"name": "ec2", "provider": "aws", "config": f.awsConfig(nil)})
	wantStatus(t, r, http.StatusForbidden)
	if !slices.Contains(r.fields(), "config.endpoint_url") {
		t.Fatalf("fields %v, want config.endpoint_url", r.fields())
	}
	src := f.source("prod", "ec2", f.awsConfig(nil)) // the admin may
	// The operator may change other options, keeping the endpoint.
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, operator, map[string]any{"config": f.awsConfig(map[string]any{"hostnames": []string{"instance-id"}})}), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, operator, map[string]any{"config": f.awsConfig(map[string]any{"endpoint_url": "https://attacker.example"})}), http.StatusForbidden)
	// Nor remove it (a config patch merges: left out, it is kept).
	wantStatus(t, f.do("PATCH", "/api/v1/sources/"+src.Id, operator, map[string]any{"config": map[string]any{"endpoint_url": nil}}), http.StatusForbidden)
}

func TestMethodNotAllowedAndRoleBeforeSchema(t *testing.T) {
	f := newFixture(t)
	r := f.do("PUT", "/api/v1/inventories", f.admin, map[string]any{})
	wantStatus(t, r, http.StatusMethodNotAllowed)
	if allow := r.header.Get("Allow"); allow != "GET, POST" {
		t.Fatalf("Allow = %q", allow)
	}
	r.problem(t)
	// A runner posting nonsense to an operator's endpoint learns it may
	// not, not what the schema wants.
	runner := f.token("runner", roster.RoleRunner)
	wantStatus(t, f.do("POST", "/api/v1/inventories", runner, map[string]any{"bogus": true}), http.StatusForbidden)
}
