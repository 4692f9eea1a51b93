package api

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
)

// What a token may see (README: "Tokens"):
//
//   - a token made without a list of inventories, of any role but runner,
//     sees every inventory;
//   - a token made with one sees those inventories only, and what belongs
//     to them (sources, runs, hosts, groups, documents, webhooks);
//   - a runner sees the inventories it holds grants for, and those it was
//     made with; a runner sees a credential only if it holds a grant of it.
//
// What a caller may not see answers exactly as what does not exist (404):
// refusing it (403) would tell it the thing is there. What it sees but may
// not do is refused with 403.

// seesInventory reports whether the request's token may see an inventory.
func (s *Server) seesInventory(ctx context.Context, id string) (bool, error) {
	c, err := s.visible(ctx)
	if err != nil {
		return false, err
	}
	return c.all || c.seen[id], nil
}

// hidden is the answer about something the caller may not see: the
// store's own for something that does not exist.
func hidden(what, ref string) error {
	return roster.Errorf(roster.ENOTFOUND, "%s %q not found", what, ref)
}

// inInventory finds something by ref with find, and answers it only if the
// caller may see the inventory it belongs to: what it may not see answers
// as absent (what, ref).
func inInventory[T any](s *Server, ctx context.Context, what, ref string, find func(context.Context, string) (T, error), inventoryOf func(T) string) (T, error) {
	var zero T
	v, err := find(ctx, ref)
	if err != nil {
		return zero, err
	}
	if ok, err := s.seesInventory(ctx, inventoryOf(v)); err != nil || !ok {
		return zero, orHidden(err, what, ref)
	}
	return v, nil
}

// inventory finds an inventory the caller may see.
func (s *Server) inventory(ctx context.Context, ref string) (*roster.Inventory, error) {
	return inInventory(s, ctx, "inventory", ref, s.store.Inventory, func(inv *roster.Inventory) string { return inv.ID })
}

// source finds a source of an inventory the caller may see, by ref: its
// id, INVENTORY/NAME (the inventory by id or name; "%2F" in a URL path),
// or a bare NAME that one source only, of those the caller sees, has.
func (s *Server) source(ctx context.Context, ref string) (*roster.Source, error) {
	return inInventory(s, ctx, "source", ref, s.findSource, func(src *roster.Source) string { return src.InventoryID })
}

// findSource resolves a source reference (see source). Names cannot hold
// a "/" nor look like an id (roster.ValidateName), so the three forms
// never overlap.
func (s *Server) findSource(ctx context.Context, ref string) (*roster.Source, error) {
	if invRef, name, ok := strings.Cut(ref, "/"); ok {
		inv, err := s.inventory(ctx, invRef)
		if err != nil {
			return nil, err
		}
		src, err := s.store.SourceByName(ctx, inv.ID, name)
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			return nil, roster.Errorf(roster.ENOTFOUND, "source %q not found in inventory %q", name, inv.Name)
		}
		return src, err
	}
	src, err := s.store.Source(ctx, ref)
	if roster.ErrorCode(err) != roster.ENOTFOUND {
		return src, err
	}
	src, err = s.store.SourceByName(ctx, "", ref)
	if roster.ErrorCode(err) != roster.ECONFLICT {
		return src, err
	}
	// Several inventories have a source of this name: it is ambiguous
	// only if the caller sees more than one of them (a conflict with a
	// source it may not see would tell it that source exists).
	invs, err := s.store.Inventories(ctx)
	if err != nil {
		return nil, err
	}
	var found []*roster.Source
	var names []string
	for _, inv := range invs {
		if ok, err := s.seesInventory(ctx, inv.ID); err != nil {
			return nil, err
		} else if !ok {
			continue
		}
		src, err := s.store.SourceByName(ctx, inv.ID, ref)
		switch {
		case roster.ErrorCode(err) == roster.ENOTFOUND:
			continue
		case err != nil:
			return nil, err
		}
		found, names = append(found, src), append(names, inv.Name)
	}
	switch len(found) {
	case 0:
		return nil, hidden("source", ref)
	case 1:
		return found[0], nil
	}
	return nil, roster.Errorf(roster.ECONFLICT, "sources named %q are in several inventories (%s): name one as INVENTORY/NAME, %q (%q in a URL path)",
		ref, strings.Join(names, ", "), names[0]+"/"+ref, names[0]+"%2F"+ref)
}

// syncRun finds a run of a source the caller may see.
func (s *Server) syncRun(ctx context.Context, id string) (*roster.SyncRun, error) {
	return inInventory(s, ctx, "sync run", id, s.store.SyncRun, func(run *roster.SyncRun) string { return run.InventoryID })
}

// webhook finds a webhook of an inventory the caller may see.
func (s *Server) webhook(ctx context.Context, ref string) (*roster.Webhook, error) {
	return inInventory(s, ctx, "webhook", ref, s.webhooks.Webhook, func(w *roster.Webhook) string { return w.InventoryID })
}

// visibleOnly keeps of items those the caller may see.
func visibleOnly[T any](ctx context.Context, items []T, sees func(context.Context, T) (bool, error)) ([]T, error) {
	out := items[:0]
	for _, v := range items {
		ok, err := sees(ctx, v)
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, v)
		}
	}
	return out, nil
}

// credential finds a credential the caller may see: a runner, one it holds
// a grant of; a token limited to inventories, none (credentials belong to
// no inventory); any other, every one.
func (s *Server) credential(ctx context.Context, ref string) (*roster.Credential, error) {
	return s.credentialFor(ctx, "", ref)
}

// credentialFor is credential for an action on it (credential.read,
// credential.issue, ...): a caller refused it is audited, as refused.
func (s *Server) credentialFor(ctx context.Context, action, ref string) (*roster.Credential, error) {
	c, err := s.store.Credential(ctx, ref)
	if err != nil {
		return nil, err
	}
	ok, err := s.seesCredential(ctx, c.ID)
	switch {
	case err != nil:
		return nil, err
	case !ok && action != "":
		reason := fmt.Sprintf("%s holds no grant of credential %q", callerFrom(ctx).describe(), c.Name)
		s.audit(ctx, &roster.AuditEvent{Action: action, Outcome: roster.AuditDenied, TargetType: "credential", TargetID: c.ID, TargetName: c.Name, Reason: reason})
		fallthrough
	case !ok:
		return nil, hidden("credential", ref)
	}
	return c, nil
}

func (s *Server) seesCredential(ctx context.Context, id string) (bool, error) {
	c, err := s.visible(ctx)
	if err != nil {
		return false, err
	}
	return c.all || c.creds[id], nil
}

// token finds a token the caller may see: tokens belong to no inventory,
// so only a caller seeing every inventory sees them.
func (s *Server) token(ctx context.Context, ref string) (*roster.Token, error) {
	tok, err := s.store.Token(ctx, ref)
	if err != nil {
		return nil, err
	}
	if c, err := s.visible(ctx); err != nil || !c.all {
		return nil, orHidden(err, "token", ref)
	}
	return tok, nil
}

// grant finds a grant for an inventory the caller may see.
func (s *Server) grant(ctx context.Context, id string) (*roster.Grant, error) {
	grants, err := s.store.Grants(ctx, roster.GrantFilter{})
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(grants, func(g *roster.Grant) bool { return g.ID == id })
	if i < 0 {
		return nil, hidden("grant", id)
	}
	if ok, err := s.seesInventory(ctx, grants[i].InventoryID); err != nil || !ok {
		return nil, orHidden(err, "grant", id)
	}
	return grants[i], nil
}

func orHidden(err error, what, ref string) error {
	if err != nil {
		return err
	}
	return hidden(what, ref)
}

// checkVisible answers a request the caller is refused: when what its
// path names is hidden from the caller (or absent), 404 as for anything
// absent, so that the refusal tells nothing. Path parameters are checked
// from the outermost.
func (s *Server) checkVisible(ctx context.Context, params map[string]string) error {
	for _, p := range []struct {
		name string
		find func(context.Context, string) error
	}{
		{"inventory", func(ctx context.Context, ref string) error { _, err := s.inventory(ctx, ref); return err }},
		{"source", func(ctx context.Context, ref string) error { _, err := s.source(ctx, ref); return err }},
		{"run", func(ctx context.Context, ref string) error { _, err := s.syncRun(ctx, ref); return err }},
		{"credential", func(ctx context.Context, ref string) error { _, err := s.credential(ctx, ref); return err }},
		{"token", func(ctx context.Context, ref string) error { _, err := s.token(ctx, ref); return err }},
		{"team", func(ctx context.Context, ref string) error { _, err := s.team(ctx, ref); return err }},
		{"user", func(ctx context.Context, ref string) error { _, err := s.user(ctx, ref); return err }},
		{"grant", func(ctx context.Context, ref string) error { _, err := s.grant(ctx, ref); return err }},
		{"binding", func(ctx context.Context, ref string) error { _, err := s.roleBinding(ctx, ref); return err }},
		{"webhook", func(ctx context.Context, ref string) error {
			if s.webhooks == nil {
				return nil
			}
			_, err := s.webhook(ctx, ref)
			return err
		}},
	} {
		if ref, ok := params[p.name]; ok {
			if err := p.find(ctx, ref); err != nil {
				return err
			}
		}
	}
	return nil
}
