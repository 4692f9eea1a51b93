package vault

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rosterhq/roster"
	"golang.org/x/crypto/ssh"
)

// Limits on what a caller may hand a backend.
const (
	maxPathLen       = 512
	maxFieldNameLen  = 128
	maxFields        = 64
	maxPrincipals    = 256
	maxPrincipalLen  = 256
	maxKeyIDLen      = 256
	reservedPrefix   = "_roster"
	maxWrapTTL       = 24 * time.Hour
	defaultTimeout   = 2 * time.Second
	sshClockSkewBack = 30 * time.Second
)

// validatePath checks a secret path: slash-separated segments of letters,
// digits and ._-@=+ , no empty, "." or ".." segment, no leading or trailing
// slash, and not under the reserved "_roster/" prefix (the local backend's
// own blobs live there).
func validatePath(path string) error {
	bad := func(msg string) error {
		return roster.Invalid(roster.FieldError{Field: "path", Message: msg})
	}
	switch {
	case path == "":
		return bad("is empty")
	case len(path) > maxPathLen:
		return bad(fmt.Sprintf("is longer than %d bytes", maxPathLen))
	}
	for i, seg := range strings.Split(path, "/") {
		switch {
		case seg == "":
			return bad("has an empty segment (leading, trailing or double slash)")
		case seg == "." || seg == "..":
			return bad(`has a "." or ".." segment`)
		case i == 0 && seg == reservedPrefix:
			return bad(`is under the reserved prefix "` + reservedPrefix + `/"`)
		}
		for _, r := range seg {
			if !pathRune(r) {
				return bad(fmt.Sprintf("has the character %q (allowed: letters, digits, and . _ - @ = +)", r))
			}
		}
	}
	return nil
}

func pathRune(r rune) bool {
	return r < utf8.RuneSelf && (r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' ||
		strings.ContainsRune("._-@=+", r))
}

// validateFields checks secret fields: names are short identifiers, values
// are valid UTF-8 (a JSON string cannot carry anything else byte-exactly, so
// both backends refuse it rather than corrupt it).
func validateFields(fields roster.SecretFields) error {
	var fe roster.FieldErrors
	if len(fields) > maxFields {
		fe.Add("fields", "more than %d fields", maxFields)
	}
	for name, v := range fields {
		switch {
		case name == "":
			fe.Add("fields", "a field has an empty name")
			continue
		case len(name) > maxFieldNameLen:
			fe.Add("fields", "a field name is longer than %d bytes", maxFieldNameLen)
			continue
		}
		valid := true
		for _, r := range name {
			if !(r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '_' || r == '-' || r == '.')) {
				valid = false
				break
			}
		}
		if !valid {
			fe.Add("fields", "field name %q has characters other than letters, digits, '_', '-' and '.'", name)
			continue
		}
		if !utf8.ValidString(v.Reveal()) {
			fe.Add("fields."+name, "is not valid UTF-8")
		}
	}
	return fe.Err()
}

func validateCAS(cas int) error {
	if cas < 0 {
		return roster.Invalid(roster.FieldError{Field: "cas", Message: "is negative"})
	}
	return nil
}

// signRequest is an SSHSignRequest that passed validation.
type signRequest struct {
	roster.SSHSignRequest
	key ssh.PublicKey
}

// validateSignRequest checks what both backends need of a signing request.
func validateSignRequest(req roster.SSHSignRequest) (signRequest, error) {
	var fe roster.FieldErrors
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
	switch {
	case err != nil:
		fe.Add("public_key", "is not an OpenSSH public key in authorized_keys format")
	case len(strings.TrimSpace(string(rest))) > 0:
		fe.Add("public_key", "holds more than one key")
	default:
		if _, isCert := key.(*ssh.Certificate); isCert {
			fe.Add("public_key", "is a certificate, not a public key")
		}
	}
	if len(req.Principals) == 0 {
		fe.Add("principals", "is empty: a certificate must name the users it logs in as")
	}
	if len(req.Principals) > maxPrincipals {
		fe.Add("principals", "has more than %d entries", maxPrincipals)
	}
	for i, p := range req.Principals {
		if p == "" || len(p) > maxPrincipalLen || strings.ContainsFunc(p, func(r rune) bool {
			return r == ',' || unicode.IsSpace(r) || unicode.IsControl(r)
		}) {
			fe.Add(fmt.Sprintf("principals[%d]", i), "must be 1 to %d characters without commas, spaces or control characters", maxPrincipalLen)
		}
	}
	if req.TTL <= 0 {
		fe.Add("ttl", "must be positive")
	}
	if len(req.KeyID) > maxKeyIDLen || strings.ContainsFunc(req.KeyID, unicode.IsControl) {
		fe.Add("key_id", "must be at most %d printable characters", maxKeyIDLen)
	}
	if err := fe.Err(); err != nil {
		return signRequest{}, err
	}
	return signRequest{SSHSignRequest: req, key: key}, nil
}

func validateWrap(data map[string]roster.Secret, ttl time.Duration) error {
	var fe roster.FieldErrors
	if ttl < time.Second {
		fe.Add("ttl", "must be at least 1s")
	}
	if ttl > maxWrapTTL {
		fe.Add("ttl", "must be at most %s", maxWrapTTL)
	}
	if len(data) == 0 {
		fe.Add("data", "is empty")
	}
	for name, v := range data {
		if name == "" {
			fe.Add("data", "a key is empty")
		}
		if !utf8.ValidString(v.Reveal()) {
			fe.Add("data."+name, "is not valid UTF-8")
		}
	}
	return fe.Err()
}

// parseCertificate parses an authorized_keys-format certificate.
func parseCertificate(s string) (*ssh.Certificate, error) {
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return nil, err
	}
	cert, ok := pub.(*ssh.Certificate)
	if !ok {
		return nil, fmt.Errorf("a %s key, not a certificate", pub.Type())
	}
	return cert, nil
}

// certificateResult describes a signed certificate the way both backends
// report it.
func certificateResult(cert *ssh.Certificate, requestID string) *roster.SSHCertificate {
	return &roster.SSHCertificate{
		Certificate: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(cert))),
		Serial:      formatSerial(cert.Serial),
		Principals:  append([]string(nil), cert.ValidPrincipals...),
		ValidBefore: time.Unix(int64(cert.ValidBefore), 0).UTC(),
		RequestID:   requestID,
	}
}

// formatSerial writes a certificate serial the way Vault's SSH engine
// reports it: lower-case hex, 16 digits.
func formatSerial(serial uint64) string { return fmt.Sprintf("%016x", serial) }
