package api

import (
	"bufio"
	"context"
	"encoding/json"
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
	key := docKey{inventoryID: inv.ID, kind: "ansible"}
	if all {
		key.kind = "ansible-all"
	}
	neg := negotiation{ifNoneMatch: req.Params.IfNoneMatch, offerGzip: true, acceptsGzip: acceptsGzip(req.Params.AcceptEncoding)}
	return s.document(ctx, inv, f, key, "", neg, func(ctx context.Context, w *bufio.Writer) (int64, error) {
		return WriteAnsibleInventory(ctx, w, s.store, inv.ID, all)
	})
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

func (s *Server) ansibleHost(ctx context.Context, inv *roster.Inventory, name string, all bool) (GetAnsibleInventoryResponseObject, error) {
	f := roster.HostFilter{InventoryID: inv.ID, Name: strings.ReplaceAll(name, "*", ""), Limit: 1}
	if !all {
		enabled := true
		f.Enabled = &enabled
	}
	hosts, _, err := s.store.Hosts(ctx, f)
	if err != nil {
		return nil, err
	}
	if len(hosts) == 0 || hosts[0].Name != name {
		return nil, roster.Errorf(roster.ENOTFOUND, "inventory %q has no host %q", inv.Name, name)
	}
	return rawJSON(hosts[0].Vars), nil
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

// WriteAnsibleInventory writes an inventory as Ansible's dynamic inventory
// JSON: _meta.hostvars first (streamed), then every group with its hosts,
// children and vars, "all" with the top-level groups, and "ungrouped" when
// some host is in no group (an empty one makes Ansible warn). It returns
// the inventory generation it wrote; write errors are left in w, for its
// Flush.
func WriteAnsibleInventory(ctx context.Context, w *bufio.Writer, store roster.HostStore, inventoryID string, includeDisabled bool) (generation int64, err error) {
	members := make(map[string][]string)
	var ungrouped []string
	groups := make(map[string]*roster.Group)
	first := true
	w.WriteString(`{"_meta":{"hostvars":{`)
	var prev string
	generation, err = store.WalkInventory(ctx, inventoryID, func(h *roster.Host) error {
		if !includeDisabled && !h.Enabled {
			return nil
		}
		if h.Name == prev && !first {
			// Two sources named a host alike: Ansible has one host of that
			// name; the first source's vars win, groups add up.
			addMemberships(members, &ungrouped, h, true)
			return nil
		}
		prev = h.Name
		if !first {
			w.WriteByte(',')
		}
		first = false
		writeString(w, h.Name)
		w.WriteByte(':')
		if len(h.Vars) == 0 {
			w.WriteString("{}")
		} else {
			w.Write(h.Vars)
		}
		addMemberships(members, &ungrouped, h, false)
		return nil
	}, func(g *roster.Group) error {
		c := *g
		c.Children = slices.Clone(g.Children)
		c.Vars = slices.Clone(g.Vars)
		groups[g.Name] = &c
		return nil
	})
	if err != nil {
		return 0, err
	}
	w.WriteString(`}}`)

	// Every group: those with members and those that only nest or carry vars.
	names := make(map[string]bool, len(members)+len(groups))
	for n := range members {
		names[n] = true
	}
	isChild := make(map[string]bool)
	for n, g := range groups {
		names[n] = true
		for _, c := range g.Children {
			isChild[c] = true
			names[c] = true
		}
	}
	delete(names, "all")
	delete(names, "ungrouped")
	sorted := make([]string, 0, len(names))
	for n := range names {
		sorted = append(sorted, n)
	}
	slices.Sort(sorted)
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

func addMemberships(members map[string][]string, ungrouped *[]string, h *roster.Host, duplicate bool) {
	if len(h.Groups) == 0 {
		if !duplicate {
			*ungrouped = append(*ungrouped, h.Name)
		}
		return
	}
	for _, g := range h.Groups {
		list := members[g]
		if duplicate && len(list) > 0 && list[len(list)-1] == h.Name {
			continue
		}
		members[g] = append(list, h.Name)
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
