package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/client"
)

// ---- credentials

var credentialColumns = columns[client.Credential]{
	header: []string{"NAME", "ID", "TYPE", "FIELDS", "SECRETS SET", "VERSION", "BACKEND"},
	row: func(c client.Credential) []string {
		var fields []string
		for k, v := range c.Fields {
			fields = append(fields, k+"="+v)
		}
		slices.Sort(fields)
		return []string{c.Name, c.Id, string(c.Type), strings.Join(fields, " "), strings.Join(c.SecretsSet, ","), fmt.Sprint(c.Version), string(c.Backend)}
	},
}

func newCredentialCommand() *cobra.Command {
	return resourceCommand("credential", "Brokered credentials: list, get, create, update, delete (never their secret values)",
		listCommand("List credentials (never their secret values)", credentialColumns, (*client.Client).ListCredentials),
		&cobra.Command{
			Use: "get CREDENTIAL", Short: "Show a credential's metadata (by name or id)", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeCredentials,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				r, err := client.Decode[client.Credential](c.GetCredential(cmd.Context(), args[0]))
				if err != nil {
					return err
				}
				return printOne(cmd, r.Value, r.JSON, credentialColumns)
			}),
		},
		credentialWriteCommand(false),
		credentialWriteCommand(true),
		&cobra.Command{
			Use: "delete CREDENTIAL", Short: "Delete a credential, every version of its secrets, and its grants", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeCredentials,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.DeleteCredential(cmd.Context(), args[0])); err != nil {
					return err
				}
				return deleted(cmd, "credential", args[0])
			}),
		},
	)
}

// parseFields reads NAME=VALUE pairs; NAME=@FILE reads the value from a
// file, so that secrets stay out of shell history and process lists.
func parseFields(pairs []string) (map[string]string, error) {
	fields := map[string]string{}
	for _, p := range pairs {
		name, value, ok := strings.Cut(p, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("--field %q: want NAME=VALUE or NAME=@FILE", p)
		}
		if path, ok := strings.CutPrefix(value, "@"); ok {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, fmt.Errorf("--field %s: %w", name, err)
			}
			value = strings.TrimRight(string(b), "\r\n")
		}
		fields[name] = value
	}
	return fields, nil
}

func credentialWriteCommand(update bool) *cobra.Command {
	var name, typ, description string
	var pairs []string
	cmd := &cobra.Command{
		Use:   "create NAME --type TYPE --field NAME=VALUE|@FILE ...",
		Short: "Create a credential (secret fields go to the secret backend)",
		Example: `  roster credential create deploy-key --type ssh_key --field username=deploy --field private_key=@$HOME/.ssh/id_ed25519
  roster credential create ops-ca --type ssh_certificate --field username=ops --field role=ops --field ttl=15m`,
		Args: cobra.MaximumNArgs(1),
	}
	if update {
		cmd.Use, cmd.Short, cmd.Example, cmd.Args = "update CREDENTIAL [--field NAME=VALUE|@FILE ...]",
			"Change a credential: fields not given keep their value; secret fields given replace the stored ones", "", cobra.ExactArgs(1)
		cmd.ValidArgsFunction = completeCredentials
	}
	cmd.RunE = withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
		body, err := requestBody(cmd)
		if err != nil {
			return err
		}
		if len(pairs) > 0 {
			fields, err := parseFields(pairs)
			if err != nil {
				return err
			}
			body["fields"] = fields
		}
		set(cmd, body, "description", "description", description)
		var r *client.Response[client.Credential]
		if update {
			set(cmd, body, "name", "name", name)
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			if r, err = client.Decode[client.Credential](c.UpdateCredentialWithBody(cmd.Context(), args[0], contentJSON, rd)); err != nil {
				return err
			}
		} else {
			// The name as an argument, or --name as before.
			switch {
			case len(args) == 1 && name != "" && name != args[0]:
				return fmt.Errorf("two names given: %s and --name %s", args[0], name)
			case len(args) == 1:
				body["name"] = args[0]
			case name != "":
				body["name"] = name
			}
			set(cmd, body, "type", "type", typ)
			if _, ok := body["fields"]; !ok {
				body["fields"] = map[string]string{}
			}
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			if r, err = client.Decode[client.Credential](c.CreateCredentialWithBody(cmd.Context(), contentJSON, rd)); err != nil {
				return err
			}
		}
		return printOne(cmd, r.Value, r.JSON, credentialColumns)
	})
	fs := cmd.Flags()
	if update {
		fs.StringVar(&name, "name", "", "a new name")
	} else {
		fs.StringVar(&name, "name", "", "the credential's name (or give it as the argument)")
		fs.StringVar(&typ, "type", "", "ssh_key, ssh_certificate, password, token, aws, gcp, azure or openstack")
		cmd.RegisterFlagCompletionFunc("type", cobra.FixedCompletions([]string{"ssh_key", "ssh_certificate", "password", "token", "aws", "gcp", "azure", "openstack"}, cobra.ShellCompDirectiveNoFileComp))
	}
	fs.StringVar(&description, "description", "", "what it is for")
	fs.StringArrayVar(&pairs, "field", nil, "a field, NAME=VALUE or NAME=@FILE (repeat)")
	addFileFlag(cmd)
	return cmd
}

// ---- grants

var grantColumns = columns[client.Grant]{
	header: []string{"ID", "TOKEN", "CREDENTIAL", "INVENTORY", "CREATED"},
	row: func(g client.Grant) []string {
		return []string{g.Id, g.TokenId, g.CredentialId, g.InventoryId, timeCell(&g.CreatedAt)}
	},
}

func newGrantCommand() *cobra.Command {
	var token, credential, inventory string
	listGrants := func(cmd *cobra.Command, c *client.Client) (list[client.Grant], error) {
		p := client.ListGrantsParams{}
		if token != "" {
			p.Token = &token
		}
		if credential != "" {
			p.Credential = &credential
		}
		if inventory != "" {
			p.Inventory = &inventory
		}
		return fetchList[client.Grant](func(*string) (*http.Response, error) { return c.ListGrants(cmd.Context(), &p) }, 0)
	}
	list := &cobra.Command{
		Use: "list [--token NAME] [--credential NAME] [--inventory NAME]", Short: "List grants, of one token, credential or inventory when asked", Args: cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			l, err := listGrants(cmd, c)
			if err != nil {
				return err
			}
			return printList(cmd, l, grantColumns)
		}),
	}
	create := &cobra.Command{
		Use:   "create --token NAME --credential NAME --inventory NAME",
		Short: "Let a token use a credential for an inventory",
		Args:  cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			r, err := client.Decode[client.Grant](c.CreateGrant(cmd.Context(), client.GrantCreate{Token: token, Credential: credential, Inventory: inventory}))
			if err != nil {
				return err
			}
			return printOne(cmd, r.Value, r.JSON, grantColumns)
		}),
	}
	for _, fs := range []*cobra.Command{list, create} {
		fs.Flags().StringVar(&token, "token", "", "the token (name or id)")
		fs.Flags().StringVar(&credential, "credential", "", "the credential (name or id)")
		fs.Flags().StringVar(&inventory, "inventory", "", "the inventory (name or id)")
		fs.RegisterFlagCompletionFunc("token", completeTokens)
		fs.RegisterFlagCompletionFunc("credential", completeCredentials)
		fs.RegisterFlagCompletionFunc("inventory", completeInventories)
	}
	for _, f := range []string{"token", "credential", "inventory"} {
		create.MarkFlagRequired(f)
	}
	return resourceCommand("grant", "Grants letting runner tokens use credentials for inventories: list, get, create, delete",
		list,
		&cobra.Command{
			Use: "get GRANT-ID", Short: "Show a grant", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				l, err := listGrants(cmd, c)
				if err != nil {
					return err
				}
				g, raw, ok := findIn(l, args[0], func(g client.Grant) string { return g.Id }, nil)
				if !ok {
					return fmt.Errorf("no grant %s", args[0])
				}
				return printOne(cmd, g, raw, grantColumns)
			}),
		},
		create,
		&cobra.Command{
			Use: "delete GRANT-ID", Aliases: []string{"revoke"}, Short: "Revoke a grant", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.DeleteGrant(cmd.Context(), args[0])); err != nil {
					return err
				}
				return deleted(cmd, "grant", args[0])
			}),
		},
	)
}

// ---- webhooks

var webhookColumns = columns[client.Webhook]{
	header: []string{"NAME", "ID", "TYPE", "EVENTS", "ENABLED", "URL", "INVENTORY", "SOURCE"},
	row: func(w client.Webhook) []string {
		events := make([]string, len(w.Events))
		for i, e := range w.Events {
			events[i] = string(e)
		}
		return []string{w.Name, w.Id, string(w.Type), strings.Join(events, ","), fmt.Sprint(w.Enabled), w.Url, w.InventoryId, str(w.SourceId)}
	},
}

var deliveryColumns = columns[client.WebhookDelivery]{
	header: []string{"TIME", "EVENT", "RUN", "ATTEMPT", "OUTCOME", "STATUS", "ERROR"},
	row: func(d client.WebhookDelivery) []string {
		status := ""
		if d.StatusCode != nil {
			status = fmt.Sprint(*d.StatusCode)
		}
		return []string{timeCell(&d.Time), string(d.Event), d.RunId, fmt.Sprint(d.Attempt), string(d.Outcome), status, str(d.Error)}
	},
}

func newWebhookCommand() *cobra.Command {
	var inventory, source string
	list := &cobra.Command{
		Use: "list [--inventory NAME | --source SOURCE]", Short: "List webhooks", Args: cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			p := client.ListWebhooksParams{}
			if inventory != "" {
				p.Inventory = &inventory
			}
			if source != "" {
				s, _, err := resolveSource(cmd.Context(), c, source)
				if err != nil {
					return err
				}
				p.Source = &s.Id
			}
			l, err := fetchList[client.Webhook](func(*string) (*http.Response, error) { return c.ListWebhooks(cmd.Context(), &p) }, 0)
			if err != nil {
				return err
			}
			return printList(cmd, l, webhookColumns)
		}),
	}
	list.Flags().StringVar(&inventory, "inventory", "", "only webhooks of this inventory (and its sources)")
	list.Flags().StringVar(&source, "source", "", "only webhooks of this source")
	list.RegisterFlagCompletionFunc("inventory", completeInventories)
	list.RegisterFlagCompletionFunc("source", completeSources)
	var limit int
	deliveries := &cobra.Command{
		Use: "deliveries WEBHOOK", Short: "A webhook's delivery log, newest first", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeWebhooks,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			w, _, err := resolveWebhook(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			l, err := fetchList[client.WebhookDelivery](func(cursor *string) (*http.Response, error) {
				return c.ListWebhookDeliveries(cmd.Context(), w.Id, &client.ListWebhookDeliveriesParams{Cursor: cursor})
			}, limit)
			if err != nil {
				return err
			}
			return printList(cmd, l, deliveryColumns)
		}),
	}
	deliveries.Flags().IntVar(&limit, "limit", 50, "at most this many attempts (0: all)")
	return resourceCommand("webhook", "Notification targets (webhooks, chat, PagerDuty, IRC, email) of sync events: list, get, create, update, delete, test, deliveries",
		list,
		&cobra.Command{
			Use: "get WEBHOOK", Short: "Show a webhook (by name or id; never its URL's path or signing secret)", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeWebhooks,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				w, raw, err := resolveWebhook(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				return printOne(cmd, w, raw, webhookColumns)
			}),
		},
		webhookWriteCommand(false),
		webhookWriteCommand(true),
		&cobra.Command{
			Use: "delete WEBHOOK", Short: "Delete a webhook, its secrets and its delivery log", Args: cobra.ExactArgs(1),
			ValidArgsFunction: completeWebhooks,
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				w, _, err := resolveWebhook(cmd.Context(), c, args[0])
				if err != nil {
					return err
				}
				if _, err := client.Decode[struct{}](c.DeleteWebhook(cmd.Context(), w.Id)); err != nil {
					return err
				}
				return deleted(cmd, "webhook", w.Id)
			}),
		},
		webhookTestCommand(),
		deliveries,
	)
}

func webhookWriteCommand(update bool) *cobra.Command {
	var inventory, source, format, urlFile, secretFile string
	var events []string
	var allowInsecure, enabled bool
	cmd := &cobra.Command{
		Use:   "create NAME [--type TYPE] --event EVENT... (--inventory NAME | --source SOURCE) ...",
		Short: "Notify a target (URL, chat, PagerDuty, IRC, email) of the sync events of an inventory or of one source (admin only)",
		Long: `Notify a target of the sync events of an inventory or of one source (admin only).

--type is webhook (Roster's JSON, optionally signed; the default), slack,
mattermost, rocketchat, teams (each --url-file), pagerduty (--routing-key-file),
irc (--irc-server, --irc-channel, --irc-nick) or email (--smtp-host, --from, --to).

Secrets (the URL, whose path is the secret of a chat incoming webhook, the
signing secret, passwords and keys) are read from files (- for stdin), never
from the command line, which other users of the machine can read.`,
		Example: `  roster webhook create ops-slack --inventory prod --type slack --event sync.failed --url-file slack-url.txt
  roster webhook create ops-irc --inventory prod --type irc --event sync.failed \
      --irc-server irc.example.org:6697 --irc-channel '#ops' --irc-nick roster --nickserv-password-file ns.txt
  roster webhook create ops-mail --inventory prod --type email --event sync.failed \
      --smtp-host mail.example.org --from roster@example.org --to ops@example.org \
      --smtp-username roster --smtp-password-file smtp.txt`,
		Args: cobra.ExactArgs(1),
	}
	if update {
		cmd.Use, cmd.Short, cmd.Example = "update WEBHOOK", "Change a webhook (admin only); secrets not given keep their values", ""
		cmd.ValidArgsFunction = completeWebhooks
	}
	readSecret := func(path string) (string, error) {
		var b []byte
		var err error
		if path == "-" {
			b, err = readAllStdin(cmd)
		} else {
			b, err = os.ReadFile(path)
		}
		return strings.TrimSpace(string(b)), err
	}
	cmd.RunE = withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
		body, err := requestBody(cmd)
		if err != nil {
			return err
		}
		if urlFile != "" {
			u, err := readSecret(urlFile)
			if err != nil {
				return fmt.Errorf("--url-file: %w", err)
			}
			body["url"] = u
		}
		if cmd.Flags().Changed("signing-secret-file") {
			s := ""
			if secretFile != "" {
				if s, err = readSecret(secretFile); err != nil {
					return fmt.Errorf("--signing-secret-file: %w", err)
				}
			}
			body["signing_secret"] = s
		}
		set(cmd, body, "format", "format", format)
		set(cmd, body, "event", "events", events)
		set(cmd, body, "allow-insecure", "allow_insecure", allowInsecure)
		set(cmd, body, "enabled", "enabled", enabled)
		var r *client.Response[client.Webhook]
		if update {
			w, _, err := resolveWebhook(cmd.Context(), c, args[0])
			if err != nil {
				return err
			}
			if err := applyTargetFlags(cmd, body, readSecret, &w); err != nil {
				return err
			}
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			if r, err = client.Decode[client.Webhook](c.UpdateWebhookWithBody(cmd.Context(), w.Id, contentJSON, rd)); err != nil {
				return err
			}
		} else {
			body["name"] = args[0]
			set(cmd, body, "inventory", "inventory", inventory)
			if source != "" {
				s, _, err := resolveSource(cmd.Context(), c, source)
				if err != nil {
					return err
				}
				body["source"] = s.Id
			}
			if err := applyTargetFlags(cmd, body, readSecret, nil); err != nil {
				return err
			}
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			if r, err = client.Decode[client.Webhook](c.CreateWebhookWithBody(cmd.Context(), contentJSON, rd)); err != nil {
				return err
			}
		}
		return printOne(cmd, r.Value, r.JSON, webhookColumns)
	})
	fs := cmd.Flags()
	if !update {
		fs.StringVar(&inventory, "inventory", "", "report every source of this inventory (name or id)")
		fs.StringVar(&source, "source", "", "report this one source (id, INVENTORY/NAME or name)")
		cmd.RegisterFlagCompletionFunc("inventory", completeInventories)
		cmd.RegisterFlagCompletionFunc("source", completeSources)
	}
	fs.StringVar(&format, "format", "", "the older name of --type: generic (JSON events, signed) or slack")
	addTargetFlags(cmd)
	fs.StringArrayVar(&events, "event", nil, "an event to report: sync.succeeded, sync.partial, sync.failed, hosts.changed (repeat)")
	fs.StringVar(&urlFile, "url-file", "", "a file holding the URL to call (- for stdin)")
	fs.StringVar(&secretFile, "signing-secret-file", "", "a file holding the secret generic requests are signed with (- for stdin; \"\" removes it)")
	fs.BoolVar(&allowInsecure, "allow-insecure", false, "allow a plain http:// URL that is not loopback")
	fs.BoolVar(&enabled, "enabled", true, "deliver events (--enabled=false pauses it)")
	cmd.RegisterFlagCompletionFunc("format", cobra.FixedCompletions([]string{"generic", "slack"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.RegisterFlagCompletionFunc("event", cobra.FixedCompletions([]string{"sync.succeeded", "sync.partial", "sync.failed", "hosts.changed"}, cobra.ShellCompDirectiveNoFileComp))
	addFileFlag(cmd)
	return cmd
}

func readAllStdin(cmd *cobra.Command) ([]byte, error) { return io.ReadAll(cmd.InOrStdin()) }
