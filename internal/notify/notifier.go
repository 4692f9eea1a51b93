package notify

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rosterhq/roster"
)

// JobInserter inserts River jobs: *river.Client[TTx] of any driver.
type JobInserter interface {
	Insert(ctx context.Context, args river.JobArgs, opts *river.InsertOpts) (*rivertype.JobInsertResult, error)
}

var _ JobInserter = (*river.Client[*sql.Tx])(nil)

// NotifierOptions tunes a Notifier; the zero value is fine.
type NotifierOptions struct {
	// Queue of the delivery jobs (default Queue).
	Queue string
	// MaxAttempts of one delivery (default DefaultMaxAttempts).
	MaxAttempts int
	Logger      *slog.Logger
}

// Notifier turns finished sync runs into delivery jobs.
type Notifier struct {
	store roster.WebhookStore
	jobs  JobInserter
	opts  river.InsertOpts
	log   *slog.Logger
}

// NewNotifier returns a notifier that finds webhooks in store and inserts
// delivery jobs with jobs.
func NewNotifier(store roster.WebhookStore, jobs JobInserter, opts NotifierOptions) *Notifier {
	return &Notifier{
		store: store,
		jobs:  jobs,
		opts:  insertOpts(orDefault(opts.Queue, Queue), orDefault(opts.MaxAttempts, DefaultMaxAttempts)),
		log:   loggerOr(opts.Logger),
	}
}

// SyncFinished enqueues one delivery per event of a finished run (see
// roster.RunEvents) and per enabled webhook subscribed to it, of the run's
// source or of its whole inventory. Calling it again for the same run
// enqueues nothing new. An unfinished run raises nothing.
func (n *Notifier) SyncFinished(ctx context.Context, run *roster.SyncRun) error {
	var errs []error
	for _, event := range roster.RunEvents(run) {
		hooks, err := n.store.WebhookSubscribers(ctx, run.InventoryID, run.SourceID, event)
		if err != nil {
			errs = append(errs, fmt.Errorf("find the webhooks of %s: %w", event, err))
			continue
		}
		for _, w := range hooks {
			opts := n.opts
			res, err := n.jobs.Insert(ctx, DeliveryArgs{WebhookID: w.ID, RunID: run.ID, Event: event}, &opts)
			if err != nil {
				errs = append(errs, fmt.Errorf("enqueue %s for webhook %s: %w", event, w.ID, err))
				continue
			}
			if res.UniqueSkippedAsDuplicate {
				n.log.Debug("webhook delivery already enqueued", "webhook", w.ID, "event", event, "run", run.ID)
				continue
			}
			n.log.Debug("webhook delivery enqueued", "webhook", w.ID, "event", event, "run", run.ID, "job", res.Job.ID)
		}
	}
	return errors.Join(errs...)
}
