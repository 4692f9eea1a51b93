package notify

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/riverqueue/river"
	"github.com/riverqueue/river/rivertype"

	"github.com/rosterhq/roster"
)

// DeliveryArgs is one delivery job: one event of one run to one webhook.
// It holds ids only; the URL and signing secret are read from the backend
// when the job runs, and the body is built from the stored run.
type DeliveryArgs struct {
	WebhookID string              `json:"webhook_id"`
	RunID     string              `json:"run_id"`
	Event     roster.WebhookEvent `json:"event"`
}

// Kind implements river.JobArgs.
func (DeliveryArgs) Kind() string { return "roster.webhook_delivery" }

// InsertOpts implements river.JobArgsWithInsertOpts: the defaults of a
// delivery job when it is inserted without the Notifier.
func (DeliveryArgs) InsertOpts() river.InsertOpts { return insertOpts(Queue, DefaultMaxAttempts) }

// insertOpts makes a delivery unique by its args in every state: the same
// event is never delivered twice to the same webhook, however often it is
// raised, for as long as River keeps the finished job (see its
// Completed/Cancelled/DiscardedJobRetentionPeriod).
func insertOpts(queue string, maxAttempts int) river.InsertOpts {
	return river.InsertOpts{
		Queue:       queue,
		MaxAttempts: maxAttempts,
		UniqueOpts:  river.UniqueOpts{ByArgs: true, ByState: rivertype.JobStates()},
	}
}

// WorkerOptions tunes a Worker; the zero value is fine.
type WorkerOptions struct {
	// Timeout bounds one request (default 10s).
	Timeout time.Duration
	// RetryBase is the wait after the first failed attempt; it doubles
	// with each attempt, with jitter (default 30s), up to RetryMax
	// (default 1h).
	RetryBase time.Duration
	RetryMax  time.Duration
	// RetryAfterMax bounds how long a Retry-After header may defer the
	// next attempt (default 1h).
	RetryAfterMax time.Duration
	// Transport sends the requests (default: a clone of
	// http.DefaultTransport). Redirects are never followed, whatever it is.
	Transport http.RoundTripper
	// UserAgent (default "roster").
	UserAgent string
	// PublicURL is Roster's URL as browsers reach it: messages link to
	// PublicURL/ui/runs/<id>. Empty: messages carry no link.
	PublicURL string
	// TLSConfig is the base of the IRC and SMTP connections' TLS (nil:
	// the system's roots); tests give their own CA here.
	TLSConfig *tls.Config
	Logger    *slog.Logger
	Now       func() time.Time
}

// Worker delivers webhook events: a river.Worker[DeliveryArgs].
type Worker struct {
	river.WorkerDefaults[DeliveryArgs]
	store   Store
	backend roster.SecretBackend
	client  *http.Client
	opts    WorkerOptions
	log     *slog.Logger
	now     func() time.Time

	// retryAt passes a Retry-After from Work to NextRetry, by job id.
	mu      sync.Mutex
	retryAt map[int64]time.Time
}

var _ river.Worker[DeliveryArgs] = (*Worker)(nil)

// NewWorker returns a worker that reads webhooks and runs from store and
// URLs from backend.
func NewWorker(store Store, backend roster.SecretBackend, opts WorkerOptions) *Worker {
	opts.Timeout = orDefault(opts.Timeout, 10*time.Second)
	opts.RetryBase = orDefault(opts.RetryBase, 30*time.Second)
	opts.RetryMax = orDefault(opts.RetryMax, time.Hour)
	opts.RetryAfterMax = orDefault(opts.RetryAfterMax, time.Hour)
	opts.UserAgent = orDefault(opts.UserAgent, "roster")
	transport := opts.Transport
	if transport == nil {
		transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	return &Worker{
		store:   store,
		backend: backend,
		client: &http.Client{
			Transport: transport,
			Timeout:   opts.Timeout,
			// A redirect would send the body, and perhaps the signature,
			// somewhere the user did not configure.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		opts:    opts,
		log:     loggerOr(opts.Logger),
		now:     nowOr(opts.Now),
		retryAt: map[int64]time.Time{},
	}
}

// Timeout implements river.Worker: the request's timeout, and time to read
// the webhook and its secrets and record the attempt.
func (w *Worker) Timeout(*river.Job[DeliveryArgs]) time.Duration {
	return w.opts.Timeout + 30*time.Second
}

// deliveryError is an error whose text is safe for logs and for River's
// job record: it wraps nothing, so no URL can be reached through it.
type deliveryError struct{ msg string }

func (e *deliveryError) Error() string { return e.msg }

func failf(format string, args ...any) error {
	return &deliveryError{msg: fmt.Sprintf(format, args...)}
}

// Work implements river.Worker: one attempt to deliver one event.
func (w *Worker) Work(ctx context.Context, job *river.Job[DeliveryArgs]) error {
	args := job.Args
	eventID := EventID(args.RunID, args.Event)
	log := w.log.With("webhook", args.WebhookID, "event", args.Event, "event_id", eventID, "run", args.RunID, "attempt", job.Attempt)
	rec := &roster.WebhookDelivery{WebhookID: args.WebhookID, EventID: eventID, Event: args.Event, RunID: args.RunID, Attempt: job.Attempt}

	hook, err := w.store.Webhook(ctx, args.WebhookID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		log.Info("webhook delivery dropped: the webhook was deleted")
		return river.JobCancel(failf("the webhook was deleted"))
	} else if err != nil {
		log.Warn("webhook delivery: reading the webhook failed", "err", err)
		return failf("cannot read the webhook: %s", roster.ErrorMessage(err))
	}
	log = log.With("url", hook.URLRedacted)
	if !hook.Subscribed(args.Event) {
		return w.skip(ctx, log, rec, "the webhook was disabled, or unsubscribed from the event, before the delivery")
	}
	if done, err := w.delivered(ctx, args.WebhookID, eventID); err != nil {
		log.Warn("webhook delivery: reading the delivery log failed", "err", err)
		return failf("cannot read the delivery log: %s", roster.ErrorMessage(err))
	} else if done {
		log.Info("webhook delivery skipped: the event was delivered already")
		return nil
	}

	event, err := w.event(ctx, args)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return w.skip(ctx, log, rec, "the run, its source or its inventory was deleted before the delivery")
	} else if err != nil {
		log.Warn("webhook delivery: reading the run failed", "err", err)
		return failf("cannot read the run: %s", roster.ErrorMessage(err))
	}
	secrets, err := webhookSecrets(ctx, w.backend, hook)
	switch roster.ErrorCode(err) {
	case "":
	case roster.ENOTFOUND, roster.EINVALID:
		// Messages of the backend name fields and paths, never values.
		log.Error("webhook delivery: the webhook's secrets are unusable", "err", roster.ErrorMessage(err))
		return w.finish(ctx, log, rec, job, permanent, "the webhook's secrets are unusable: "+short(roster.ErrorMessage(err)), 0)
	default:
		log.Warn("webhook delivery: reading the webhook's secrets failed", "err", roster.ErrorMessage(err))
		return w.finish(ctx, log, rec, job, retryable, "cannot read the webhook's secrets: "+short(roster.ErrorMessage(err)), 0)
	}
	d := &delivery{hook: hook, secrets: secrets, event: event, scrub: newScrubberFor(hook, secrets)}
	if hook.Type == roster.TypePagerDuty && args.Event == roster.EventSyncSucceeded {
		if d.prevFailed, err = previousFailed(ctx, w.store, event.run); err != nil {
			log.Warn("webhook delivery: reading the source's runs failed", "err", err)
			return failf("cannot read the source's runs: %s", roster.ErrorMessage(err))
		}
	}

	start := w.now()
	a := w.sender(hook.Type).send(ctx, d)
	rec.Duration = w.now().Sub(start)
	rec.Time = start
	rec.StatusCode = a.code
	if a.res != delivered && a.res != nothing && ctx.Err() != nil {
		// The job's own context ended (River is stopping, or its job
		// timeout passed): return the context's error, which names no URL,
		// so River sees a stop for what it is and works the job again.
		rec.Error = "interrupted: " + a.msg
		rec.Outcome = roster.DeliveryRetrying
		if err := w.store.RecordDelivery(context.WithoutCancel(ctx), rec); err != nil {
			log.Warn("recording a webhook delivery failed", "err", err)
		}
		return fmt.Errorf("webhook delivery interrupted: %w", context.Cause(ctx))
	}
	if a.res == nothing {
		return w.skip(ctx, log, rec, a.msg)
	}
	return w.finish(ctx, log, rec, job, a.res, a.msg, a.retryAfter)
}

// delivered reports whether the log records a successful delivery of the
// event to the webhook: River's uniqueness lasts as long as it keeps the
// finished job, and a job may run again after a crash between the request
// and its completion.
func (w *Worker) delivered(ctx context.Context, webhookID, eventID string) (bool, error) {
	ds, _, err := w.store.WebhookDeliveries(ctx, roster.DeliveryFilter{WebhookID: webhookID, EventID: eventID, Limit: 50})
	for _, d := range ds {
		if d.Outcome == roster.DeliveryDelivered {
			return true, err
		}
	}
	return false, err
}

func (w *Worker) event(ctx context.Context, args DeliveryArgs) (*Event, error) {
	run, err := w.store.SyncRun(ctx, args.RunID)
	if err != nil {
		return nil, err
	}
	if !run.Status.Done() {
		return nil, roster.Errorf(roster.ECONFLICT, "the run has not finished")
	}
	inv, err := w.store.Inventory(ctx, run.InventoryID)
	if err != nil {
		return nil, err
	}
	src, err := w.store.Source(ctx, run.SourceID)
	if err != nil {
		return nil, err
	}
	e := NewEvent(args.Event, run, inv, src)
	e.Link = w.runLink(run.ID)
	e.run = run
	return e, nil
}

// runLink is the run's page in the Web UI, or "" without a public URL.
func (w *Worker) runLink(runID string) string {
	if w.opts.PublicURL == "" {
		return ""
	}
	return strings.TrimRight(w.opts.PublicURL, "/") + "/ui/runs/" + runID
}

// postJSON makes one request. It returns the status (0 without a
// response), the Retry-After delay asked for (0 for none) and the
// transport error.
func (w *Worker) postJSON(ctx context.Context, target string, d *delivery, body []byte) (int, time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, w.opts.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", w.opts.UserAgent)
	req.Header.Set("Roster-Event", string(d.event.Event))
	req.Header.Set("Roster-Event-Id", d.event.ID)
	req.Header.Set("Roster-Webhook-Id", d.hook.ID)
	if signing := d.secrets[fieldSigningSecret]; signing != "" && d.hook.Type == roster.TypeWebhook {
		req.Header.Set(SignatureHeader, Sign(signing, w.now(), body))
	}
	resp, err := w.client.Do(req)
	if err != nil {
		return 0, 0, err
	}
	defer resp.Body.Close()
	// Read a little of the body so the connection can be reused; it is
	// never recorded (an endpoint may echo what it was sent).
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), w.now()), nil
}

// parseRetryAfter reads a Retry-After header: seconds, or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.ParseInt(v, 10, 64); err == nil {
		if s <= 0 {
			return 0
		}
		return time.Duration(min(s, int64(365*24*time.Hour/time.Second))) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

func statusError(status int) string {
	text := http.StatusText(status)
	if text == "" {
		return "HTTP " + strconv.Itoa(status)
	}
	return "HTTP " + strconv.Itoa(status) + " " + text
}

type result int

const (
	delivered result = iota
	retryable
	permanent
	// nothing: there was nothing to send (a PagerDuty success with no
	// alert to resolve).
	nothing
)

// finish records the attempt and tells River what comes next.
func (w *Worker) finish(ctx context.Context, log *slog.Logger, rec *roster.WebhookDelivery, job *river.Job[DeliveryArgs], res result, msg string, retryAfter time.Duration) error {
	last := job.Attempt >= job.MaxAttempts
	switch res {
	case delivered:
		rec.Outcome = roster.DeliveryDelivered
	case retryable:
		rec.Outcome = roster.DeliveryRetrying
		if last {
			rec.Outcome = roster.DeliveryFailed
			msg += fmt.Sprintf(" (gave up after %d attempts)", job.Attempt)
		}
	case permanent:
		rec.Outcome = roster.DeliveryFailed
	}
	rec.Error = msg
	if rec.Time.IsZero() {
		rec.Time = w.now()
	}
	if err := w.store.RecordDelivery(context.WithoutCancel(ctx), rec); err != nil {
		log.Warn("recording a webhook delivery failed", "err", err)
	}
	attrs := []any{"status", rec.StatusCode, "outcome", rec.Outcome, "duration", rec.Duration}
	switch res {
	case delivered:
		log.Info("webhook delivered", attrs...)
		return nil
	case permanent:
		log.Warn("webhook delivery failed; not retrying", append(attrs, "err", msg)...)
		return river.JobCancel(&deliveryError{msg: msg})
	}
	if last {
		log.Warn("webhook delivery failed; no attempts left", append(attrs, "err", msg)...)
	} else {
		log.Info("webhook delivery failed; will retry", append(attrs, "err", msg)...)
		w.deferRetry(job.ID, retryAfter)
	}
	return &deliveryError{msg: msg}
}

// skip records a delivery that sent nothing and will not be tried again.
func (w *Worker) skip(ctx context.Context, log *slog.Logger, rec *roster.WebhookDelivery, why string) error {
	rec.Outcome, rec.Error, rec.Time = roster.DeliverySkipped, why, w.now()
	if err := w.store.RecordDelivery(context.WithoutCancel(ctx), rec); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
		log.Warn("recording a webhook delivery failed", "err", err)
	}
	log.Info("webhook delivery skipped", "why", why)
	return river.JobCancel(&deliveryError{msg: why})
}

// deferRetry makes NextRetry of the job answer retryAfter from now,
// bounded by RetryBase and RetryAfterMax (0: no Retry-After, backoff).
func (w *Worker) deferRetry(jobID int64, retryAfter time.Duration) {
	if retryAfter <= 0 {
		return
	}
	at := w.now().Add(min(max(retryAfter, w.opts.RetryBase), w.opts.RetryAfterMax))
	w.mu.Lock()
	defer w.mu.Unlock()
	// Drop hints NextRetry never collected (the client stopped between
	// the two), so the map cannot grow.
	stale := w.now().Add(-w.opts.RetryAfterMax - time.Minute)
	for id, t := range w.retryAt {
		if t.Before(stale) {
			delete(w.retryAt, id)
		}
	}
	w.retryAt[jobID] = at
}

// NextRetry implements river.Worker: when the endpoint said when
// (Retry-After, within RetryAfterMax), then; else exponential backoff with
// jitter.
func (w *Worker) NextRetry(job *river.Job[DeliveryArgs]) time.Time {
	now := w.now()
	w.mu.Lock()
	at, ok := w.retryAt[job.ID]
	delete(w.retryAt, job.ID)
	w.mu.Unlock()
	if ok && at.After(now) {
		return at
	}
	return now.Add(backoff(job.Attempt, w.opts.RetryBase, w.opts.RetryMax))
}

// backoff is the wait after failed attempt n (from 1): base doubled n-1
// times, at most limit, give or take a quarter.
func backoff(n int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < n && d < limit; i++ {
		d *= 2
	}
	d = min(d, limit)
	jitter := time.Duration(rand.Int64N(int64(d)/2 + 1))
	return max(d-d/4+jitter, time.Millisecond)
}
