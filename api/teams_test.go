package api_test

import (
	"net/http"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

func TestTeams(t *testing.T) {
	f := newFixture(t)
	for _, name := range []string{"alice", "bob"} {
		wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "source": "oidc"}), http.StatusCreated)
	}

	r := f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "ops", "description": "Operations"})
	wantStatus(t, r, http.StatusCreated)
	var ops api.Team
	r.json(t, &ops)
	if ops.Name != "ops" || ops.Description != "Operations" || ops.Id == "" {
		t.Fatalf("created team = %+v", ops)
	}
	wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "ops"}), http.StatusConflict)
	wantField(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "ops team"}), "name")
	wantField(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "0190b7e2-7c1a-7d2b-9c4e-1a2b3c4d5e6f"}), "name")
	wantField(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "dba", "members": []string{"alice"}}), "members")
	wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "dba"}), http.StatusCreated)

	var list api.TeamList
	f.do("GET", "/api/v1/teams", f.admin, nil).json(t, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "dba" || list.Items[1].Name != "ops" {
		t.Fatalf("ListTeams = %+v", list.Items)
	}

	// Members, by name or id; adding twice changes nothing.
	members := func(team string) []string {
		t.Helper()
		var l api.UserList
		r := f.do("GET", "/api/v1/teams/"+team+"/members", f.admin, nil)
		wantStatus(t, r, http.StatusOK)
		r.json(t, &l)
		var names []string
		for _, u := range l.Items {
			names = append(names, u.Name)
		}
		return names
	}
	wantStatus(t, f.do("POST", "/api/v1/teams/ops/members", f.admin, map[string]any{"user": "bob"}), http.StatusOK)
	var alice api.User
	f.do("GET", "/api/v1/users/alice", f.admin, nil).json(t, &alice)
	r = f.do("POST", "/api/v1/teams/"+ops.Id+"/members", f.admin, map[string]any{"user": alice.Id})
	wantStatus(t, r, http.StatusOK)
	wantStatus(t, f.do("POST", "/api/v1/teams/ops/members", f.admin, map[string]any{"user": "alice"}), http.StatusOK)
	if got := members("ops"); len(got) != 2 || got[0] != "alice" || got[1] != "bob" {
		t.Fatalf("members of ops = %v", got)
	}
	wantField(t, f.do("POST", "/api/v1/teams/ops/members", f.admin, map[string]any{"user": "carol"}), "user")
	wantField(t, f.do("POST", "/api/v1/teams/ops/members", f.admin, map[string]any{}), "user")
	wantStatus(t, f.do("POST", "/api/v1/teams/nope/members", f.admin, map[string]any{"user": "alice"}), http.StatusNotFound)
	wantStatus(t, f.do("GET", "/api/v1/teams/nope/members", f.admin, nil), http.StatusNotFound)

	wantStatus(t, f.do("DELETE", "/api/v1/teams/ops/members/bob", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("DELETE", "/api/v1/teams/ops/members/bob", f.admin, nil), http.StatusNotFound)
	wantStatus(t, f.do("DELETE", "/api/v1/teams/ops/members/carol", f.admin, nil), http.StatusNotFound)
	if got := members("ops"); len(got) != 1 || got[0] != "alice" {
		t.Fatalf("members of ops after removing bob = %v", got)
	}

	// Rename; the old name is gone, the id stays.
	r = f.do("PATCH", "/api/v1/teams/ops", f.admin, map[string]any{"name": "operations"})
	wantStatus(t, r, http.StatusOK)
	var renamed api.Team
	r.json(t, &renamed)
	if renamed.Id != ops.Id || renamed.Name != "operations" || renamed.Description != "Operations" {
		t.Fatalf("renamed team = %+v", renamed)
	}
	wantStatus(t, f.do("GET", "/api/v1/teams/ops", f.admin, nil), http.StatusNotFound)
	wantStatus(t, f.do("PATCH", "/api/v1/teams/operations", f.admin, map[string]any{"name": "dba"}), http.StatusConflict)
	wantField(t, f.do("PATCH", "/api/v1/teams/operations", f.admin, map[string]any{"name": "-x"}), "name")

	// An auditor reads teams and their members, and changes nothing.
	auditor := f.scopedToken(&roster.Token{Name: "aud", Role: roster.RoleAuditor})
	wantStatus(t, f.do("GET", "/api/v1/teams/operations", auditor, nil), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/teams/operations/members", auditor, nil), http.StatusOK)
	wantStatus(t, f.do("POST", "/api/v1/teams/operations/members", auditor, map[string]any{"user": "bob"}), http.StatusForbidden)

	// A user deleted leaves its teams; a team deleted leaves its members.
	wantStatus(t, f.do("POST", "/api/v1/teams/dba/members", f.admin, map[string]any{"user": "bob"}), http.StatusOK)
	wantStatus(t, f.do("DELETE", "/api/v1/users/alice", f.admin, nil), http.StatusNoContent)
	if got := members("operations"); len(got) != 0 {
		t.Fatalf("members of operations after deleting alice = %v", got)
	}
	wantStatus(t, f.do("DELETE", "/api/v1/teams/dba", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/users/bob", f.admin, nil), http.StatusOK)
	wantStatus(t, f.do("DELETE", "/api/v1/teams/dba", f.admin, nil), http.StatusNotFound)

	// Every change is in the audit log.
	events, _, err := f.store.AuditEvents(t.Context(), roster.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int64{}
	for _, e := range events {
		if e.TargetType == "team" {
			count[e.Action] += e.Count
		}
	}
	want := map[string]int64{"team.create": 2, "team.member_add": 4, "team.member_remove": 1, "team.update": 1, "team.delete": 1}
	for action, n := range want {
		if count[action] != n {
			t.Errorf("%d audit events %s, want %d (all: %v)", count[action], action, n, count)
		}
	}
}
