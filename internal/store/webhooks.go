package store

import (
	"context"
	"encoding/json"
	"time"

	"github.com/rosterhq/roster"
)

var (
	_ roster.WebhookStore = (*SQLite)(nil)
	_ roster.WebhookStore = (*Postgres)(nil)
)

const webhookCols = `id, name, inventory_id, COALESCE(source_id, ''), type, config, events, enabled, allow_insecure,
	url_redacted, secret_path, secret_version, has_signing_secret, created_at, updated_at`

const webhookInsertCols = `id, name, inventory_id, source_id, format, type, config, events, enabled, allow_insecure,
	url_redacted, secret_path, secret_version, has_signing_secret, created_at, updated_at`

func scanWebhook(r row) (*roster.Webhook, error) {
	var w roster.Webhook
	var events []string
	var config json.RawMessage
	if err := r.Scan(&w.ID, &w.Name, &w.InventoryID, &w.SourceID, &w.Type, &config, &events, &w.Enabled, &w.AllowInsecure,
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
	return &w, nil
}

// webhookConfig is the stored form of a target's non-secret settings.
func webhookConfig(c roster.WebhookConfig) string { return mustJSON(c) }

// webhookEvents is the stored form of a webhook's events: a list, never
// NULL.
func webhookEvents(events []roster.WebhookEvent) []string {
	out := make([]string, len(events))
	for i, e := range events {
		out[i] = string(e)
	}
	return out
}

// webhookError maps the errors of a write of w to roster errors.
func webhookError(err error, w *roster.Webhook) error {
	switch {
	case isPrimaryKey(err):
		return roster.Errorf(roster.ECONFLICT, "a webhook with id %q already exists", w.ID)
	case isUnique(err):
		return roster.Errorf(roster.ECONFLICT, "the inventory already has a webhook named %q", w.Name)
	case isForeignKey(err):
		return notFound("inventory", w.InventoryID)
	}
	return err
}

// CreateWebhook implements roster.WebhookStore. The caller sets the secret
// fields (the backend's path and version); an empty ID is generated.
func (s *db) CreateWebhook(ctx context.Context, w *roster.Webhook) error {
	now := storedTime(s.now())
	if w.ID == "" {
		w.ID = newID()
	}
	return s.inTx(ctx, func(tx conn) error {
		if w.SourceID != "" {
			// Key-share lock the source, so that it stays until the insert
			// (a webhook of a deleted source would be refused as one of a
			// missing inventory).
			var inv string
			err := tx.queryRow(ctx, `SELECT inventory_id FROM sources WHERE id = $1`+s.lockRows("KEY SHARE"), w.SourceID).Scan(&inv)
			switch {
			case isNoRows(err):
				return notFound("source", w.SourceID)
			case err != nil:
				return err
			case w.InventoryID != "" && w.InventoryID != inv:
				return roster.Invalid(roster.FieldError{Field: "source_id", Message: "the source belongs to another inventory"})
			}
			w.InventoryID = inv
		}
		_, err := tx.exec(ctx, `INSERT INTO webhooks (`+webhookInsertCols+`)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			w.ID, w.Name, w.InventoryID, nullString(w.SourceID), string(w.Type.Format()), string(w.Type), webhookConfig(w.Config), webhookEvents(w.Events), w.Enabled, w.AllowInsecure,
			w.URLRedacted, w.SecretPath, w.SecretVersion, w.HasSigningSecret, now, now)
		if err != nil {
			return webhookError(err, w)
		}
		w.CreatedAt, w.UpdatedAt = now, now
		return nil
	})
}

// Webhook implements roster.WebhookStore.
func (s *db) Webhook(ctx context.Context, id string) (*roster.Webhook, error) {
	w, err := scanWebhook(s.r.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, notFound("webhook", id)
	}
	return w, err
}

// Webhooks implements roster.WebhookStore.
func (s *db) Webhooks(ctx context.Context, f roster.WebhookFilter) ([]*roster.Webhook, error) {
	var w whereClause
	if f.InventoryID != "" {
		w.add(`inventory_id = ?`, f.InventoryID)
	}
	if f.SourceID != "" {
		w.add(`source_id = ?`, f.SourceID)
	}
	rs, err := s.r.query(ctx, `SELECT `+webhookCols+` FROM webhooks`+w.String()+` ORDER BY name, id`, w.args...)
	return scanAll(rs, err, scanWebhook)
}

// WebhookSubscribers implements roster.WebhookStore.
func (s *db) WebhookSubscribers(ctx context.Context, inventoryID, sourceID string, event roster.WebhookEvent) ([]*roster.Webhook, error) {
	// anyOf over the events column: the event is one of the list it holds.
	rs, err := s.r.query(ctx, `SELECT `+webhookCols+` FROM webhooks
		WHERE inventory_id = $1 AND (source_id IS NULL OR source_id = $2) AND enabled AND $3 `+s.anyOf("events")+`
		ORDER BY name, id`, inventoryID, sourceID, string(event))
	return scanAll(rs, err, scanWebhook)
}

// UpdateWebhook implements roster.WebhookStore.
func (s *db) UpdateWebhook(ctx context.Context, id string, upd roster.WebhookUpdate) (*roster.Webhook, error) {
	var w *roster.Webhook
	err := s.inTx(ctx, func(tx conn) error {
		var err error
		w, err = scanWebhook(tx.queryRow(ctx, `SELECT `+webhookCols+` FROM webhooks WHERE id = $1`+s.lockRows("UPDATE"), id))
		if isNoRows(err) {
			return notFound("webhook", id)
		} else if err != nil {
			return err
		}
		applyWebhookUpdate(w, upd)
		w.UpdatedAt = storedTime(s.now())
		_, err = tx.exec(ctx, `UPDATE webhooks SET name = $1, format = $2, type = $3, config = $4, events = $5, enabled = $6, allow_insecure = $7,
			url_redacted = $8, secret_version = $9, has_signing_secret = $10, updated_at = $11 WHERE id = $12`,
			w.Name, string(w.Type.Format()), string(w.Type), webhookConfig(w.Config), webhookEvents(w.Events), w.Enabled, w.AllowInsecure,
			w.URLRedacted, w.SecretVersion, w.HasSigningSecret, w.UpdatedAt, id)
		if err != nil {
			return webhookError(err, w)
		}
		return nil
	})
	return w, err
}

func applyWebhookUpdate(w *roster.Webhook, upd roster.WebhookUpdate) {
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
}

// DeleteWebhook implements roster.WebhookStore.
func (s *db) DeleteWebhook(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "webhooks", "webhook", id)
}

// ---- delivery log

// deliveryCols are the columns of webhook_deliveries; the duration's is
// named differently in each database.
func (s *db) deliveryCols() string {
	return `id, webhook_id, event_id, event, run_id, attempt, status_code, outcome, error, ` + s.deliveryDuration + `, time`
}

// RecordDelivery implements roster.WebhookStore.
func (s *db) RecordDelivery(ctx context.Context, d *roster.WebhookDelivery) error {
	d.ID = newID()
	if d.Time.IsZero() {
		d.Time = s.now()
	}
	d.Time = storedTime(d.Time)
	_, err := s.w.exec(ctx, `INSERT INTO webhook_deliveries (`+s.deliveryCols()+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		d.ID, d.WebhookID, d.EventID, string(d.Event), d.RunID, d.Attempt, d.StatusCode, string(d.Outcome), d.Error, d.Duration, d.Time)
	if isForeignKey(err) {
		return notFound("webhook", d.WebhookID)
	}
	return err
}

func scanDelivery(r row) (*roster.WebhookDelivery, error) {
	var d roster.WebhookDelivery
	if err := r.Scan(&d.ID, &d.WebhookID, &d.EventID, &d.Event, &d.RunID, &d.Attempt, &d.StatusCode, &d.Outcome, &d.Error, &d.Duration, &d.Time); err != nil {
		return nil, err
	}
	return &d, nil
}

// WebhookDeliveries implements roster.WebhookStore.
func (s *db) WebhookDeliveries(ctx context.Context, f roster.DeliveryFilter) ([]*roster.WebhookDelivery, string, error) {
	var w whereClause
	if f.WebhookID != "" {
		w.add(`webhook_id = ?`, f.WebhookID)
	}
	if f.EventID != "" {
		w.add(`event_id = ?`, f.EventID)
	}
	return idPage(ctx, s.r, `SELECT `+s.deliveryCols()+` FROM webhook_deliveries`, &w, f.After, f.Limit, scanDelivery,
		func(d *roster.WebhookDelivery) string { return d.ID })
}

// PruneDeliveries implements roster.WebhookStore.
func (s *db) PruneDeliveries(ctx context.Context, before time.Time) (int, error) {
	n, err := s.w.exec(ctx, `DELETE FROM webhook_deliveries WHERE time < $1`, before)
	return int(n), err
}
