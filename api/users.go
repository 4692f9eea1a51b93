package api

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/password"
)

func userOut(u *roster.User) User {
	out := User{Id: u.ID, Name: u.Name, DisplayName: u.DisplayName, Email: u.Email, Source: UserSource(u.Source),
		HasPassword: u.PasswordHash != "", Disabled: u.Disabled,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, LastSignInAt: u.LastSignInAt}
	if u.Provider != "" {
		out.Provider = &u.Provider
	}
	return out
}

// hashPassword checks a new password of a user of source src and returns
// its hash. The plain value travels as a roster.Secret from here on.
func hashPassword(src roster.UserSource, plain string) (roster.Secret, error) {
	pw := roster.Secret(plain)
	if src != roster.UserLocal {
		return "", roster.Invalid(roster.FieldError{Field: "password", Message: "only a local user has a password"})
	}
	if err := password.Check(pw); err != nil {
		return "", err
	}
	h, err := password.Hash(pw)
	return roster.Secret(h), err
}

// user finds a user for a caller that sees everything (the operations on
// users are global: a token limited to inventories is refused them).
func (s *Server) user(ctx context.Context, ref string) (*roster.User, error) {
	u, err := s.store.User(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c, err := s.visible(ctx); err != nil || !c.all {
		return nil, orHidden(err, "user", ref)
	}
	return u, nil
}

// ListUsers implements StrictServerInterface.
func (s *Server) ListUsers(ctx context.Context, _ ListUsersRequestObject) (ListUsersResponseObject, error) {
	users, err := s.store.Users(ctx)
	if err != nil {
		return nil, err
	}
	out := ListUsers200JSONResponse{Items: make([]User, len(users))}
	for i, u := range users {
		out.Items[i] = userOut(u)
	}
	return out, nil
}

// CreateUser implements StrictServerInterface.
func (s *Server) CreateUser(ctx context.Context, req CreateUserRequestObject) (CreateUserResponseObject, error) {
	b := req.Body
	u := &roster.User{Name: b.Name, DisplayName: deref(b.DisplayName), Email: deref(b.Email), Source: roster.UserLocal,
		Disabled: b.Disabled != nil && *b.Disabled}
	if b.Source != nil {
		u.Source = roster.UserSource(*b.Source)
	}
	var errs roster.FieldErrors
	if fe := roster.ValidateUserName("name", b.Name); fe != nil {
		errs = append(errs, *fe)
	}
	if b.Provider != nil {
		u.Provider = *b.Provider
		if err := s.checkUserProvider(u.Source, u.Provider); err != "" {
			errs.Add("provider", "%s", err)
		}
	}
	if !u.Source.Valid() {
		errs.Add("source", "must be local, oidc or ldap")
	} else if b.Password != nil {
		h, err := hashPassword(u.Source, *b.Password)
		switch {
		case roster.ErrorCode(err) == roster.EINVALID:
			errs = append(errs, roster.ErrorFields(err)...)
		case err != nil:
			return nil, err
		}
		u.PasswordHash = h
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "user.create", "user", u.ID, u.Name, "", userAuditDetails(u, b.Password != nil))
	return CreateUser201JSONResponse(userOut(u)), nil
}

// checkUserProvider says what is wrong with the provider an external
// user is made for ("" if nothing).
func (s *Server) checkUserProvider(src roster.UserSource, provider string) string {
	switch src {
	case roster.UserLDAP:
		if s.directories[provider] == nil {
			return fmt.Sprintf("names no LDAP directory of the config (%s)", strings.Join(slices.Sorted(maps.Keys(s.directories)), ", "))
		}
	case roster.UserOIDC:
		if s.oidc[provider] == nil {
			return fmt.Sprintf("names no OpenID Connect provider of the config (%s)", strings.Join(slices.Sorted(maps.Keys(s.oidc)), ", "))
		}
	default:
		return "only an external user (source ldap or oidc) signs in with a provider"
	}
	return ""
}

// userAuditDetails is what the audit log keeps of a change of a user:
// never the password or its hash, only that one was set.
func userAuditDetails(u *roster.User, passwordSet bool) map[string]string {
	d := map[string]string{"source": string(u.Source)}
	if u.Provider != "" {
		d["provider"] = u.Provider
	}
	if u.Disabled {
		d["disabled"] = "true"
	}
	if passwordSet {
		d["password"] = "set"
	}
	return d
}

// GetUser implements StrictServerInterface.
func (s *Server) GetUser(ctx context.Context, req GetUserRequestObject) (GetUserResponseObject, error) {
	u, err := s.user(ctx, req.User)
	if err != nil {
		return nil, err
	}
	return GetUser200JSONResponse(userOut(u)), nil
}

// UpdateUser implements StrictServerInterface.
func (s *Server) UpdateUser(ctx context.Context, req UpdateUserRequestObject) (UpdateUserResponseObject, error) {
	u, err := s.user(ctx, req.User)
	if err != nil {
		return nil, err
	}
	b := req.Body
	upd := roster.UserUpdate{DisplayName: b.DisplayName, Email: b.Email, Disabled: b.Disabled}
	if b.Password != nil {
		h, err := hashPassword(u.Source, *b.Password)
		if err != nil {
			return nil, err
		}
		upd.PasswordHash = &h
	}
	u, err = s.store.UpdateUser(ctx, u.ID, upd)
	if err != nil {
		return nil, err
	}
	d := map[string]string{}
	if b.Disabled != nil {
		d["disabled"] = map[bool]string{true: "true", false: "false"}[*b.Disabled]
	}
	if b.Password != nil {
		d["password"] = "set"
		// Whoever signed in with the old password keeps nothing: the
		// sessions end in the store, the roster login tokens here.
		n, err := s.revokeLoginTokens(ctx, u)
		if err != nil {
			return nil, err
		}
		if n > 0 {
			d["login_tokens_revoked"] = strconv.Itoa(n)
		}
	}
	s.auditChange(ctx, "user.update", "user", u.ID, u.Name, "", d)
	return UpdateUser200JSONResponse(userOut(u)), nil
}

// DeleteUser implements StrictServerInterface.
func (s *Server) DeleteUser(ctx context.Context, req DeleteUserRequestObject) (DeleteUserResponseObject, error) {
	u, err := s.user(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteUser(ctx, u.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "user.delete", "user", u.ID, u.Name, "", nil)
	return DeleteUser204Response{}, nil
}

// revokeLoginTokens deletes the tokens roster login made for u, and
// returns how many.
func (s *Server) revokeLoginTokens(ctx context.Context, u *roster.User) (int, error) {
	toks, err := s.store.Tokens(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, t := range toks {
		if t.UserID != u.ID || !strings.HasPrefix(t.Name, loginTokenPrefix) {
			continue
		}
		if err := s.store.DeleteToken(ctx, t.ID); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
			return n, err
		}
		n++
	}
	return n, nil
}
