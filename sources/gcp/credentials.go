package gcp

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"unicode"

	"cloud.google.com/go/auth"
)

// ServiceAccountKey is a service account key file's content (the JSON the
// Google Cloud console downloads). It holds a private key: every way of
// printing it (fmt verbs, slog, JSON) gives a placeholder.
type ServiceAccountKey []byte

const redacted = "[redacted]"

// String implements fmt.Stringer.
func (ServiceAccountKey) String() string { return redacted }

// GoString implements fmt.GoStringer.
func (ServiceAccountKey) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (ServiceAccountKey) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (ServiceAccountKey) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// Format implements fmt.Formatter, so that %x and %s cannot print the
// bytes either.
func (k ServiceAccountKey) Format(f fmt.State, _ rune) { fmt.Fprint(f, redacted) }

// credentialsEnv names the key file until the credential broker provides
// credentials.
const credentialsEnv = "GOOGLE_APPLICATION_CREDENTIALS"

// defaultTokenURI is Google's OAuth2 token endpoint.
const defaultTokenURI = "https://oauth2.googleapis.com/token"

// serviceAccount is what a key file holds that Roster uses.
type serviceAccount struct {
	email    string
	keyID    string
	key      []byte // PEM; never printed
	tokenURI string
}

// keyFile is the key file format; only its non-secret fields are ever
// named in errors.
type keyFile struct {
	Type           string `json:"type"`
	PrivateKeyID   string `json:"private_key_id"`
	PrivateKey     string `json:"private_key"`
	ClientEmail    string `json:"client_email"`
	TokenURI       string `json:"token_uri"`
	UniverseDomain string `json:"universe_domain"`
}

// loadKey returns the key to use: the driver's, else the file
// GOOGLE_APPLICATION_CREDENTIALS names.
func loadKey(injected ServiceAccountKey) (ServiceAccountKey, string, error) {
	if len(injected) > 0 {
		return injected, "the configured service account key", nil
	}
	path := os.Getenv(credentialsEnv)
	if path == "" {
		return nil, "", errors.New("no GCP credentials: set " + credentialsEnv + " to the path of a service account key file")
	}
	b, err := os.ReadFile(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return nil, "", fmt.Errorf("read the service account key file %s names (%s): %w", credentialsEnv, path, err)
	}
	return b, "the service account key file " + path, nil
}

// parseServiceAccount checks a key file and extracts what the JWT flow
// needs. Its errors describe what is wrong without repeating any of the
// file's content.
func parseServiceAccount(b ServiceAccountKey, origin string) (*serviceAccount, error) {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%s is not usable: %s", origin, fmt.Sprintf(format, args...))
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, bad("it is empty")
	}
	var f keyFile
	if err := json.Unmarshal(b, &f); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return nil, bad("it is not valid JSON (syntax error at byte %d)", se.Offset)
		}
		return nil, bad("it is not a JSON object with string fields")
	}
	switch f.Type {
	case "service_account":
	case "":
		return nil, bad(`it has no "type"; a service account key has "type": "service_account"`)
	default:
		t := f.Type
		if len(t) > 40 || strings.IndexFunc(t, func(r rune) bool { return !unicode.IsLetter(r) && r != '_' }) >= 0 {
			t = "unrecognised"
		}
		return nil, bad("its type is %q; Roster needs a service account key (type service_account)", t)
	}
	if f.ClientEmail == "" || !strings.Contains(f.ClientEmail, "@") {
		return nil, bad("it has no client_email")
	}
	if f.PrivateKey == "" {
		return nil, bad("it has no private_key")
	}
	if err := checkRSAKey([]byte(f.PrivateKey)); err != nil {
		return nil, bad("its private_key %s", err)
	}
	if f.UniverseDomain != "" && f.UniverseDomain != "googleapis.com" {
		return nil, bad("universe domain %q is not supported", f.UniverseDomain)
	}
	sa := &serviceAccount{email: f.ClientEmail, keyID: f.PrivateKeyID, key: []byte(f.PrivateKey), tokenURI: f.TokenURI}
	if sa.tokenURI == "" {
		sa.tokenURI = defaultTokenURI
	}
	return sa, nil
}

// checkRSAKey accepts what the auth library signs with: a PEM block
// holding a PKCS #8 or PKCS #1 RSA private key.
func checkRSAKey(b []byte) error {
	block, _ := pem.Decode(b)
	if block == nil {
		return errors.New("is not PEM-encoded")
	}
	if k, err := x509.ParsePKCS8PrivateKey(block.Bytes); err == nil {
		if _, ok := k.(*rsa.PrivateKey); !ok {
			return errors.New("is not an RSA key")
		}
		return nil
	}
	if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
		return errors.New("is not a valid RSA private key")
	}
	return nil
}

// tokenProvider exchanges a signed JWT for an access token (the OAuth2
// JWT-bearer grant, through the Google auth library's 2LO provider) and
// turns its failures into messages that name the account and the
// endpoint, never the assertion or the key.
type tokenProvider struct {
	tp       auth.TokenProvider
	email    string
	tokenURI string
}

func newTokenProvider(sa *serviceAccount, tokenURI string, scopes []string, client *http.Client) (*tokenProvider, error) {
	if tokenURI == "" {
		tokenURI = sa.tokenURI
	}
	tp, err := auth.New2LOTokenProvider(&auth.Options2LO{
		Email:        sa.email,
		PrivateKey:   sa.key,
		PrivateKeyID: sa.keyID,
		Scopes:       scopes,
		TokenURL:     tokenURI,
		Client:       client,
		// A logger of our own: the library's default one logs request
		// bodies (the signed assertion) when GOOGLE_SDK_GO_LOGGING_LEVEL
		// is set.
		Logger: discardLog,
	})
	if err != nil {
		return nil, fmt.Errorf("service account %s: %s", sa.email, safeText(err.Error()))
	}
	return &tokenProvider{tp: tp, email: sa.email, tokenURI: tokenURI}, nil
}

// Token implements auth.TokenProvider.
func (p *tokenProvider) Token(ctx context.Context) (*auth.Token, error) {
	tok, err := p.tp.Token(ctx)
	if err != nil {
		return nil, &tokenError{email: p.email, url: p.tokenURI, detail: tokenDetail(err), err: err}
	}
	return tok, nil
}

// tokenError is a failed token exchange.
type tokenError struct {
	email, url, detail string
	err                error
}

func (e *tokenError) Error() string {
	return "get an access token for " + e.email + " from " + e.url + ": " + e.detail
}

// Unwrap gives the context errors only: the library's error may carry the
// token endpoint's response body.
func (e *tokenError) Unwrap() error {
	if errors.Is(e.err, context.Canceled) {
		return context.Canceled
	}
	if errors.Is(e.err, context.DeadlineExceeded) {
		return context.DeadlineExceeded
	}
	return nil
}

// tokenDetail is the token endpoint's answer in a line: the status and
// the OAuth2 error and description it sent.
func tokenDetail(err error) string {
	var ae *auth.Error
	if errors.As(err, &ae) && ae.Response != nil {
		var body struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		detail := ae.Response.Status
		if json.Unmarshal(ae.Body, &body) == nil && body.Error != "" {
			detail += ": " + safeText(body.Error)
			if body.Description != "" {
				detail += ": " + safeText(body.Description)
			}
		}
		return detail
	}
	switch {
	case errors.Is(err, context.Canceled):
		return "canceled"
	case errors.Is(err, context.DeadlineExceeded):
		return "timed out"
	}
	return safeText(err.Error())
}

// safeText bounds a message from elsewhere and drops control characters.
func safeText(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return ' '
		}
		return r
	}, s)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

var discardLog = slog.New(slog.DiscardHandler)
