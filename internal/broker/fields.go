package broker

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
)

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// split sorts given fields into non-secret and secret ones by the schema,
// recording unknown fields. Empty secret values count as not given.
func split(schema roster.CredentialSchema, fields map[string]roster.Secret, errs *roster.FieldErrors) (map[string]string, roster.SecretFields) {
	plain := map[string]string{}
	secrets := roster.SecretFields{}
	for name, v := range fields {
		spec, ok := schema.Field(name)
		switch {
		case !ok:
			var known []string
			for _, f := range schema.Fields {
				known = append(known, f.Name)
			}
			errs.Add("fields."+name, "not a field of type %s (fields: %s)", schema.Type, strings.Join(known, ", "))
		case spec.Secret && v != "":
			secrets[name] = v
		case !spec.Secret:
			plain[name] = v.Reveal()
		}
	}
	return plain, secrets
}

// checkRequired records required fields that have no value: not given now
// and (for secret fields) not stored already.
func checkRequired(schema roster.CredentialSchema, plain map[string]string, secrets roster.SecretFields, stored []string, errs *roster.FieldErrors) {
	for _, f := range schema.Fields {
		if !f.Required {
			continue
		}
		if f.Secret {
			if _, ok := secrets[f.Name]; !ok && !slices.Contains(stored, f.Name) {
				errs.Add("fields."+f.Name, "is required")
			}
		} else if plain[f.Name] == "" {
			errs.Add("fields."+f.Name, "is required")
		}
	}
}

// defaultCertTTL is an ssh_certificate's lifetime when it sets none; the
// longest it may set is maxCertTTL.
const (
	defaultCertTTL = 30 * time.Minute
	maxCertTTL     = 24 * time.Hour
)

// validateType checks what each type's fields must be. secrets may be nil
// when only non-secret fields changed. Messages never quote secret values.
func validateType(t roster.CredentialType, plain map[string]string, secrets roster.SecretFields) error {
	var errs roster.FieldErrors
	switch t {
	case roster.CredentialSSHKey:
		if key, ok := secrets["private_key"]; ok {
			var err error
			if pass, ok := secrets["passphrase"]; ok {
				_, err = ssh.ParseRawPrivateKeyWithPassphrase([]byte(key.Reveal()), []byte(pass.Reveal()))
			} else {
				_, err = ssh.ParseRawPrivateKey([]byte(key.Reveal()))
			}
			var missing *ssh.PassphraseMissingError
			switch {
			case errors.As(err, &missing):
				errs.Add("fields.passphrase", "the private key is encrypted: give its passphrase")
			case err != nil:
				errs.Add("fields.private_key", "is not an OpenSSH or PEM private key (or the passphrase is wrong)")
			}
		}
	case roster.CredentialSSHCertificate:
		if v := plain["ttl"]; v != "" {
			if d, err := time.ParseDuration(v); err != nil || d <= 0 || d > maxCertTTL {
				errs.Add("fields.ttl", "must be a duration between 1s and %s, such as 30m", maxCertTTL)
			}
		}
		for _, p := range principals(plain) {
			if p == "" || strings.ContainsAny(p, " \t\n") {
				errs.Add("fields.principals", "must be comma-separated names without spaces")
				break
			}
		}
	case roster.CredentialAWS:
		_, hasSecret := secrets["secret_access_key"]
		hasKey := plain["access_key_id"] != ""
		switch {
		case hasKey && secrets != nil && !hasSecret:
			errs.Add("fields.secret_access_key", "is required with access_key_id")
		case hasSecret && !hasKey:
			errs.Add("fields.access_key_id", "is required with secret_access_key")
		case !hasKey && !hasSecret && plain["role_arn"] == "" && secrets != nil:
			errs.Add("fields", "give access_key_id and secret_access_key, or role_arn, or both")
		}
		if r := plain["role_arn"]; r != "" && !strings.HasPrefix(r, "arn:") {
			errs.Add("fields.role_arn", "must be an IAM role ARN")
		}
	case roster.CredentialGCP:
		if sa, ok := secrets["service_account_json"]; ok {
			if msg := checkServiceAccount(sa); msg != "" {
				errs.Add("fields.service_account_json", "%s", msg)
			}
		}
	case roster.CredentialOpenStack:
		if secrets != nil {
			_, pw := secrets["password"]
			_, app := secrets["application_credential_secret"]
			switch {
			case !pw && !app:
				errs.Add("fields", "give password (with username) or application_credential_secret (with application_credential_id)")
			case pw && plain["username"] == "":
				errs.Add("fields.username", "is required with password")
			case app && plain["application_credential_id"] == "":
				errs.Add("fields.application_credential_id", "is required with application_credential_secret")
			}
		}
	}
	return errs.Err()
}

// checkServiceAccount checks a service account key file without ever
// repeating any of it.
func checkServiceAccount(sa roster.Secret) string {
	var f struct {
		Type        string `json:"type"`
		ClientEmail string `json:"client_email"`
		PrivateKey  string `json:"private_key"`
		TokenURI    string `json:"token_uri"`
	}
	if err := json.Unmarshal([]byte(sa.Reveal()), &f); err != nil {
		return "is not JSON (expected a service account key file)"
	}
	if f.Type != "service_account" {
		return `is not a service account key ("type" must be "service_account")`
	}
	if f.ClientEmail == "" {
		return "has no client_email"
	}
	block, _ := pem.Decode([]byte(f.PrivateKey))
	if block == nil {
		return "has no PEM private_key"
	}
	if _, err := x509.ParsePKCS8PrivateKey(block.Bytes); err != nil {
		if _, err := x509.ParsePKCS1PrivateKey(block.Bytes); err != nil {
			return "has a private_key that does not parse"
		}
	}
	return ""
}

// principals returns an ssh_certificate's allowed principals.
func principals(plain map[string]string) []string {
	if p := plain["principals"]; p != "" {
		var out []string
		for _, s := range strings.Split(p, ",") {
			out = append(out, strings.TrimSpace(s))
		}
		return out
	}
	if u := plain["username"]; u != "" {
		return []string{u}
	}
	return nil
}

func certTTL(plain map[string]string) time.Duration {
	if d, err := time.ParseDuration(plain["ttl"]); err == nil && d > 0 {
		return d
	}
	return defaultCertTTL
}
