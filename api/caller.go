package api

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/rosterhq/roster"
)

// Who calls, and what it may do (README: "Tokens", "Users and teams").
//
// A caller is a service token, or a user: through a token the user owns,
// or through a session. What a caller may do is a set of views, each
// like a token's role and limits:
//
//   - a service token has one view, its own: it behaves exactly as it
//     always has;
//   - a user has one view per role binding of its own or of its teams: a
//     server binding is a token of that role, an inventory binding a token
//     of that role limited to that inventory, a credential binding a token
//     of that role that sees that credential only;
//   - a token a user owns cuts each of its user's views to its own role
//     (a ceiling: an operation needs both), limits and read-only flag, so
//     it never does more than its user.
//
// An operation is done with the views that allow it (the acting views):
// the caller sees, for that operation, only what they see. What another
// view shows but no acting view does is refused with 403 (it is not
// hidden: the caller may read it), what no view shows answers 404.

// view is one role over part of Roster.
type view struct {
	role roster.Role
	// ceiling is the role of the user's token the request came with; ""
	// for none (a session, or a service token's own view).
	ceiling roster.Role
	// server: the role is over the whole server (a service token's own,
	// or a server binding), before the token's limits.
	server bool
	// inventories limits the view to these inventory ids; nil: no limit
	// (for a server view).
	inventories []string
	// credentials are the ids a credential binding names.
	credentials []string
	readOnly    bool
	// via says where a user's view comes from: "user" for a binding of
	// the user's own, "team:NAME" for one of a team; "" for a token's.
	via string
}

func (v view) has(roles []roster.Role) bool {
	return slices.Contains(roles, v.role) && (v.ceiling == "" || slices.Contains(roles, v.ceiling))
}

// runnerLike: the view sees as a runner does, only where it is bound or
// granted.
func (v view) runnerLike() bool { return v.role == roster.RoleRunner || v.ceiling == roster.RoleRunner }

func (v view) limited() bool { return !v.server || v.inventories != nil }

// credentialOps are the global operations a credential binding allows on
// its credential.
var credentialOps = map[string]bool{"UpdateCredential": true, "DeleteCredential": true}

func (v view) allows(op string) bool {
	switch {
	case !v.has(allowed[op]):
		return false
	case v.readOnly && !readOperations()[op]:
		return false
	case v.limited() && global[op] && !(v.credentials != nil && credentialOps[op]):
		return false
	}
	return true
}

// Sign-in methods, as the audit log names them.
const (
	methodToken   = "token"
	methodSession = "session"
)

// caller is a request's principal, and what it may see once a handler
// asks.
type caller struct {
	tok    *roster.Token // nil for a session
	user   *roster.User  // nil for a service token
	method string
	views  []view
	// session and sessionValue are a cookie-authenticated request's.
	session      *roster.Session
	sessionValue roster.Secret

	mu     sync.Mutex
	acting []view // the views allowing the operation; nil: all of them
	full   bool   // look with all views (checkVisible's second look)
	sights map[bool]*sight
	grants []*roster.Grant
	loaded bool
}

// sight is what a set of views sees.
type sight struct {
	all    bool            // every inventory and credential
	seen   map[string]bool // else these inventory ids
	creds  map[string]bool // and these credential ids
	grants []*roster.Grant // the token's, when a view is a runner's
	views  []view
}

type callerKey struct{}

func callerFrom(ctx context.Context) *caller {
	c, _ := ctx.Value(callerKey{}).(*caller)
	return c
}

// TokenFrom returns the token a request authenticated with: nil for a
// session.
func TokenFrom(ctx context.Context) *roster.Token {
	if c := callerFrom(ctx); c != nil {
		return c.tok
	}
	return nil
}

// UserFrom returns the user behind a request: nil for a service token.
func UserFrom(ctx context.Context) *roster.User {
	if c := callerFrom(ctx); c != nil {
		return c.user
	}
	return nil
}

func withCaller(ctx context.Context, c *caller) context.Context {
	return context.WithValue(ctx, callerKey{}, c)
}

// serviceCaller is the caller of a service token: its own view.
func serviceCaller(tok *roster.Token) *caller {
	return &caller{tok: tok, method: methodToken, views: []view{{role: tok.Role, server: true, inventories: tok.Inventories, readOnly: tok.ReadOnly}}}
}

// callerOf is the caller of a token: a service token's, or, for a token a
// user owns, its user's, cut to the token. A disabled user's tokens do not
// authenticate (a deleted user's were deleted with it).
func (s *Server) callerOf(ctx context.Context, tok *roster.Token) (*caller, error) {
	if tok.UserID == "" {
		return serviceCaller(tok), nil
	}
	u, err := s.store.User(ctx, tok.UserID)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, errBadToken
	} else if err != nil {
		return nil, err
	}
	if u.Disabled {
		return nil, roster.Errorf(roster.EUNAUTHORIZED, "the API token belongs to a disabled user")
	}
	return s.userCaller(ctx, u, tok, methodToken)
}

// userCaller is the caller of a user, through tok (nil for a session).
func (s *Server) userCaller(ctx context.Context, u *roster.User, tok *roster.Token, method string) (*caller, error) {
	c := &caller{tok: tok, user: u, method: method}
	bindings, err := s.store.RoleBindings(ctx, roster.RoleBindingFilter{SubjectKind: roster.SubjectUser, SubjectID: u.ID})
	if err != nil {
		return nil, err
	}
	via := make([]string, len(bindings))
	for i := range via {
		via[i] = "user"
	}
	teams, err := s.store.UserTeams(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	for _, t := range teams {
		tb, err := s.store.RoleBindings(ctx, roster.RoleBindingFilter{SubjectKind: roster.SubjectTeam, SubjectID: t.ID})
		if err != nil {
			return nil, err
		}
		for range tb {
			via = append(via, "team:"+t.Name)
		}
		bindings = append(bindings, tb...)
	}
	for i, b := range bindings {
		v := view{role: b.Role, via: via[i]}
		switch b.ScopeKind {
		case roster.ScopeServer:
			v.server = true
		case roster.ScopeInventory:
			v.inventories = []string{b.ScopeID}
		case roster.ScopeCredential:
			v.inventories, v.credentials = []string{}, []string{b.ScopeID}
		}
		if tok != nil {
			v.ceiling, v.readOnly = tok.Role, tok.ReadOnly
			if tok.Inventories != nil {
				if v.credentials != nil {
					continue // a token limited to inventories sees no credential
				}
				v.inventories = intersect(v.inventories, tok.Inventories)
			}
		}
		c.views = append(c.views, v)
	}
	return c, nil
}

// intersect is a ∩ b where a nil a is everything.
func intersect(a, b []string) []string {
	out := []string{}
	for _, id := range b {
		if a == nil || slices.Contains(a, id) {
			out = append(out, id)
		}
	}
	return out
}

// describe names the caller in refusals: as tokens always were named.
func (c *caller) describe() string {
	switch {
	case c.user == nil:
		return fmt.Sprintf("token %q", c.tok.Name)
	case c.tok == nil:
		return fmt.Sprintf("user %q", c.user.Name)
	}
	return fmt.Sprintf("token %q of user %q", c.tok.Name, c.user.Name)
}

// name is the audit log's actor: a token's name; a user's name for a
// session, USER/TOKEN for a user's token.
func (c *caller) name() string {
	switch {
	case c.user == nil:
		return c.tok.Name
	case c.tok == nil:
		return c.user.Name
	}
	return c.user.Name + "/" + c.tok.Name
}

func (c *caller) tokenID() string {
	if c.tok == nil {
		return ""
	}
	return c.tok.ID
}

// person is what the audit log keeps of the person behind a request: the
// user, where the role that allowed it came from (the user's own binding,
// or a team's), and how the request was authenticated.
func (c *caller) person() map[string]string {
	if c.user == nil {
		return nil
	}
	c.mu.Lock()
	views := c.current()
	c.mu.Unlock()
	var via []string
	for _, v := range views {
		if !slices.Contains(via, v.via) {
			via = append(via, v.via)
		}
	}
	sort.Strings(via)
	return map[string]string{"actor_user": c.user.Name, "actor_user_id": c.user.ID, "actor_via": strings.Join(via, ","), "actor_method": c.method}
}

// current are the views the request acts with.
func (c *caller) current() []view {
	if c.acting == nil || c.full {
		return c.views
	}
	return c.acting
}

// authorizeCaller decides whether the request's caller may call an
// operation at all, and, for a user, which of its views act.
func authorizeCaller(ctx context.Context, operationID string) error {
	if public[operationID] {
		return nil
	}
	c := callerFrom(ctx)
	if c == nil {
		return roster.Errorf(roster.EUNAUTHORIZED, "an API token or a session is required")
	}
	if anyCaller[operationID] {
		return nil
	}
	if c.user == nil {
		return authorize(operationID, c.tok)
	}
	var acting []view
	for _, v := range c.views {
		if v.allows(operationID) {
			acting = append(acting, v)
		}
	}
	if len(acting) == 0 {
		if c.tok != nil && !slices.Contains(allowed[operationID], c.tok.Role) {
			return roster.Errorf(roster.EFORBIDDEN, "a token with role %q may not do this", c.tok.Role)
		}
		return roster.Errorf(roster.EFORBIDDEN, "user %q may not do this: no role binding of the user or of its teams allows it", c.user.Name)
	}
	c.mu.Lock()
	// What other acting views saw is not what these see (a Web UI page
	// authorizes several operations for one caller).
	delete(c.sights, true)
	c.acting = acting
	c.mu.Unlock()
	return nil
}

// visible finds what the request's caller sees with its acting views.
func (s *Server) visible(ctx context.Context) (*sight, error) {
	c := callerFrom(ctx)
	if c == nil {
		return nil, roster.Errorf(roster.EUNAUTHORIZED, "an API token is required")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	acting := c.acting != nil && !c.full
	if sg := c.sights[acting]; sg != nil {
		return sg, nil
	}
	sg := &sight{seen: map[string]bool{}, creds: map[string]bool{}, views: c.current()}
	for _, v := range sg.views {
		if v.runnerLike() {
			if err := c.loadGrants(ctx, s); err != nil {
				return nil, err
			}
			sg.grants = c.grants
			for _, id := range v.inventories {
				sg.seen[id] = true
			}
			// A runner sees where it holds grants: a service runner
			// wherever, a user's view where it is bound.
			for _, g := range c.grants {
				if v.server || slices.Contains(v.inventories, g.InventoryID) {
					sg.seen[g.InventoryID] = true
					sg.creds[g.CredentialID] = true
				}
			}
			continue
		}
		if v.server && v.inventories == nil {
			sg.all = true
			continue
		}
		for _, id := range v.inventories {
			sg.seen[id] = true
		}
		for _, id := range v.credentials {
			sg.creds[id] = true
		}
	}
	if c.sights == nil {
		c.sights = map[bool]*sight{}
	}
	c.sights[acting] = sg
	return sg, nil
}

// loadGrants reads the grants of the caller's token, once (c.mu held).
func (c *caller) loadGrants(ctx context.Context, s *Server) error {
	if c.loaded || c.tok == nil {
		return nil
	}
	grants, err := s.store.Grants(ctx, roster.GrantFilter{TokenID: c.tok.ID})
	if err != nil {
		return err
	}
	c.grants, c.loaded = grants, true
	return nil
}

// actsAs reports whether an acting view with one of roles (and a token
// ceiling allowing it, and not read-only when write) sees inventory id.
func (s *Server) actsAs(ctx context.Context, inventoryID string, write bool, roles ...roster.Role) (bool, error) {
	c := callerFrom(ctx)
	if c == nil {
		return false, nil
	}
	c.mu.Lock()
	views := c.current()
	c.mu.Unlock()
	for _, v := range views {
		if !v.has(roles) || (write && v.readOnly) {
			continue
		}
		if inventoryID == "" {
			return true, nil
		}
		one := &caller{tok: c.tok, user: c.user, views: []view{v}, grants: c.grants, loaded: c.loaded}
		sg, err := s.visible(withCaller(ctx, one))
		if err != nil {
			return false, err
		}
		if sg.all || sg.seen[inventoryID] {
			return true, nil
		}
	}
	return false, nil
}
