package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// A PHC string as internal/password writes them; the store keeps it as
// text and never looks inside.
const phc = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"

func newUser(t *testing.T, s roster.Store, name string) *roster.User {
	t.Helper()
	u := &roster.User{Name: name, Source: roster.UserLocal, PasswordHash: phc}
	must(t, s.CreateUser(t.Context(), u))
	return u
}

func newTeam(t *testing.T, s roster.Store, name string) *roster.Team {
	t.Helper()
	tm := &roster.Team{Name: name}
	must(t, s.CreateTeam(t.Context(), tm))
	return tm
}

func userNames(us []*roster.User) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Name)
	}
	return out
}

func teamNames(ts []*roster.Team) []string {
	var out []string
	for _, t := range ts {
		out = append(out, t.Name)
	}
	return out
}

func testUsers(t *testing.T, s roster.Store) {
	ctx := t.Context()
	alice := &roster.User{Name: "alice", DisplayName: "Alice Liddell", Email: "alice@example.test", Source: roster.UserLocal, PasswordHash: phc}
	must(t, s.CreateUser(ctx, alice))
	if alice.ID == "" || alice.CreatedAt.IsZero() || !alice.UpdatedAt.Equal(alice.CreatedAt) {
		t.Fatalf("created user lacks id or times: %+v", alice)
	}
	wantCode(t, s.CreateUser(ctx, &roster.User{Name: "alice", Source: roster.UserOIDC}), roster.ECONFLICT)
	for _, ref := range []string{alice.ID, "alice"} {
		got, err := s.User(ctx, ref)
		must(t, err)
		if got.ID != alice.ID || got.DisplayName != "Alice Liddell" || got.Email != "alice@example.test" || got.Source != roster.UserLocal ||
			got.PasswordHash.Reveal() != phc || got.Disabled || got.LastSignInAt != nil || !got.CreatedAt.Equal(alice.CreatedAt) {
			t.Fatalf("User(%q) = %+v", ref, got)
		}
	}
	_, err := s.User(ctx, "nobody")
	wantCode(t, err, roster.ENOTFOUND)

	// An external user has no password: none comes back.
	bob := &roster.User{Name: "bob@example.test", Source: roster.UserOIDC}
	must(t, s.CreateUser(ctx, bob))
	got, err := s.User(ctx, bob.ID)
	must(t, err)
	if got.PasswordHash != "" || got.Source != roster.UserOIDC {
		t.Fatalf("external user = %+v, want no password hash", got)
	}
	list, err := s.Users(ctx)
	must(t, err)
	if !slices.Equal(userNames(list), []string{"alice", "bob@example.test"}) {
		t.Fatalf("Users = %v", userNames(list))
	}

	// Disabling, and the other fields of an update; unset fields stay.
	disabled, name := true, "Alice L."
	upd, err := s.UpdateUser(ctx, alice.ID, roster.UserUpdate{Disabled: &disabled, DisplayName: &name})
	must(t, err)
	if !upd.Disabled || upd.DisplayName != "Alice L." || upd.Email != "alice@example.test" || upd.PasswordHash.Reveal() != phc || upd.UpdatedAt.Before(alice.UpdatedAt) {
		t.Fatalf("UpdateUser = %+v", upd)
	}
	got, err = s.User(ctx, "alice")
	must(t, err)
	if !got.Disabled || got.DisplayName != "Alice L." {
		t.Fatalf("after disabling: %+v", got)
	}
	enabled, none := false, roster.Secret("")
	_, err = s.UpdateUser(ctx, alice.ID, roster.UserUpdate{Disabled: &enabled, PasswordHash: &none})
	must(t, err)
	got, err = s.User(ctx, "alice")
	must(t, err)
	if got.Disabled || got.PasswordHash != "" {
		t.Fatalf("after enabling and removing the password: %+v", got)
	}
	_, err = s.UpdateUser(ctx, "no-such-id", roster.UserUpdate{Disabled: &disabled})
	wantCode(t, err, roster.ENOTFOUND)

	at := time.Now().UTC().Truncate(time.Second)
	must(t, s.RecordSignIn(ctx, alice.ID, at))
	got, err = s.User(ctx, alice.ID)
	must(t, err)
	if got.LastSignInAt == nil || !got.LastSignInAt.Equal(at) {
		t.Fatalf("LastSignInAt = %v, want %v", got.LastSignInAt, at)
	}
	wantCode(t, s.RecordSignIn(ctx, "no-such-id", at), roster.ENOTFOUND)

	must(t, s.DeleteUser(ctx, alice.ID))
	_, err = s.User(ctx, alice.ID)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, s.DeleteUser(ctx, alice.ID), roster.ENOTFOUND)
	// The name is free again.
	newUser(t, s, "alice")
}

// testUserTokens: tokens that exist are service tokens; a token may belong
// to a user, and goes with it.
func testUserTokens(t *testing.T, s roster.Store) {
	ctx := t.Context()
	_, svcHash := roster.NewTokenValue()
	svc := &roster.Token{Name: "ci", Role: roster.RoleRunner}
	must(t, s.CreateToken(ctx, svc, svcHash))
	alice := newUser(t, s, "alice")
	_, userHash := roster.NewTokenValue()
	mine := &roster.Token{Name: "alice-laptop", Role: roster.RoleOperator, UserID: alice.ID}
	must(t, s.CreateToken(ctx, mine, userHash))

	got, err := s.TokenByHash(ctx, svcHash)
	must(t, err)
	if got.UserID != "" {
		t.Fatalf("service token has user %q", got.UserID)
	}
	got, err = s.TokenByHash(ctx, userHash)
	must(t, err)
	if got.UserID != alice.ID {
		t.Fatalf("user token has user %q, want %q", got.UserID, alice.ID)
	}
	_, hash := roster.NewTokenValue()
	wantCode(t, s.CreateToken(ctx, &roster.Token{Name: "orphan", Role: roster.RoleAdmin, UserID: "no-such-user"}, hash), roster.ENOTFOUND)

	must(t, s.DeleteUser(ctx, alice.ID))
	_, err = s.TokenByHash(ctx, userHash)
	wantCode(t, err, roster.ENOTFOUND)
	if _, err := s.TokenByHash(ctx, svcHash); err != nil {
		t.Fatalf("the service token went with the user: %v", err)
	}
}

func testTeams(t *testing.T, s roster.Store) {
	ctx := t.Context()
	ops := &roster.Team{Name: "ops", Description: "Operations"}
	must(t, s.CreateTeam(ctx, ops))
	if ops.ID == "" || ops.CreatedAt.IsZero() {
		t.Fatalf("created team lacks id or time: %+v", ops)
	}
	wantCode(t, s.CreateTeam(ctx, &roster.Team{Name: "ops"}), roster.ECONFLICT)
	for _, ref := range []string{ops.ID, "ops"} {
		got, err := s.Team(ctx, ref)
		must(t, err)
		if got.ID != ops.ID || got.Description != "Operations" || !got.CreatedAt.Equal(ops.CreatedAt) {
			t.Fatalf("Team(%q) = %+v", ref, got)
		}
	}
	_, err := s.Team(ctx, "nope")
	wantCode(t, err, roster.ENOTFOUND)
	dba := newTeam(t, s, "dba")
	list, err := s.Teams(ctx)
	must(t, err)
	if !slices.Equal(teamNames(list), []string{"dba", "ops"}) {
		t.Fatalf("Teams = %v", teamNames(list))
	}
	taken, desc := "ops", "Databases"
	_, err = s.UpdateTeam(ctx, dba.ID, roster.TeamUpdate{Name: &taken})
	wantCode(t, err, roster.ECONFLICT)
	renamed := "databases"
	upd, err := s.UpdateTeam(ctx, dba.ID, roster.TeamUpdate{Name: &renamed, Description: &desc})
	must(t, err)
	if upd.Name != "databases" || upd.Description != "Databases" {
		t.Fatalf("UpdateTeam = %+v", upd)
	}
	_, err = s.UpdateTeam(ctx, "no-such-id", roster.TeamUpdate{Description: &desc})
	wantCode(t, err, roster.ENOTFOUND)

	// Members.
	alice, bob := newUser(t, s, "alice"), newUser(t, s, "bob")
	must(t, s.AddTeamMember(ctx, ops.ID, bob.ID))
	must(t, s.AddTeamMember(ctx, ops.ID, alice.ID))
	must(t, s.AddTeamMember(ctx, ops.ID, alice.ID)) // twice: no change
	must(t, s.AddTeamMember(ctx, dba.ID, alice.ID))
	wantCode(t, s.AddTeamMember(ctx, ops.ID, "no-such-user"), roster.ENOTFOUND)
	wantCode(t, s.AddTeamMember(ctx, "no-such-team", alice.ID), roster.ENOTFOUND)
	members, err := s.TeamMembers(ctx, ops.ID)
	must(t, err)
	if !slices.Equal(userNames(members), []string{"alice", "bob"}) {
		t.Fatalf("TeamMembers(ops) = %v", userNames(members))
	}
	teams, err := s.UserTeams(ctx, alice.ID)
	must(t, err)
	if !slices.Equal(teamNames(teams), []string{"databases", "ops"}) {
		t.Fatalf("UserTeams(alice) = %v", teamNames(teams))
	}
	_, err = s.TeamMembers(ctx, "no-such-team")
	wantCode(t, err, roster.ENOTFOUND)
	_, err = s.UserTeams(ctx, "no-such-user")
	wantCode(t, err, roster.ENOTFOUND)

	must(t, s.RemoveTeamMember(ctx, ops.ID, bob.ID))
	wantCode(t, s.RemoveTeamMember(ctx, ops.ID, bob.ID), roster.ENOTFOUND)
	members, err = s.TeamMembers(ctx, ops.ID)
	must(t, err)
	if !slices.Equal(userNames(members), []string{"alice"}) {
		t.Fatalf("after removing bob: TeamMembers(ops) = %v", userNames(members))
	}

	// Deleting a user ends its memberships; deleting a team ends its own.
	must(t, s.DeleteUser(ctx, alice.ID))
	members, err = s.TeamMembers(ctx, ops.ID)
	must(t, err)
	if len(members) != 0 {
		t.Fatalf("a deleted user is still a member: %v", userNames(members))
	}
	must(t, s.AddTeamMember(ctx, dba.ID, bob.ID))
	must(t, s.DeleteTeam(ctx, dba.ID))
	wantCode(t, s.DeleteTeam(ctx, dba.ID), roster.ENOTFOUND)
	teams, err = s.UserTeams(ctx, bob.ID)
	must(t, err)
	if len(teams) != 0 {
		t.Fatalf("bob is still in a deleted team: %v", teamNames(teams))
	}
}

func testRoleBindings(t *testing.T, s roster.Store) {
	ctx := t.Context()
	alice, ops := newUser(t, s, "alice"), newTeam(t, s, "ops")
	prod, cred := newInventory(t, s, "prod"), newCredential(t, s, "deploy")

	server := &roster.RoleBinding{SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeServer}
	must(t, s.CreateRoleBinding(ctx, server))
	if server.ID == "" || server.CreatedAt.IsZero() {
		t.Fatalf("created binding lacks id or time: %+v", server)
	}
	onInv := &roster.RoleBinding{SubjectKind: roster.SubjectTeam, SubjectID: ops.ID, Role: roster.RoleOperator, ScopeKind: roster.ScopeInventory, ScopeID: prod.ID}
	must(t, s.CreateRoleBinding(ctx, onInv))
	onCred := &roster.RoleBinding{SubjectKind: roster.SubjectTeam, SubjectID: ops.ID, Role: roster.RoleAuditor, ScopeKind: roster.ScopeCredential, ScopeID: cred.ID}
	must(t, s.CreateRoleBinding(ctx, onCred))
	aliceOnInv := &roster.RoleBinding{SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleRunner, ScopeKind: roster.ScopeInventory, ScopeID: prod.ID}
	must(t, s.CreateRoleBinding(ctx, aliceOnInv))

	// The same binding twice is a conflict, the server scope (no scope id)
	// included.
	for _, b := range []*roster.RoleBinding{server, onInv} {
		dup := *b
		wantCode(t, s.CreateRoleBinding(ctx, &dup), roster.ECONFLICT)
	}
	// What a binding names must exist, and a binding must be well formed.
	for name, b := range map[string]roster.RoleBinding{
		"no user":       {SubjectKind: roster.SubjectUser, SubjectID: "no-such-user", Role: roster.RoleAdmin, ScopeKind: roster.ScopeServer},
		"no team":       {SubjectKind: roster.SubjectTeam, SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeServer},
		"no inventory":  {SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeInventory, ScopeID: cred.ID},
		"no credential": {SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeCredential, ScopeID: prod.ID},
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, s.CreateRoleBinding(ctx, &b), roster.ENOTFOUND) })
	}
	for name, b := range map[string]roster.RoleBinding{
		"bad subject kind": {SubjectKind: "group", SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeServer},
		"bad role":         {SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: "root", ScopeKind: roster.ScopeServer},
		"bad scope kind":   {SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: "source", ScopeID: prod.ID},
		"server with id":   {SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeServer, ScopeID: prod.ID},
		"inventory no id":  {SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleAdmin, ScopeKind: roster.ScopeInventory},
	} {
		t.Run(name, func(t *testing.T) { wantCode(t, s.CreateRoleBinding(ctx, &b), roster.EINVALID) })
	}

	ids := func(f roster.RoleBindingFilter) []string {
		t.Helper()
		list, err := s.RoleBindings(ctx, f)
		must(t, err)
		var out []string
		for _, b := range list {
			out = append(out, b.ID)
		}
		return out
	}
	if got, want := ids(roster.RoleBindingFilter{}), []string{server.ID, onInv.ID, onCred.ID, aliceOnInv.ID}; !slices.Equal(got, want) {
		t.Fatalf("RoleBindings() = %v, want %v", got, want)
	}
	if got, want := ids(roster.RoleBindingFilter{SubjectKind: roster.SubjectUser, SubjectID: alice.ID}), []string{server.ID, aliceOnInv.ID}; !slices.Equal(got, want) {
		t.Fatalf("RoleBindings(alice) = %v, want %v", got, want)
	}
	if got, want := ids(roster.RoleBindingFilter{ScopeKind: roster.ScopeInventory, ScopeID: prod.ID}), []string{onInv.ID, aliceOnInv.ID}; !slices.Equal(got, want) {
		t.Fatalf("RoleBindings(prod) = %v, want %v", got, want)
	}
	list, err := s.RoleBindings(ctx, roster.RoleBindingFilter{ScopeKind: roster.ScopeServer})
	must(t, err)
	if len(list) != 1 || *list[0] != *server {
		t.Fatalf("RoleBindings(server) = %+v, want %+v", list, server)
	}

	if got := ids(roster.RoleBindingFilter{ID: onInv.ID}); !slices.Equal(got, []string{onInv.ID}) {
		t.Fatalf("RoleBindings(id %s) = %v", onInv.ID, got)
	}
	if got := ids(roster.RoleBindingFilter{ID: "no-such-binding"}); len(got) != 0 {
		t.Fatalf("RoleBindings(an id of none) = %v", got)
	}
	for _, b := range []roster.RoleBinding{
		{SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleRunner, ScopeKind: roster.ScopeServer},
		{SubjectKind: roster.SubjectUser, SubjectID: alice.ID, Role: roster.RoleRunner, ScopeKind: roster.ScopeCredential, ScopeID: cred.ID},
	} {
		wantCode(t, s.CreateRoleBinding(ctx, &b), roster.EINVALID)
	}

	must(t, s.DeleteRoleBinding(ctx, aliceOnInv.ID))
	wantCode(t, s.DeleteRoleBinding(ctx, aliceOnInv.ID), roster.ENOTFOUND)

	// A binding goes with what it names: its inventory, its credential,
	// its user, its team.
	must(t, s.DeleteInventory(ctx, prod.ID))
	if got := ids(roster.RoleBindingFilter{}); !slices.Equal(got, []string{server.ID, onCred.ID}) {
		t.Fatalf("after deleting the inventory: %v", got)
	}
	must(t, s.DeleteCredential(ctx, cred.ID))
	if got := ids(roster.RoleBindingFilter{}); !slices.Equal(got, []string{server.ID}) {
		t.Fatalf("after deleting the credential: %v", got)
	}
	must(t, s.DeleteUser(ctx, alice.ID))
	if got := ids(roster.RoleBindingFilter{}); len(got) != 0 {
		t.Fatalf("after deleting the user: %v", got)
	}
	bob := newUser(t, s, "bob")
	must(t, s.CreateRoleBinding(ctx, &roster.RoleBinding{SubjectKind: roster.SubjectUser, SubjectID: bob.ID, Role: roster.RoleAuditor, ScopeKind: roster.ScopeServer}))
	must(t, s.CreateRoleBinding(ctx, &roster.RoleBinding{SubjectKind: roster.SubjectTeam, SubjectID: ops.ID, Role: roster.RoleAuditor, ScopeKind: roster.ScopeServer}))
	must(t, s.DeleteTeam(ctx, ops.ID))
	list, err = s.RoleBindings(ctx, roster.RoleBindingFilter{})
	must(t, err)
	if len(list) != 1 || list[0].SubjectID != bob.ID {
		t.Fatalf("after deleting the team: %+v", list)
	}
}
