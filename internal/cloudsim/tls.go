package cloudsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"time"
)

// CA is a throwaway certificate authority a simulator generates at start,
// and the serving certificate it signed, valid for a week: for clients
// that refuse plain HTTP (the Azure SDK) or that must believe they reach
// a cloud's public hostname (the intercepting proxy).
type CA struct {
	// PEM is the CA certificate, what a client outside the process must
	// trust.
	PEM []byte
	// Pool holds only the CA.
	Pool *x509.CertPool
	// Leaf is the serving certificate and its key, chained to the CA.
	Leaf tls.Certificate
}

// NewCA makes a CA named name and a serving certificate for hosts (names
// or IP addresses; the first name is its common name). With constrain,
// the CA can sign for the names in hosts only.
func NewCA(name string, hosts []string, constrain bool) (*CA, error) {
	var dns []string
	var ips []net.IP
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			ips = append(ips, ip)
		} else if h != "" {
			dns = append(dns, h)
		}
	}
	if len(dns) == 0 {
		return nil, errors.New("a serving certificate needs a host name")
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: name, Organization: []string{"Roster test"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	if constrain {
		caTmpl.PermittedDNSDomains = dns
		caTmpl.PermittedDNSDomainsCritical = true
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
		Subject:      pkix.Name{CommonName: dns[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dns,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	c := &CA{
		PEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		Pool: x509.NewCertPool(),
		Leaf: tls.Certificate{Certificate: [][]byte{der, caDER}, PrivateKey: key},
	}
	c.Pool.AddCert(ca)
	return c, nil
}
