package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

func newTokenCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Manage API tokens (works on the database directly)",
	}
	cmd.AddCommand(newTokenCreateCommand(), newTokenListCommand(), newTokenRevokeCommand())
	return cmd
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
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
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
			st, err := openStore(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer st.Close()
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
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer st.Close()
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
		},
	}
	addConfigFlags(cmd.Flags(), &base)
	return cmd
}

func newTokenRevokeCommand() *cobra.Command {
	base := defaultConfig()
	cmd := &cobra.Command{
		Use:   "revoke NAME|ID",
		Short: "Revoke an API token",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			st, err := openStore(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer st.Close()
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
		},
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
