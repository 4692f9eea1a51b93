package azuresim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"time"
)

// certs is the throwaway certificate authority a server generates at
// start, and the serving certificate it signed. The Azure SDK refuses to
// send a bearer token or to use an authority host over plain HTTP, so
// the simulator speaks only HTTPS; clients trust CAPEM.
type certs struct {
	caPEM []byte
	pool  *x509.CertPool
	leaf  tls.Certificate
}

// newCerts makes a CA and a serving certificate for localhost, 127.0.0.1,
// ::1 and hosts (names or IP addresses), valid for a week.
func newCerts(hosts []string) (*certs, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "Roster Azure simulator CA", Organization: []string{"Roster test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else if h != "" {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	c := &certs{
		caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool:  x509.NewCertPool(),
		leaf:  tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
	}
	c.pool.AddCert(ca)
	return c, nil
}

// CACertificatePEM returns the PEM of the CA that signed the server's
// certificate: what a client outside the process must trust.
func (s *Server) CACertificatePEM() []byte { return append([]byte(nil), s.certs.caPEM...) }

// CertPool returns a pool holding only the server's CA.
func (s *Server) CertPool() *x509.CertPool { return s.certs.pool.Clone() }

// TLSConfig is the server side of TLS, for serving the handler on a
// listener or an httptest server of one's own:
//
//	ts := httptest.NewUnstartedServer(sim)
//	ts.TLS = sim.TLSConfig()
//	ts.StartTLS()
func (s *Server) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{s.certs.leaf}, MinVersion: tls.VersionTLS12}
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
