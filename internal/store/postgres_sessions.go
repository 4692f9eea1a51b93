package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// ---- sessions

const pgSessionCols = `id, user_id, csrf_hash, method, address, created_at, last_seen_at, expires_at, coalesce(token_id, '')`

func pgScanSession(row pgx.Row) (*roster.Session, error) {
	var ss roster.Session
	if err := row.Scan(&ss.ID, &ss.UserID, &ss.CSRFHash, &ss.Method, &ss.Address, &ss.CreatedAt, &ss.LastSeenAt, &ss.ExpiresAt, &ss.TokenID); err != nil {
		return nil, err
	}
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = utc(ss.CreatedAt), utc(ss.LastSeenAt), utc(ss.ExpiresAt)
	return &ss, nil
}

// CreateSession implements roster.SessionStore.
func (s *Postgres) CreateSession(ctx context.Context, ss *roster.Session, hash string) error {
	ss.ID = newID()
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = pgTime(ss.CreatedAt), pgTime(ss.LastSeenAt), pgTime(ss.ExpiresAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO sessions (id, hash, csrf_hash, user_id, method, address, created_at, last_seen_at, expires_at, token_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		ss.ID, hash, ss.CSRFHash, ss.UserID, ss.Method, ss.Address, ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt, nullString(ss.TokenID))
	if pgIsForeignKey(err) {
		if ss.TokenID != "" {
			return roster.Errorf(roster.ENOTFOUND, "user %q or token %q not found", ss.UserID, ss.TokenID)
		}
		return notFound("user", ss.UserID)
	}
	return err
}

// SessionByHash implements roster.SessionStore.
func (s *Postgres) SessionByHash(ctx context.Context, hash string) (*roster.Session, error) {
	ss, err := pgScanSession(s.pool.QueryRow(ctx, `SELECT `+pgSessionCols+` FROM sessions WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "session not found")
	}
	return ss, err
}

// TouchSession implements roster.SessionStore.
func (s *Postgres) TouchSession(ctx context.Context, id string, t time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = greatest(last_seen_at, $1) WHERE id = $2`, pgTime(t), id)
	return err
}

// DeleteSession implements roster.SessionStore.
func (s *Postgres) DeleteSession(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "sessions", "session", id)
}

// DeleteExpiredSessions implements roster.SessionStore.
func (s *Postgres) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, pgTime(t))
	if err != nil {
		return 0, err
	}
	return tag.RowsAffected(), nil
}

// ---- sign-in failures

// SignInFailures implements roster.SignInLimiterStore.
func (s *Postgres) SignInFailures(ctx context.Context, window time.Time, keys ...string) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		out[k] = 0
	}
	rows, err := s.pool.Query(ctx, `SELECT key, count FROM sign_in_failures WHERE key = ANY($1) AND window_start = $2`, keys, pgTime(window))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var k string
		var n int
		if err := rows.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rows.Err()
}

// AddSignInFailure implements roster.SignInLimiterStore.
func (s *Postgres) AddSignInFailure(ctx context.Context, window time.Time, keys ...string) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO sign_in_failures (key, window_start, count) SELECT k, $2, 1 FROM unnest($1::text[]) AS k
		ON CONFLICT (key, window_start) DO UPDATE SET count = sign_in_failures.count + 1`, keys, pgTime(window))
	return err
}

// PurgeSignInFailures implements roster.SignInLimiterStore.
func (s *Postgres) PurgeSignInFailures(ctx context.Context, t time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sign_in_failures WHERE window_start < $1`, pgTime(t))
	return err
}
