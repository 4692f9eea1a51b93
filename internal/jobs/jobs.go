// Package jobs runs Roster's background work on River (riverqueue.com): a
// cluster-wide queue of sync runs, the scheduler's periodic tick, and the
// deliveries of notifications. River keeps the queue in Roster's own
// database (SQLite for one process, PostgreSQL for several), elects the
// leader that ticks the scheduler, retries failed jobs with backoff, and
// rescues the jobs of a process that died.
//
// What a tick claims is decided by the store, not by River: each source's
// next tick is a row that one transaction moves forward, so a tick runs
// exactly once whichever node ticks and however often.
package jobs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/syncer"
)

// Queue names.
const (
	QueueSync    = "sync"
	QueueDefault = river.QueueDefault
)

// Store is what the workers need of the store.
type Store interface {
	roster.Store
	roster.SchedulerStore
}

// Config configures a node's queue.
type Config struct {
	// Store is Roster's store (required).
	Store Store
	// ID names this node in River's records (jobs' attempted_by, the
	// leader); empty: River's default, the host name and start time.
	ID string
	// SyncWorkers bounds the syncs this node runs at once.
	SyncWorkers int
	// ScheduleEvery is how often the leader looks for due sources: the
	// precision of schedules.
	ScheduleEvery time.Duration
	// Timeouts are the engine's; the queue rescues a sync job whose node
	// stopped once no run can still be going (rescueAfter).
	Timeouts syncer.Timeouts
	// LostAfter is how long a run may stay queued without its job before
	// the scheduler queues it again (the process that made it died
	// between recording it and queueing it).
	LostAfter time.Duration
	// Maintenance, when set, is run hourly by one node (pruning logs).
	Maintenance func(ctx context.Context) error
	// Register adds more workers (notifications), and Queues their
	// queues (name → workers).
	Register func(*river.Workers)
	Queues   map[string]int
	Log      *slog.Logger
}

func (c *Config) defaults() {
	if c.SyncWorkers <= 0 {
		c.SyncWorkers = 4
	}
	if c.ScheduleEvery <= 0 {
		c.ScheduleEvery = 5 * time.Second
	}
	if c.Timeouts.Max <= 0 {
		c.Timeouts = syncer.DefaultTimeouts
	}
	if c.LostAfter <= 0 {
		c.LostAfter = time.Minute
	}
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
}

// rescueMargin is how long past the longest allowed run a job's process
// must be silent before its job is given to another.
func (c *Config) rescueMargin() time.Duration {
	return max(c.Timeouts.Max/10, 5*time.Second)
}

// rescueAfter is how long a sync job may run before it is taken for lost.
func (c *Config) rescueAfter() time.Duration {
	return c.Timeouts.Max + c.rescueMargin() + c.Timeouts.Finish() + c.rescueMargin()
}

// client is what Queue uses of a *river.Client[TTx], whatever the driver.
type client interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
	InsertMany(ctx context.Context, params []river.InsertManyParams) ([]*rivertype.JobInsertResult, error)
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
	StopAndCancel(ctx context.Context) error
}

// Queue is one node's handle on the cluster's job queue.
type Queue struct {
	cfg    Config
	client client
	// depth counts the sync queue's jobs by state.
	depth   func(ctx context.Context) (map[string]int, error)
	release func(ctx context.Context) (int, error) // SQLite only
	close   func() error

	store  Store
	engine *syncer.Engine // set by Start
}

// newQueue builds the River client for driver-specific parts.
func newQueue[TTx any](cfg Config, newClient func(*river.Config) (*river.Client[TTx], error)) (*Queue, error) {
	cfg.defaults()
	if cfg.Store == nil {
		return nil, errors.New("job queue: no store")
	}
	q := &Queue{cfg: cfg, store: cfg.Store}
	workers := river.NewWorkers()
	river.AddWorker(workers, &syncWorker{q: q})
	river.AddWorker(workers, &scheduleWorker{q: q})
	river.AddWorker(workers, &followUpWorker{q: q})
	river.AddWorker(workers, &maintenanceWorker{q: q})
	if cfg.Register != nil {
		cfg.Register(workers)
	}
	margin := cfg.rescueMargin()
	every := cfg.ScheduleEvery
	queues := map[string]river.QueueConfig{
		QueueSync:    {MaxWorkers: cfg.SyncWorkers},
		QueueDefault: {MaxWorkers: 10},
	}
	for name, n := range cfg.Queues {
		queues[name] = river.QueueConfig{MaxWorkers: n}
	}
	c, err := newClient(&river.Config{
		ID:      cfg.ID,
		Queues:  queues,
		Workers: workers,
		PeriodicJobs: []*river.PeriodicJob{
			river.NewPeriodicJob(river.PeriodicInterval(every), func() (river.JobArgs, *river.InsertOpts) {
				return ScheduleArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: every}}
			}, &river.PeriodicJobOpts{ID: "roster.schedule", RunOnStart: true}),
			river.NewPeriodicJob(river.PeriodicInterval(time.Hour), func() (river.JobArgs, *river.InsertOpts) {
				return MaintenanceArgs{}, &river.InsertOpts{UniqueOpts: river.UniqueOpts{ByPeriod: time.Hour}}
			}, &river.PeriodicJobOpts{ID: "roster.maintenance"}),
		},
		// The engine enforces each source's timeout; River's is the
		// backstop. After it the engine may still be recording the
		// outcome (Timeouts.Finish); a job silent past that and a margin
		// is taken for its process's death and rescued.
		JobTimeout:           cfg.Timeouts.Max + margin,
		RescueStuckJobsAfter: cfg.rescueAfter(),
		Logger:               quietRiver(cfg.Log.With("component", "river")),
		ErrorHandler:         &errorHandler{log: cfg.Log},
	})
	if err != nil {
		return nil, fmt.Errorf("job queue: %w", err)
	}
	q.client = c
	return q, nil
}

// Start starts working jobs, with engine running the syncs. Jobs may be
// queued before Start.
func (q *Queue) Start(ctx context.Context, engine *syncer.Engine) error {
	q.engine = engine
	if err := q.client.Start(ctx); err != nil {
		return fmt.Errorf("start job queue: %w", err)
	}
	return nil
}

// Stop stops working jobs: syncs in progress are canceled (recorded as
// canceled, nothing changed) and their jobs retried, by another node or
// after the next start. It then closes the queue's database handle.
func (q *Queue) Stop(ctx context.Context) error {
	var errs []error
	if q.engine != nil {
		if err := q.client.StopAndCancel(ctx); err != nil && !errors.Is(err, context.Canceled) {
			errs = append(errs, err)
		}
	}
	if q.close != nil {
		errs = append(errs, q.close())
	}
	return errors.Join(errs...)
}

// Drain stops this node taking jobs (queued ones stay queued, for
// another node or the next start) and waits up to timeout for the jobs
// running to finish. Syncs still running then are canceled and recorded
// as failed for the shutdown (syncer.ShutdownError). It returns once
// every job has ended, or ctx is done; Stop still closes the queue.
func (q *Queue) Drain(ctx context.Context, timeout time.Duration) error {
	if q.engine == nil {
		return nil
	}
	soft, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	err := q.client.Stop(soft)
	if err == nil {
		return nil
	}
	if ctx.Err() != nil {
		return err
	}
	q.cfg.Log.Warn("syncs still running at the shutdown timeout: stopping them", "shutdown_timeout", timeout)
	q.engine.ShutdownTimedOut(timeout)
	return q.client.StopAndCancel(ctx)
}

// Insert queues a job (notifications use it).
func (q *Queue) Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error) {
	return q.client.Insert(ctx, args, opts)
}

// Enqueue implements syncer.Queue: it queues the job that executes run,
// not before run.NotBefore. Queueing a run twice queues one job.
func (q *Queue) Enqueue(ctx context.Context, run *roster.SyncRun) error {
	_, err := q.client.Insert(ctx, SyncArgs{RunID: run.ID, SourceID: run.SourceID}, syncInsertOpts(run))
	return err
}

// syncInsertOpts are the insert options of run's job: SyncArgs' own, and
// the end of a retry's backoff.
func syncInsertOpts(run *roster.SyncRun) *river.InsertOpts {
	opts := SyncArgs{}.InsertOpts()
	if run.NotBefore != nil {
		opts.ScheduledAt = *run.NotBefore
	}
	return &opts
}

// enqueueMany queues the runs' jobs in one statement.
func (q *Queue) enqueueMany(ctx context.Context, runs []*roster.SyncRun) error {
	if len(runs) == 0 {
		return nil
	}
	params := make([]river.InsertManyParams, len(runs))
	for i, run := range runs {
		params[i] = river.InsertManyParams{Args: SyncArgs{RunID: run.ID, SourceID: run.SourceID}, InsertOpts: syncInsertOpts(run)}
	}
	_, err := q.client.InsertMany(ctx, params)
	return err
}

// Depth counts the sync queue's jobs by state (available, running,
// retryable, scheduled, ...), for metrics.
func (q *Queue) Depth(ctx context.Context) (map[string]int, error) { return q.depth(ctx) }

// errorHandler logs what River reports of failed jobs at a level that
// says what happened: a sync's own failure is already recorded in its run.
type errorHandler struct{ log *slog.Logger }

func (h *errorHandler) HandleError(ctx context.Context, job *rivertype.JobRow, err error) *river.ErrorHandlerResult {
	h.log.Info("job failed; River retries it with backoff while attempts remain", "kind", job.Kind, "job", job.ID,
		"attempt", job.Attempt, "max_attempts", job.MaxAttempts, "err", err)
	return nil
}

func (h *errorHandler) HandlePanic(ctx context.Context, job *rivertype.JobRow, panicVal any, trace string) *river.ErrorHandlerResult {
	h.log.Error("job panicked", "kind", job.Kind, "job", job.ID, "panic", fmt.Sprint(panicVal), "trace", trace)
	return nil
}
