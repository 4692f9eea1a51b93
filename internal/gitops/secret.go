package gitops

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/rosterhq/roster"
)

// maxSecretBytes bounds a secret read from a file or stdin.
const maxSecretBytes = 1 << 20

// Resolver reads the secret values references point to. Values are read
// when they will be sent (a create, a secret not yet set, or
// --update-secrets), never printed.
type Resolver struct {
	// Getenv looks up an environment variable (os.LookupEnv by default).
	Getenv func(string) (string, bool)
	// Stdin is read, once, by the one {stdin: true} reference.
	Stdin io.Reader

	stdinUsed bool
	stdin     roster.Secret
}

// Resolve returns the value of v: its literal, or what it references.
func (r *Resolver) Resolve(v Value) (roster.Secret, error) {
	switch {
	case v.Env != "":
		get := r.Getenv
		if get == nil {
			get = os.LookupEnv
		}
		s, ok := get(v.Env)
		if !ok {
			return "", fmt.Errorf("%s: environment variable %s is not set", v.Pos, v.Env)
		}
		return roster.Secret(s), nil
	case v.File != "":
		f, err := os.Open(v.File)
		if err != nil {
			return "", fmt.Errorf("%s: %w", v.Pos, err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, maxSecretBytes+1))
		if err != nil {
			return "", fmt.Errorf("%s: read %s: %w", v.Pos, v.File, err)
		}
		if len(b) > maxSecretBytes {
			return "", fmt.Errorf("%s: %s is larger than 1 MiB", v.Pos, v.File)
		}
		return roster.Secret(strings.TrimRight(string(b), "\r\n")), nil
	case v.Stdin:
		if r.stdinUsed {
			return r.stdin, nil
		}
		if r.Stdin == nil {
			return "", fmt.Errorf("%s: no stdin to read the secret from", v.Pos)
		}
		b, err := io.ReadAll(io.LimitReader(r.Stdin, maxSecretBytes+1))
		if err != nil {
			return "", fmt.Errorf("%s: read stdin: %w", v.Pos, err)
		}
		if len(b) > maxSecretBytes {
			return "", fmt.Errorf("%s: stdin holds more than 1 MiB", v.Pos)
		}
		r.stdinUsed, r.stdin = true, roster.Secret(strings.TrimRight(string(b), "\r\n"))
		return r.stdin, nil
	}
	return roster.Secret(v.Literal), nil
}

// checkStdin refuses more than one {stdin: true} reference, and one when
// the documents themselves come from stdin.
func checkStdin(docs []Document, docsFromStdin bool) error {
	var at []string
	see := func(v *Value) {
		if v != nil && v.Stdin {
			at = append(at, v.Pos.String())
		}
	}
	for _, d := range docs {
		if d.Credential != nil {
			for _, k := range sortedKeys(d.Credential.Fields) {
				v := d.Credential.Fields[k]
				see(&v)
			}
		}
		if d.Webhook != nil {
			see(&d.Webhook.URL)
			see(d.Webhook.SigningSecret)
		}
	}
	switch {
	case len(at) > 1:
		return fmt.Errorf("%s: only one secret can come from stdin", strings.Join(at, ", "))
	case len(at) == 1 && docsFromStdin:
		return errors.New(at[0] + ": the documents come from stdin: a secret cannot too")
	}
	return nil
}
