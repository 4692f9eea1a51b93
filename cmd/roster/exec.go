package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/spf13/cobra"
	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
)

func newExecCommand() *cobra.Command {
	var inventory, credential, ttl string
	cmd := &cobra.Command{
		Use:   "exec --inventory NAME --credential NAME -- COMMAND [ARGS...]",
		Short: "Run a command (ansible-playbook, ssh, ...) with a brokered SSH credential and the inventory",
		Long: `Run a command with a brokered SSH credential and the dynamic inventory wired in.

For an ssh_certificate credential, a fresh ed25519 key is made in memory and
signed by the broker; for an ssh_key credential, the key is issued. The key
(and certificate) are written to a private temporary directory, removed when
the command ends (Ctrl-C included). The command gets:
  ANSIBLE_INVENTORY         an inventory script for --inventory
  ANSIBLE_PRIVATE_KEY_FILE  the key (its certificate beside it, as ssh expects)
  ANSIBLE_REMOTE_USER       the credential's user
  ROSTER_SSH_KEY_FILE, ROSTER_SSH_USER  the same, for scripts and plain ssh
Talks to the server of the context (--context, ROSTER_CONTEXT), or of
ROSTER_URL and ROSTER_TOKEN / ROSTER_TOKEN_FILE like roster-inventory, and
trusts it per --ca / ROSTER_CA (and a client certificate); the inventory
script the command runs gets the same.
The exit status is the command's; roster exec's own failures exit 125, a
command that cannot run 126, a command not found 127 (as env(1) does).`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			conn, err := resolveConnection(cmd)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "roster exec:", err)
				return exitError{exitExecFailed}
			}
			code, err := runExec(cmd.Context(), inventory, credential, ttl, conn, args)
			if err != nil {
				fmt.Fprintln(cmd.ErrOrStderr(), "roster exec:", err)
				return exitError{exitExecFailed}
			}
			if code != 0 {
				return exitError{code}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&inventory, "inventory", "", "the inventory (name or id) the command works on")
	cmd.Flags().StringVar(&credential, "credential", "", "the ssh_certificate or ssh_key credential to use")
	cmd.Flags().StringVar(&ttl, "ttl", "", "certificate lifetime (default: the credential's)")
	cmd.MarkFlagRequired("inventory")
	cmd.MarkFlagRequired("credential")
	addClientFlags(cmd)
	return cmd
}

// Exit statuses of roster exec's own failures, as env(1) and docker run
// use them, apart from whatever the command exits with.
const (
	exitExecFailed  = 125
	exitCannotRun   = 126
	exitNotFound    = 127
	tempDirFallback = "" // os.TempDir
)

// tempDir prefers the user's runtime directory (a tmpfs, private to the
// user) for the key, over the shared temporary directory.
func tempDir() string {
	if d := os.Getenv("XDG_RUNTIME_DIR"); d != "" {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			return d
		}
	}
	return tempDirFallback
}

// runExec prepares the credential, runs the command and cleans up. It
// returns the command's exit status.
func runExec(ctx context.Context, inventory, credential, ttl string, conf connection, argv []string) (int, error) {
	exe, err := os.Executable()
	if err != nil {
		return 0, fmt.Errorf("find this program: %w", err)
	}
	api, err := client.NewWithTLS(conf.URL, conf.Token, conf.TLS)
	if err != nil {
		return 0, err
	}

	var cred struct {
		Name   string            `json:"name"`
		Type   string            `json:"type"`
		Fields map[string]string `json:"fields"`
	}
	if err := api.Do(ctx, "GET", "/credentials/"+client.PathEscape(credential), nil, &cred); err != nil {
		var apiErr *client.Error
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
			// A runner sees only the credentials it holds grants of: the
			// server cannot say which of the two this is, but the user can.
			return 0, fmt.Errorf("credential %s: not found, or this token holds no grant of it (an admin grants it: roster grant create --token NAME --credential %s --inventory %s)", credential, credential, inventory)
		}
		return 0, fmt.Errorf("credential %s: %w", credential, err)
	}

	dir, err := os.MkdirTemp(tempDir(), "roster-exec-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "id_ed25519")
	var user string
	switch roster.CredentialType(cred.Type) {
	case roster.CredentialSSHCertificate:
		user, err = signedKey(ctx, api, credential, inventory, ttl, keyFile)
	case roster.CredentialSSHKey:
		user, err = issuedKey(ctx, api, credential, inventory, keyFile)
	default:
		err = fmt.Errorf("credential %s is of type %s; roster exec uses ssh_certificate and ssh_key credentials", credential, cred.Type)
	}
	if err != nil {
		return 0, err
	}
	script := filepath.Join(dir, "inventory")
	if err := os.WriteFile(script, []byte("#!/bin/sh\nexec "+shellQuote(exe)+" inventory \"$@\"\n"), 0o700); err != nil {
		return 0, err
	}
	// The runner's token reaches the inventory script through a file, not
	// the environment every descendant of the command inherits.
	tokenFile := filepath.Join(dir, "token")
	if err := os.WriteFile(tokenFile, []byte(conf.Token.Reveal()), 0o600); err != nil {
		return 0, err
	}

	child := exec.Command(argv[0], argv[1:]...)
	child.Stdin, child.Stdout, child.Stderr = os.Stdin, os.Stdout, os.Stderr
	child.Env = append(withoutEnv(os.Environ(), "ROSTER_TOKEN"),
		"ROSTER_URL="+conf.URL,
		"ROSTER_INVENTORY="+inventory,
		"ROSTER_TOKEN_FILE="+tokenFile,
		"ANSIBLE_INVENTORY="+script,
		"ANSIBLE_PRIVATE_KEY_FILE="+keyFile,
		"ANSIBLE_REMOTE_USER="+user,
		"ROSTER_SSH_KEY_FILE="+keyFile,
		"ROSTER_SSH_USER="+user,
	)
	// The inventory script trusts the server the way this command did.
	for _, kv := range [][2]string{{"ROSTER_CA", conf.TLS.CA}, {"ROSTER_CLIENT_CERT", conf.TLS.ClientCert}, {"ROSTER_CLIENT_KEY", conf.TLS.ClientKey}} {
		if kv[1] != "" {
			path, err := filepath.Abs(kv[1])
			if err != nil {
				return 0, err
			}
			child.Env = append(child.Env, kv[0]+"="+path)
		}
	}
	// Ctrl-C goes to the whole foreground process group, the child
	// included; relay the other signals that end a session ourselves, and
	// stay alive to clean up after the child ends (a hung-up terminal must
	// not leave the key behind).
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT)
	defer signal.Stop(signals)
	if err := child.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "roster exec: %v\n", err)
		if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
			return exitNotFound, nil
		}
		return exitCannotRun, nil
	}
	done := make(chan error, 1)
	go func() { done <- child.Wait() }()
	for {
		select {
		case sig := <-signals:
			child.Process.Signal(sig)
		case err := <-done:
			return exitStatus(err), nil
		}
	}
}

// withoutEnv drops a variable from an environment.
func withoutEnv(env []string, name string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// exitStatus is a finished command's exit status, 128+N when it died of
// signal N, as shells report it.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	return 1
}

// signedKey makes an ed25519 key in memory, has the broker sign it, and
// writes key and certificate (as id_ed25519 and id_ed25519-cert.pub, where
// ssh looks for a key's certificate).
func signedKey(ctx context.Context, api *client.Client, credential, inventory, ttl, keyFile string) (string, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	req := map[string]any{"inventory": inventory, "public_key": string(ssh.MarshalAuthorizedKey(sshPub))}
	if ttl != "" {
		req["ttl"] = ttl
	}
	var signed struct {
		Certificate string `json:"certificate"`
		Username    string `json:"username"`
	}
	if err := api.Do(ctx, "POST", "/credentials/"+client.PathEscape(credential)+"/ssh/sign", req, &signed); err != nil {
		return "", fmt.Errorf("sign a key with %s: %w", credential, err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "roster exec")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(keyFile+"-cert.pub", []byte(signed.Certificate+"\n"), 0o600); err != nil {
		return "", err
	}
	return signed.Username, nil
}

// issuedKey fetches an ssh_key credential and writes its key, decrypted
// (ssh cannot ask for a passphrase under Ansible).
func issuedKey(ctx context.Context, api *client.Client, credential, inventory, keyFile string) (string, error) {
	var issued struct {
		Fields map[string]string `json:"fields"`
	}
	if err := api.Do(ctx, "POST", "/credentials/"+client.PathEscape(credential)+"/issue", map[string]any{"inventory": inventory}, &issued); err != nil {
		return "", fmt.Errorf("issue %s: %w", credential, err)
	}
	key := []byte(issued.Fields["private_key"])
	if pass := issued.Fields["passphrase"]; pass != "" {
		raw, err := ssh.ParseRawPrivateKeyWithPassphrase(key, []byte(pass))
		if err != nil {
			return "", fmt.Errorf("decrypt the key of %s: the passphrase does not open it", credential)
		}
		block, err := ssh.MarshalPrivateKey(raw, "roster exec")
		if err != nil {
			return "", err
		}
		key = pem.EncodeToMemory(block)
	}
	if err := os.WriteFile(keyFile, key, 0o600); err != nil {
		return "", err
	}
	return issued.Fields["username"], nil
}
