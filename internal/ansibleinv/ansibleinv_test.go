package ansibleinv

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestMaxAgeIsAskedFor(t *testing.T) {
	var query string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		query = r.URL.RawQuery
		w.Write([]byte(`{"_meta":{"hostvars":{}}}`))
	}))
	defer srv.Close()
	env := map[string]string{"ROSTER_URL": srv.URL, "ROSTER_TOKEN": "rst_x", "ROSTER_INVENTORY": "prod", "ROSTER_MAX_AGE": "90s"}
	c, err := LoadConfig(func(k string) string { return env[k] }, t.TempDir()+"/roster-inventory")
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := Fetch(t.Context(), c, "", &out); err != nil {
		t.Fatal(err)
	}
	if query != "max_age=90" {
		t.Fatalf("query = %q, want max_age=90", query)
	}
	env["ROSTER_MAX_AGE"] = "1500ms"
	c, _ = LoadConfig(func(k string) string { return env[k] }, t.TempDir()+"/roster-inventory")
	Fetch(t.Context(), c, "", &out)
	if query != "max_age=2" {
		t.Fatalf("query = %q, want max_age rounded up to 2", query)
	}
	env["ROSTER_MAX_AGE"] = "soon"
	if _, err := LoadConfig(func(k string) string { return env[k] }, t.TempDir()+"/roster-inventory"); err == nil || !strings.Contains(err.Error(), "ROSTER_MAX_AGE") {
		t.Fatalf("bad ROSTER_MAX_AGE: %v", err)
	}
}
