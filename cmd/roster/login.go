package main

import (
	"errors"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
)

// loginTarget reads the contexts file (f, at path) and names the context
// roster login and logout work on: --context, ROSTER_CONTEXT or the
// file's current context, else "default".
func loginTarget(cmd *cobra.Command) (f *contextsFile, path, target string, err error) {
	f, path, err = readContexts()
	if err != nil {
		return nil, "", "", err
	}
	if name, ok := flagValue(cmd, "context"); ok {
		return f, path, name, nil
	}
	if name := envContext(); name != "" {
		return f, path, name, nil
	}
	if f.CurrentContext != "" {
		return f, path, f.CurrentContext, nil
	}
	return f, path, "default", nil
}

// contextTLS is how a context trusts its server, its files resolved as
// resolveConnection resolves them.
func contextTLS(c *cliContext, path string) client.TLS {
	in := contextFiles(path)
	return client.TLS{CA: in(c.CA), ClientCert: in(c.ClientCert), ClientKey: in(c.ClientKey)}
}

// contextTokenFile is the path of a context's token file, "" if it keeps
// its token in the contexts file.
func contextTokenFile(c *cliContext, path string) string { return contextFiles(path)(c.TokenFile) }

// writeSecretFile replaces a file with data, readable by its owner only.
func writeSecretFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// promptPassword reads a password from the terminal without echoing it.
func promptPassword(cmd *cobra.Command, name string) (string, error) {
	in, ok := cmd.InOrStdin().(*os.File)
	if !ok || !term.IsTerminal(int(in.Fd())) {
		return "", errors.New("no terminal to ask the password on: give --password-file FILE (- for stdin)")
	}
	fmt.Fprintf(cmd.ErrOrStderr(), "Password for %s: ", name)
	b, err := term.ReadPassword(int(in.Fd()))
	fmt.Fprintln(cmd.ErrOrStderr())
	if err != nil {
		return "", fmt.Errorf("read the password: %w", err)
	}
	if len(b) == 0 {
		return "", errors.New("no password given")
	}
	return string(b), nil
}

func newLoginCommand() *cobra.Command {
	var server, name, passwordFile, ca, clientCert, clientKey, provider, sso string
	cmd := &cobra.Command{
		Use:   "login [--context NAME] [--server URL] [--user NAME] [--provider DIRECTORY | --sso PROVIDER]",
		Short: "Sign in and keep a short-lived token of yours in a context",
		Long: `Signs in to Roster and keeps the token the server gives in the context
(--context, ROSTER_CONTEXT, the current context, else "default"): in the
context's token file if it names one, else in the contexts file, both readable
by you only. The token acts as you, with what your role bindings and teams
allow, and ends at the server's session age (--session-max-age, 12h by
default), when you are disabled, or with roster logout.

With a name and password: a local user's, or with --provider a user of an
LDAP / Active Directory server of the server's config. The password is asked on
the terminal, or read from --password-file; never from a flag.

With --sso PROVIDER: through an OpenID Connect provider, in a browser. The
command prints a link and a code; open the link anywhere, sign in, type the
code and approve; the command waits for it (10 minutes at most).`,
		Example: `  roster login --server https://roster.example:8443 --user alice
  roster login --context prod --user alice --password-file - < alice.pw
  roster login --provider corp-ad --user alice
  roster login --sso corp
  roster inventory list
  roster logout`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, path, target, err := loginTarget(cmd)
			if err != nil {
				return err
			}
			if fe := roster.ValidateName("--context", target); fe != nil {
				return fmt.Errorf("%s %s", fe.Field, fe.Message)
			}
			c := f.Contexts[target]
			if c == nil {
				c = &cliContext{}
			}
			if server != "" {
				if err := client.CheckURL(server); err != nil {
					return err
				}
				c.Server = strings.TrimRight(server, "/")
			}
			if c.Server == "" {
				return fmt.Errorf("context %s has no server yet: give --server URL", target)
			}
			for _, kv := range []struct {
				flag, v string
				dst     *string
			}{{"ca", ca, &c.CA}, {"client-cert", clientCert, &c.ClientCert}, {"client-key", clientKey, &c.ClientKey}} {
				if cmd.Flags().Changed(kv.flag) {
					*kv.dst = kv.v
				}
			}
			anon, err := client.NewWithTLS(c.Server, "", contextTLS(c, path))
			if err != nil {
				return err
			}
			var tok client.TokenCreated
			if sso != "" {
				if provider != "" || passwordFile != "" || name != "" {
					return errors.New("--sso signs in through the browser: no --user, --provider or --password-file with it")
				}
				if tok, err = deviceSignIn(cmd, anon, sso); err != nil {
					return err
				}
				// Who approved it: the token says.
				mine, err := client.NewWithTLS(c.Server, roster.Secret(tok.Value), contextTLS(c, path))
				if err != nil {
					return err
				}
				me, err := client.Decode[client.Me](mine.GetMe(cmd.Context()))
				if err != nil {
					return err
				}
				if name = "you"; me.Value.User != nil {
					name = me.Value.User.Name
				}
			} else {
				if name == "" {
					u, err := user.Current()
					if err != nil {
						return errors.New("give --user NAME")
					}
					name = strings.ToLower(u.Username)
				}
				var pw string
				if passwordFile != "" {
					pw, err = readPassword(cmd, passwordFile)
				} else {
					pw, err = promptPassword(cmd, name)
				}
				if err != nil {
					return err
				}
				body := client.Login{Name: name, Password: &pw}
				if provider != "" {
					body.Provider = &provider
				}
				r, err := client.Decode[client.TokenCreated](anon.CreateLoginToken(cmd.Context(), body))
				if err != nil {
					return err
				}
				tok = r.Value
			}
			// The token this replaces is revoked, not left to live out
			// its time (best effort: it may have ended already).
			old := roster.Secret(c.Token)
			if file := contextTokenFile(c, path); file != "" {
				if b, err := os.ReadFile(file); err == nil {
					old = roster.Secret(strings.TrimSpace(string(b)))
				}
				if err := writeSecretFile(file, []byte(tok.Value+"\n")); err != nil {
					return fmt.Errorf("write the token file: %w", err)
				}
			} else {
				c.Token = tok.Value
			}
			if old != "" {
				if prev, err := client.NewWithTLS(c.Server, old, contextTLS(c, path)); err == nil {
					if resp, err := prev.Logout(cmd.Context()); err == nil {
						resp.Body.Close()
					}
				}
			}
			if f.Contexts == nil {
				f.Contexts = map[string]*cliContext{}
			}
			f.Contexts[target] = c
			if f.CurrentContext == "" {
				f.CurrentContext = target
			}
			if err := f.write(path); err != nil {
				return err
			}
			until := "it is revoked"
			if tok.ExpiresAt != nil {
				until = tok.ExpiresAt.Local().Format("2006-01-02 15:04 MST")
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed in to %s as %s (context %s), until %s\n", client.DisplayURL(c.Server), name, target, until)
			return nil
		},
	}
	fs := cmd.Flags()
	fs.String("context", "", "the context to sign in for (default: ROSTER_CONTEXT, the current context, else \"default\")")
	fs.StringVar(&server, "server", "", "Roster's base URL, kept in the context (needed for a new context)")
	fs.StringVar(&name, "user", "", "your Roster user name (default: your login name)")
	fs.StringVar(&passwordFile, "password-file", "", "a file holding the password on its first line (- for stdin; default: ask on the terminal)")
	fs.StringVar(&provider, "provider", "", "the LDAP / Active Directory server of the server's config that checks the password (default: a local user)")
	fs.StringVar(&sso, "sso", "", "sign in with this OpenID Connect provider of the server's config, in a browser")
	fs.StringVar(&ca, "ca", "", "PEM file of the CA that signs Roster's certificate, kept in the context")
	fs.StringVar(&clientCert, "client-cert", "", "PEM file of a TLS client certificate, kept in the context")
	fs.StringVar(&clientKey, "client-key", "", "PEM file of the client certificate's key, kept in the context")
	cmd.RegisterFlagCompletionFunc("context", completeContexts)
	return cmd
}

// deviceSignIn signs the command line in through the browser: it starts
// a device sign-in, shows the person where to approve it, and polls until
// it is approved, denied or over.
func deviceSignIn(cmd *cobra.Command, c *client.Client, provider string) (client.TokenCreated, error) {
	ctx := cmd.Context()
	start, err := client.Decode[client.DeviceSignIn](c.StartDeviceSignIn(ctx, client.DeviceSignInStart{Provider: provider}))
	if err != nil {
		return client.TokenCreated{}, err
	}
	d := start.Value
	fmt.Fprintf(cmd.ErrOrStderr(), "Open %s in a browser, sign in, type the code %s and approve. Waiting...\n", d.VerificationUri, d.UserCode)
	every := time.Duration(max(d.Interval, 1)) * time.Second
	deadline := time.Now().Add(time.Duration(d.ExpiresIn) * time.Second)
	for {
		select {
		case <-ctx.Done():
			return client.TokenCreated{}, ctx.Err()
		case <-time.After(every):
		}
		r, err := client.Decode[client.TokenCreated](c.FinishDeviceSignIn(ctx, client.DeviceSignInPoll{DeviceCode: d.DeviceCode}))
		if err != nil {
			return client.TokenCreated{}, err
		}
		if r.Status == http.StatusCreated {
			return r.Value, nil
		}
		if time.Now().After(deadline) {
			return client.TokenCreated{}, errors.New("the sign-in was not approved in time: run roster login again")
		}
	}
}

func newLogoutCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "logout [--context NAME]",
		Short: "Revoke the token roster login kept in a context, and forget it",
		Long: `Revokes, on the server, the token of yours the context holds (what roster
login kept) and removes it from the context. A service token is not revoked
this way: an admin deletes it (roster token delete).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			f, path, target, err := loginTarget(cmd)
			if err != nil {
				return err
			}
			c := f.Contexts[target]
			if c == nil {
				return fmt.Errorf("no context %q in %s: nothing to sign out of", target, path)
			}
			file := contextTokenFile(c, path)
			token := roster.Secret(c.Token)
			if file != "" {
				b, err := os.ReadFile(file)
				if errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("context %s holds no token (%s is absent): nothing to sign out of", target, file)
				} else if err != nil {
					return fmt.Errorf("read the token file: %w", err)
				}
				token = roster.Secret(strings.TrimSpace(string(b)))
			}
			if token == "" {
				return fmt.Errorf("context %s holds no token: nothing to sign out of", target)
			}
			cl, err := client.NewWithTLS(c.Server, token, contextTLS(c, path))
			if err != nil {
				return err
			}
			_, err = client.Decode[struct{}](cl.Logout(cmd.Context()))
			var apiErr *client.Error
			switch {
			case errors.As(err, &apiErr) && apiErr.Status == http.StatusUnauthorized:
				// Ended already (expired, revoked, its user disabled):
				// forgetting it is all there is to do.
			case err != nil:
				return err
			}
			if file != "" {
				if err := os.Remove(file); err != nil {
					return fmt.Errorf("remove the token file: %w", err)
				}
			} else {
				c.Token = ""
				if err := f.write(path); err != nil {
					return err
				}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "signed out of %s (context %s)\n", client.DisplayURL(c.Server), target)
			return nil
		},
	}
	cmd.Flags().String("context", "", "the context to sign out of (default: ROSTER_CONTEXT, else the current context)")
	cmd.RegisterFlagCompletionFunc("context", completeContexts)
	return cmd
}
