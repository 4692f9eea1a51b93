package notify

import (
	"context"
	"strings"

	"github.com/rosterhq/roster"
)

// Test sends a synthetic event to a target now, within the worker's
// timeout and without River, records the attempt in the delivery log
// (event "test") and returns it: the "send test event" action.
func (w *Worker) Test(ctx context.Context, hook *roster.Webhook) (*roster.WebhookDelivery, error) {
	inv, err := w.store.Inventory(ctx, hook.InventoryID)
	if err != nil {
		return nil, err
	}
	secrets, err := webhookSecrets(ctx, w.backend, hook)
	if err != nil {
		return nil, err
	}
	ev := &Event{
		ID: newID(), Event: eventTest, Time: w.now().UTC(),
		Inventory: EventInventory{ID: inv.ID, Name: inv.Name},
		Source:    EventSource{Name: "test", Provider: "roster"},
		Run:       EventRun{Trigger: "test", Status: "test"},
	}
	if w.opts.PublicURL != "" {
		ev.Link = strings.TrimRight(w.opts.PublicURL, "/") + "/ui/"
	}
	d := &delivery{hook: hook, secrets: secrets, event: ev, scrub: newScrubberFor(hook, secrets)}
	start := w.now()
	a := w.sender(hook.Type).send(ctx, d)
	rec := &roster.WebhookDelivery{
		WebhookID: hook.ID, EventID: ev.ID, Event: eventTest, Attempt: 1,
		StatusCode: a.code, Outcome: roster.DeliveryFailed, Error: a.msg,
		Duration: w.now().Sub(start), Time: start,
	}
	switch a.res {
	case delivered:
		rec.Outcome = roster.DeliveryDelivered
	case nothing:
		rec.Outcome = roster.DeliverySkipped
	}
	if err := w.store.RecordDelivery(context.WithoutCancel(ctx), rec); err != nil {
		w.log.Warn("recording a test delivery failed", "webhook", hook.ID, "err", err)
	}
	w.log.Info("webhook test sent", "webhook", hook.ID, "outcome", rec.Outcome, "status", rec.StatusCode, "err", rec.Error)
	return rec, nil
}

// UseWorker lets the service send test events with w.
func (s *Service) UseWorker(w *Worker) { s.worker = w }

// Test sends a test event to webhook id (see Worker.Test).
func (s *Service) Test(ctx context.Context, id string) (*roster.WebhookDelivery, error) {
	if s.worker == nil {
		return nil, roster.Errorf(roster.EUNAVAILABLE, "this server sends no notifications")
	}
	hook, err := s.store.Webhook(ctx, id)
	if err != nil {
		return nil, err
	}
	return s.worker.Test(ctx, hook)
}

// Protocol names the protocol whose reply codes a target's delivery log
// records: http, smtp or irc.
func Protocol(t roster.WebhookType) string { return protocolOf(t) }
