package client

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
)

// TLS is how a client of Roster trusts the server and, optionally, proves
// itself to it. roster, roster exec and roster-inventory share it.
type TLS struct {
	// CA is a PEM file of the certificate authorities that sign Roster's
	// certificate; they replace the system's. Empty: the system's.
	CA string
	// ClientCert and ClientKey are PEM files of a client certificate and
	// its key, for a server started with --tls-client-ca. Both or neither.
	ClientCert, ClientKey string
}

// Transport returns an HTTP transport that trusts what t says, for
// HTTPClient. It reads the files now, so a missing or bad one is an error
// before any request.
func Transport(t TLS) (*http.Transport, error) {
	conf := &tls.Config{MinVersion: tls.VersionTLS12}
	if t.CA != "" {
		pem, err := os.ReadFile(t.CA)
		if err != nil {
			return nil, fmt.Errorf("read the CA file: %w", err)
		}
		conf.RootCAs = x509.NewCertPool()
		if !conf.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("the CA file %s holds no PEM certificate", t.CA)
		}
	}
	switch {
	case t.ClientCert != "" && t.ClientKey != "":
		pair, err := tls.LoadX509KeyPair(t.ClientCert, t.ClientKey)
		if err != nil {
			return nil, fmt.Errorf("load the client certificate: %w", err)
		}
		conf.Certificates = []tls.Certificate{pair}
	case t.ClientCert != "" || t.ClientKey != "":
		return nil, errors.New("a client certificate needs both the certificate and its key (ROSTER_CLIENT_CERT and ROSTER_CLIENT_KEY)")
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = conf
	return tr, nil
}

// HTTPClient returns a client that sends requests through rt, never
// sends an Authorization header over plain HTTP to a host that is not
// loopback (refused before dialing), and follows redirects only within
// the origin of the request (so the token goes nowhere else, nor from
// https to http).
func HTTPClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: guard{rt}, CheckRedirect: SameOrigin}
}

// guard refuses to send a token in the clear: whatever built the
// request, a redirect included, the check is made before a connection.
type guard struct{ next http.RoundTripper }

func (g guard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		if err := checkScheme(req.URL); err != nil {
			if req.Body != nil {
				req.Body.Close()
			}
			return nil, err
		}
	}
	return g.next.RoundTrip(req)
}

// PlainHTTPError is a token that would have gone over plain HTTP to a
// host that is not loopback.
type PlainHTTPError struct{ Host string }

func (e *PlainHTTPError) Error() string {
	return fmt.Sprintf("refusing to send the API token over plain HTTP to %s: use an https:// URL (plain http:// is for 127.0.0.1, ::1 and localhost only)", e.Host)
}

// CheckURL refuses a base URL the token must not be sent to: one that is
// not http(s), or plain http to a host that is not loopback. The error
// never shows the URL's user info or query.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("the Roster URL cannot be parsed: give one such as https://roster.example:8080")
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("the Roster URL %s is not an http(s) URL such as https://roster.example:8080", DisplayURL(raw))
	}
	return checkScheme(u)
}

func checkScheme(u *url.URL) error {
	if strings.EqualFold(u.Scheme, "https") || IsLoopback(u.Hostname()) {
		return nil
	}
	return &PlainHTTPError{Host: u.Hostname()}
}

// IsLoopback reports whether host (a name or an address, without port)
// is this machine's loopback: 127.0.0.0/8, ::1 or "localhost". Other
// names are not resolved: what they resolve to can change.
func IsLoopback(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedirectError is a redirect that was not followed.
type RedirectError struct{ To string }

func (e *RedirectError) Error() string { return "redirected to " + e.To }

// SameOrigin is an http.Client's CheckRedirect that follows a redirect
// only to the same scheme, host and port as the first request: that
// request carries the API token, which must not go to another server
// (Go's client keeps Authorization on a redirect to another port of the
// same host, or from https to http on it).
func SameOrigin(req *http.Request, via []*http.Request) error {
	first := via[0].URL
	if !strings.EqualFold(req.URL.Scheme, first.Scheme) || !strings.EqualFold(canonicalHost(req.URL), canonicalHost(first)) {
		return &RedirectError{To: DisplayURL(req.URL.String())}
	}
	if len(via) >= 10 {
		return errors.New("stopped after 10 redirects")
	}
	return nil
}

// canonicalHost is a URL's host:port, the scheme's port made explicit.
func canonicalHost(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[strings.ToLower(u.Scheme)]
	}
	return net.JoinHostPort(u.Hostname(), port)
}

// DisplayURL is a URL as messages show it: without user info, query or
// fragment, which may hold credentials.
func DisplayURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(an unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// TLSHint says what to do about a certificate the client refused, or ""
// when err is no such thing.
func TLSHint(err error) string {
	var unknown x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var invalid x509.CertificateInvalidError
	var verify *tls.CertificateVerificationError
	switch {
	case errors.As(err, &unknown):
		return "Roster's certificate is not signed by a CA this client trusts: name the CA's PEM file with --ca or ROSTER_CA"
	case errors.As(err, &hostname):
		return "Roster's certificate is not for this address: use the name or address the certificate was issued for in the URL"
	case errors.As(err, &invalid):
		return "Roster's certificate is not valid (expired, or not for a server)"
	case errors.As(err, &verify):
		return "Roster's certificate could not be verified"
	}
	return ""
}
