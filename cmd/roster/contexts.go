package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"go.yaml.in/yaml/v3"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/ansibleinv"
	"github.com/rosterhq/roster/internal/client"
)

// contextsFile is the CLI's file of contexts, config.yaml in
// $XDG_CONFIG_HOME/roster or ~/.config/roster: the servers the CLI
// talks to, each with its token and how to trust it.
//
//	current_context: prod
//	contexts:
//	  prod:
//	    server: https://roster.example:8443
//	    token_file: ~/.config/roster/prod.token   # or token: rst_...
//	    ca: /etc/roster/ca.pem
type contextsFile struct {
	CurrentContext string                 `yaml:"current_context,omitempty"`
	Contexts       map[string]*cliContext `yaml:"contexts,omitempty"`
}

// cliContext is one server. Token is kept as a plain string here only:
// it leaves this file's code as a roster.Secret.
type cliContext struct {
	Server     string `yaml:"server"`
	Token      string `yaml:"token,omitempty"`
	TokenFile  string `yaml:"token_file,omitempty"`
	CA         string `yaml:"ca,omitempty"`
	ClientCert string `yaml:"client_cert,omitempty"`
	ClientKey  string `yaml:"client_key,omitempty"`
}

// contextsPath is where the contexts file is.
func contextsPath() (string, error) {
	if d := os.Getenv("XDG_CONFIG_HOME"); d != "" {
		return filepath.Join(d, "roster", "config.yaml"), nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find the contexts file: %w", err)
	}
	return filepath.Join(home, ".config", "roster", "config.yaml"), nil
}

// readContexts reads the contexts file; a missing one is empty.
func readContexts() (*contextsFile, string, error) {
	path, err := contextsPath()
	if err != nil {
		return nil, "", err
	}
	f := &contextsFile{}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return f, path, nil
	}
	if err != nil {
		return nil, path, fmt.Errorf("read the contexts file: %w", err)
	}
	dec := yaml.NewDecoder(strings.NewReader(string(b)))
	dec.KnownFields(true)
	if err := dec.Decode(f); err != nil && err.Error() != "EOF" {
		return nil, path, fmt.Errorf("contexts file %s: %s", path, yamlReason(err))
	}
	for name, c := range f.Contexts {
		if c == nil {
			return nil, path, fmt.Errorf("contexts file %s: context %s is empty", path, name)
		}
	}
	return f, path, nil
}

// write replaces the contexts file, readable by its owner only: it may
// hold tokens.
func (f *contextsFile) write(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("write the contexts file: %w", err)
	}
	b, err := yaml.Marshal(f)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".config.yaml.*")
	if err != nil {
		return fmt.Errorf("write the contexts file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return fmt.Errorf("write the contexts file: %w", err)
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("write the contexts file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write the contexts file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write the contexts file: %w", err)
	}
	return nil
}

func (f *contextsFile) names() []string {
	var names []string
	for n := range f.Contexts {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// connection is a server, the token for it and how to trust it.
type connection struct {
	URL   string
	Token roster.Secret
	TLS   client.TLS
}

// addClientFlags gives a command that calls the API, and its
// subcommands, the flags choosing the server and how to trust it.
func addClientFlags(cmd *cobra.Command) {
	fs := cmd.PersistentFlags()
	fs.String("context", "", "the context (server and token) of the contexts file to use (env ROSTER_CONTEXT; default: its current_context)")
	fs.String("server", "", "Roster's base URL, e.g. https://roster.example:8443 (env ROSTER_URL)")
	fs.String("token-file", "", "a file holding the API token (env ROSTER_TOKEN_FILE; ROSTER_TOKEN gives the token itself)")
	fs.String("ca", "", "PEM file of the CA that signs Roster's certificate (env ROSTER_CA; default: the system's CAs)")
	fs.String("client-cert", "", "PEM file of a TLS client certificate, for a server that asks for one (env ROSTER_CLIENT_CERT)")
	fs.String("client-key", "", "PEM file of the client certificate's key (env ROSTER_CLIENT_KEY)")
	cmd.RegisterFlagCompletionFunc("context", completeContexts)
}

// flagValue is a flag's value when it was given on the command line.
func flagValue(cmd *cobra.Command, name string) (string, bool) {
	f := cmd.Flags().Lookup(name)
	if f == nil || !f.Changed {
		return "", false
	}
	return f.Value.String(), true
}

// resolveConnection says which server the command talks to and with
// which token. With a context (--context, ROSTER_CONTEXT or the file's
// current_context), its values are overridden by the ROSTER_*
// environment, then by flags. Without one, the settings are read as
// roster-inventory reads them (its config file, then the environment),
// then the flags. A context's token goes to no other server: a server
// chosen above the context needs its token chosen there too.
func resolveConnection(cmd *cobra.Command) (connection, error) {
	file, path, err := readContexts()
	if err != nil {
		return connection{}, err
	}
	name, named := flagValue(cmd, "context")
	if !named {
		name = envContext()
	}
	if name == "" {
		name = file.CurrentContext
	}
	if name == "" {
		return legacyConnection(cmd)
	}
	ctx, ok := file.Contexts[name]
	if !ok {
		known := "none"
		if len(file.Contexts) > 0 {
			known = strings.Join(file.names(), ", ")
		}
		return connection{}, fmt.Errorf("no context %q in %s (known: %s); add it with roster context set %s --server URL", name, path, known, name)
	}
	home, _ := os.UserHomeDir()
	inFile := contextFiles(path)
	const (
		fromContext = iota
		fromEnv
		fromFlag
	)
	where := []string{"context " + name, "the environment", "the command line"}
	conn := connection{URL: ctx.Server}
	ctxTLS := client.TLS{CA: inFile(ctx.CA), ClientCert: inFile(ctx.ClientCert), ClientKey: inFile(ctx.ClientKey)}
	token, tokenFile := roster.Secret(ctx.Token), inFile(ctx.TokenFile)
	urlFrom, tokenFrom := fromContext, fromContext
	layer := func(from int, url, tok, tokFile, ca, cert, key string) {
		if url != "" && url != conn.URL {
			conn.URL, urlFrom = url, from
		}
		// Within a layer the token wins over a token file.
		switch {
		case tok != "":
			token, tokenFile, tokenFrom = roster.Secret(tok), "", from
		case tokFile != "":
			token, tokenFile, tokenFrom = "", expandHome(tokFile, home), from
		}
		for _, kv := range []struct {
			v   string
			dst *string
		}{{ca, &conn.TLS.CA}, {cert, &conn.TLS.ClientCert}, {key, &conn.TLS.ClientKey}} {
			if kv.v != "" {
				*kv.dst = expandHome(kv.v, home)
			}
		}
	}
	layer(fromEnv, os.Getenv("ROSTER_URL"), os.Getenv("ROSTER_TOKEN"), os.Getenv("ROSTER_TOKEN_FILE"),
		os.Getenv("ROSTER_CA"), os.Getenv("ROSTER_CLIENT_CERT"), os.Getenv("ROSTER_CLIENT_KEY"))
	f := func(n string) string { v, _ := flagValue(cmd, n); return v }
	layer(fromFlag, f("server"), "", f("token-file"), f("ca"), f("client-cert"), f("client-key"))

	// The context's CA and client certificate are how to reach its
	// server: a server chosen above the context does without them.
	if urlFrom == fromContext {
		for _, kv := range []struct{ v, dst *string }{{&ctxTLS.CA, &conn.TLS.CA}, {&ctxTLS.ClientCert, &conn.TLS.ClientCert}, {&ctxTLS.ClientKey, &conn.TLS.ClientKey}} {
			if *kv.dst == "" {
				*kv.dst = *kv.v
			}
		}
	}
	if urlFrom > tokenFrom {
		return connection{}, fmt.Errorf("the server comes from %s but the token from %s, and a context's token goes to its server only: give the token for %s too (ROSTER_TOKEN, ROSTER_TOKEN_FILE or --token-file), or leave the server to the context",
			where[urlFrom], where[tokenFrom], client.DisplayURL(conn.URL))
	}
	if conn.URL == "" {
		return connection{}, fmt.Errorf("context %s has no server: roster context set %s --server URL", name, name)
	}
	if tokenFile != "" {
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return connection{}, fmt.Errorf("read the token file: %w", err)
		}
		if token = roster.Secret(strings.TrimSpace(string(b))); token == "" {
			return connection{}, fmt.Errorf("the token file %s is empty", tokenFile)
		}
	}
	if token == "" {
		return connection{}, fmt.Errorf("context %s has no token: roster context set %s --token-file FILE (or set ROSTER_TOKEN)", name, name)
	}
	conn.Token = token
	return conn, nil
}

// legacyConnection reads the settings as roster-inventory does (its
// config file, then ROSTER_URL, ROSTER_TOKEN, ...), the flags over them.
func legacyConnection(cmd *cobra.Command) (connection, error) {
	server, hasServer := flagValue(cmd, "server")
	tokenFile, hasTokenFile := flagValue(cmd, "token-file")
	getenv := func(k string) string {
		switch {
		case k == "ROSTER_INVENTORY":
			return "-" // not needed by these commands
		case k == "ROSTER_URL" && hasServer:
			return server
		case k == "ROSTER_TOKEN_FILE" && hasTokenFile:
			return tokenFile
		case k == "ROSTER_TOKEN" && hasTokenFile:
			return ""
		}
		return os.Getenv(k)
	}
	flags := map[string]string{}
	for _, name := range ansibleinv.ClientFlags {
		if v, ok := flagValue(cmd, name); ok {
			flags[name] = v
		}
	}
	exe, _ := os.Executable()
	c, err := ansibleinv.LoadConfig(getenv, exe, flags)
	if err != nil {
		if strings.HasPrefix(err.Error(), "no API token given") {
			err = fmt.Errorf("%w; or choose a context (roster context set NAME --server URL --token-file FILE)", err)
		}
		return connection{}, err
	}
	return connection{URL: c.URL, Token: c.Token, TLS: c.TLS()}, nil
}

// apiClient returns a client of the server resolveConnection chooses.
func apiClient(cmd *cobra.Command) (*client.Client, error) {
	conn, err := resolveConnection(cmd)
	if err != nil {
		return nil, err
	}
	return client.NewWithTLS(conn.URL, conn.Token, conn.TLS)
}

// contextFiles resolves the file names of the contexts file at path as
// its contexts use them: ~/ is the home directory, and a relative name is
// relative to the contexts file's directory.
func contextFiles(path string) func(string) string {
	dir := filepath.Dir(path)
	home, _ := os.UserHomeDir()
	return func(p string) string {
		if p == "" {
			return ""
		}
		p = expandHome(p, home)
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		return p
	}
}

func expandHome(path, home string) string {
	if rest, ok := strings.CutPrefix(path, "~/"); ok && home != "" {
		return filepath.Join(home, rest)
	}
	return path
}

// envContext is the context ROSTER_CONTEXT names.
func envContext() string { return os.Getenv("ROSTER_CONTEXT") }
