package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
)

// GetAnsibleInventory implements StrictServerInterface: the inventory in
// the shape `ansible-inventory --list` expects from a script, rendered once
// per inventory generation (host vars are stored encoded and copied
// through as they are), or one host's vars.
func (s *Server) GetAnsibleInventory(ctx context.Context, req GetAnsibleInventoryRequestObject) (GetAnsibleInventoryResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	all := req.Params.All != nil && *req.Params.All
	// Ansible's reading of the inventory is its launch: sources with an
	// update_cache_timeout are synced first when older.
	f, err := s.fresh(ctx, inv.ID, req.Params.MaxAge, (*string)(req.Params.Stale), true)
	if err != nil {
		return nil, err
	}
	if req.Params.Host != nil {
		resp, err := s.ansibleHost(ctx, inv, *req.Params.Host, all)
		if err != nil {
			return nil, err
		}
		return withFreshness{resp, f}, nil
	}
	if inv, err = s.afterSyncs(ctx, inv, f); err != nil {
		return nil, err
	}
	view, err := s.hostsOf(ctx, inv)
	if err != nil {
		return nil, err
	}
	kind := "ansible"
	if all {
		kind = "ansible-all"
	}
	neg := negotiation{ifNoneMatch: req.Params.IfNoneMatch, offerGzip: true, acceptsGzip: acceptsGzip(req.Params.AcceptEncoding)}
	return s.document(ctx, inv, f, view.docKey(inv, kind), "", neg, s.renderNamed(inv, func(ctx context.Context, w *bufio.Writer, names HostNaming) (int64, error) {
		return WriteAnsibleInventory(ctx, w, view, inv.ID, all, names)
	}))
}

// renderNamed renders a document of inv with write, which names hosts as
// inv's Ansible document does.
func (s *Server) renderNamed(inv *roster.Inventory, write func(ctx context.Context, w *bufio.Writer, names HostNaming) (int64, error)) renderFunc {
	return func(ctx context.Context, w *bufio.Writer) (int64, error) {
		names, err := s.hostNaming(ctx, inv)
		if err != nil {
			return 0, err
		}
		gen, err := write(ctx, w, names)
		if err != nil || names.Policy != roster.NamesPrefix {
			return gen, err
		}
		// The sources' names come from outside the walk's snapshot: a
		// source renamed meanwhile makes the document older than its
		// snapshot, to be rendered again by the next read.
		if again, err := s.hostNaming(ctx, inv); err != nil || !maps.Equal(again.Sources, names.Sources) {
			return gen - 1, err
		}
		return gen, nil
	}
}

// afterSyncs is inv as it is after the syncs a read waited for (they moved
// its generation).
func (s *Server) afterSyncs(ctx context.Context, inv *roster.Inventory, f freshness) (*roster.Inventory, error) {
	if !f.waited {
		return inv, nil
	}
	return s.store.Inventory(ctx, inv.ID)
}

// document answers with a whole-inventory document of inv rendered from
// its generation or a later one, rendering it when needed (and its gzip
// encoding, when offered and asked for), or with 304 when the client
// holds it.
func (s *Server) document(ctx context.Context, inv *roster.Inventory, f freshness, key docKey, variant string, neg negotiation, render renderFunc) (documentAnswer, error) {
	tag := func(gen int64) string {
		etag := key.etag(gen, variant)
		if neg.gzip() {
			return gzipETag(etag)
		}
		return etag
	}
	answer := documentAnswer{docs: s.docs, fresh: f, etag: tag(inv.Generation), vary: neg.offerGzip,
		slowLane: s.gates.slowReaders, slowAfter: s.gates.slowReader}
	if neg.holds(key.etag(inv.Generation, variant)) {
		return answer, nil
	}
	doc, err := s.docs.get(ctx, key, variant, inv.Generation, render)
	if err != nil {
		return documentAnswer{}, err
	}
	answer.doc, answer.etag = doc, tag(doc.generation)
	if neg.holds(key.etag(doc.generation, variant)) {
		s.docs.release(doc)
		answer.doc = nil
		return answer, nil
	}
	if neg.gzip() {
		// Encoded once per document, before taking a place to send it.
		if answer.gz, err = s.docs.gzipped(ctx, doc); err != nil {
			s.docs.release(doc)
			return documentAnswer{}, err
		}
		if answer.gz == nil {
			answer.etag = key.etag(doc.generation, variant) // it could not be encoded: sent as it is
		}
	}
	// A place to send it from: places bound the CPU documents take.
	if err := s.gates.documents.enter(ctx); err != nil {
		s.docs.release(doc)
		return documentAnswer{}, err
	}
	answer.ticket = &ticket{gate: s.gates.documents}
	return answer, nil
}

// withFreshness adds the freshness headers to an answer.
type withFreshness struct {
	GetAnsibleInventoryResponseObject
	fresh freshness
}

func (r withFreshness) VisitGetAnsibleInventoryResponse(w http.ResponseWriter) error {
	r.fresh.set(w.Header())
	return r.GetAnsibleInventoryResponseObject.VisitGetAnsibleInventoryResponse(w)
}

// ansibleHost answers `--host NAME` as the inventory's document names
// and combines its hosts.
func (s *Server) ansibleHost(ctx context.Context, inv *roster.Inventory, name string, all bool) (GetAnsibleInventoryResponseObject, error) {
	naming, err := s.hostNaming(ctx, inv)
	if err != nil {
		return nil, err
	}
	view, err := s.hostsOf(ctx, inv)
	if err != nil {
		return nil, err
	}
	var enabled *bool
	if !all {
		enabled = ptr(true)
	}
	notFound := roster.Errorf(roster.ENOTFOUND, "inventory %q has no host %q", inv.Name, name)
	// The hosts that may be named name: under the prefix policy, those of
	// the source whose name prefixes it; otherwise all hosts of the name.
	var filters []roster.HostFilter
	if naming.Policy == roster.NamesPrefix {
		for id, src := range naming.Sources {
			if rest, ok := strings.CutPrefix(name, src+"_"); ok && rest != "" {
				filters = append(filters, roster.HostFilter{InventoryID: inv.ID, SourceID: id, Name: rest, Enabled: enabled, Limit: 1})
			}
		}
	} else {
		// The hosts sharing a name: one per source, or more when a plugin
		// option allows them; read a page at a time.
		filters = append(filters, roster.HostFilter{InventoryID: inv.ID, Name: name, Enabled: enabled, Limit: 100})
	}
	var vars json.RawMessage
	for _, f := range filters {
		if strings.Contains(f.Name, "*") {
			continue // '*' is the filter's wildcard; no host name has one
		}
		for {
			hosts, next, err := view.Hosts(ctx, f)
			if err != nil {
				return nil, err
			}
			for _, h := range hosts {
				if h.Name != f.Name || naming.name(h) != name {
					continue
				}
				v, err := naming.vars(h)
				switch {
				case err != nil:
					return nil, err
				case vars == nil:
					vars = slices.Clone(v)
				case naming.Policy == roster.NamesMerge:
					if vars, err = mergeVars(vars, v); err != nil {
						return nil, err
					}
				}
			}
			if next == "" || naming.Policy != roster.NamesMerge {
				break
			}
			f.After = next
		}
	}
	if vars == nil {
		return nil, notFound
	}
	return rawJSON(vars), nil
}

// rawJSON answers with already encoded JSON.
type rawJSON []byte

func (r rawJSON) VisitGetAnsibleInventoryResponse(w http.ResponseWriter) error { return r.write(w) }

func (r rawJSON) VisitSetGroupVarsResponse(w http.ResponseWriter) error { return r.write(w) }

func (r rawJSON) write(w http.ResponseWriter) error {
	w.Header().Set("Content-Type", "application/json")
	_, err := w.Write(r)
	return err
}

// HostNaming is how an inventory's hosts are named in its Ansible
// document: by its name policy, over its sources' names (by id).
type HostNaming struct {
	Policy  roster.NamePolicy
	Sources map[string]string
}

// hostNaming reads the naming of inv's Ansible document.
func (s *Server) hostNaming(ctx context.Context, inv *roster.Inventory) (HostNaming, error) {
	n := HostNaming{Policy: inv.NamePolicy}
	if inv.Kind.Derived() {
		// Its one source's hosts are named already, its name policy
		// applied across its inputs when they were made.
		n.Policy = roster.NamesMerge
	}
	if n.Policy != roster.NamesPrefix {
		return n, nil
	}
	srcs, err := s.store.Sources(ctx, inv.ID)
	if err != nil {
		return n, err
	}
	n.Sources = make(map[string]string, len(srcs))
	for _, src := range srcs {
		n.Sources[src.ID] = src.Name
	}
	return n, nil
}

// name is h's name in Ansible's document.
func (n HostNaming) name(h *roster.Host) string {
	if n.Policy == roster.NamesPrefix {
		return n.Sources[h.SourceID] + "_" + h.Name
	}
	return h.Name
}

// vars are h's vars in Ansible's document, to be used before the next
// host is read: under the prefix policy a host without ansible_host gets
// its own name as one, so that Ansible still reaches it.
func (n HostNaming) vars(h *roster.Host) (json.RawMessage, error) {
	if len(h.Vars) == 0 {
		h.Vars = json.RawMessage("{}")
	}
	if n.Policy != roster.NamesPrefix {
		return h.Vars, nil
	}
	return withDefault(h.Vars, "ansible_host", h.Name)
}

// withDefault returns the JSON object vars with key set to value unless
// it has the key already.
func withDefault(vars json.RawMessage, key, value string) (json.RawMessage, error) {
	if bytes.Contains(vars, []byte(`"`+key+`"`)) {
		// The name appears: as a key of the object, or deeper down.
		var top map[string]json.RawMessage
		if err := json.Unmarshal(vars, &top); err != nil {
			return nil, fmt.Errorf("host vars: %w", err)
		}
		if _, ok := top[key]; ok {
			return vars, nil
		}
	}
	k, _ := json.Marshal(key)
	v, _ := json.Marshal(value)
	out := make([]byte, 0, len(vars)+len(k)+len(v)+2)
	out = append(append(append(append(out, '{'), k...), ':'), v...)
	if rest := bytes.TrimSpace(vars); len(rest) > 2 {
		out = append(append(out, ','), rest[1:]...)
	} else {
		out = append(out, '}')
	}
	return out, nil
}

// mergeVars merges the JSON objects a and b key by key, b's value winning,
// as Ansible sets the vars of a host that two inventory sources name.
func mergeVars(a, b json.RawMessage) (json.RawMessage, error) {
	var into, from map[string]json.RawMessage
	if err := json.Unmarshal(a, &into); err != nil {
		return nil, fmt.Errorf("host vars: %w", err)
	}
	if err := json.Unmarshal(b, &from); err != nil {
		return nil, fmt.Errorf("host vars: %w", err)
	}
	if into == nil {
		into = from
	} else {
		maps.Copy(into, from)
	}
	if into == nil {
		return json.RawMessage("{}"), nil
	}
	return json.Marshal(into)
}

// namedHost is one host of Ansible's document: the hosts of one name,
// combined as the naming says.
type namedHost struct {
	name string
	// vars are its vars, valid until the walk goes on.
	vars json.RawMessage
	// id is the first host's of the name; enabled, whether any host of
	// the name is.
	id      int64
	enabled bool
}

// inventoryGroups are the group memberships and groups a walk collects.
type inventoryGroups struct {
	members   map[string][]string // group → host names, in walk order
	ungrouped []string
	groups    map[string]*roster.Group
}

// walkNamed walks an inventory's hosts (disabled ones only with
// includeDisabled) as Ansible's document names them: each calls host once
// per name, in the store's order of names, with the vars of the hosts of
// that name combined as the naming's policy says (held back while the
// next host may be named alike: hosts come by name). It returns the
// memberships and groups it saw and the inventory generation it read.
func walkNamed(ctx context.Context, store roster.HostStore, inventoryID string, includeDisabled bool, naming HostNaming, each func(namedHost) error) (inventoryGroups, int64, error) {
	g := inventoryGroups{members: make(map[string][]string), groups: make(map[string]*roster.Group)}
	var cur namedHost
	first := true
	generation, err := store.WalkInventory(ctx, inventoryID, func(h *roster.Host) error {
		if !includeDisabled && !h.Enabled {
			return nil
		}
		name := naming.name(h)
		vars, err := naming.vars(h)
		if err != nil {
			return err
		}
		if name == cur.name && !first {
			// Sources named a host alike: Ansible has one host of that
			// name, whose groups add up and whose vars are merged
			// (merge) or are the first host's (first, fail).
			cur.enabled = cur.enabled || h.Enabled
			if naming.Policy != roster.NamesMerge {
				return nil
			}
			if cur.vars, err = mergeVars(cur.vars, vars); err != nil {
				return err
			}
			addMemberships(g.members, &g.ungrouped, name, h.Groups, true)
			return nil
		}
		if !first {
			if err := each(cur); err != nil {
				return err
			}
		}
		first = false
		cur = namedHost{name: name, vars: append(cur.vars[:0], vars...), id: h.ID, enabled: h.Enabled}
		addMemberships(g.members, &g.ungrouped, name, h.Groups, false)
		return nil
	}, func(gr *roster.Group) error {
		c := *gr
		c.Children = slices.Clone(gr.Children)
		c.Vars = slices.Clone(gr.Vars)
		g.groups[gr.Name] = &c
		return nil
	})
	if err != nil {
		return g, 0, err
	}
	if !first {
		if err := each(cur); err != nil {
			return g, 0, err
		}
	}
	return g, generation, nil
}

// groupNames are the names of every group of g: those with members and
// those that only nest or carry vars, sorted, without "all" and
// "ungrouped"; isChild tells the groups some group nests.
func (g inventoryGroups) groupNames() (sorted []string, isChild map[string]bool) {
	names := make(map[string]bool, len(g.members)+len(g.groups))
	for n := range g.members {
		names[n] = true
	}
	isChild = make(map[string]bool)
	for n, gr := range g.groups {
		names[n] = true
		for _, c := range gr.Children {
			isChild[c] = true
			names[c] = true
		}
	}
	delete(names, "all")
	delete(names, "ungrouped")
	sorted = make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
	return sorted, isChild
}

// WriteAnsibleInventory writes an inventory as Ansible's dynamic inventory
// JSON: _meta.hostvars first (streamed), then every group with its hosts,
// children and vars, "all" with the top-level groups, and "ungrouped" when
// some host is in no group (an empty one makes Ansible warn). Hosts are
// named by naming; hosts of one name are one host of Ansible's, combined
// as the naming's policy says. It returns the inventory generation it
// wrote; write errors are left in w, for its Flush.
func WriteAnsibleInventory(ctx context.Context, w *bufio.Writer, store roster.HostStore, inventoryID string, includeDisabled bool, naming HostNaming) (generation int64, err error) {
	first := true
	w.WriteString(`{"_meta":{"hostvars":{`)
	walked, generation, err := walkNamed(ctx, store, inventoryID, includeDisabled, naming, func(h namedHost) error {
		if !first {
			w.WriteByte(',')
		}
		first = false
		writeString(w, h.name)
		w.WriteByte(':')
		if len(h.vars) == 0 {
			w.WriteString("{}")
		} else {
			w.Write(h.vars)
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	w.WriteString(`}}`)
	members, ungrouped, groups := walked.members, walked.ungrouped, walked.groups

	// Every group: those with members and those that only nest or carry vars.
	sorted, isChild := walked.groupNames()
	var top []string
	for _, n := range sorted {
		if !isChild[n] {
			top = append(top, n)
		}
		w.WriteByte(',')
		writeString(w, n)
		w.WriteString(`:{`)
		sep := ""
		if hosts := members[n]; len(hosts) > 0 {
			w.WriteString(`"hosts":`)
			writeStrings(w, hosts)
			sep = ","
		}
		if g := groups[n]; g != nil {
			if len(g.Children) > 0 {
				w.WriteString(sep + `"children":`)
				writeStrings(w, g.Children)
				sep = ","
			}
			if len(g.Vars) > 0 {
				w.WriteString(sep + `"vars":`)
				w.Write(g.Vars)
				sep = ","
			}
		}
		if sep == "" {
			// Nothing to list (its hosts are disabled): Ansible's script
			// plugin would take {} for a host named like the group.
			w.WriteString(`"hosts":[]`)
		}
		w.WriteByte('}')
	}
	if len(ungrouped) > 0 {
		top = append(top, "ungrouped")
	}
	w.WriteString(`,"all":{"children":`)
	writeStrings(w, top)
	if g := groups["all"]; g != nil && len(g.Vars) > 0 {
		w.WriteString(`,"vars":`)
		w.Write(g.Vars)
	}
	w.WriteByte('}')
	if len(ungrouped) > 0 {
		w.WriteString(`,"ungrouped":{"hosts":`)
		writeStrings(w, ungrouped)
		w.WriteByte('}')
	}
	w.WriteString("}\n")
	return generation, nil
}

func addMemberships(members map[string][]string, ungrouped *[]string, name string, groups []string, duplicate bool) {
	if len(groups) == 0 {
		if !duplicate {
			*ungrouped = append(*ungrouped, name)
		}
		return
	}
	for _, g := range groups {
		list := members[g]
		if duplicate && len(list) > 0 && list[len(list)-1] == name {
			continue
		}
		members[g] = append(list, name)
	}
}

func writeStrings(w *bufio.Writer, list []string) {
	w.WriteByte('[')
	for i, s := range list {
		if i > 0 {
			w.WriteByte(',')
		}
		writeString(w, s)
	}
	w.WriteByte(']')
}

// writeString writes s as a JSON string.
func writeString(w *bufio.Writer, s string) {
	if isPlain(s) {
		w.WriteByte('"')
		w.WriteString(s)
		w.WriteByte('"')
		return
	}
	b, _ := json.Marshal(s)
	w.Write(b)
}

// isPlain reports whether s needs no JSON escaping.
func isPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
			return false
		}
	}
	return true
}
