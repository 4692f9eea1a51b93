package api

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// ListEventSinks implements StrictServerInterface.
func (s *Server) ListEventSinks(ctx context.Context, _ ListEventSinksRequestObject) (ListEventSinksResponseObject, error) {
	if err := s.needSinks(); err != nil {
		return nil, err
	}
	all, err := s.sinks.Sinks(ctx)
	if err != nil {
		return nil, err
	}
	out := ListEventSinks200JSONResponse{Items: make([]EventSink, len(all))}
	for i, e := range all {
		out.Items[i] = eventSinkOut(e)
	}
	return out, nil
}

// CreateEventSink implements StrictServerInterface.
func (s *Server) CreateEventSink(ctx context.Context, req CreateEventSinkRequestObject) (CreateEventSinkResponseObject, error) {
	if err := s.needSinks(); err != nil {
		return nil, err
	}
	b := req.Body
	e := &roster.EventSink{Name: b.Name, Type: roster.EventSinkType(b.Type), Streams: streamsIn(b.Streams),
		Enabled: b.Enabled == nil || *b.Enabled, AllowInsecure: b.AllowInsecure != nil && *b.AllowInsecure, QueueSize: derefInt(b.QueueSize)}
	if b.LogLevel != nil {
		e.LogLevel = string(*b.LogLevel)
	}
	settings(&e.Config, sinkSettings{b.Address, b.Transport, b.Facility, b.AppName, b.TlsCa, b.TlsServerName, b.Url, b.Index,
		b.Source, b.Sourcetype, b.Format, b.Username})
	created, err := s.sinks.Create(ctx, e, sinkSecrets(b.Token, b.Password, b.BearerToken))
	if err != nil {
		return nil, err
	}
	s.auditChange(ctx, "event_sink.create", "event_sink", created.ID, created.Name, "", map[string]string{
		"type": string(created.Type), "target": created.Target()})
	return CreateEventSink201JSONResponse(eventSinkOut(created)), nil
}

// GetEventSink implements StrictServerInterface.
func (s *Server) GetEventSink(ctx context.Context, req GetEventSinkRequestObject) (GetEventSinkResponseObject, error) {
	e, err := s.eventSink(ctx, req.Sink)
	if err != nil {
		return nil, err
	}
	return GetEventSink200JSONResponse(eventSinkOut(e)), nil
}

// UpdateEventSink implements StrictServerInterface.
func (s *Server) UpdateEventSink(ctx context.Context, req UpdateEventSinkRequestObject) (UpdateEventSinkResponseObject, error) {
	e, err := s.eventSink(ctx, req.Sink)
	if err != nil {
		return nil, err
	}
	b := req.Body
	u := roster.EventSinkUpdate{Name: b.Name, Enabled: b.Enabled, AllowInsecure: b.AllowInsecure, QueueSize: b.QueueSize}
	if b.Streams != nil {
		u.Streams = streamsIn(*b.Streams)
	}
	if b.LogLevel != nil {
		u.LogLevel = ptr(string(*b.LogLevel))
	}
	cfg := e.Config
	settings(&cfg, sinkSettings{b.Address, b.Transport, b.Facility, b.AppName, b.TlsCa, b.TlsServerName, b.Url, b.Index,
		b.Source, b.Sourcetype, b.Format, b.Username})
	u.Config = &cfg
	secrets := sinkSecrets(b.Token, b.Password, b.BearerToken)
	updated, err := s.sinks.Update(ctx, e.ID, u, secrets)
	if err != nil {
		return nil, err
	}
	s.auditChange(ctx, "event_sink.update", "event_sink", updated.ID, updated.Name, "", map[string]string{
		"target": updated.Target(), "secrets_changed": boolString(len(secrets) > 0)})
	return UpdateEventSink200JSONResponse(eventSinkOut(updated)), nil
}

// DeleteEventSink implements StrictServerInterface.
func (s *Server) DeleteEventSink(ctx context.Context, req DeleteEventSinkRequestObject) (DeleteEventSinkResponseObject, error) {
	e, err := s.eventSink(ctx, req.Sink)
	if err != nil {
		return nil, err
	}
	if err := s.sinks.Delete(ctx, e.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "event_sink.delete", "event_sink", e.ID, e.Name, "", nil)
	return DeleteEventSink204Response{}, nil
}

// TestEventSink implements StrictServerInterface.
func (s *Server) TestEventSink(ctx context.Context, req TestEventSinkRequestObject) (TestEventSinkResponseObject, error) {
	e, err := s.eventSink(ctx, req.Sink)
	if err != nil {
		return nil, err
	}
	res, err := s.sinks.Test(ctx, e)
	if err != nil {
		return nil, err
	}
	outcome := "delivered"
	if !res.Delivered {
		outcome = "failed"
	}
	s.auditChange(ctx, "event_sink.test", "event_sink", e.ID, e.Name, "", map[string]string{"outcome": outcome})
	return TestEventSink200JSONResponse{Delivered: res.Delivered, Error: optional(res.Error), DurationMs: res.Duration.Milliseconds()}, nil
}

// GetEventSinkStatus implements StrictServerInterface.
func (s *Server) GetEventSinkStatus(ctx context.Context, req GetEventSinkStatusRequestObject) (GetEventSinkStatusResponseObject, error) {
	e, err := s.eventSink(ctx, req.Sink)
	if err != nil {
		return nil, err
	}
	st, _ := s.sinks.Status(e)
	out := GetEventSinkStatus200JSONResponse{Node: s.sinks.Forwarder().Node(), Running: st.Running, QueueLength: st.QueueLength,
		QueueSize: st.QueueSize, Sent: int64(st.Sent), Dropped: map[string]int64{}, Failing: st.Failing, LastError: optional(st.LastError),
		LastFailure: optionalTime(st.LastFailure), LastSuccess: optionalTime(st.LastSuccess)}
	for k, v := range st.Dropped {
		out.Dropped[k] = int64(v)
	}
	return out, nil
}

func (s *Server) needSinks() error {
	if s.sinks == nil {
		return roster.Errorf(roster.EUNAVAILABLE, "this process does not forward events")
	}
	return nil
}

func (s *Server) eventSink(ctx context.Context, ref string) (*roster.EventSink, error) {
	if err := s.needSinks(); err != nil {
		return nil, err
	}
	return s.sinks.Sink(ctx, ref)
}

func optionalTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func streamsIn(in []EventStream) []roster.EventStream {
	out := make([]roster.EventStream, len(in))
	for i, st := range in {
		out[i] = roster.EventStream(st)
	}
	return out
}

// sinkSettings are a request's settings of a sink, each optional.
type sinkSettings struct {
	address   *string
	transport *SyslogTransport
	facility, appName, tlsCA, tlsServerName,
	url, index, source, sourceType *string
	format   *EventSinkFormat
	username *string
}

// settings sets in c the settings given.
func settings(c *roster.EventSinkConfig, in sinkSettings) {
	for dst, v := range map[*string]*string{&c.Address: in.address, &c.Facility: in.facility, &c.AppName: in.appName,
		&c.TLSCA: in.tlsCA, &c.TLSServerName: in.tlsServerName, &c.URL: in.url, &c.Index: in.index, &c.Source: in.source,
		&c.SourceType: in.sourceType, &c.Username: in.username} {
		if v != nil {
			*dst = *v
		}
	}
	if in.transport != nil {
		c.Transport = string(*in.transport)
	}
	if in.format != nil {
		c.Format = string(*in.format)
	}
}

// sinkSecrets are the secret fields given (an empty one: remove it).
func sinkSecrets(token, password, bearer *string) roster.SecretFields {
	out := roster.SecretFields{}
	for name, v := range map[string]*string{roster.SinkSecretToken: token, roster.SinkSecretPassword: password,
		roster.SinkSecretBearerToken: bearer} {
		if v != nil {
			out[name] = roster.Secret(*v)
		}
	}
	return out
}

func eventSinkOut(e *roster.EventSink) EventSink {
	c := e.Config
	out := EventSink{Id: e.ID, Name: e.Name, Type: EventSinkType(e.Type), Streams: make([]EventStream, len(e.Streams)),
		LogLevel: EventSinkLogLevel(e.LogLevel), Enabled: e.Enabled, AllowInsecure: e.AllowInsecure, QueueSize: e.QueueSize,
		Target: e.Target(), HasSecret: e.HasSecret, CreatedAt: e.CreatedAt, UpdatedAt: e.UpdatedAt,
		Address: optional(c.Address), Facility: optional(c.Facility), AppName: optional(c.AppName), TlsCa: optional(c.TLSCA),
		TlsServerName: optional(c.TLSServerName), Url: optional(c.URL), Index: optional(c.Index), Source: optional(c.Source),
		Sourcetype: optional(c.SourceType), Username: optional(c.Username)}
	for i, st := range e.Streams {
		out.Streams[i] = EventStream(st)
	}
	if c.Transport != "" {
		out.Transport = ptr(SyslogTransport(c.Transport))
	}
	if c.Format != "" {
		out.Format = ptr(EventSinkFormat(c.Format))
	}
	return out
}
