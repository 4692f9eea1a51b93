package oidcauth

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxResponseBytes bounds every response read from a provider. Discovery
// documents, key sets and token responses are a few kilobytes; the largest
// legitimate answer is an ID token or userinfo with maxGroups groups of
// maxGroupBytes (about 350 KiB once base64-encoded).
const maxResponseBytes = 1 << 20

// newHTTPClient returns the client Roster speaks to a provider with:
// http.DefaultTransport's behaviour (proxy from the environment, HTTP/2, dial
// and TLS handshake timeouts), the system's roots plus caPEM, responses
// bounded to maxBytes, each request bounded by timeout, and redirects followed
// only for GET and never from https to http.
func newHTTPClient(caPEM []byte, timeout time.Duration, maxBytes int64) (*http.Client, error) {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if len(caPEM) > 0 {
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(caPEM) {
			return nil, errors.New("ca_file holds no PEM certificate")
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return &http.Client{
		Transport:     &limitTransport{next: tr, max: maxBytes},
		Timeout:       timeout,
		CheckRedirect: checkRedirect,
	}, nil
}

func checkRedirect(req *http.Request, via []*http.Request) error {
	prev := via[len(via)-1]
	switch {
	case len(via) >= 5:
		return errors.New("stopped after 5 redirects")
	case via[0].Method != http.MethodGet:
		// A 307 or 308 would send the code, verifier and secret elsewhere.
		return fmt.Errorf("refusing to follow a redirect of a %s to %s", via[0].Method, req.URL.Redacted())
	case prev.URL.Scheme == "https" && req.URL.Scheme != "https":
		return fmt.Errorf("refusing to follow a redirect from https to %s", req.URL.Redacted())
	}
	return nil
}

// errTooLarge is what reading a response beyond the limit gives. go-oidc and
// x/oauth2 wrap body errors with %v, so its text is what reaches Roster's
// error messages.
type errTooLarge struct{ max int64 }

func (e errTooLarge) Error() string {
	return fmt.Sprintf("the response is larger than %d bytes", e.max)
}

// limitTransport bounds the bodies of the responses of next: a body longer
// than max fails with errTooLarge once max bytes have been read, so that a
// hostile or broken provider cannot make Roster buffer without end.
type limitTransport struct {
	next http.RoundTripper
	max  int64
}

func (t *limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > t.max {
		resp.Body.Close()
		return nil, errTooLarge{t.max}
	}
	resp.Body = &limitedBody{rc: resp.Body, left: t.max, max: t.max}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64 // bytes still allowed; -1 once the limit was passed
	max  int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errTooLarge{b.max}
	}
	// Read one byte beyond what is allowed, to tell "exactly max" from "more".
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.rc.Read(p)
	if int64(n) > b.left {
		n = int(b.left)
		b.left = -1
		return n, errTooLarge{b.max}
	}
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }
