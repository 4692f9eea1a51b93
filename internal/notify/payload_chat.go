package notify

import (
	"github.com/rosterhq/roster"
)

// color is the event's colour in chat messages.
func (e *Event) color() string {
	switch e.Event {
	case roster.EventSyncSucceeded:
		return colorGood
	case roster.EventSyncPartial:
		return colorWarning
	case roster.EventSyncFailed:
		return colorDanger
	}
	return colorInfo
}

// MattermostMessage is a Mattermost incoming-webhook body: Markdown text
// (the title linked to the run) and Slack-style attachment fields.
type MattermostMessage struct {
	Text        string            `json:"text"`
	Username    string            `json:"username,omitempty"`
	Attachments []SlackAttachment `json:"attachments"`
}

func (e *Event) mattermost(username string) *MattermostMessage {
	m := e.message()
	title := "**Roster: " + m.Title + "**"
	if m.Link != "" {
		title = "**Roster: [" + m.Title + "](" + m.Link + ")**"
	}
	return &MattermostMessage{
		Text:     title + "\n" + m.Detail,
		Username: username,
		Attachments: []SlackAttachment{{
			Fallback: m.oneLine(), Color: e.color(), Title: m.Title, TitleLink: m.Link,
			Fields: chatFields(m), Footer: "Roster · event " + e.ID, Timestamp: e.Time.Unix(),
		}},
	}
}

func chatFields(m *message) []SlackField {
	out := make([]SlackField, len(m.Fields))
	for i, f := range m.Fields {
		out[i] = SlackField{Title: f[0], Value: f[1], Short: len(f[1]) < 40}
	}
	return out
}

// RocketChatMessage is a Rocket.Chat incoming-webhook body.
type RocketChatMessage struct {
	Text        string                 `json:"text"`
	Alias       string                 `json:"alias,omitempty"`
	Attachments []RocketChatAttachment `json:"attachments"`
}

// RocketChatAttachment is a Rocket.Chat message attachment.
type RocketChatAttachment struct {
	Title     string       `json:"title"`
	TitleLink string       `json:"title_link,omitempty"`
	Text      string       `json:"text"`
	Color     string       `json:"color"`
	Fields    []SlackField `json:"fields"`
}

func (e *Event) rocketChat(alias string) *RocketChatMessage {
	m := e.message()
	return &RocketChatMessage{
		Text:  m.oneLine(),
		Alias: alias,
		Attachments: []RocketChatAttachment{{
			Title: m.Title, TitleLink: m.Link, Text: m.Detail, Color: e.color(), Fields: chatFields(m),
		}},
	}
}

// TeamsMessage is what a Microsoft Teams Workflows webhook ("When a Teams
// webhook request is received") takes: a message with one Adaptive Card.
// (The retired Office 365 connectors' MessageCard is not accepted there.)
type TeamsMessage struct {
	Type        string            `json:"type"`
	Attachments []TeamsAttachment `json:"attachments"`
}

// TeamsAttachment carries the card.
type TeamsAttachment struct {
	ContentType string       `json:"contentType"`
	ContentURL  *string      `json:"contentUrl"`
	Content     AdaptiveCard `json:"content"`
}

// AdaptiveCard is an Adaptive Card 1.4: a title, the detail, a fact set
// and a button to the run.
type AdaptiveCard struct {
	Schema  string           `json:"$schema"`
	Type    string           `json:"type"`
	Version string           `json:"version"`
	Body    []map[string]any `json:"body"`
	Actions []map[string]any `json:"actions,omitempty"`
}

func (e *Event) teams() *TeamsMessage {
	m := e.message()
	style := map[string]string{colorGood: "good", colorWarning: "warning", colorDanger: "attention"}[e.color()]
	facts := make([]map[string]string, len(m.Fields))
	for i, f := range m.Fields {
		facts[i] = map[string]string{"title": f[0], "value": f[1]}
	}
	card := AdaptiveCard{
		Schema: "http://adaptivecards.io/schemas/adaptive-card.json", Type: "AdaptiveCard", Version: "1.4",
		Body: []map[string]any{
			{"type": "TextBlock", "text": "Roster: " + m.Title, "weight": "Bolder", "size": "Medium", "wrap": true, "color": orDefault(style, "default")},
			{"type": "TextBlock", "text": m.Detail, "wrap": true},
			{"type": "FactSet", "facts": facts},
		},
	}
	if m.Link != "" {
		card.Actions = []map[string]any{{"type": "Action.OpenUrl", "title": "Open run", "url": m.Link}}
	}
	return &TeamsMessage{Type: "message", Attachments: []TeamsAttachment{{ContentType: "application/vnd.microsoft.card.adaptive", Content: card}}}
}
