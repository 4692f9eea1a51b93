package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/riverqueue/river"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/forward"
	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/notify"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/derived"
	"github.com/rosterhq/roster/sources/gcp"
	"github.com/rosterhq/roster/sources/openstack"
)

// defaultRegistry lists the providers this build supports.
func defaultRegistry() *sources.Registry {
	return sources.NewRegistry(aws.Driver{}, gcp.Driver{}, azure.Driver{}, openstack.Driver{})
}

// followInputs, after a run that may have changed an inventory, asks for
// a run of the smart and constructed inventories reading it. Best effort:
// the scheduler's tick finds what this misses.
func (m *Main) followInputs(ctx context.Context, run *roster.SyncRun) {
	if run.Status != roster.SyncSucceeded && run.Status != roster.SyncPartial {
		return
	}
	if _, err := m.Engine.TriggerStale(context.WithoutCancel(ctx), run.InventoryID); err != nil {
		m.Log.Warn("asking for the runs of derived inventories failed; the scheduler retries", "inventory", run.InventoryID, "err", err)
	}
}

// deliveryLogRetention is how long webhook delivery attempts are kept.
const deliveryLogRetention = 30 * 24 * time.Hour

// rosterStore is what a Roster process needs of its store; both stores
// are one.
type rosterStore interface {
	roster.Store
	roster.SchedulerStore
	roster.StatsStore
	roster.WebhookStore
	roster.EventSinkStore
	SetAuditLimits(roster.AuditLimits)
	OnAudit(func(*roster.AuditEvent))
}

// isPostgres reports whether a database setting names PostgreSQL (a URL)
// rather than a SQLite file.
func isPostgres(database string) bool {
	d := strings.ToLower(database)
	return strings.HasPrefix(d, "postgres://") || strings.HasPrefix(d, "postgresql://")
}

// openStore opens the configured database. Its errors never show the
// database's password, whatever the driver put in them.
func openStore(ctx context.Context, c Config) (rosterStore, error) {
	var st rosterStore
	var err error
	if isPostgres(c.Database) {
		st, err = store.OpenPostgres(ctx, c.Database)
	} else {
		st, err = store.OpenSQLite(ctx, c.Database)
	}
	if err != nil {
		return nil, redactDatabase(err, c.Database)
	}
	st.SetAuditLimits(c.auditLimits())
	return st, nil
}

// purgeAudit removes the audit records past retention and records that it
// did, so that a gap in the log reads as policy, not as tampering. Any
// node may run it at any time: a second purge finds nothing to remove.
func purgeAudit(ctx context.Context, st roster.AuditStore, r roster.AuditRetention, now time.Time, log *slog.Logger) error {
	p := r.Purge(now)
	n, err := st.PurgeAudit(ctx, p)
	if n == 0 {
		return err
	}
	log.Info("purged the audit log", "records", n)
	details := map[string]string{"records": fmt.Sprint(n)}
	if !p.AllowedBefore.IsZero() {
		details["allowed_before"] = p.AllowedBefore.UTC().Format(time.RFC3339)
	}
	if !p.FailuresBefore.IsZero() {
		details["failures_before"] = p.FailuresBefore.UTC().Format(time.RFC3339)
	}
	if aerr := st.AppendAudit(ctx, &roster.AuditEvent{Actor: "roster", Action: "audit.purge", Outcome: roster.AuditAllowed,
		TargetType: "audit", Details: details}); aerr != nil {
		err = errors.Join(err, fmt.Errorf("record the audit purge: %w", aerr))
	}
	return err
}

// purgeChanges removes the per-host change history older than retention
// (0: keeps it all). Any node may run it at any time.
func purgeChanges(ctx context.Context, st roster.HostChangeStore, retention time.Duration, now time.Time, log *slog.Logger) error {
	if retention <= 0 {
		return nil
	}
	n, err := st.PurgeHostChanges(ctx, now.Add(-retention))
	if n > 0 {
		log.Info("purged the host change history", "changes", n, "before", now.Add(-retention).UTC().Format(time.RFC3339))
	}
	if err != nil {
		return fmt.Errorf("purge the host change history: %w", err)
	}
	return nil
}

// purgeSessions deletes the sessions past their absolute end, the
// sign-ins under way that expired and the sign-in failure counts of
// windows long over.
func purgeSessions(ctx context.Context, st roster.Store, now time.Time) error {
	_, err := st.DeleteExpiredSessions(ctx, now)
	_, ferr := st.DeleteExpiredSignInFlows(ctx, now)
	return errors.Join(err, ferr, st.PurgeSignInFailures(ctx, now.Add(-24*time.Hour)))
}

// openQueue opens the job queue in the store's database.
func openQueue(ctx context.Context, c Config, st rosterStore, cfg jobs.Config) (*jobs.Queue, error) {
	if pg, ok := st.(*store.Postgres); ok {
		return jobs.OpenPostgres(ctx, pg.Pool(), cfg)
	}
	return jobs.OpenSQLite(ctx, c.Database, cfg)
}

// displayDatabase is the database setting fit for logs and output: a
// PostgreSQL URL without its password.
func displayDatabase(database string) string {
	if !isPostgres(database) {
		return database
	}
	u, err := url.Parse(database)
	if err != nil {
		return "postgres://…"
	}
	u.RawQuery = "" // may hold password=
	return u.Redacted()
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
	Queue    *jobs.Queue
	Broker   *broker.Broker
	Metrics  *metrics.Metrics
	Webhooks *notify.Service
	// EventSinks forwards events to log systems.
	EventSinks *forward.Service
	// URL is the API's base URL once Run has returned.
	URL string
	// LoadConfig, when set, reads the configuration again for a SIGHUP
	// (Reload); Level is the logger's level, which a reload sets.
	LoadConfig func() (Config, error)
	Level      *slog.LevelVar
	live       atomic.Pointer[Config] // the reloadable settings in use
	reload     reloadGauges
	// ForwardOptions tune event forwarding (zero: the defaults); tests
	// shorten its intervals.
	ForwardOptions forward.Options

	srv          *http.Server
	tls          *serverTLS // nil: plain HTTP
	stopReload   func()
	api          *api.Server
	served       chan error
	closeBackend func()
	lock         *os.File // SQLite: held while serving
	forwarder    *forward.Forwarder
	stopSinks    context.CancelFunc
}

// Run opens the store and the job queue, starts working jobs, and starts
// serving in the background. It returns once the API listens.
//
// Syncs that a previous process left running are failed once their lease
// ends (about a minute), and retried while attempts remain.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() { err = redactDatabase(err, m.Config.Database) }()
	if m.Registry == nil {
		m.Registry = defaultRegistry()
	}
	// A SIGHUP before the server is ready (a reload while it migrates)
	// waits for it, rather than ending the process the default way.
	hangups := make(chan os.Signal, 1)
	signal.Notify(hangups, syscall.SIGHUP)
	defer func() {
		if m.stopReload == nil {
			signal.Stop(hangups)
		}
	}()
	m.startForwarder()
	if err := checkListen(m.Config, m.Log); err != nil {
		return err
	}
	if m.Config.TLSCert != "" {
		if m.tls, err = newServerTLS(m.Config, m.Log); err != nil {
			return err
		}
	}
	m.Registry = m.Registry.WithLimits(m.Config.expressionLimits())
	if !isPostgres(m.Config.Database) {
		if err := store.PrepareSQLite(m.Config.Database); err != nil {
			return err
		}
		if m.lock, err = lockServing(m.Config.Database); err != nil {
			return err
		}
	}
	st, err := openStore(ctx, m.Config)
	if err != nil {
		return err
	}
	m.Store = st
	st.OnAudit(m.forwarder.Audit)
	backend, closeBackend, err := openBackend(ctx, m.Config, st, m.Log)
	if err != nil {
		return err
	}
	m.closeBackend = closeBackend
	m.startEventSinks(ctx, st, backend)
	m.Webhooks = notify.NewService(st, backend, m.Log.With("component", "webhooks"))
	timeouts := m.Config.timeouts()
	m.Queue, err = openQueue(ctx, m.Config, st, jobs.Config{
		Store:         st,
		ID:            nodeID(),
		SyncWorkers:   m.Config.SyncConcurrency,
		ScheduleEvery: time.Duration(m.Config.ScheduleEvery),
		Timeouts:      timeouts,
		Register: func(w *river.Workers) {
			worker := notify.NewWorker(st, backend, notify.WorkerOptions{Logger: m.Log.With("component", "webhooks"), PublicURL: m.Config.PublicURL})
			m.Webhooks.UseWorker(worker) // "send test event"
			river.AddWorker(w, worker)
		},
		Queues: map[string]int{notify.Queue: 4},
		Maintenance: func(ctx context.Context) error {
			n, err := st.PruneDeliveries(ctx, time.Now().Add(-deliveryLogRetention))
			if n > 0 {
				m.Log.Info("pruned the webhook delivery log", "entries", n)
			}
			live := m.liveConfig()
			return errors.Join(err, purgeAudit(ctx, st, live.auditRetention(), time.Now(), m.Log), purgeSessions(ctx, st, time.Now()),
				purgeChanges(ctx, st, time.Duration(live.ChangeRetention), time.Now(), m.Log))
		},
		Log: m.Log.With("component", "jobs"),
	})
	if err != nil {
		return err
	}
	// One process serves a SQLite database (it holds the lock): jobs it
	// finds running were cut off with the previous one, and are looked at
	// again now (their runs are failed and retried once their lease ends).
	// On PostgreSQL, or where there is no lock, they may be another
	// process's; River rescues them when they outlive the longest run, and
	// meanwhile the scheduler fails and retries their runs when their
	// lease ends.
	if m.lock != nil {
		if n, err := m.Queue.ReleaseRunningJobs(ctx); err != nil {
			return err
		} else if n > 0 {
			m.Log.Warn("retrying jobs cut off by the previous process", "count", n)
		}
	}
	m.Metrics = newMetrics(st, m.Queue, m.Log)
	m.registerReloadMetrics()
	m.Metrics.Registry().MustRegister(m.forwarder)
	notifier := notify.NewNotifier(st, m.Queue, notify.NotifierOptions{Logger: m.Log.With("component", "webhooks")})
	m.Broker = broker.New(st, backend, m.Log.With("component", "broker"), broker.WithIssuanceObserver(m.Metrics))
	// Smart and constructed inventories read their inputs from the store.
	m.Registry = m.Registry.With(derived.NewDrivers(st)...)
	m.Engine = syncer.New(st, m.Registry, m.Log, syncer.WithCredentials(m.Broker), syncer.WithQueue(m.Queue), syncer.WithTimeouts(timeouts),
		syncer.WithRetries(syncer.Retries{Attempts: m.Config.SyncAttempts}), syncer.WithSpillDir(m.Config.DocumentDir),
		syncer.OnFinish(observeSync(st, m.Metrics, m.Log)), syncer.OnFinish(m.followInputs), syncer.OnFinish(m.forwarder.SyncFinished), syncer.OnFinish(func(ctx context.Context, run *roster.SyncRun) {
			if err := notifier.SyncFinished(context.WithoutCancel(ctx), run); err != nil {
				m.Log.Warn("queueing the webhooks of a sync failed", "run", run.ID, "err", err)
			}
		}))
	// A signal does not stop the syncs: Shutdown drains them.
	if err := m.Queue.Start(context.WithoutCancel(ctx), m.Engine); err != nil {
		return err
	}
	dirs, oidcProviders, err := m.Config.signInProviders()
	if err != nil {
		return fmt.Errorf("sign-in: %w", err)
	}
	proxies, err := m.Config.trustedProxies()
	if err != nil {
		return fmt.Errorf("trusted proxies: %w", err)
	}
	m.api = api.NewServer(api.Config{Directories: dirs, OIDC: oidcProviders, PublicURL: m.Config.PublicURL, TrustedProxies: proxies, Store: st, Engine: m.Engine, FollowUps: m.Queue, Webhooks: m.Webhooks, EventSinks: m.EventSinks, Broker: m.Broker, Metrics: m.Metrics,
		Log: m.Log, MaxBodyBytes: m.Config.MaxBodyBytes, DocumentDir: m.Config.DocumentDir, TokenMaxTTL: time.Duration(m.Config.TokenMaxTTL),
		SessionIdleTimeout: time.Duration(m.Config.SessionIdleTimeout), SessionMaxAge: time.Duration(m.Config.SessionMaxAge),
		Admission:                api.Admission{Documents: m.Config.AdmitDocuments, Requests: m.Config.AdmitRequests, Wait: time.Duration(m.Config.AdmitWait)},
		RequireClientCertificate: m.Config.TLSClientCA != "", Version: buildVersion()})
	h, err := m.api.Handler()
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", m.Config.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", m.Config.Listen, err)
	}
	m.URL = "http://" + ln.Addr().String()
	if m.tls != nil {
		m.URL = "https://" + ln.Addr().String()
		ln = tls.NewListener(ln, m.tls.config())
	}
	// Always: a SIGHUP nobody handles ends the process (systemctl reload
	// would stop a plain-HTTP server).
	m.stopReload = m.reloadOnHangup(hangups)
	m.srv = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(m.Log.Handler(), slog.LevelWarn),
	}
	// Live views stream for minutes: shutting down ends them rather
	// than waiting for them.
	m.srv.RegisterOnShutdown(m.api.EndLiveStreams)
	m.served = make(chan error, 1)
	go func() { m.served <- m.srv.Serve(ln) }()
	m.Log.Info("roster serving", "url", m.URL, "database", displayDatabase(m.Config.Database), "secret_backend", backend.Kind(),
		"client_certificates", m.Config.TLSClientCA != "")
	return nil
}

// ReloadTLS reads the TLS certificate, key and client CA files again, as
// SIGHUP does. On an error the previous ones stay in use.
func (m *Main) ReloadTLS() error {
	if m.tls == nil {
		return errNoTLS
	}
	return m.tls.reload()
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
	if m.stopReload != nil {
		m.stopReload()
		m.stopReload = nil
	}
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	if m.api != nil {
		errs = append(errs, m.api.Close())
	}
	if m.Queue != nil {
		// Running syncs are canceled (nothing changed) and their jobs
		// retried: by another node, or by this one after its restart.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := m.Queue.Stop(ctx); err != nil {
			errs = append(errs, fmt.Errorf("stop job queue: %w", err))
		}
	}
	m.closeForwarder()
	if m.closeBackend != nil {
		m.closeBackend()
	}
	if m.Store != nil {
		errs = append(errs, m.Store.Close())
	}
	if m.lock != nil {
		m.lock.Close() // releases the lock
	}
	return errors.Join(errs...)
}

// newMetrics makes the process's metrics; what they count at scrape time
// comes from the shared database, so every node reports the same truth.
func newMetrics(st roster.StatsStore, q *jobs.Queue, log *slog.Logger) *metrics.Metrics {
	return metrics.New(metrics.Options{
		Log: log.With("component", "metrics"),
		InventoryHosts: func(ctx context.Context) ([]metrics.InventoryHosts, error) {
			counts, err := st.HostCounts(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]metrics.InventoryHosts, len(counts))
			for i, c := range counts {
				out[i] = metrics.InventoryHosts{Inventory: c.Inventory, Hosts: c.Hosts, Enabled: c.Enabled}
			}
			return out, nil
		},
		QueueJobs: func(ctx context.Context) ([]metrics.QueueJobs, error) {
			depth, err := q.Depth(ctx)
			if err != nil {
				return nil, err
			}
			out := make([]metrics.QueueJobs, 0, len(depth))
			for state, n := range depth {
				out = append(out, metrics.QueueJobs{State: state, Jobs: n})
			}
			return out, nil
		},
	})
}

// observeSync records finished runs in the metrics.
func observeSync(st roster.Store, m *metrics.Metrics, log *slog.Logger) func(context.Context, *roster.SyncRun) {
	return func(ctx context.Context, run *roster.SyncRun) {
		src, err := st.Source(ctx, run.SourceID)
		if err != nil {
			log.Debug("sync metrics: source gone", "run", run.ID, "err", err)
			return
		}
		inv, err := st.Inventory(ctx, run.InventoryID)
		if err != nil {
			log.Debug("sync metrics: inventory gone", "run", run.ID, "err", err)
			return
		}
		m.ObserveSync(inv.Name, src.Name, src.Provider, run)
	}
}

// nodeID names this process in the job queue's records: host and pid, so
// that an operator (or a test) can tell which process holds a job.
func nodeID() string {
	host, err := os.Hostname()
	if err != nil {
		host = "roster"
	}
	return fmt.Sprintf("%s-%d", host, os.Getpid())
}
