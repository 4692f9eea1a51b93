package client_test

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/rosterhq/roster/internal/client"
)

// TestTypedClient: the generated methods go through the client's
// transport (the token sent, the API's paths), Decode keeps the JSON as
// it came, and a problem answer is one line with its field errors.
func TestTypedClient(t *testing.T) {
	var gotAuth, gotPath, gotBody string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotAuth, gotPath = r.Header.Get("Authorization"), r.URL.Path
		b, _ := io.ReadAll(r.Body)
		gotBody = string(b)
		switch r.Method {
		case "GET":
			w.Header().Set("Content-Type", "application/json")
			w.Write([]byte(`{"id":"i1","name":"prod","description":"","name_policy":"merge","created_at":"2026-01-02T03:04:05Z","updated_at":"2026-01-02T03:04:05Z","future":1}`))
		case "POST":
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusBadRequest)
			w.Write([]byte(`{"type":"about:blank","title":"Bad Request","status":400,"code":"invalid","detail":"the inventory is invalid\n","errors":[{"field":"name","message":"must match ^[A-Za-z0-9]"}]}`))
		case "DELETE":
			w.WriteHeader(http.StatusNoContent)
		}
	}))
	defer srv.Close()
	c, err := client.NewWithTLS(srv.URL, token, client.TLS{})
	if err != nil {
		t.Fatal(err)
	}

	got, err := client.Decode[client.Inventory](c.GetInventory(t.Context(), "prod/x"))
	if err != nil {
		t.Fatal(err)
	}
	if gotAuth != "Bearer "+token.Reveal() || gotPath != "/api/v1/inventories/prod/x" {
		t.Fatalf("request: %q %q", gotAuth, gotPath)
	}
	if got.Value.Name != "prod" || got.Value.NamePolicy != client.Merge || string(got.JSON[len(got.JSON)-11:]) != `"future":1}` {
		t.Fatalf("decoded %+v from %s", got.Value, got.JSON)
	}

	_, err = client.Decode[client.Inventory](c.CreateInventory(t.Context(), client.InventoryCreate{Name: "bad name"}))
	var apiErr *client.Error
	if !errors.As(err, &apiErr) || apiErr.Status != 400 || apiErr.Code != "invalid" {
		t.Fatalf("problem: %v", err)
	}
	if want := "the inventory is invalid: name: must match ^[A-Za-z0-9]"; err.Error() != want {
		t.Fatalf("problem says %q, want %q", err, want)
	}
	if gotBody != `{"name":"bad name"}` {
		t.Fatalf("body sent: %s", gotBody)
	}

	del, err := client.Decode[struct{}](c.DeleteInventory(t.Context(), "prod"))
	if err != nil || del.Status != http.StatusNoContent {
		t.Fatalf("delete: %v %+v", err, del)
	}
}
