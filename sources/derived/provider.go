package derived

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// A derived source has one scope per origin: the set of inputs a host's
// data comes from (the inputs it was found in, and those whose group vars
// reached it), as their sorted ids joined by spaces. The store keeps a
// host's scope, so reads can tell which inputs a host shows, for grants.
// Every scope is computed before the first is collected: reading the
// inputs is all or nothing, so a derived inventory never shows a part of
// its inputs.

// noHosts is the one scope of a run that found no host.
const noHosts = "none"

type provider struct {
	kind        roster.InventoryKind
	store       Store
	inventoryID string
	filter      *Filter
	limit       *Pattern
	log         *slog.Logger

	gens    map[string]int64
	byScope map[string][]sources.Instance
	parents map[string][]string // group → its parent groups, of every input
	notes   []string
}

// inputHost is a host of one input, named as the input's Ansible view
// names it (hosts of one name combined by the input's name policy).
type inputHost struct {
	name    string
	address string
	enabled bool
	groups  []string
	sources []string
	vars    map[string]any
	origin  map[int]bool // input positions
}

// Scopes implements sources.Provider: it reads every input and computes
// every host.
func (p *provider) Scopes(ctx context.Context) ([]string, error) {
	inv, err := p.store.Inventory(ctx, p.inventoryID)
	if err != nil {
		return nil, fmt.Errorf("read the inventory: %w", err)
	}
	if !inv.Kind.Derived() || len(inv.Inputs) == 0 {
		return nil, roster.Errorf(roster.EINVALID, "inventory %q has no inputs to read", inv.Name)
	}
	p.gens = make(map[string]int64, len(inv.Inputs))
	names := make([]string, len(inv.Inputs))
	groupVars := map[string]map[string]any{}
	groupOrigin := map[string]map[int]bool{}
	children := map[string]map[string]bool{}
	var perInput [][]*inputHost
	for i, id := range inv.Inputs {
		in, err := p.store.Inventory(ctx, id)
		if err != nil {
			return nil, fmt.Errorf("read input %d: %w", i, err)
		}
		names[i] = in.Name
		hosts, err := p.readInput(ctx, in, i, func(g *roster.Group) error {
			for _, c := range g.Children {
				if children[g.Name] == nil {
					children[g.Name] = map[string]bool{}
				}
				children[g.Name][c] = true
			}
			if len(g.Vars) > 2 {
				vars, err := decodeVars(g.Vars)
				if err != nil {
					return fmt.Errorf("group %s vars of input %q: %w", g.Name, in.Name, err)
				}
				if len(vars) > 0 {
					if groupVars[g.Name] == nil {
						groupVars[g.Name], groupOrigin[g.Name] = map[string]any{}, map[int]bool{}
					}
					// Groups are one by name across inputs; the later
					// input's value wins, key by key (ansible-inventory).
					maps.Copy(groupVars[g.Name], vars)
					groupOrigin[g.Name][i] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		perInput = append(perInput, hosts)
	}
	hosts, err := p.combine(inv, names, perInput)
	if err != nil {
		return nil, err
	}

	p.parents = map[string][]string{}
	for parent, cs := range children {
		for c := range cs {
			p.parents[c] = append(p.parents[c], parent)
		}
	}
	depth := groupDepths(p.parents)
	var edges []roster.GroupEdge
	used := map[string]bool{}
	p.byScope = map[string][]sources.Instance{}
	for _, h := range hosts {
		ancestors := p.ancestors(h.groups, nil)
		// The host's vars as ansible-inventory --list shows them: the
		// group vars of its groups and their ancestors ("all" lowest,
		// then by depth, then by name), its own over them.
		ordered := slices.Collect(maps.Keys(ancestors))
		slices.SortFunc(ordered, func(a, b string) int {
			return cmp.Or(cmp.Compare(max(depth[a], 1), max(depth[b], 1)), strings.Compare(a, b))
		})
		vars := map[string]any{}
		for _, g := range append([]string{"all"}, ordered...) {
			used[g] = true
			if gv := groupVars[g]; gv != nil {
				maps.Copy(vars, gv)
				for i := range groupOrigin[g] {
					h.origin[i] = true
				}
			}
		}
		maps.Copy(vars, h.vars)
		ids := make([]string, 0, len(h.origin))
		for i := range h.origin {
			ids = append(ids, inv.Inputs[i])
		}
		slices.Sort(ids)
		scope := strings.Join(ids, " ")
		names := make([]string, 0, len(ancestors))
		for g := range ancestors {
			if g != "all" && g != "ungrouped" {
				names = append(names, g)
			}
		}
		slices.Sort(names)
		inst := sources.Instance{
			GroupNames: names,
			ExternalID: h.name,
			Hostnames:  []string{h.name},
			Address:    h.address,
			Enabled:    h.enabled,
			Groups:     h.groups,
			Vars:       vars,
			// constructed's compose sees inventory_hostname and the
			// host's group_names; a smart inventory composes nothing.
			ComposeSeesInventoryVars: p.kind == roster.KindConstructed,
		}
		p.byScope[scope] = append(p.byScope[scope], inst)
	}
	// The input's group nesting, for the groups the hosts are in.
	for parent, cs := range children {
		for c := range cs {
			if used[c] {
				edges = append(edges, roster.GroupEdge{Parent: parent, Child: c})
			}
		}
	}
	scopes := slices.Sorted(maps.Keys(p.byScope))
	if len(scopes) == 0 {
		return []string{noHosts}, nil
	}
	// Edges go to the engine with one host: it keeps them as a set.
	p.byScope[scopes[0]][0].Edges = edges
	return scopes, nil
}

// readInput reads one input, named as its Ansible view names its hosts.
func (p *provider) readInput(ctx context.Context, in *roster.Inventory, pos int, group func(*roster.Group) error) ([]*inputHost, error) {
	srcs, err := p.store.Sources(ctx, in.ID)
	if err != nil {
		return nil, fmt.Errorf("read the sources of input %q: %w", in.Name, err)
	}
	srcNames := make(map[string]string, len(srcs))
	for _, s := range srcs {
		srcNames[s.ID] = s.Name
	}
	// A constructed inventory reads what ansible-inventory reads of the
	// input: its enabled hosts. A smart one reads every host: enabled is
	// one of the filter's keys, as in AWX.
	includeDisabled := p.kind == roster.KindSmart
	var hosts []*inputHost
	var cur *inputHost
	gen, err := p.store.WalkInventory(ctx, in.ID, func(h *roster.Host) error {
		if !includeDisabled && !h.Enabled {
			return nil
		}
		name := h.Name
		if in.NamePolicy == roster.NamesPrefix {
			name = srcNames[h.SourceID] + "_" + h.Name
		}
		var vars map[string]any
		if len(h.Vars) > 0 {
			var err error
			if vars, err = decodeVars(h.Vars); err != nil {
				return fmt.Errorf("host %s of input %q: %w", h.Name, in.Name, err)
			}
		}
		if vars == nil {
			vars = map[string]any{}
		}
		if in.NamePolicy == roster.NamesPrefix {
			if _, ok := vars["ansible_host"]; !ok {
				vars["ansible_host"] = h.Name
			}
		}
		if cur != nil && cur.name == name {
			// Hosts of one name are one host of the input's view: merged
			// (merge), or the first one's (first, fail).
			cur.enabled = cur.enabled || h.Enabled
			if in.NamePolicy == roster.NamesMerge {
				maps.Copy(cur.vars, vars)
				cur.groups = mergeSorted(cur.groups, h.Groups)
				if s := srcNames[h.SourceID]; !slices.Contains(cur.sources, s) {
					cur.sources = append(cur.sources, s)
				}
			}
			return nil
		}
		cur = &inputHost{name: name, address: h.Address, enabled: h.Enabled, groups: slices.Clone(h.Groups),
			sources: []string{srcNames[h.SourceID]}, vars: vars, origin: map[int]bool{pos: true}}
		hosts = append(hosts, cur)
		return nil
	}, group)
	if err != nil {
		return nil, fmt.Errorf("read input %q: %w", in.Name, err)
	}
	p.gens[in.ID] = gen
	if p.filter != nil {
		kept := hosts[:0]
		for _, h := range hosts {
			if p.filter.Match(&Host{Name: h.name, Enabled: h.enabled, Groups: h.groups, Inventory: in.Name, InventoryID: in.ID,
				Sources: h.sources, Vars: h.vars}) {
				kept = append(kept, h)
			}
		}
		hosts = kept
	}
	return hosts, nil
}

// maxConflictsShown bounds the names a run's note or error lists.
const maxConflictsShown = 5

// combine makes one list of hosts of the inputs', resolving names found
// in several inputs by the derived inventory's name policy.
func (p *provider) combine(inv *roster.Inventory, names []string, perInput [][]*inputHost) ([]*inputHost, error) {
	byName := map[string]*inputHost{}
	var out []*inputHost
	var conflicts []string
	n := 0
	for i, hosts := range perInput {
		for _, h := range hosts {
			if inv.NamePolicy == roster.NamesPrefix {
				if _, ok := h.vars["ansible_host"]; !ok {
					h.vars["ansible_host"] = h.name
				}
				h.name = names[i] + "_" + h.name
			}
			have := byName[h.name]
			if have == nil {
				byName[h.name] = h
				out = append(out, h)
				continue
			}
			n++
			if len(conflicts) < maxConflictsShown {
				var in []string
				for j := range have.origin {
					in = append(in, names[j])
				}
				slices.Sort(in)
				conflicts = append(conflicts, fmt.Sprintf("%q (%s and %s)", h.name, strings.Join(in, ", "), names[i]))
			}
			if inv.NamePolicy != roster.NamesMerge {
				continue
			}
			// One host, as ansible-inventory -i in1 -i in2 makes it:
			// vars key by key with the later input winning, groups added.
			maps.Copy(have.vars, h.vars)
			have.groups = mergeSorted(have.groups, h.groups)
			have.enabled = have.enabled || h.enabled
			have.origin[i] = true
		}
	}
	if n == 0 {
		return out, nil
	}
	more := ""
	if n > len(conflicts) {
		more = fmt.Sprintf(" and %d more", n-len(conflicts))
	}
	switch inv.NamePolicy {
	case roster.NamesFail:
		return nil, roster.Errorf(roster.EINVALID, "%d hosts are named alike in several inputs of inventory %q, whose name_policy is fail: %s%s; nothing was changed",
			n, inv.Name, strings.Join(conflicts, ", "), more)
	case roster.NamesFirst:
		p.notes = append(p.notes, fmt.Sprintf("%d host names are in several inputs: %s%s; the earliest input's host is kept (name_policy first)",
			n, strings.Join(conflicts, ", "), more))
	case roster.NamesPrefix:
		p.notes = append(p.notes, fmt.Sprintf("%d prefixed host names are still alike: %s%s; the earliest input's host is kept",
			n, strings.Join(conflicts, ", "), more))
	default:
		p.notes = append(p.notes, fmt.Sprintf("%d host names are in several inputs: %s%s; each is one host, merged (name_policy merge)",
			n, strings.Join(conflicts, ", "), more))
	}
	return out, nil
}

// ancestors returns groups and every group above them, through the
// inputs' nesting and extra edges.
func (p *provider) ancestors(groups []string, extra []roster.GroupEdge) map[string]bool {
	out := map[string]bool{}
	stack := slices.Clone(groups)
	for len(stack) > 0 {
		g := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if out[g] {
			continue
		}
		out[g] = true
		stack = append(stack, p.parents[g]...)
		for _, e := range extra {
			if e.Child == g {
				stack = append(stack, e.Parent)
			}
		}
	}
	return out
}

// groupDepths is each group's depth below "all" (1 for a top-level
// group), as Ansible orders group vars by it.
func groupDepths(parents map[string][]string) map[string]int {
	depth := map[string]int{}
	var visit func(g string, seen map[string]bool) int
	visit = func(g string, seen map[string]bool) int {
		if d, ok := depth[g]; ok {
			return d
		}
		if seen[g] {
			return 1 // a cycle: Ansible refuses them; do not loop
		}
		seen[g] = true
		d := 1
		for _, p := range parents[g] {
			if p != "all" {
				d = max(d, visit(p, seen)+1)
			}
		}
		depth[g] = d
		return d
	}
	for g := range parents {
		visit(g, map[string]bool{})
	}
	return depth
}

// Collect implements sources.Provider.
func (p *provider) Collect(_ context.Context, scope string) ([]sources.Instance, error) {
	return p.byScope[scope], nil
}

// Concurrency: the scopes are computed already; collecting them is a
// map read.
func (p *provider) Concurrency() int { return 1 }

// Notes implements sources.Noter: the host names found in several inputs.
func (p *provider) Notes() []string { return p.notes }

// InputGenerations implements sources.InputReporter.
func (p *provider) InputGenerations() map[string]int64 { return p.gens }

// Keep implements sources.HostLimiter: a constructed inventory's limit.
func (p *provider) Keep(name string, groups []string, edges []roster.GroupEdge) bool {
	if p.limit == nil {
		return true
	}
	return p.limit.Match(name, p.ancestors(groups, edges))
}

func mergeSorted(a, b []string) []string {
	out := append(slices.Clone(a), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// decodeVars decodes a JSON object of vars as Ansible would load it:
// integers as integers (Python's int: 1 + 2 is 3, not 3.0), other
// numbers as floats.
func decodeVars(raw []byte) (map[string]any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	for k, x := range v {
		v[k] = numbers(x)
	}
	return v, nil
}

func numbers(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case map[string]any:
		for k, e := range x {
			x[k] = numbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = numbers(e)
		}
	}
	return v
}
