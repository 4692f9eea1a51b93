package cloudsim

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"
)

// Server is how a simulator is served: its name in errors and logs, its
// handler, and TLS when its clients insist on HTTPS.
type Server struct {
	// Name prefixes errors and log lines ("awssim").
	Name string
	// Handler answers every request.
	Handler http.Handler
	// TLS, when set, serves HTTPS with this configuration.
	TLS *tls.Config
	// Logger receives serve errors, and the server's own (TLS handshake
	// noise) at debug level; nil = discard.
	Logger *slog.Logger
}

// OrDiscard is log, or a logger that discards when log is nil: a
// simulator's Options.Logger.
func OrDiscard(log *slog.Logger) *slog.Logger {
	if log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return log
}

// Endpoint gives a simulator's Server its Start method (embed it and set
// it in New): one lifecycle, with the simulator's name, handler and TLS.
type Endpoint struct{ srv Server }

// NewEndpoint serves as srv says.
func NewEndpoint(srv Server) Endpoint { return Endpoint{srv: srv} }

// Start serves on addr (e.g. "127.0.0.1:0") until stop is called or ctx
// is done, whichever comes first; stop waits for the server to end. url is
// the base URL, scheme://host:port (the simulator's Server says what its
// clients make of it).
func (e Endpoint) Start(ctx context.Context, addr string) (url string, stop func(), err error) {
	return e.srv.Start(ctx, addr)
}

// Start serves on addr (e.g. "127.0.0.1:0") until stop is called or ctx
// is done, whichever comes first; stop waits for the server to end. url is
// the base URL, scheme://host:port.
func (s Server) Start(ctx context.Context, addr string) (url string, stop func(), err error) {
	log := OrDiscard(s.Logger)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return "", nil, fmt.Errorf("%s: listen on %s: %w", s.Name, addr, err)
	}
	url = "http://" + ln.Addr().String()
	if s.TLS != nil {
		url = "https://" + ln.Addr().String()
		ln = tls.NewListener(ln, s.TLS)
	}
	srv := &http.Server{Handler: s.Handler, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelDebug)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Error(s.Name+": serve", "err", err)
		}
	}()
	shutdown := sync.OnceFunc(func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			srv.Close()
		}
		<-done
	})
	unhook := context.AfterFunc(ctx, shutdown)
	return url, func() { unhook(); shutdown() }, nil
}
