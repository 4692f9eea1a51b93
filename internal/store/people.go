package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// ---- users

const userCols = `id, name, display_name, email, source, provider, external_id, coalesce(password_hash, ''), disabled, created_at, updated_at, last_sign_in_at`

func scanUser(r row) (*roster.User, error) {
	var u roster.User
	var hash string
	if err := r.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.Source, &u.Provider, &u.ExternalID, &hash, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &u.LastSignInAt); err != nil {
		return nil, err
	}
	u.PasswordHash = roster.Secret(hash)
	return &u, nil
}

// CreateUser implements roster.UserStore.
func (s *db) CreateUser(ctx context.Context, u *roster.User) error {
	u.ID = newID()
	u.CreatedAt = storedTime(s.now())
	u.UpdatedAt = u.CreatedAt
	_, err := s.w.exec(ctx, `INSERT INTO users (id, name, display_name, email, source, provider, external_id, password_hash, disabled, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		u.ID, u.Name, u.DisplayName, u.Email, string(u.Source), u.Provider, u.ExternalID, nullString(u.PasswordHash.Reveal()), u.Disabled, u.CreatedAt, u.UpdatedAt)
	if isUnique(err) {
		return userConflict(u)
	}
	return err
}

// User implements roster.UserStore.
func (s *db) User(ctx context.Context, idOrName string) (*roster.User, error) {
	return byIDOrName(ctx, s.r, "users", userCols, "user", idOrName, scanUser)
}

// Users implements roster.UserStore.
func (s *db) Users(ctx context.Context) ([]*roster.User, error) {
	rs, err := s.r.query(ctx, `SELECT `+userCols+` FROM users ORDER BY name`)
	return scanAll(rs, err, scanUser)
}

// UserByExternalID implements roster.UserStore.
func (s *db) UserByExternalID(ctx context.Context, provider, externalID string) (*roster.User, error) {
	u, err := scanUser(s.r.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE provider = $1 AND external_id = $2 AND external_id <> ''`, provider, externalID))
	if isNoRows(err) {
		return nil, roster.Errorf(roster.ENOTFOUND, "no user is linked to this identity of %s", provider)
	}
	return u, err
}

// UpdateUser implements roster.UserStore.
func (s *db) UpdateUser(ctx context.Context, id string, upd roster.UserUpdate) (*roster.User, error) {
	var u *roster.User
	err := s.inTx(ctx, func(c conn) error {
		var err error
		if u, err = scanUser(c.queryRow(ctx, `SELECT `+userCols+` FROM users WHERE id = $1`+s.lockRows("UPDATE"), id)); isNoRows(err) {
			return notFound("user", id)
		} else if err != nil {
			return err
		}
		if err := checkLink(u, upd); err != nil {
			return err
		}
		applyUserUpdate(u, upd)
		u.UpdatedAt = storedTime(s.now())
		_, err = c.exec(ctx, `UPDATE users SET display_name = $1, email = $2, provider = $3, external_id = $4, password_hash = $5, disabled = $6, updated_at = $7 WHERE id = $8`,
			u.DisplayName, u.Email, u.Provider, u.ExternalID, nullString(u.PasswordHash.Reveal()), u.Disabled, u.UpdatedAt, id)
		if isUnique(err) {
			return userConflict(u)
		}
		if err == nil && endsSessions(u, upd) {
			_, err = c.exec(ctx, `DELETE FROM sessions WHERE user_id = $1`, id)
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
// (the update reads the row in its transaction, locked on PostgreSQL).
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
func (s *db) DeleteUser(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "users", "user", id)
}

// RecordSignIn implements roster.UserStore.
func (s *db) RecordSignIn(ctx context.Context, id string, t time.Time) error {
	n, err := s.w.exec(ctx, `UPDATE users SET last_sign_in_at = $1 WHERE id = $2`, t, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound("user", id)
	}
	return nil
}

// ---- teams

const teamCols = `id, name, description, created_at`

func scanTeam(r row) (*roster.Team, error) {
	var t roster.Team
	if err := r.Scan(&t.ID, &t.Name, &t.Description, &t.CreatedAt); err != nil {
		return nil, err
	}
	return &t, nil
}

func teamConflict(name string) error {
	return roster.Errorf(roster.ECONFLICT, "a team named %q already exists", name)
}

// CreateTeam implements roster.TeamStore.
func (s *db) CreateTeam(ctx context.Context, t *roster.Team) error {
	t.ID = newID()
	t.CreatedAt = storedTime(s.now())
	_, err := s.w.exec(ctx, `INSERT INTO teams (id, name, description, created_at) VALUES ($1, $2, $3, $4)`,
		t.ID, t.Name, t.Description, t.CreatedAt)
	if isUnique(err) {
		return teamConflict(t.Name)
	}
	return err
}

// Team implements roster.TeamStore.
func (s *db) Team(ctx context.Context, idOrName string) (*roster.Team, error) {
	return byIDOrName(ctx, s.r, "teams", teamCols, "team", idOrName, scanTeam)
}

// Teams implements roster.TeamStore.
func (s *db) Teams(ctx context.Context) ([]*roster.Team, error) {
	rs, err := s.r.query(ctx, `SELECT `+teamCols+` FROM teams ORDER BY name`)
	return scanAll(rs, err, scanTeam)
}

// UpdateTeam implements roster.TeamStore.
func (s *db) UpdateTeam(ctx context.Context, id string, upd roster.TeamUpdate) (*roster.Team, error) {
	var t *roster.Team
	err := s.inTx(ctx, func(c conn) error {
		var err error
		if t, err = scanTeam(c.queryRow(ctx, `SELECT `+teamCols+` FROM teams WHERE id = $1`+s.lockRows("UPDATE"), id)); isNoRows(err) {
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
		_, err = c.exec(ctx, `UPDATE teams SET name = $1, description = $2 WHERE id = $3`, t.Name, t.Description, id)
		if isUnique(err) {
			return teamConflict(t.Name)
		}
		return err
	})
	return t, err
}

// DeleteTeam implements roster.TeamStore: memberships go by foreign key,
// bindings by trigger.
func (s *db) DeleteTeam(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "teams", "team", id)
}

// exists returns ENOTFOUND unless table has a row of that id. On
// PostgreSQL it locks the row against deletion until the transaction
// ends, so that what the caller inserts next cannot outlive it (SQLite's
// one writer holds off the deletion already).
func (s *db) exists(ctx context.Context, c conn, table, what, id string) error {
	var one int
	err := c.queryRow(ctx, `SELECT 1 FROM `+table+` WHERE id = $1`+s.lockRows("KEY SHARE"), id).Scan(&one)
	if isNoRows(err) {
		return notFound(what, id)
	}
	return err
}

// AddTeamMember implements roster.TeamStore.
func (s *db) AddTeamMember(ctx context.Context, teamID, userID string) error {
	return s.inTx(ctx, func(c conn) error {
		if err := s.exists(ctx, c, "teams", "team", teamID); err != nil {
			return err
		}
		if err := s.exists(ctx, c, "users", "user", userID); err != nil {
			return err
		}
		_, err := c.exec(ctx, `INSERT INTO team_members (team_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING`, teamID, userID)
		return err
	})
}

// RemoveTeamMember implements roster.TeamStore.
func (s *db) RemoveTeamMember(ctx context.Context, teamID, userID string) error {
	n, err := s.w.exec(ctx, `DELETE FROM team_members WHERE team_id = $1 AND user_id = $2`, teamID, userID)
	if err != nil {
		return err
	}
	if n == 0 {
		return roster.Errorf(roster.ENOTFOUND, "user %q is not a member of team %q", userID, teamID)
	}
	return nil
}

// TeamMembers implements roster.TeamStore.
func (s *db) TeamMembers(ctx context.Context, teamID string) ([]*roster.User, error) {
	if err := s.exists(ctx, s.r, "teams", "team", teamID); err != nil {
		return nil, err
	}
	rs, err := s.r.query(ctx, `SELECT `+userCols+` FROM users WHERE id IN (SELECT user_id FROM team_members WHERE team_id = $1) ORDER BY name`, teamID)
	return scanAll(rs, err, scanUser)
}

// UserTeams implements roster.TeamStore.
func (s *db) UserTeams(ctx context.Context, userID string) ([]*roster.Team, error) {
	if err := s.exists(ctx, s.r, "users", "user", userID); err != nil {
		return nil, err
	}
	rs, err := s.r.query(ctx, `SELECT `+teamCols+` FROM teams WHERE id IN (SELECT team_id FROM team_members WHERE user_id = $1) ORDER BY name`, userID)
	return scanAll(rs, err, scanTeam)
}

// ---- role bindings

const roleBindingCols = `id, subject_kind, subject_id, role, scope_kind, coalesce(scope_id, ''), created_at`

func scanRoleBinding(r row) (*roster.RoleBinding, error) {
	var b roster.RoleBinding
	if err := r.Scan(&b.ID, &b.SubjectKind, &b.SubjectID, &b.Role, &b.ScopeKind, &b.ScopeID, &b.CreatedAt); err != nil {
		return nil, err
	}
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
// subject and the scope exist and the insert are one write transaction
// (which keeps them from being deleted until the binding is in), and the
// triggers of their tables delete the binding with them: a binding never
// outlives what it names.
func (s *db) CreateRoleBinding(ctx context.Context, b *roster.RoleBinding) error {
	if err := b.Validate(); err != nil {
		return err
	}
	b.ID = newID()
	b.CreatedAt = storedTime(s.now())
	return s.inTx(ctx, func(c conn) error {
		t := bindingTargets[string(b.SubjectKind)]
		if err := s.exists(ctx, c, t[0], t[1], b.SubjectID); err != nil {
			return err
		}
		if b.ScopeKind != roster.ScopeServer {
			t := bindingTargets[string(b.ScopeKind)]
			if err := s.exists(ctx, c, t[0], t[1], b.ScopeID); err != nil {
				return err
			}
		}
		_, err := c.exec(ctx, `INSERT INTO role_bindings (id, subject_kind, subject_id, role, scope_kind, scope_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			b.ID, string(b.SubjectKind), b.SubjectID, string(b.Role), string(b.ScopeKind), nullString(b.ScopeID), b.CreatedAt)
		if isUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "the %s already has the role %s on this %s", b.SubjectKind, b.Role, b.ScopeKind)
		}
		return err
	})
}

// RoleBindings implements roster.RoleBindingStore.
func (s *db) RoleBindings(ctx context.Context, f roster.RoleBindingFilter) ([]*roster.RoleBinding, error) {
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
	rs, err := s.r.query(ctx, q+` ORDER BY id`, args...)
	return scanAll(rs, err, scanRoleBinding)
}

// DeleteRoleBinding implements roster.RoleBindingStore.
func (s *db) DeleteRoleBinding(ctx context.Context, id string) error {
	return s.deleteByID(ctx, "role_bindings", "role binding", id)
}
