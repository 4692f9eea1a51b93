package api_test

import (
	"bytes"
	"database/sql"
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
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/vault"
)

// TestUnauditableIssuanceReturnsNoSecret: with the real SQLite store
// refusing to write an issuance's audit record (a trigger aborts the
// insert, as a full disk or a broken database would), neither an issue
// nor a signature hands anything over: 503, no secret and no certificate
// in the answer, and no record claiming they were allowed. Refusals are
// still recorded, and issuance works again once the store does.
func TestUnauditableIssuanceReturnsNoSecret(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "roster.db")
	st, err := store.OpenSQLite(ctx, path)
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
	srv := api.NewServer(api.Config{Store: st, Broker: broker.New(st, backend, log), Log: log})
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
	call := func(tok, path string, body any) (int, string) {
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
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	const password = "S3CR3T-never-unaudited"
	for _, step := range []struct {
		path string
		body any
	}{
		{"/inventories", map[string]any{"name": "prod"}},
		{"/inventories", map[string]any{"name": "dev"}},
		{"/credentials", map[string]any{"name": "db", "type": "password", "fields": map[string]string{"username": "app", "password": password}}},
		{"/credentials", map[string]any{"name": "ca", "type": "ssh_certificate", "fields": map[string]string{"username": "deploy"}}},
		{"/grants", map[string]string{"token": "runner", "credential": "db", "inventory": "prod"}},
		{"/grants", map[string]string{"token": "runner", "credential": "ca", "inventory": "prod"}},
	} {
		if status, body := call(admin, step.path, step.body); status != http.StatusCreated {
			t.Fatalf("POST %s: %d %s", step.path, status, body)
		}
	}

	// Another connection to the same file, as an operator's would be.
	db, err := sql.Open("sqlite", "file:"+filepath.ToSlash(path)+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.ExecContext(ctx, `CREATE TRIGGER refuse_allowed BEFORE INSERT ON audit_events WHEN NEW.outcome = 'allowed'
		BEGIN SELECT RAISE(ABORT, 'the audit log takes no more'); END`); err != nil {
		t.Fatal(err)
	}

	issue := map[string]any{"inventory": "prod"}
	sign := map[string]any{"inventory": "prod", "public_key": publicKey(t)}
	if status, body := call(runner, "/credentials/db/issue", issue); status != http.StatusServiceUnavailable || strings.Contains(body, password) {
		t.Errorf("issue without an audit record: %d %s, want 503 without the password", status, body)
	}
	if status, body := call(runner, "/credentials/ca/ssh/sign", sign); status != http.StatusServiceUnavailable || strings.Contains(body, "cert") {
		t.Errorf("signature without an audit record: %d %s, want 503 without a certificate", status, body)
	}
	if status, _ := call(runner, "/credentials/db/issue", map[string]any{"inventory": "dev"}); status != http.StatusForbidden {
		t.Errorf("refusal: %d, want 403", status)
	}
	events, _, err := st.AuditEvents(ctx, roster.AuditFilter{Actor: "runner"})
	if err != nil {
		t.Fatal(err)
	}
	denied := 0
	for _, e := range events {
		switch e.Outcome {
		case roster.AuditAllowed:
			t.Errorf("an allowed record was written: %+v", e)
		case roster.AuditDenied:
			denied++
		}
	}
	if denied != 1 {
		t.Errorf("%d refusals recorded, want 1: %+v", denied, events)
	}

	if _, err := db.ExecContext(ctx, `DROP TRIGGER refuse_allowed`); err != nil {
		t.Fatal(err)
	}
	if status, body := call(runner, "/credentials/db/issue", issue); status != http.StatusOK || !strings.Contains(body, password) {
		t.Errorf("issue once the store writes again: %d %s", status, body)
	}
	if status, body := call(runner, "/credentials/ca/ssh/sign", sign); status != http.StatusOK || !strings.Contains(body, "cert") {
		t.Errorf("signature once the store writes again: %d %s", status, body)
	}
}
