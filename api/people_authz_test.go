package api_test

import (
	"net/http"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// personToken makes a local user named name and a token of its own (role
// admin: the user's bindings decide), through the API.
func (f *fixture) personToken(name string) string {
	f.t.Helper()
	wantStatus(f.t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name}), http.StatusCreated)
	r := f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": name + "-cli", "role": "admin", "user": name})
	wantStatus(f.t, r, http.StatusCreated)
	var created api.TokenCreated
	r.json(f.t, &created)
	return created.Value
}

func (f *fixture) bind(body map[string]any) string {
	f.t.Helper()
	r := f.do("POST", "/api/v1/role-bindings", f.admin, body)
	wantStatus(f.t, r, http.StatusCreated)
	var b api.RoleBinding
	r.json(f.t, &b)
	return b.Id
}

// A user's rights are the union of its bindings, per inventory: auditor
// everywhere through a team, operator on one inventory of its own. What
// it sees but may not change is refused (403), not hidden.
func TestUserRolesPerInventory(t *testing.T) {
	f := newFixture(t)
	f.inventory("mine")
	f.inventory("theirs")
	alice := f.personToken("alice")

	// Bound to nothing, alice may do nothing, and sees nothing.
	wantStatus(t, f.do("PATCH", "/api/v1/inventories/mine", alice, map[string]any{"description": "x"}), http.StatusNotFound)
	wantStatus(t, f.do("GET", "/api/v1/inventories", alice, nil), http.StatusForbidden)

	wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "ops"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/teams/ops/members", f.admin, map[string]any{"user": "alice"}), http.StatusOK)
	f.bind(map[string]any{"team": "ops", "role": "auditor", "scope": "server"})
	f.bind(map[string]any{"user": "alice", "role": "operator", "scope": "inventory", "target": "mine"})

	wantStatus(t, f.do("PATCH", "/api/v1/inventories/mine", alice, map[string]any{"description": "mine"}), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/inventories/theirs", alice, map[string]any{"description": "x"}), http.StatusForbidden)
	wantStatus(t, f.do("GET", "/api/v1/inventories/theirs", alice, nil), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/inventories/absent", alice, map[string]any{"description": "x"}), http.StatusNotFound)
	wantStatus(t, f.do("GET", "/api/v1/audit", alice, nil), http.StatusOK)
	wantStatus(t, f.do("POST", "/api/v1/inventories", alice, map[string]any{"name": "new"}), http.StatusCreated)
	var invs api.InventoryList
	f.do("GET", "/api/v1/inventories", alice, nil).json(t, &invs)
	if len(invs.Items) != 3 {
		t.Errorf("alice lists %d inventories, want 3", len(invs.Items))
	}

	// The audit record of her change names her, the binding's origin and
	// the method.
	var events api.AuditEventList
	f.do("GET", "/api/v1/audit?action=inventory.update", f.admin, nil).json(t, &events)
	found := false
	for _, e := range events.Items {
		if e.Actor != "alice/alice-cli" {
			continue
		}
		found = true
		d := *e.Details
		if d["actor_user"] != "alice" || d["actor_via"] != "user" || d["actor_method"] != "token" || d["actor_user_id"] == "" {
			t.Errorf("the audit record names %+v", d)
		}
	}
	if !found {
		t.Errorf("no audit record of alice's change: %+v", events.Items)
	}

	// Leaving the team takes its rights away at once.
	wantStatus(t, f.do("DELETE", "/api/v1/teams/ops/members/alice", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/inventories/theirs", alice, nil), http.StatusNotFound)
	wantStatus(t, f.do("GET", "/api/v1/audit", alice, nil), http.StatusForbidden)
}

// A user's token stops working the moment its user is disabled, and is
// gone with its user; a service token is untouched by either.
func TestUserTokenFollowsItsUser(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	bob := f.personToken("bob")
	service := f.token("ci", roster.RoleAuditor)
	f.bind(map[string]any{"user": "bob", "role": "auditor", "scope": "server"})
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod", bob, nil), http.StatusOK)

	wantStatus(t, f.do("PATCH", "/api/v1/users/bob", f.admin, map[string]any{"disabled": true}), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod", bob, nil), http.StatusUnauthorized)
	wantStatus(t, f.do("PATCH", "/api/v1/users/bob", f.admin, map[string]any{"disabled": false}), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod", bob, nil), http.StatusOK)

	wantStatus(t, f.do("DELETE", "/api/v1/users/bob", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod", bob, nil), http.StatusUnauthorized)
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod", service, nil), http.StatusOK)

	// A token for a user that does not exist, or is disabled, is refused
	// naming the field.
	wantField(t, f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": "x", "role": "runner", "user": "nobody"}), "user")
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "carol", "disabled": true}), http.StatusCreated)
	wantField(t, f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": "x", "role": "runner", "user": "carol"}), "user")
}

// A credential binding gives its role over that credential only.
func TestUserCredentialBinding(t *testing.T) {
	f := newFixture(t)
	f.credentials("a-ca", "a-pw")
	f.credentials("b-ca", "b-pw")
	dana := f.personToken("dana")
	f.bind(map[string]any{"user": "dana", "role": "operator", "scope": "credential", "target": "a-pw"})

	var creds api.CredentialList
	f.do("GET", "/api/v1/credentials", dana, nil).json(t, &creds)
	if len(creds.Items) != 1 || creds.Items[0].Name != "a-pw" {
		t.Errorf("dana lists %+v, want a-pw only", creds.Items)
	}
	wantStatus(t, f.do("GET", "/api/v1/credentials/a-pw", dana, nil), http.StatusOK)
	wantStatus(t, f.do("PATCH", "/api/v1/credentials/a-pw", dana, map[string]any{"description": "x"}), http.StatusOK)
	wantStatus(t, f.do("GET", "/api/v1/credentials/b-pw", dana, nil), http.StatusNotFound)
	wantStatus(t, f.do("PATCH", "/api/v1/credentials/b-pw", dana, map[string]any{"description": "x"}), http.StatusNotFound)
	wantStatus(t, f.do("GET", "/api/v1/inventories", dana, nil), http.StatusOK)
	wantStatus(t, f.do("POST", "/api/v1/credentials", dana, map[string]any{"name": "c", "type": "token", "fields": map[string]string{"token": "x"}}), http.StatusForbidden)
	wantStatus(t, f.do("DELETE", "/api/v1/credentials/a-pw", dana, nil), http.StatusNoContent)
}
