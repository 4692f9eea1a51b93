package notify

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"net"
	"net/url"
	"slices"
	"strings"
	"time"
)

// maxErrorLen bounds the error recorded for one attempt.
const maxErrorLen = 200

// scrubber removes a webhook's secrets from text meant for logs, the
// delivery log and errors: the URL in every form net/http and net/url
// write it, its path and query, its user info, and the signing secret.
type scrubber []string

func newScrubber(u *url.URL, signingSecret string) scrubber {
	var s scrubber
	add := func(v string) {
		// Short strings ("/", "a") would blank out innocent text, and
		// cannot be a secret worth the name.
		if len(v) >= 4 {
			s = append(s, v)
		}
	}
	if u != nil {
		add(u.String())
		add(u.Redacted())
		add(u.RequestURI())
		add(u.EscapedPath())
		add(u.Path)
		add(u.RawQuery)
		if q, err := url.QueryUnescape(u.RawQuery); err == nil {
			add(q)
		}
		if u.User != nil {
			add(u.User.String())
			add(u.User.Username())
			if p, ok := u.User.Password(); ok {
				add(p)
			}
		}
		// And each path segment and query value: a token alone is still
		// a token.
		for seg := range strings.SplitSeq(u.Path, "/") {
			add(seg)
		}
		for _, vs := range u.Query() {
			for _, v := range vs {
				add(v)
			}
		}
	}
	add(signingSecret)
	return s.sorted()
}

// sorted puts the longest first, so that a whole URL goes before the
// parts in it.
func (s scrubber) sorted() scrubber {
	slices.SortStableFunc(s, func(a, b string) int { return len(b) - len(a) })
	return s
}

func (s scrubber) clean(text string) string {
	for _, secret := range s {
		text = strings.ReplaceAll(text, secret, "…")
	}
	return text
}

// describe turns a failed request's error into a short message without
// the URL: net/http wraps every transport error in a *url.Error that
// quotes the whole URL, path and query included.
func describe(err error, timeout time.Duration, s scrubber) string {
	var (
		dnsErr  *net.DNSError
		opErr   *net.OpError
		netErr  net.Error
		unknown x509.UnknownAuthorityError
		host    x509.HostnameError
		invalid x509.CertificateInvalidError
		record  tls.RecordHeaderError
		urlErr  *url.Error
	)
	var msg string
	switch {
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &netErr) && netErr.Timeout():
		msg = "timeout: no answer within " + timeout.String()
	case errors.Is(err, context.Canceled):
		msg = "canceled"
	case errors.As(err, &dnsErr):
		msg = "cannot resolve " + dnsErr.Name + ": " + dnsErr.Err
	case errors.As(err, &unknown), errors.As(err, &host), errors.As(err, &invalid):
		msg = "tls: the server's certificate is not trusted: " + strings.TrimPrefix(innermost(err).Error(), "x509: ")
	case errors.As(err, &record):
		msg = "tls: the server did not answer in TLS"
	case errors.As(err, &opErr):
		msg = "cannot connect: " + innermost(err).Error()
	case errors.As(err, &urlErr):
		msg = urlErr.Err.Error()
	default:
		msg = err.Error()
	}
	return short(s.clean(msg))
}

// innermost unwraps err to the error it wraps last.
func innermost(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

// short makes msg one line of at most maxErrorLen runes.
func short(msg string) string {
	msg = strings.Join(strings.Fields(msg), " ")
	return truncate(msg, maxErrorLen)
}
