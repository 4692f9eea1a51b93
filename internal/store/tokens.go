package store

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// ---- tokens

const tokenCols = `id, name, role, inventories, read_only, coalesce(user_id, ''), created_at, expires_at, last_used_at`

// scanToken reads a token; its inventories are a nullable list (NULL: no
// limit; empty: limited to none).
func scanToken(r row) (*roster.Token, error) {
	var t roster.Token
	if err := r.Scan(&t.ID, &t.Name, &t.Role, (*nullList)(&t.Inventories), &t.ReadOnly, &t.UserID, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt); err != nil {
		return nil, err
	}
	return &t, nil
}

// CreateToken implements roster.TokenStore.
func (s *db) CreateToken(ctx context.Context, t *roster.Token, hash string) error {
	t.ID = newID()
	t.CreatedAt = storedTime(s.now())
	_, err := s.w.exec(ctx, `INSERT INTO tokens (id, name, role, inventories, read_only, user_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.Name, string(t.Role), nullList(t.Inventories), t.ReadOnly, nullString(t.UserID), hash, t.CreatedAt, t.ExpiresAt)
	if isForeignKey(err) {
		return notFound("user", t.UserID)
	}
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a token named %q already exists", t.Name)
	}
	return err
}

// TokenByHash implements roster.TokenStore.
func (s *db) TokenByHash(ctx context.Context, hash string) (*roster.Token, error) {
	t, err := scanToken(s.r.queryRow(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = $1`, hash))
	if isNoRows(err) {
		return nil, roster.Errorf(roster.ENOTFOUND, "token not found")
	}
	return t, err
}

// Token implements roster.TokenStore.
func (s *db) Token(ctx context.Context, idOrName string) (*roster.Token, error) {
	return byIDOrName(ctx, s.r, "tokens", tokenCols, "token", idOrName, scanToken)
}

// Tokens implements roster.TokenStore.
func (s *db) Tokens(ctx context.Context) ([]*roster.Token, error) {
	rs, err := s.r.query(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
	return scanAll(rs, err, scanToken)
}

// DeleteToken implements roster.TokenStore.
func (s *db) DeleteToken(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "tokens", "token", id)
}

// TouchToken implements roster.TokenStore.
func (s *db) TouchToken(ctx context.Context, id string, t time.Time) error {
	_, err := s.w.exec(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, t, id)
	return err
}
