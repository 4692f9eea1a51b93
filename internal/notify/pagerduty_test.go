package notify_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/notify"
)

// TestPagerDutyTriggerThenResolve: two failures are two triggers with the
// source's one dedup_key (one open alert), the success after them resolves
// it, and a success after a success sends nothing.
func TestPagerDutyTriggerThenResolve(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(202))
	const key = "PDROUTINGKEYCANARY00000000000001"
	// No events given: a PagerDuty target's default ones.
	w, err := e.svc.Create(t.Context(), notify.WebhookInput{
		Name: "pager", Type: roster.TypePagerDuty, InventoryID: e.inv.ID,
		Config:  roster.WebhookConfig{PagerDuty: &roster.PagerDutySettings{URL: rc.srv.URL + "/v2/enqueue"}},
		Secrets: roster.SecretFields{notify.FieldRoutingKey: key},
	})
	must(t, err)
	if len(w.Events) != 3 || w.URLRedacted != "pagerduty events v2 at "+rc.srv.URL+"/…" || w.Config.PagerDuty.SeverityFailed != "error" {
		t.Fatalf("created %+v (events %v, display %q)", w, w.Events, w.URLRedacted)
	}
	r := e.startRiver(t, notify.WorkerOptions{PublicURL: publicURL})
	nt := e.notifier(r)
	for _, status := range []roster.SyncStatus{roster.SyncFailed, roster.SyncFailed, roster.SyncSucceeded, roster.SyncSucceeded} {
		run := e.finishedRun(t, e.src, status, roster.SyncCounts{}, map[bool]string{true: "boom"}[status == roster.SyncFailed])
		must(t, nt.SyncFinished(t.Context(), run))
		r.waitFinal(t, 1)
	}
	got := rc.requests()
	if len(got) != 3 {
		t.Fatalf("%d requests, want trigger, trigger, resolve", len(got))
	}
	var actions, keys []string
	for _, req := range got {
		var ev struct {
			RoutingKey  string `json:"routing_key"`
			EventAction string `json:"event_action"`
			DedupKey    string `json:"dedup_key"`
			Payload     *struct {
				Summary, Source, Severity string
			}
		}
		must(t, json.Unmarshal(req.body, &ev))
		if ev.RoutingKey != key || req.path != "/v2/enqueue" {
			t.Errorf("request to %s with routing key %q", req.path, ev.RoutingKey)
		}
		actions, keys = append(actions, ev.EventAction), append(keys, ev.DedupKey)
		if ev.EventAction == "trigger" && (ev.Payload == nil || ev.Payload.Source != "prod/ec2" || ev.Payload.Severity != "error" || !strings.Contains(ev.Payload.Summary, "Sync of prod/ec2 failed: boom")) {
			t.Errorf("trigger payload = %+v", ev.Payload)
		}
	}
	if strings.Join(actions, ",") != "trigger,trigger,resolve" || keys[0] != "roster/source/"+e.src.ID || keys[1] != keys[0] || keys[2] != keys[0] {
		t.Errorf("actions %v with dedup keys %v", actions, keys)
	}
	ds := e.deliveries(t, w.ID) // newest first
	if len(ds) != 4 || ds[0].Outcome != roster.DeliverySkipped || ds[1].Outcome != roster.DeliveryDelivered || ds[1].StatusCode != 202 {
		t.Errorf("delivery log = %+v", ds)
	}
	if strings.Contains(e.logs.String(), key) {
		t.Error("the routing key is in the log")
	}
}

// TestPagerDutyTestEventResolvesItself: "send test event" to PagerDuty
// triggers an info alert and resolves it at once, so no incident stays
// open.
func TestPagerDutyTestEventResolvesItself(t *testing.T) {
	e := newEnv(t)
	rc := newReceiver(t, statuses(202))
	w, err := e.svc.Create(t.Context(), notify.WebhookInput{
		Name: "pager", Type: roster.TypePagerDuty, InventoryID: e.inv.ID,
		Config:  roster.WebhookConfig{PagerDuty: &roster.PagerDutySettings{URL: rc.srv.URL + "/v2/enqueue"}},
		Secrets: roster.SecretFields{notify.FieldRoutingKey: "PDROUTINGKEYCANARY00000000000002"},
	})
	must(t, err)
	e.svc.UseWorker(notify.NewWorker(e.store, e.backend, notify.WorkerOptions{Timeout: 5 * time.Second}))
	d, err := e.svc.Test(t.Context(), w.ID)
	must(t, err)
	if d.Outcome != roster.DeliveryDelivered {
		t.Fatalf("test event: %+v", d)
	}
	var actions, keys []string
	for _, req := range rc.requests() {
		var ev struct{ EventAction, DedupKey string }
		var raw map[string]any
		must(t, json.Unmarshal(req.body, &raw))
		ev.EventAction, _ = raw["event_action"].(string)
		ev.DedupKey, _ = raw["dedup_key"].(string)
		actions, keys = append(actions, ev.EventAction), append(keys, ev.DedupKey)
	}
	if strings.Join(actions, ",") != "trigger,resolve" || keys[0] == "" || keys[1] != keys[0] {
		t.Fatalf("a test sent %v with dedup keys %v, want a trigger and its resolve", actions, keys)
	}
}
