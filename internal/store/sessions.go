package store

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// ---- sessions

const sessionCols = `id, user_id, csrf_hash, method, address, created_at, last_seen_at, expires_at, coalesce(token_id, '')`

func scanSession(r row) (*roster.Session, error) {
	var ss roster.Session
	if err := r.Scan(&ss.ID, &ss.UserID, &ss.CSRFHash, &ss.Method, &ss.Address, &ss.CreatedAt, &ss.LastSeenAt, &ss.ExpiresAt, &ss.TokenID); err != nil {
		return nil, err
	}
	return &ss, nil
}

// CreateSession implements roster.SessionStore.
func (s *db) CreateSession(ctx context.Context, ss *roster.Session, hash string) error {
	ss.ID = newID()
	ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt = storedTime(ss.CreatedAt), storedTime(ss.LastSeenAt), storedTime(ss.ExpiresAt)
	_, err := s.w.exec(ctx, `INSERT INTO sessions (id, hash, csrf_hash, user_id, method, address, created_at, last_seen_at, expires_at, token_id) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
		ss.ID, hash, ss.CSRFHash, ss.UserID, ss.Method, ss.Address, ss.CreatedAt, ss.LastSeenAt, ss.ExpiresAt, nullString(ss.TokenID))
	if isForeignKey(err) {
		if ss.TokenID != "" {
			return roster.Errorf(roster.ENOTFOUND, "user %q or token %q not found", ss.UserID, ss.TokenID)
		}
		return notFound("user", ss.UserID)
	}
	return err
}

// SessionByHash implements roster.SessionStore.
func (s *db) SessionByHash(ctx context.Context, hash string) (*roster.Session, error) {
	ss, err := scanSession(s.r.queryRow(ctx, `SELECT `+sessionCols+` FROM sessions WHERE hash = $1`, hash))
	if isNoRows(err) {
		return nil, roster.Errorf(roster.ENOTFOUND, "session not found")
	}
	return ss, err
}

// TouchSession implements roster.SessionStore.
func (s *db) TouchSession(ctx context.Context, id string, t time.Time) error {
	_, err := s.w.exec(ctx, `UPDATE sessions SET last_seen_at = `+s.greatest+`(last_seen_at, $1) WHERE id = $2`, t, id)
	return err
}

// DeleteSession implements roster.SessionStore.
func (s *db) DeleteSession(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "sessions", "session", id)
}

// DeleteExpiredSessions implements roster.SessionStore.
func (s *db) DeleteExpiredSessions(ctx context.Context, t time.Time) (int64, error) {
	return s.w.exec(ctx, `DELETE FROM sessions WHERE expires_at < $1`, t)
}

// ---- sign-in failures

// SignInFailures implements roster.SignInLimiterStore.
func (s *db) SignInFailures(ctx context.Context, window time.Time, keys ...string) (map[string]int, error) {
	out := make(map[string]int, len(keys))
	for _, k := range keys {
		out[k] = 0
	}
	rs, err := s.r.query(ctx, `SELECT key, count FROM sign_in_failures WHERE key `+s.anyOf("$1")+` AND window_start = $2`, keys, window)
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	for rs.Next() {
		var k string
		var n int
		if err := rs.Scan(&k, &n); err != nil {
			return nil, err
		}
		out[k] = n
	}
	return out, rs.Err()
}

// AddSignInFailure implements roster.SignInLimiterStore.
func (s *db) AddSignInFailure(ctx context.Context, window time.Time, keys ...string) error {
	// WHERE true: SQLite's parser needs it between a SELECT and ON CONFLICT.
	_, err := s.w.exec(ctx, `INSERT INTO sign_in_failures (key, window_start, count) SELECT value, $2, 1 FROM `+s.elements("$1", "text")+` WHERE true
		ON CONFLICT (key, window_start) DO UPDATE SET count = sign_in_failures.count + 1`, keys, window)
	return err
}

// PurgeSignInFailures implements roster.SignInLimiterStore.
func (s *db) PurgeSignInFailures(ctx context.Context, t time.Time) error {
	_, err := s.w.exec(ctx, `DELETE FROM sign_in_failures WHERE window_start < $1`, t)
	return err
}
