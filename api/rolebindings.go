package api

import (
	"context"

	"github.com/rosterhq/roster"
)

// Role bindings are recorded ahead of sign-in (issue 17): authorize does
// not read them yet.

// bindingNames names what bindings refer to, looking each up once.
type bindingNames struct {
	s     *Server
	names map[string]string // kind + "/" + id → name
}

func (n *bindingNames) name(ctx context.Context, kind, id string) string {
	key := kind + "/" + id
	if name, ok := n.names[key]; ok {
		return name
	}
	var name string
	switch kind {
	case string(roster.SubjectUser):
		if u, err := n.s.store.User(ctx, id); err == nil {
			name = u.Name
		}
	case string(roster.SubjectTeam):
		if t, err := n.s.store.Team(ctx, id); err == nil {
			name = t.Name
		}
	case string(roster.ScopeInventory):
		if inv, err := n.s.store.Inventory(ctx, id); err == nil {
			name = inv.Name
		}
	case string(roster.ScopeCredential):
		if c, err := n.s.store.Credential(ctx, id); err == nil {
			name = c.Name
		}
	}
	if n.names == nil {
		n.names = map[string]string{}
	}
	n.names[key] = name // "" when it went meanwhile: the binding goes with it
	return name
}

func (n *bindingNames) out(ctx context.Context, b *roster.RoleBinding) RoleBinding {
	out := RoleBinding{Id: b.ID, SubjectKind: RoleBindingSubjectKind(b.SubjectKind), SubjectId: b.SubjectID,
		SubjectName: n.name(ctx, string(b.SubjectKind), b.SubjectID),
		Role:        Role(b.Role), Scope: RoleBindingScope(b.ScopeKind), CreatedAt: b.CreatedAt}
	if b.ScopeKind != roster.ScopeServer {
		out.TargetId = optional(b.ScopeID)
		out.TargetName = optional(n.name(ctx, string(b.ScopeKind), b.ScopeID))
	}
	return out
}

// bindingTarget finds the inventory or credential a binding of scope
// kind names by ref, and returns its id and name.
func (s *Server) bindingTarget(ctx context.Context, kind roster.ScopeKind, ref string) (id, name string, err error) {
	switch kind {
	case roster.ScopeInventory:
		inv, err := s.inventory(ctx, ref)
		if err != nil {
			return "", "", err
		}
		return inv.ID, inv.Name, nil
	case roster.ScopeCredential:
		c, err := s.credential(ctx, ref)
		if err != nil {
			return "", "", err
		}
		return c.ID, c.Name, nil
	}
	return "", "", roster.Errorf(roster.EINVALID, "the %s scope names nothing", kind)
}

// roleBinding finds a binding by id for a caller that sees everything.
func (s *Server) roleBinding(ctx context.Context, id string) (*roster.RoleBinding, error) {
	if c, err := s.visible(ctx); err != nil || !c.all {
		return nil, orHidden(err, "role binding", id)
	}
	list, err := s.store.RoleBindings(ctx, roster.RoleBindingFilter{ID: id})
	if err != nil {
		return nil, err
	}
	if len(list) == 0 {
		return nil, hidden("role binding", id)
	}
	return list[0], nil
}

// ListRoleBindings implements StrictServerInterface.
func (s *Server) ListRoleBindings(ctx context.Context, req ListRoleBindingsRequestObject) (ListRoleBindingsResponseObject, error) {
	p := req.Params
	var f roster.RoleBindingFilter
	var errs roster.FieldErrors
	if p.User != nil && p.Team != nil {
		errs.Add("team", "give user or team, not both: a binding has one subject")
	}
	if p.Scope != nil {
		f.ScopeKind = roster.ScopeKind(*p.Scope)
	}
	if p.Target != nil && f.ScopeKind != roster.ScopeInventory && f.ScopeKind != roster.ScopeCredential {
		errs.Add("target", "needs scope inventory or credential")
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if p.User != nil {
		u, err := s.user(ctx, *p.User)
		if err != nil {
			return nil, err
		}
		f.SubjectKind, f.SubjectID = roster.SubjectUser, u.ID
	}
	if p.Team != nil {
		t, err := s.team(ctx, *p.Team)
		if err != nil {
			return nil, err
		}
		f.SubjectKind, f.SubjectID = roster.SubjectTeam, t.ID
	}
	if p.Target != nil {
		id, _, err := s.bindingTarget(ctx, f.ScopeKind, *p.Target)
		if err != nil {
			return nil, err
		}
		f.ScopeID = id
	}
	list, err := s.store.RoleBindings(ctx, f)
	if err != nil {
		return nil, err
	}
	names := &bindingNames{s: s}
	out := ListRoleBindings200JSONResponse{Items: make([]RoleBinding, len(list))}
	for i, b := range list {
		out.Items[i] = names.out(ctx, b)
	}
	return out, nil
}

// CreateRoleBinding implements StrictServerInterface. What the body names
// and does not exist is a 400 naming the field.
func (s *Server) CreateRoleBinding(ctx context.Context, req CreateRoleBindingRequestObject) (CreateRoleBindingResponseObject, error) {
	body := req.Body
	b := &roster.RoleBinding{Role: roster.Role(body.Role), ScopeKind: roster.ScopeKind(body.Scope)}
	names := &bindingNames{s: s, names: map[string]string{}}
	var errs roster.FieldErrors
	// inField makes a lookup's "not found" the fault of a field.
	inField := func(field string, err error) error {
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			errs.Add(field, "%s", roster.ErrorMessage(err))
			return nil
		}
		return err
	}
	switch {
	case body.User != nil && body.Team != nil:
		errs.Add("team", "give user or team, not both")
	case body.User != nil:
		u, err := s.user(ctx, *body.User)
		if err := inField("user", err); err != nil {
			return nil, err
		}
		if u != nil {
			b.SubjectKind, b.SubjectID = roster.SubjectUser, u.ID
			names.names["user/"+u.ID] = u.Name
		}
	case body.Team != nil:
		t, err := s.team(ctx, *body.Team)
		if err := inField("team", err); err != nil {
			return nil, err
		}
		if t != nil {
			b.SubjectKind, b.SubjectID = roster.SubjectTeam, t.ID
			names.names["team/"+t.ID] = t.Name
		}
	default:
		errs.Add("user", "a user or a team is required")
	}
	switch {
	case b.ScopeKind == roster.ScopeServer && body.Target != nil:
		errs.Add("target", "must be absent for the server scope")
	case b.ScopeKind != roster.ScopeServer && body.Target == nil:
		errs.Add("target", "is required for the %s scope: the %s's id or name", b.ScopeKind, b.ScopeKind)
	case b.ScopeKind != roster.ScopeServer:
		id, name, err := s.bindingTarget(ctx, b.ScopeKind, *body.Target)
		if err := inField("target", err); err != nil {
			return nil, err
		}
		b.ScopeID = id
		names.names[string(b.ScopeKind)+"/"+id] = name
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	// The rules of roles and scopes (a runner over an inventory only).
	if err := b.Validate(); err != nil {
		return nil, err
	}
	if err := s.store.CreateRoleBinding(ctx, b); err != nil {
		return nil, err
	}
	out := names.out(ctx, b)
	s.auditChange(ctx, "role_binding.create", "role_binding", b.ID, bindingLabel(out), inventoryOf(b), bindingDetails(out))
	return CreateRoleBinding201JSONResponse(out), nil
}

// DeleteRoleBinding implements StrictServerInterface. What the binding
// was is recorded: the audit log outlives it.
func (s *Server) DeleteRoleBinding(ctx context.Context, req DeleteRoleBindingRequestObject) (DeleteRoleBindingResponseObject, error) {
	b, err := s.roleBinding(ctx, req.Binding)
	if err != nil {
		return nil, err
	}
	out := (&bindingNames{s: s}).out(ctx, b)
	if err := s.store.DeleteRoleBinding(ctx, b.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "role_binding.delete", "role_binding", b.ID, bindingLabel(out), inventoryOf(b), bindingDetails(out))
	return DeleteRoleBinding204Response{}, nil
}

// bindingLabel is a binding in words: "team ops: operator on inventory prod".
func bindingLabel(b RoleBinding) string {
	on := "the server"
	if b.TargetName != nil {
		on = string(b.Scope) + " " + *b.TargetName
	}
	return string(b.SubjectKind) + " " + b.SubjectName + ": " + string(b.Role) + " on " + on
}

func bindingDetails(b RoleBinding) map[string]string {
	d := map[string]string{string(b.SubjectKind): b.SubjectName, "role": string(b.Role), "scope": string(b.Scope)}
	if b.TargetName != nil {
		d["target"] = *b.TargetName
	}
	return d
}

// inventoryOf is the inventory a binding is over, for the audit log.
func inventoryOf(b *roster.RoleBinding) string {
	if b.ScopeKind == roster.ScopeInventory {
		return b.ScopeID
	}
	return ""
}
