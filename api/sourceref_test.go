package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// TestSourceReferences: a source is named in a path by its id, by
// INVENTORY/NAME (the slash escaped) or by a name only one source has; what
// is missing is a 404 naming it, a name in several inventories a 409.
func TestSourceReferences(t *testing.T) {
	f := newFixture(t)
	prod := f.inventory("prod")
	f.inventory("stage")
	src := f.source("prod", "aws-prod", f.awsConfig(nil))
	webProd := f.source("prod", "web", f.awsConfig(nil))
	webStage := f.source("stage", "web", f.awsConfig(nil))

	get := func(token, ref string) response {
		t.Helper()
		return f.do("GET", "/api/v1/sources/"+ref, token, nil)
	}
	wantSource := func(r response, id string) {
		t.Helper()
		wantStatus(t, r, http.StatusOK)
		var got api.Source
		r.json(t, &got)
		if got.Id != id {
			t.Fatalf("got source %s (%s), want %s", got.Id, got.Name, id)
		}
	}
	wantProblem := func(r response, status int, detail ...string) {
		t.Helper()
		wantStatus(t, r, status)
		p := r.problem(t)
		for _, d := range detail {
			if p.Detail == nil || !strings.Contains(*p.Detail, d) {
				t.Fatalf("detail %v, want it to say %q", p.Detail, d)
			}
		}
	}

	for _, ref := range []string{src.Id, "prod%2Faws-prod", "prod%2faws-prod", prod.Id + "%2Faws-prod", "aws-prod"} {
		wantSource(get(f.admin, ref), src.Id)
	}
	wantSource(get(f.admin, "stage%2Fweb"), webStage.Id)
	wantSource(get(f.admin, "prod%2Fweb"), webProd.Id)
	wantProblem(get(f.admin, "web"), http.StatusConflict, `"web"`, "prod, stage", "prod%2Fweb")
	wantProblem(get(f.admin, "nope%2Fweb"), http.StatusNotFound, `inventory "nope" not found`)
	wantProblem(get(f.admin, "prod%2Fnope"), http.StatusNotFound, `source "nope" not found in inventory "prod"`)
	wantProblem(get(f.admin, "nope"), http.StatusNotFound, `source "nope" not found`)
	// An unescaped slash is a path of its own.
	wantStatus(t, get(f.admin, "prod/aws-prod"), http.StatusNotFound)

	// A host listing's source filter takes the source's name in the
	// inventory, or its id; another inventory's source is a 400.
	f.syncAndWait(src.Id)
	var all api.HostList
	f.do("GET", "/api/v1/inventories/prod/hosts?limit=1000", f.admin, nil).json(t, &all)
	if len(all.Items) == 0 {
		t.Fatal("the sync of aws-prod gave no hosts")
	}
	for _, q := range []string{"aws-prod", src.Id} {
		var got api.HostList
		r := f.do("GET", "/api/v1/inventories/prod/hosts?limit=1000&source="+q, f.admin, nil)
		wantStatus(t, r, http.StatusOK)
		r.json(t, &got)
		if len(got.Items) != len(all.Items) {
			t.Fatalf("hosts of source %s: %d, want %d", q, len(got.Items), len(all.Items))
		}
	}
	var none api.HostList
	f.do("GET", "/api/v1/inventories/prod/hosts?source=web", f.admin, nil).json(t, &none)
	if len(none.Items) != 0 {
		t.Fatalf("hosts of the unsynced source web: %d", len(none.Items))
	}
	wantField(t, f.do("GET", "/api/v1/inventories/prod/hosts?source=nope", f.admin, nil), "source")
	wantField(t, f.do("GET", "/api/v1/inventories/stage/hosts?source="+src.Id, f.admin, nil), "source")

	// Every sub-path takes the same references, and what they send is
	// still checked against openapi.yaml.
	ref := "prod%2Faws-prod"
	wantField(t, f.do("PATCH", "/api/v1/sources/"+ref, f.admin, map[string]any{"bogus": 1}), "bogus")
	wantStatus(t, f.do("POST", "/api/v1/sources/"+ref+"/syncs", f.admin, nil), http.StatusAccepted)
	wantStatus(t, f.do("GET", "/api/v1/sources/"+ref+"/syncs", f.admin, nil), http.StatusOK)
	wantStatus(t, f.do("POST", "/api/v1/sources/aws-prod/callback-key", f.admin, nil), http.StatusCreated)
	wantStatus(t, f.do("DELETE", "/api/v1/sources/"+ref+"/callback-key", f.admin, nil), http.StatusNoContent)
	wantProblem(f.do("POST", "/api/v1/sources/web/syncs", f.admin, nil), http.StatusConflict, "prod, stage")

	// Webhooks name their source the same way, and keep its id.
	r := f.do("POST", "/api/v1/webhooks", f.admin, map[string]any{"name": "hook", "source": "prod/aws-prod", "events": []string{"sync.failed"}, "url": "http://127.0.0.1:9/hook"})
	wantStatus(t, r, http.StatusCreated)
	var hook api.Webhook
	r.json(t, &hook)
	if hook.SourceId == nil || *hook.SourceId != src.Id {
		t.Fatalf("webhook source %v, want %s", hook.SourceId, src.Id)
	}
	r = f.do("GET", "/api/v1/webhooks?source=aws-prod", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	var hooks api.WebhookList
	r.json(t, &hooks)
	if len(hooks.Items) != 1 {
		t.Fatalf("webhooks of aws-prod: %d, want 1", len(hooks.Items))
	}

	// A token limited to stage sees one "web" (no conflict with a source
	// it may not see), and nothing of prod.
	staged := f.scopedToken(&roster.Token{Name: "staged", Role: roster.RoleOperator, Inventories: []string{"stage"}})
	wantSource(get(staged, "web"), webStage.Id)
	wantProblem(get(staged, "aws-prod"), http.StatusNotFound, `source "aws-prod" not found`)
	wantProblem(get(staged, "prod%2Faws-prod"), http.StatusNotFound, `inventory "prod" not found`)
	wantProblem(get(staged, src.Id), http.StatusNotFound)
}
