package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

func TestRoleBindings(t *testing.T) {
	f := newFixture(t)
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "alice", "source": "oidc"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "ops"}), http.StatusCreated)
	f.inventory("prod")
	f.credentials("prod-ca", "prod-pw")

	create := func(body map[string]any) api.RoleBinding {
		t.Helper()
		r := f.do("POST", "/api/v1/role-bindings", f.admin, body)
		wantStatus(t, r, http.StatusCreated)
		var b api.RoleBinding
		r.json(t, &b)
		return b
	}
	server := create(map[string]any{"user": "alice", "role": "admin", "scope": "server"})
	if server.SubjectKind != "user" || server.SubjectName != "alice" || server.Role != "admin" || server.Scope != "server" || server.TargetId != nil {
		t.Fatalf("server binding = %+v", server)
	}
	onInv := create(map[string]any{"team": "ops", "role": "runner", "scope": "inventory", "target": "prod"})
	if onInv.SubjectKind != "team" || onInv.SubjectName != "ops" || onInv.TargetName == nil || *onInv.TargetName != "prod" {
		t.Fatalf("inventory binding = %+v", onInv)
	}
	onCred := create(map[string]any{"team": "ops", "role": "auditor", "scope": "credential", "target": "prod-pw"})
	wantStatus(t, f.do("POST", "/api/v1/role-bindings", f.admin, map[string]any{"user": "alice", "role": "admin", "scope": "server"}), http.StatusConflict)

	// Bad bodies are refused naming the field, and make nothing.
	for field, body := range map[string]map[string]any{
		"user":   {"role": "admin", "scope": "server"},
		"team":   {"user": "alice", "team": "ops", "role": "admin", "scope": "server"},
		"target": {"user": "alice", "role": "operator", "scope": "inventory"},
		"role":   {"user": "alice", "role": "root", "scope": "server"},
		"scope":  {"user": "alice", "role": "admin", "scope": "source"},
	} {
		t.Run(field, func(t *testing.T) { wantField(t, f.do("POST", "/api/v1/role-bindings", f.admin, body), field) })
	}
	for name, c := range map[string]struct {
		field string
		body  map[string]any
	}{
		"unknown user":        {"user", map[string]any{"user": "bob", "role": "admin", "scope": "server"}},
		"unknown team":        {"team", map[string]any{"team": "dba", "role": "admin", "scope": "server"}},
		"unknown inventory":   {"target", map[string]any{"user": "alice", "role": "operator", "scope": "inventory", "target": "staging"}},
		"a credential as one": {"target", map[string]any{"user": "alice", "role": "operator", "scope": "inventory", "target": "prod-pw"}},
		"target on server":    {"target", map[string]any{"user": "alice", "role": "operator", "scope": "server", "target": "prod"}},
		"runner on server":    {"role", map[string]any{"user": "alice", "role": "runner", "scope": "server"}},
		"runner on a cred":    {"role", map[string]any{"team": "ops", "role": "runner", "scope": "credential", "target": "prod-pw"}},
	} {
		t.Run(name, func(t *testing.T) {
			r := f.do("POST", "/api/v1/role-bindings", f.admin, c.body)
			wantField(t, r, c.field)
			if c.field == "role" && !strings.Contains(string(r.body), "runner") {
				t.Errorf("the problem does not say why: %s", r.body)
			}
		})
	}

	list := func(query string) []string {
		t.Helper()
		r := f.do("GET", "/api/v1/role-bindings"+query, f.admin, nil)
		wantStatus(t, r, http.StatusOK)
		var l api.RoleBindingList
		r.json(t, &l)
		var ids []string
		for _, b := range l.Items {
			ids = append(ids, b.Id)
		}
		return ids
	}
	eq := func(got []string, want ...string) bool {
		if len(got) != len(want) {
			return false
		}
		for i := range got {
			if got[i] != want[i] {
				return false
			}
		}
		return true
	}
	if got := list(""); len(got) != 3 {
		t.Fatalf("all bindings = %v", got)
	}
	if got := list("?user=alice"); !eq(got, server.Id) {
		t.Errorf("alice's = %v", got)
	}
	if got := list("?team=ops"); len(got) != 2 {
		t.Errorf("ops's = %v", got)
	}
	if got := list("?scope=inventory&target=prod"); !eq(got, onInv.Id) {
		t.Errorf("over prod = %v", got)
	}
	if got := list("?team=ops&scope=credential"); !eq(got, onCred.Id) {
		t.Errorf("ops's over credentials = %v", got)
	}
	wantField(t, f.do("GET", "/api/v1/role-bindings?target=prod", f.admin, nil), "target")
	wantField(t, f.do("GET", "/api/v1/role-bindings?user=alice&team=ops", f.admin, nil), "team")
	wantStatus(t, f.do("GET", "/api/v1/role-bindings?user=bob", f.admin, nil), http.StatusNotFound)

	// An auditor reads them and makes none.
	auditor := f.token("aud", roster.RoleAuditor)
	wantStatus(t, f.do("GET", "/api/v1/role-bindings", auditor, nil), http.StatusOK)
	wantStatus(t, f.do("POST", "/api/v1/role-bindings", auditor, map[string]any{"user": "alice", "role": "auditor", "scope": "server"}), http.StatusForbidden)

	wantStatus(t, f.do("DELETE", "/api/v1/role-bindings/"+onCred.Id, f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("DELETE", "/api/v1/role-bindings/"+onCred.Id, f.admin, nil), http.StatusNotFound)
	// Deleting the inventory deletes the binding over it.
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/prod", f.admin, nil), http.StatusNoContent)
	if got := list(""); !eq(got, server.Id) {
		t.Errorf("after deleting prod: %v", got)
	}

	// The audit log names who got what, and keeps deletions.
	events, _, err := f.store.AuditEvents(t.Context(), roster.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var labels []string
	for _, e := range events {
		if e.TargetType == "role_binding" {
			labels = append(labels, e.Action+" "+e.TargetName)
		}
	}
	for _, want := range []string{
		"role_binding.create user alice: admin on the server",
		"role_binding.create team ops: runner on inventory prod",
		"role_binding.delete team ops: auditor on credential prod-pw",
	} {
		found := false
		for _, l := range labels {
			found = found || l == want
		}
		if !found {
			t.Errorf("no audit event %q in %v", want, labels)
		}
	}
	if len(labels) != 4 {
		t.Errorf("%d audit events of role bindings, want 4: %v", len(labels), labels)
	}
}
