package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rosterhq/roster"
)

var _ roster.EventSinkStore = (*Postgres)(nil)

func pgScanEventSink(row pgx.Row) (*roster.EventSink, error) {
	var r sinkRow
	var created, updated time.Time
	if err := row.Scan(r.dest(&created, &updated)...); err != nil {
		return nil, err
	}
	return r.sink(created, updated)
}

func pgScanEventSinkRows(rows pgx.Rows) (*roster.EventSink, error) { return pgScanEventSink(rows) }

func (s *Postgres) writeEventSink(ctx context.Context, q interface {
	Exec(context.Context, string, ...any) (pgconn.CommandTag, error)
}, stmt string, e *roster.EventSink, where ...any) error {
	_, err := q.Exec(ctx, stmt, append([]any{e.ID, e.Name, string(e.Type), sinkStreams(e), e.LogLevel, sinkConfig(e),
		e.Enabled, e.AllowInsecure, e.QueueSize, e.SecretPath, e.SecretVersion, e.HasSecret, e.CreatedAt, e.UpdatedAt}, where...)...)
	if pgIsUnique(err) {
		return eventSinkConflict(e.Name)
	}
	return err
}

// CreateEventSink implements roster.EventSinkStore; an empty ID is
// generated.
func (s *Postgres) CreateEventSink(ctx context.Context, e *roster.EventSink) error {
	if e.ID == "" {
		e.ID = newID()
	}
	e.CreatedAt = pgTime(s.now())
	e.UpdatedAt = e.CreatedAt
	return s.writeEventSink(ctx, s.pool, `INSERT INTO event_sinks (`+eventSinkCols+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`, e)
}

// EventSink implements roster.EventSinkStore.
func (s *Postgres) EventSink(ctx context.Context, id string) (*roster.EventSink, error) {
	return s.oneEventSink(ctx, s.pool, `id = $1`, id)
}

// EventSinkByName implements roster.EventSinkStore.
func (s *Postgres) EventSinkByName(ctx context.Context, name string) (*roster.EventSink, error) {
	return s.oneEventSink(ctx, s.pool, `name = $1`, name)
}

func (s *Postgres) oneEventSink(ctx context.Context, q interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, where, arg string) (*roster.EventSink, error) {
	e, err := pgScanEventSink(q.QueryRow(ctx, `SELECT `+eventSinkCols+` FROM event_sinks WHERE `+where, arg))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("event sink", arg)
	}
	return e, err
}

// EventSinks implements roster.EventSinkStore: every sink, by name.
func (s *Postgres) EventSinks(ctx context.Context) ([]*roster.EventSink, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+eventSinkCols+` FROM event_sinks ORDER BY name`)
	return collect(rows, err, pgScanEventSinkRows)
}

// UpdateEventSink implements roster.EventSinkStore.
func (s *Postgres) UpdateEventSink(ctx context.Context, id string, u roster.EventSinkUpdate) (*roster.EventSink, error) {
	var out *roster.EventSink
	err := s.tx(ctx, func(tx pgx.Tx) error {
		cur, err := s.oneEventSink(ctx, tx, `id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		next := u.Apply(*cur)
		next.UpdatedAt = pgTime(s.now())
		out = &next
		return s.writeEventSink(ctx, tx, `UPDATE event_sinks SET id = $1, name = $2, type = $3, streams = $4, log_level = $5,
			config = $6, enabled = $7, allow_insecure = $8, queue_size = $9, secret_path = $10, secret_version = $11,
			has_secret = $12, created_at = $13, updated_at = $14 WHERE id = $15`, out, id)
	})
	return out, err
}

// DeleteEventSink implements roster.EventSinkStore.
func (s *Postgres) DeleteEventSink(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM event_sinks WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("event sink", id)
	}
	return nil
}
