package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.WebhookStore = (*SQLite)(nil)

const webhookCols = `id, name, inventory_id, COALESCE(source_id, ''), type, config, events, enabled, allow_insecure,
	url_redacted, secret_path, secret_version, has_signing_secret, created_at, updated_at`

const webhookInsertCols = `id, name, inventory_id, source_id, format, type, config, events, enabled, allow_insecure,
	url_redacted, secret_path, secret_version, has_signing_secret, created_at, updated_at`

func scanWebhook(row interface{ Scan(...any) error }) (*roster.Webhook, error) {
	var w roster.Webhook
	var events, config string
	var created, updated int64
	if err := row.Scan(&w.ID, &w.Name, &w.InventoryID, &w.SourceID, &w.Type, &config, &events, &w.Enabled, &w.AllowInsecure,
		&w.URLRedacted, &w.SecretPath, &w.SecretVersion, &w.HasSigningSecret, &created, &updated); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(events, &w.Events); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(config, &w.Config); err != nil {
		return nil, err
	}
	w.CreatedAt, w.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &w, nil
}

// webhookConfig is the stored form of a target's non-secret settings.
func webhookConfig(c roster.WebhookConfig) string { return mustJSON(c) }

func webhookEvents(events []roster.WebhookEvent) string {
	if events == nil {
		return "[]"
	}
	return mustJSON(events)
}

// CreateWebhook implements roster.WebhookStore. The caller sets the secret
// fields (the backend's path and version); an empty ID is generated.
func (s *SQLite) CreateWebhook(ctx context.Context, w *roster.Webhook) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	if w.ID == "" {
		w.ID = newID()
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		if w.SourceID != "" {
			var inv string
			err := tx.QueryRowContext(ctx, `SELECT inventory_id FROM sources WHERE id = ?`, w.SourceID).Scan(&inv)
			switch {
			case errors.Is(err, sql.ErrNoRows):
				return notFound("source", w.SourceID)
			case err != nil:
				return err
			case w.InventoryID != "" && w.InventoryID != inv:
				return roster.Invalid(roster.FieldError{Field: "source_id", Message: "the source belongs to another inventory"})
			}
			w.InventoryID = inv
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO webhooks (`+webhookInsertCols+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			w.ID, w.Name, w.InventoryID, nullString(w.SourceID), string(w.Type.Format()), string(w.Type), webhookConfig(w.Config), webhookEvents(w.Events), w.Enabled, w.AllowInsecure,
			w.URLRedacted, w.SecretPath, w.SecretVersion, w.HasSigningSecret, micros(now), micros(now))
		switch {
		case isUnique(err):
			return roster.Errorf(roster.ECONFLICT, "the inventory already has a webhook named %q", w.Name)
		case isForeignKey(err):
			return notFound("inventory", w.InventoryID)
		case err != nil:
			return err
		}
		w.CreatedAt, w.UpdatedAt = now, now
		return nil
	})
}

// Webhook implements roster.WebhookStore.
func (s *SQLite) Webhook(ctx context.Context, id string) (*roster.Webhook, error) {
	w, err := scanWebhook(s.rq.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("webhook", id)
	}
	return w, err
}

// Webhooks implements roster.WebhookStore.
func (s *SQLite) Webhooks(ctx context.Context, f roster.WebhookFilter) ([]*roster.Webhook, error) {
	var where []string
	var args []any
	if f.InventoryID != "" {
		where, args = append(where, `inventory_id = ?`), append(args, f.InventoryID)
	}
	if f.SourceID != "" {
		where, args = append(where, `source_id = ?`), append(args, f.SourceID)
	}
	q := `SELECT ` + webhookCols + ` FROM webhooks`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	return s.queryWebhooks(ctx, q+` ORDER BY name, id`, args...)
}

// WebhookSubscribers implements roster.WebhookStore.
func (s *SQLite) WebhookSubscribers(ctx context.Context, inventoryID, sourceID string, event roster.WebhookEvent) ([]*roster.Webhook, error) {
	return s.queryWebhooks(ctx, `SELECT `+webhookCols+` FROM webhooks
		WHERE inventory_id = ? AND (source_id IS NULL OR source_id = ?) AND enabled
		AND EXISTS (SELECT 1 FROM json_each(webhooks.events) WHERE value = ?)
		ORDER BY name, id`, inventoryID, sourceID, string(event))
}

func (s *SQLite) queryWebhooks(ctx context.Context, q string, args ...any) ([]*roster.Webhook, error) {
	rows, err := s.rq.QueryContext(ctx, q, args...)
	return collectRows(rows, err, scanWebhook)
}

// UpdateWebhook implements roster.WebhookStore.
func (s *SQLite) UpdateWebhook(ctx context.Context, id string, upd roster.WebhookUpdate) (*roster.Webhook, error) {
	var w *roster.Webhook
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		w, err = scanWebhook(tx.QueryRowContext(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
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
		w.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		_, err = tx.ExecContext(ctx, `UPDATE webhooks SET name = ?, format = ?, type = ?, config = ?, events = ?, enabled = ?, allow_insecure = ?,
			url_redacted = ?, secret_version = ?, has_signing_secret = ?, updated_at = ? WHERE id = ?`,
			w.Name, string(w.Type.Format()), string(w.Type), webhookConfig(w.Config), webhookEvents(w.Events), w.Enabled, w.AllowInsecure,
			w.URLRedacted, w.SecretVersion, w.HasSigningSecret, micros(w.UpdatedAt), id)
		if isUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "the inventory already has a webhook named %q", w.Name)
		}
		return err
	})
	return w, err
}

// DeleteWebhook implements roster.WebhookStore.
func (s *SQLite) DeleteWebhook(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("webhook", id)
	}
	return nil
}

// ---- delivery log

const deliveryCols = `id, webhook_id, event_id, event, run_id, attempt, status_code, outcome, error, duration_us, time`

// RecordDelivery implements roster.WebhookStore.
func (s *SQLite) RecordDelivery(ctx context.Context, d *roster.WebhookDelivery) error {
	d.ID = newID()
	if d.Time.IsZero() {
		d.Time = s.now()
	}
	d.Time = d.Time.UTC().Truncate(time.Microsecond)
	_, err := s.wq.ExecContext(ctx, `INSERT INTO webhook_deliveries (`+deliveryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ID, d.WebhookID, d.EventID, string(d.Event), d.RunID, d.Attempt, d.StatusCode, string(d.Outcome), d.Error,
		d.Duration.Microseconds(), micros(d.Time))
	if isForeignKey(err) {
		return notFound("webhook", d.WebhookID)
	}
	return err
}

// WebhookDeliveries implements roster.WebhookStore.
func (s *SQLite) WebhookDeliveries(ctx context.Context, f roster.DeliveryFilter) ([]*roster.WebhookDelivery, string, error) {
	limit := pageLimit(f.Limit)
	var where []string
	var args []any
	if f.WebhookID != "" {
		where, args = append(where, `webhook_id = ?`), append(args, f.WebhookID)
	}
	if f.EventID != "" {
		where, args = append(where, `event_id = ?`), append(args, f.EventID)
	}
	if f.After != "" {
		var after string
		if err := decodeCursor(f.After, &after); err != nil {
			return nil, "", err
		}
		where, args = append(where, `id < ?`), append(args, after)
	}
	q := `SELECT ` + deliveryCols + ` FROM webhook_deliveries`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.rq.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var out []*roster.WebhookDelivery
	for rows.Next() {
		var d roster.WebhookDelivery
		var durUS, t int64
		if err := rows.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Event, &d.RunID, &d.Attempt, &d.StatusCode, &d.Outcome, &d.Error, &durUS, &t); err != nil {
			return nil, "", err
		}
		d.Duration = time.Duration(durUS) * time.Microsecond
		d.Time = fromMicros(t)
		out = append(out, &d)
	}
	if err := rows.Err(); err != nil {
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
func (s *SQLite) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM webhook_deliveries WHERE time < ?`, micros(before))
	if err != nil {
		return 0, err
	}
	n, err := res.RowsAffected()
	return int(n), err
}
