package api_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/vault"
)

// callCounter is the real store counting the calls an issuance makes.
type callCounter struct {
	roster.Store
	mu    sync.Mutex
	calls map[string]int
}

func (s *callCounter) count(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[name]++
}

func (s *callCounter) take() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.calls
	s.calls = map[string]int{}
	return c
}

func (s *callCounter) TokenByHash(ctx context.Context, hash string) (*roster.Token, error) {
	s.count("TokenByHash")
	return s.Store.TokenByHash(ctx, hash)
}

func (s *callCounter) Credential(ctx context.Context, ref string) (*roster.Credential, error) {
	s.count("Credential")
	return s.Store.Credential(ctx, ref)
}

func (s *callCounter) Inventory(ctx context.Context, ref string) (*roster.Inventory, error) {
	s.count("Inventory")
	return s.Store.Inventory(ctx, ref)
}

func (s *callCounter) Grants(ctx context.Context, f roster.GrantFilter) ([]*roster.Grant, error) {
	s.count("Grants")
	return s.Store.Grants(ctx, f)
}

func (s *callCounter) AppendAudit(ctx context.Context, e *roster.AuditEvent) error {
	s.count("AppendAudit " + string(e.Outcome))
	return s.Store.AppendAudit(ctx, e)
}

// TestIssuanceReadsEachThingOnce: an issuance and a signature read the
// token, the credential, the inventory and the grants once each, and write
// one audit record (the API checks what the caller may see and the broker
// checks the grant: the broker takes what the API found instead of reading
// it again). Refusals are still found and audited.
func TestIssuanceReadsEachThingOnce(t *testing.T) {
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	key, err := vault.GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	backend, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	cs := &callCounter{Store: st, calls: map[string]int{}}
	srv := api.NewServer(api.Config{Store: cs, Broker: broker.New(cs, backend, log), Log: log})
	t.Cleanup(func() { srv.Close() })
	h, err := srv.Handler()
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)

	token := func(name string, role roster.Role) string {
		value, hash := roster.NewTokenValue()
		if err := st.CreateToken(ctx, &roster.Token{Name: name, Role: role}, hash); err != nil {
			t.Fatal(err)
		}
		return value.Reveal()
	}
	admin, runner := token("admin", roster.RoleAdmin), token("runner", roster.RoleRunner)
	call := func(tok, path string, body any) int {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+"/api/v1"+path, bytes.NewReader(raw))
		req.Header.Set("Authorization", "Bearer "+tok)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		io.Copy(io.Discard, resp.Body)
		return resp.StatusCode
	}
	for _, step := range []struct {
		path string
		body any
	}{
		{"/inventories", map[string]any{"name": "prod"}},
		{"/inventories", map[string]any{"name": "dev"}},
		{"/credentials", map[string]any{"name": "db", "type": "password", "fields": map[string]string{"username": "app", "password": "pw"}}},
		{"/credentials", map[string]any{"name": "ca", "type": "ssh_certificate", "fields": map[string]string{"username": "deploy"}}},
		{"/grants", map[string]string{"token": "runner", "credential": "db", "inventory": "prod"}},
		{"/grants", map[string]string{"token": "runner", "credential": "ca", "inventory": "prod"}},
		{"/grants", map[string]string{"token": "admin", "credential": "db", "inventory": "prod"}},
	} {
		if status := call(admin, step.path, step.body); status != http.StatusCreated {
			t.Fatalf("POST %s: %d", step.path, status)
		}
	}
	once := map[string]int{"TokenByHash": 1, "Credential": 1, "Inventory": 1, "Grants": 1, "AppendAudit allowed": 1}
	denied := map[string]int{"TokenByHash": 1, "Credential": 1, "Inventory": 1, "Grants": 1, "AppendAudit denied": 1}
	for _, tc := range []struct {
		name   string
		tok    string
		path   string
		body   any
		status int
		want   map[string]int
	}{
		{"runner issues", runner, "/credentials/db/issue", map[string]any{"inventory": "prod"}, http.StatusOK, once},
		{"runner signs", runner, "/credentials/ca/ssh/sign", map[string]any{"inventory": "prod", "public_key": publicKey(t)}, http.StatusOK, once},
		{"admin issues", admin, "/credentials/db/issue", map[string]any{"inventory": "prod"}, http.StatusOK, once},
		{"runner refused for another inventory", runner, "/credentials/db/issue", map[string]any{"inventory": "dev"}, http.StatusForbidden, denied},
		{"admin refused without a grant", admin, "/credentials/ca/ssh/sign", map[string]any{"inventory": "prod", "public_key": publicKey(t)}, http.StatusForbidden, denied},
	} {
		cs.take()
		if status := call(tc.tok, tc.path, tc.body); status != tc.status {
			t.Errorf("%s: %d, want %d", tc.name, status, tc.status)
		}
		if got := cs.take(); !maps.Equal(got, tc.want) {
			t.Errorf("%s: store calls %v, want %v", tc.name, got, tc.want)
		}
	}
}
