package api

import (
	"context"

	"github.com/rosterhq/roster"
)

func teamOut(t *roster.Team) Team {
	return Team{Id: t.ID, Name: t.Name, Description: t.Description, CreatedAt: t.CreatedAt}
}

// team finds a team for a caller that sees everything (the operations on
// teams are global, as those on users).
func (s *Server) team(ctx context.Context, ref string) (*roster.Team, error) {
	t, err := s.store.Team(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c, err := s.visible(ctx); err != nil || !c.all {
		return nil, orHidden(err, "team", ref)
	}
	return t, nil
}

// ListTeams implements StrictServerInterface.
func (s *Server) ListTeams(ctx context.Context, _ ListTeamsRequestObject) (ListTeamsResponseObject, error) {
	teams, err := s.store.Teams(ctx)
	if err != nil {
		return nil, err
	}
	out := ListTeams200JSONResponse{Items: make([]Team, len(teams))}
	for i, t := range teams {
		out.Items[i] = teamOut(t)
	}
	return out, nil
}

// CreateTeam implements StrictServerInterface.
func (s *Server) CreateTeam(ctx context.Context, req CreateTeamRequestObject) (CreateTeamResponseObject, error) {
	b := req.Body
	if fe := roster.ValidateName("name", b.Name); fe != nil {
		return nil, roster.Invalid(*fe)
	}
	t := &roster.Team{Name: b.Name, Description: deref(b.Description)}
	if err := s.store.CreateTeam(ctx, t); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "team.create", "team", t.ID, t.Name, "", nil)
	return CreateTeam201JSONResponse(teamOut(t)), nil
}

// GetTeam implements StrictServerInterface.
func (s *Server) GetTeam(ctx context.Context, req GetTeamRequestObject) (GetTeamResponseObject, error) {
	t, err := s.team(ctx, req.Team)
	if err != nil {
		return nil, err
	}
	return GetTeam200JSONResponse(teamOut(t)), nil
}

// UpdateTeam implements StrictServerInterface.
func (s *Server) UpdateTeam(ctx context.Context, req UpdateTeamRequestObject) (UpdateTeamResponseObject, error) {
	t, err := s.team(ctx, req.Team)
	if err != nil {
		return nil, err
	}
	b := req.Body
	if b.Name != nil {
		if fe := roster.ValidateName("name", *b.Name); fe != nil {
			return nil, roster.Invalid(*fe)
		}
	}
	old := t.Name
	if t, err = s.store.UpdateTeam(ctx, t.ID, roster.TeamUpdate{Name: b.Name, Description: b.Description}); err != nil {
		return nil, err
	}
	var d map[string]string
	if t.Name != old {
		d = map[string]string{"old_name": old}
	}
	s.auditChange(ctx, "team.update", "team", t.ID, t.Name, "", d)
	return UpdateTeam200JSONResponse(teamOut(t)), nil
}

// DeleteTeam implements StrictServerInterface.
func (s *Server) DeleteTeam(ctx context.Context, req DeleteTeamRequestObject) (DeleteTeamResponseObject, error) {
	t, err := s.team(ctx, req.Team)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteTeam(ctx, t.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "team.delete", "team", t.ID, t.Name, "", nil)
	return DeleteTeam204Response{}, nil
}

// members lists a team's members.
func (s *Server) members(ctx context.Context, t *roster.Team) (UserList, error) {
	users, err := s.store.TeamMembers(ctx, t.ID)
	if err != nil {
		return UserList{}, err
	}
	out := UserList{Items: make([]User, len(users))}
	for i, u := range users {
		out.Items[i] = userOut(u)
	}
	return out, nil
}

// ListTeamMembers implements StrictServerInterface.
func (s *Server) ListTeamMembers(ctx context.Context, req ListTeamMembersRequestObject) (ListTeamMembersResponseObject, error) {
	t, err := s.team(ctx, req.Team)
	if err != nil {
		return nil, err
	}
	out, err := s.members(ctx, t)
	if err != nil {
		return nil, err
	}
	return ListTeamMembers200JSONResponse(out), nil
}

// AddTeamMember implements StrictServerInterface. A user that does not
// exist is a fault of the body: 400 naming the field, not 404, which
// would say the team is absent.
func (s *Server) AddTeamMember(ctx context.Context, req AddTeamMemberRequestObject) (AddTeamMemberResponseObject, error) {
	t, err := s.team(ctx, req.Team)
	if err != nil {
		return nil, err
	}
	u, err := s.user(ctx, req.Body.User)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, roster.Invalid(roster.FieldError{Field: "user", Message: roster.ErrorMessage(err)})
	} else if err != nil {
		return nil, err
	}
	if err := s.store.AddTeamMember(ctx, t.ID, u.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "team.member_add", "team", t.ID, t.Name, "", map[string]string{"user": u.Name, "user_id": u.ID})
	out, err := s.members(ctx, t)
	if err != nil {
		return nil, err
	}
	return AddTeamMember200JSONResponse(out), nil
}

// RemoveTeamMember implements StrictServerInterface.
func (s *Server) RemoveTeamMember(ctx context.Context, req RemoveTeamMemberRequestObject) (RemoveTeamMemberResponseObject, error) {
	t, err := s.team(ctx, req.Team)
	if err != nil {
		return nil, err
	}
	u, err := s.user(ctx, req.User)
	if err != nil {
		return nil, err
	}
	if err := s.store.RemoveTeamMember(ctx, t.ID, u.ID); roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, roster.Errorf(roster.ENOTFOUND, "user %q is not a member of team %q", u.Name, t.Name)
	} else if err != nil {
		return nil, err
	}
	s.auditChange(ctx, "team.member_remove", "team", t.ID, t.Name, "", map[string]string{"user": u.Name, "user_id": u.ID})
	return RemoveTeamMember204Response{}, nil
}
