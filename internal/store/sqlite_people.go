package store

import (
	"context"
	"database/sql"
	"errors"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// ---- users

const userCols = `id, name, display_name, email, source, provider, external_id, password_hash, disabled, created_at, updated_at, last_sign_in_at`

func scanUser(row interface{ Scan(...any) error }) (*roster.User, error) {
	var u roster.User
	var hash *string
	var created, updated int64
	var signedIn *int64
	if err := row.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.Source, &u.Provider, &u.ExternalID, &hash, &u.Disabled, &created, &updated, &signedIn); err != nil {
		return nil, err
	}
	if hash != nil {
		u.PasswordHash = roster.Secret(*hash)
	}
	u.CreatedAt, u.UpdatedAt, u.LastSignInAt = fromMicros(created), fromMicros(updated), fromNullMicros(signedIn)
	return &u, nil
}

// CreateUser implements roster.UserStore.
func (s *SQLite) CreateUser(ctx context.Context, u *roster.User) error {
	u.ID = newID()
	u.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	u.UpdatedAt = u.CreatedAt
	_, err := s.wq.ExecContext(ctx, `INSERT INTO users (id, name, display_name, email, source, provider, external_id, password_hash, disabled, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		u.ID, u.Name, u.DisplayName, u.Email, string(u.Source), u.Provider, u.ExternalID, nullString(u.PasswordHash.Reveal()), u.Disabled, micros(u.CreatedAt), micros(u.UpdatedAt))
	if isUnique(err) {
		return userConflict(u)
	}
	return s.explain(err)
}

// User implements roster.UserStore.
func (s *SQLite) User(ctx context.Context, idOrName string) (*roster.User, error) {
	return s.user(ctx, s.rq, idOrName)
}

func (s *SQLite) user(ctx context.Context, q querier, idOrName string) (*roster.User, error) {
	u, err := scanUser(q.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("user", idOrName)
	}
	return u, err
}

// Users implements roster.UserStore.
func (s *SQLite) Users(ctx context.Context) ([]*roster.User, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	return collectRows(rows, err, scanUser)
}

// UserByExternalID implements roster.UserStore.
func (s *SQLite) UserByExternalID(ctx context.Context, provider, externalID string) (*roster.User, error) {
	u, err := scanUser(s.rq.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE provider = ? AND external_id = ? AND external_id <> ''`, provider, externalID))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "no user is linked to this identity of %s", provider)
	}
	return u, err
}

// UpdateUser implements roster.UserStore.
func (s *SQLite) UpdateUser(ctx context.Context, id string, upd roster.UserUpdate) (*roster.User, error) {
	var u *roster.User
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if u, err = scanUser(tx.QueryRowContext(ctx, `SELECT `+userCols+` FROM users WHERE id = ?`, id)); errors.Is(err, sql.ErrNoRows) {
			return notFound("user", id)
		} else if err != nil {
			return err
		}
		if err := checkLink(u, upd); err != nil {
			return err
		}
		applyUserUpdate(u, upd)
		u.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		_, err = tx.ExecContext(ctx, `UPDATE users SET display_name = ?, email = ?, provider = ?, external_id = ?, password_hash = ?, disabled = ?, updated_at = ? WHERE id = ?`,
			u.DisplayName, u.Email, u.Provider, u.ExternalID, nullString(u.PasswordHash.Reveal()), u.Disabled, micros(u.UpdatedAt), id)
		if isUnique(err) {
			return userConflict(u)
		}
		if err == nil && endsSessions(u, upd) {
			_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ?`, id)
		}
		return err
	})
	return u, err
}

// endsSessions reports whether an update ends the user's sessions: it
// disables the user, or sets or removes its password.
func endsSessions(u *roster.User, upd roster.UserUpdate) bool {
	return u.Disabled || upd.PasswordHash != nil
}

func applyUserUpdate(u *roster.User, upd roster.UserUpdate) {
	if upd.DisplayName != nil {
		u.DisplayName = *upd.DisplayName
	}
	if upd.Email != nil {
		u.Email = *upd.Email
	}
	if upd.PasswordHash != nil {
		u.PasswordHash = *upd.PasswordHash
	}
	if upd.Disabled != nil {
		u.Disabled = *upd.Disabled
	}
	if upd.Provider != nil {
		u.Provider = *upd.Provider
	}
	if upd.ExternalID != nil {
		u.ExternalID = *upd.ExternalID
	}
}

// checkLink refuses to link a user linked to another identity already:
// of two sign-ins linking one user at once, the second finds it linked
// (the update reads the row in its transaction).
func checkLink(u *roster.User, upd roster.UserUpdate) error {
	if upd.ExternalID != nil && u.ExternalID != "" && u.ExternalID != *upd.ExternalID {
		return roster.Errorf(roster.ECONFLICT, "user %q is linked to another identity of %s already", u.Name, u.Provider)
	}
	return nil
}

// userConflict explains a unique index a user breaks: its name, or the
// identity it is linked to.
func userConflict(u *roster.User) error {
	if u.ExternalID != "" {
		return roster.Errorf(roster.ECONFLICT, "a user named %q already exists, or another user is linked to the same identity of %s", u.Name, u.Provider)
	}
	return roster.Errorf(roster.ECONFLICT, "a user named %q already exists", u.Name)
}

// DeleteUser implements roster.UserStore: the user's tokens and
// memberships go by foreign key, its bindings by trigger.
func (s *SQLite) DeleteUser(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("user", id)
	}
	return nil
}

// RecordSignIn implements roster.UserStore.
func (s *SQLite) RecordSignIn(ctx context.Context, id string, t time.Time) error {
	res, err := s.wq.ExecContext(ctx, `UPDATE users SET last_sign_in_at = ? WHERE id = ?`, micros(t), id)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("user", id)
	}
	return nil
}

// ---- teams

const teamCols = `id, name, description, created_at`

func scanTeam(row interface{ Scan(...any) error }) (*roster.Team, error) {
	var t roster.Team
	var created int64
	if err := row.Scan(&t.ID, &t.Name, &t.Description, &created); err != nil {
		return nil, err
	}
	t.CreatedAt = fromMicros(created)
	return &t, nil
}

// CreateTeam implements roster.TeamStore.
func (s *SQLite) CreateTeam(ctx context.Context, t *roster.Team) error {
	t.ID = newID()
	t.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	_, err := s.wq.ExecContext(ctx, `INSERT INTO teams (id, name, description, created_at) VALUES (?, ?, ?, ?)`,
		t.ID, t.Name, t.Description, micros(t.CreatedAt))
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a team named %q already exists", t.Name)
	}
	return s.explain(err)
}

// Team implements roster.TeamStore.
func (s *SQLite) Team(ctx context.Context, idOrName string) (*roster.Team, error) {
	t, err := scanTeam(s.rq.QueryRowContext(ctx, `SELECT `+teamCols+` FROM teams WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("team", idOrName)
	}
	return t, err
}

// Teams implements roster.TeamStore.
func (s *SQLite) Teams(ctx context.Context) ([]*roster.Team, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+teamCols+` FROM teams ORDER BY name`)
	return collectRows(rows, err, scanTeam)
}

// UpdateTeam implements roster.TeamStore.
func (s *SQLite) UpdateTeam(ctx context.Context, id string, upd roster.TeamUpdate) (*roster.Team, error) {
	var t *roster.Team
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if t, err = scanTeam(tx.QueryRowContext(ctx, `SELECT `+teamCols+` FROM teams WHERE id = ?`, id)); errors.Is(err, sql.ErrNoRows) {
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
		_, err = tx.ExecContext(ctx, `UPDATE teams SET name = ?, description = ? WHERE id = ?`, t.Name, t.Description, id)
		if isUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "a team named %q already exists", t.Name)
		}
		return err
	})
	return t, err
}

// DeleteTeam implements roster.TeamStore: memberships go by foreign key,
// bindings by trigger.
func (s *SQLite) DeleteTeam(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM teams WHERE id = ?`, id)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("team", id)
	}
	return nil
}

// AddTeamMember implements roster.TeamStore.
func (s *SQLite) AddTeamMember(ctx context.Context, teamID, userID string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := exists(ctx, tx, "teams", "team", teamID); err != nil {
			return err
		}
		if err := exists(ctx, tx, "users", "user", userID); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO team_members (team_id, user_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, teamID, userID)
		return err
	})
}

// exists returns ENOTFOUND unless table has a row of that id.
func exists(ctx context.Context, q querier, table, what, id string) error {
	var one int
	err := q.QueryRowContext(ctx, `SELECT 1 FROM `+table+` WHERE id = ?`, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return notFound(what, id)
	}
	return err
}

// RemoveTeamMember implements roster.TeamStore.
func (s *SQLite) RemoveTeamMember(ctx context.Context, teamID, userID string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM team_members WHERE team_id = ? AND user_id = ?`, teamID, userID)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return roster.Errorf(roster.ENOTFOUND, "user %q is not a member of team %q", userID, teamID)
	}
	return nil
}

// TeamMembers implements roster.TeamStore.
func (s *SQLite) TeamMembers(ctx context.Context, teamID string) ([]*roster.User, error) {
	if err := exists(ctx, s.rq, "teams", "team", teamID); err != nil {
		return nil, err
	}
	rows, err := s.rq.QueryContext(ctx, `SELECT `+userCols+` FROM users WHERE id IN (SELECT user_id FROM team_members WHERE team_id = ?) ORDER BY name`, teamID)
	return collectRows(rows, err, scanUser)
}

// UserTeams implements roster.TeamStore.
func (s *SQLite) UserTeams(ctx context.Context, userID string) ([]*roster.Team, error) {
	if err := exists(ctx, s.rq, "users", "user", userID); err != nil {
		return nil, err
	}
	rows, err := s.rq.QueryContext(ctx, `SELECT `+teamCols+` FROM teams WHERE id IN (SELECT team_id FROM team_members WHERE user_id = ?) ORDER BY name`, userID)
	return collectRows(rows, err, scanTeam)
}

// ---- role bindings

const roleBindingCols = `id, subject_kind, subject_id, role, scope_kind, coalesce(scope_id, ''), created_at`

func scanRoleBinding(row interface{ Scan(...any) error }) (*roster.RoleBinding, error) {
	var b roster.RoleBinding
	var created int64
	if err := row.Scan(&b.ID, &b.SubjectKind, &b.SubjectID, &b.Role, &b.ScopeKind, &b.ScopeID, &created); err != nil {
		return nil, err
	}
	b.CreatedAt = fromMicros(created)
	return &b, nil
}

// bindingTargets maps the kinds of a binding's subject and scope to the
// table and noun of what they name.
var bindingTargets = map[string][2]string{
	string(roster.SubjectUser):     {"users", "user"},
	string(roster.SubjectTeam):     {"teams", "team"},
	string(roster.ScopeInventory):  {"inventories", "inventory"},
	string(roster.ScopeCredential): {"credentials", "credential"},
}

// CreateRoleBinding implements roster.RoleBindingStore. The check that the
// subject and the scope exist and the insert are one write transaction,
// and the triggers of their tables delete the binding with them: a
// binding never outlives what it names.
func (s *SQLite) CreateRoleBinding(ctx context.Context, b *roster.RoleBinding) error {
	if err := b.Validate(); err != nil {
		return err
	}
	b.ID = newID()
	b.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	return s.tx(ctx, func(tx *sql.Tx) error {
		t := bindingTargets[string(b.SubjectKind)]
		if err := exists(ctx, tx, t[0], t[1], b.SubjectID); err != nil {
			return err
		}
		if b.ScopeKind != roster.ScopeServer {
			t := bindingTargets[string(b.ScopeKind)]
			if err := exists(ctx, tx, t[0], t[1], b.ScopeID); err != nil {
				return err
			}
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO role_bindings (id, subject_kind, subject_id, role, scope_kind, scope_id, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			b.ID, string(b.SubjectKind), b.SubjectID, string(b.Role), string(b.ScopeKind), nullString(b.ScopeID), micros(b.CreatedAt))
		if isUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "the %s already has the role %s on this %s", b.SubjectKind, b.Role, b.ScopeKind)
		}
		return err
	})
}

// RoleBindings implements roster.RoleBindingStore.
func (s *SQLite) RoleBindings(ctx context.Context, f roster.RoleBindingFilter) ([]*roster.RoleBinding, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{
		{"id", f.ID},
		{"subject_kind", string(f.SubjectKind)}, {"subject_id", f.SubjectID},
		{"scope_kind", string(f.ScopeKind)}, {"scope_id", f.ScopeID},
	} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	q := `SELECT ` + roleBindingCols + ` FROM role_bindings`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, " AND ")
	}
	rows, err := s.rq.QueryContext(ctx, q+` ORDER BY id`, args...)
	return collectRows(rows, err, scanRoleBinding)
}

// DeleteRoleBinding implements roster.RoleBindingStore.
func (s *SQLite) DeleteRoleBinding(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM role_bindings WHERE id = ?`, id)
	if err != nil {
		return s.explain(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("role binding", id)
	}
	return nil
}
