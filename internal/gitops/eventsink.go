package gitops

import (
	"context"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"sort"
)

// KindEventSink declares where events are forwarded (a log system).
const KindEventSink = "event_sink"

// EventSink is an event sink document. Its secret fields (token,
// password, bearer_token) are references, never values.
type EventSink struct {
	Name          string   `yaml:"name"`
	Type          string   `yaml:"type"`
	Streams       []string `yaml:"streams"`
	LogLevel      string   `yaml:"log_level,omitempty"`
	Enabled       *bool    `yaml:"enabled,omitempty"`
	AllowInsecure bool     `yaml:"allow_insecure,omitempty"`
	QueueSize     int      `yaml:"queue_size,omitempty"`

	Address       string `yaml:"address,omitempty"`
	Transport     string `yaml:"transport,omitempty"`
	Facility      string `yaml:"facility,omitempty"`
	AppName       string `yaml:"app_name,omitempty"`
	TLSCA         string `yaml:"tls_ca,omitempty"`
	TLSServerName string `yaml:"tls_server_name,omitempty"`
	URL           string `yaml:"url,omitempty"`
	Index         string `yaml:"index,omitempty"`
	Source        string `yaml:"source,omitempty"`
	SourceType    string `yaml:"sourcetype,omitempty"`
	Format        string `yaml:"format,omitempty"`
	Username      string `yaml:"username,omitempty"`

	Token       *Value `yaml:"token,omitempty"`
	Password    *Value `yaml:"password,omitempty"`
	BearerToken *Value `yaml:"bearer_token,omitempty"`
}

var eventSinkKeys = []string{"kind", "name", "type", "streams", "log_level", "enabled", "allow_insecure", "queue_size",
	"address", "transport", "facility", "app_name", "tls_ca", "tls_server_name", "url", "index", "source", "sourcetype",
	"format", "username", "token", "password", "bearer_token"}

// apiEventSink is a sink as the API shows it.
type apiEventSink struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Type          string   `json:"type"`
	Streams       []string `json:"streams"`
	LogLevel      string   `json:"log_level"`
	Enabled       bool     `json:"enabled"`
	AllowInsecure bool     `json:"allow_insecure"`
	QueueSize     int      `json:"queue_size"`
	HasSecret     bool     `json:"has_secret"`

	Address       string `json:"address"`
	Transport     string `json:"transport"`
	Facility      string `json:"facility"`
	AppName       string `json:"app_name"`
	TLSCA         string `json:"tls_ca"`
	TLSServerName string `json:"tls_server_name"`
	URL           string `json:"url"`
	Index         string `json:"index"`
	Source        string `json:"source"`
	SourceType    string `json:"sourcetype"`
	Format        string `json:"format"`
	Username      string `json:"username"`
}

// settings are the sink's settings that are neither secret nor common
// to every type, by API field.
func (s *EventSink) settings() map[string]string {
	return map[string]string{"address": s.Address, "transport": s.Transport, "facility": s.Facility, "app_name": s.AppName,
		"tls_ca": s.TLSCA, "tls_server_name": s.TLSServerName, "url": s.URL, "index": s.Index, "source": s.Source,
		"sourcetype": s.SourceType, "format": s.Format, "username": s.Username}
}

func (s *apiEventSink) settings() map[string]string {
	d := EventSink{Address: s.Address, Transport: s.Transport, Facility: s.Facility, AppName: s.AppName, TLSCA: s.TLSCA,
		TLSServerName: s.TLSServerName, URL: s.URL, Index: s.Index, Source: s.Source, SourceType: s.SourceType,
		Format: s.Format, Username: s.Username}
	return d.settings()
}

func (s *EventSink) secrets() map[string]*Value {
	return map[string]*Value{"token": s.Token, "password": s.Password, "bearer_token": s.BearerToken}
}

// check refuses what is missing, and secrets given as values.
func (s *EventSink) check(line int) error {
	for field, v := range map[string]string{"name": s.Name, "type": s.Type} {
		if v == "" {
			return fmt.Errorf("line %d: event_sink %s: field %s is required", line, s.Name, field)
		}
	}
	if len(s.Streams) == 0 {
		return fmt.Errorf("line %d: event_sink %s: field streams is required", line, s.Name)
	}
	for _, field := range slices.Sorted(maps.Keys(s.secrets())) {
		if v := s.secrets()[field]; v != nil && !v.IsRef() {
			return fmt.Errorf("line %d: event_sink %s: %s is a secret: give a reference ({env: NAME}, {file: PATH} or {stdin: true}), never the value",
				v.Pos.Line, s.Name, field)
		}
	}
	return nil
}

func (s *EventSink) rebase(fix func(*Value)) {
	for _, v := range s.secrets() {
		fix(v)
	}
}

// fetchEventSinks adds the server's sinks to st.
func fetchEventSinks(ctx context.Context, api API, st *State) error {
	var sinks struct{ Items []*apiEventSink }
	if err := api.Do(ctx, "GET", "/event-sinks", nil, &sinks); err != nil {
		return fmt.Errorf("list event sinks: %w", err)
	}
	st.EventSinks = map[string]*apiEventSink{}
	for _, s := range sinks.Items {
		st.EventSinks[s.Name] = s
	}
	return nil
}

// eventSinks plans the sinks: created, replaced when their type changes
// (an update cannot change it), or updated in the fields that differ.
// Secrets are sent when the server holds none, or with UpdateSecrets.
func (b *planner) eventSinks() error {
	for _, name := range sortedKeys(b.docs[KindEventSink]) {
		s := b.docs[KindEventSink][name].EventSink
		want, err := b.sinkBody(s)
		if err != nil {
			return err
		}
		cur, exists := b.st.EventSinks[name]
		if !exists || cur.Type != s.Type {
			op, note := byte('+'), ""
			if exists {
				op, note = '~', "type changed: replaced"
			}
			want["name"], want["type"] = s.Name, s.Type
			b.add(Change{Op: op, Kind: KindEventSink, Key: name, Note: note, do: func(ctx context.Context, x *executor) error {
				if exists {
					if err := x.api.Do(ctx, "DELETE", "/event-sinks/"+url.PathEscape(cur.ID), nil, nil); err != nil {
						return err
					}
				}
				return x.api.Do(ctx, "POST", "/event-sinks", want, nil)
			}})
			continue
		}
		patch, changed := sinkPatch(cur, want, b.opts.UpdateSecrets)
		if len(changed) == 0 {
			continue
		}
		b.add(Change{Op: '~', Kind: KindEventSink, Key: name, Fields: changed, do: func(ctx context.Context, x *executor) error {
			return x.api.Do(ctx, "PATCH", "/event-sinks/"+url.PathEscape(cur.ID), patch, nil)
		}})
	}
	return nil
}

// sinkBody is the API body declaring s, its secrets read.
func (b *planner) sinkBody(s *EventSink) (map[string]any, error) {
	streams := slices.Clone(s.Streams)
	sort.Strings(streams)
	body := map[string]any{"streams": streams, "enabled": s.Enabled == nil || *s.Enabled, "allow_insecure": s.AllowInsecure}
	if s.LogLevel != "" {
		body["log_level"] = s.LogLevel
	}
	if s.QueueSize != 0 {
		body["queue_size"] = s.QueueSize
	}
	for k, v := range s.settings() {
		if v != "" {
			body[k] = v
		}
	}
	for field, ref := range s.secrets() {
		if ref == nil {
			continue
		}
		v, err := b.opts.Resolver.Resolve(*ref)
		if err != nil {
			return nil, fmt.Errorf("event_sink %s: %s: %w", s.Name, field, err)
		}
		body[field] = v.Reveal()
	}
	return body, nil
}

// sinkPatch is what changes cur into want, and the changed fields' names
// (a secret's marked as such, never shown).
func sinkPatch(cur *apiEventSink, want map[string]any, updateSecrets bool) (map[string]any, []string) {
	patch := map[string]any{}
	var changed []string
	note := func(field string, v any) { changed, patch[field] = append(changed, field), v }
	curStreams := slices.Clone(cur.Streams)
	sort.Strings(curStreams)
	if !slices.Equal(curStreams, want["streams"].([]string)) {
		note("streams", want["streams"])
	}
	if cur.Enabled != want["enabled"].(bool) {
		note("enabled", want["enabled"])
	}
	if cur.AllowInsecure != want["allow_insecure"].(bool) {
		note("allow_insecure", want["allow_insecure"])
	}
	if lvl, _ := want["log_level"].(string); lvl != "" && lvl != cur.LogLevel || lvl == "" && cur.LogLevel != "warn" {
		note("log_level", cmpOr(lvl, "warn"))
	}
	if q, _ := want["queue_size"].(int); q != 0 && q != cur.QueueSize || q == 0 && cur.QueueSize != 10000 {
		note("queue_size", cmpOr(q, 10000))
	}
	for k, v := range cur.settings() {
		w, _ := want[k].(string)
		// An unset transport or format is the server's default.
		if w != v && !(w == "" && (k == "transport" && v == "tcp" || k == "format" && v == "ndjson")) {
			note(k, w)
		}
	}
	secretGiven := false
	for _, field := range []string{"token", "password", "bearer_token"} {
		if v, ok := want[field]; ok {
			secretGiven = true
			if updateSecrets || !cur.HasSecret {
				changed, patch[field] = append(changed, field+" (secret)"), v
			}
		}
	}
	if !secretGiven && cur.HasSecret {
		for _, field := range []string{"token", "password", "bearer_token"} {
			patch[field] = ""
		}
		changed = append(changed, "secrets (removed)")
	}
	sort.Strings(changed)
	return patch, changed
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// exportEventSinks declares the server's sinks, their secrets as
// references to environment variables (EVENT_SINK_<NAME>_TOKEN, ...).
func exportEventSinks(st *State) []Document {
	var docs []Document
	for _, name := range sortedKeys(st.EventSinks) {
		s := st.EventSinks[name]
		d := &EventSink{Name: s.Name, Type: s.Type, Streams: s.Streams, AllowInsecure: s.AllowInsecure,
			Address: s.Address, Transport: s.Transport, Facility: s.Facility, AppName: s.AppName, TLSCA: s.TLSCA,
			TLSServerName: s.TLSServerName, URL: s.URL, Index: s.Index, Source: s.Source, SourceType: s.SourceType,
			Format: s.Format, Username: s.Username}
		if s.LogLevel != "warn" {
			d.LogLevel = s.LogLevel
		}
		if s.QueueSize != 10000 {
			d.QueueSize = s.QueueSize
		}
		if !s.Enabled {
			d.Enabled = new(bool)
		}
		if s.HasSecret {
			ref := func(field string) *Value { return &Value{Env: envName("event_sink", s.Name, field)} }
			switch {
			case s.Type == "hec":
				d.Token = ref("token")
			case s.Username != "":
				d.Password = ref("password")
			default:
				d.BearerToken = ref("bearer_token")
			}
		}
		docs = append(docs, Document{Kind: KindEventSink, EventSink: d})
	}
	return docs
}
