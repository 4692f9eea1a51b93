package api

import (
	"context"
	"fmt"
	"slices"

	"github.com/rosterhq/roster"
)

// Authenticator checks a name and password at a directory (package
// ldapauth): an error of code EUNAUTHORIZED says they are wrong, one of
// EUNAVAILABLE that the directory cannot be asked.
type Authenticator interface {
	Authenticate(ctx context.Context, username string, password roster.Secret) (*roster.ExternalIdentity, error)
}

// Directory is an LDAP or Active Directory server users sign in with,
// by name and password.
type Directory struct {
	Name  string
	Auth  Authenticator
	Teams []TeamMapping
}

// TeamMapping makes the members of a provider's group members of a Roster
// team, and gives the team role bindings from the config.
type TeamMapping struct {
	// Group is the group as the provider names it: a value of the OIDC
	// groups claim, or a directory group's name.
	Group string `yaml:"group" json:"group"`
	// Team is the Roster team; it is made at the first sign-in that needs
	// it.
	Team string `yaml:"team" json:"team"`
	// Bindings are made with the team, when the first sign-in that maps
	// to it makes it; from then on the team's bindings are the admins'
	// (added or deleted through the API, never undone by a sign-in).
	Bindings []TeamBinding `yaml:"bindings" json:"bindings"`
}

// TeamBinding is a role binding a team mapping gives its team.
type TeamBinding struct {
	Role   roster.Role      `yaml:"role" json:"role"`
	Scope  roster.ScopeKind `yaml:"scope" json:"scope"`
	Target string           `yaml:"target" json:"target"` // an inventory's or credential's name; "" for the server
}

// ValidateTeamMappings checks mappings as a config holds them at field
// (e.g. "ldap[0].teams"), all problems at once.
func ValidateTeamMappings(field string, mappings []TeamMapping) error {
	var fe roster.FieldErrors
	for i, m := range mappings {
		at := fmt.Sprintf("%s[%d]", field, i)
		if m.Group == "" || len(m.Group) > 256 {
			fe.Add(at+".group", "is required, at most 256 bytes")
		}
		if e := roster.ValidateName(at+".team", m.Team); e != nil {
			fe = append(fe, *e)
		}
		for j, b := range m.Bindings {
			bat := fmt.Sprintf("%s.bindings[%d]", at, j)
			rb := roster.RoleBinding{SubjectKind: roster.SubjectTeam, SubjectID: "t", Role: b.Role, ScopeKind: b.Scope, ScopeID: b.Target}
			if err := rb.Validate(); err != nil {
				for _, f := range roster.ErrorFields(err) {
					fe.Add(bat+"."+fieldOfBinding(f.Field), "%s", f.Message)
				}
				if len(roster.ErrorFields(err)) == 0 {
					fe.Add(bat, "%s", roster.ErrorMessage(err))
				}
			}
		}
	}
	return fe.Err()
}

// fieldOfBinding names a RoleBinding field as a team mapping's binding
// calls it.
func fieldOfBinding(f string) string {
	switch f {
	case "scope_id":
		return "target"
	case "scope_kind":
		return "scope"
	}
	return f
}

// signInExternal turns an identity a provider vouched for into a Roster
// user: the one linked to it, else one made ahead of its first sign-in
// (an external user of the same kind with that name and no link yet),
// else a new one. Its memberships of the teams the provider maps are set
// from the identity's groups (other memberships are left alone), and the
// mapped teams get their configured bindings. A name taken by a local
// user, or by a user of another provider, refuses the sign-in: an
// identity provider never signs anyone in as a local user.
func (s *Server) signInExternal(ctx context.Context, id *roster.ExternalIdentity, teams []TeamMapping) (*roster.User, error) {
	u, err := s.store.UserByExternalID(ctx, id.Provider, id.Subject)
	switch {
	case err == nil:
		upd := roster.UserUpdate{}
		if id.DisplayName != "" && id.DisplayName != u.DisplayName {
			upd.DisplayName = &id.DisplayName
		}
		if id.Email != "" && id.Email != u.Email {
			upd.Email = &id.Email
		}
		if upd.DisplayName != nil || upd.Email != nil {
			if u, err = s.store.UpdateUser(ctx, u.ID, upd); err != nil {
				return nil, err
			}
		}
	case roster.ErrorCode(err) == roster.ENOTFOUND:
		if u, err = s.linkOrCreateUser(ctx, id); err != nil {
			return nil, err
		}
	default:
		return nil, err
	}
	if u.Disabled {
		return u, nil // the caller refuses it, as a local user's
	}
	return u, s.syncTeams(ctx, u, id, teams)
}

func (s *Server) linkOrCreateUser(ctx context.Context, id *roster.ExternalIdentity) (*roster.User, error) {
	if fe := roster.ValidateUserName("username", id.Username); fe != nil {
		return nil, roster.Errorf(roster.EFORBIDDEN, "%s gives the user name %q, which Roster cannot take: it %s", providerLabel(id), clip(id.Username), fe.Message)
	}
	u, err := s.store.User(ctx, id.Username)
	switch {
	case err == nil:
		// Linked only if made for this very provider: another directory
		// or provider vouching for the same name is someone else.
		if u.Source != id.Source || u.Provider != id.Provider || u.ExternalID != "" {
			return nil, roster.Errorf(roster.ECONFLICT, "%s signs in %q, but that name is taken by a %s user of Roster's not made for %s: an admin renames or deletes it (or makes the user with --provider %s) to let this person in",
				providerLabel(id), u.Name, u.Source, id.Provider, id.Provider)
		}
		// Made ahead of its first sign-in: link it.
		upd := roster.UserUpdate{Provider: &id.Provider, ExternalID: &id.Subject}
		if id.DisplayName != "" && u.DisplayName == "" {
			upd.DisplayName = &id.DisplayName
		}
		if id.Email != "" && u.Email == "" {
			upd.Email = &id.Email
		}
		u, err = s.store.UpdateUser(ctx, u.ID, upd)
		if err != nil {
			return nil, err
		}
		s.auditSystem(ctx, "user.link", "user", u.ID, u.Name, map[string]string{"provider": id.Provider, "source": string(id.Source)})
		return u, nil
	case roster.ErrorCode(err) != roster.ENOTFOUND:
		return nil, err
	}
	u = &roster.User{Name: id.Username, DisplayName: id.DisplayName, Email: id.Email, Source: id.Source, Provider: id.Provider, ExternalID: id.Subject}
	if err := s.store.CreateUser(ctx, u); roster.ErrorCode(err) == roster.ECONFLICT {
		// Another sign-in of the same person made it meanwhile.
		if linked, lerr := s.store.UserByExternalID(ctx, id.Provider, id.Subject); lerr == nil {
			return linked, nil
		}
		return nil, err
	} else if err != nil {
		return nil, err
	}
	s.auditSystem(ctx, "user.create", "user", u.ID, u.Name, map[string]string{"provider": id.Provider, "source": string(id.Source), "on": "first sign-in"})
	return u, nil
}

// syncTeams makes u a member of the mapped teams of the groups it is in,
// and of no other team the provider maps.
func (s *Server) syncTeams(ctx context.Context, u *roster.User, id *roster.ExternalIdentity, teams []TeamMapping) error {
	if len(teams) == 0 {
		return nil
	}
	want := map[string]bool{} // team name → member
	for _, m := range teams {
		want[m.Team] = want[m.Team] || slices.Contains(id.Groups, m.Group)
	}
	have, err := s.store.UserTeams(ctx, u.ID)
	if err != nil {
		return err
	}
	member := map[string]*roster.Team{}
	for _, t := range have {
		member[t.Name] = t
	}
	for _, m := range teams {
		in := want[m.Team]
		t, isMember := member[m.Team]
		switch {
		case in && !isMember:
			if t, err = s.mappedTeam(ctx, m, id); err != nil {
				return err
			}
			if err := s.store.AddTeamMember(ctx, t.ID, u.ID); err != nil {
				return err
			}
			member[m.Team] = t
			s.auditSystem(ctx, "team.member.add", "team", t.ID, t.Name, map[string]string{"user": u.Name, "provider": id.Provider, "group": m.Group})
		case !in && isMember:
			if err := s.store.RemoveTeamMember(ctx, t.ID, u.ID); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
				return err
			}
			delete(member, m.Team)
			s.auditSystem(ctx, "team.member.remove", "team", t.ID, t.Name, map[string]string{"user": u.Name, "provider": id.Provider, "group": m.Group})
		}

	}
	return nil
}

// mappedTeam finds a mapping's team, made when absent.
func (s *Server) mappedTeam(ctx context.Context, m TeamMapping, id *roster.ExternalIdentity) (*roster.Team, error) {
	t, err := s.store.Team(ctx, m.Team)
	if roster.ErrorCode(err) != roster.ENOTFOUND {
		return t, err
	}
	t = &roster.Team{Name: m.Team, Description: fmt.Sprintf("members of %s's group %s", id.Provider, m.Group)}
	err = s.store.CreateTeam(ctx, t)
	if roster.ErrorCode(err) == roster.ECONFLICT { // made by another sign-in meanwhile
		return s.store.Team(ctx, m.Team)
	}
	if err != nil {
		return nil, err
	}
	s.auditSystem(ctx, "team.create", "team", t.ID, t.Name, map[string]string{"provider": id.Provider, "group": m.Group})
	// The mapping's bindings come with the team it makes; after that the
	// team's bindings are the admins' (a binding they delete stays gone).
	s.ensureBindings(ctx, t, m)
	return t, nil
}

// ensureBindings makes the bindings a mapping gives the team it made.
// One that cannot be made (its inventory does not exist) is logged and
// skipped: it must not lock people out.
func (s *Server) ensureBindings(ctx context.Context, t *roster.Team, m TeamMapping) {
	if t == nil || len(m.Bindings) == 0 {
		return
	}
	have, err := s.store.RoleBindings(ctx, roster.RoleBindingFilter{SubjectKind: roster.SubjectTeam, SubjectID: t.ID})
	if err != nil {
		s.log.Warn("reading a mapped team's bindings failed", "team", t.Name, "err", err)
		return
	}
	for _, b := range m.Bindings {
		rb := &roster.RoleBinding{SubjectKind: roster.SubjectTeam, SubjectID: t.ID, Role: b.Role, ScopeKind: b.Scope}
		if b.Scope != roster.ScopeServer {
			id, err := s.configTarget(ctx, b.Scope, b.Target)
			if err != nil {
				s.log.Warn("a team mapping's binding names what does not exist; it is made at a later sign-in", "team", t.Name, "scope", b.Scope, "target", b.Target, "err", err)
				continue
			}
			rb.ScopeID = id
		}
		if slices.ContainsFunc(have, func(h *roster.RoleBinding) bool {
			return h.Role == rb.Role && h.ScopeKind == rb.ScopeKind && h.ScopeID == rb.ScopeID
		}) {
			continue
		}
		err := s.store.CreateRoleBinding(ctx, rb)
		if roster.ErrorCode(err) == roster.ECONFLICT {
			continue
		}
		if err != nil {
			s.log.Warn("making a team mapping's binding failed", "team", t.Name, "err", err)
			continue
		}
		d := map[string]string{"team": t.Name, "role": string(rb.Role), "scope": string(rb.ScopeKind), "from": "config"}
		if b.Target != "" {
			d["target"] = b.Target
		}
		s.auditSystem(ctx, "role_binding.create", "role_binding", rb.ID, "team "+t.Name+": "+string(rb.Role), d)
	}
}

// configTarget finds what a binding of the config names. The config
// sees everything: there is no caller to hide anything from.
func (s *Server) configTarget(ctx context.Context, kind roster.ScopeKind, ref string) (string, error) {
	if kind == roster.ScopeCredential {
		c, err := s.store.Credential(ctx, ref)
		if err != nil {
			return "", err
		}
		return c.ID, nil
	}
	inv, err := s.store.Inventory(ctx, ref)
	if err != nil {
		return "", err
	}
	return inv.ID, nil
}

// auditSystem records a change Roster made itself on a sign-in.
func (s *Server) auditSystem(ctx context.Context, action, targetType, id, name string, details map[string]string) {
	e := &roster.AuditEvent{Actor: "sign-in", Action: action, Outcome: roster.AuditAllowed, TargetType: targetType, TargetID: id, TargetName: name, Details: details}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("writing an audit record failed", "action", action, "err", err)
	}
}

func providerLabel(id *roster.ExternalIdentity) string {
	if id.Source == roster.UserLDAP {
		return fmt.Sprintf("directory %q", id.Provider)
	}
	return fmt.Sprintf("identity provider %q", id.Provider)
}
