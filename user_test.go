package roster

import (
	"fmt"
	"strings"
	"testing"
)

func TestValidateUserName(t *testing.T) {
	for name, ok := range map[string]bool{
		"alice":                                true,
		"alice@example.io":                     true,
		"a.b_c-d+e":                            true,
		"0day":                                 true,
		"":                                     false,
		"Alice":                                false, // lower case only: "alice" and "Alice" are one person
		"-alice":                               false,
		"alice smith":                          false,
		"alice/ops":                            false,
		"0190b7e2-7c1a-7d2b-9c4e-1a2b3c4d5e6f": false, // looks like an id
	} {
		if got := ValidateUserName("name", name) == nil; got != ok {
			t.Errorf("ValidateUserName(%q) ok = %v, want %v", name, got, ok)
		}
	}
}

func TestRoleBindingValidate(t *testing.T) {
	good := RoleBinding{SubjectKind: SubjectTeam, SubjectID: "t", Role: RoleOperator, ScopeKind: ScopeInventory, ScopeID: "i"}
	if err := good.Validate(); err != nil {
		t.Fatal(err)
	}
	for field, b := range map[string]RoleBinding{
		"subject_kind": {SubjectKind: "group", SubjectID: "t", Role: RoleAdmin, ScopeKind: ScopeServer},
		"subject_id":   {SubjectKind: SubjectUser, Role: RoleAdmin, ScopeKind: ScopeServer},
		"role":         {SubjectKind: SubjectUser, SubjectID: "u", Role: "root", ScopeKind: ScopeServer},
		"scope_kind":   {SubjectKind: SubjectUser, SubjectID: "u", Role: RoleAdmin, ScopeKind: "source", ScopeID: "s"},
		"scope_id":     {SubjectKind: SubjectUser, SubjectID: "u", Role: RoleAdmin, ScopeKind: ScopeServer, ScopeID: "i"},
	} {
		err := b.Validate()
		fields := ErrorFields(err)
		if ErrorCode(err) != EINVALID || len(fields) != 1 || fields[0].Field != field {
			t.Errorf("%s: Validate = %v, want one error on %s", field, err, field)
		}
	}
	// A runner is bound to inventories only.
	for _, b := range []RoleBinding{
		{SubjectKind: SubjectUser, SubjectID: "u", Role: RoleRunner, ScopeKind: ScopeServer},
		{SubjectKind: SubjectTeam, SubjectID: "t", Role: RoleRunner, ScopeKind: ScopeCredential, ScopeID: "c"},
	} {
		if f := ErrorFields(b.Validate()); len(f) != 1 || f[0].Field != "role" {
			t.Errorf("runner on the %s: %v, want one error on role", b.ScopeKind, f)
		}
	}
	noID := RoleBinding{SubjectKind: SubjectUser, SubjectID: "u", Role: RoleAdmin, ScopeKind: ScopeCredential}
	if f := ErrorFields(noID.Validate()); len(f) != 1 || f[0].Field != "scope_id" {
		t.Errorf("credential scope without an id: %v", f)
	}
}

func TestUserPrintsNoPasswordHash(t *testing.T) {
	u := &User{Name: "alice", PasswordHash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"}
	for _, s := range []string{fmt.Sprintf("%v", u), fmt.Sprintf("%+v", u), fmt.Sprintf("%#v", u)} {
		if strings.Contains(s, "argon2id") {
			t.Fatalf("a printed user shows its password hash: %s", s)
		}
	}
}
