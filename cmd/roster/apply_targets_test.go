package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const targetsFixture = `kind: inventory
name: prod
---
kind: webhook
name: pager
inventory: prod
type: pagerduty
pagerduty:
  routing_key: {env: PD_ROUTING_KEY}
  severity_partial: error
---
kind: webhook
name: chat
inventory: prod
type: irc
events: [sync.failed]
irc:
  server: irc.example.org:6697
  nick: roster
  channel: "#ops"
  nickserv_password: {env: IRC_NICKSERV}
---
kind: webhook
name: mail
inventory: prod
type: email
events: [sync.failed, sync.partial]
email:
  host: mail.example.org
  from: roster@example.org
  to: [ops@example.org, oncall@example.org]
  username: roster
  password: {file: smtp-password}
---
kind: webhook
name: mm
inventory: prod
type: mattermost
username: roster-bot
events: [sync.failed]
url: {env: MM_URL}
`

// TestApplyNotificationTargets: apply makes targets of each kind from
// type maps whose secrets are references, a second apply changes nothing,
// a changed setting or a removed secret is an update, export writes the
// maps back with references, and bad input is refused naming the field.
func TestApplyNotificationTargets(t *testing.T) {
	isolateClientConfig(t)
	gitopsEngines(t, func(t *testing.T, engine string) {
		s := serveGitops(t, engine)
		dir := t.TempDir()
		writeFile(t, filepath.Join(dir, "smtp-password"), "SMTP-PW-CANARY\n")
		t.Setenv("PD_ROUTING_KEY", "PDKEYCANARY0000000000000000000001")
		t.Setenv("IRC_NICKSERV", "NICKSERV-PW-CANARY")
		t.Setenv("MM_URL", "https://chat.example.org/hooks/MMCANARY")
		file := writeFile(t, filepath.Join(dir, "targets.yaml"), targetsFixture)
		if out := s.mustRoster(t, "apply", "-f", file); len(lines(out)) != 5 {
			t.Fatalf("first apply: want 5 creations:\n%s", out)
		}
		if out := s.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("second apply:\n%s", out)
		}
		var chat struct {
			Type       string   `json:"type"`
			URL        string   `json:"url"`
			SecretsSet []string `json:"secrets_set"`
			IRC        struct {
				Nick string `json:"nick"`
				TLS  bool   `json:"tls"`
			} `json:"irc"`
		}
		var list struct {
			Items []struct{ ID, Name string }
		}
		call(t, s.api, "GET", "/webhooks", nil, &list)
		for _, w := range list.Items {
			if w.Name == "chat" {
				call(t, s.api, "GET", "/webhooks/"+w.ID, nil, &chat)
			}
		}
		if chat.Type != "irc" || !chat.IRC.TLS || chat.URL != "ircs://irc.example.org:6697/#ops" || !slices.Equal(chat.SecretsSet, []string{"nickserv_password"}) {
			t.Fatalf("chat = %+v", chat)
		}

		exported := s.mustRoster(t, "export")
		for _, secret := range []string{"CANARY"} {
			if strings.Contains(exported, secret) {
				t.Fatalf("export shows %q:\n%s", secret, exported)
			}
		}
		for _, ref := range []string{"type: irc", "nickserv_password:\n    env: WEBHOOK_PROD_CHAT_NICKSERV_PASSWORD", "routing_key:\n    env: WEBHOOK_PROD_PAGER_ROUTING_KEY",
			"password:\n    env: WEBHOOK_PROD_MAIL_PASSWORD", "severity_partial: error", "username: roster-bot"} {
			if !strings.Contains(exported, ref) {
				t.Fatalf("export lacks %q:\n%s", ref, exported)
			}
		}
		exportFile := writeFile(t, filepath.Join(dir, "export.yaml"), exported)
		if out := s.mustRoster(t, "apply", "-f", exportFile); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("apply of the export to its own server:\n%s", out)
		}

		changed := strings.Replace(targetsFixture, "nick: roster", "nick: rosterbot", 1)
		changed = strings.Replace(changed, "  nickserv_password: {env: IRC_NICKSERV}\n", "", 1)
		writeFile(t, file, changed)
		if out := s.mustRoster(t, "apply", "-f", file); !strings.Contains(out, "~ webhook prod/chat: irc nickserv_password (removed)") {
			t.Fatalf("apply of a changed nick and a removed secret:\n%s", out)
		}
		if out := s.mustRoster(t, "apply", "-f", file); strings.TrimSpace(out) != "no changes" {
			t.Fatalf("apply after the change:\n%s", out)
		}

		for _, bad := range []struct{ from, to, want string }{
			{"nickserv_password: {env: IRC_NICKSERV}", "nickserv_password: hunter2-literal", "nickserv_password is a secret: give a reference"},
			{`channel: "#ops"`, "channel: ops", "irc.channel"},
			{"  nick: roster\n", "  nik: roster\n", `"nik"`},
		} {
			writeFile(t, file, strings.Replace(targetsFixture, bad.from, bad.to, 1))
			out, err := s.roster(t, "", "apply", "-f", file)
			if err == nil || !strings.Contains(err.Error()+out, bad.want) || strings.Contains(err.Error()+out, "hunter2-literal") {
				t.Errorf("apply with %q: %v\n%s\nwant an error saying %q", bad.to, err, out, bad.want)
			}
		}
	})
}
