package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// ---- sign-ins under way

var (
	errFlowNotFound = roster.Errorf(roster.ENOTFOUND, "no such sign-in under way (it ended, was used or expired): start again")
	errFlowDecided  = roster.Errorf(roster.ECONFLICT, "this sign-in was approved or denied already")
)

func pgScanFlow(row pgx.Row) (*roster.SignInFlow, error) {
	var f roster.SignInFlow
	var data string
	if err := row.Scan(&f.ID, &f.Kind, &f.Provider, &f.UserCode, &data, &f.Status, &f.UserID, &f.CreatedAt, &f.ExpiresAt); err != nil {
		return nil, err
	}
	f.Data = roster.Secret(data)
	f.CreatedAt, f.ExpiresAt = utc(f.CreatedAt), utc(f.ExpiresAt)
	return &f, nil
}

// CreateSignInFlow implements roster.SignInFlowStore.
func (s *Postgres) CreateSignInFlow(ctx context.Context, f *roster.SignInFlow) error {
	f.CreatedAt, f.ExpiresAt = pgTime(f.CreatedAt), pgTime(f.ExpiresAt)
	_, err := s.pool.Exec(ctx, `INSERT INTO sign_in_flows (id, kind, provider, user_code, data, status, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		f.ID, string(f.Kind), f.Provider, nullString(f.UserCode), f.Data.Reveal(), string(f.Status), nullString(f.UserID), f.CreatedAt, f.ExpiresAt)
	if pgIsUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a sign-in with this code is under way already")
	}
	return err
}

// SignInFlow implements roster.SignInFlowStore.
func (s *Postgres) SignInFlow(ctx context.Context, id string, now time.Time) (*roster.SignInFlow, error) {
	f, err := pgScanFlow(s.pool.QueryRow(ctx, `SELECT `+flowCols+` FROM sign_in_flows WHERE id = $1 AND expires_at > $2`, id, pgTime(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errFlowNotFound
	}
	return f, err
}

// SignInFlowByUserCode implements roster.SignInFlowStore.
func (s *Postgres) SignInFlowByUserCode(ctx context.Context, code string, now time.Time) (*roster.SignInFlow, error) {
	f, err := pgScanFlow(s.pool.QueryRow(ctx, `SELECT `+flowCols+` FROM sign_in_flows WHERE user_code = $1 AND expires_at > $2 AND status = 'pending'`, code, pgTime(now)))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, errFlowNotFound
	}
	return f, err
}

// DecideSignInFlow implements roster.SignInFlowStore.
func (s *Postgres) DecideSignInFlow(ctx context.Context, id string, status roster.SignInFlowStatus, userID string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sign_in_flows SET status = $1, user_id = $2 WHERE id = $3 AND status = 'pending'`, string(status), nullString(userID), id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errFlowDecided
	}
	return nil
}

// DeleteSignInFlow implements roster.SignInFlowStore.
func (s *Postgres) DeleteSignInFlow(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sign_in_flows WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return errFlowNotFound
	}
	return nil
}

// DeleteExpiredSignInFlows implements roster.SignInFlowStore.
func (s *Postgres) DeleteExpiredSignInFlows(ctx context.Context, t time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM sign_in_flows WHERE expires_at < $1`, pgTime(t))
	return tag.RowsAffected(), err
}
