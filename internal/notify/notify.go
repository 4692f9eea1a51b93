// Package notify tells HTTP endpoints about sync events: webhooks of a
// source or of a whole inventory, in Roster's own JSON (optionally signed)
// or as a Slack-compatible message.
//
// A webhook's URL is a secret (a Slack webhook's path is its credential;
// others carry tokens), so it lives in the secret backend with the signing
// secret, and the database keeps only scheme://host/…. The Service creates,
// changes and deletes webhooks; the Notifier turns a finished sync run into
// one River job per (webhook, event); the Worker delivers a job, retrying
// 429, 5xx and network failures with backoff and recording every attempt in
// the delivery log. No URL path or query, header or signing secret reaches a
// log line, the delivery log or a returned error.
package notify

import (
	"context"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster"
)

// Store is what the package needs of Roster's store: the webhooks and what
// a delivery describes. *store.SQLite implements it.
type Store interface {
	roster.WebhookStore
	// Inventory finds an inventory by id or name.
	Inventory(ctx context.Context, idOrName string) (*roster.Inventory, error)
	Source(ctx context.Context, id string) (*roster.Source, error)
	SyncRun(ctx context.Context, id string) (*roster.SyncRun, error)
	// SyncRuns lists runs newest first (PagerDuty's resolve reads the run
	// before).
	SyncRuns(ctx context.Context, f roster.SyncRunFilter) ([]*roster.SyncRun, string, error)
}

// Secret fields of a webhook in the backend.
const (
	fieldURL           = "url"
	fieldSigningSecret = "signing_secret"
)

// SecretPrefix is where webhooks' secrets live in the backend, beside the
// broker's "credentials/": "webhooks/<webhook id>".
const SecretPrefix = "webhooks/"

// Signing secrets are bounded so that they are worth something and fit a
// header-sized config field.
const (
	minSigningSecretLen = 16
	maxSigningSecretLen = 256
)

// Queue is the River queue of delivery jobs. Give it its own workers, so
// slow endpoints cannot hold up other jobs.
const Queue = "webhooks"

// DefaultMaxAttempts bounds the attempts of one delivery.
const DefaultMaxAttempts = 8

func newID() string { return uuid.Must(uuid.NewV7()).String() }

// eventNamespace seeds event ids: an event's id is a name-based UUID of its
// run and type, so it is the same however often it is raised or delivered.
var eventNamespace = uuid.MustParse("6f1c1c52-5a0e-4f8e-9b3e-2d7e1f0a9c41")

// EventID returns the stable id of event for run: the same for every
// webhook and every attempt, so receivers can drop duplicates.
func EventID(runID string, event roster.WebhookEvent) string {
	return uuid.NewSHA1(eventNamespace, []byte(runID+"\x00"+string(event))).String()
}

func orDefault[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

func loggerOr(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.Default()
	}
	return l
}

func nowOr(now func() time.Time) func() time.Time {
	if now == nil {
		return time.Now
	}
	return now
}
