// Package intercept lets a simulator stand in for a cloud's public
// hostnames, for clients that cannot be pointed anywhere else: an HTTPS
// proxy that answers CONNECT for the listed hostnames only, terminates
// TLS with a certificate from a throwaway CA it generates at start, and
// hands the decrypted requests to the simulator's handler.
//
// Ansible's gcp_compute and azure_rm plugins hard-code
// www.googleapis.com, login.microsoftonline.com and the like; Python's
// requests honours HTTPS_PROXY and REQUESTS_CA_BUNDLE, so
//
//	p, err := intercept.New(intercept.Options{Hosts: []string{"www.googleapis.com"}, Handler: sim})
//	proxyURL, stop, err := p.Start(ctx, "127.0.0.1:0")
//	// child env: HTTPS_PROXY=proxyURL, REQUESTS_CA_BUNDLE=<file holding p.CACertificatePEM()>
//
// sends the plugin's requests to sim, with r.Host the public hostname and
// r.TLS set, as if the simulator served that host over HTTPS. A CONNECT
// to any other host or port is refused (403), so nothing reaches the real
// cloud. Requests are served over HTTP/1.1; header sizes, reads, writes
// and idle connections are bounded.
package intercept

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// Limits of the proxy and of the intercepted connections.
const (
	// MaxHeaderBytes bounds a CONNECT request's and an intercepted
	// request's header.
	MaxHeaderBytes = 64 << 10
	// HeaderTimeout bounds reading a request's header, and the TLS
	// handshake of an intercepted connection.
	HeaderTimeout = 10 * time.Second
	// IdleTimeout closes an intercepted connection with no request.
	IdleTimeout = 60 * time.Second
	// WriteTimeout bounds writing one response.
	WriteTimeout = 2 * time.Minute
)

// Options configure a Proxy.
type Options struct {
	// Hosts are the hostnames intercepted on port 443 (exact names,
	// case-insensitive); a CONNECT to anything else is refused.
	Hosts []string
	// Handler serves the intercepted requests.
	Handler http.Handler
	// Logger receives one debug line per CONNECT; nil = discard.
	Logger *slog.Logger
}

// Proxy is the intercepting HTTPS proxy. It is an http.Handler (for
// CONNECT requests); Start serves it on a listener of its own.
type Proxy struct {
	hosts   []string
	handler http.Handler
	log     *slog.Logger
	caPEM   []byte
	tlsConf *tls.Config

	// inner serves the intercepted connections, fed through conns.
	inner *http.Server
	conns *connListener
	once  sync.Once
}

// New generates the CA and a certificate for opts.Hosts signed by it.
func New(opts Options) (*Proxy, error) {
	if len(opts.Hosts) == 0 {
		return nil, errors.New("intercept: no host to intercept")
	}
	if opts.Handler == nil {
		return nil, errors.New("intercept: no handler")
	}
	hosts := make([]string, 0, len(opts.Hosts))
	for _, h := range opts.Hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if h == "" || strings.ContainsAny(h, ":/ ") {
			return nil, fmt.Errorf("intercept: %q is not a hostname", h)
		}
		hosts = append(hosts, h)
	}
	ca, err := cloudsim.NewCA("Roster intercepting proxy CA", hosts, true)
	if err != nil {
		return nil, fmt.Errorf("intercept: generate certificates: %w", err)
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Proxy{
		hosts:   hosts,
		handler: opts.Handler,
		log:     log,
		caPEM:   ca.PEM,
		tlsConf: &tls.Config{
			Certificates: []tls.Certificate{ca.Leaf},
			MinVersion:   tls.VersionTLS12,
			NextProtos:   []string{"http/1.1"},
		},
		conns: newConnListener(),
	}
	p.inner = &http.Server{
		Handler:           opts.Handler,
		ReadHeaderTimeout: HeaderTimeout,
		WriteTimeout:      WriteTimeout,
		IdleTimeout:       IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		TLSConfig:         p.tlsConf,
		// HTTP/1.1 only, as the tunnels' clients (Python's requests) speak.
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
		ErrorLog:     slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	return p, nil
}

// CACertificatePEM returns the PEM of the CA that signed the intercepted
// hosts' certificate: what the client must trust (REQUESTS_CA_BUNDLE).
func (p *Proxy) CACertificatePEM() []byte { return slices.Clone(p.caPEM) }

// Hosts returns the intercepted hostnames.
func (p *Proxy) Hosts() []string { return slices.Clone(p.hosts) }

// intercepts reports whether CONNECT target host:port is intercepted.
func (p *Proxy) intercepts(target string) bool {
	host, port, err := net.SplitHostPort(target)
	return err == nil && port == "443" && slices.Contains(p.hosts, strings.ToLower(host))
}

// ServeHTTP answers CONNECT for an intercepted host: 200, then TLS with
// the host's certificate, then the handler's HTTP/1.1 on the tunnel.
// Anything else is refused.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodConnect {
		p.log.Debug("intercept: refused", "method", r.Method, "url", r.URL.String())
		http.Error(w, "intercept: only CONNECT to an intercepted host is served", http.StatusMethodNotAllowed)
		return
	}
	if !p.intercepts(r.Host) {
		p.log.Debug("intercept: refused", "target", r.Host)
		http.Error(w, "intercept: "+r.Host+" is not intercepted", http.StatusForbidden)
		return
	}
	p.once.Do(func() {
		go p.inner.ServeTLS(p.conns, "", "") //nolint:errcheck // ends with Close
	})
	conn, buf, err := http.NewResponseController(w).Hijack()
	if err != nil {
		http.Error(w, "intercept: cannot take over the connection", http.StatusInternalServerError)
		return
	}
	// A client may not send its ClientHello before the 200; anything it
	// did send early is in buf.
	if _, err := conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n")); err != nil {
		conn.Close()
		return
	}
	conn.SetDeadline(time.Time{})
	p.log.Debug("intercept: tunnel", "target", r.Host)
	if !p.conns.push(&bufferedConn{Conn: conn, r: buf.Reader}) {
		conn.Close()
	}
}

// Start serves the proxy on addr (e.g. "127.0.0.1:0") until stop is called
// or ctx is done, and returns its URL (http://HOST:PORT, for HTTPS_PROXY).
func (p *Proxy) Start(ctx context.Context, addr string) (proxyURL string, stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("intercept: listen on %s: %w", addr, err)
	}
	outer := &http.Server{
		Handler:           p,
		ReadHeaderTimeout: HeaderTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		IdleTimeout:       IdleTimeout,
		ErrorLog:          slog.NewLogLogger(p.log.Handler(), slog.LevelDebug),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := outer.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("intercept: serve", "err", err)
		}
	}()
	shutdown := sync.OnceFunc(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		// Hijacked tunnels are not the outer server's: close both.
		if outer.Shutdown(sctx) != nil {
			outer.Close()
		}
		p.Close()
		<-done
	})
	unhook := context.AfterFunc(ctx, shutdown)
	return "http://" + ln.Addr().String(), func() { unhook(); shutdown() }, nil
}

// Close closes the intercepted connections and refuses new tunnels. Start's
// stop calls it; call it when serving the Proxy on a server of one's own.
func (p *Proxy) Close() error {
	p.conns.Close()
	return p.inner.Close()
}

// connListener is a net.Listener whose connections are the hijacked
// tunnels ServeHTTP pushes.
type connListener struct {
	ch        chan net.Conn
	done      chan struct{}
	closeOnce sync.Once
}

func newConnListener() *connListener {
	return &connListener{ch: make(chan net.Conn), done: make(chan struct{})}
}

// push hands c to Accept; false when the listener is closed.
func (l *connListener) push(c net.Conn) bool {
	select {
	case l.ch <- c:
		return true
	case <-l.done:
		return false
	}
}

func (l *connListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.ch:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *connListener) Close() error {
	l.closeOnce.Do(func() { close(l.done) })
	return nil
}

func (l *connListener) Addr() net.Addr { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }

// bufferedConn reads first what the CONNECT request's reader buffered.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(b []byte) (int, error) { return c.r.Read(b) }
