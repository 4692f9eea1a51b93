package notify

import (
	"context"

	"github.com/rosterhq/roster"
)

// PagerDutyEvent is a PagerDuty Events API v2 event: a trigger for a
// failed or partial run, a resolve for the success that follows one.
type PagerDutyEvent struct {
	RoutingKey  string            `json:"routing_key"`
	EventAction string            `json:"event_action"`
	DedupKey    string            `json:"dedup_key"`
	Payload     *PagerDutyPayload `json:"payload,omitempty"`
	Links       []PagerDutyLink   `json:"links,omitempty"`
	Client      string            `json:"client,omitempty"`
	ClientURL   string            `json:"client_url,omitempty"`
}

// PagerDutyPayload describes the alert of a trigger.
type PagerDutyPayload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp"`
	Component     string         `json:"component"`
	Group         string         `json:"group"`
	Class         string         `json:"class"`
	CustomDetails map[string]any `json:"custom_details"`
}

// PagerDutyLink links the alert to the run.
type PagerDutyLink struct {
	Href string `json:"href"`
	Text string `json:"text"`
}

// maxPDSummary is the Events API's bound on a summary.
const maxPDSummary = 1024

// pagerDutyDedupKey is per source, not per run: a source that fails every
// few minutes is one open alert, and its next success resolves it.
func pagerDutyDedupKey(sourceID string) string { return "roster/source/" + sourceID }

// pagerDuty builds the event for e, or nil when there is nothing to say: a
// success resolves only when the source's run before was failed or partial
// (prevFailed), so successes make no traffic; hosts.changed says nothing.
func (e *Event) pagerDuty(key roster.Secret, cfg *roster.PagerDutySettings, prevFailed bool) *PagerDutyEvent {
	ev := &PagerDutyEvent{RoutingKey: key.Reveal(), DedupKey: pagerDutyDedupKey(e.Source.ID)}
	switch e.Event {
	case roster.EventSyncSucceeded:
		if !prevFailed {
			return nil
		}
		ev.EventAction = "resolve"
		return ev
	case roster.EventSyncFailed, roster.EventSyncPartial, eventTest:
	default:
		return nil
	}
	m := e.message()
	severity := cfg.SeverityFailed
	if e.Event == roster.EventSyncPartial || e.Event == eventTest {
		severity = cfg.SeverityPartial
	}
	if e.Event == eventTest {
		severity, ev.DedupKey = "info", "roster/test/"+e.ID
	}
	details := map[string]any{"run": e.Run.ID, "status": e.Run.Status, "counts": e.Run.Counts, "trigger": e.Run.Trigger}
	if e.Run.Error != "" {
		details["error"] = truncate(e.Run.Error, maxDetail)
	}
	if len(e.failedScopes) > 0 {
		details["failed_scopes"] = e.failedScopes[:min(len(e.failedScopes), maxScopes)]
	}
	ev.EventAction = "trigger"
	ev.Client = "Roster"
	ev.Payload = &PagerDutyPayload{
		Summary:       truncate(m.Title+": "+m.Detail, maxPDSummary),
		Source:        e.Inventory.Name + "/" + e.Source.Name,
		Severity:      severity,
		Timestamp:     e.Time.Format("2006-01-02T15:04:05.000Z07:00"),
		Component:     e.Source.Provider,
		Group:         e.Inventory.Name,
		Class:         string(e.Event),
		CustomDetails: details,
	}
	if e.Link != "" {
		ev.Links = []PagerDutyLink{{Href: e.Link, Text: "Open the run in Roster"}}
		ev.ClientURL = e.Link
	}
	return ev
}

// previousFailed reports whether the source's finished run before run was
// failed, canceled or partial: whether a success has an alert to resolve.
func previousFailed(ctx context.Context, st Store, run *roster.SyncRun) (bool, error) {
	runs, _, err := st.SyncRuns(ctx, roster.SyncRunFilter{SourceID: run.SourceID, Limit: 50})
	if err != nil {
		return false, err
	}
	seen := false
	for _, r := range runs { // newest first
		switch {
		case r.ID == run.ID:
			seen = true
		case seen && r.Status.Done():
			return r.Status != roster.SyncSucceeded, nil
		}
	}
	return false, nil
}
