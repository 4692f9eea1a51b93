package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/client"
)

// Users, teams and role bindings: recorded ahead of sign-in (README:
// "Users and teams"). A password is read from a file or stdin, never
// from a flag's value, which any user of the machine could read in ps.

// ---- users

var userColumns = columns[client.User]{
	header: []string{"NAME", "ID", "SOURCE", "DISPLAY NAME", "EMAIL", "PASSWORD", "DISABLED", "LAST SIGN-IN"},
	row: func(u client.User) []string {
		pw := "no"
		if u.HasPassword {
			pw = "set"
		}
		return []string{u.Name, u.Id, string(u.Source), u.DisplayName, u.Email, pw, strconv.FormatBool(u.Disabled), timeCell(u.LastSignInAt)}
	},
}

// readPassword reads a password from a file, or from stdin for "-": its
// first line, without the line's end.
func readPassword(cmd *cobra.Command, path string) (string, error) {
	var r io.Reader
	if path == "-" {
		r = cmd.InOrStdin()
	} else {
		f, err := os.Open(path)
		if err != nil {
			return "", fmt.Errorf("--password-file: %w", err)
		}
		defer f.Close()
		r = f
	}
	line, err := bufio.NewReader(io.LimitReader(r, 4096)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("--password-file %s: %w", path, err)
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("--password-file %s: no password in it", path)
	}
	return line, nil
}

func newUserCommand() *cobra.Command {
	return resourceCommand("user", "Users (recorded ahead of sign-in): list, get, create, update, delete",
		listCommand("List users (never their passwords)", userColumns, (*client.Client).ListUsers),
		&cobra.Command{
			Use: "get USER", Short: "Show a user (by name or id)", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				r, err := client.Decode[client.User](c.GetUser(cmd.Context(), args[0]))
				if err != nil {
					return err
				}
				return printOne(cmd, r.Value, r.JSON, userColumns)
			}),
		},
		userWriteCommand(false),
		userWriteCommand(true),
		&cobra.Command{
			Use: "delete USER", Short: "Delete a user with its tokens, team memberships and role bindings", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.DeleteUser(cmd.Context(), args[0])); err != nil {
					return err
				}
				return deleted(cmd, "user", args[0])
			}),
		},
	)
}

func userWriteCommand(update bool) *cobra.Command {
	var displayName, email, source, provider, passwordFile string
	var disabled bool
	cmd := &cobra.Command{
		Use:   "create NAME [--source local|oidc|ldap [--provider NAME]] [--password-file FILE|-]",
		Short: "Create a user (a local one may be given a password, from a file or stdin)",
		Example: `  roster user create alice --display-name "Alice Example" --password-file - < alice.pw
  roster user create bob --source oidc --provider corp   # linked at bob's first sign-in with corp`,
		Args: cobra.ExactArgs(1),
	}
	if update {
		cmd.Use, cmd.Short, cmd.Example = "update USER", "Change a user's display name, e-mail or password, or disable or enable it", ""
	}
	cmd.RunE = withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
		body, err := requestBody(cmd)
		if err != nil {
			return err
		}
		if _, ok := body["password"]; ok {
			return fmt.Errorf("-f: a password goes in --password-file, not in the request file")
		}
		set(cmd, body, "display-name", "display_name", displayName)
		set(cmd, body, "email", "email", email)
		set(cmd, body, "disabled", "disabled", disabled)
		if passwordFile != "" {
			pw, err := readPassword(cmd, passwordFile)
			if err != nil {
				return err
			}
			body["password"] = pw
		}
		var r *client.Response[client.User]
		if update {
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			r, err = client.Decode[client.User](c.UpdateUserWithBody(cmd.Context(), args[0], contentJSON, rd))
			if err != nil {
				return err
			}
		} else {
			body["name"] = args[0]
			set(cmd, body, "source", "source", source)
			set(cmd, body, "provider", "provider", provider)
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			r, err = client.Decode[client.User](c.CreateUserWithBody(cmd.Context(), contentJSON, rd))
			if err != nil {
				return err
			}
		}
		return printOne(cmd, r.Value, r.JSON, userColumns)
	})
	fs := cmd.Flags()
	fs.StringVar(&displayName, "display-name", "", "the name people know the user by")
	fs.StringVar(&email, "email", "", "the user's e-mail address")
	fs.BoolVar(&disabled, "disabled", false, "disable the user (--disabled=false enables it)")
	fs.StringVar(&passwordFile, "password-file", "", "a file holding a local user's password on its first line (- for stdin)")
	if !update {
		fs.StringVar(&source, "source", "", "where the user signs in: local (default), oidc or ldap")
		cmd.RegisterFlagCompletionFunc("source", cobra.FixedCompletions([]string{"local", "oidc", "ldap"}, cobra.ShellCompDirectiveNoFileComp))
		fs.StringVar(&provider, "provider", "", "an external user's directory or OpenID Connect provider of the server's config: its first sign-in there links it")
	}
	addFileFlag(cmd)
	return cmd
}

// ---- teams

var teamColumns = columns[client.Team]{
	header: []string{"NAME", "ID", "DESCRIPTION", "CREATED"},
	row: func(t client.Team) []string {
		return []string{t.Name, t.Id, t.Description, timeCell(&t.CreatedAt)}
	},
}

func newTeamCommand() *cobra.Command {
	return resourceCommand("team", "Teams of users: list, get, create, update, delete, member add|remove|list",
		listCommand("List teams", teamColumns, (*client.Client).ListTeams),
		&cobra.Command{
			Use: "get TEAM", Short: "Show a team (by name or id)", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				r, err := client.Decode[client.Team](c.GetTeam(cmd.Context(), args[0]))
				if err != nil {
					return err
				}
				return printOne(cmd, r.Value, r.JSON, teamColumns)
			}),
		},
		teamWriteCommand(false),
		teamWriteCommand(true),
		&cobra.Command{
			Use: "delete TEAM", Short: "Delete a team with its memberships and role bindings (its members stay)", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.DeleteTeam(cmd.Context(), args[0])); err != nil {
					return err
				}
				return deleted(cmd, "team", args[0])
			}),
		},
		newTeamMemberCommand(),
	)
}

func teamWriteCommand(update bool) *cobra.Command {
	var name, description string
	cmd := &cobra.Command{Use: "create NAME", Short: "Create a team", Args: cobra.ExactArgs(1)}
	if update {
		cmd.Use, cmd.Short = "update TEAM", "Rename a team or change its description"
	}
	cmd.RunE = withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
		body, err := requestBody(cmd)
		if err != nil {
			return err
		}
		set(cmd, body, "description", "description", description)
		var r *client.Response[client.Team]
		if update {
			set(cmd, body, "name", "name", name)
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			r, err = client.Decode[client.Team](c.UpdateTeamWithBody(cmd.Context(), args[0], contentJSON, rd))
			if err != nil {
				return err
			}
		} else {
			body["name"] = args[0]
			rd, err := jsonReader(body)
			if err != nil {
				return err
			}
			r, err = client.Decode[client.Team](c.CreateTeamWithBody(cmd.Context(), contentJSON, rd))
			if err != nil {
				return err
			}
		}
		return printOne(cmd, r.Value, r.JSON, teamColumns)
	})
	if update {
		cmd.Flags().StringVar(&name, "name", "", "a new name")
	}
	cmd.Flags().StringVar(&description, "description", "", "what the team is")
	addFileFlag(cmd)
	return cmd
}

func newTeamMemberCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "member", Short: "A team's members: add, remove, list", Args: cobra.NoArgs}
	cmd.AddCommand(
		&cobra.Command{
			Use: "list TEAM", Short: "List a team's members", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				l, err := fetchList[client.User](func(*string) (*http.Response, error) { return c.ListTeamMembers(cmd.Context(), args[0]) }, 0)
				if err != nil {
					return err
				}
				return printList(cmd, l, userColumns)
			}),
		},
		&cobra.Command{
			Use: "add TEAM USER", Short: "Make a user a member of a team (both by name or id)", Args: cobra.ExactArgs(2),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				l, err := fetchList[client.User](func(*string) (*http.Response, error) {
					return c.AddTeamMember(cmd.Context(), args[0], client.TeamMemberAdd{User: args[1]})
				}, 0)
				if err != nil {
					return err
				}
				return printList(cmd, l, userColumns)
			}),
		},
		&cobra.Command{
			Use: "remove TEAM USER", Short: "Remove a user from a team (the user stays)", Args: cobra.ExactArgs(2),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.RemoveTeamMember(cmd.Context(), args[0], args[1])); err != nil {
					return err
				}
				format, _ := outputFormat(cmd)
				if format == outputTable {
					fmt.Fprintf(cmd.OutOrStdout(), "removed %s from team %s\n", args[1], args[0])
					return nil
				}
				return deleted(cmd, "team member", args[1])
			}),
		},
	)
	return cmd
}

// ---- role bindings

var bindingColumns = columns[client.RoleBinding]{
	header: []string{"ID", "SUBJECT", "ROLE", "SCOPE", "TARGET", "CREATED"},
	row: func(b client.RoleBinding) []string {
		target := "-"
		if b.TargetName != nil {
			target = *b.TargetName
		}
		return []string{b.Id, string(b.SubjectKind) + " " + b.SubjectName, string(b.Role), string(b.Scope), target, timeCell(&b.CreatedAt)}
	},
}

func newBindingCommand() *cobra.Command {
	var user, team, role, scope, target string
	params := func() *client.ListRoleBindingsParams {
		p := &client.ListRoleBindingsParams{}
		if user != "" {
			p.User = &user
		}
		if team != "" {
			p.Team = &team
		}
		if scope != "" {
			s := client.RoleBindingScope(scope)
			p.Scope = &s
		}
		if target != "" {
			p.Target = &target
		}
		return p
	}
	listBindings := func(cmd *cobra.Command, c *client.Client) (list[client.RoleBinding], error) {
		return fetchList[client.RoleBinding](func(*string) (*http.Response, error) { return c.ListRoleBindings(cmd.Context(), params()) }, 0)
	}
	list := &cobra.Command{
		Use: "list [--user NAME | --team NAME] [--scope server|inventory|credential [--target NAME]]", Short: "List role bindings, of one user or team, or over one scope, when asked", Args: cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			l, err := listBindings(cmd, c)
			if err != nil {
				return err
			}
			return printList(cmd, l, bindingColumns)
		}),
	}
	create := &cobra.Command{
		Use:   "create (--user NAME | --team NAME) --role ROLE --scope server|inventory|credential [--target NAME]",
		Short: "Give a user or a team a role over the server, an inventory or a credential",
		Long: `Give a user, or every member of a team, a role over the whole server, one
inventory or one credential. A runner is bound to an inventory only: using a
credential is a grant (roster grant). Bindings are recorded ahead of sign-in:
no request is authorized by them yet.`,
		Example: `  roster binding create --team ops --role operator --scope server
  roster binding create --user alice --role runner --scope inventory --target prod`,
		Args: cobra.NoArgs,
		RunE: withAPI(func(cmd *cobra.Command, c *client.Client, _ []string) error {
			body := client.RoleBindingCreate{Role: client.Role(role), Scope: client.RoleBindingScope(scope)}
			if user != "" {
				body.User = &user
			}
			if team != "" {
				body.Team = &team
			}
			if target != "" {
				body.Target = &target
			}
			r, err := client.Decode[client.RoleBinding](c.CreateRoleBinding(cmd.Context(), body))
			if err != nil {
				return err
			}
			return printOne(cmd, r.Value, r.JSON, bindingColumns)
		}),
	}
	for _, cmd := range []*cobra.Command{list, create} {
		fs := cmd.Flags()
		fs.StringVar(&user, "user", "", "the user (name or id)")
		fs.StringVar(&team, "team", "", "the team (name or id)")
		fs.StringVar(&scope, "scope", "", "server, inventory or credential")
		fs.StringVar(&target, "target", "", "the inventory or credential (name or id)")
		cmd.MarkFlagsMutuallyExclusive("user", "team")
		cmd.RegisterFlagCompletionFunc("scope", cobra.FixedCompletions([]string{"server", "inventory", "credential"}, cobra.ShellCompDirectiveNoFileComp))
	}
	create.Flags().StringVar(&role, "role", "", "admin, operator, auditor or runner")
	create.RegisterFlagCompletionFunc("role", cobra.FixedCompletions([]string{"admin", "operator", "auditor", "runner"}, cobra.ShellCompDirectiveNoFileComp))
	create.MarkFlagsOneRequired("user", "team")
	create.MarkFlagRequired("role")
	create.MarkFlagRequired("scope")
	return resourceCommand("binding", "Role bindings of users and teams (recorded ahead of sign-in): list, get, create, delete",
		list,
		&cobra.Command{
			Use: "get BINDING-ID", Short: "Show a role binding", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				l, err := listBindings(cmd, c)
				if err != nil {
					return err
				}
				b, raw, ok := findIn(l, args[0], func(b client.RoleBinding) string { return b.Id }, nil)
				if !ok {
					return fmt.Errorf("no role binding %s", args[0])
				}
				return printOne(cmd, b, raw, bindingColumns)
			}),
		},
		create,
		&cobra.Command{
			Use: "delete BINDING-ID", Short: "Delete a role binding", Args: cobra.ExactArgs(1),
			RunE: withAPI(func(cmd *cobra.Command, c *client.Client, args []string) error {
				if _, err := client.Decode[struct{}](c.DeleteRoleBinding(cmd.Context(), args[0])); err != nil {
					return err
				}
				return deleted(cmd, "role binding", args[0])
			}),
		},
	)
}
