package notify_test

import (
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/notify"
)

// TestTargetValidation: bad settings of each type are refused with a
// field error naming the field, never quoting a secret, and nothing is
// stored.
func TestTargetValidation(t *testing.T) {
	e := newEnv(t)
	irc := func(mod func(*roster.IRCSettings)) notify.WebhookInput {
		c := &roster.IRCSettings{Server: "irc.example.org:6697", TLS: true, Nick: "roster", Channel: "#ops"}
		mod(c)
		return notify.WebhookInput{Name: "t", InventoryID: e.inv.ID, Type: roster.TypeIRC, Events: []roster.WebhookEvent{roster.EventSyncFailed}, Config: roster.WebhookConfig{IRC: c}}
	}
	email := func(mod func(*roster.EmailSettings)) notify.WebhookInput {
		c := &roster.EmailSettings{Host: "mail.example.org", From: "roster@example.org", To: []string{"ops@example.org"}}
		mod(c)
		return notify.WebhookInput{Name: "t", InventoryID: e.inv.ID, Type: roster.TypeEmail, Events: []roster.WebhookEvent{roster.EventSyncFailed}, Config: roster.WebhookConfig{Email: c}}
	}
	const secret = "SECRET-VALUE-CANARY"
	for _, tc := range []struct {
		name string
		in   notify.WebhookInput
		want []string
	}{
		{"irc without settings", notify.WebhookInput{Name: "t", InventoryID: e.inv.ID, Type: roster.TypeIRC, Events: []roster.WebhookEvent{roster.EventSyncFailed}}, []string{"irc"}},
		{"irc channel", irc(func(c *roster.IRCSettings) { c.Channel = "ops" }), []string{"irc.channel"}},
		{"irc nick", irc(func(c *roster.IRCSettings) { c.Nick = "9lives" }), []string{"irc.nick"}},
		{"irc nick too long", irc(func(c *roster.IRCSettings) { c.Nick = strings.Repeat("r", 31) }), []string{"irc.nick"}},
		{"irc server", irc(func(c *roster.IRCSettings) { c.Server = "irc.example.org" }), []string{"irc.server"}},
		{"irc plain text afar", irc(func(c *roster.IRCSettings) { c.TLS = false }), []string{"irc.tls"}},
		{"email to", email(func(c *roster.EmailSettings) { c.To = []string{"Ops <ops@example.org>"} }), []string{"email.to[0]"}},
		{"email no recipient", email(func(c *roster.EmailSettings) { c.To = nil }), []string{"email.to"}},
		{"email too many", email(func(c *roster.EmailSettings) {
			c.To = slices.Repeat([]string{"ops@example.org"}, 21)
		}), []string{"email.to"}},
		{"email security", email(func(c *roster.EmailSettings) { c.Security = "ssl" }), []string{"email.security"}},
		{"email user without password", email(func(c *roster.EmailSettings) { c.Username = "roster" }), []string{"email.username"}},
		{"pagerduty without key", notify.WebhookInput{Name: "t", InventoryID: e.inv.ID, Type: roster.TypePagerDuty}, []string{"pagerduty.routing_key"}},
		{"secret of another type", notify.WebhookInput{Name: "t", InventoryID: e.inv.ID, Type: roster.TypeSlack, URL: "https://hooks.slack.com/x",
			Events: []roster.WebhookEvent{roster.EventSyncFailed}, Secrets: roster.SecretFields{notify.FieldNickServPassword: secret}}, []string{"nickserv_password"}},
		{"settings of another type", notify.WebhookInput{Name: "t", InventoryID: e.inv.ID, Type: roster.TypeSlack, URL: "https://hooks.slack.com/x",
			Events: []roster.WebhookEvent{roster.EventSyncFailed}, Config: roster.WebhookConfig{IRC: &roster.IRCSettings{}}}, []string{"irc"}},
		{"type and format disagree", notify.WebhookInput{Name: "t", InventoryID: e.inv.ID, Type: roster.TypeSlack, Format: roster.WebhookGeneric, URL: "https://hooks.slack.com/x",
			Events: []roster.WebhookEvent{roster.EventSyncFailed}}, []string{"format"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.Create(t.Context(), tc.in)
			if got := fieldsOf(err); !slices.Equal(got, tc.want) {
				t.Fatalf("fields = %v (%v), want %v", got, err, tc.want)
			}
			if err != nil && strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes a secret: %v", err)
			}
		})
	}
	hooks, err := e.store.Webhooks(t.Context(), roster.WebhookFilter{})
	must(t, err)
	if len(hooks) != 0 {
		t.Fatalf("%d webhooks stored by refused creates", len(hooks))
	}
}

// TestTargetUpdate: a chat target may become another chat target; an IRC
// target may not become one; changed settings and secrets are checked.
func TestTargetUpdate(t *testing.T) {
	e := newEnv(t)
	ctx := t.Context()
	w := e.webhook(t, notify.WebhookInput{Name: "chat", Type: roster.TypeSlack, URL: "https://hooks.slack.com/services/x"})
	teams := roster.TypeTeams
	w, err := e.svc.Update(ctx, w.ID, notify.WebhookChange{Type: &teams})
	if err != nil || w.Type != roster.TypeTeams {
		t.Fatalf("slack → teams: %v %+v", err, w)
	}
	ircType := roster.TypeIRC
	_, err = e.svc.Update(ctx, w.ID, notify.WebhookChange{Type: &ircType, Config: &roster.WebhookConfig{IRC: &roster.IRCSettings{Server: "irc.example.org:6697", TLS: true, Nick: "r", Channel: "#ops"}}})
	if got := fieldsOf(err); !slices.Contains(got, "type") {
		t.Fatalf("teams → irc: %v, want a field error on type", err)
	}
	in := ircTarget("irc", "irc.example.org:6697", "roster", roster.SecretFields{notify.FieldNickServPassword: "pw"})
	in.InventoryID = e.inv.ID
	h, err := e.svc.Create(ctx, in)
	must(t, err)
	if !slices.Equal(h.Config.SecretsSet, []string{notify.FieldNickServPassword}) {
		t.Fatalf("secrets set = %v", h.Config.SecretsSet)
	}
	cfg := h.Config
	bad := *cfg.IRC
	bad.Channel = "nope"
	cfg.IRC = &bad
	if _, err := e.svc.Update(ctx, h.ID, notify.WebhookChange{Config: &cfg}); !slices.Equal(fieldsOf(err), []string{"irc.channel"}) {
		t.Fatalf("bad channel: %v", err)
	}
	h, err = e.svc.Update(ctx, h.ID, notify.WebhookChange{Secrets: roster.SecretFields{notify.FieldNickServPassword: "", notify.FieldChannelKey: "key"}})
	must(t, err)
	if !slices.Equal(h.Config.SecretsSet, []string{notify.FieldChannelKey}) || h.Config.IRC.Channel != "#ops" {
		t.Fatalf("after removing one secret and adding another: %+v", h.Config)
	}
	fields, _, err := e.backend.GetSecrets(ctx, h.SecretPath)
	must(t, err)
	if _, ok := fields[notify.FieldNickServPassword]; ok || fields[notify.FieldChannelKey] != "key" {
		t.Fatalf("the backend holds %v", slices.Sorted(maps.Keys(fields)))
	}
}
