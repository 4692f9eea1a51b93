package main

import (
	"context"
	"log/slog"
	"os"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/forward"
)

const (
	// sinkReloadEvery is how soon a change to the event sinks made
	// through another node of a cluster takes effect on this one.
	sinkReloadEvery = 30 * time.Second
	// forwardFlushBudget is how long Close waits for the sinks to take
	// what their queues hold.
	forwardFlushBudget = 5 * time.Second
)

// startForwarder makes the event forwarder, with no sinks yet, and tees the
// process log into it (for sinks with the log stream). Its own log goes
// around the tee: a failing sink's complaints are never forwarded.
func (m *Main) startForwarder() {
	node, err := os.Hostname()
	if err != nil {
		node = "roster"
	}
	m.forwarder = forward.New(node, m.Log.With("component", "forward"), nil, m.ForwardOptions)
	m.Log = slog.New(forward.NewTee(m.Log.Handler(), m.forwarder))
}

// startEventSinks loads the sinks and keeps reloading them, for changes
// made through other nodes.
func (m *Main) startEventSinks(ctx context.Context, st roster.EventSinkStore, backend roster.SecretBackend) {
	m.EventSinks = forward.NewService(st, backend, m.forwarder, m.Log.With("component", "forward"))
	if err := m.EventSinks.Reload(ctx); err != nil {
		m.Log.Warn("loading the event sinks failed; retrying in the background", "err", err)
	}
	runCtx, stop := context.WithCancel(context.WithoutCancel(ctx))
	m.stopSinks = stop
	go m.EventSinks.Run(runCtx, sinkReloadEvery)
}

// closeForwarder stops reloading and gives the sinks a few seconds to
// take what is queued (the audit records of the last requests included).
func (m *Main) closeForwarder() {
	if m.stopSinks != nil {
		m.stopSinks()
		m.stopSinks = nil
	}
	if m.forwarder != nil {
		ctx, cancel := context.WithTimeout(context.Background(), forwardFlushBudget)
		defer cancel()
		m.forwarder.Close(ctx)
	}
}
