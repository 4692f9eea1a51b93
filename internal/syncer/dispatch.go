package syncer

import (
	"context"
	"log/slog"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// Dispatcher runs queued syncs in the background of a serving process, a
// bounded number at a time. (Several processes sharing one database will
// hand this job to a cluster-wide queue; the store already refuses a second
// active run of a source, whichever process asks.)
type Dispatcher struct {
	engine *Engine
	log    *slog.Logger
	sem    chan struct{}
	ctx    context.Context
	cancel context.CancelFunc

	mu     sync.Mutex // guards closed and wg.Go against Close's wg.Wait
	closed bool
	wg     sync.WaitGroup
}

// NewDispatcher returns a dispatcher running at most concurrency syncs at
// once.
func NewDispatcher(e *Engine, concurrency int, log *slog.Logger) *Dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{engine: e, log: log, sem: make(chan struct{}, max(concurrency, 1)), ctx: ctx, cancel: cancel}
}

// Submit runs a queued run in the background. After Close, the run is
// recorded as canceled instead.
func (d *Dispatcher) Submit(run *roster.SyncRun) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		d.engine.cancelQueued(run)
		return
	}
	d.wg.Go(func() {
		select {
		case d.sem <- struct{}{}:
		case <-d.ctx.Done():
			d.engine.cancelQueued(run)
			return
		}
		defer func() { <-d.sem }()
		if err := d.engine.Run(d.ctx, run, nil); err != nil {
			d.log.Info("background sync ended with an error", "run", run.ID, "err", err)
		}
	})
}

// Close cancels running syncs (they record themselves as canceled, having
// changed nothing) and waits for them.
func (d *Dispatcher) Close() {
	d.mu.Lock()
	d.closed = true
	d.mu.Unlock()
	d.cancel()
	d.wg.Wait()
}

// cancelQueued records a run that never started as canceled.
func (e *Engine) cancelQueued(run *roster.SyncRun) {
	run.Status, run.Error = roster.SyncCanceled, "Roster shut down before the sync started; nothing was changed"
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := e.store.FinishSyncRun(ctx, run, nil); err != nil {
		e.log.Warn("recording a canceled sync failed", "run", run.ID, "err", err)
	}
}
