package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"

	"github.com/hashicorp/vault/api"
	"github.com/rosterhq/roster"
)

// errClosed is what every method returns after Close.
var errClosed = roster.Errorf(roster.EUNAVAILABLE, "the Vault backend is closed")

// tokenPattern matches Vault token formats (service, batch, recovery
// tokens, and the legacy "s."/"b." forms) so that they are scrubbed from
// any text even when Roster did not know the value.
var tokenPattern = regexp.MustCompile(`\b(hv[sbr]\.[A-Za-z0-9_-]{16,}|[sb]\.[A-Za-z0-9]{24,})`)

// scrub removes every known secret value and anything shaped like a Vault
// token from s.
func scrub(s string, secrets []string) string {
	for _, v := range secrets {
		if len(v) >= 4 { // shorter "secrets" would erase ordinary words
			s = strings.ReplaceAll(s, v, "[redacted]")
		}
	}
	return tokenPattern.ReplaceAllString(s, "[redacted]")
}

// vaultText is Vault's own error text of a response, made safe to show:
// scrubbed, on one line, and short.
func vaultText(re *api.ResponseError, secrets []string) string {
	var parts []string
	for _, e := range re.Errors {
		if re.RawError {
			e = "(not a Vault error document)"
		}
		e = strings.Join(strings.Fields(e), " ")
		if e != "" {
			parts = append(parts, e)
		}
	}
	s := scrub(strings.Join(parts, "; "), secrets)
	if len(s) > 300 {
		s = s[:300] + "..."
	}
	return s
}

// responseError returns the Vault response error in err's chain, if any.
func responseError(err error) (*api.ResponseError, bool) {
	var re *api.ResponseError
	ok := errors.As(err, &re)
	return re, ok
}

func hasStatus(err error, status int) bool {
	re, ok := responseError(err)
	return ok && re.StatusCode == status
}

func (v *Vault) errSealed() error {
	return roster.Errorf(roster.EUNAVAILABLE, "Vault is sealed (at %s); Roster resumes by itself once it is unsealed", v.addr)
}

func (v *Vault) errUnreachable(reason string) error {
	return roster.Errorf(roster.EUNAVAILABLE, "Vault at %s is unreachable: %s", v.addr, reason)
}

// classify turns the error of a Vault call into a roster error that is safe
// to return: it names what failed and what to fix, never the request's
// secrets. parent is the caller's context: when it is done the caller gave
// up, which is not Vault's fault.
func (v *Vault) classify(parent context.Context, op string, err error, secrets []string) error {
	if err == nil {
		return nil
	}
	var rerr *roster.Error
	if errors.As(err, &rerr) {
		return rerr
	}
	if re, ok := responseError(err); ok {
		text := vaultText(re, secrets)
		switch {
		case re.StatusCode == http.StatusServiceUnavailable && strings.Contains(strings.ToLower(text), "sealed"):
			return v.errSealed()
		case re.StatusCode == http.StatusBadRequest && strings.Contains(text, "check-and-set"):
			return roster.Errorf(roster.ECONFLICT, "check-and-set: %s: the stored version is not the one given", op)
		case re.StatusCode == http.StatusForbidden:
			return v.errDenied(op)
		case re.StatusCode == http.StatusTooManyRequests:
			return roster.Errorf(roster.EUNAVAILABLE, "Vault at %s is rate-limiting Roster (HTTP 429) while trying to %s", v.addr, op)
		case re.StatusCode >= 500:
			return roster.Errorf(roster.EUNAVAILABLE, "Vault at %s failed to %s (HTTP %d: %s)", v.addr, op, re.StatusCode, text)
		case re.StatusCode == http.StatusNotFound:
			return roster.Errorf(roster.ENOTFOUND, "Vault found nothing to %s (HTTP 404: %s)", op, text)
		default:
			return roster.Errorf(roster.EINVALID, "Vault refused to %s (HTTP %d: %s)", op, re.StatusCode, text)
		}
	}
	if parent != nil && parent.Err() != nil {
		// The caller cancelled or ran out of time: report that, not Vault.
		return fmt.Errorf("vault: %s: %w", op, parent.Err())
	}
	return v.errUnreachable(netReason(err, v.timeout.String()))
}

// errDenied is a 403 for a token Vault still accepts: the policy lacks a
// capability. The backend cannot serve until an operator fixes it.
func (v *Vault) errDenied(op string) error {
	return roster.Errorf(roster.EUNAVAILABLE,
		"Vault denied Roster's token permission to %s: grant it in Roster's Vault policy (see vault.Policy)", op)
}

// netReason explains a transport failure without echoing the request.
func netReason(err error, timeout string) string {
	var (
		dnsErr    *net.DNSError
		unknownCA x509.UnknownAuthorityError
		hostErr   x509.HostnameError
		invalid   x509.CertificateInvalidError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		alertErr  tls.AlertError
	)
	switch {
	case errors.Is(err, context.DeadlineExceeded) || isTimeout(err):
		return "no answer within " + timeout
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset"
	case errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH):
		return "no route to host"
	case errors.As(err, &dnsErr):
		return "cannot resolve its host name"
	case errors.As(err, &unknownCA), errors.As(err, &verifyErr), errors.As(err, &invalid):
		return "its TLS certificate is not trusted (check the CA certificate file)"
	case errors.As(err, &hostErr):
		return "its TLS certificate does not name this host (check the address or the TLS server name)"
	case errors.As(err, &recordErr):
		return "it does not speak TLS (check the address's scheme)"
	case errors.As(err, &alertErr):
		return "the TLS handshake was refused (check the client certificate and key)"
	case strings.Contains(err.Error(), "remote error: tls"):
		return "the TLS handshake was refused (check the client certificate and key)"
	case strings.Contains(err.Error(), "http: server gave HTTP response to HTTPS client"):
		return "it does not speak TLS (check the address's scheme)"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "the connection was closed"
	}
	return "the connection failed"
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
