package storetest

import (
	"slices"
	"testing"

	"github.com/rosterhq/roster"
)

func newCredential(t *testing.T, s roster.Store, name string) *roster.Credential {
	t.Helper()
	c := &roster.Credential{Name: name, Type: roster.CredentialPassword, Fields: map[string]string{"username": "deploy"},
		SecretsSet: []string{"password"}, Path: "roster/credentials/" + name, Version: 1}
	must(t, s.CreateCredential(t.Context(), c))
	return c
}

func testCredentials(t *testing.T, s roster.Store) {
	ctx := t.Context()
	c := newCredential(t, s, "deploy")
	wantCode(t, s.CreateCredential(ctx, &roster.Credential{Name: "deploy", Type: roster.CredentialToken}), roster.ECONFLICT)
	for _, ref := range []string{c.ID, "deploy"} {
		got, err := s.Credential(ctx, ref)
		must(t, err)
		if got.Fields["username"] != "deploy" || !slices.Equal(got.SecretsSet, []string{"password"}) || got.Version != 1 || got.Path != c.Path {
			t.Fatalf("Credential(%q) = %+v", ref, got)
		}
	}
	v := 2
	upd, err := s.UpdateCredential(ctx, c.ID, roster.CredentialUpdate{Fields: map[string]string{"username": "root"}, Version: &v})
	must(t, err)
	if upd.Fields["username"] != "root" || upd.Version != 2 || !slices.Equal(upd.SecretsSet, []string{"password"}) {
		t.Fatalf("updated = %+v", upd)
	}
	newCredential(t, s, "other")
	list, err := s.Credentials(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "deploy" {
		t.Fatalf("Credentials = %d", len(list))
	}
	// A source syncing with the credential keeps it from being deleted.
	src := &roster.Source{InventoryID: newInventory(t, s, "prod").ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove, CredentialID: c.ID}
	must(t, s.CreateSource(ctx, src))
	got, err := s.Source(ctx, src.ID)
	must(t, err)
	if got.CredentialID != c.ID {
		t.Fatalf("source credential = %q", got.CredentialID)
	}
	wantCode(t, s.DeleteCredential(ctx, c.ID), roster.ECONFLICT)
	missing := "missing"
	_, err = s.UpdateSource(ctx, src.ID, roster.SourceUpdate{CredentialID: &missing})
	wantCode(t, err, roster.ENOTFOUND)
	none := ""
	_, err = s.UpdateSource(ctx, src.ID, roster.SourceUpdate{CredentialID: &none})
	must(t, err)
	must(t, s.DeleteCredential(ctx, c.ID))
	_, err = s.Credential(ctx, c.ID)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, s.DeleteCredential(ctx, c.ID), roster.ENOTFOUND)
}

func testGrants(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	cred := newCredential(t, s, "deploy")
	_, hash := roster.NewTokenValue()
	tok := &roster.Token{Name: "runner", Role: roster.RoleRunner}
	must(t, s.CreateToken(ctx, tok, hash))
	g := &roster.Grant{TokenID: tok.ID, CredentialID: cred.ID, InventoryID: inv.ID}
	must(t, s.CreateGrant(ctx, g))
	wantCode(t, s.CreateGrant(ctx, &roster.Grant{TokenID: tok.ID, CredentialID: cred.ID, InventoryID: inv.ID}), roster.ECONFLICT)
	wantCode(t, s.CreateGrant(ctx, &roster.Grant{TokenID: "missing", CredentialID: cred.ID, InventoryID: inv.ID}), roster.ENOTFOUND)
	got, err := s.Grants(ctx, roster.GrantFilter{TokenID: tok.ID, CredentialID: cred.ID, InventoryID: inv.ID})
	must(t, err)
	if len(got) != 1 || got[0].ID != g.ID {
		t.Fatalf("Grants = %+v", got)
	}
	got, err = s.Grants(ctx, roster.GrantFilter{InventoryID: "elsewhere"})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("grants of another inventory = %+v", got)
	}
	// Revoking the token removes its grants.
	must(t, s.DeleteToken(ctx, tok.ID))
	got, err = s.Grants(ctx, roster.GrantFilter{CredentialID: cred.ID})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("a revoked token keeps grants: %+v", got)
	}
	wantCode(t, s.DeleteGrant(ctx, g.ID), roster.ENOTFOUND)
}

func testAudit(t *testing.T, s roster.Store) {
	ctx := t.Context()
	for i, action := range []string{"credential.create", "credential.issue", "credential.issue", "credential.ssh_sign", "source.update"} {
		e := &roster.AuditEvent{Actor: "runner", ActorID: "t1", Action: action, Outcome: roster.AuditAllowed, TargetType: "credential", TargetID: "c1",
			Details: map[string]string{"n": string(rune('0' + i))}}
		if i == 2 {
			e.Outcome, e.Reason = roster.AuditDenied, "no grant"
		}
		must(t, s.AppendAudit(ctx, e))
		if e.ID == "" || e.Time.IsZero() {
			t.Fatalf("appended event lacks id or time: %+v", e)
		}
	}
	page, next, err := s.AuditEvents(ctx, roster.AuditFilter{Limit: 3})
	must(t, err)
	if len(page) != 3 || next == "" || page[0].Action != "source.update" {
		t.Fatalf("first page = %d events, next %q", len(page), next)
	}
	rest, next, err := s.AuditEvents(ctx, roster.AuditFilter{Limit: 3, After: next})
	must(t, err)
	if len(rest) != 2 || next != "" || rest[1].Details["n"] != "0" {
		t.Fatalf("second page = %+v", rest)
	}
	issued, _, err := s.AuditEvents(ctx, roster.AuditFilter{Action: "credential.issue"})
	must(t, err)
	if len(issued) != 2 || issued[0].Outcome != roster.AuditDenied || issued[0].Reason != "no grant" {
		t.Fatalf("issue events = %+v", issued)
	}
}

func testSecretBlobs(t *testing.T, s roster.Store) {
	ctx := t.Context()
	v, err := s.PutSecretBlob(ctx, "c/1", []byte("sealed-1"), 0)
	must(t, err)
	if v != 1 {
		t.Fatalf("first version = %d", v)
	}
	_, err = s.PutSecretBlob(ctx, "c/1", []byte("late"), 0)
	wantCode(t, err, roster.ECONFLICT)
	v, err = s.PutSecretBlob(ctx, "c/1", []byte("sealed-2"), 1)
	must(t, err)
	blob, got, err := s.SecretBlob(ctx, "c/1")
	must(t, err)
	if v != 2 || got != 2 || string(blob) != "sealed-2" {
		t.Fatalf("blob %q version %d/%d", blob, v, got)
	}
	must(t, s.DeleteSecretBlob(ctx, "c/1"))
	_, _, err = s.SecretBlob(ctx, "c/1")
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, s.DeleteSecretBlob(ctx, "c/1"), roster.ENOTFOUND)
}
