package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/openstack"
)

// defaultRegistry lists the providers this build supports.
func defaultRegistry() *sources.Registry {
	return sources.NewRegistry(aws.Driver{}, gcp.Driver{}, azure.Driver{}, openstack.Driver{})
}

// openStore opens the configured database.
func openStore(ctx context.Context, c Config) (*store.SQLite, error) {
	return store.OpenSQLite(ctx, c.Database)
}

// Main is one serving Roster process: the store, the sync engine and the
// API. Tests run it in-process the way `roster serve` does.
type Main struct {
	Config   Config
	Log      *slog.Logger
	Registry *sources.Registry

	// Set by Run.
	Store    roster.Store
	Engine   *syncer.Engine
	Dispatch *syncer.Dispatcher
	Broker   *broker.Broker
	// URL is the API's base URL once Run has returned.
	URL string

	srv          *http.Server
	served       chan error
	closeBackend func()
}

// Run opens the store, recovers from a previous process's death, and
// starts serving in the background. It returns once the API listens.
func (m *Main) Run(ctx context.Context) error {
	if m.Registry == nil {
		m.Registry = defaultRegistry()
	}
	st, err := openStore(ctx, m.Config)
	if err != nil {
		return err
	}
	m.Store = st
	// One process owns a SQLite database's syncs: runs left unfinished
	// were cut off by a crash or kill and will never finish.
	if n, err := st.AbandonSyncRuns(ctx, "Roster stopped before the sync finished; nothing was changed"); err != nil {
		return fmt.Errorf("recover unfinished syncs: %w", err)
	} else if n > 0 {
		m.Log.Warn("marked syncs cut off by the previous process as failed", "count", n)
	}
	backend, closeBackend, err := openBackend(ctx, m.Config, st, m.Log)
	if err != nil {
		return err
	}
	m.closeBackend = closeBackend
	m.Broker = broker.New(st, backend, m.Log.With("component", "broker"))
	m.Engine = syncer.New(st, m.Registry, m.Log, syncer.WithCredentials(m.Broker))
	m.Dispatch = syncer.NewDispatcher(m.Engine, m.Config.SyncConcurrency, m.Log)
	srv := api.NewServer(api.Config{Store: st, Engine: m.Engine, Dispatch: m.Dispatch, Broker: m.Broker, Log: m.Log, MaxBodyBytes: m.Config.MaxBodyBytes})
	h, err := srv.Handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Listen, err)
	}
	m.URL = "http://" + ln.Addr().String()
	m.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	m.served = make(chan error, 1)
	go func() { m.served <- m.srv.Serve(ln) }()
	m.Log.Info("roster serving", "url", m.URL, "database", m.Config.Database, "secret_backend", backend.Kind())
	return nil
}

// Wait blocks until ctx is done or the server fails.
func (m *Main) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-m.served:
		return err
	}
}

// Close stops serving (letting requests in flight finish), cancels running
// syncs (recorded as canceled, nothing changed) and closes the store.
func (m *Main) Close() error {
	var errs []error
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if m.Dispatch != nil {
		m.Dispatch.Close()
	}
	if m.closeBackend != nil {
		m.closeBackend()
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	return errors.Join(errs...)
}
