package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

// ---- sessions

const sessionCols = `id, user_id, csrf_hash, method, address, created_at, last_seen_at, expires_at, coalesce(token_id, '')`

func scanSession(row interface{ Scan(...any) error }) (*roster.Session, error) {
	var ss roster.Session
	var created, seen, expires int64
	if err := row.Scan(&ss.ID, &ss.UserID, &ss.CSRFHash, &ss.Method, &ss.Address, &created, &seen, &expires, &ss.TokenID); err != nil {
		return nil, err
	}
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = fromMicros(created), fromMicros(seen), fromMicros(expires)
	return &ss, nil
}

// CreateSession implements roster.SessionStore.
func (s *SQLite) CreateSession(ctx context.Context, ss *roster.Session, hash string) error {
	ss.ID = newID()
	_, err := s.wq.ExecContext(ctx, `INSERT INTO sessions (id, hash, csrf_hash, user_id, method, address, created_at, last_seen_at, expires_at, token_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		ss.ID, hash, ss.CSRFHash, ss.UserID, ss.Method, ss.Address, micros(ss.CreatedAt), micros(ss.LastSeenAt), micros(ss.ExpiresAt), nullString(ss.TokenID))
	if isForeignKey(err) {
		if ss.TokenID != "" {
			return roster.Errorf(roster.ENOTFOUND, "user %q or token %q not found", ss.UserID, ss.TokenID)
		}
		return notFound("user", ss.UserID)
	}
	return s.explain(err)
}

// SessionByHash implements roster.SessionStore.
func (s *SQLite) SessionByHash(ctx context.Context, hash string) (*roster.Session, error) {
	ss, err := scanSession(s.rq.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "session not found")
	}
	return ss, err
}

// TouchSession implements roster.SessionStore.
func (s *SQLite) TouchSession(ctx context.Context, id string, t time.Time) error {
	_, err := s.wq.ExecContext(ctx, `UPDATE sessions SET last_seen_at = max(last_seen_at, ?) WHERE id = ?`, micros(t), id)
	return s.explain(err)
}

// DeleteSession implements roster.SessionStore.
func (s *SQLite) DeleteSession(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("session", id)
	}
	return nil
}

// DeleteExpiredSessions implements roster.SessionStore.
func (s *SQLite) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at < ?`, micros(t))
	if err != nil {
		return 0, s.explain(err)
	}
	return res.RowsAffected()
}

// ---- sign-in failures

// SignInFailures implements roster.SignInLimiterStore.
func (s *SQLite) SignInFailures(ctx context.Context, window time.Time, keys ...string) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		var n int
		err := s.rq.QueryRowContext(ctx, `SELECT count FROM sign_in_failures WHERE key = ? AND window_start = ?`, k, micros(window)).Scan(&n)
		if err != nil && !errors.Is(err, sql.ErrNoRows) {
			return nil, err
		}
		out[k] = n
	}
	return out, nil
}

// AddSignInFailure implements roster.SignInLimiterStore.
func (s *SQLite) AddSignInFailure(ctx context.Context, window time.Time, keys ...string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, k := range keys {
			if _, err := tx.ExecContext(ctx, `INSERT INTO sign_in_failures (key, window_start, count) VALUES (?, ?, 1)
				ON CONFLICT (key, window_start) DO UPDATE SET count = count + 1`, k, micros(window)); err != nil {
				return err
			}
		}
		return nil
	})
}

// PurgeSignInFailures implements roster.SignInLimiterStore.
func (s *SQLite) PurgeSignInFailures(ctx context.Context, t time.Time) error {
	_, err := s.wq.ExecContext(ctx, `DELETE FROM sign_in_failures WHERE window_start < ?`, micros(t))
	return s.explain(err)
}
