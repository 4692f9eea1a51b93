package store

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/rosterhq/roster"
)

var _ roster.WebhookStore = (*Postgres)(nil)

const pgWebhookCols = `id, name, inventory_id, COALESCE(source_id, ''), type, config, events, enabled, allow_insecure,
	url_redacted, secret_path, secret_version, has_signing_secret, created_at, updated_at`

const pgWebhookInsertCols = `id, name, inventory_id, source_id, format, type, config, events, enabled, allow_insecure,
	url_redacted, secret_path, secret_version, has_signing_secret, created_at, updated_at`

func pgScanWebhook(row pgx.Row) (*roster.Webhook, error) {
	var w roster.Webhook
	var events []string
	var config []byte
	if err := row.Scan(&w.ID, &w.Name, &w.InventoryID, &w.SourceID, &w.Type, &config, &events, &w.Enabled, &w.AllowInsecure,
		&w.URLRedacted, &w.SecretPath, &w.SecretVersion, &w.HasSigningSecret, &w.CreatedAt, &w.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(config, &w.Config); err != nil {
		return nil, err
	}
	w.Events = make([]roster.WebhookEvent, len(events))
	for i, e := range events {
		w.Events[i] = roster.WebhookEvent(e)
	}
	w.CreatedAt, w.UpdatedAt = utc(w.CreatedAt), utc(w.UpdatedAt)
	return &w, nil
}

func pgScanWebhookRows(rows pgx.Rows) (*roster.Webhook, error) { return pgScanWebhook(rows) }

// pgWebhookEvents is the stored form of a webhook's events: a text array.
func pgWebhookEvents(events []roster.WebhookEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = string(e)
	}
	return out
}

// pgWebhookError maps the errors of a write of w to roster errors.
func pgWebhookError(err error, w *roster.Webhook) error {
	var e *pgconn.PgError
	switch {
	case !errors.As(err, &e):
		return err
	case e.Code == "23505" && e.ConstraintName == "webhooks_pkey":
		return roster.Errorf(roster.ECONFLICT, "a webhook with id %q already exists", w.ID)
	case e.Code == "23505":
		return roster.Errorf(roster.ECONFLICT, "the inventory already has a webhook named %q", w.Name)
	case pgIsForeignKey(err):
		return notFound("inventory", w.InventoryID)
	}
	return err
}

// CreateWebhook implements roster.WebhookStore. The caller sets the secret
// fields (the backend's path and version); an empty ID is generated.
func (s *Postgres) CreateWebhook(ctx context.Context, w *roster.Webhook) error {
	now := pgTime(s.now())
	if w.ID == "" {
		w.ID = newID()
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		if w.SourceID != "" {
			// Key-share lock the source, so that it stays until the insert
			// (a webhook of a deleted source would be refused as one of a
			// missing inventory).
			var inv string
			err := tx.QueryRow(ctx, `SELECT inventory_id FROM sources WHERE id = $1 FOR KEY SHARE`, w.SourceID).Scan(&inv)
			switch {
			case errors.Is(err, pgx.ErrNoRows):
				return notFound("source", w.SourceID)
			case err != nil:
				return err
			case w.InventoryID != "" && w.InventoryID != inv:
				return roster.Invalid(roster.FieldError{Field: "source_id", Message: "the source belongs to another inventory"})
			}
			w.InventoryID = inv
		}
		_, err := tx.Exec(ctx, `INSERT INTO webhooks (`+pgWebhookInsertCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			w.ID, w.Name, w.InventoryID, nullString(w.SourceID), string(w.Type.Format()), string(w.Type), webhookConfig(w.Config), pgWebhookEvents(w.Events), w.Enabled, w.AllowInsecure,
			w.URLRedacted, w.SecretPath, w.SecretVersion, w.HasSigningSecret, now, now)
		if err != nil {
			return pgWebhookError(err, w)
		}
		w.CreatedAt, w.UpdatedAt = now, now
		return nil
	})
}

// Webhook implements roster.WebhookStore.
func (s *Postgres) Webhook(ctx context.Context, id string) (*roster.Webhook, error) {
	w, err := pgScanWebhook(s.pool.QueryRow(ctx, `SELECT `+pgWebhookCols+` FROM webhooks WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("webhook", id)
	}
	return w, err
}

// Webhooks implements roster.WebhookStore.
func (s *Postgres) Webhooks(ctx context.Context, f roster.WebhookFilter) ([]*roster.Webhook, error) {
	var w pgWhere
	if f.InventoryID != "" {
		w.add(`inventory_id = ?`, f.InventoryID)
	}
	if f.SourceID != "" {
		w.add(`source_id = ?`, f.SourceID)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+pgWebhookCols+` FROM webhooks`+w.String()+` ORDER BY name, id`, w.args...)
	return collect(rows, err, pgScanWebhookRows)
}

// WebhookSubscribers implements roster.WebhookStore.
func (s *Postgres) WebhookSubscribers(ctx context.Context, inventoryID, sourceID string, event roster.WebhookEvent) ([]*roster.Webhook, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgWebhookCols+` FROM webhooks
		WHERE inventory_id = $1 AND (source_id IS NULL OR source_id = $2) AND enabled AND $3 = ANY (events)
		ORDER BY name, id`, inventoryID, sourceID, string(event))
	return collect(rows, err, pgScanWebhookRows)
}

// UpdateWebhook implements roster.WebhookStore.
func (s *Postgres) UpdateWebhook(ctx context.Context, id string, upd roster.WebhookUpdate) (*roster.Webhook, error) {
	var w *roster.Webhook
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		w, err = pgScanWebhook(tx.QueryRow(ctx, `SELECT `+pgWebhookCols+` FROM webhooks WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("webhook", id)
		} else if err != nil {
			return err
		}
		if upd.Name != nil {
			w.Name = *upd.Name
		}
		if upd.Type != nil {
			w.Type = *upd.Type
		}
		if upd.Config != nil {
			w.Config = *upd.Config
		}
		if upd.Events != nil {
			w.Events = upd.Events
		}
		if upd.Enabled != nil {
			w.Enabled = *upd.Enabled
		}
		if upd.AllowInsecure != nil {
			w.AllowInsecure = *upd.AllowInsecure
		}
		if upd.URLRedacted != nil {
			w.URLRedacted = *upd.URLRedacted
		}
		if upd.SecretVersion != nil {
			w.SecretVersion = *upd.SecretVersion
		}
		if upd.HasSigningSecret != nil {
			w.HasSigningSecret = *upd.HasSigningSecret
		}
		w.UpdatedAt = pgTime(s.now())
		_, err = tx.Exec(ctx, `UPDATE webhooks SET name = $1, format = $2, type = $3, config = $4, events = $5, enabled = $6, allow_insecure = $7,
			url_redacted = $8, secret_version = $9, has_signing_secret = $10, updated_at = $11 WHERE id = $12`,
			w.Name, string(w.Type.Format()), string(w.Type), webhookConfig(w.Config), pgWebhookEvents(w.Events), w.Enabled, w.AllowInsecure,
			w.URLRedacted, w.SecretVersion, w.HasSigningSecret, w.UpdatedAt, id)
		if err != nil {
			return pgWebhookError(err, w)
		}
		return nil
	})
	return w, err
}

// DeleteWebhook implements roster.WebhookStore.
func (s *Postgres) DeleteWebhook(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("webhook", id)
	}
	return nil
}

// ---- delivery log

const pgDeliveryCols = `id, webhook_id, event_id, event, run_id, attempt, status_code, outcome, error, duration, time`

// RecordDelivery implements roster.WebhookStore.
func (s *Postgres) RecordDelivery(ctx context.Context, d *roster.WebhookDelivery) error {
	d.ID = newID()
	if d.Time.IsZero() {
		d.Time = s.now()
	}
	d.Time = pgTime(d.Time)
	_, err := s.pool.Exec(ctx, `INSERT INTO webhook_deliveries (`+pgDeliveryCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		d.ID, d.WebhookID, d.EventID, string(d.Event), d.RunID, d.Attempt, d.StatusCode, string(d.Outcome), d.Error,
		pgtype.Interval{Microseconds: d.Duration.Microseconds(), Valid: true}, d.Time)
	if pgIsForeignKey(err) {
		return notFound("webhook", d.WebhookID)
	}
	return err
}

func pgScanDelivery(rows pgx.Rows) (*roster.WebhookDelivery, error) {
	var d roster.WebhookDelivery
	var dur pgtype.Interval
	if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Event, &d.RunID, &d.Attempt, &d.StatusCode, &d.Outcome, &d.Error, &dur, &d.Time); err != nil {
		return nil, err
	}
	d.Duration = time.Duration(intervalMicros(dur)) * time.Microsecond
	d.Time = utc(d.Time)
	return &d, nil
}

// WebhookDeliveries implements roster.WebhookStore.
func (s *Postgres) WebhookDeliveries(ctx context.Context, f roster.DeliveryFilter) ([]*roster.WebhookDelivery, string, error) {
	limit := pageLimit(f.Limit)
	var w pgWhere
	if f.WebhookID != "" {
		w.add(`webhook_id = ?`, f.WebhookID)
	}
	if f.EventID != "" {
		w.add(`event_id = ?`, f.EventID)
	}
	if f.After != "" {
		var after string
		if err := decodeCursor(f.After, &after); err != nil {
			return nil, "", err
		}
		w.add(`id < ?`, after)
	}
	q := `SELECT ` + pgDeliveryCols + ` FROM webhook_deliveries` + w.String() + ` ORDER BY id DESC` + w.limit(limit+1)
	rows, err := s.pool.Query(ctx, q, w.args...)
	out, err := collect(rows, err, pgScanDelivery)
	if err != nil {
		return nil, "", err
	}
	var next string
	if len(out) > limit {
		out = out[:limit]
		next = encodeCursor(out[limit-1].ID)
	}
	return out, next, nil
}

// PruneDeliveries implements roster.WebhookStore.
func (s *Postgres) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM webhook_deliveries WHERE time < $1`, before)
	if err != nil {
		return 0, err
	}
	return int(tag.RowsAffected()), nil
}
