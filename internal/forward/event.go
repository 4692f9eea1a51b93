// Package forward sends Roster's events (audit records, finished sync runs
// and optionally its own logs) to log systems: syslog, a Splunk HTTP Event
// Collector and logstash/Elastic-style HTTP inputs.
//
// Forwarding never slows the API or the syncer: Publish puts an event in
// each sink's bounded queue without waiting, and drops it (counting the
// drop) when the queue is full. One goroutine per sink sends batches and
// retries them with backoff.
package forward

import (
	"crypto/rand"
	"encoding/json"
	"log/slog"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// Event types: the value of Event.Type, and the syslog MSGID.
const (
	TypeAudit = "audit"
	TypeSync  = "sync.run"
	TypeLog   = "log"
	TypeTest  = "test"
)

// Bounds of what one event carries from a user-controlled value.
const (
	maxValue   = 2048 // bytes of one string field
	maxDetails = 32   // detail or log attributes
	maxScopes  = 32   // failed scopes of a run
)

// Event is the one schema every sink receives. It is built field by field
// from what happened, never by marshalling a domain type, so a field added
// to a domain type never leaves without a decision here.
type Event struct {
	ID   string    `json:"id"`
	Time time.Time `json:"time"`
	Node string    `json:"node,omitempty"`
	Type string    `json:"type"`

	Audit *AuditPart `json:"audit,omitempty"`
	Sync  *SyncPart  `json:"sync,omitempty"`
	Log   *LogPart   `json:"log,omitempty"`
	// Message says what a test event is.
	Message string `json:"message,omitempty"`

	// encoded is the JSON, made once however many sinks send it.
	encoded struct {
		once sync.Once
		b    []byte
	}
}

// AuditPart is an audit record.
type AuditPart struct {
	ID          string            `json:"id"`
	Action      string            `json:"action"`
	Outcome     string            `json:"outcome"`
	Actor       string            `json:"actor,omitempty"`
	ActorID     string            `json:"actor_id,omitempty"`
	TargetType  string            `json:"target_type,omitempty"`
	TargetID    string            `json:"target_id,omitempty"`
	TargetName  string            `json:"target_name,omitempty"`
	InventoryID string            `json:"inventory_id,omitempty"`
	Reason      string            `json:"reason,omitempty"`
	Details     map[string]string `json:"details,omitempty"`
	Count       int64             `json:"count,omitempty"`
}

// SyncPart is a finished sync run.
type SyncPart struct {
	RunID        string       `json:"run_id"`
	InventoryID  string       `json:"inventory_id"`
	SourceID     string       `json:"source_id"`
	Trigger      string       `json:"trigger"`
	Status       string       `json:"status"`
	Attempt      int          `json:"attempt,omitempty"`
	Counts       SyncCounts   `json:"counts"`
	DurationMS   int64        `json:"duration_ms"`
	Error        string       `json:"error,omitempty"`
	FailedScopes []ScopeError `json:"failed_scopes,omitempty"`
}

// SyncCounts counts what a run found and changed.
type SyncCounts struct {
	Seen      int `json:"seen"`
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Removed   int `json:"removed"`
	Disabled  int `json:"disabled"`
	Unchanged int `json:"unchanged"`
}

// ScopeError is a scope a run could not read.
type ScopeError struct {
	Name  string `json:"name"`
	Error string `json:"error,omitempty"`
}

// LogPart is a log record of the service.
type LogPart struct {
	Level     string            `json:"level"`
	Msg       string            `json:"msg"`
	Component string            `json:"component,omitempty"`
	Attrs     map[string]string `json:"attrs,omitempty"`
}

// Stream is the stream an event belongs to (test events go to every
// sink, through Test only).
func (e *Event) Stream() roster.EventStream {
	switch e.Type {
	case TypeAudit:
		return roster.StreamAudit
	case TypeSync:
		return roster.StreamSync
	case TypeLog:
		return roster.StreamLog
	}
	return ""
}

// JSON is the event's JSON document, encoded on first use; the event
// must not change after.
func (e *Event) JSON() []byte {
	e.encoded.once.Do(func() {
		b, err := json.Marshal(e)
		if err != nil { // only strings, numbers and maps of strings: cannot happen
			b = []byte(`{"type":"` + e.Type + `","error":"unencodable event"}`)
		}
		e.encoded.b = b
	})
	return e.encoded.b
}

func newEvent(typ, node string, t time.Time) *Event {
	return &Event{ID: rand.Text(), Time: t.UTC(), Node: node, Type: typ}
}

// FromAudit is the event of an audit record.
func FromAudit(a *roster.AuditEvent, node string) *Event {
	e := newEvent(TypeAudit, node, a.Time)
	e.Audit = &AuditPart{
		ID: a.ID, Action: clip(a.Action), Outcome: string(a.Outcome), Actor: clip(a.Actor), ActorID: a.ActorID,
		TargetType: clip(a.TargetType), TargetID: clip(a.TargetID), TargetName: clip(a.TargetName),
		InventoryID: a.InventoryID, Reason: clip(a.Reason), Details: redactMap(a.Details), Count: a.Count,
	}
	return e
}

// FromRun is the event of a finished sync run.
func FromRun(r *roster.SyncRun, node string) *Event {
	end := time.Now()
	if r.FinishedAt != nil {
		end = *r.FinishedAt
	}
	e := newEvent(TypeSync, node, end)
	p := &SyncPart{
		RunID: r.ID, InventoryID: r.InventoryID, SourceID: r.SourceID, Trigger: string(r.Trigger), Status: string(r.Status),
		Attempt: r.Attempt, Error: clip(r.Error),
		Counts: SyncCounts{Seen: r.Counts.Seen, Added: r.Counts.Added, Updated: r.Counts.Updated, Removed: r.Counts.Removed,
			Disabled: r.Counts.Disabled, Unchanged: r.Counts.Unchanged},
	}
	if r.StartedAt != nil {
		p.DurationMS = end.Sub(*r.StartedAt).Milliseconds()
	}
	for _, s := range r.Scopes {
		if s.Status == roster.ScopeFailed && len(p.FailedScopes) < maxScopes {
			p.FailedScopes = append(p.FailedScopes, ScopeError{Name: clip(s.Name), Error: clip(s.Error)})
		}
	}
	e.Sync = p
	return e
}

// FromLog is the event of a log record; attrs are the record's attributes
// with the logger's own (With) ones first.
func FromLog(r slog.Record, attrs []slog.Attr, node string) *Event {
	e := newEvent(TypeLog, node, r.Time)
	p := &LogPart{Level: r.Level.String(), Msg: clip(r.Message)}
	add := func(a slog.Attr) {
		if a.Key == "component" {
			p.Component = clip(a.Value.Resolve().String())
			return
		}
		if p.Attrs == nil {
			p.Attrs = map[string]string{}
		}
		if len(p.Attrs) < maxDetails {
			p.Attrs[clip(a.Key)] = redactValue(a.Key, a.Value.Resolve().String())
		}
	}
	for _, a := range attrs {
		add(a)
	}
	r.Attrs(func(a slog.Attr) bool { add(a); return true })
	e.Log = p
	return e
}

// TestEvent is the synthetic event "send test event" sends.
func TestEvent(sink, node string) *Event {
	e := newEvent(TypeTest, node, time.Now())
	e.Message = "Roster test event for sink " + clip(sink)
	return e
}

// secretKey matches the names of values that may be secret: such a value
// is never forwarded, whatever it holds.
var secretKey = regexp.MustCompile(`(?i)secret|passw|token|key|authori[sz]ation|cookie|credential|url|dsn|signature`)

// notSecret are names secretKey matches that hold no secret.
var notSecret = map[string]bool{"url_redacted": true, "key_id": true, "token_id": true, "credential_id": true,
	"target_redacted": true, "public_key_fingerprint": true}

const redactedValue = "[redacted]"

func redactValue(key, v string) string {
	if secretKey.MatchString(key) && !notSecret[key] {
		return redactedValue
	}
	return clip(v)
}

func redactMap(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, min(len(m), maxDetails))
	for k, v := range m {
		if len(out) == maxDetails {
			out["truncated"] = strconv.Itoa(len(m) - maxDetails)
			break
		}
		out[clip(k)] = redactValue(k, v)
	}
	return out
}

// clip bounds a string at maxValue bytes, at a rune boundary.
func clip(s string) string {
	if len(s) <= maxValue {
		return s
	}
	i := maxValue
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i] + "…"
}
