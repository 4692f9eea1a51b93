package metrics_test

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
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/vault"
)

// apiServer is the whole API over a real SQLite store, with metrics.
type apiServer struct {
	t     *testing.T
	url   string
	store *store.SQLite
	admin string
}

func newAPIServer(t *testing.T) *apiServer {
	t.Helper()
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	// Hosts per inventory as the lead wires it: read from the store at
	// scrape time.
	m := metrics.New(metrics.Options{Log: log, InventoryHosts: func(ctx context.Context) ([]metrics.InventoryHosts, error) {
		invs, err := st.Inventories(ctx)
		if err != nil {
			return nil, err
		}
		var out []metrics.InventoryHosts
		for _, inv := range invs {
			hosts, _, err := st.Hosts(ctx, roster.HostFilter{InventoryID: inv.ID, Limit: 1000})
			if err != nil {
				return nil, err
			}
			n := metrics.InventoryHosts{Inventory: inv.Name, Hosts: len(hosts)}
			for _, h := range hosts {
				if h.Enabled {
					n.Enabled++
				}
			}
			out = append(out, n)
		}
		return out, nil
	}})
	engine := syncer.New(st, sources.NewRegistry(), log)
	key, err := vault.GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	backend, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	brk := broker.New(st, backend, log, broker.WithIssuanceObserver(m))
	h, err := api.NewServer(api.Config{Store: st, Engine: engine, Broker: brk, Log: log, Metrics: m}).Handler()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	a := &apiServer{t: t, url: srv.URL, store: st}
	a.admin = a.token("admin", roster.RoleAdmin)
	return a
}

func (a *apiServer) token(name string, role roster.Role) string {
	a.t.Helper()
	value, hash := roster.NewTokenValue()
	if err := a.store.CreateToken(a.t.Context(), &roster.Token{Name: name, Role: role}, hash); err != nil {
		a.t.Fatal(err)
	}
	return value.Reveal()
}

// do sends a request and returns its status.
func (a *apiServer) do(method, path, token string, body any) int {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			a.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.url+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func (a *apiServer) want(status int, method, path, token string, body any) {
	a.t.Helper()
	if got := a.do(method, path, token, body); got != status {
		a.t.Fatalf("%s %s: %d, want %d", method, path, got, status)
	}
}

// TestAPIRequestMetrics drives the real API over HTTP and checks the
// latency series by route that /metrics then serves, unauthenticated.
func TestAPIRequestMetrics(t *testing.T) {
	a := newAPIServer(t)
	a.want(http.StatusCreated, "POST", "/api/v1/inventories", a.admin, map[string]any{"name": "prod"})
	a.want(http.StatusOK, "GET", "/api/v1/inventories/prod/hosts", a.admin, nil)
	a.want(http.StatusOK, "GET", "/api/v1/inventories/prod/hosts?name=web-secret-*", a.admin, nil)
	a.want(http.StatusNotFound, "GET", "/api/v1/inventories/staging/hosts", a.admin, nil)
	a.want(http.StatusUnauthorized, "GET", "/api/v1/inventories/prod/hosts", "", nil)
	a.want(http.StatusUnauthorized, "GET", "/api/v1/inventories/prod/hosts", "not-a-real-token-value", nil)
	a.want(http.StatusOK, "GET", "/healthz", "", nil)
	a.want(http.StatusNotFound, "GET", "/api/v1/no/such/thing", a.admin, nil)
	a.want(http.StatusMethodNotAllowed, "DELETE", "/healthz", a.admin, nil)
	a.want(http.StatusMethodNotAllowed, "POST", "/metrics", "", nil)

	text := scrape(t, a.url+"/metrics") // no token
	const route = `GET /api/v1/inventories/{inventory}/hosts`
	equalSamples(t, "roster_http_request_duration_seconds_count", samples(text, "roster_http_request_duration_seconds_count"), map[string]string{
		`{code="201",method="post",route="POST /api/v1/inventories"}`: "1",
		`{code="200",method="get",route="` + route + `"}`:             "2",
		`{code="404",method="get",route="` + route + `"}`:             "1",
		`{code="401",method="get",route="` + route + `"}`:             "2",
		`{code="200",method="get",route="GET /healthz"}`:              "1",
		`{code="404",method="get",route="unmatched"}`:                 "1",
		`{code="405",method="delete",route="unmatched"}`:              "1",
	})
	// A histogram, every series of it: the +Inf bucket matches the count.
	if got := samples(text, "roster_http_request_duration_seconds_bucket")[`{code="200",method="get",route="`+route+`",le="+Inf"}`]; got != "2" {
		t.Errorf("+Inf bucket of the hosts route = %q, want 2", got)
	}
	// Scrapes and refused scrapes are not API requests, and no label holds
	// a path, a query or a token.
	for _, leak := range []string{"/metrics", "prod/hosts", "staging", "web-secret", "not-a-real-token-value", a.admin, "/no/such"} {
		if strings.Contains(text, leak) {
			t.Errorf("the scrape contains %q", leak)
		}
	}

	// Hosts per inventory are read from the store at each scrape.
	equalSamples(t, "roster_inventory_hosts", samples(text, "roster_inventory_hosts"), map[string]string{`{inventory="prod"}`: "0"})
	a.want(http.StatusCreated, "POST", "/api/v1/inventories", a.admin, map[string]any{"name": "dev"})
	text = scrape(t, a.url+"/metrics")
	equalSamples(t, "roster_inventory_hosts", samples(text, "roster_inventory_hosts"), map[string]string{`{inventory="prod"}`: "0", `{inventory="dev"}`: "0"})
	equalSamples(t, "roster_metrics_collect_errors_total", samples(text, "roster_metrics_collect_errors_total"), map[string]string{`{collector="inventory_hosts"}`: "0"})
	// The first scrape shows in the second: /metrics is instrumented by
	// promhttp, not as an API route.
	if got := samples(text, "promhttp_metric_handler_requests_total")[`{code="200"}`]; got != "1" {
		t.Errorf("promhttp_metric_handler_requests_total{code=\"200\"} = %q, want 1", got)
	}
}

// TestAPIIssuanceMetrics: issuances through the API reach the counter.
func TestAPIIssuanceMetrics(t *testing.T) {
	a := newAPIServer(t)
	runner := a.token("runner", roster.RoleRunner)
	a.want(http.StatusCreated, "POST", "/api/v1/inventories", a.admin, map[string]any{"name": "prod"})
	a.want(http.StatusCreated, "POST", "/api/v1/inventories", a.admin, map[string]any{"name": "dev"})
	const password = "pw-that-must-not-show"
	a.want(http.StatusCreated, "POST", "/api/v1/credentials", a.admin, map[string]any{"name": "db", "type": "password", "fields": map[string]string{"username": "app", "password": password}})
	a.want(http.StatusCreated, "POST", "/api/v1/grants", a.admin, map[string]string{"token": "runner", "credential": "db", "inventory": "prod"})

	a.want(http.StatusOK, "POST", "/api/v1/credentials/db/issue", runner, map[string]any{"inventory": "prod"})
	a.want(http.StatusForbidden, "POST", "/api/v1/credentials/db/issue", runner, map[string]any{"inventory": "dev"})
	a.want(http.StatusForbidden, "POST", "/api/v1/credentials/db/issue", a.admin, map[string]any{"inventory": "prod"})

	text := scrape(t, a.url+"/metrics")
	equalSamples(t, "roster_broker_issuances_total", samples(text, "roster_broker_issuances_total"), map[string]string{
		`{kind="issue",result="denied"}`:    "2",
		`{kind="issue",result="error"}`:     "0",
		`{kind="issue",result="issued"}`:    "1",
		`{kind="ssh_sign",result="denied"}`: "0",
		`{kind="ssh_sign",result="error"}`:  "0",
		`{kind="ssh_sign",result="issued"}`: "0",
	})
	if got := samples(text, "roster_http_request_duration_seconds_count")[`{code="403",method="post",route="POST /api/v1/credentials/{credential}/issue"}`]; got != "2" {
		t.Errorf("403s of the issue route = %q, want 2", got)
	}
	if strings.Contains(text, password) || strings.Contains(text, runner) {
		t.Error("the scrape contains a secret")
	}
}
