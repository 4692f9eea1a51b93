package azuresim

import (
	"crypto/tls"
	"crypto/x509"
	"net/http"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// newCerts makes the throwaway CA a server generates at start, and its
// serving certificate for localhost, 127.0.0.1, ::1 and hosts (names or
// IP addresses). The Azure SDK refuses to send a bearer token or to use an
// authority host over plain HTTP, so the simulator speaks only HTTPS;
// clients trust the CA's PEM.
func newCerts(hosts []string) (*cloudsim.CA, error) {
	return cloudsim.NewCA("Roster Azure simulator CA", append([]string{"localhost", "127.0.0.1", "::1"}, hosts...), false)
}

// CACertificatePEM returns the PEM of the CA that signed the server's
// certificate: what a client outside the process must trust.
func (s *Server) CACertificatePEM() []byte { return append([]byte(nil), s.certs.PEM...) }

// CertPool returns a pool holding only the server's CA.
func (s *Server) CertPool() *x509.CertPool { return s.certs.Pool.Clone() }

// TLSConfig is the server side of TLS, for serving the handler on a
// listener or an httptest server of one's own:
//
//	ts := httptest.NewUnstartedServer(sim)
//	ts.TLS = sim.TLSConfig()
//	ts.StartTLS()
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.certs.Leaf}, MinVersion: tls.VersionTLS12}
}

// Transport returns an HTTP transport that trusts the server's CA (and
// nothing else), with enough idle connections for parallel paging.
func (s *Server) Transport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSClientConfig = &tls.Config{RootCAs: s.CertPool(), MinVersion: tls.VersionTLS12}
	t.MaxIdleConnsPerHost = 64
	t.ForceAttemptHTTP2 = false
	return t
}

// Client returns an HTTP client over Transport, for the SDK's
// ClientOptions.Transport.
func (s *Server) Client() *http.Client { return &http.Client{Transport: s.Transport()} }
