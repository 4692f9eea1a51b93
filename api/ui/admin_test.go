package ui_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/api/ui"
)

// TestAdminPagesEscape: every administration page renders what people
// and clouds name (descriptions, display names, audit reasons, delivery
// errors, filters) as text, never markup, and each form that changes
// something carries the CSRF field.
func TestAdminPagesEscape(t *testing.T) {
	evil := `<script>alert(1)</script>`
	now := time.Now()
	page := ui.Page{User: "ada", CSRF: "csrf-of-ada", Section: "Access"}
	cred := ui.Credential{Name: "db", Type: "password", Description: evil, CanChange: true, Updated: &now,
		Fields: []ui.CredentialField{{Name: "username", Value: evil}, {Name: "password", Secret: true, Set: true, Description: evil}}}
	typ := ui.CredentialType{Type: "password", Description: evil, Fields: cred.Fields}
	for name, data := range map[string]any{
		"credentials": ui.Credentials{Page: page, Message: evil, Items: []ui.Credential{cred}, Types: []ui.CredentialType{typ}},
		"credential":  ui.CredentialPage{Page: page, Credential: cred, Type: typ},
		"access": ui.Access{Page: page, Messages: []string{evil}, ShowTokens: true, ShowGrants: true, CanCreateToken: true, CanRevoke: true, CanGrant: true,
			Tokens:  []ui.Token{{Name: "ci", Role: "admin", Owner: evil, Limited: -1, Created: &now}},
			Grants:  []ui.Grant{{ID: "g1", Token: "deployer", Credential: "db", Inventory: evil, Created: &now}},
			Runners: []ui.Runner{{Name: "deployer", Credentials: []string{evil}}}, Roles: []string{"admin"}},
		"token-created": ui.TokenCreated{Page: page, Name: "ci", Role: "admin", Value: "rst_value"},
		"people": ui.People{Page: page, Messages: []string{evil}, ShowUsers: true, ShowTeams: true, ShowBindings: true, CanCreateUser: true, CanChangeUsers: true, CanCreateTeam: true, CanChangeTeams: true,
			Users:    []ui.User{{Name: "eve", DisplayName: evil, Email: evil}},
			Teams:    []ui.Team{{Name: "ops", Description: evil, Members: []string{evil}}},
			Bindings: []ui.Binding{{Subject: evil, SubjectKind: "user", Role: "admin", Scope: "inventory", Target: evil}}},
		"webhooks": ui.Webhooks{Page: page, Message: evil, Items: []ui.Webhook{{ID: "w1", Name: "ops", Inventory: evil, URL: evil, Events: []string{evil}}}},
		"webhook": ui.WebhookPage{Page: page, Webhook: ui.Webhook{ID: "w1", Name: "ops", URL: evil},
			Deliveries: []ui.Delivery{{Time: &now, Outcome: "failed", Error: evil}}, Next: "/ui/webhooks/w1?cursor=x"},
		"audit": ui.Audit{Page: page, Filter: ui.AuditFilter{Actor: evil, Action: evil}, Message: evil, Next: "/ui/audit?cursor=x",
			Events: []ui.AuditEvent{{Time: &now, LastTime: &now, Count: 2, Actor: evil, Action: evil, Outcome: "denied", TargetName: evil, Reason: evil}}},
	} {
		var b bytes.Buffer
		if err := ui.Render(&b, name, data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		out := b.String()
		if strings.Contains(out, "<script>alert") || (name != "token-created" && !strings.Contains(out, "&lt;script&gt;")) {
			t.Errorf("%s does not escape what it shows:\n%s", name, out)
		}
		if posts, csrfs := strings.Count(out, `method="post"`), strings.Count(out, `name="csrf_token" value="csrf-of-ada"`); posts != csrfs {
			t.Errorf("%s has %d forms that post and %d CSRF fields", name, posts, csrfs)
		}
		if name != "token-created" && strings.Contains(out, "rst_value") {
			t.Errorf("%s shows a token value", name)
		}
	}
}
