package roster

import (
	"context"
	"net"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"
)

// EventSinkType names the protocol an event sink speaks.
type EventSinkType string

const (
	// SinkSyslog sends RFC 5424 messages over TCP or TLS (octet counting,
	// RFC 6587) or UDP.
	SinkSyslog EventSinkType = "syslog"
	// SinkHEC posts to a Splunk HTTP Event Collector.
	SinkHEC EventSinkType = "hec"
	// SinkHTTPJSON posts JSON (ndjson or an array) to a logstash- or
	// Elastic-style HTTP input.
	SinkHTTPJSON EventSinkType = "http_json"
)

// Valid reports whether t is a known sink type.
func (t EventSinkType) Valid() bool { return t == SinkSyslog || t == SinkHEC || t == SinkHTTPJSON }

// EventStream names a kind of event a sink may receive.
type EventStream string

const (
	// StreamAudit: every record the audit log inserts.
	StreamAudit EventStream = "audit"
	// StreamSync: every finished sync run.
	StreamSync EventStream = "sync"
	// StreamLog: the service's own log records at or above the sink's
	// LogLevel.
	StreamLog EventStream = "log"
)

// Valid reports whether s is a known stream.
func (s EventStream) Valid() bool { return s == StreamAudit || s == StreamSync || s == StreamLog }

// Bounds of an event sink's settings.
const (
	EventSinkQueueDefault = 10_000
	EventSinkQueueMax     = 100_000
	maxSinkSetting        = 1024
	maxSinkCA             = 64 << 10
)

// EventSink forwards Roster's events (audit records, finished runs,
// optionally its logs) to a log system. Forwarding is best effort: events
// wait in a bounded queue per sink and are dropped, and counted, when the
// sink cannot keep up. The sink's secrets (a HEC token, a password or a
// bearer token) live in the secret backend at SecretPath; none is kept
// here.
type EventSink struct {
	ID      string
	Name    string
	Type    EventSinkType
	Streams []EventStream
	// LogLevel is the least level of the log stream: debug, info, warn
	// (the default) or error.
	LogLevel      string
	Config        EventSinkConfig
	Enabled       bool
	AllowInsecure bool
	QueueSize     int
	// SecretPath and SecretVersion locate the sink's secret fields;
	// HasSecret says whether any is stored.
	SecretPath    string
	SecretVersion int
	HasSecret     bool
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// EventSinkConfig holds a sink's settings that are not secret; each type
// reads its own.
type EventSinkConfig struct {
	// syslog
	Address       string `json:"address,omitempty"`   // host:port
	Transport     string `json:"transport,omitempty"` // tcp (default), tls, udp
	Facility      string `json:"facility,omitempty"`  // default local0
	AppName       string `json:"app_name,omitempty"`  // default roster
	TLSCA         string `json:"tls_ca,omitempty"`    // PEM; the system pool if empty
	TLSServerName string `json:"tls_server_name,omitempty"`
	// hec and http_json
	URL string `json:"url,omitempty"`
	// hec
	Index      string `json:"index,omitempty"`
	Source     string `json:"source,omitempty"`
	SourceType string `json:"sourcetype,omitempty"`
	// http_json
	Format   string `json:"format,omitempty"`   // ndjson (default), array
	Username string `json:"username,omitempty"` // basic auth with the secret password
}

// Secret fields of event sinks, by name in the backend.
const (
	SinkSecretToken       = "token"        // hec
	SinkSecretPassword    = "password"     // http_json basic auth
	SinkSecretBearerToken = "bearer_token" // http_json
)

// SinkSecretFields lists the secret fields a sink of type t may have.
func SinkSecretFields(t EventSinkType) []string {
	switch t {
	case SinkHEC:
		return []string{SinkSecretToken}
	case SinkHTTPJSON:
		return []string{SinkSecretPassword, SinkSecretBearerToken}
	}
	return nil
}

// Wants reports whether s is enabled and receives stream.
func (s *EventSink) Wants(stream EventStream) bool {
	return s.Enabled && slices.Contains(s.Streams, stream)
}

// Target is where the sink sends, for display: never a URL's path, query
// or user info.
func (s *EventSink) Target() string {
	if s.Type == SinkSyslog {
		return "syslog+" + s.Config.transport() + "://" + s.Config.Address
	}
	u, err := url.Parse(s.Config.URL)
	if err != nil || u.Host == "" {
		return ""
	}
	return u.Scheme + "://" + u.Host + "/…"
}

func (c EventSinkConfig) transport() string {
	if c.Transport == "" {
		return "tcp"
	}
	return c.Transport
}

var sinkNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)

var syslogFacilities = []string{"kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
	"authpriv", "ftp", "ntp", "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7"}

// SyslogFacility returns the RFC 5424 number of a facility name (empty:
// local0), or -1.
func SyslogFacility(name string) int {
	if name == "" {
		name = "local0"
	}
	return slices.Index(syslogFacilities, name)
}

// Normalize fills the defaults of s.
func (s *EventSink) Normalize() {
	if s.QueueSize == 0 {
		s.QueueSize = EventSinkQueueDefault
	}
	if s.LogLevel == "" {
		s.LogLevel = "warn"
	}
	if s.Type == SinkSyslog && s.Config.Transport == "" {
		s.Config.Transport = "tcp"
	}
	if s.Type == SinkHTTPJSON && s.Config.Format == "" {
		s.Config.Format = "ndjson"
	}
	slices.Sort(s.Streams)
	s.Streams = slices.Compact(s.Streams)
}

// Validate checks s (after Normalize), naming each bad field; secrets
// holds the names of the secret fields given or stored.
func (s *EventSink) Validate(secrets []string) error {
	var fe FieldErrors
	if !sinkNameRE.MatchString(s.Name) {
		fe.Add("name", "must be 1 to 63 letters, digits, '-', '_' or '.', starting with a letter or digit")
	}
	if !s.Type.Valid() {
		fe.Add("type", "must be syslog, hec or http_json")
	}
	if len(s.Streams) == 0 {
		fe.Add("streams", "must name at least one of audit, sync, log")
	}
	for _, st := range s.Streams {
		if !st.Valid() {
			fe.Add("streams", "unknown stream (audit, sync or log)")
			break
		}
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, s.LogLevel) {
		fe.Add("log_level", "must be debug, info, warn or error")
	}
	if s.QueueSize < 1 || s.QueueSize > EventSinkQueueMax {
		fe.Add("queue_size", "must be between 1 and %d", EventSinkQueueMax)
	}
	s.Config.validateLengths(&fe)
	switch s.Type {
	case SinkSyslog:
		s.validateSyslog(&fe)
	case SinkHEC, SinkHTTPJSON:
		s.validateHTTP(&fe, secrets)
	}
	for _, name := range secrets {
		if !slices.Contains(SinkSecretFields(s.Type), name) {
			fe.Add(name, "a %s sink has no such secret", s.Type)
		}
	}
	return fe.Err()
}

func (c EventSinkConfig) validateLengths(fe *FieldErrors) {
	for field, v := range map[string]string{"address": c.Address, "transport": c.Transport, "facility": c.Facility,
		"app_name": c.AppName, "tls_server_name": c.TLSServerName, "url": c.URL, "index": c.Index, "source": c.Source,
		"sourcetype": c.SourceType, "format": c.Format, "username": c.Username} {
		if len(v) > maxSinkSetting || strings.ContainsAny(v, "\r\n\x00") {
			fe.Add(field, "must be at most %d bytes on one line", maxSinkSetting)
		}
	}
	if len(c.TLSCA) > maxSinkCA {
		fe.Add("tls_ca", "must be at most %d bytes", maxSinkCA)
	}
}

func (s *EventSink) validateSyslog(fe *FieldErrors) {
	c := s.Config
	host, port, err := net.SplitHostPort(c.Address)
	if err != nil || host == "" || port == "" {
		fe.Add("address", "must be host:port")
	}
	if !slices.Contains([]string{"tcp", "tls", "udp"}, c.Transport) {
		fe.Add("transport", "must be tcp, tls or udp")
	}
	if SyslogFacility(c.Facility) < 0 {
		fe.Add("facility", "unknown syslog facility")
	}
	if c.AppName != "" && (len(c.AppName) > 48 || !printableASCII(c.AppName)) {
		fe.Add("app_name", "must be 1 to 48 printable ASCII characters without spaces")
	}
	if c.Transport != "tls" && (c.TLSCA != "" || c.TLSServerName != "") {
		fe.Add("transport", "tls_ca and tls_server_name need transport tls")
	}
	if c.Transport != "tls" && err == nil && !isLoopback(host) && !s.AllowInsecure {
		fe.Add("transport", "plain %s to a host other than the loopback needs allow_insecure", c.Transport)
	}
	if c.URL != "" || c.Format != "" || c.Username != "" || c.Index != "" || c.SourceType != "" {
		fe.Add("url", "url, format, username, index and sourcetype are not syslog settings")
	}
}

func (s *EventSink) validateHTTP(fe *FieldErrors, secrets []string) {
	c := s.Config
	u, err := url.Parse(c.URL)
	switch {
	case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		fe.Add("url", "must be an absolute http or https URL")
	case u.User != nil || u.RawQuery != "" || u.Fragment != "":
		// A URL is shown and exported as it is: secrets go in fields of
		// their own, kept in the secret backend.
		fe.Add("url", "must carry no user info, query or fragment: use username with password, token or bearer_token")
	case u.Scheme == "http" && !isLoopback(u.Hostname()) && !s.AllowInsecure:
		fe.Add("url", "plain http to a host other than the loopback needs allow_insecure")
	}
	if c.Address != "" || c.Transport != "" || c.Facility != "" {
		fe.Add("address", "address, transport and facility are syslog settings")
	}
	if s.Type == SinkHEC && !slices.Contains(secrets, SinkSecretToken) {
		fe.Add("token", "a hec sink needs its token")
	}
	if s.Type == SinkHTTPJSON {
		if !slices.Contains([]string{"ndjson", "array"}, c.Format) {
			fe.Add("format", "must be ndjson or array")
		}
		if (c.Username != "") != slices.Contains(secrets, SinkSecretPassword) {
			fe.Add("password", "username and password go together")
		}
	}
}

func printableASCII(s string) bool {
	for _, r := range s {
		if r <= ' ' || r > '~' {
			return false
		}
	}
	return true
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// EventSinkUpdate changes a sink; nil leaves a part as is.
type EventSinkUpdate struct {
	Name          *string
	Streams       []EventStream
	LogLevel      *string
	Config        *EventSinkConfig
	Enabled       *bool
	AllowInsecure *bool
	QueueSize     *int
	SecretVersion *int
	HasSecret     *bool
}

// Apply returns s changed by u.
func (u EventSinkUpdate) Apply(s EventSink) EventSink {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&s.Name, u.Name)
	set(&s.LogLevel, u.LogLevel)
	if u.Streams != nil {
		s.Streams = u.Streams
	}
	if u.Config != nil {
		s.Config = *u.Config
	}
	if u.Enabled != nil {
		s.Enabled = *u.Enabled
	}
	if u.AllowInsecure != nil {
		s.AllowInsecure = *u.AllowInsecure
	}
	if u.QueueSize != nil {
		s.QueueSize = *u.QueueSize
	}
	if u.SecretVersion != nil {
		s.SecretVersion = *u.SecretVersion
	}
	if u.HasSecret != nil {
		s.HasSecret = *u.HasSecret
	}
	return s
}

// EventSinkStore keeps event sinks. Names are unique.
type EventSinkStore interface {
	CreateEventSink(ctx context.Context, s *EventSink) error
	EventSink(ctx context.Context, id string) (*EventSink, error)
	EventSinkByName(ctx context.Context, name string) (*EventSink, error)
	EventSinks(ctx context.Context) ([]*EventSink, error)
	UpdateEventSink(ctx context.Context, id string, u EventSinkUpdate) (*EventSink, error)
	DeleteEventSink(ctx context.Context, id string) error
}
