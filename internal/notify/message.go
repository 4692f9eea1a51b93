package notify

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// message is what every plain-text target says of an event: what happened
// (Title), why (Detail), where (Fields) and where to look (the link).
type message struct {
	Title  string
	Detail string
	Fields [][2]string
	Link   string
}

// maxDetail bounds the run error quoted in a message.
const maxDetail = 500

// maxScopes bounds the failed scopes listed in a message.
const maxScopes = 5

func (e *Event) message() *message {
	where := e.Inventory.Name + "/" + e.Source.Name
	c := e.Run.Counts
	changes := fmt.Sprintf("%d added, %d updated, %d removed, %d disabled", c.Added, c.Updated, c.Removed, c.Disabled)
	m := &message{Link: e.Link}
	switch e.Event {
	case roster.EventSyncSucceeded:
		m.Title, m.Detail = "Sync of "+where+" succeeded", changes
	case roster.EventSyncPartial:
		m.Title, m.Detail = "Sync of "+where+" partly failed", "Some scopes failed and kept their hosts; the others were applied: "+changes
	case roster.EventSyncFailed:
		verb := "failed"
		if e.Run.Status == roster.SyncCanceled {
			verb = "was canceled"
		}
		m.Title, m.Detail = "Sync of "+where+" "+verb, "Nothing was changed."
	case roster.EventHostsChanged:
		m.Title, m.Detail = "Hosts changed in "+where, changes
	case eventTest:
		m.Title, m.Detail = "Test notification from Roster", "This target works."
	}
	if e.Run.Error != "" {
		m.Detail = truncate(e.Run.Error, maxDetail)
	}
	m.Fields = [][2]string{
		{"Inventory", e.Inventory.Name},
		{"Source", e.Source.Name + " (" + e.Source.Provider + ")"},
		{"Status", string(e.Run.Status)},
		{"Trigger", string(e.Run.Trigger)},
		{"Changes", changes},
		{"Hosts seen", strconv.Itoa(c.Seen)},
		{"Duration", (time.Duration(e.Run.DurationMS) * time.Millisecond).String()},
	}
	for i, sc := range e.failedScopes {
		if i == maxScopes {
			m.Fields = append(m.Fields, [2]string{"Failed scopes", fmt.Sprintf("and %d more", len(e.failedScopes)-maxScopes)})
			break
		}
		m.Fields = append(m.Fields, [2]string{"Failed scope", truncate(sc, 200)})
	}
	m.Fields = append(m.Fields, [2]string{"Run", e.Run.ID})
	return m
}

// text is the message as plain text: a title line, the detail, the fields
// and the link.
func (m *message) text() string {
	var b strings.Builder
	b.WriteString(m.Title + "\n\n" + m.Detail + "\n\n")
	for _, f := range m.Fields {
		b.WriteString(f[0] + ": " + f[1] + "\n")
	}
	if m.Link != "" {
		b.WriteString("\n" + m.Link + "\n")
	}
	return b.String()
}

// oneLine is the message in a line: "Roster: <title>: <detail> <link>".
func (m *message) oneLine() string {
	s := "Roster: " + m.Title + ": " + m.Detail
	if m.Link != "" {
		s += " " + m.Link
	}
	return s
}
