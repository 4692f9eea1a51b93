package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync/atomic"

	"github.com/rosterhq/roster/internal/client"
)

// serverTLS is the API's TLS: the certificate and client CAs read from
// their files, swapped at once by reload. A handshake after a reload sees
// the new ones; connections already open keep theirs and are not dropped.
type serverTLS struct {
	certFile, keyFile, clientCAFile string
	log                             *slog.Logger
	current                         atomic.Pointer[tlsFiles]
}

// tlsFiles is one reading of the files.
type tlsFiles struct {
	cert      *tls.Certificate
	clientCAs *x509.CertPool // nil without a client CA
}

// newServerTLS reads the files of c; an error stops the start.
func newServerTLS(c Config, log *slog.Logger) (*serverTLS, error) {
	s := &serverTLS{certFile: c.TLSCert, keyFile: c.TLSKey, clientCAFile: c.TLSClientCA, log: log}
	f, err := s.read()
	if err != nil {
		return nil, err
	}
	s.current.Store(f)
	return s, nil
}

func (s *serverTLS) read() (*tlsFiles, error) {
	pair, err := tls.LoadX509KeyPair(s.certFile, s.keyFile)
	if err != nil {
		return nil, fmt.Errorf("TLS certificate %s and key %s: %w", s.certFile, s.keyFile, err)
	}
	f := &tlsFiles{cert: &pair}
	if s.clientCAFile != "" {
		pem, err := os.ReadFile(s.clientCAFile)
		if err != nil {
			return nil, fmt.Errorf("TLS client CA: %w", err)
		}
		f.clientCAs = x509.NewCertPool()
		if !f.clientCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("TLS client CA %s: no PEM certificate in it", s.clientCAFile)
		}
	}
	return f, nil
}

// reload reads the files again. A pair that cannot be used (missing,
// not matching, half written) leaves the one in use, and is logged.
func (s *serverTLS) reload() error {
	f, err := s.read()
	if err != nil {
		s.log.Error("TLS reload failed: still serving the previous certificate", "err", err)
		return err
	}
	s.current.Store(f)
	attrs := []any{"cert", s.certFile}
	if leaf := f.cert.Leaf; leaf != nil {
		attrs = append(attrs, "serial", leaf.SerialNumber.String(), "not_after", leaf.NotAfter)
	}
	s.log.Info("TLS certificate reloaded", attrs...)
	return nil
}

// config is the listener's tls.Config.
func (s *serverTLS) config() *tls.Config {
	getCert := func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return s.current.Load().cert, nil }
	base := &tls.Config{MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}, GetCertificate: getCert}
	if s.clientCAFile == "" {
		return base
	}
	// A client certificate is asked for, and verified when one comes;
	// the API refuses requests without one (api.Config), health checks
	// aside, so a load balancer needs none.
	base.ClientAuth = tls.VerifyClientCertIfGiven
	base.GetConfigForClient = func(*tls.ClientHelloInfo) (*tls.Config, error) {
		return &tls.Config{MinVersion: base.MinVersion, NextProtos: base.NextProtos, GetCertificate: getCert,
			ClientAuth: tls.VerifyClientCertIfGiven, ClientCAs: s.current.Load().clientCAs}, nil
	}
	return base
}

// checkListen refuses plain HTTP on an address that is not loopback,
// unless the configuration says it is meant (then it warns).
func checkListen(c Config, log *slog.Logger) error {
	if c.TLSCert != "" || loopbackListen(c.Listen) {
		return nil
	}
	if !c.InsecureListen {
		return fmt.Errorf("refusing to serve plain HTTP on %s, which is not a loopback address: API tokens would cross the network in the clear. "+
			"Give --tls-cert and --tls-key (ROSTER_TLS_CERT, ROSTER_TLS_KEY), or --insecure-listen if a TLS proxy in front of Roster is the only way in", c.Listen)
	}
	log.Warn("serving plain HTTP on an address that is not loopback (--insecure-listen): API tokens cross the network in the clear unless a TLS proxy is the only way in", "listen", c.Listen)
	return nil
}

// loopbackListen reports whether a listen address is loopback only: an
// address in 127.0.0.0/8 or ::1, or a name all of whose addresses are
// (localhost). An empty host (every interface) is not.
func loopbackListen(listen string) bool {
	host, _, err := net.SplitHostPort(listen)
	if err != nil || host == "" {
		return false
	}
	if client.IsLoopback(host) {
		return true
	}
	if net.ParseIP(host) != nil {
		return false
	}
	addrs, err := net.LookupHost(host)
	if err != nil || len(addrs) == 0 {
		return false
	}
	for _, a := range addrs {
		if !client.IsLoopback(a) {
			return false
		}
	}
	return true
}

var errNoTLS = errors.New("not serving TLS")
