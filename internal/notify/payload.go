package notify

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// Event is the body of a generic webhook request (Content-Type
// application/json). Fields are only ever added to it.
type Event struct {
	// ID is stable for one event of one run, across webhooks and
	// attempts: receivers drop a request whose id they have seen.
	ID    string              `json:"id"`
	Event roster.WebhookEvent `json:"event"`
	// Time is when the run finished.
	Time      time.Time      `json:"time"`
	Inventory EventInventory `json:"inventory"`
	Source    EventSource    `json:"source"`
	Run       EventRun       `json:"run"`
	// Link is the run's page in the Web UI (public_url + /ui/runs/<id>);
	// empty when the server has no public URL.
	Link string `json:"link,omitempty"`
	// failedScopes names the scopes that failed, with their errors.
	failedScopes []string
	run          *roster.SyncRun
}

// EventInventory names the inventory of the run.
type EventInventory struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// EventSource names the source of the run.
type EventSource struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Provider string `json:"provider"`
}

// EventRun describes the finished run.
type EventRun struct {
	ID      string             `json:"id"`
	Trigger roster.SyncTrigger `json:"trigger"`
	// Status is succeeded, partial, failed or canceled.
	Status     roster.SyncStatus `json:"status"`
	StartedAt  *time.Time        `json:"started_at"`
	FinishedAt *time.Time        `json:"finished_at"`
	// DurationMS is from start to finish; 0 for a run that never started.
	DurationMS int64       `json:"duration_ms"`
	Counts     EventCounts `json:"counts"`
	// Error says why the run failed; empty otherwise.
	Error        string `json:"error"`
	WarningCount int    `json:"warning_count"`
}

// EventCounts counts what the run found and changed.
type EventCounts struct {
	Seen      int `json:"seen"`
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Removed   int `json:"removed"`
	Disabled  int `json:"disabled"`
	Unchanged int `json:"unchanged"`
}

// NewEvent describes event of a finished run.
func NewEvent(event roster.WebhookEvent, run *roster.SyncRun, inv *roster.Inventory, src *roster.Source) *Event {
	e := &Event{
		ID:        EventID(run.ID, event),
		Event:     event,
		Time:      run.CreatedAt.UTC(),
		Inventory: EventInventory{ID: inv.ID, Name: inv.Name},
		Source:    EventSource{ID: src.ID, Name: src.Name, Provider: src.Provider},
		Run: EventRun{
			ID:         run.ID,
			Trigger:    run.Trigger,
			Status:     run.Status,
			StartedAt:  utc(run.StartedAt),
			FinishedAt: utc(run.FinishedAt),
			Counts: EventCounts{
				Seen: run.Counts.Seen, Added: run.Counts.Added, Updated: run.Counts.Updated,
				Removed: run.Counts.Removed, Disabled: run.Counts.Disabled, Unchanged: run.Counts.Unchanged,
			},
			Error:        run.Error,
			WarningCount: len(run.Warnings),
		},
	}
	for _, sc := range run.Scopes {
		if sc.Error != "" {
			e.failedScopes = append(e.failedScopes, sc.Name+": "+sc.Error)
		}
	}
	if run.FinishedAt != nil {
		e.Time = run.FinishedAt.UTC()
		if run.StartedAt != nil {
			e.Run.DurationMS = run.FinishedAt.Sub(*run.StartedAt).Milliseconds()
		}
	}
	return e
}

func utc(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// Body encodes the event in the native shape of an HTTP target of type
// t (not pagerduty, whose body depends on the source's history: see
// PagerDutyEvent).
func (e *Event) Body(t roster.WebhookType, cfg roster.WebhookConfig) ([]byte, error) {
	switch t {
	case roster.TypeWebhook:
		return json.Marshal(e)
	case roster.TypeSlack:
		return json.Marshal(e.slack())
	case roster.TypeMattermost:
		return json.Marshal(e.mattermost(cfg.Username))
	case roster.TypeRocketChat:
		return json.Marshal(e.rocketChat(cfg.Username))
	case roster.TypeTeams:
		return json.Marshal(e.teams())
	}
	return nil, fmt.Errorf("a %s target has no HTTP body", t)
}

// SlackMessage is a Slack incoming-webhook body: a text (the notification
// and the fallback) and one attachment with the details. Slack, Mattermost
// and Rocket.Chat all accept this shape.
type SlackMessage struct {
	Text        string            `json:"text"`
	Attachments []SlackAttachment `json:"attachments"`
}

// SlackAttachment is a message attachment (Slack's "secondary content").
type SlackAttachment struct {
	Fallback  string       `json:"fallback"`
	Color     string       `json:"color"`
	Title     string       `json:"title"`
	TitleLink string       `json:"title_link,omitempty"`
	Text      string       `json:"text,omitempty"`
	Fields    []SlackField `json:"fields"`
	Footer    string       `json:"footer"`
	Timestamp int64        `json:"ts"`
}

// SlackField is one short field of an attachment.
type SlackField struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Attachment colours (Slack's good / warning / danger, and a neutral blue).
const (
	colorGood    = "#2eb886"
	colorWarning = "#daa038"
	colorDanger  = "#a30200"
	colorInfo    = "#439fe0"
)

// maxSlackError bounds the run error quoted in a Slack message.
const maxSlackError = 500

func (e *Event) slack() *SlackMessage {
	where := slackEscape(e.Inventory.Name + "/" + e.Source.Name)
	c := e.Run.Counts
	changes := fmt.Sprintf("%d added, %d updated, %d removed, %d disabled", c.Added, c.Updated, c.Removed, c.Disabled)
	var title, color, detail string
	switch e.Event {
	case roster.EventSyncSucceeded:
		title, color, detail = "Sync of "+where+" succeeded", colorGood, changes
	case roster.EventSyncPartial:
		title, color = "Sync of "+where+" partly failed", colorWarning
		detail = "Some scopes failed and kept their hosts; the others were applied: " + changes
	case roster.EventSyncFailed:
		verb := "failed"
		if e.Run.Status == roster.SyncCanceled {
			verb = "was canceled"
		}
		title, color, detail = "Sync of "+where+" "+verb, colorDanger, "Nothing was changed."
	case roster.EventHostsChanged:
		title, color, detail = "Hosts changed in "+where, colorInfo, changes
	}
	if e.Run.Error != "" {
		detail = slackEscape(truncate(e.Run.Error, maxSlackError))
	}
	text := "Roster: " + title + ": " + detail
	fields := []SlackField{
		{Title: "Inventory", Value: slackEscape(e.Inventory.Name), Short: true},
		{Title: "Source", Value: slackEscape(e.Source.Name + " (" + e.Source.Provider + ")"), Short: true},
		{Title: "Status", Value: string(e.Run.Status), Short: true},
		{Title: "Trigger", Value: string(e.Run.Trigger), Short: true},
		{Title: "Added", Value: strconv.Itoa(c.Added), Short: true},
		{Title: "Updated", Value: strconv.Itoa(c.Updated), Short: true},
		{Title: "Removed", Value: strconv.Itoa(c.Removed), Short: true},
		{Title: "Disabled", Value: strconv.Itoa(c.Disabled), Short: true},
		{Title: "Hosts seen", Value: strconv.Itoa(c.Seen), Short: true},
		{Title: "Duration", Value: (time.Duration(e.Run.DurationMS) * time.Millisecond).String(), Short: true},
	}
	if e.Run.WarningCount > 0 {
		fields = append(fields, SlackField{Title: "Warnings", Value: strconv.Itoa(e.Run.WarningCount), Short: true})
	}
	return &SlackMessage{
		Text: text,
		Attachments: []SlackAttachment{{
			Fallback:  text,
			Color:     color,
			Title:     title,
			TitleLink: e.Link,
			Text:      detail,
			Fields:    fields,
			Footer:    "Roster · run " + e.Run.ID + " · event " + e.ID,
			Timestamp: e.Time.Unix(),
		}},
	}
}

// slackEscape escapes the three characters Slack's message formatting
// gives a meaning to.
func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

// truncate cuts s to at most n runes, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}
