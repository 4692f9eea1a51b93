package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// OpenWebhooks returns a fresh, empty store for one test and its webhook
// store (usually the same value); the suite closes the store.
type OpenWebhooks func(t *testing.T) (roster.Store, roster.WebhookStore)

// RunWebhooks runs the conformance suite of roster.WebhookStore.
func RunWebhooks(t *testing.T, open OpenWebhooks) {
	tests := []struct {
		name string
		fn   func(*testing.T, roster.Store, roster.WebhookStore)
	}{
		{"CreateAndGet", testWebhookCreate},
		{"ListAndSubscribers", testWebhookList},
		{"Update", testWebhookUpdate},
		{"Delete", testWebhookDelete},
		{"Deliveries", testWebhookDeliveries},
		{"DeleteSourceCascades", testWebhookSourceCascade},
		{"DeleteInventoryCascades", testWebhookInventoryCascade},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, ws := open(t)
			t.Cleanup(func() { s.Close() })
			tt.fn(t, s, ws)
		})
	}
}

func newWebhook(t *testing.T, ws roster.WebhookStore, inventoryID, sourceID, name string, events ...roster.WebhookEvent) *roster.Webhook {
	t.Helper()
	w := &roster.Webhook{
		Name: name, InventoryID: inventoryID, SourceID: sourceID, Type: roster.TypeWebhook,
		Events: events, Enabled: true, URLRedacted: "https://hooks.example.com/…",
		SecretPath: "webhooks/" + name, SecretVersion: 1, HasSigningSecret: true,
	}
	must(t, ws.CreateWebhook(t.Context(), w))
	return w
}

func webhookNames(ws []*roster.Webhook) []string {
	out := []string{}
	for _, w := range ws {
		out = append(out, w.Name)
	}
	return out
}

func testWebhookCreate(t *testing.T, s roster.Store, ws roster.WebhookStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	w := newWebhook(t, ws, inv.ID, "", "all", roster.EventSyncFailed, roster.EventHostsChanged)
	if w.ID == "" || w.CreatedAt.IsZero() || !w.UpdatedAt.Equal(w.CreatedAt) {
		t.Fatalf("created webhook lacks id or times: %+v", w)
	}
	got, err := ws.Webhook(ctx, w.ID)
	must(t, err)
	if got.Name != "all" || got.InventoryID != inv.ID || got.SourceID != "" || got.Type != roster.TypeWebhook ||
		!slices.Equal(got.Events, []roster.WebhookEvent{roster.EventSyncFailed, roster.EventHostsChanged}) || !got.Enabled ||
		got.URLRedacted != "https://hooks.example.com/…" || got.SecretPath != "webhooks/all" || got.SecretVersion != 1 ||
		!got.HasSigningSecret || got.AllowInsecure || !got.CreatedAt.Equal(w.CreatedAt) {
		t.Fatalf("Webhook = %+v", got)
	}

	// A webhook of a source belongs to the source's inventory, given or not.
	sw := newWebhook(t, ws, "", src.ID, "ec2-only", roster.EventSyncSucceeded)
	if sw.InventoryID != inv.ID {
		t.Fatalf("source webhook inventory = %q, want %q", sw.InventoryID, inv.ID)
	}
	got, err = ws.Webhook(ctx, sw.ID)
	must(t, err)
	if got.SourceID != src.ID || got.InventoryID != inv.ID {
		t.Fatalf("source webhook = %+v", got)
	}
	newWebhook(t, ws, inv.ID, src.ID, "ec2-both", roster.EventSyncSucceeded)
	other := newInventory(t, s, "dev")
	wantCode(t, ws.CreateWebhook(ctx, &roster.Webhook{Name: "x", InventoryID: other.ID, SourceID: src.ID, Type: roster.TypeWebhook,
		Events: []roster.WebhookEvent{roster.EventSyncFailed}, SecretPath: "webhooks/x"}), roster.EINVALID)
	wantCode(t, ws.CreateWebhook(ctx, &roster.Webhook{Name: "x", SourceID: "missing", Type: roster.TypeWebhook,
		Events: []roster.WebhookEvent{roster.EventSyncFailed}, SecretPath: "webhooks/x"}), roster.ENOTFOUND)
	wantCode(t, ws.CreateWebhook(ctx, &roster.Webhook{Name: "x", InventoryID: "missing", Type: roster.TypeWebhook,
		Events: []roster.WebhookEvent{roster.EventSyncFailed}, SecretPath: "webhooks/x"}), roster.ENOTFOUND)

	// Names are unique within an inventory, across its sources.
	wantCode(t, ws.CreateWebhook(ctx, &roster.Webhook{Name: "all", SourceID: src.ID, Type: roster.TypeWebhook,
		Events: []roster.WebhookEvent{roster.EventSyncFailed}, SecretPath: "webhooks/y"}), roster.ECONFLICT)
	newWebhook(t, ws, other.ID, "", "all", roster.EventSyncFailed)

	// A given id is kept (the secret path is derived from it).
	given := &roster.Webhook{ID: "0198a7c2-0000-7000-8000-000000000001", Name: "given", InventoryID: inv.ID, Type: roster.TypeIRC,
		Config: roster.WebhookConfig{IRC: &roster.IRCSettings{Server: "irc.example:6697", TLS: true, Nick: "roster", Channel: "#ops"}},
		Events: []roster.WebhookEvent{roster.EventSyncPartial}, SecretPath: "webhooks/0198a7c2-0000-7000-8000-000000000001"}
	must(t, ws.CreateWebhook(ctx, given))
	got, err = ws.Webhook(ctx, given.ID)
	must(t, err)
	if got.Type != roster.TypeIRC || got.Config.IRC == nil || *got.Config.IRC != *given.Config.IRC || got.Enabled || got.HasSigningSecret {
		t.Fatalf("given = %+v", got)
	}
	// A given id already taken is a conflict of ids, not of names.
	again := *given
	again.Name = "given-again"
	err = ws.CreateWebhook(ctx, &again)
	wantCode(t, err, roster.ECONFLICT)
	if !strings.Contains(err.Error(), "a webhook with id") {
		t.Fatalf("creating a webhook with a taken id: %v, want the id named", err)
	}
	_, err = ws.Webhook(ctx, "missing")
	wantCode(t, err, roster.ENOTFOUND)
}

func testWebhookList(t *testing.T, s roster.Store, ws roster.WebhookStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	ec2 := newSource(t, s, inv, "ec2")
	gce := newSource(t, s, inv, "gce")
	dev := newInventory(t, s, "dev")
	devSrc := newSource(t, s, dev, "ec2")

	newWebhook(t, ws, inv.ID, "", "inv-fail", roster.EventSyncFailed)
	newWebhook(t, ws, inv.ID, "", "inv-all", roster.EventSyncSucceeded, roster.EventSyncPartial, roster.EventSyncFailed, roster.EventHostsChanged)
	newWebhook(t, ws, "", ec2.ID, "ec2-fail", roster.EventSyncFailed)
	newWebhook(t, ws, "", ec2.ID, "ec2-changes", roster.EventHostsChanged)
	newWebhook(t, ws, "", gce.ID, "gce-fail", roster.EventSyncFailed)
	off := newWebhook(t, ws, inv.ID, "", "inv-off", roster.EventSyncFailed)
	disabled := false
	_, err := ws.UpdateWebhook(ctx, off.ID, roster.WebhookUpdate{Enabled: &disabled})
	must(t, err)
	newWebhook(t, ws, dev.ID, "", "dev-fail", roster.EventSyncFailed)
	newWebhook(t, ws, "", devSrc.ID, "dev-ec2-fail", roster.EventSyncFailed)

	for _, tc := range []struct {
		f    roster.WebhookFilter
		want []string
	}{
		{roster.WebhookFilter{InventoryID: inv.ID}, []string{"ec2-changes", "ec2-fail", "gce-fail", "inv-all", "inv-fail", "inv-off"}},
		{roster.WebhookFilter{SourceID: ec2.ID}, []string{"ec2-changes", "ec2-fail"}},
		{roster.WebhookFilter{InventoryID: inv.ID, SourceID: gce.ID}, []string{"gce-fail"}},
		{roster.WebhookFilter{InventoryID: dev.ID, SourceID: gce.ID}, []string{}},
		{roster.WebhookFilter{}, []string{"dev-ec2-fail", "dev-fail", "ec2-changes", "ec2-fail", "gce-fail", "inv-all", "inv-fail", "inv-off"}},
	} {
		got, err := ws.Webhooks(ctx, tc.f)
		must(t, err)
		if names := webhookNames(got); !slices.Equal(names, tc.want) {
			t.Errorf("Webhooks(%+v) = %v, want %v", tc.f, names, tc.want)
		}
	}

	for _, tc := range []struct {
		source string
		event  roster.WebhookEvent
		want   []string
	}{
		{ec2.ID, roster.EventSyncFailed, []string{"ec2-fail", "inv-all", "inv-fail"}},
		{ec2.ID, roster.EventHostsChanged, []string{"ec2-changes", "inv-all"}},
		{ec2.ID, roster.EventSyncSucceeded, []string{"inv-all"}},
		{gce.ID, roster.EventSyncFailed, []string{"gce-fail", "inv-all", "inv-fail"}},
		{gce.ID, roster.EventHostsChanged, []string{"inv-all"}},
	} {
		got, err := ws.WebhookSubscribers(ctx, inv.ID, tc.source, tc.event)
		must(t, err)
		if names := webhookNames(got); !slices.Equal(names, tc.want) {
			t.Errorf("WebhookSubscribers(%s, %s) = %v, want %v", tc.source, tc.event, names, tc.want)
		}
	}
	got, err := ws.WebhookSubscribers(ctx, dev.ID, devSrc.ID, roster.EventSyncFailed)
	must(t, err)
	if names := webhookNames(got); !slices.Equal(names, []string{"dev-ec2-fail", "dev-fail"}) {
		t.Errorf("dev subscribers = %v", names)
	}
}

func testWebhookUpdate(t *testing.T, s roster.Store, ws roster.WebhookStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	w := newWebhook(t, ws, inv.ID, "", "alerts", roster.EventSyncFailed)
	newWebhook(t, ws, inv.ID, "", "taken", roster.EventSyncFailed)

	name, format, enabled, insecure, redacted, version, signing := "ops", roster.TypeMattermost, false, true, "http://10.0.0.1:8080/…", 2, false
	upd, err := ws.UpdateWebhook(ctx, w.ID, roster.WebhookUpdate{
		Name: &name, Type: &format, Config: &roster.WebhookConfig{Username: "bot"}, Events: []roster.WebhookEvent{roster.EventSyncPartial, roster.EventSyncFailed},
		Enabled: &enabled, AllowInsecure: &insecure, URLRedacted: &redacted, SecretVersion: &version, HasSigningSecret: &signing,
	})
	must(t, err)
	if upd.Name != "ops" || upd.Type != roster.TypeMattermost || upd.Config.Username != "bot" || upd.Enabled || !upd.AllowInsecure || upd.URLRedacted != redacted ||
		upd.SecretVersion != 2 || upd.HasSigningSecret || upd.SecretPath != w.SecretPath || upd.InventoryID != inv.ID ||
		!slices.Equal(upd.Events, []roster.WebhookEvent{roster.EventSyncPartial, roster.EventSyncFailed}) || upd.UpdatedAt.Before(w.UpdatedAt) {
		t.Fatalf("updated = %+v", upd)
	}
	got, err := ws.Webhook(ctx, w.ID)
	must(t, err)
	if got.Name != "ops" || got.SecretVersion != 2 || len(got.Events) != 2 || !got.CreatedAt.Equal(w.CreatedAt) {
		t.Fatalf("after update = %+v", got)
	}
	// Nothing given changes nothing.
	same, err := ws.UpdateWebhook(ctx, w.ID, roster.WebhookUpdate{})
	must(t, err)
	if same.Name != "ops" || same.Type != roster.TypeMattermost || same.Config.Username != "bot" || len(same.Events) != 2 {
		t.Fatalf("empty update = %+v", same)
	}
	taken := "taken"
	_, err = ws.UpdateWebhook(ctx, w.ID, roster.WebhookUpdate{Name: &taken})
	wantCode(t, err, roster.ECONFLICT)
	_, err = ws.UpdateWebhook(ctx, "missing", roster.WebhookUpdate{Name: &name})
	wantCode(t, err, roster.ENOTFOUND)
}

func testWebhookDelete(t *testing.T, s roster.Store, ws roster.WebhookStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	w := newWebhook(t, ws, inv.ID, "", "alerts", roster.EventSyncFailed)
	keep := newWebhook(t, ws, inv.ID, "", "keep", roster.EventSyncFailed)
	for _, id := range []string{w.ID, keep.ID} {
		must(t, ws.RecordDelivery(ctx, &roster.WebhookDelivery{WebhookID: id, EventID: "e1", Event: roster.EventSyncFailed, RunID: "r1", Attempt: 1, Outcome: roster.DeliveryDelivered, StatusCode: 200}))
	}
	must(t, ws.DeleteWebhook(ctx, w.ID))
	_, err := ws.Webhook(ctx, w.ID)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, ws.DeleteWebhook(ctx, w.ID), roster.ENOTFOUND)
	// Its delivery log went with it; the other's stays.
	ds, _, err := ws.WebhookDeliveries(ctx, roster.DeliveryFilter{})
	must(t, err)
	if len(ds) != 1 || ds[0].WebhookID != keep.ID {
		t.Fatalf("deliveries after delete = %+v", ds)
	}
	// A delivery of a deleted webhook is refused.
	wantCode(t, ws.RecordDelivery(ctx, &roster.WebhookDelivery{WebhookID: w.ID, EventID: "e2", Event: roster.EventSyncFailed, RunID: "r2", Attempt: 1, Outcome: roster.DeliveryFailed}), roster.ENOTFOUND)
}

func testWebhookDeliveries(t *testing.T, s roster.Store, ws roster.WebhookStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	a := newWebhook(t, ws, inv.ID, "", "a", roster.EventSyncFailed)
	b := newWebhook(t, ws, inv.ID, "", "b", roster.EventSyncFailed)
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	// Five attempts to a (two events), two to b.
	type rec struct {
		wh      *roster.Webhook
		event   string
		attempt int
		status  int
		outcome roster.DeliveryOutcome
		errText string
	}
	recs := []rec{
		{a, "e1", 1, 500, roster.DeliveryRetrying, "server error (HTTP 500)"},
		{b, "e1", 1, 200, roster.DeliveryDelivered, ""},
		{a, "e1", 2, 0, roster.DeliveryRetrying, "timeout after 10s"},
		{a, "e1", 3, 200, roster.DeliveryDelivered, ""},
		{a, "e2", 1, 410, roster.DeliveryFailed, "refused (HTTP 410)"},
		{b, "e2", 1, 204, roster.DeliveryDelivered, ""},
		{a, "e3", 1, 200, roster.DeliveryDelivered, ""},
	}
	for i, r := range recs {
		d := &roster.WebhookDelivery{WebhookID: r.wh.ID, EventID: r.event, Event: roster.EventSyncFailed, RunID: "run-" + r.event,
			Attempt: r.attempt, StatusCode: r.status, Outcome: r.outcome, Error: r.errText,
			Duration: time.Duration(i+1) * 1500 * time.Microsecond, Time: base.Add(time.Duration(i) * time.Minute)}
		must(t, ws.RecordDelivery(ctx, d))
		if d.ID == "" {
			t.Fatalf("recorded delivery lacks an id")
		}
	}
	// Newest first, a page at a time.
	page, next, err := ws.WebhookDeliveries(ctx, roster.DeliveryFilter{WebhookID: a.ID, Limit: 2})
	must(t, err)
	if len(page) != 2 || next == "" || page[0].EventID != "e3" || page[1].EventID != "e2" {
		t.Fatalf("first page = %+v, next %q", page, next)
	}
	d := page[1]
	if d.WebhookID != a.ID || d.Event != roster.EventSyncFailed || d.RunID != "run-e2" || d.Attempt != 1 || d.StatusCode != 410 ||
		d.Outcome != roster.DeliveryFailed || d.Error != "refused (HTTP 410)" || d.Duration != 7500*time.Microsecond ||
		!d.Time.Equal(base.Add(4*time.Minute)) {
		t.Fatalf("delivery = %+v", d)
	}
	page, next, err = ws.WebhookDeliveries(ctx, roster.DeliveryFilter{WebhookID: a.ID, Limit: 2, After: next})
	must(t, err)
	if len(page) != 2 || next == "" || page[0].Attempt != 3 || page[1].Attempt != 2 {
		t.Fatalf("second page = %+v", page)
	}
	page, next, err = ws.WebhookDeliveries(ctx, roster.DeliveryFilter{WebhookID: a.ID, Limit: 2, After: next})
	must(t, err)
	if len(page) != 1 || next != "" || page[0].Attempt != 1 || page[0].StatusCode != 500 {
		t.Fatalf("last page = %+v, next %q", page, next)
	}
	all, _, err := ws.WebhookDeliveries(ctx, roster.DeliveryFilter{})
	must(t, err)
	if len(all) != len(recs) || all[0].EventID != "e3" || all[len(all)-1].Outcome != roster.DeliveryRetrying {
		t.Fatalf("all deliveries = %d", len(all))
	}
	byEvent, _, err := ws.WebhookDeliveries(ctx, roster.DeliveryFilter{WebhookID: a.ID, EventID: "e1"})
	must(t, err)
	if len(byEvent) != 3 || byEvent[0].Outcome != roster.DeliveryDelivered {
		t.Fatalf("deliveries of e1 to a = %+v", byEvent)
	}
	_, _, err = ws.WebhookDeliveries(ctx, roster.DeliveryFilter{After: "not-a-cursor"})
	wantCode(t, err, roster.EINVALID)

	// Pruning drops what was recorded before the cut.
	n, err := ws.PruneDeliveries(ctx, base.Add(3*time.Minute))
	must(t, err)
	if n != 3 {
		t.Fatalf("pruned %d, want 3", n)
	}
	all, _, err = ws.WebhookDeliveries(ctx, roster.DeliveryFilter{})
	must(t, err)
	if len(all) != 4 {
		t.Fatalf("after pruning: %d deliveries", len(all))
	}
}

func testWebhookSourceCascade(t *testing.T, s roster.Store, ws roster.WebhookStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	ec2 := newSource(t, s, inv, "ec2")
	gce := newSource(t, s, inv, "gce")
	gone := newWebhook(t, ws, "", ec2.ID, "ec2-fail", roster.EventSyncFailed)
	newWebhook(t, ws, "", gce.ID, "gce-fail", roster.EventSyncFailed)
	newWebhook(t, ws, inv.ID, "", "inv-fail", roster.EventSyncFailed)
	must(t, ws.RecordDelivery(ctx, &roster.WebhookDelivery{WebhookID: gone.ID, EventID: "e", Event: roster.EventSyncFailed, RunID: "r", Attempt: 1, Outcome: roster.DeliveryDelivered}))
	must(t, s.DeleteSource(ctx, ec2.ID))
	_, err := ws.Webhook(ctx, gone.ID)
	wantCode(t, err, roster.ENOTFOUND)
	left, err := ws.Webhooks(ctx, roster.WebhookFilter{InventoryID: inv.ID})
	must(t, err)
	if names := webhookNames(left); !slices.Equal(names, []string{"gce-fail", "inv-fail"}) {
		t.Fatalf("webhooks after deleting the source = %v", names)
	}
	ds, _, err := ws.WebhookDeliveries(ctx, roster.DeliveryFilter{WebhookID: gone.ID})
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("the deleted webhook's deliveries stayed: %+v", ds)
	}
}

func testWebhookInventoryCascade(t *testing.T, s roster.Store, ws roster.WebhookStore) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	dev := newInventory(t, s, "dev")
	a := newWebhook(t, ws, inv.ID, "", "inv-fail", roster.EventSyncFailed)
	newWebhook(t, ws, "", src.ID, "ec2-fail", roster.EventSyncFailed)
	newWebhook(t, ws, dev.ID, "", "dev-fail", roster.EventSyncFailed)
	must(t, ws.RecordDelivery(ctx, &roster.WebhookDelivery{WebhookID: a.ID, EventID: "e", Event: roster.EventSyncFailed, RunID: "r", Attempt: 1, Outcome: roster.DeliveryDelivered}))
	must(t, s.DeleteInventory(ctx, inv.ID))
	all, err := ws.Webhooks(ctx, roster.WebhookFilter{})
	must(t, err)
	if names := webhookNames(all); !slices.Equal(names, []string{"dev-fail"}) {
		t.Fatalf("webhooks after deleting the inventory = %v", names)
	}
	ds, _, err := ws.WebhookDeliveries(ctx, roster.DeliveryFilter{})
	must(t, err)
	if len(ds) != 0 {
		t.Fatalf("deliveries stayed: %+v", ds)
	}
}
