package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/rosterhq/roster/internal/client"
)

// contextView is a context as roster context list shows it: never the
// token, only whether there is one.
type contextView struct {
	Name       string `json:"name"`
	Current    bool   `json:"current"`
	Server     string `json:"server"`
	TokenFile  string `json:"token_file,omitempty"`
	TokenSet   bool   `json:"token_set"`
	CA         string `json:"ca,omitempty"`
	ClientCert string `json:"client_cert,omitempty"`
	ClientKey  string `json:"client_key,omitempty"`
}

var contextColumns = columns[contextView]{
	header: []string{"CURRENT", "NAME", "SERVER", "TOKEN", "CA"},
	row: func(c contextView) []string {
		cur, tok := "", "-"
		if c.Current {
			cur = "*"
		}
		switch {
		case c.TokenFile != "":
			tok = c.TokenFile
		case c.TokenSet:
			tok = "(in the file)"
		}
		return []string{cur, c.Name, c.Server, tok, c.CA}
	},
}

func newContextCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "context",
		Short: "Contexts: the servers the CLI talks to, each with its token (~/.config/roster/config.yaml)",
		Long: `A context is a Roster server, the token for it and how to trust it, named in
the contexts file ($XDG_CONFIG_HOME/roster/config.yaml, else
~/.config/roster/config.yaml; written readable by you only). Commands use
--context NAME, else ROSTER_CONTEXT, else the file's current context; ROSTER_URL,
ROSTER_TOKEN, ROSTER_TOKEN_FILE, ROSTER_CA and the flags --server, --token-file,
--ca override its values. A context's token is sent to its server only.`,
		Args: cobra.NoArgs,
	}
	addOutputFlag(cmd)

	list := &cobra.Command{
		Use: "list", Short: "List the contexts (never their tokens)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := readContexts()
			if err != nil {
				return err
			}
			var l list[contextView]
			for _, name := range f.names() {
				c := f.Contexts[name]
				v := contextView{Name: name, Current: name == f.CurrentContext, Server: c.Server, TokenFile: c.TokenFile,
					TokenSet: c.Token != "" || c.TokenFile != "", CA: c.CA, ClientCert: c.ClientCert, ClientKey: c.ClientKey}
				raw, err := json.Marshal(v)
				if err != nil {
					return err
				}
				l.add(v, raw)
			}
			return printList(cmd, l, contextColumns)
		},
	}

	use := &cobra.Command{
		Use: "use NAME", Short: "Make a context the current one", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := editContext(args[0], "add it with roster context set "+args[0]+" --server URL", func(f *contextsFile) {
				f.CurrentContext = args[0]
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "using context", args[0])
			return nil
		},
	}

	var server, tokenFile, ca, clientCert, clientKey string
	var tokenStdin bool
	setCmd := &cobra.Command{
		Use:   "set NAME [--server URL] [--token-file FILE | --token-stdin] [--ca FILE]",
		Short: "Add a context, or change one",
		Example: `  roster context set prod --server https://roster.example:8443 --token-file ~/.config/roster/prod.token --ca /etc/roster/ca.pem
  echo "$TOKEN" | roster context set prod --token-stdin
  roster context use prod`,
		Args:              cobra.ExactArgs(1),
		ValidArgsFunction: completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			f, path, err := readContexts()
			if err != nil {
				return err
			}
			if f.Contexts == nil {
				f.Contexts = map[string]*cliContext{}
			}
			c, existed := f.Contexts[args[0]]
			if !existed {
				c = &cliContext{}
			}
			if cmd.Flags().Changed("server") {
				if err := client.CheckURL(server); err != nil {
					return err
				}
				c.Server = strings.TrimRight(server, "/")
			}
			if c.Server == "" {
				return fmt.Errorf("context %s needs --server URL", args[0])
			}
			if tokenStdin && tokenFile != "" {
				return fmt.Errorf("give --token-file or --token-stdin, not both")
			}
			if cmd.Flags().Changed("token-file") {
				c.TokenFile, c.Token = tokenFile, ""
			}
			if tokenStdin {
				line, err := bufio.NewReader(cmd.InOrStdin()).ReadString('\n')
				if line = strings.TrimSpace(line); line == "" {
					return fmt.Errorf("no token on stdin (%v)", err)
				}
				c.Token, c.TokenFile = line, ""
			}
			for _, kv := range []struct {
				flag string
				v    string
				dst  *string
			}{{"ca", ca, &c.CA}, {"client-cert", clientCert, &c.ClientCert}, {"client-key", clientKey, &c.ClientKey}} {
				if cmd.Flags().Changed(kv.flag) {
					*kv.dst = kv.v
				}
			}
			f.Contexts[args[0]] = c
			if f.CurrentContext == "" {
				f.CurrentContext = args[0]
			}
			if err := f.write(path); err != nil {
				return err
			}
			verb := "added"
			if existed {
				verb = "changed"
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s context %s in %s\n", verb, args[0], path)
			return nil
		},
	}
	fs := setCmd.Flags()
	fs.StringVar(&server, "server", "", "Roster's base URL, e.g. https://roster.example:8443")
	fs.StringVar(&tokenFile, "token-file", "", "a file holding the API token (kept as a path)")
	fs.BoolVar(&tokenStdin, "token-stdin", false, "read the token from stdin and keep it in the contexts file")
	fs.StringVar(&ca, "ca", "", "PEM file of the CA that signs the server's certificate")
	fs.StringVar(&clientCert, "client-cert", "", "PEM file of a TLS client certificate")
	fs.StringVar(&clientKey, "client-key", "", "PEM file of the client certificate's key")

	del := &cobra.Command{
		Use: "delete NAME", Short: "Remove a context", Args: cobra.ExactArgs(1),
		ValidArgsFunction: completeContexts,
		RunE: func(cmd *cobra.Command, args []string) error {
			err := editContext(args[0], "", func(f *contextsFile) {
				delete(f.Contexts, args[0])
				if f.CurrentContext == args[0] {
					f.CurrentContext = ""
				}
			})
			if err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "deleted context", args[0])
			return nil
		},
	}

	current := &cobra.Command{
		Use: "current", Short: "Print the context commands use (--context, ROSTER_CONTEXT or the current one)", Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, _, err := readContexts()
			if err != nil {
				return err
			}
			name := f.CurrentContext
			if env := envContext(); env != "" {
				name = env
			}
			if name == "" {
				return fmt.Errorf("no context chosen: roster context use NAME, or ROSTER_CONTEXT")
			}
			fmt.Fprintln(cmd.OutOrStdout(), name)
			return nil
		},
	}
	cmd.AddCommand(list, use, setCmd, del, current)
	return cmd
}

// editContext reads the contexts file, lets edit change it for the context
// named name, and writes it back. A missing context is an error, with
// hint (if any) saying what to do.
func editContext(name, hint string, edit func(f *contextsFile)) error {
	f, path, err := readContexts()
	if err != nil {
		return err
	}
	if _, ok := f.Contexts[name]; !ok {
		if hint != "" {
			return fmt.Errorf("no context %q in %s: %s", name, path, hint)
		}
		return fmt.Errorf("no context %q in %s", name, path)
	}
	edit(f)
	return f.write(path)
}
