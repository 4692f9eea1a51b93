package syncer

import (
	"context"
	"log/slog"
	"sync"

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
	wg     sync.WaitGroup
}

// NewDispatcher returns a dispatcher running at most concurrency syncs at
// once.
func NewDispatcher(e *Engine, concurrency int, log *slog.Logger) *Dispatcher {
	ctx, cancel := context.WithCancel(context.Background())
	return &Dispatcher{engine: e, log: log, sem: make(chan struct{}, max(concurrency, 1)), ctx: ctx, cancel: cancel}
}

// Submit runs a queued run in the background.
func (d *Dispatcher) Submit(run *roster.SyncRun) {
	d.wg.Go(func() {
		select {
		case d.sem <- struct{}{}:
		case <-d.ctx.Done():
			d.engine.cancelQueued(run)
			return
		}
		defer func() { <-d.sem }()
		if err := d.engine.Run(d.ctx, run, nil); err != nil {
			d.log.Debug("background sync ended with an error", "run", run.ID, "err", err)
		}
	})
}

// Close cancels running syncs (they record themselves as canceled, having
// changed nothing) and waits for them.
func (d *Dispatcher) Close() {
	d.cancel()
	d.wg.Wait()
}

// cancelQueued records a run that never started as canceled.
func (e *Engine) cancelQueued(run *roster.SyncRun) {
	run.Status, run.Error = roster.SyncCanceled, "Roster shut down before the sync started; nothing was changed"
	if err := e.store.FinishSyncRun(context.Background(), run, nil); err != nil {
		e.log.Warn("recording a canceled sync failed", "run", run.ID, "err", err)
	}
}
