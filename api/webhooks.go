package api

import (
	"context"
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/notify"
)

// ListWebhooks implements StrictServerInterface.
func (s *Server) ListWebhooks(ctx context.Context, req ListWebhooksRequestObject) (ListWebhooksResponseObject, error) {
	if err := s.needWebhooks(); err != nil {
		return nil, err
	}
	var f roster.WebhookFilter
	if req.Params.Inventory != nil {
		inv, err := s.inventory(ctx, *req.Params.Inventory)
		if err != nil {
			return nil, err
		}
		f.InventoryID = inv.ID
	}
	if req.Params.Source != nil {
		src, err := s.source(ctx, *req.Params.Source)
		if err != nil {
			return nil, err
		}
		f.SourceID = src.ID
	}
	hooks, err := s.webhooks.Webhooks(ctx, f)
	if err != nil {
		return nil, err
	}
	if hooks, err = visibleOnly(ctx, hooks, func(ctx context.Context, w *roster.Webhook) (bool, error) { return s.seesInventory(ctx, w.InventoryID) }); err != nil {
		return nil, err
	}
	out := ListWebhooks200JSONResponse{Items: make([]Webhook, len(hooks))}
	for i, w := range hooks {
		out.Items[i] = webhookOut(w)
	}
	return out, nil
}

// CreateWebhook implements StrictServerInterface.
func (s *Server) CreateWebhook(ctx context.Context, req CreateWebhookRequestObject) (CreateWebhookResponseObject, error) {
	if err := s.needWebhooks(); err != nil {
		return nil, err
	}
	b := req.Body
	// What the caller may not see, it may not watch: refused as absent.
	var errs roster.FieldErrors
	if b.Inventory != nil {
		if _, err := s.inventory(ctx, *b.Inventory); roster.ErrorCode(err) == roster.ENOTFOUND {
			errs.Add("inventory", "%s", roster.ErrorMessage(err))
		} else if err != nil {
			return nil, err
		}
	}
	sourceID := ""
	if b.Source != nil {
		// Stored by id: the reference may be a name.
		if src, err := s.source(ctx, *b.Source); roster.ErrorCode(err) == roster.ENOTFOUND {
			errs.Add("source", "%s", roster.ErrorMessage(err))
		} else if err != nil {
			return nil, err
		} else {
			sourceID = src.ID
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	cfg, secrets := targetIn(b.Username, b.Irc, b.Email, b.Pagerduty, roster.WebhookConfig{})
	in := notify.WebhookInput{
		Name:          b.Name,
		InventoryID:   deref(b.Inventory),
		SourceID:      sourceID,
		Config:        cfg,
		Secrets:       secrets,
		URL:           roster.Secret(deref(b.Url)),
		SigningSecret: roster.Secret(deref(b.SigningSecret)),
		AllowInsecure: b.AllowInsecure != nil && *b.AllowInsecure,
		Disabled:      b.Enabled != nil && !*b.Enabled,
	}
	if b.Events != nil {
		in.Events = eventsIn(*b.Events)
	}
	if b.Type != nil {
		in.Type = roster.WebhookType(*b.Type)
	}
	if b.Format != nil {
		in.Format = roster.WebhookFormat(*b.Format)
	}
	w, err := s.webhooks.Create(ctx, in)
	if err != nil {
		return nil, err
	}
	s.auditChange(ctx, "webhook.create", "webhook", w.ID, w.Name, w.InventoryID, map[string]string{"type": string(w.Type), "url": w.URLRedacted, "source": w.SourceID})
	return CreateWebhook201JSONResponse(webhookOut(w)), nil
}

// GetWebhook implements StrictServerInterface.
func (s *Server) GetWebhook(ctx context.Context, req GetWebhookRequestObject) (GetWebhookResponseObject, error) {
	if err := s.needWebhooks(); err != nil {
		return nil, err
	}
	w, err := s.webhook(ctx, req.Webhook)
	if err != nil {
		return nil, err
	}
	return GetWebhook200JSONResponse(webhookOut(w)), nil
}

// UpdateWebhook implements StrictServerInterface.
func (s *Server) UpdateWebhook(ctx context.Context, req UpdateWebhookRequestObject) (UpdateWebhookResponseObject, error) {
	if err := s.needWebhooks(); err != nil {
		return nil, err
	}
	b := req.Body
	ch := notify.WebhookChange{Name: b.Name, Enabled: b.Enabled, AllowInsecure: b.AllowInsecure}
	if b.Type != nil {
		ch.Type = ptr(roster.WebhookType(*b.Type))
	}
	if b.Format != nil {
		ch.Format = ptr(roster.WebhookFormat(*b.Format))
	}
	if b.Events != nil {
		ch.Events = eventsIn(*b.Events)
	}
	if b.Url != nil {
		ch.URL = ptr(roster.Secret(*b.Url))
	}
	if b.SigningSecret != nil {
		ch.SigningSecret = ptr(roster.Secret(*b.SigningSecret))
	}
	w, err := s.webhook(ctx, req.Webhook)
	if err != nil {
		return nil, err
	}
	if b.Username != nil || b.Irc != nil || b.Email != nil || b.Pagerduty != nil {
		cfg, secrets := targetIn(b.Username, b.Irc, b.Email, b.Pagerduty, w.Config)
		ch.Config, ch.Secrets = &cfg, secrets
	}
	w, err = s.webhooks.Update(ctx, w.ID, ch)
	if err != nil {
		return nil, err
	}
	s.auditChange(ctx, "webhook.update", "webhook", w.ID, w.Name, w.InventoryID, map[string]string{
		"url": w.URLRedacted, "url_changed": boolString(b.Url != nil), "signing_secret_changed": boolString(b.SigningSecret != nil),
		"secrets_changed": strings.Join(slices.Sorted(maps.Keys(ch.Secrets)), ",")})
	return UpdateWebhook200JSONResponse(webhookOut(w)), nil
}

// DeleteWebhook implements StrictServerInterface.
func (s *Server) DeleteWebhook(ctx context.Context, req DeleteWebhookRequestObject) (DeleteWebhookResponseObject, error) {
	if err := s.needWebhooks(); err != nil {
		return nil, err
	}
	w, err := s.webhook(ctx, req.Webhook)
	if err != nil {
		return nil, err
	}
	if err := s.webhooks.Delete(ctx, w.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "webhook.delete", "webhook", w.ID, w.Name, w.InventoryID, nil)
	return DeleteWebhook204Response{}, nil
}

// ListWebhookDeliveries implements StrictServerInterface.
func (s *Server) ListWebhookDeliveries(ctx context.Context, req ListWebhookDeliveriesRequestObject) (ListWebhookDeliveriesResponseObject, error) {
	if err := s.needWebhooks(); err != nil {
		return nil, err
	}
	w, err := s.webhook(ctx, req.Webhook)
	if err != nil {
		return nil, err
	}
	p := req.Params
	ds, next, err := s.webhooks.Deliveries(ctx, roster.DeliveryFilter{WebhookID: w.ID, EventID: deref(p.EventId), After: deref(p.Cursor), Limit: derefInt(p.Limit)})
	if err != nil {
		return nil, err
	}
	out := ListWebhookDeliveries200JSONResponse{Items: make([]WebhookDelivery, len(ds)), NextCursor: optional(next)}
	for i, d := range ds {
		out.Items[i] = WebhookDelivery{
			Id: d.ID, WebhookId: d.WebhookID, EventId: d.EventID, Event: WebhookDeliveryEvent(d.Event), RunId: d.RunID,
			Attempt: d.Attempt, Outcome: WebhookDeliveryOutcome(d.Outcome), Error: optional(d.Error),
			DurationMs: d.Duration.Milliseconds(), Time: d.Time,
		}
		if d.StatusCode != 0 {
			out.Items[i].StatusCode = ptr(d.StatusCode)
		}
	}
	return out, nil
}

func (s *Server) needWebhooks() error {
	if s.webhooks == nil {
		return roster.Errorf(roster.EUNAVAILABLE, "this process does not serve webhooks")
	}
	return nil
}

// purgeWebhooks deletes the webhooks (and their secrets) of a source or
// inventory about to be deleted.
func (s *Server) purgeWebhooks(ctx context.Context, f roster.WebhookFilter) error {
	if s.webhooks == nil {
		return nil
	}
	_, err := s.webhooks.Purge(ctx, f)
	return err
}

func eventsIn(in []WebhookEvent) []roster.WebhookEvent {
	out := make([]roster.WebhookEvent, len(in))
	for i, e := range in {
		out[i] = roster.WebhookEvent(e)
	}
	return out
}

func webhookOut(w *roster.Webhook) Webhook {
	out := Webhook{
		Id: w.ID, Name: w.Name, InventoryId: w.InventoryID, SourceId: optional(w.SourceID),
		Type: WebhookType(w.Type), Format: WebhookFormat(w.Type.Format()), Events: make([]WebhookEvent, len(w.Events)), Enabled: w.Enabled,
		AllowInsecure: w.AllowInsecure, Url: w.URLRedacted, HasSigningSecret: w.HasSigningSecret,
		CreatedAt: w.CreatedAt, UpdatedAt: w.UpdatedAt,
	}
	for i, e := range w.Events {
		out.Events[i] = WebhookEvent(e)
	}
	targetOut(w.Config, &out)
	return out
}

// TestWebhook implements StrictServerInterface: "send test event".
func (s *Server) TestWebhook(ctx context.Context, req TestWebhookRequestObject) (TestWebhookResponseObject, error) {
	if err := s.needWebhooks(); err != nil {
		return nil, err
	}
	w, err := s.webhook(ctx, req.Webhook)
	if err != nil {
		return nil, err
	}
	d, err := s.webhooks.Test(ctx, w.ID)
	if err != nil {
		return nil, err
	}
	s.auditChange(ctx, "webhook.test", "webhook", w.ID, w.Name, w.InventoryID, map[string]string{
		"type": string(w.Type), "url": w.URLRedacted, "outcome": string(d.Outcome), "delivery": d.ID})
	out := TestWebhook200JSONResponse{
		DeliveryId: d.ID, Outcome: WebhookTestResultOutcome(d.Outcome), Protocol: WebhookTestResultProtocol(notify.Protocol(w.Type)),
		Error: optional(d.Error), DurationMs: d.Duration.Milliseconds(),
	}
	if d.StatusCode != 0 {
		out.StatusCode = ptr(d.StatusCode)
	}
	return out, nil
}

func boolString(b bool) string {
	if b {
		return "true"
	}
	return "false"
}
