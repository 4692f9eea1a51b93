package store

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// ---- users

const pgUserCols = `id, name, display_name, email, source, provider, external_id, coalesce(password_hash, ''), disabled, created_at, updated_at, last_sign_in_at`

func pgScanUser(row pgx.Row) (*roster.User, error) {
	var u roster.User
	var hash string
	if err := row.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.Source, &u.Provider, &u.ExternalID, &hash, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.LastSignInAt); err != nil {
		return nil, err
	}
	u.PasswordHash = roster.Secret(hash)
	u.CreatedAt, u.UpdatedAt, u.LastSignInAt = utc(u.CreatedAt), utc(u.UpdatedAt), utcPtr(u.LastSignInAt)
	return &u, nil
}

func pgScanUserRows(rows pgx.Rows) (*roster.User, error) { return pgScanUser(rows) }

// CreateUser implements roster.UserStore.
func (s *Postgres) CreateUser(ctx context.Context, u *roster.User) error {
	u.ID = newID()
	u.CreatedAt = pgTime(s.now())
	u.UpdatedAt = u.CreatedAt
	_, err := s.pool.Exec(ctx, `INSERT INTO users (id, name, display_name, email, source, provider, external_id, password_hash, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		u.ID, u.Name, u.DisplayName, u.Email, string(u.Source), u.Provider, u.ExternalID, nullString(u.PasswordHash.Reveal()), u.Disabled, u.CreatedAt, u.UpdatedAt)
	if pgIsUnique(err) {
		return userConflict(u)
	}
	return err
}

// User implements roster.UserStore.
func (s *Postgres) User(ctx context.Context, idOrName string) (*roster.User, error) {
	u, err := pgScanUser(s.pool.QueryRow(ctx, `SELECT `+pgUserCols+` FROM users WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("user", idOrName)
	}
	return u, err
}

// Users implements roster.UserStore.
func (s *Postgres) Users(ctx context.Context) ([]*roster.User, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgUserCols+` FROM users ORDER BY name`)
	return collect(rows, err, pgScanUserRows)
}

// UserByExternalID implements roster.UserStore.
func (s *Postgres) UserByExternalID(ctx context.Context, provider, externalID string) (*roster.User, error) {
	u, err := pgScanUser(s.pool.QueryRow(ctx, `SELECT `+pgUserCols+` FROM users WHERE provider = $1 AND external_id = $2 AND external_id <> ''`, provider, externalID))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "no user is linked to this identity of %s", provider)
	}
	return u, err
}

// UpdateUser implements roster.UserStore.
func (s *Postgres) UpdateUser(ctx context.Context, id string, upd roster.UserUpdate) (*roster.User, error) {
	var u *roster.User
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if u, err = pgScanUser(tx.QueryRow(ctx, `SELECT `+pgUserCols+` FROM users WHERE id = $1 FOR UPDATE`, id)); errors.Is(err, pgx.ErrNoRows) {
			return notFound("user", id)
		} else if err != nil {
			return err
		}
		if err := checkLink(u, upd); err != nil {
			return err
		}
		applyUserUpdate(u, upd)
		u.UpdatedAt = pgTime(s.now())
		_, err = tx.Exec(ctx, `UPDATE users SET display_name = $1, email = $2, provider = $3, external_id = $4, password_hash = $5, disabled = $6, updated_at = $7 WHERE id = $8`,
			u.DisplayName, u.Email, u.Provider, u.ExternalID, nullString(u.PasswordHash.Reveal()), u.Disabled, u.UpdatedAt, id)
		if pgIsUnique(err) {
			return userConflict(u)
		}
		if err == nil && endsSessions(u, upd) {
			_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
		}
		return err
	})
	return u, err
}

// DeleteUser implements roster.UserStore: the user's tokens and
// memberships go by foreign key, its bindings by trigger.
func (s *Postgres) DeleteUser(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "users", "user", id)
}

func (s *Postgres) deleteByID(ctx context.Context, table, what, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound(what, id)
	}
	return nil
}

// RecordSignIn implements roster.UserStore.
func (s *Postgres) RecordSignIn(ctx context.Context, id string, t time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE users SET last_sign_in_at = $1 WHERE id = $2`, pgTime(t), id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("user", id)
	}
	return nil
}

// ---- teams

func pgScanTeam(row pgx.Row) (*roster.Team, error) {
	var t roster.Team
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &t.CreatedAt); err != nil {
		return nil, err
	}
	t.CreatedAt = utc(t.CreatedAt)
	return &t, nil
}

func pgScanTeamRows(rows pgx.Rows) (*roster.Team, error) { return pgScanTeam(rows) }

// CreateTeam implements roster.TeamStore.
func (s *Postgres) CreateTeam(ctx context.Context, t *roster.Team) error {
	t.ID = newID()
	t.CreatedAt = pgTime(s.now())
	_, err := s.pool.Exec(ctx, `INSERT INTO teams (id, name, description, created_at) VALUES ($1, $2, $3, $4)`,
		t.ID, t.Name, t.Description, t.CreatedAt)
	if pgIsUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a team named %q already exists", t.Name)
	}
	return err
}

// Team implements roster.TeamStore.
func (s *Postgres) Team(ctx context.Context, idOrName string) (*roster.Team, error) {
	t, err := pgScanTeam(s.pool.QueryRow(ctx, `SELECT `+teamCols+` FROM teams WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("team", idOrName)
	}
	return t, err
}

// Teams implements roster.TeamStore.
func (s *Postgres) Teams(ctx context.Context) ([]*roster.Team, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+teamCols+` FROM teams ORDER BY name`)
	return collect(rows, err, pgScanTeamRows)
}

// UpdateTeam implements roster.TeamStore.
func (s *Postgres) UpdateTeam(ctx context.Context, id string, upd roster.TeamUpdate) (*roster.Team, error) {
	var t *roster.Team
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if t, err = pgScanTeam(tx.QueryRow(ctx, `SELECT `+teamCols+` FROM teams WHERE id = $1 FOR UPDATE`, id)); errors.Is(err, pgx.ErrNoRows) {
			return notFound("team", id)
		} else if err != nil {
			return err
		}
		if upd.Name != nil {
			t.Name = *upd.Name
		}
		if upd.Description != nil {
			t.Description = *upd.Description
		}
		_, err = tx.Exec(ctx, `UPDATE teams SET name = $1, description = $2 WHERE id = $3`, t.Name, t.Description, id)
		if pgIsUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "a team named %q already exists", t.Name)
		}
		return err
	})
	return t, err
}

// DeleteTeam implements roster.TeamStore: memberships go by foreign key,
// bindings by trigger.
func (s *Postgres) DeleteTeam(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "teams", "team", id)
}

// pgExists returns ENOTFOUND unless table has a row of that id, and locks
// the row against deletion until the transaction ends, so that what the
// caller inserts next cannot outlive it.
func pgExists(ctx context.Context, q pgQuerier, table, what, id string) error {
	var one int
	err := q.QueryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1 FOR KEY SHARE`, id).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return notFound(what, id)
	}
	return err
}

// AddTeamMember implements roster.TeamStore.
func (s *Postgres) AddTeamMember(ctx context.Context, teamID, userID string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := pgExists(ctx, tx, "teams", "team", teamID); err != nil {
			return err
		}
		if err := pgExists(ctx, tx, "users", "user", userID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, teamID, userID)
		return err
	})
}

// RemoveTeamMember implements roster.TeamStore.
func (s *Postgres) RemoveTeamMember(ctx context.Context, teamID, userID string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM team_members WHERE team_id = $1 AND user_id = $2`, teamID, userID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return roster.Errorf(roster.ENOTFOUND, "user %q is not a member of team %q", userID, teamID)
	}
	return nil
}

// TeamMembers implements roster.TeamStore.
func (s *Postgres) TeamMembers(ctx context.Context, teamID string) ([]*roster.User, error) {
	if err := pgExists(ctx, s.pool, "teams", "team", teamID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+pgUserCols+` FROM users WHERE id IN (SELECT user_id FROM team_members WHERE team_id = $1) ORDER BY name`, teamID)
	return collect(rows, err, pgScanUserRows)
}

// UserTeams implements roster.TeamStore.
func (s *Postgres) UserTeams(ctx context.Context, userID string) ([]*roster.Team, error) {
	if err := pgExists(ctx, s.pool, "users", "user", userID); err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+teamCols+` FROM teams WHERE id IN (SELECT team_id FROM team_members WHERE user_id = $1) ORDER BY name`, userID)
	return collect(rows, err, pgScanTeamRows)
}

// ---- role bindings

func pgScanRoleBinding(row pgx.Row) (*roster.RoleBinding, error) {
	var b roster.RoleBinding
	if err := row.Scan(&b.ID, &b.SubjectKind, &b.SubjectID, &b.Role, &b.ScopeKind, &b.ScopeID, &b.CreatedAt); err != nil {
		return nil, err
	}
	b.CreatedAt = utc(b.CreatedAt)
	return &b, nil
}

func pgScanRoleBindingRows(rows pgx.Rows) (*roster.RoleBinding, error) {
	return pgScanRoleBinding(rows)
}

// CreateRoleBinding implements roster.RoleBindingStore. The subject and the
// scope are locked against deletion until the binding is in; the triggers
// of their tables delete the binding with them afterwards.
func (s *Postgres) CreateRoleBinding(ctx context.Context, b *roster.RoleBinding) error {
	if err := b.Validate(); err != nil {
		return err
	}
	b.ID = newID()
	b.CreatedAt = pgTime(s.now())
	return s.tx(ctx, func(tx pgx.Tx) error {
		t := bindingTargets[string(b.SubjectKind)]
		if err := pgExists(ctx, tx, t[0], t[1], b.SubjectID); err != nil {
			return err
		}
		if b.ScopeKind != roster.ScopeServer {
			t := bindingTargets[string(b.ScopeKind)]
			if err := pgExists(ctx, tx, t[0], t[1], b.ScopeID); err != nil {
				return err
			}
		}
		_, err := tx.Exec(ctx, `INSERT INTO role_bindings (id, subject_kind, subject_id, role, scope_kind, scope_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			b.ID, string(b.SubjectKind), b.SubjectID, string(b.Role), string(b.ScopeKind), nullString(b.ScopeID), b.CreatedAt)
		if pgIsUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "the %s already has the role %s on this %s", b.SubjectKind, b.Role, b.ScopeKind)
		}
		return err
	})
}

// RoleBindings implements roster.RoleBindingStore.
func (s *Postgres) RoleBindings(ctx context.Context, f roster.RoleBindingFilter) ([]*roster.RoleBinding, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{
		{"id", f.ID},
		{"subject_kind", string(f.SubjectKind)}, {"subject_id", f.SubjectID},
		{"scope_kind", string(f.ScopeKind)}, {"scope_id", f.ScopeID},
	} {
		if c.v != "" {
			args = append(args, c.v)
			where = append(where, c.col+" = $"+strconv.Itoa(len(args)))
		}
	}
	q := `SELECT ` + roleBindingCols + ` FROM role_bindings`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.pool.Query(ctx, q+` ORDER BY id`, args...)
	return collect(rows, err, pgScanRoleBindingRows)
}

// DeleteRoleBinding implements roster.RoleBindingStore.
func (s *Postgres) DeleteRoleBinding(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "role_bindings", "role binding", id)
}
