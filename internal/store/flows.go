package store

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// ---- sign-ins under way

var (
	errFlowNotFound = roster.Errorf(roster.ENOTFOUND, "no such sign-in under way (it ended, was used or expired): start again")
	errFlowDecided  = roster.Errorf(roster.ECONFLICT, "this sign-in was approved or denied already")
)

const flowCols = `id, kind, provider, coalesce(user_code, ''), data, status, coalesce(user_id, ''), created_at, expires_at`

func scanFlow(r row) (*roster.SignInFlow, error) {
	var f roster.SignInFlow
	var data string
	if err := r.Scan(&f.ID, &f.Kind, &f.Provider, &f.UserCode, &data, &f.Status, &f.UserID, &f.CreatedAt, &f.ExpiresAt); err != nil {
		return nil, err
	}
	f.Data = roster.Secret(data)
	return &f, nil
}

// CreateSignInFlow implements roster.SignInFlowStore.
func (s *db) CreateSignInFlow(ctx context.Context, f *roster.SignInFlow) error {
	f.CreatedAt, f.ExpiresAt = storedTime(f.CreatedAt), storedTime(f.ExpiresAt)
	_, err := s.w.exec(ctx, `INSERT INTO sign_in_flows (id, kind, provider, user_code, data, status, user_id, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		f.ID, string(f.Kind), f.Provider, nullString(f.UserCode), f.Data.Reveal(), string(f.Status), nullString(f.UserID), f.CreatedAt, f.ExpiresAt)
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a sign-in with this code is under way already")
	}
	return err
}

// SignInFlow implements roster.SignInFlowStore.
func (s *db) SignInFlow(ctx context.Context, id string, now time.Time) (*roster.SignInFlow, error) {
	return s.flow(ctx, `id = $1 AND expires_at > $2`, id, now)
}

// SignInFlowByUserCode implements roster.SignInFlowStore.
func (s *db) SignInFlowByUserCode(ctx context.Context, code string, now time.Time) (*roster.SignInFlow, error) {
	return s.flow(ctx, `user_code = $1 AND expires_at > $2 AND status = 'pending'`, code, now)
}

// flow reads the flow where the condition (of key and now) holds.
func (s *db) flow(ctx context.Context, where, key string, now time.Time) (*roster.SignInFlow, error) {
	f, err := scanFlow(s.r.queryRow(ctx, `SELECT `+flowCols+` FROM sign_in_flows WHERE `+where, key, now))
	if isNoRows(err) {
		return nil, errFlowNotFound
	}
	return f, err
}

// DecideSignInFlow implements roster.SignInFlowStore.
func (s *db) DecideSignInFlow(ctx context.Context, id string, status roster.SignInFlowStatus, userID string) error {
	n, err := s.w.exec(ctx, `UPDATE sign_in_flows SET status = $1, user_id = $2 WHERE id = $3 AND status = 'pending'`, string(status), nullString(userID), id)
	if err != nil {
		return err
	}
	if n == 0 {
		return errFlowDecided
	}
	return nil
}

// DeleteSignInFlow implements roster.SignInFlowStore.
func (s *db) DeleteSignInFlow(ctx context.Context, id string) error {
	n, err := s.w.exec(ctx, `DELETE FROM sign_in_flows WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return errFlowNotFound
	}
	return nil
}

// DeleteExpiredSignInFlows implements roster.SignInFlowStore.
func (s *db) DeleteExpiredSignInFlows(ctx context.Context, t time.Time) (int64, error) {
	return s.w.exec(ctx, `DELETE FROM sign_in_flows WHERE expires_at < $1`, t)
}
