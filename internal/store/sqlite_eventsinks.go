package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

var _ roster.EventSinkStore = (*SQLite)(nil)

func scanEventSink(row interface{ Scan(...any) error }) (*roster.EventSink, error) {
	var r sinkRow
	var streams string
	var created, updated int64
	dest := r.dest(&created, &updated)
	dest[3] = &streams
	if err := row.Scan(dest...); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(streams, &r.streams); err != nil {
		return nil, err
	}
	return r.sink(fromMicros(created), fromMicros(updated))
}

func (s *SQLite) writeEventSink(ctx context.Context, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, stmt string, e *roster.EventSink, where ...any) error {
	_, err := q.ExecContext(ctx, stmt, append([]any{e.ID, e.Name, string(e.Type), mustJSON(sinkStreams(e)), e.LogLevel, sinkConfig(e),
		e.Enabled, e.AllowInsecure, e.QueueSize, e.SecretPath, e.SecretVersion, e.HasSecret, micros(e.CreatedAt), micros(e.UpdatedAt)},
		where...)...)
	if isUnique(err) {
		return eventSinkConflict(e.Name)
	}
	return err
}

// CreateEventSink implements roster.EventSinkStore; an empty ID is
// generated.
func (s *SQLite) CreateEventSink(ctx context.Context, e *roster.EventSink) error {
	if e.ID == "" {
		e.ID = newID()
	}
	e.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	e.UpdatedAt = e.CreatedAt
	return s.writeEventSink(ctx, s.wq, `INSERT INTO event_sinks (`+eventSinkCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, e)
}

// EventSink implements roster.EventSinkStore.
func (s *SQLite) EventSink(ctx context.Context, id string) (*roster.EventSink, error) {
	return s.oneEventSink(ctx, s.rq, `id = ?`, id)
}

// EventSinkByName implements roster.EventSinkStore.
func (s *SQLite) EventSinkByName(ctx context.Context, name string) (*roster.EventSink, error) {
	return s.oneEventSink(ctx, s.rq, `name = ?`, name)
}

func (s *SQLite) oneEventSink(ctx context.Context, q interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}, where, arg string) (*roster.EventSink, error) {
	e, err := scanEventSink(q.QueryRowContext(ctx, `SELECT `+eventSinkCols+` FROM event_sinks WHERE `+where, arg))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("event sink", arg)
	}
	return e, err
}

// EventSinks implements roster.EventSinkStore: every sink, by name.
func (s *SQLite) EventSinks(ctx context.Context) ([]*roster.EventSink, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+eventSinkCols+` FROM event_sinks ORDER BY name`)
	return collectRows(rows, err, scanEventSink)
}

// UpdateEventSink implements roster.EventSinkStore.
func (s *SQLite) UpdateEventSink(ctx context.Context, id string, u roster.EventSinkUpdate) (*roster.EventSink, error) {
	var out *roster.EventSink
	err := s.tx(ctx, func(tx *sql.Tx) error {
		cur, err := s.oneEventSink(ctx, tx, `id = ?`, id)
		if err != nil {
			return err
		}
		next := u.Apply(*cur)
		next.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		out = &next
		return s.writeEventSink(ctx, tx, `UPDATE event_sinks SET id = ?, name = ?, type = ?, streams = ?, log_level = ?, config = ?,
			enabled = ?, allow_insecure = ?, queue_size = ?, secret_path = ?, secret_version = ?, has_secret = ?, created_at = ?,
			updated_at = ? WHERE id = ?`, out, id)
	})
	return out, err
}

// DeleteEventSink implements roster.EventSinkStore.
func (s *SQLite) DeleteEventSink(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM event_sinks WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("event sink", id)
	}
	return nil
}
