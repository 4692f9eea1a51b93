package api_test

import (
	"net/http"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// TestContentTypes: JSON bodies are taken with or without a charset, and
// without a Content-Type; any other type is a 415 naming the header.
func TestContentTypes(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "aws-prod", f.awsConfig(nil))
	patch := func(ct string, body string) response {
		t.Helper()
		h := http.Header{"Content-Type": nil} // none
		if ct != "" {
			h["Content-Type"] = []string{ct}
		}
		return f.send("PATCH", "/api/v1/sources/"+src.Id, f.admin, body, h)
	}
	for _, ct := range []string{"", "application/json", "application/json; charset=utf-8", "Application/JSON;charset=UTF-8", "application/merge-patch+json", "application/merge-patch+json; charset=utf-8"} {
		r := patch(ct, `{"schedule": "15m"}`)
		wantStatus(t, r, http.StatusOK)
	}
	for ct, says := range map[string]string{
		"text/xml":                          "text/xml is not accepted here: send Content-Type: application/json or application/merge-patch+json",
		"application/x-www-form-urlencoded": "curl -d",
		"text/plain":                        "send Content-Type",
		"application/json; charset=latin1":  "UTF-8",
		`application/json; charset="utf-8`:  "cannot be parsed",
	} {
		r := patch(ct, `{"schedule": "1h"}`)
		wantStatus(t, r, http.StatusUnsupportedMediaType)
		p := r.problem(t)
		if p.Code != api.ProblemCodeUnsupportedMediaType || p.Errors == nil || (*p.Errors)[0].Field != "Content-Type" || !strings.Contains((*p.Errors)[0].Message, says) {
			t.Errorf("Content-Type %q: %s, want a 415 naming Content-Type saying %q", ct, r.body, says)
		}
	}
	// Operations that take JSON only say so.
	r := f.send("POST", "/api/v1/inventories", f.admin, `{"name": "x"}`, http.Header{"Content-Type": {"application/merge-patch+json"}})
	wantStatus(t, r, http.StatusUnsupportedMediaType)
	if !strings.Contains(string(r.body), "send Content-Type: application/json\"") {
		t.Errorf("body %s", r.body)
	}
	// Refused bodies changed nothing.
	r = f.do("GET", "/api/v1/sources/"+src.Id, f.admin, nil)
	var got api.Source
	r.json(t, &got)
	if got.Schedule == nil || *got.Schedule != "15m" {
		t.Fatalf("schedule %v, want 15m", got.Schedule)
	}
	// A body without a Content-Type is parsed as JSON, checks included.
	r = f.send("POST", "/api/v1/inventories", f.admin, `{"name": "stage", "bogus": 1}`, http.Header{"Content-Type": nil})
	wantField(t, r, "bogus")
	r = f.send("POST", "/api/v1/inventories", f.admin, `{"name": "stage"} x`, http.Header{"Content-Type": nil})
	wantField(t, r, "body")
	r = f.send("POST", "/api/v1/inventories", f.admin, `{"name": "stage"}`, http.Header{"Content-Type": nil})
	wantStatus(t, r, http.StatusCreated)
}

// TestBodiesNeedABearerToken: reading a body without a Content-Type as
// JSON is safe from cross-site requests only because every operation
// that takes a body needs an Authorization header (checkContentType).
// Signing in takes a body and no token: it is read only with an explicit
// JSON Content-Type, which a cross-site form cannot send (TestLogin).
func TestBodiesNeedABearerToken(t *testing.T) {
	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			public := op.Security != nil && len(*op.Security) == 0
			if public && op.RequestBody != nil && !slices.Contains([]string{"/api/v1/auth/login", "/api/v1/auth/token", "/api/v1/auth/device", "/api/v1/auth/device/token"}, path) {
				t.Errorf("%s %s takes a body without a token: a body without a Content-Type must not be read as JSON there", method, path)
			}
		}
	}
}

// TestSourcePatchIsAMergePatch: PATCH of a source merges into its fields
// and its config (RFC 7396); the merged config is checked whole.
func TestSourcePatchIsAMergePatch(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	cfg := f.awsConfig(map[string]any{
		"filters":      map[string]any{"tag:Env": "prod", "instance-type": "t3.micro"},
		"compose":      map[string]any{"ansible_host": "private_ip_address", "az": "placement.availability_zone"},
		"keyed_groups": []any{map[string]any{"prefix": "tag", "key": "tags"}},
	})
	src := f.source("prod", "aws-prod", cfg)
	operator := f.token("op", roster.RoleOperator)
	patch := func(token string, body any) response {
		t.Helper()
		return f.send("PATCH", "/api/v1/sources/prod%2Faws-prod", token, body, http.Header{"Content-Type": {"application/merge-patch+json"}})
	}
	current := func() api.Source {
		t.Helper()
		r := f.do("GET", "/api/v1/sources/"+src.Id, f.admin, nil)
		wantStatus(t, r, http.StatusOK)
		var s api.Source
		r.json(t, &s)
		return s
	}

	r := patch(operator, map[string]any{
		"config": map[string]any{
			"regions":      nil,                                       // removed
			"filters":      map[string]any{"instance-type": nil},      // nested: one key removed
			"compose":      map[string]any{"az": nil, "rack": "'r1'"}, // nested: one removed, one added
			"keyed_groups": []any{map[string]any{"key": "tags"}},      // a list replaces the old one
		},
		"schedule":   "15m",
		"on_missing": "disable",
	})
	wantStatus(t, r, http.StatusOK)
	got := current()
	want := map[string]any{
		"endpoint_url": f.simURL,
		"filters":      map[string]any{"tag:Env": "prod"},
		"compose":      map[string]any{"ansible_host": "private_ip_address", "rack": "'r1'"},
		"keyed_groups": []any{map[string]any{"key": "tags"}},
	}
	if !reflect.DeepEqual(map[string]any(got.Config), want) {
		t.Fatalf("config after the patch:\n%v\nwant\n%v", got.Config, want)
	}
	if got.Schedule == nil || *got.Schedule != "15m" || got.OnMissing != "disable" || got.Name != "aws-prod" {
		t.Fatalf("fields after the patch: %+v", got)
	}

	// null returns a field to its default.
	wantStatus(t, patch(operator, map[string]any{"schedule": nil, "on_missing": nil}), http.StatusOK)
	if got := current(); got.Schedule != nil && *got.Schedule != "" || got.OnMissing != "remove" {
		t.Fatalf("after nulls: schedule %v, on_missing %s", got.Schedule, got.OnMissing)
	}
	wantField(t, patch(operator, map[string]any{"name": nil}), "name")

	// The merged config is validated whole, with create's field names,
	// and an invalid one changes nothing.
	before := current()
	wantField(t, patch(operator, map[string]any{"config": map[string]any{"regions": []string{"us-east-01"}}, "schedule": "1h"}), "config.regions[0]")
	wantField(t, patch(operator, map[string]any{"config": map[string]any{"regoins": []string{"us-east-1"}}}), "config.regoins")
	wantField(t, patch(operator, map[string]any{"config": map[string]any{"compose": map[string]any{"x": "{{"}}}), "config.compose.x")
	if after := current(); !reflect.DeepEqual(after, before) {
		t.Fatalf("a refused patch changed the source:\n%+v\n%+v", before, after)
	}

	// Options that route credentials stay an admin's, on the merged
	// result: an operator may patch around them, not change or remove
	// them, nor change the credential of a source that has them.
	wantStatus(t, patch(operator, map[string]any{"config": map[string]any{"filters": map[string]any{"tag:Team": "a"}}}), http.StatusOK)
	for _, body := range []map[string]any{
		{"config": map[string]any{"endpoint_url": "https://evil.example"}},
		{"config": map[string]any{"endpoint_url": nil}},
		{"config": nil},
	} {
		r := patch(operator, body)
		wantStatus(t, r, http.StatusForbidden)
		if !strings.Contains(string(r.body), "config.endpoint_url") {
			t.Errorf("patch %v: %s, want a refusal naming config.endpoint_url", body, r.body)
		}
	}
	wantStatus(t, patch(f.admin, map[string]any{"config": map[string]any{"endpoint_url": nil}}), http.StatusOK)
	if _, ok := current().Config["endpoint_url"]; ok {
		t.Fatal("an admin's patch did not remove endpoint_url")
	}

	// application/json is read the same way, and a body that is not an
	// object is refused.
	r = f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, map[string]any{"config": map[string]any{"filters": nil}})
	wantStatus(t, r, http.StatusOK)
	if _, ok := current().Config["filters"]; ok {
		t.Fatal("filters kept")
	}
	wantField(t, f.do("PATCH", "/api/v1/sources/"+src.Id, f.admin, `["regions"]`), "body")
}
