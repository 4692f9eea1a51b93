package store

import (
	"encoding/json"
	"time"

	"github.com/rosterhq/roster"
)

// Event sinks: what both engines share.

const eventSinkCols = `id, name, type, streams, log_level, config, enabled, allow_insecure, queue_size,
	secret_path, secret_version, has_secret, created_at, updated_at`

func eventSinkConflict(name string) error {
	return roster.Errorf(roster.ECONFLICT, "an event sink named %q already exists", name)
}

// sinkRow is a row's columns in the engines' shared Go types.
type sinkRow struct {
	s       roster.EventSink
	streams []string
	config  string
}

func (r *sinkRow) dest(created, updated any) []any {
	s := &r.s
	return []any{&s.ID, &s.Name, &s.Type, &r.streams, &s.LogLevel, &r.config, &s.Enabled, &s.AllowInsecure, &s.QueueSize,
		&s.SecretPath, &s.SecretVersion, &s.HasSecret, created, updated}
}

func (r *sinkRow) sink(created, updated time.Time) (*roster.EventSink, error) {
	s := r.s
	for _, st := range r.streams {
		s.Streams = append(s.Streams, roster.EventStream(st))
	}
	if err := json.Unmarshal([]byte(r.config), &s.Config); err != nil {
		return nil, err
	}
	s.CreatedAt, s.UpdatedAt = created.UTC(), updated.UTC()
	return &s, nil
}

func sinkStreams(s *roster.EventSink) []string {
	out := make([]string, 0, len(s.Streams))
	for _, st := range s.Streams {
		out = append(out, string(st))
	}
	return out
}

func sinkConfig(s *roster.EventSink) string { return mustJSON(s.Config) }
