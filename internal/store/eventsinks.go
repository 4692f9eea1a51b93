package store

import (
	"context"
	"encoding/json"

	"github.com/rosterhq/roster"
)

var (
	_ roster.EventSinkStore = (*SQLite)(nil)
	_ roster.EventSinkStore = (*Postgres)(nil)
)

const eventSinkCols = `id, name, type, streams, log_level, config, enabled, allow_insecure, queue_size,
	secret_path, secret_version, has_secret, created_at, updated_at`

func eventSinkConflict(name string) error {
	return roster.Errorf(roster.ECONFLICT, "an event sink named %q already exists", name)
}

// scanEventSink reads a sink; its streams are a text[] (PostgreSQL) or a
// JSON array (SQLite), both scanned as a []string by the conn.
func scanEventSink(r row) (*roster.EventSink, error) {
	var s roster.EventSink
	var streams []string
	var config string
	if err := r.Scan(&s.ID, &s.Name, &s.Type, &streams, &s.LogLevel, &config, &s.Enabled, &s.AllowInsecure, &s.QueueSize,
		&s.SecretPath, &s.SecretVersion, &s.HasSecret, &s.CreatedAt, &s.UpdatedAt); err != nil {
		return nil, err
	}
	for _, st := range streams {
		s.Streams = append(s.Streams, roster.EventStream(st))
	}
	if err := json.Unmarshal([]byte(config), &s.Config); err != nil {
		return nil, err
	}
	return &s, nil
}

func sinkStreams(s *roster.EventSink) []string {
	out := make([]string, 0, len(s.Streams))
	for _, st := range s.Streams {
		out = append(out, string(st))
	}
	return out
}

// writeEventSink runs stmt, an insert or update of every column in
// eventSinkCols' order ($1 … $14), then the where arguments.
func writeEventSink(ctx context.Context, c conn, stmt string, e *roster.EventSink, where ...any) error {
	_, err := c.exec(ctx, stmt, append([]any{e.ID, e.Name, string(e.Type), sinkStreams(e), e.LogLevel, mustJSON(e.Config),
		e.Enabled, e.AllowInsecure, e.QueueSize, e.SecretPath, e.SecretVersion, e.HasSecret, e.CreatedAt, e.UpdatedAt}, where...)...)
	if isUnique(err) {
		return eventSinkConflict(e.Name)
	}
	return err
}

// CreateEventSink implements roster.EventSinkStore; an empty ID is
// generated.
func (s *db) CreateEventSink(ctx context.Context, e *roster.EventSink) error {
	if e.ID == "" {
		e.ID = newID()
	}
	e.CreatedAt = storedTime(s.now())
	e.UpdatedAt = e.CreatedAt
	return writeEventSink(ctx, s.w, `INSERT INTO event_sinks (`+eventSinkCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, e)
}

// EventSink implements roster.EventSinkStore.
func (s *db) EventSink(ctx context.Context, id string) (*roster.EventSink, error) {
	return oneEventSink(ctx, s.r, `id = $1`, id)
}

// EventSinkByName implements roster.EventSinkStore.
func (s *db) EventSinkByName(ctx context.Context, name string) (*roster.EventSink, error) {
	return oneEventSink(ctx, s.r, `name = $1`, name)
}

func oneEventSink(ctx context.Context, c conn, where, arg string) (*roster.EventSink, error) {
	e, err := scanEventSink(c.queryRow(ctx, `SELECT `+eventSinkCols+` FROM event_sinks WHERE `+where, arg))
	if isNoRows(err) {
		return nil, notFound("event sink", arg)
	}
	return e, err
}

// EventSinks implements roster.EventSinkStore: every sink, by name.
func (s *db) EventSinks(ctx context.Context) ([]*roster.EventSink, error) {
	rs, err := s.r.query(ctx, `SELECT `+eventSinkCols+` FROM event_sinks ORDER BY name`)
	return scanAll(rs, err, scanEventSink)
}

// UpdateEventSink implements roster.EventSinkStore.
func (s *db) UpdateEventSink(ctx context.Context, id string, u roster.EventSinkUpdate) (*roster.EventSink, error) {
	var out *roster.EventSink
	err := s.inTx(ctx, func(c conn) error {
		cur, err := oneEventSink(ctx, c, `id = $1`+s.lockRows("UPDATE"), id)
		if err != nil {
			return err
		}
		next := u.Apply(*cur)
		next.UpdatedAt = storedTime(s.now())
		out = &next
		return writeEventSink(ctx, c, `UPDATE event_sinks SET id = $1, name = $2, type = $3, streams = $4, log_level = $5,
			config = $6, enabled = $7, allow_insecure = $8, queue_size = $9, secret_path = $10, secret_version = $11,
			has_secret = $12, created_at = $13, updated_at = $14 WHERE id = $15`, out, id)
	})
	return out, err
}

// DeleteEventSink implements roster.EventSinkStore.
func (s *db) DeleteEventSink(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "event_sinks", "event sink", id)
}
