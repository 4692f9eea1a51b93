package api_test

import (
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/ldapauth"
	"github.com/rosterhq/roster/internal/testenv"
)

// TestLDAPSignIn signs people in against a real slapd: users made on
// first sign-in and linked to their entry, teams from nested groups with
// the config's bindings, the same 401 for a wrong password and an
// unknown name, and a directory that is down lets nobody in while local
// users still sign in.
func TestLDAPSignIn(t *testing.T) {
	srv := testenv.LDAP(t)
	const alicePW, bobPW = "alice's directory password", "bob's directory password"
	aliceDN := srv.AddUser(t, "alice", alicePW)
	bobDN := srv.AddUser(t, "bob", bobPW)
	dba := srv.AddGroup(t, "dba", aliceDN, srv.AddUser(t, "carol", "carol's directory password"))
	srv.AddGroup(t, "ops", dba, bobDN) // dba ⊂ ops
	srv.AddUser(t, "root", "a root's directory password")

	dir, err := ldapauth.New(ldapauth.Config{Name: "corp", URL: srv.URL, StartTLS: true, CAFile: srv.CAFile,
		BindDN: srv.ServiceDN, BindPassword: roster.Secret(srv.ServicePassword), UserBase: srv.PeopleDN, GroupBase: srv.GroupsDN})
	if err != nil {
		t.Fatal(err)
	}
	f := newFixtureWith(t, func(_ string, c *api.Config) {
		c.Directories = []api.Directory{{Name: "corp", Auth: dir, Teams: []api.TeamMapping{
			{Group: "ops", Team: "operations", Bindings: []api.TeamBinding{{Role: roster.RoleAuditor, Scope: roster.ScopeServer}}},
			{Group: "dba", Team: "dba", Bindings: []api.TeamBinding{{Role: roster.RoleOperator, Scope: roster.ScopeInventory, Target: "db"}}},
		}}}
	})
	f.secrets = append(f.secrets, alicePW, bobPW, srv.ServicePassword)
	wantStatus(t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "db"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": "web"}), http.StatusCreated)

	var providers api.SignInProviderList
	f.do("GET", "/api/v1/auth/providers", "", nil).json(t, &providers)
	if len(providers.Items) != 2 || providers.Items[0].Name != "local" || providers.Items[1].Name != "corp" || providers.Items[1].Kind != api.SignInProviderKindLdap {
		t.Fatalf("providers: %+v", providers)
	}

	login := func(name, pw, provider string) response {
		return f.do("POST", "/api/v1/auth/login", "", map[string]any{"name": name, "password": pw, "provider": provider})
	}
	r := login("alice", "not alice's password at all", "corp")
	wantStatus(t, r, http.StatusUnauthorized)
	unknown := login("nobody", "not anyone's password", "corp")
	wantStatus(t, unknown, http.StatusUnauthorized)
	if problemDetail(t, r) != problemDetail(t, unknown) {
		t.Errorf("a wrong password and an unknown name answer differently: %q, %q", problemDetail(t, r), problemDetail(t, unknown))
	}
	r = login("alice", alicePW, "nope")
	wantStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "provider") {
		t.Errorf("an unknown provider: %s", r.body)
	}

	// First sign-in: the user is made, linked, and in both teams.
	_, ss := f.loginWith(map[string]any{"name": "ALICE", "password": alicePW, "provider": "corp"})
	var alice api.User
	f.do("GET", "/api/v1/users/alice", f.admin, nil).json(t, &alice)
	if alice.Source != "ldap" || alice.HasPassword || alice.Email != "alice@example.test" {
		t.Fatalf("the user made on sign-in: %+v", alice)
	}
	if got := f.teamsOf("alice"); !slices.Equal(got, []string{"dba", "operations"}) {
		t.Fatalf("alice's teams: %v", got)
	}
	// The mapped bindings apply: an auditor everywhere, an operator on db.
	wantStatus(t, f.as(ss, "GET", "/api/v1/inventories/web", nil, false, nil), http.StatusOK)
	wantStatus(t, f.as(ss, "PATCH", "/api/v1/inventories/db", map[string]any{"description": "by alice"}, true, nil), http.StatusOK)
	wantStatus(t, f.as(ss, "PATCH", "/api/v1/inventories/web", map[string]any{"description": "by alice"}, true, nil), http.StatusForbidden)
	// The audit log names the person and how it signed in.
	var audit struct {
		Items []struct {
			Action  string            `json:"action"`
			Details map[string]string `json:"details"`
		} `json:"items"`
	}
	f.do("GET", "/api/v1/audit?action=inventory.update", f.admin, nil).json(t, &audit)
	if len(audit.Items) == 0 || audit.Items[0].Details["actor_user"] != "alice" || audit.Items[0].Details["actor_method"] != "ldap:corp" ||
		!strings.Contains(audit.Items[0].Details["actor_via"], "team:dba") {
		t.Fatalf("audit of alice's change: %+v", audit.Items)
	}

	// Leaving a group leaves its team at the next sign-in; a team the
	// directory does not map keeps its members.
	wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": "manual"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/teams/manual/members", f.admin, map[string]any{"user": "alice"}), http.StatusOK)
	srv.RemoveMember(t, dba, aliceDN)
	f.loginWith(map[string]any{"name": "alice", "password": alicePW, "provider": "corp"})
	if got := f.teamsOf("alice"); !slices.Equal(got, []string{"manual"}) {
		t.Fatalf("alice's teams after leaving dba: %v", got)
	}

	// A roster login token through the directory.
	var tok api.TokenCreated
	r = f.do("POST", "/api/v1/auth/token", "", map[string]any{"name": "bob", "password": bobPW, "provider": "corp"})
	wantStatus(t, r, http.StatusCreated)
	r.json(t, &tok)
	f.secrets = append(f.secrets, tok.Value)
	wantStatus(t, f.do("GET", "/api/v1/inventories/db", tok.Value, nil), http.StatusOK)
	wantStatus(t, f.do("DELETE", "/api/v1/inventories/db", tok.Value, nil), http.StatusForbidden)

	// A user made ahead for this directory is linked at its first
	// sign-in; one made for no provider (or another) is not.
	srv.AddUser(t, "dave", "dave's directory password")
	f.secrets = append(f.secrets, "carol's directory password", "dave's directory password")
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "carol", "source": "ldap", "provider": "corp", "display_name": "Carol Ahead"}), http.StatusCreated)
	wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "dave", "source": "ldap"}), http.StatusCreated)
	r = f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": "erin", "source": "ldap", "provider": "elsewhere"})
	wantStatus(t, r, http.StatusBadRequest)
	if !strings.Contains(string(r.body), "provider") {
		t.Fatalf("a user made for an unknown directory: %s", r.body)
	}
	f.loginWith(map[string]any{"name": "carol", "password": "carol's directory password", "provider": "corp"})
	var carol api.User
	f.do("GET", "/api/v1/users/carol", f.admin, nil).json(t, &carol)
	if carol.DisplayName != "Carol Ahead" || carol.Provider == nil || *carol.Provider != "corp" || carol.LastSignInAt == nil {
		t.Fatalf("carol, made ahead: %+v", carol)
	}
	wantStatus(t, login("dave", "dave's directory password", "corp"), http.StatusConflict)

	// A local user's name is never taken by the directory; a disabled
	// user is refused even with the right directory password.
	f.localUser("root", "the local root's password")
	r = login("root", "a root's directory password", "corp")
	wantStatus(t, r, http.StatusConflict)
	disabled := true
	wantStatus(t, f.do("PATCH", "/api/v1/users/bob", f.admin, map[string]any{"disabled": disabled}), http.StatusOK)
	wantStatus(t, login("bob", bobPW, "corp"), http.StatusUnauthorized)
	wantStatus(t, f.do("GET", "/api/v1/me", tok.Value, nil), http.StatusUnauthorized)

	// The directory down: a clear 503, nobody in, local users still sign in.
	srv.Stop()
	r = login("alice", alicePW, "corp")
	wantStatus(t, r, http.StatusServiceUnavailable)
	if d := problemDetail(t, r); !strings.Contains(d, `directory "corp"`) || !strings.Contains(d, "local user") {
		t.Fatalf("the directory down: %s", d)
	}
	f.loginWith(map[string]any{"name": "root", "password": "the local root's password"})
}

// problemDetail is the detail of a problem answer.
func problemDetail(t *testing.T, r response) string {
	t.Helper()
	p := r.problem(t)
	if p.Detail == nil {
		return ""
	}
	return *p.Detail
}

// loginWith signs in with body, which must succeed.
func (f *fixture) loginWith(body map[string]any) (response, session) {
	f.t.Helper()
	r, ss := f.loginAs(body)
	wantStatus(f.t, r, http.StatusOK)
	return r, ss
}

// teamsOf lists the names of a user's teams.
func (f *fixture) teamsOf(user string) []string {
	f.t.Helper()
	var teams api.TeamList
	f.do("GET", "/api/v1/teams", f.admin, nil).json(f.t, &teams)
	var out []string
	for _, tm := range teams.Items {
		var members api.UserList
		f.do("GET", "/api/v1/teams/"+tm.Id+"/members", f.admin, nil).json(f.t, &members)
		if slices.ContainsFunc(members.Items, func(u api.User) bool { return u.Name == user }) {
			out = append(out, tm.Name)
		}
	}
	slices.Sort(out)
	return out
}
