package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

// ---- sign-ins under way

const flowCols = `id, kind, provider, coalesce(user_code, ''), data, status, coalesce(user_id, ''), created_at, expires_at`

func scanFlow(row interface{ Scan(...any) error }) (*roster.SignInFlow, error) {
	var f roster.SignInFlow
	var data string
	var created, expires int64
	if err := row.Scan(&f.ID, &f.Kind, &f.Provider, &f.UserCode, &data, &f.Status, &f.UserID, &created, &expires); err != nil {
		return nil, err
	}
	f.Data = roster.Secret(data)
	f.CreatedAt, f.ExpiresAt = fromMicros(created), fromMicros(expires)
	return &f, nil
}

// CreateSignInFlow implements roster.SignInFlowStore.
func (s *SQLite) CreateSignInFlow(ctx context.Context, f *roster.SignInFlow) error {
	_, err := s.wq.ExecContext(ctx, `INSERT INTO sign_in_flows (id, kind, provider, user_code, data, status, user_id, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		f.ID, string(f.Kind), f.Provider, nullString(f.UserCode), f.Data.Reveal(), string(f.Status), nullString(f.UserID), micros(f.CreatedAt), micros(f.ExpiresAt))
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a sign-in with this code is under way already")
	}
	return s.explain(err)
}

// SignInFlow implements roster.SignInFlowStore.
func (s *SQLite) SignInFlow(ctx context.Context, id string, now time.Time) (*roster.SignInFlow, error) {
	f, err := scanFlow(s.rq.QueryRowContext(ctx, `SELECT `+flowCols+` FROM sign_in_flows WHERE id = ? AND expires_at > ?`, id, micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errFlowNotFound
	}
	return f, err
}

// SignInFlowByUserCode implements roster.SignInFlowStore.
func (s *SQLite) SignInFlowByUserCode(ctx context.Context, code string, now time.Time) (*roster.SignInFlow, error) {
	f, err := scanFlow(s.rq.QueryRowContext(ctx, `SELECT `+flowCols+` FROM sign_in_flows WHERE user_code = ? AND expires_at > ? AND status = 'pending'`, code, micros(now)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, errFlowNotFound
	}
	return f, err
}

// DecideSignInFlow implements roster.SignInFlowStore.
func (s *SQLite) DecideSignInFlow(ctx context.Context, id string, status roster.SignInFlowStatus, userID string) error {
	res, err := s.wq.ExecContext(ctx, `UPDATE sign_in_flows SET status = ?, user_id = ? WHERE id = ? AND status = 'pending'`, string(status), nullString(userID), id)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errFlowDecided
	}
	return nil
}

// DeleteSignInFlow implements roster.SignInFlowStore.
func (s *SQLite) DeleteSignInFlow(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM sign_in_flows WHERE id = ?`, id)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return errFlowNotFound
	}
	return nil
}

// DeleteExpiredSignInFlows implements roster.SignInFlowStore.
func (s *SQLite) DeleteExpiredSignInFlows(ctx context.Context, t time.Time) (int64, error) {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM sign_in_flows WHERE expires_at < ?`, micros(t))
	if err != nil {
		return 0, s.explain(err)
	}
	return res.RowsAffected()
}
