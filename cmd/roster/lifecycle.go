package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"reflect"
	"slices"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Shutdown drains the process, as SIGTERM asks: /readyz answers 503 at
// once (load balancers stop sending), the node takes no new jobs (queued
// syncs stay queued for another node or the next start), running syncs
// get ShutdownTimeout to finish and are then stopped and recorded as
// failed, never left running. The API serves on meanwhile; then it stops
// listening and the requests in flight get what is left of
// ShutdownTimeout (at least a second) to complete: the whole shutdown
// takes the timeout, plus the time to record runs it stopped.
// Close follows.
func (m *Main) Shutdown() error {
	timeout := time.Duration(m.Config.ShutdownTimeout)
	deadline := time.Now().Add(timeout)
	if m.api != nil {
		m.api.Drain()
	}
	m.Log.Info("draining: no new syncs start here; running ones may finish", "shutdown_timeout", timeout)
	var errs []error
	if m.Queue != nil {
		// Past the timeout the engine still records each stopped run
		// (bounded by its own finish timeout).
		ctx, cancel := context.WithTimeout(context.Background(), timeout+m.Config.timeouts().Finish())
		defer cancel()
		if err := m.Queue.Drain(ctx, timeout); err != nil {
			errs = append(errs, fmt.Errorf("drain the job queue: %w", err))
		}
	}
	if m.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), max(time.Until(deadline), time.Second))
		defer cancel()
		if err := m.srv.Shutdown(ctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("requests still in flight at the shutdown timeout: %w", err))
		}
	}
	return errors.Join(append(errs, m.Close())...)
}

// reloadable are the settings a SIGHUP applies to a running process (the
// TLS files are re-read whatever their setting). The others are read once
// at the start: a change to them is reported, and waits for a restart.
// Reload copies them one by one: keep the two lists in step.
var reloadable = []string{"log-level", "audit-retention", "audit-failure-retention", "change-retention"}

// liveConfig is what a SIGHUP may change while the process runs.
func (m *Main) liveConfig() *Config {
	if c := m.live.Load(); c != nil {
		return c
	}
	return &m.Config
}

// reloadOnHangup reloads the configuration and the TLS files on every
// SIGHUP hup receives (signal.Notify'd by the caller) until the returned
// function is called.
func (m *Main) reloadOnHangup(hup chan os.Signal) (stop func()) {
	done := make(chan struct{})
	go func() {
		for {
			select {
			case <-hup:
				m.Reload()
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(hup)
		close(done)
	}
}

// Reload reads the configuration again (file, environment, flags, as at
// the start: Main.LoadConfig) and applies its reloadable settings, and
// the TLS files. A configuration that does not load changes nothing: the
// running one stays, and the log says why.
func (m *Main) Reload() error {
	var errs []error
	if m.tls != nil {
		errs = append(errs, m.tls.reload())
	}
	if m.LoadConfig == nil {
		return errors.Join(errs...)
	}
	next, err := m.LoadConfig()
	if err != nil {
		m.Log.Error("config reload failed: keeping the running configuration", "err", err)
		m.reloadMetrics(false)
		return errors.Join(append(errs, err)...)
	}
	defer m.reloadMetrics(true)
	live := *m.liveConfig()
	applied, _ := configChanges(&live, &next)
	_, restart := configChanges(&m.Config, &next)
	live.LogLevel, live.AuditRetention, live.AuditFailureRetention, live.ChangeRetention =
		next.LogLevel, next.AuditRetention, next.AuditFailureRetention, next.ChangeRetention
	if m.Level != nil {
		level, _ := parseLevel(live.LogLevel)
		m.Level.Set(level)
	}
	m.live.Store(&live)
	m.Log.Info("configuration reloaded", "applied", applied, "tls_files_reread", m.tls != nil)
	if len(restart) > 0 {
		m.Log.Warn("settings changed that only a restart applies", "settings", restart)
	}
	return errors.Join(errs...)
}

// configChanges names the settings that differ between cur and next: those
// a reload applies, and those waiting for a restart. Names only: values
// may be secret.
func configChanges(cur, next *Config) (applied, restart []string) {
	nextSettings := next.settings()
	for i, s := range cur.settings() {
		if reflect.DeepEqual(reflect.ValueOf(s.ptr).Elem().Interface(), reflect.ValueOf(nextSettings[i].ptr).Elem().Interface()) {
			continue
		}
		if slices.Contains(reloadable, s.flag) {
			applied = append(applied, s.flag)
		} else {
			restart = append(restart, s.flag)
		}
	}
	if !reflect.DeepEqual(cur.LDAP, next.LDAP) {
		restart = append(restart, "ldap")
	}
	if !reflect.DeepEqual(cur.OIDC, next.OIDC) {
		restart = append(restart, "oidc")
	}
	return applied, restart
}

// newLeveledLogger is newLogger with its level changeable (SIGHUP).
func newLeveledLogger(c Config, w *os.File) (*slog.Logger, *slog.LevelVar) {
	level := new(slog.LevelVar)
	l, _ := parseLevel(c.LogLevel)
	level.Set(l)
	return newLoggerAt(c, w, level), level
}

// reloadGauges are the outcome of the last configuration reload, as
// Prometheus reports its own (an alert on ..._successful == 0 catches a
// configuration left broken for the next restart).
type reloadGauges struct{ successful, timestamp prometheus.Gauge }

// registerReloadMetrics adds the reload gauges to the process's metrics:
// the configuration of the start counts as a successful load.
func (m *Main) registerReloadMetrics() {
	m.reload = reloadGauges{
		successful: prometheus.NewGauge(prometheus.GaugeOpts{Name: "roster_config_last_reload_successful",
			Help: "Whether the last configuration load (at the start, or on SIGHUP) succeeded."}),
		timestamp: prometheus.NewGauge(prometheus.GaugeOpts{Name: "roster_config_last_reload_success_timestamp_seconds",
			Help: "When the configuration was last loaded successfully."}),
	}
	m.Metrics.Registry().MustRegister(m.reload.successful, m.reload.timestamp)
	m.reloadMetrics(true)
}

func (m *Main) reloadMetrics(ok bool) {
	if m.reload.successful == nil {
		return
	}
	if !ok {
		m.reload.successful.Set(0)
		return
	}
	m.reload.successful.Set(1)
	m.reload.timestamp.SetToCurrentTime()
}
