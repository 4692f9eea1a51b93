package main

import (
	"fmt"
	"os"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/ansibleinv"
	"github.com/rosterhq/roster/internal/client"
)

// apiClient returns a client of the Roster server named by ROSTER_URL and
// ROSTER_TOKEN / ROSTER_TOKEN_FILE (or roster-inventory's config file),
// trusting what --ca / ROSTER_CA and the client certificate settings say.
func apiClient(cmd *cobra.Command) (*client.Client, error) {
	getenv := func(k string) string {
		if k == "ROSTER_INVENTORY" {
			return "-" // not needed by these commands
		}
		return os.Getenv(k)
	}
	exe, _ := os.Executable()
	c, err := ansibleinv.LoadConfig(getenv, exe, clientFlags(cmd))
	if err != nil {
		return nil, err
	}
	return client.NewWithTLS(c.URL, c.Token, c.TLS())
}

// addClientFlags gives a command that calls the API, and its
// subcommands, the flags choosing how to trust the server (also
// ROSTER_CA, ROSTER_CLIENT_CERT, ROSTER_CLIENT_KEY, and the keys ca,
// client_cert, client_key of roster-inventory's config file).
func addClientFlags(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.String("ca", "", "PEM file of the CA that signs Roster's certificate (env ROSTER_CA; default: the system's CAs)")
	fs.String("client-cert", "", "PEM file of a TLS client certificate, for a server that asks for one (env ROSTER_CLIENT_CERT)")
	fs.String("client-key", "", "PEM file of the client certificate's key (env ROSTER_CLIENT_KEY)")
}

// clientFlags are the client flags given on cmd's command line.
func clientFlags(cmd *cobra.Command) map[string]string {
	flags := map[string]string{}
	for _, name := range ansibleinv.ClientFlags {
		if f := cmd.Flags().Lookup(name); f != nil && f.Changed {
			flags[name] = f.Value.String()
		}
	}
	return flags
}

func newCredentialCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "credential",
		Short: "Manage brokered credentials through the API (ROSTER_URL, ROSTER_TOKEN)",
	}
	cmd.AddCommand(newCredentialCreateCommand(), newCredentialListCommand(), newCredentialDeleteCommand())
	addClientFlags(cmd)
	return cmd
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

func newCredentialCreateCommand() *cobra.Command {
	var name, typ, description string
	var pairs []string
	cmd := &cobra.Command{
		Use:   "create --name NAME --type TYPE --field NAME=VALUE|@FILE ...",
		Short: "Create a credential (secret fields go to the secret backend)",
		Example: `  roster credential create --name deploy-key --type ssh_key --field username=deploy --field private_key=@$HOME/.ssh/id_ed25519
  roster credential create --name ops-ca --type ssh_certificate --field username=ops --field role=ops --field ttl=15m`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fields, err := parseFields(pairs)
			if err != nil {
				return err
			}
			api, err := apiClient(cmd)
			if err != nil {
				return err
			}
			var out struct {
				ID      string `json:"id"`
				Version int    `json:"version"`
				Backend string `json:"backend"`
			}
			err = api.Do(cmd.Context(), "POST", "/credentials", map[string]any{"name": name, "type": typ, "description": description, "fields": fields}, &out)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "created credential %s (%s), secret fields in the %s backend, version %d\n", name, out.ID, out.Backend, out.Version)
			return nil
		},
	}
	cmd.Flags().StringVar(&name, "name", "", "credential name")
	cmd.Flags().StringVar(&typ, "type", "", "ssh_key, ssh_certificate, password, token, aws, gcp, azure or openstack")
	cmd.Flags().StringVar(&description, "description", "", "what it is for")
	cmd.Flags().StringArrayVar(&pairs, "field", nil, "a field, NAME=VALUE or NAME=@FILE (repeat)")
	cmd.MarkFlagRequired("name")
	cmd.MarkFlagRequired("type")
	return cmd
}

func newCredentialListCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "list",
		Short: "List credentials (never their secret values)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := apiClient(cmd)
			if err != nil {
				return err
			}
			var list struct {
				Items []struct {
					Name       string            `json:"name"`
					Type       string            `json:"type"`
					Fields     map[string]string `json:"fields"`
					SecretsSet []string          `json:"secrets_set"`
					Version    int               `json:"version"`
				} `json:"items"`
			}
			if err := api.Do(cmd.Context(), "GET", "/credentials", nil, &list); err != nil {
				return err
			}
			w := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(w, "NAME\tTYPE\tFIELDS\tSECRETS SET\tVERSION")
			for _, c := range list.Items {
				var fields []string
				for k, v := range c.Fields {
					fields = append(fields, k+"="+v)
				}
				sort.Strings(fields)
				fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%d\n", c.Name, c.Type, strings.Join(fields, " "), strings.Join(c.SecretsSet, ","), c.Version)
			}
			return w.Flush()
		},
	}
}

func newCredentialDeleteCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "delete NAME",
		Short: "Delete a credential, every version of its secrets, and its grants",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := apiClient(cmd)
			if err != nil {
				return err
			}
			if err := api.Do(cmd.Context(), "DELETE", "/credentials/"+client.PathEscape(args[0]), nil, nil); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "deleted", args[0])
			return nil
		},
	}
}

func newGrantCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "grant",
		Short: "Let runner tokens use credentials for inventories (through the API)",
	}
	var token, credential, inventory string
	create := &cobra.Command{
		Use:   "create --token NAME --credential NAME --inventory NAME",
		Short: "Let a token use a credential for an inventory",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			api, err := apiClient(cmd)
			if err != nil {
				return err
			}
			var g struct {
				ID string `json:"id"`
			}
			if err := api.Do(cmd.Context(), "POST", "/grants", map[string]string{"token": token, "credential": credential, "inventory": inventory}, &g); err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "granted %s the use of %s for %s (grant %s)\n", token, credential, inventory, g.ID)
			return nil
		},
	}
	create.Flags().StringVar(&token, "token", "", "the token (name or id)")
	create.Flags().StringVar(&credential, "credential", "", "the credential (name or id)")
	create.Flags().StringVar(&inventory, "inventory", "", "the inventory (name or id)")
	for _, f := range []string{"token", "credential", "inventory"} {
		create.MarkFlagRequired(f)
	}
	revoke := &cobra.Command{
		Use:   "revoke GRANT-ID",
		Short: "Revoke a grant",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			api, err := apiClient(cmd)
			if err != nil {
				return err
			}
			return api.Do(cmd.Context(), "DELETE", "/grants/"+client.PathEscape(args[0]), nil, nil)
		},
	}
	cmd.AddCommand(create, revoke)
	addClientFlags(cmd)
	return cmd
}
