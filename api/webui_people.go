package api

import (
	"net/http"
	"net/url"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
)

// The people page: users, teams and their members, and the role bindings
// that give them rights, as far as the API lets the person read them;
// admins create local users and disable or enable them.

func (s *Server) mountPeoplePages(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/people", s.signedIn("People", s.servePeople))
	mux.HandleFunc("POST /ui/people/users", s.signedIn("People", s.serveCreateUser))
	mux.HandleFunc("POST /ui/people/users/{user}/disable", s.signedIn("People", s.serveSetUserDisabled(true)))
	mux.HandleFunc("POST /ui/people/users/{user}/enable", s.signedIn("People", s.serveSetUserDisabled(false)))
	mux.HandleFunc("POST /ui/people/teams", s.signedIn("People", s.serveCreateTeam))
	mux.HandleFunc("POST /ui/people/teams/{team}/members", s.signedIn("People", s.serveAddTeamMember))
	mux.HandleFunc("POST /ui/people/teams/{team}/members/{user}/remove", s.signedIn("People", s.serveRemoveTeamMember))
}

func (s *Server) servePeople(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	page := ui.People{Page: p.Page}
	// refused records what the person may not list; any other error
	// fails the page.
	refused := func(err error, what string) bool {
		if roster.ErrorCode(err) == roster.EFORBIDDEN {
			page.Messages = append(page.Messages, "You may not list "+what+": ask an admin for a role binding.")
			return true
		}
		return false
	}
	if ctx, err := s.apiAs(p, "ListUsers", nil); err == nil {
		resp, err := s.ListUsers(ctx, ListUsersRequestObject{})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		page.ShowUsers = true
		for _, u := range resp.(ListUsers200JSONResponse).Items {
			page.Users = append(page.Users, ui.User{Name: u.Name, DisplayName: u.DisplayName, Email: u.Email, Source: string(u.Source),
				Disabled: u.Disabled, HasPassword: u.HasPassword, LastSignIn: u.LastSignInAt})
		}
	} else if !refused(err, "users") {
		s.uiFail(w, p, err)
		return
	}
	if ctx, err := s.apiAs(p, "ListTeams", nil); err == nil {
		resp, err := s.ListTeams(ctx, ListTeamsRequestObject{})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		page.ShowTeams = true
		for _, t := range resp.(ListTeams200JSONResponse).Items {
			team := ui.Team{Name: t.Name, Description: t.Description}
			mctx, err := s.apiAs(p, "ListTeamMembers", map[string]string{"team": t.Id})
			if err == nil {
				var mresp ListTeamMembersResponseObject
				if mresp, err = s.ListTeamMembers(mctx, ListTeamMembersRequestObject{Team: t.Id}); err == nil {
					for _, u := range mresp.(ListTeamMembers200JSONResponse).Items {
						team.Members = append(team.Members, u.Name)
					}
				}
			}
			if err != nil && !refused(err, "the members of team "+t.Name) {
				s.uiFail(w, p, err)
				return
			}
			page.Teams = append(page.Teams, team)
		}
	} else if !refused(err, "teams") {
		s.uiFail(w, p, err)
		return
	}
	if ctx, err := s.apiAs(p, "ListRoleBindings", nil); err == nil {
		resp, err := s.ListRoleBindings(ctx, ListRoleBindingsRequestObject{})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		page.ShowBindings = true
		for _, b := range resp.(ListRoleBindings200JSONResponse).Items {
			page.Bindings = append(page.Bindings, ui.Binding{Subject: b.SubjectName, SubjectKind: string(b.SubjectKind),
				Role: string(b.Role), Scope: string(b.Scope), Target: deref(b.TargetName)})
		}
	} else if !refused(err, "role bindings") {
		s.uiFail(w, p, err)
		return
	}
	if !page.ShowUsers && !page.ShowTeams && !page.ShowBindings {
		s.uiError(w, p, http.StatusForbidden, "Not allowed", "You may not list users, teams or role bindings: only admins and auditors may.")
		return
	}
	page.CanCreateUser = s.may(p, "CreateUser", nil)
	page.CanChangeUsers = s.may(p, "UpdateUser", nil)
	page.CanCreateTeam = s.may(p, "CreateTeam", nil)
	page.CanChangeTeams = s.may(p, "AddTeamMember", nil)
	s.render(w, http.StatusOK, "people", page)
}

// serveCreateUser makes a local user, as POST /api/v1/users. The
// password is checked and hashed there, and never shown again.
func (s *Server) serveCreateUser(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ctx, err := s.apiAs(p, "CreateUser", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	body := CreateUserJSONRequestBody{Name: r.PostFormValue("name"), DisplayName: optional(r.PostFormValue("display_name")),
		Email: optional(r.PostFormValue("email")), Password: optional(r.PostFormValue("password"))}
	if err := s.checkBody(ctx, http.MethodPost, "/api/v1/users", body); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	if _, err := s.CreateUser(ctx, CreateUserRequestObject{Body: &body}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/people")
}

// serveSetUserDisabled disables or enables a user, as PATCH
// /api/v1/users/{user} with disabled: a disabled user cannot sign in and
// its tokens stop working.
func (s *Server) serveSetUserDisabled(disabled bool) func(http.ResponseWriter, *http.Request, *uiRequest) {
	return func(w http.ResponseWriter, r *http.Request, p *uiRequest) {
		if !s.uiForm(w, r, p, 0) {
			return
		}
		ref := r.PathValue("user")
		ctx, err := s.apiAs(p, "UpdateUser", map[string]string{"user": ref})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		body := UpdateUserJSONRequestBody{Disabled: &disabled}
		if err := s.checkBody(ctx, http.MethodPatch, "/api/v1/users/"+url.PathEscape(ref), body); err != nil {
			s.uiRefuse(w, p, err)
			return
		}
		if _, err := s.UpdateUser(ctx, UpdateUserRequestObject{User: ref, Body: &body}); err != nil {
			s.uiRefuse(w, p, err)
			return
		}
		seeOther(w, r, "/ui/people")
	}
}

// serveCreateTeam makes a team, as POST /api/v1/teams.
func (s *Server) serveCreateTeam(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ctx, err := s.apiAs(p, "CreateTeam", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	body := CreateTeamJSONRequestBody{Name: r.PostFormValue("name"), Description: optional(r.PostFormValue("description"))}
	if err := s.checkBody(ctx, http.MethodPost, "/api/v1/teams", body); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	if _, err := s.CreateTeam(ctx, CreateTeamRequestObject{Body: &body}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/people")
}

// serveAddTeamMember adds a user to a team, as POST
// /api/v1/teams/{team}/members.
func (s *Server) serveAddTeamMember(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	team := r.PathValue("team")
	ctx, err := s.apiAs(p, "AddTeamMember", map[string]string{"team": team})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	body := AddTeamMemberJSONRequestBody{User: r.PostFormValue("user")}
	if err := s.checkBody(ctx, http.MethodPost, "/api/v1/teams/"+url.PathEscape(team)+"/members", body); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	if _, err := s.AddTeamMember(ctx, AddTeamMemberRequestObject{Team: team, Body: &body}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/people")
}

// serveRemoveTeamMember removes a user from a team, as DELETE
// /api/v1/teams/{team}/members/{user}.
func (s *Server) serveRemoveTeamMember(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	team, user := r.PathValue("team"), r.PathValue("user")
	ctx, err := s.apiAs(p, "RemoveTeamMember", map[string]string{"team": team, "user": user})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	if _, err := s.RemoveTeamMember(ctx, RemoveTeamMemberRequestObject{Team: team, User: user}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/people")
}
