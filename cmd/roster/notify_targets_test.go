package main

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestCLINotificationTargets drives an IRC target through the built binary
// against a real server and a real ngircd: create with the type's flags,
// bad input naming the field, update of one setting keeping the others,
// "send test event" read by a client in the channel, and a closed port.
func TestCLINotificationTargets(t *testing.T) {
	irc := testenv.IRC(t)
	reader := irc.Join(t, "reader", "#ops", "")
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	db := filepath.Join(t.TempDir(), "roster.db")
	node := startNode(t, bin, "roster", db, []string{"ROSTER_PUBLIC_URL=https://roster.example:8443"})
	token := adminToken(t, bin, "--database", db)
	tokenFile := filepath.Join(t.TempDir(), "admin.token")
	must(t, os.WriteFile(tokenFile, []byte(token.Reveal()+"\n"), 0o600))
	cli := newCLIEnv(t, bin, "ROSTER_URL="+node.url, "ROSTER_TOKEN_FILE="+tokenFile)
	dir := t.TempDir()
	cli.ok("inventory", "create", "prod")

	const nickservPW = "NICKSERV-CLI-CANARY"
	nsFile := filepath.Join(dir, "ns")
	must(t, os.WriteFile(nsFile, []byte(nickservPW+"\n"), 0o600))
	var hook struct {
		apiObject
		Type   string `json:"type"`
		Format string `json:"format"`
		URL    string `json:"url"`
		IRC    *struct {
			Server, Channel, Nick string
			TLS                   bool `json:"tls"`
		} `json:"irc"`
	}
	ircFlags := []string{"--inventory", "prod", "--type", "irc", "--event", "sync.failed", "--irc-server", irc.Addr, "--irc-tls=false", "--irc-nick", "roster"}
	cli.json(&hook, append([]string{"webhook", "create", "chat", "--irc-channel", "#ops", "--nickserv-password-file", nsFile}, ircFlags...)...)
	if hook.Type != "irc" || hook.Format != "irc" || hook.URL != "irc://"+irc.Addr+"/#ops" || hook.IRC == nil || hook.IRC.Channel != "#ops" || hook.IRC.TLS {
		t.Fatalf("webhook create: %+v %+v", hook, hook.IRC)
	}
	cli.fails("irc.channel: must be #name", append([]string{"webhook", "create", "bad", "--irc-channel", "ops"}, ircFlags...)...)
	cli.fails("type: value is not one of the allowed values", "webhook", "create", "bad", "--inventory", "prod", "--type", "carrier-pigeon", "--event", "sync.failed")

	cli.json(&hook, "webhook", "update", "chat", "--irc-nick", "rosterbot")
	if hook.IRC == nil || hook.IRC.Nick != "rosterbot" || hook.IRC.Channel != "#ops" || hook.IRC.Server != irc.Addr {
		t.Fatalf("webhook update of the nick: %+v", hook.IRC)
	}
	out := cli.ok("webhook", "test", "chat")
	if !strings.Contains(out, "delivered") {
		t.Errorf("webhook test printed:\n%s", out)
	}
	line := reader.WaitLine(t, "PRIVMSG #ops :Roster: Test notification from Roster", 10*time.Second)
	if !strings.HasPrefix(line, ":rosterbot!") {
		t.Errorf("the test came as %q", line)
	}
	var deliveries []struct {
		Event, Outcome string
	}
	cli.json(&deliveries, "webhook", "deliveries", "chat")
	if len(deliveries) != 1 || deliveries[0].Event != "test" || deliveries[0].Outcome != "delivered" {
		t.Fatalf("delivery log: %+v", deliveries)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	closed := l.Addr().String()
	l.Close()
	cli.ok("webhook", "update", "chat", "--irc-server", closed)
	cli.fails("the test event was not delivered: irc: cannot connect", "webhook", "test", "chat")

	// format, the older name, still works.
	urlFile := filepath.Join(dir, "url")
	must(t, os.WriteFile(urlFile, []byte("http://127.0.0.1:9/hooks/secret\n"), 0o600))
	cli.json(&hook, "webhook", "create", "legacy", "--inventory", "prod", "--format", "generic", "--event", "sync.failed", "--url-file", urlFile)
	if hook.Type != "webhook" || hook.Format != "generic" {
		t.Fatalf("format generic: %+v", hook)
	}
	log, err := os.ReadFile(node.log)
	must(t, err)
	if strings.Contains(string(log), nickservPW) {
		t.Error("the NickServ password is in the server's log")
	}
}
