package api

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
)

// Grants apply in an inventory made of others (issue 19): a caller sees
// in a smart or constructed inventory only the hosts made of inputs it
// may read. A materialised host's scope is the ids of the inputs its
// data came from, its own rows' and those whose group vars reached it,
// sorted and space-separated (sources/derived), so a host is shown when
// the caller may read every one of them: no value of another input
// reaches the caller through merged vars, composed vars or constructed
// groups.

// hostView is an inventory's hosts as a caller reads them: all of them
// (HostStore is the store), or those of the inputs it may read.
type hostView struct {
	roster.HostStore
	// allowed is nil for the whole inventory; else the inputs the caller
	// may read.
	allowed map[string]bool
	// key names the inputs seen ("" for the whole inventory): documents
	// rendered for one set of inputs are shared only by callers who see
	// that set.
	key string
}

// hostsOf returns the view of inv's hosts the request's caller has.
func (s *Server) hostsOf(ctx context.Context, inv *roster.Inventory) (*hostView, error) {
	whole := &hostView{HostStore: s.store}
	if !inv.Kind.Derived() {
		return whole, nil
	}
	sg, err := s.visible(ctx)
	if err != nil || sg.all {
		return whole, err
	}
	allowed := map[string]bool{}
	for _, id := range inv.Inputs {
		if sg.seen[id] {
			allowed[id] = true
		}
	}
	if len(allowed) == len(inv.Inputs) {
		return whole, nil
	}
	sum := sha256.Sum256([]byte(strings.Join(slices.Sorted(maps.Keys(allowed)), " ")))
	return &hostView{HostStore: s.store, allowed: allowed, key: hex.EncodeToString(sum[:6])}, nil
}

// inventoryHosts resolves an inventory by its id or name and the view
// of its hosts the request's caller has.
func (s *Server) inventoryHosts(ctx context.Context, ref string) (*roster.Inventory, *hostView, error) {
	inv, err := s.inventory(ctx, ref)
	if err != nil {
		return nil, nil, err
	}
	view, err := s.hostsOf(ctx, inv)
	if err != nil {
		return nil, nil, err
	}
	return inv, view, nil
}

// partial reports whether the view leaves hosts out.
func (v *hostView) partial() bool { return v.allowed != nil }

// docKey is the document slot of kind for inv in this view.
func (v *hostView) docKey(inv *roster.Inventory, kind string) docKey {
	if v.partial() {
		kind += "@" + v.key
	}
	return docKey{inventoryID: inv.ID, kind: kind}
}

// shows reports whether the view shows h.
func (v *hostView) shows(h *roster.Host) bool {
	if v.allowed == nil {
		return true
	}
	for id := range strings.FieldsSeq(h.Scope) {
		if !v.allowed[id] {
			return false
		}
	}
	return true
}

// wholeOnly refuses what this view cannot show in part: a smart or
// constructed inventory's change logs record every input's hosts.
func (v *hostView) wholeOnly(what string) error {
	if !v.partial() {
		return nil
	}
	return roster.Errorf(roster.EFORBIDDEN, "%s of a smart or constructed inventory shows the hosts of every input: reading it needs read access to each of them", what)
}

// maxViewPages bounds the pages of the store one page of a partial view
// reads looking for hosts it shows: a caller that sees few of a large
// inventory's hosts gets short pages, each linking to the next, rather
// than one read of every host.
const maxViewPages = 20

// Hosts implements roster.HostStore: a page of the hosts the view shows,
// filled from the store's pages up to maxViewPages of them.
func (v *hostView) Hosts(ctx context.Context, f roster.HostFilter) ([]*roster.Host, string, error) {
	if !v.partial() {
		return v.HostStore.Hosts(ctx, f)
	}
	var out []*roster.Host
	limit := f.Limit
	for range maxViewPages {
		if limit > 0 {
			f.Limit = limit - len(out)
		}
		hosts, next, err := v.HostStore.Hosts(ctx, f)
		if err != nil {
			return nil, "", err
		}
		for _, h := range hosts {
			if v.shows(h) {
				out = append(out, h)
			}
		}
		if next == "" || (limit > 0 && len(out) >= limit) {
			return out, next, nil
		}
		f.After = next
	}
	return out, f.After, nil
}

// Host implements roster.HostStore: a host the view does not show
// answers as one that does not exist.
func (v *hostView) Host(ctx context.Context, inventoryID string, id int64) (*roster.Host, error) {
	h, err := v.HostStore.Host(ctx, inventoryID, id)
	if err == nil && !v.shows(h) {
		return nil, roster.Errorf(roster.ENOTFOUND, "host %d not found", id)
	}
	return h, err
}

// WalkInventory implements roster.HostStore: the hosts the view shows,
// and the inventory's groups of children or vars.
func (v *hostView) WalkInventory(ctx context.Context, inventoryID string, host func(*roster.Host) error, group func(*roster.Group) error) (int64, error) {
	if !v.partial() {
		return v.HostStore.WalkInventory(ctx, inventoryID, host, group)
	}
	return v.HostStore.WalkInventory(ctx, inventoryID, func(h *roster.Host) error {
		if !v.shows(h) {
			return nil
		}
		return host(h)
	}, group)
}

// Groups implements roster.HostStore: the groups of the hosts the view
// shows, counted over them (a walk: the kept counts are the whole
// inventory's), and the groups nesting or vars name.
func (v *hostView) Groups(ctx context.Context, inventoryID string) ([]*roster.Group, error) {
	if !v.partial() {
		return v.HostStore.Groups(ctx, inventoryID)
	}
	groups := map[string]*roster.Group{}
	get := func(name string) *roster.Group {
		g := groups[name]
		if g == nil {
			g = &roster.Group{Name: name}
			groups[name] = g
		}
		return g
	}
	_, err := v.WalkInventory(ctx, inventoryID, func(h *roster.Host) error {
		for i, name := range h.Groups {
			if !slices.Contains(h.Groups[:i], name) {
				get(name).Hosts++
			}
		}
		return nil
	}, func(g *roster.Group) error {
		into := get(g.Name)
		into.Children, into.Vars = slices.Clone(g.Children), slices.Clone(g.Vars)
		for _, c := range g.Children {
			get(c)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("count the groups of the hosts shown: %w", err)
	}
	return slices.SortedFunc(maps.Values(groups), func(a, b *roster.Group) int { return strings.Compare(a.Name, b.Name) }), nil
}

// GroupsFirst implements roster.HostStore: a partial view lists every
// group (of the hosts it shows).
func (v *hostView) GroupsFirst(ctx context.Context, inventoryID string, n int) ([]*roster.Group, int, error) {
	if !v.partial() {
		return v.HostStore.GroupsFirst(ctx, inventoryID, n)
	}
	groups, err := v.Groups(ctx, inventoryID)
	return groups, len(groups), err
}

// wholeInventoryOnly refuses the caller what of inventory id it may read
// only whole (see hostView.wholeOnly).
func (s *Server) wholeInventoryOnly(ctx context.Context, id, what string) error {
	inv, err := s.store.Inventory(ctx, id)
	if err != nil {
		return err
	}
	view, err := s.hostsOf(ctx, inv)
	if err != nil {
		return err
	}
	return view.wholeOnly(what)
}
