package main

import (
	"encoding/json"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/client"
)

// targetFlag maps a flag of `roster webhook create/update` to a field of a
// type's settings object (irc, email, pagerduty). Secret flags name a file
// (- for stdin), never the secret itself.
type targetFlag struct {
	flag, object, field, usage string
	kind                       string // "string", "secret", "int", "bool", "list"
}

var targetFlags = []targetFlag{
	{"irc-server", "irc", "server", "irc: the server, host:port (e.g. irc.libera.chat:6697)", "string"},
	{"irc-channel", "irc", "channel", "irc: the channel, #name", "string"},
	{"irc-nick", "irc", "nick", "irc: the nick to post as (nick_ when taken)", "string"},
	{"irc-tls", "irc", "tls", "irc: TLS (--irc-tls=false: plain text, loopback or --allow-insecure only)", "bool"},
	{"irc-tls-server-name", "irc", "tls_server_name", "irc: the name the server's certificate must carry", "string"},
	{"irc-notice", "irc", "notice", "irc: send NOTICE rather than PRIVMSG", "bool"},
	{"irc-server-password-file", "irc", "server_password", "irc: a file holding the server password (PASS)", "secret"},
	{"nickserv-password-file", "irc", "nickserv_password", "irc: a file holding the NickServ password (IDENTIFY)", "secret"},
	{"irc-channel-key-file", "irc", "channel_key", "irc: a file holding the channel key (+k)", "secret"},
	{"smtp-host", "email", "host", "email: the SMTP server's host", "string"},
	{"smtp-port", "email", "port", "email: the SMTP port (default 587; 465 with --smtp-security tls)", "int"},
	{"smtp-security", "email", "security", "email: starttls (default, required), tls (implicit) or none", "string"},
	{"smtp-tls-server-name", "email", "tls_server_name", "email: the name the server's certificate must carry", "string"},
	{"smtp-username", "email", "username", "email: the SMTP AUTH user", "string"},
	{"smtp-password-file", "email", "password", "email: a file holding the SMTP password (sent only over TLS)", "secret"},
	{"from", "email", "from", "email: the sender address", "string"},
	{"to", "email", "to", "email: a recipient (repeat; at most 20)", "list"},
	{"subject-prefix", "email", "subject_prefix", "email: the subject's prefix (default [Roster])", "string"},
	{"routing-key-file", "pagerduty", "routing_key", "pagerduty: a file holding the Events API v2 integration key", "secret"},
	{"pagerduty-url", "pagerduty", "url", "pagerduty: the Events API endpoint (default https://events.pagerduty.com/v2/enqueue)", "string"},
	{"severity-failed", "pagerduty", "severity_failed", "pagerduty: the severity of a failed run (default error)", "string"},
	{"severity-partial", "pagerduty", "severity_partial", "pagerduty: the severity of a partial run (default warning)", "string"},
}

func addTargetFlags(cmd *cobra.Command) {
	fs := cmd.Flags()
	fs.String("type", "", "webhook (default), slack, mattermost, rocketchat, teams, pagerduty, irc or email")
	fs.String("username", "", "mattermost, rocketchat: the name messages are posted as")
	for _, f := range targetFlags {
		switch f.kind {
		case "int":
			fs.Int(f.flag, 0, f.usage)
		case "bool":
			fs.Bool(f.flag, f.field == "tls", f.usage)
		case "list":
			fs.StringArray(f.flag, nil, f.usage)
		default:
			fs.String(f.flag, "", f.usage)
		}
	}
	cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"webhook", "slack", "mattermost", "rocketchat", "teams", "pagerduty", "irc", "email"}, cobra.ShellCompDirectiveNoFileComp))
}

// applyTargetFlags puts the type flags given into body. For an update,
// current is the webhook as it is: a settings object is replaced whole by
// the API, so the flags are laid over its current settings.
func applyTargetFlags(cmd *cobra.Command, body map[string]any, readSecret func(string) (string, error), current *client.Webhook) error {
	fs := cmd.Flags()
	for _, name := range []string{"type", "username"} {
		if fs.Changed(name) {
			body[name], _ = fs.GetString(name)
		}
	}
	objects := map[string]map[string]any{}
	object := func(name string) map[string]any {
		if o, ok := objects[name]; ok {
			return o
		}
		o := map[string]any{}
		if current != nil {
			// The settings shown (never a secret) are the starting point.
			var cur map[string]json.RawMessage
			if b, err := json.Marshal(current); err == nil && json.Unmarshal(b, &cur) == nil {
				json.Unmarshal(cur[name], &o)
			}
		}
		objects[name] = o
		return o
	}
	for _, f := range targetFlags {
		if !fs.Changed(f.flag) {
			continue
		}
		var v any
		var err error
		switch f.kind {
		case "int":
			v, err = fs.GetInt(f.flag)
		case "bool":
			v, err = fs.GetBool(f.flag)
		case "list":
			v, err = fs.GetStringArray(f.flag)
		case "secret":
			path, _ := fs.GetString(f.flag)
			if path == "" {
				v = "" // removes the stored one
			} else if v, err = readSecret(path); err != nil {
				return fmt.Errorf("--%s: %w", f.flag, err)
			}
		default:
			v, err = fs.GetString(f.flag)
		}
		if err != nil {
			return err
		}
		object(f.object)[f.field] = v
	}
	for name, o := range objects {
		if _, given := body[name]; given {
			return fmt.Errorf("--%s flags and %s in --file: give one of them", name, name)
		}
		body[name] = o
	}
	return nil
}

var testResultColumns = columns[client.WebhookTestResult]{
	header: []string{"OUTCOME", "PROTOCOL", "STATUS", "DURATION", "ERROR"},
	row: func(r client.WebhookTestResult) []string {
		status := ""
		if r.StatusCode != nil {
			status = fmt.Sprint(*r.StatusCode)
		}
		return []string{string(r.Outcome), string(r.Protocol), status, fmt.Sprintf("%dms", r.DurationMs), str(r.Error)}
	},
}

func webhookTestCommand() *cobra.Command {
	return &cobra.Command{
		Use: "test WEBHOOK", Short: "Send a test event to the target now and say how it went (admin only)", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeWebhooks,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			w, _, err := resolveWebhook(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			r, err := client.Decode[client.WebhookTestResult](c.TestWebhook(cmd.Context(), w.Id))
			if err != nil {
				return err
			}
			if err := printOne(cmd, r.Value, r.JSON, testResultColumns); err != nil {
				return err
			}
			if r.Value.Outcome != client.WebhookTestResultOutcomeDelivered {
				return fmt.Errorf("the test event was not delivered: %s", str(r.Value.Error))
			}
			return nil
		}),
	}
}
