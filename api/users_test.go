package api_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/password"
)

func TestUsers(t *testing.T) {
	f := newFixture(t)
	const pw = "correct horse battery staple"
	f.secrets = append(f.secrets, pw)

	r := f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "alice", "display_name": "Alice", "email": "alice@example.test", "password": pw})
	wantStatus(t, r, http.StatusCreated)
	var alice api.User
	r.json(t, &alice)
	if alice.Name != "alice" || alice.Source != "local" || !alice.HasPassword || alice.Disabled || alice.Id == "" {
		t.Fatalf("created user = %+v", alice)
	}
	if s := string(r.body); strings.Contains(s, pw) || strings.Contains(s, "argon2") {
		t.Fatalf("the answer shows the password or its hash: %s", s)
	}
	// Stored as an Argon2id hash that verifies.
	u, err := f.store.User(t.Context(), "alice")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := password.Verify(pw, u.PasswordHash.Reveal()); !ok || err != nil {
		t.Fatalf("stored hash does not verify the password: %v, %v", ok, err)
	}

	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "alice", "source": "oidc"}), http.StatusConflict)
	for name, body := range map[string]map[string]any{
		"name":           {"name": "Alice"},
		"password":       {"name": "bob", "password": "short"},
		"external":       {"name": "carol", "source": "ldap", "password": pw},
		"unknown source": {"name": "dave", "source": "kerberos"},
	} {
		r := f.do("POST", "/api/v1/users", f.admin, body)
		wantStatus(t, r, http.StatusBadRequest)
		if strings.Contains(string(r.body), pw) {
			t.Errorf("%s: the problem shows the password: %s", name, r.body)
		}
	}
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "bob@example.test", "source": "oidc"}), http.StatusCreated)

	var list api.UserList
	r = f.do("GET", "/api/v1/users", f.admin, nil)
	wantStatus(t, r, http.StatusOK)
	r.json(t, &list)
	if len(list.Items) != 2 || list.Items[0].Name != "alice" || list.Items[1].Name != "bob@example.test" || list.Items[1].HasPassword {
		t.Fatalf("ListUsers = %+v", list.Items)
	}

	// Disable, and change the password.
	const pw2 = "another long passphrase"
	f.secrets = append(f.secrets, pw2)
	r = f.do("PATCH", "/api/v1/users/alice", f.admin, map[string]any{"disabled": true, "password": pw2})
	wantStatus(t, r, http.StatusOK)
	var upd api.User
	r.json(t, &upd)
	if !upd.Disabled || !upd.HasPassword || upd.DisplayName != "Alice" {
		t.Fatalf("updated user = %+v", upd)
	}
	u, err = f.store.User(t.Context(), alice.Id)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := password.Verify(pw2, u.PasswordHash.Reveal()); !ok || !u.Disabled {
		t.Fatalf("after the update: disabled %v, new password verifies %v", u.Disabled, ok)
	}
	wantStatus(t, f.do("PATCH", "/api/v1/users/bob@example.test", f.admin, map[string]any{"password": pw2}), http.StatusBadRequest)

	// The audit log says a password was set, never what it is.
	events, _, err := f.store.AuditEvents(t.Context(), roster.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	var seen int
	for _, e := range events {
		if e.TargetType == "user" {
			seen++
			for k, v := range e.Details {
				if strings.Contains(v, pw) || strings.Contains(v, pw2) || strings.Contains(v, "argon2") {
					t.Errorf("audit event %s detail %s = %q", e.Action, k, v)
				}
			}
		}
	}
	if seen != 3 {
		t.Errorf("%d audit events of users, want 3 (two creations, one update)", seen)
	}

	wantStatus(t, f.do("DELETE", "/api/v1/users/alice", f.admin, nil), http.StatusNoContent)
	wantStatus(t, f.do("GET", "/api/v1/users/alice", f.admin, nil), http.StatusNotFound)
	wantStatus(t, f.do("DELETE", "/api/v1/users/alice", f.admin, nil), http.StatusNotFound)
}
