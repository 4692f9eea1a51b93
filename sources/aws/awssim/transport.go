package awssim

import (
	"io"
	"net/http"
	"time"
)

// DefaultSettleDelay is how long the server waits before answering when
// Options.SettleDelay is zero. See ClientTransport for why.
const DefaultSettleDelay = time.Millisecond

// ClientTransport wraps base (nil = http.DefaultTransport) for SDK clients
// that talk to a simulator in the same process or on the same host.
//
// aws-sdk-go-v2 closes a request's body as soon as the response headers
// arrive; its body type then answers WriteTo with io.EOF. When a server
// answers faster than net/http's write loop finishes with the body (easily
// done on loopback), the transport takes that io.EOF for a write error and
// closes the connection under the response still being read: the call fails
// with "deserialization failed ... use of closed network connection" and
// is retried. Against this server about 40% of requests hit it with no
// delay; the server's settle delay (DefaultSettleDelay) makes it rare
// (well under 1%), and this transport removes it, by handing net/http a
// body that only has Read. Use it when exact request counts matter:
//
//	cfg.HTTPClient = &http.Client{Transport: awssim.ClientTransport(nil)}
func ClientTransport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = http.DefaultTransport
	}
	return shieldTransport{base}
}

type shieldTransport struct{ base http.RoundTripper }

func (t shieldTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return t.base.RoundTrip(r)
	}
	r2 := new(http.Request)
	*r2 = *r
	r2.Body = readOnlyBody{r.Body}
	return t.base.RoundTrip(r2)
}

// readOnlyBody hides every method but Read and Close, so io.Copy reads
// until io.EOF instead of calling WriteTo.
type readOnlyBody struct{ rc io.ReadCloser }

func (b readOnlyBody) Read(p []byte) (int, error) { return b.rc.Read(p) }
func (b readOnlyBody) Close() error               { return b.rc.Close() }
