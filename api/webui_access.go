package api

import (
	"net/http"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
)

// The access page: who may get which credential (grants, and the runner
// tokens that hold them) and the API tokens. A token's value is shown
// once, on the page answering the form that made it; no other page has
// it.

func (s *Server) mountAccessPages(mux *http.ServeMux) {
	mux.HandleFunc("GET /ui/access", s.signedIn("Access", s.serveAccess))
	mux.HandleFunc("POST /ui/access/tokens", s.signedIn("Access", s.serveCreateToken))
	mux.HandleFunc("POST /ui/access/tokens/{token}/revoke", s.signedIn("Access", s.serveRevokeToken))
	mux.HandleFunc("POST /ui/access/grants", s.signedIn("Access", s.serveCreateGrant))
	mux.HandleFunc("POST /ui/access/grants/{grant}/delete", s.signedIn("Access", s.serveDeleteGrant))
}

// tokenRoles are the roles a token made here may have.
var tokenRoles = []string{string(roster.RoleAdmin), string(roster.RoleOperator), string(roster.RoleAuditor), string(roster.RoleRunner)}

// serveAccess shows the tokens (GET /api/v1/tokens) and grants (GET
// /api/v1/grants) the person may list, and says which it may not.
func (s *Server) serveAccess(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	page := ui.Access{Page: p.Page, Roles: tokenRoles}
	tokenNames := map[string]string{}
	var tokens []Token
	if ctx, err := s.apiAs(p, "ListTokens", nil); err == nil {
		resp, err := s.ListTokens(ctx, ListTokensRequestObject{})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		page.ShowTokens = true
		tokens = resp.(ListTokens200JSONResponse).Items
		for _, t := range tokens {
			tokenNames[t.Id] = t.Name
		}
	} else if roster.ErrorCode(err) == roster.EFORBIDDEN {
		page.Messages = append(page.Messages, "You may not list tokens: only admins may.")
	} else {
		s.uiFail(w, p, err)
		return
	}
	var grants []Grant
	if ctx, err := s.apiAs(p, "ListGrants", nil); err == nil {
		resp, err := s.ListGrants(ctx, ListGrantsRequestObject{})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		page.ShowGrants = true
		grants = resp.(ListGrants200JSONResponse).Items
	} else if roster.ErrorCode(err) == roster.EFORBIDDEN {
		page.Messages = append(page.Messages, "You may not list grants: ask an admin for a role binding.")
	} else {
		s.uiFail(w, p, err)
		return
	}
	if !page.ShowTokens && !page.ShowGrants {
		s.uiError(w, p, http.StatusForbidden, "Not allowed", "You may not list tokens or grants: ask an admin for a role binding.")
		return
	}
	page.CanCreateToken = s.may(p, "CreateToken", nil)
	page.CanRevoke = s.may(p, "DeleteToken", nil)
	page.CanGrant = s.may(p, "CreateGrant", nil)

	// Grants name their token, credential and inventory by id; the page
	// names them. A token's name is shown to who may list tokens.
	credNames, invNames := map[string]string{}, map[string]string{}
	name := func(names map[string]string, id string, find func() (string, error)) string {
		if n, ok := names[id]; ok {
			return n
		}
		n, err := find()
		if err != nil {
			n = id
		}
		names[id] = n
		return n
	}
	held := map[string][]string{}
	for _, g := range grants {
		cred := name(credNames, g.CredentialId, func() (string, error) {
			c, err := s.store.Credential(p.ctx, g.CredentialId)
			if err != nil {
				return "", err
			}
			return c.Name, nil
		})
		inv := name(invNames, g.InventoryId, func() (string, error) {
			i, err := s.store.Inventory(p.ctx, g.InventoryId)
			if err != nil {
				return "", err
			}
			return i.Name, nil
		})
		tok := g.TokenId
		if n, ok := tokenNames[g.TokenId]; ok {
			tok = n
		}
		page.Grants = append(page.Grants, ui.Grant{ID: g.Id, Token: tok, Credential: cred, Inventory: inv, Created: timeOf(g.CreatedAt)})
		held[g.TokenId] = append(held[g.TokenId], cred+" ("+inv+")")
	}
	for _, t := range tokens {
		out := ui.Token{Name: t.Name, Role: string(t.Role), ReadOnly: t.ReadOnly, Limited: -1,
			Created: timeOf(t.CreatedAt), LastUsed: t.LastUsedAt, ExpiresAt: t.ExpiresAt}
		if t.Inventories != nil {
			out.Limited = len(*t.Inventories)
		}
		if t.UserId != nil {
			out.Owner = *t.UserId
			if u, err := s.store.User(p.ctx, *t.UserId); err == nil {
				out.Owner = u.Name
			}
		}
		page.Tokens = append(page.Tokens, out)
		if t.Role == Role(roster.RoleRunner) && page.ShowGrants {
			creds := held[t.Id]
			slices.Sort(creds)
			page.Runners = append(page.Runners, ui.Runner{Name: t.Name, Credentials: creds, LastUsed: t.LastUsedAt})
		}
	}
	s.render(w, http.StatusOK, "access", page)
}

// serveCreateToken makes a token, as POST /api/v1/tokens, and shows its
// value on this answer only (no-store, as every page).
func (s *Server) serveCreateToken(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ctx, err := s.apiAs(p, "CreateToken", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	body := CreateTokenJSONRequestBody{Name: r.PostFormValue("name"), Role: Role(r.PostFormValue("role")),
		Ttl: optional(strings.TrimSpace(r.PostFormValue("ttl")))}
	if r.PostFormValue("read_only") != "" {
		body.ReadOnly = ptr(true)
	}
	if list := strings.TrimSpace(r.PostFormValue("inventories")); list != "" {
		var invs []string
		for _, inv := range strings.Split(list, ",") {
			if inv = strings.TrimSpace(inv); inv != "" {
				invs = append(invs, inv)
			}
		}
		body.Inventories = &invs
	}
	if err := s.checkBody(ctx, http.MethodPost, "/api/v1/tokens", body); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	resp, err := s.CreateToken(ctx, CreateTokenRequestObject{Body: &body})
	if err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	t := resp.(CreateToken201JSONResponse)
	s.render(w, http.StatusCreated, "token-created", ui.TokenCreated{Page: p.Page, Name: t.Name, Role: string(t.Role), ExpiresAt: t.ExpiresAt, Value: t.Value})
}

// serveRevokeToken deletes a token, as DELETE /api/v1/tokens/{token}: it
// stops working at once.
func (s *Server) serveRevokeToken(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ref := r.PathValue("token")
	ctx, err := s.apiAs(p, "DeleteToken", map[string]string{"token": ref})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	if _, err := s.DeleteToken(ctx, DeleteTokenRequestObject{Token: ref}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/access")
}

// serveCreateGrant grants a runner token a credential for an inventory,
// as POST /api/v1/grants.
func (s *Server) serveCreateGrant(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ctx, err := s.apiAs(p, "CreateGrant", nil)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	body := CreateGrantJSONRequestBody{Token: r.PostFormValue("token"), Credential: r.PostFormValue("credential"), Inventory: r.PostFormValue("inventory")}
	if err := s.checkBody(ctx, http.MethodPost, "/api/v1/grants", body); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	if _, err := s.CreateGrant(ctx, CreateGrantRequestObject{Body: &body}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/access")
}

// serveDeleteGrant deletes a grant, as DELETE /api/v1/grants/{grant}.
func (s *Server) serveDeleteGrant(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	if !s.uiForm(w, r, p, 0) {
		return
	}
	ref := r.PathValue("grant")
	ctx, err := s.apiAs(p, "DeleteGrant", map[string]string{"grant": ref})
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	if _, err := s.DeleteGrant(ctx, DeleteGrantRequestObject{Grant: ref}); err != nil {
		s.uiRefuse(w, p, err)
		return
	}
	seeOther(w, r, "/ui/access")
}
