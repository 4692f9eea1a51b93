package main

import (
	"context"
	"fmt"
	"os"
	"os/user"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster"
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
	cmd := &cobra.Command{
		Use:   "create --name NAME --role ROLE",
		Short: "Create an API token and print it (once)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, err := loadConfig(cmd, base)
			if err != nil {
				return err
			}
			tok := &roster.Token{Name: name, Role: roster.Role(role)}
			if fe := roster.ValidateName("--name", name); fe != nil {
				return roster.Invalid(*fe)
			}
			if !tok.Role.Valid() {
				return fmt.Errorf("--role %q: must be admin, operator, auditor or runner", role)
			}
			if ttl < 0 {
				return fmt.Errorf("--ttl must be positive")
			}
			if ttl > 0 {
				exp := time.Now().Add(ttl).UTC()
				tok.ExpiresAt = &exp
			}
			st, err := openStore(cmd.Context(), c)
			if err != nil {
				return err
			}
			defer st.Close()
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
	cmd.Flags().DurationVar(&ttl, "ttl", 0, "lifetime, e.g. 720h (default: no expiry)")
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
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tROLE\tCREATED\tEXPIRES\tLAST USED")
			for _, t := range toks {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", t.Name, t.Role, t.CreatedAt.Format(time.RFC3339), timeOrDash(t.ExpiresAt), timeOrDash(t.LastUsedAt))
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
func auditCLI(ctx context.Context, st roster.AuditStore, action string, tok *roster.Token) {
	who := "cli"
	if u, err := user.Current(); err == nil {
		who = "cli:" + u.Username
	}
	e := &roster.AuditEvent{Actor: who, Action: action, Outcome: roster.AuditAllowed, TargetType: "token", TargetID: tok.ID, TargetName: tok.Name,
		Details: map[string]string{"role": string(tok.Role)}}
	if err := st.AppendAudit(ctx, e); err != nil {
		fmt.Fprintln(os.Stderr, "roster: warning: the audit record of this change could not be written:", err)
	}
}
