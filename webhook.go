package roster

import (
	"context"
	"net"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// WebhookEvent names something a webhook can be told about.
type WebhookEvent string

const (
	// EventSyncSucceeded: a run saw every scope and applied what it found.
	EventSyncSucceeded WebhookEvent = "sync.succeeded"
	// EventSyncPartial: some scopes failed (their hosts were kept), the
	// others were applied.
	EventSyncPartial WebhookEvent = "sync.partial"
	// EventSyncFailed: a run failed, was canceled or timed out; it changed
	// nothing.
	EventSyncFailed WebhookEvent = "sync.failed"
	// EventHostsChanged: a finished run added, updated, removed or
	// disabled hosts.
	EventHostsChanged WebhookEvent = "hosts.changed"
)

var webhookEvents = []WebhookEvent{EventSyncSucceeded, EventSyncPartial, EventSyncFailed, EventHostsChanged}

// WebhookEvents lists every event a webhook can subscribe to.
func WebhookEvents() []WebhookEvent { return slices.Clone(webhookEvents) }

// Valid reports whether e is a known event.
func (e WebhookEvent) Valid() bool { return slices.Contains(webhookEvents, e) }

// RunEvents returns the events a finished run raises: its outcome, then
// hosts.changed when it applied changes to hosts (a failed or canceled run
// applies none, whatever it counted). An unfinished run raises none.
func RunEvents(run *SyncRun) []WebhookEvent {
	switch run.Status {
	case SyncSucceeded, SyncPartial:
		out := []WebhookEvent{EventSyncSucceeded}
		if run.Status == SyncPartial {
			out[0] = EventSyncPartial
		}
		if c := run.Counts; c.Added+c.Updated+c.Removed+c.Disabled > 0 {
			out = append(out, EventHostsChanged)
		}
		return out
	case SyncFailed, SyncCanceled:
		return []WebhookEvent{EventSyncFailed}
	}
	return nil
}

// WebhookFormat is the shape of a webhook's request body.
type WebhookFormat string

const (
	// WebhookGeneric is Roster's own JSON document, optionally signed.
	WebhookGeneric WebhookFormat = "generic"
	// WebhookSlack is a Slack-compatible incoming-webhook message (text
	// and attachments), which Mattermost and Rocket.Chat accept too.
	WebhookSlack WebhookFormat = "slack"
)

// Valid reports whether f is a known format.
func (f WebhookFormat) Valid() bool { return f == WebhookGeneric || f == WebhookSlack }

// WebhookType is what a notification target is: an HTTP endpoint in one
// of several native shapes, an IRC channel or email recipients. The older
// WebhookFormat is an alias for the first two (generic is webhook).
type WebhookType string

const (
	// TypeWebhook is Roster's own JSON document, optionally signed
	// (format generic).
	TypeWebhook WebhookType = "webhook"
	// TypeSlack is a Slack incoming-webhook message.
	TypeSlack WebhookType = "slack"
	// TypeMattermost is a Mattermost incoming-webhook message.
	TypeMattermost WebhookType = "mattermost"
	// TypeRocketChat is a Rocket.Chat incoming-webhook message.
	TypeRocketChat WebhookType = "rocketchat"
	// TypeTeams is a Microsoft Teams Workflows message (an Adaptive Card).
	TypeTeams WebhookType = "teams"
	// TypePagerDuty is a PagerDuty Events API v2 trigger or resolve.
	TypePagerDuty WebhookType = "pagerduty"
	// TypeIRC is a message to an IRC channel.
	TypeIRC WebhookType = "irc"
	// TypeEmail is an email sent over SMTP.
	TypeEmail WebhookType = "email"
)

var webhookTypes = []WebhookType{TypeWebhook, TypeSlack, TypeMattermost, TypeRocketChat, TypeTeams, TypePagerDuty, TypeIRC, TypeEmail}

// WebhookTypes lists every type of notification target.
func WebhookTypes() []WebhookType { return slices.Clone(webhookTypes) }

// Valid reports whether t is a known type.
func (t WebhookType) Valid() bool { return slices.Contains(webhookTypes, t) }

// UsesURL reports whether the target is an HTTP endpoint whose whole URL
// is its secret (the webhook and chat types).
func (t WebhookType) UsesURL() bool {
	switch t {
	case TypeWebhook, TypeSlack, TypeMattermost, TypeRocketChat, TypeTeams:
		return true
	}
	return false
}

// Format is t's older name: generic for webhook, the type itself otherwise.
func (t WebhookType) Format() WebhookFormat {
	if t == TypeWebhook {
		return WebhookGeneric
	}
	return WebhookFormat(t)
}

// TypeOf reads the older format field: generic is webhook; any other
// value names a type.
func TypeOf(f WebhookFormat) WebhookType {
	if f == WebhookGeneric {
		return TypeWebhook
	}
	return WebhookType(f)
}

// JoinTypes lists the types for messages.
func JoinTypes() string {
	s := make([]string, len(webhookTypes))
	for i, t := range webhookTypes {
		s[i] = string(t)
	}
	return strings.Join(s, ", ")
}

// WebhookConfig holds a target's settings that are not secret; only the
// part of its type is set. Its secrets (URLs, passwords, keys) live in the
// secret backend.
type WebhookConfig struct {
	// Username is the name a Mattermost or Rocket.Chat message is posted
	// as (optional).
	Username  string             `json:"username,omitempty"`
	IRC       *IRCSettings       `json:"irc,omitempty"`
	Email     *EmailSettings     `json:"email,omitempty"`
	PagerDuty *PagerDutySettings `json:"pagerduty,omitempty"`
	// SecretsSet names the type's secrets the backend holds (never their
	// values), beside the URL and signing secret: e.g. nickserv_password.
	SecretsSet []string `json:"secrets_set,omitempty"`
}

// IRCSettings says where an IRC target posts. Its server password,
// NickServ password and channel key are secrets.
type IRCSettings struct {
	// Server is host:port.
	Server string `json:"server"`
	// TLS is on unless turned off (then the server must be on the
	// loopback, or the target allow_insecure).
	TLS           bool   `json:"tls"`
	TLSServerName string `json:"tls_server_name,omitempty"`
	Nick          string `json:"nick"`
	// Channel is #name or &name.
	Channel string `json:"channel"`
	// Notice sends NOTICE rather than PRIVMSG.
	Notice bool `json:"notice,omitempty"`
}

// EmailSecurity is how an email target protects its SMTP connection.
type EmailSecurity string

const (
	// EmailSTARTTLS requires the server's STARTTLS (the default).
	EmailSTARTTLS EmailSecurity = "starttls"
	// EmailTLS connects in TLS from the start (implicit TLS, port 465).
	EmailTLS EmailSecurity = "tls"
	// EmailNone sends in clear: only without a password.
	EmailNone EmailSecurity = "none"
)

// EmailSettings says where and to whom an email target sends. Its SMTP
// password is a secret.
type EmailSettings struct {
	Host          string        `json:"host"`
	Port          int           `json:"port"`
	Security      EmailSecurity `json:"security"`
	TLSServerName string        `json:"tls_server_name,omitempty"`
	From          string        `json:"from"`
	To            []string      `json:"to"`
	Username      string        `json:"username,omitempty"`
	SubjectPrefix string        `json:"subject_prefix,omitempty"`
}

// PagerDutySettings tunes a PagerDuty target. Its routing key is a
// secret.
type PagerDutySettings struct {
	// URL is the Events API v2 endpoint (default DefaultPagerDutyURL).
	URL             string `json:"url,omitempty"`
	SeverityFailed  string `json:"severity_failed,omitempty"`
	SeverityPartial string `json:"severity_partial,omitempty"`
}

// DefaultPagerDutyURL is PagerDuty's Events API v2 endpoint.
const DefaultPagerDutyURL = "https://events.pagerduty.com/v2/enqueue"

// Webhook tells an HTTP endpoint about the sync events of one source, or
// of every source of an inventory. Its URL is a secret (a Slack webhook's
// path is its credential; others carry tokens): it lives in the secret
// backend at SecretPath with the optional signing secret, and only a
// redacted form is kept here.
type Webhook struct {
	ID   string
	Name string
	// InventoryID is always set: for a webhook of one source, it is the
	// source's inventory.
	InventoryID string
	// SourceID names the one source whose runs are reported; empty for
	// every source of the inventory.
	SourceID string
	Type     WebhookType
	// Config holds the settings of Type that are not secret.
	Config  WebhookConfig
	Events  []WebhookEvent
	Enabled bool
	// AllowInsecure lets the URL be plain http to a host other than the
	// loopback.
	AllowInsecure bool
	// URLRedacted is the target for display: scheme://host/… for an HTTP
	// target (never its path, query or user info), ircs://host:port/#chan,
	// smtp+starttls://host:port → N recipients, or "pagerduty events v2".
	URLRedacted string
	// SecretPath is where the backend keeps the URL and signing secret;
	// SecretVersion is the backend's version of them.
	SecretPath       string
	SecretVersion    int
	HasSigningSecret bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Subscribed reports whether w is enabled and subscribed to e.
func (w *Webhook) Subscribed(e WebhookEvent) bool { return w.Enabled && slices.Contains(w.Events, e) }

// WebhookUpdate changes a webhook; nil leaves a part as is.
type WebhookUpdate struct {
	Name             *string
	Type             *WebhookType
	Config           *WebhookConfig
	Events           []WebhookEvent
	Enabled          *bool
	AllowInsecure    *bool
	URLRedacted      *string
	SecretVersion    *int
	HasSigningSecret *bool
}

// WebhookFilter selects webhooks; empty fields match all.
type WebhookFilter struct {
	// InventoryID selects an inventory's webhooks: its own and its sources'.
	InventoryID string
	// SourceID selects the webhooks of one source.
	SourceID string
}

// DeliveryOutcome says how one delivery attempt ended.
type DeliveryOutcome string

const (
	// DeliveryDelivered: the endpoint answered 2xx.
	DeliveryDelivered DeliveryOutcome = "delivered"
	// DeliveryRetrying: the attempt failed and another will follow.
	DeliveryRetrying DeliveryOutcome = "retrying"
	// DeliveryFailed: the attempt failed and no other will follow (a
	// permanent refusal, or the last attempt).
	DeliveryFailed DeliveryOutcome = "failed"
	// DeliverySkipped: nothing was sent (the webhook was disabled, or the
	// run is gone, before the delivery).
	DeliverySkipped DeliveryOutcome = "skipped"
)

// WebhookDelivery records one attempt to deliver one event to one webhook.
// It never holds the URL, a header or the signing secret.
type WebhookDelivery struct {
	ID        string
	WebhookID string
	// EventID is stable for one event (a run's outcome, or its host
	// changes): receivers use it to drop duplicates.
	EventID string
	Event   WebhookEvent
	RunID   string
	Attempt int
	// StatusCode is the endpoint's reply code: the HTTP status, the SMTP
	// reply or the IRC numeric; 0 when none came.
	StatusCode int
	Outcome    DeliveryOutcome
	// Error is a short, sanitized reason for a failed attempt.
	Error    string
	Duration time.Duration
	Time     time.Time
}

// DeliveryFilter selects deliveries, newest first; empty fields match all.
type DeliveryFilter struct {
	WebhookID string
	EventID   string
	After     string // cursor from a previous page
	Limit     int
}

// WebhookStore persists webhooks and their delivery log. Deleting a source
// or an inventory deletes its webhooks and their deliveries (whoever
// deletes it must delete the webhooks' secrets from the backend first).
type WebhookStore interface {
	// CreateWebhook stores w. For a webhook of a source, InventoryID is
	// filled in from the source (EINVALID when a different one is given).
	CreateWebhook(ctx context.Context, w *Webhook) error
	Webhook(ctx context.Context, id string) (*Webhook, error)
	// Webhooks lists webhooks by name.
	Webhooks(ctx context.Context, f WebhookFilter) ([]*Webhook, error)
	// WebhookSubscribers returns the enabled webhooks subscribed to event
	// for a run of source sourceID in inventory inventoryID: the source's
	// own and those of the whole inventory.
	WebhookSubscribers(ctx context.Context, inventoryID, sourceID string, event WebhookEvent) ([]*Webhook, error)
	UpdateWebhook(ctx context.Context, id string, upd WebhookUpdate) (*Webhook, error)
	// DeleteWebhook deletes a webhook and its delivery log.
	DeleteWebhook(ctx context.Context, id string) error
	// RecordDelivery appends to the delivery log (ENOTFOUND when the
	// webhook is gone).
	RecordDelivery(ctx context.Context, d *WebhookDelivery) error
	// WebhookDeliveries lists deliveries newest first, a page at a time.
	WebhookDeliveries(ctx context.Context, f DeliveryFilter) (deliveries []*WebhookDelivery, next string, err error)
	// PruneDeliveries deletes deliveries recorded before t.
	PruneDeliveries(ctx context.Context, before time.Time) (int, error)
}

// MaxWebhookURLLen bounds a webhook URL's length.
const MaxWebhookURLLen = 2048

// ParseWebhookURL checks a webhook URL: absolute https (plain http only to
// the loopback, or with allowInsecure), with a host, no fragment. Its field
// errors name field and never quote the URL, which is a secret.
func ParseWebhookURL(field, raw string, allowInsecure bool) (*url.URL, *FieldError) {
	bad := func(msg string) (*url.URL, *FieldError) { return nil, &FieldError{Field: field, Message: msg} }
	if raw == "" {
		return bad("is required")
	}
	if len(raw) > MaxWebhookURLLen {
		return bad("is longer than 2048 characters")
	}
	u, err := url.Parse(raw)
	if err != nil || u.Opaque != "" {
		return bad("is not a valid absolute URL")
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !allowInsecure && !IsLoopbackHost(u.Hostname()) {
			return bad("must be https (plain http is allowed to the loopback, or with allow_insecure)")
		}
	case "":
		return bad("is not an absolute URL (give https://...)")
	default:
		return bad("must be https")
	}
	if u.Hostname() == "" {
		return bad("has no host")
	}
	if u.Fragment != "" || strings.Contains(raw, "#") {
		return bad("must not have a fragment (#...)")
	}
	return u, nil
}

// IsLoopbackHost reports whether host (without port) is localhost or a
// loopback address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// RedactURL returns the displayable form of a secret URL: scheme://host/…
// (with the port, if any), never its user info, path or query.
func RedactURL(u *url.URL) string {
	return u.Scheme + "://" + u.Host + "/…"
}

// ValidateWebhookEvents checks a list of events: not empty, each known,
// no duplicates.
func ValidateWebhookEvents(field string, events []WebhookEvent) []FieldError {
	var fe FieldErrors
	if len(events) == 0 {
		fe.Add(field, "give at least one event (%s)", joinEvents(webhookEvents))
	}
	for i, e := range events {
		switch {
		case !e.Valid():
			fe.Add(field+"["+strconv.Itoa(i)+"]", "unknown event %q (events: %s)", e, joinEvents(webhookEvents))
		case slices.Index(events, e) < i:
			fe.Add(field+"["+strconv.Itoa(i)+"]", "event %q is given twice", e)
		}
	}
	return fe
}

func joinEvents(events []WebhookEvent) string {
	s := make([]string, len(events))
	for i, e := range events {
		s[i] = string(e)
	}
	return strings.Join(s, ", ")
}
