package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/client"
)

// The token commands go through the API, like every resource command.
// Given --data-dir, --database or --config, they work on the database
// directly instead: that is how the first admin token is made, before
// any token can call the API (and how one is made again when every
// admin token is lost).

func newTokenCommand() *cobra.Command {
	cmd := resourceCommand("token", "API tokens: list, get, create, delete (--data-dir/--database: on the database directly, to bootstrap)",
		newTokenListCommand(), newTokenGetCommand(), newTokenCreateCommand(), newTokenRevokeCommand())
	cmd.Long = `API tokens, through the API: roster token list|get|create|delete.

With --data-dir, --database or --config, token list, create and delete work on
the server's database directly, without the API: the bootstrap path for the
first admin token (roster token create --name admin --role admin --data-dir DIR).`
	return cmd
}

var tokenColumns = columns[client.Token]{
	header: []string{"NAME", "ID", "ROLE", "READ-ONLY", "INVENTORIES", "EXPIRES", "LAST USED"},
	row: func(t client.Token) []string {
		inv := "all"
		switch {
		case t.Inventories != nil:
			inv = strings.Join(*t.Inventories, ",")
		case t.Role == client.Runner:
			inv = "granted"
		}
		return []string{t.Name, t.Id, string(t.Role), strconv.FormatBool(t.ReadOnly), inv, timeCell(t.ExpiresAt), timeCell(t.LastUsedAt)}
	},
}

// onDatabase says whether a token command works on the database (given
// --data-dir, --database or --config) rather than through the API, and
// refuses a command line asking for both.
func onDatabase(cmd *cobra.Command) (bool, error) {
	var db, remote []string
	for _, f := range []string{"data-dir", "database", "config"} {
		if cmd.Flags().Changed(f) {
			db = append(db, "--"+f)
		}
	}
	for _, f := range []string{"context", "server", "token-file"} {
		if cmd.Flags().Changed(f) {
			remote = append(remote, "--"+f)
		}
	}
	if len(db) > 0 && len(remote) > 0 {
		return false, fmt.Errorf("%s work on the database directly, %s through the API: give one or the other", strings.Join(db, " "), strings.Join(remote, " "))
	}
	return len(db) > 0, nil
}

func fetchTokens(cmd *cobra.Command, c *client.Client) (list[client.Token], error) {
	return fetchList[client.Token](func(*string) (*http.Response, error) { return c.ListTokens(cmd.Context()) }, 0)
}

func newTokenGetCommand() *cobra.Command {
	return &cobra.Command{
		Use: "get TOKEN", Short: "Show a token (by name or id; never its value)", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeTokens,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
			l, err := fetchTokens(cmd, c)
			if err != nil {
				return err
			}
			t, raw, ok := findIn(l, args[0], func(t client.Token) string { return t.Id }, func(t client.Token) string { return t.Name })
			if !ok {
				return fmt.Errorf("no token %s", args[0])
			}
			return printOne(cmd, t, raw, tokenColumns)
		}),
	}
}

func newTokenCreateCommand() *cobra.Command {
	base := defaultConfig()
	var name, role string
	var ttl time.Duration
	var inventories []string
	var readOnly bool
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create an API token and print it (once)",
		Long: `Create an API token and print it, once: Roster keeps only its hash.

Through the API, or with --data-dir / --database / --config on the database
directly (to make the first admin token). -o json prints the API's object,
its value included.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if db, err := onDatabase(cmd); err != nil {
				return err
			} else if !db {
				return withAPI(func(cmd *cobra.Command, c *client.Client, _ []string) error {
					body := client.TokenCreate{Name: name, Role: client.Role(role)}
					if cmd.Flags().Changed("ttl") {
						d := ttl.String()
						body.Ttl = &d
					}
					if cmd.Flags().Changed("inventory") {
						body.Inventories = &inventories
					}
					if readOnly {
						body.ReadOnly = &readOnly
					}
					r, err := client.Decode[client.TokenCreated](c.CreateToken(cmd.Context(), body))
					if err != nil {
						return err
					}
					if format, _ := outputFormat(cmd); format != outputTable {
						return printJSON(cmd.OutOrStdout(), format, r.JSON)
					}
					fmt.Fprintln(cmd.ErrOrStderr(), "Created token", r.Value.Name, "with role", string(r.Value.Role)+". Store it now: it is not shown again.")
					fmt.Fprintln(cmd.OutOrStdout(), r.Value.Value)
					return nil
				})(cmd, nil)
			}
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			spec := api.TokenSpec{Name: name, Role: roster.Role(role), ReadOnly: readOnly}
			if cmd.Flags().Changed("ttl") {
				spec.TTL = &ttl
			}
			if cmd.Flags().Changed("inventory") {
				spec.Inventories = inventories
			}
			created := isNewDatabase(c)
			st, err := openStore(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer st.Close()
			if created {
				// The bootstrap may come before the first start; a typo in
				// --data-dir must not go unnoticed.
				fmt.Fprintln(cmd.ErrOrStderr(), "No database was at", displayDatabase(c.Database)+": created a new one.")
			}
			tok, err := api.NewToken(cmd.Context(), st, spec, time.Now(), time.Duration(c.TokenMaxTTL))
			if err != nil {
				return flagErrors(err, map[string]string{"name": "--name", "role": "--role", "ttl": "--ttl", "inventories": "--inventory"})
			}
			value, hash := roster.NewTokenValue()
			if err := st.CreateToken(cmd.Context(), tok, hash); err != nil {
				return err
			}
			auditCLI(cmd.Context(), st, "token.create", tok)
			fmt.Fprintln(cmd.ErrOrStderr(), "Created token", tok.Name, "with role", tok.Role+". Store it now: it is not shown again.")
			fmt.Fprintln(cmd.OutOrStdout(), value.Reveal())
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "token name (unique)")
	cmd.Flags().StringVar(&role, "role", "", "admin, operator, auditor or runner")
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, at least 1m, e.g. 720h (default: --token-max-ttl, or no expiry when there is none)")
	cmd.Flags().StringArrayVar(&inventories, "inventory", nil, "limit the token to this inventory (name or id; repeat for several)")
	cmd.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"admin", "operator", "auditor", "runner"}, cobra.ShellCompDirectiveNoFileComp))
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "limit the token to operations that change nothing")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("role")
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func newTokenListCommand() *cobra.Command {
	base := defaultConfig()
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List API tokens (never their values)",
		Args:  cobra.NoArgs,
		RunE: apiOrDatabase(&base, func(cmd *cobra.Command, c *client.Client, _ []string) error {
			l, err := fetchTokens(cmd, c)
			if err != nil {
				return err
			}
			return printList(cmd, l, tokenColumns)
		}, func(cmd *cobra.Command, st rosterStore, _ []string) error {
			toks, err := st.Tokens(cmd.Context())
			if err != nil {
				return err
			}
			invs, err := st.Inventories(cmd.Context())
			if err != nil {
				return err
			}
			names := make(map[string]string, len(invs))
			for _, inv := range invs {
				names[inv.ID] = inv.Name
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tROLE\tSEES\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range toks {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, tokenSees(t, names), t.CreatedAt.Format(time.RFC3339), timeOrDash(t.ExpiresAt), timeOrDash(t.LastUsedAt))
			}
			return w.Flush()
		}),
	}
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func newTokenRevokeCommand() *cobra.Command {
	base := defaultConfig()
	cmd := &cobra.Command{
		Use:               "delete TOKEN",
		Aliases:           []string{"revoke"},
		Short:             "Revoke an API token (by name or id)",
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeTokens,
		RunE: apiOrDatabase(&base, func(cmd *cobra.Command, c *client.Client, args []string) error {
			if _, err := client.Decode[struct{}](c.DeleteToken(cmd.Context(), args[0])); err != nil {
				return err
			}
			return deleted(cmd, "token", args[0])
		}, func(cmd *cobra.Command, st rosterStore, args []string) error {
			tok, err := st.Token(cmd.Context(), args[0])
			if err != nil {
				return err
			}
			if err := st.DeleteToken(cmd.Context(), tok.ID); err != nil {
				return err
			}
			auditCLI(cmd.Context(), st, "token.delete", tok)
			fmt.Fprintln(cmd.OutOrStdout(), "revoked", args[0])
			return nil
		}),
	}
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func timeOrDash(t *time.Time) string {
	if t == nil {
		return "-"
	}
	return t.Format(time.RFC3339)
}

// auditCLI records a token change made on the database directly, as the
// API records its own: the audit log must show every token that exists.
// tokenSees says what a token may see, for token list: the inventories it
// is limited to (by name; an id when the inventory is gone), and whether it
// is read-only.
func tokenSees(t *roster.Token, names map[string]string) string {
	var out string
	switch {
	case t.Inventories != nil:
		shown := make([]string, len(t.Inventories))
		for i, id := range t.Inventories {
			if shown[i] = names[id]; shown[i] == "" {
				shown[i] = id + " (deleted)"
			}
		}
		out = strings.Join(shown, ",")
		if out == "" {
			out = "no inventory"
		}
	case t.Role == roster.RoleRunner:
		out = "granted inventories"
	default:
		out = "all"
	}
	if t.ReadOnly {
		out += ", read-only"
	}
	return out
}

// flagErrors says a spec's field errors in the command line's words.
func flagErrors(err error, flags map[string]string) error {
	fields := roster.ErrorFields(err)
	if len(fields) == 0 {
		return err
	}
	msgs := make([]string, len(fields))
	for i, f := range fields {
		name, _, _ := strings.Cut(f.Field, "[")
		if flag, ok := flags[name]; ok {
			name = flag
		}
		msgs[i] = name + ": " + f.Message
	}
	return errors.New(strings.Join(msgs, "; "))
}

func auditCLI(ctx context.Context, st roster.AuditStore, action string, tok *roster.Token) {
	who := "cli"
	if u, err := user.Current(); err == nil {
		who = "cli:" + u.Username
	}
	e := &roster.AuditEvent{Actor: who, Action: action, Outcome: roster.AuditAllowed, TargetType: "token", TargetID: tok.ID, TargetName: tok.Name,
		Details: api.TokenAuditDetails(tok)}
	if err := st.AppendAudit(ctx, e); err != nil {
		fmt.Fprintln(os.Stderr, "roster: warning: the audit record of this change could not be written:", err)
	}
}

// apiOrDatabase is the RunE of a token command that works through the
// API (viaAPI) or, given a database flag, on the existing database of the
// configuration (base and the flags) directly (onDB).
func apiOrDatabase(base *Config, viaAPI apiRun, onDB func(cmd *cobra.Command, st rosterStore, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		db, err := onDatabase(cmd)
		if err != nil {
			return err
		}
		if !db {
			return withAPI(viaAPI)(cmd, args)
		}
		c, err := loadConfig(cmd, *base)
		if err != nil {
			return err
		}
		st, err := openExistingStore(cmd.Context(), c)
		if err != nil {
			return err
		}
		defer st.Close()
		return onDB(cmd, st, args)
	}
}

// openExistingStore opens the database of a command that reads or
// changes what is there: a SQLite file that does not exist (a mistyped
// --data-dir) is an error, never a new empty database.
func openExistingStore(ctx context.Context, c Config) (rosterStore, error) {
	if !isPostgres(c.Database) {
		if _, err := os.Stat(c.Database); errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("no Roster database at %s: check --data-dir / --database (roster serve and roster migrate create one)", c.Database)
		}
	}
	return openStore(ctx, c)
}

// isNewDatabase says whether opening c's database would create it.
func isNewDatabase(c Config) bool {
	if isPostgres(c.Database) {
		return false
	}
	_, err := os.Stat(c.Database)
	return errors.Is(err, fs.ErrNotExist)
}
