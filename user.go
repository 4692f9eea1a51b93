package roster

import (
	"context"
	"regexp"
	"time"
)

// UserSource says where a user signs in: with a password kept by Roster,
// or at an OpenID Connect provider or an LDAP directory.
type UserSource string

const (
	UserLocal UserSource = "local"
	UserOIDC  UserSource = "oidc"
	UserLDAP  UserSource = "ldap"
)

// Valid reports whether s is a known source.
func (s UserSource) Valid() bool { return s == UserLocal || s == UserOIDC || s == UserLDAP }

// User is a person who signs in. Tokens may belong to one (a token without
// a user is a service token); role bindings of the user and of its teams
// say what it may do.
type User struct {
	ID          string
	Name        string // the sign-in name, lower case
	DisplayName string
	Email       string
	Source      UserSource
	// Provider and ExternalID link an external user to the person an
	// identity provider or directory of Roster's config vouches for
	// (ExternalIdentity.Provider and Subject); both are "" for a local
	// user, and for an external user made ahead of its first sign-in,
	// which links it.
	Provider   string
	ExternalID string
	// PasswordHash is the PHC string of a local user's password (package
	// internal/password); "" when the user has none. It is never sent to
	// a client, and it is a Secret so that no log line can show it.
	PasswordHash Secret
	// Disabled users cannot sign in, and their sessions and tokens stop
	// working.
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastSignInAt *time.Time
}

// UserUpdate holds the fields of a partial update; nil leaves a field as is.
type UserUpdate struct {
	DisplayName *string
	Email       *string
	// PasswordHash replaces the hash; a pointer to "" removes it.
	PasswordHash *Secret
	Disabled     *bool
	// Provider and ExternalID link the user to an external identity
	// (both or neither).
	Provider   *string
	ExternalID *string
}

var userNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._@+-]{0,127}$`)

// ValidateUserName checks a user's sign-in name: 1-128 characters of lower
// case letters, digits, '.', '_', '@', '+' or '-' (so that e-mail addresses
// and directory names fit), not looking like an id. Lower case only, so that
// "alice" and "Alice" can never be two people; callers fold names from
// identity providers.
func ValidateUserName(field, name string) *FieldError {
	switch {
	case !userNamePattern.MatchString(name):
		return &FieldError{Field: field, Message: "must be 1-128 characters of lower-case letters, digits, '.', '_', '@', '+' or '-', starting with a letter or digit"}
	case idPattern.MatchString(name):
		return &FieldError{Field: field, Message: "must not look like an id (a UUID)"}
	}
	return nil
}

// UserStore persists users.
type UserStore interface {
	CreateUser(ctx context.Context, u *User) error
	// User finds a user by id or name.
	User(ctx context.Context, idOrName string) (*User, error)
	Users(ctx context.Context) ([]*User, error)
	// UserByExternalID finds the user linked to a provider's subject.
	UserByExternalID(ctx context.Context, provider, externalID string) (*User, error)
	UpdateUser(ctx context.Context, id string, upd UserUpdate) (*User, error)
	// DeleteUser deletes a user with its tokens, team memberships and role
	// bindings.
	DeleteUser(ctx context.Context, id string) error
	// RecordSignIn records that a user signed in at t.
	RecordSignIn(ctx context.Context, id string, t time.Time) error
}

// Team is a set of users that role bindings can name at once.
type Team struct {
	ID          string
	Name        string
	Description string
	CreatedAt   time.Time
}

// TeamUpdate holds the fields of a partial update; nil leaves a field as is.
type TeamUpdate struct {
	Name        *string
	Description *string
}

// TeamStore persists teams and their members.
type TeamStore interface {
	CreateTeam(ctx context.Context, t *Team) error
	// Team finds a team by id or name.
	Team(ctx context.Context, idOrName string) (*Team, error)
	Teams(ctx context.Context) ([]*Team, error)
	UpdateTeam(ctx context.Context, id string, upd TeamUpdate) (*Team, error)
	// DeleteTeam deletes a team with its memberships and role bindings.
	DeleteTeam(ctx context.Context, id string) error
	// AddTeamMember makes a user a member of a team; adding a member twice
	// changes nothing.
	AddTeamMember(ctx context.Context, teamID, userID string) error
	RemoveTeamMember(ctx context.Context, teamID, userID string) error
	// TeamMembers lists the members of a team, by name.
	TeamMembers(ctx context.Context, teamID string) ([]*User, error)
	// UserTeams lists the teams a user is a member of, by name.
	UserTeams(ctx context.Context, userID string) ([]*Team, error)
}

// SubjectKind says what a role binding names: a user or a team.
type SubjectKind string

const (
	SubjectUser SubjectKind = "user"
	SubjectTeam SubjectKind = "team"
)

// Valid reports whether k is a known kind.
func (k SubjectKind) Valid() bool { return k == SubjectUser || k == SubjectTeam }

// ScopeKind says over what a role binding gives its role: the whole
// server, one inventory or one credential.
type ScopeKind string

const (
	ScopeServer     ScopeKind = "server"
	ScopeInventory  ScopeKind = "inventory"
	ScopeCredential ScopeKind = "credential"
)

// Valid reports whether k is a known kind.
func (k ScopeKind) Valid() bool {
	return k == ScopeServer || k == ScopeInventory || k == ScopeCredential
}

// RoleBinding gives a user, or every member of a team, a role over the
// server, an inventory or a credential. Deleting the subject or the
// inventory or credential deletes the binding.
type RoleBinding struct {
	ID          string
	SubjectKind SubjectKind
	SubjectID   string
	Role        Role
	ScopeKind   ScopeKind
	// ScopeID is the id of the inventory or credential; "" for the server.
	ScopeID   string
	CreatedAt time.Time
}

// Validate checks the binding's kinds and role, and that a scope id is
// given exactly when the scope is not the server. A runner is bound to
// inventories only: on the whole server it would read as every inventory,
// which a runner never sees, and a runner uses a credential through a
// grant (a runner binding on a credential is an open question of issue 17).
func (b *RoleBinding) Validate() error {
	var fe FieldErrors
	if !b.SubjectKind.Valid() {
		fe.Add("subject_kind", "must be user or team")
	}
	if b.SubjectID == "" {
		fe.Add("subject_id", "is required")
	}
	if !b.Role.Valid() {
		fe.Add("role", "must be admin, operator, auditor or runner")
	}
	switch {
	case !b.ScopeKind.Valid():
		fe.Add("scope_kind", "must be server, inventory or credential")
	case b.ScopeKind == ScopeServer && b.ScopeID != "":
		fe.Add("scope_id", "must be empty for the server scope")
	case b.ScopeKind != ScopeServer && b.ScopeID == "":
		fe.Add("scope_id", "is required for the %s scope", b.ScopeKind)
	}
	if b.Role == RoleRunner && b.ScopeKind == ScopeServer {
		fe.Add("role", "a runner is bound to an inventory, not to the whole server: a runner reads only the inventories it is bound to or granted")
	}
	if b.Role == RoleRunner && b.ScopeKind == ScopeCredential {
		fe.Add("role", "a runner uses a credential through a grant, not a role binding")
	}
	return fe.Err()
}

// RoleBindingFilter selects role bindings; empty fields match all.
type RoleBindingFilter struct {
	ID          string
	SubjectKind SubjectKind
	SubjectID   string
	ScopeKind   ScopeKind
	ScopeID     string
}

// RoleBindingStore persists role bindings.
type RoleBindingStore interface {
	// CreateRoleBinding validates and records a binding. Its subject and
	// its inventory or credential must exist (ENOTFOUND); the same binding
	// twice is ECONFLICT.
	CreateRoleBinding(ctx context.Context, b *RoleBinding) error
	RoleBindings(ctx context.Context, f RoleBindingFilter) ([]*RoleBinding, error)
	DeleteRoleBinding(ctx context.Context, id string) error
}
