package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api/ui"
)

// The Web UI's inventory pages: the inventories, an inventory's hosts
// (searched, a page at a time on the server's side), a host with its
// change history, and the group tree. Each page reads what the API
// operation of the same content would let the person read
// (authorizeRequest with its operation id, then the handler's own
// lookups: s.inventory, the store's Hosts, Host, Groups, HostHistory).

const (
	// hostsPageSize is the hosts a page shows.
	hostsPageSize = 50
	// maxSearchParam bounds each search parameter; a cursor may be longer.
	maxSearchParam = roster.MaxVarMatch
	// varScan bounds the hosts a page of a var search (or of the
	// ungrouped hosts) looks at: no index serves it, and reading the vars of 100,000 hosts for one page takes
	// 150 ms and more on SQLite (BenchmarkWebUIPages).
	varScan = 10_000
	// hostHistoryShown is the changes a host page shows, newest first.
	hostHistoryShown = 50
	// maxGroupNodes bounds the group tree: an inventory keyed by a tag
	// of every host has as many groups as hosts.
	maxGroupNodes = 2000
)

// mountInventoryPages mounts the Web UI's pages of inventories, their
// hosts (search, host pages with history) and groups.
func (s *Server) mountInventoryPages(mux *http.ServeMux) {
	const section = "Inventories"
	mux.HandleFunc("GET "+ui.InventoriesPath, s.signedIn(section, s.serveInventories))
	mux.HandleFunc("GET "+ui.InventoriesPath+"/{inv}", s.signedIn(section, s.serveHosts))
	mux.HandleFunc("GET "+ui.InventoriesPath+"/{inv}/hosts/{host}", s.signedIn(section, s.serveHost))
	mux.HandleFunc("GET "+ui.InventoriesPath+"/{inv}/groups", s.signedIn(section, s.serveGroups))
}

// inventoryPath is the hosts page of inventory name.

// hostsPath is the hosts page of an inventory searched by q.
func hostsPath(inv string, q url.Values) string {
	if len(q) == 0 {
		return ui.InventoryPath(inv)
	}
	return ui.InventoryPath(inv) + "?" + q.Encode()
}

// hostCounts counts the hosts of every inventory, by id (none when the
// store keeps no statistics).
func (s *Server) hostCounts(ctx context.Context) (map[string]roster.HostCount, error) {
	counts := map[string]roster.HostCount{}
	st, ok := s.store.(roster.StatsStore)
	if !ok {
		return counts, nil
	}
	all, err := st.HostCounts(ctx)
	if err != nil {
		return nil, err
	}
	for _, hc := range all {
		counts[hc.InventoryID] = hc
	}
	return counts, nil
}

// serveInventories lists the inventories GET /api/v1/inventories lists
// the person, with their host counts and, if it may list sources, how
// many sources each has.
func (s *Server) serveInventories(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	page := ui.InventoryList{Page: p.Page}
	ctx, invs, err := s.inventoriesFor(p, "ListInventories")
	if roster.ErrorCode(err) == roster.EFORBIDDEN {
		page.Message = "You may not list inventories: ask an admin for a role binding."
		s.render(w, http.StatusOK, "inventories", page)
		return
	}
	var counts map[string]roster.HostCount
	if err == nil {
		counts, err = s.hostCounts(ctx)
	}
	var seesSources func(string) (bool, error)
	if err == nil {
		seesSources, err = s.seesFor(p, "ListSources")
	}
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	for _, inv := range invs {
		item := ui.InventoryItem{Name: inv.Name, Description: inv.Description, Path: ui.InventoryPath(inv.Name), Kind: derivedKind(inv),
			Hosts: counts[inv.ID].Hosts, Enabled: counts[inv.ID].Enabled, Sources: -1}
		ok, err := seesSources(inv.ID)
		if err == nil && ok {
			var srcs []*roster.Source
			srcs, err = s.store.Sources(ctx, inv.ID)
			item.Sources = len(srcs)
		}
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		if item.Sources >= 0 {
			page.SourcesShown = true
		}
		page.Inventories = append(page.Inventories, item)
	}
	s.render(w, http.StatusOK, "inventories", page)
}

// uiInventory finds the inventory of the request's path for operation
// (an API operation id), as the API would for that operation: one the
// person may not see is not found, one it sees but may not do this on is
// refused.
func (s *Server) uiInventory(p *uiRequest, r *http.Request, operation string) (*roster.Inventory, error) {
	ref := r.PathValue("inv")
	if err := s.authorizeRequest(p.ctx, operation, map[string]string{"inventory": ref}); err != nil {
		return nil, err
	}
	return s.inventory(p.ctx, ref)
}

// searchOf reads the hosts page's query into a filter of inv. On a bad
// query it returns the search as given, to show again, and the error.
func searchOf(q url.Values, inv *roster.Inventory) (ui.HostSearch, roster.HostFilter, error) {
	get := func(name string, max int) (string, error) {
		v := q[name]
		switch {
		case len(v) == 0:
			return "", nil
		case len(v) > 1:
			return "", roster.Invalid(roster.FieldError{Field: name, Message: "give it once"})
		case len(v[0]) > max:
			return "", roster.Invalid(roster.FieldError{Field: name, Message: fmt.Sprintf("at most %d bytes", max)})
		}
		return v[0], nil
	}
	var search ui.HostSearch
	f := roster.HostFilter{InventoryID: inv.ID, Limit: hostsPageSize}
	var errs roster.FieldErrors
	field := func(name string, max int, into *string) {
		v, err := get(name, max)
		if err != nil {
			errs = append(errs, err.(*roster.Error).Fields...)
			return
		}
		*into = v
	}
	field("name", maxSearchParam, &search.Name)
	field("group", maxSearchParam, &search.Group)
	field("var", 2*maxSearchParam+1, &search.Var)
	field("enabled", 8, &search.Enabled)
	field("after", maxCursorParam, &f.After)
	f.Name, f.Group = search.Name, search.Group
	if f.Group == "ungrouped" {
		// Ansible's group of the hosts of no group: no index serves it.
		f.Group, f.Ungrouped, f.Scan = "", true, varScan
	}
	switch search.Enabled {
	case "":
	case "true", "false":
		yes := search.Enabled == "true"
		f.Enabled = &yes
	default:
		errs = append(errs, roster.FieldError{Field: "enabled", Message: "true, false or nothing"})
		search.Enabled = ""
	}
	if m, err := roster.ParseVarMatch(search.Var); err != nil {
		if e, ok := err.(*roster.Error); ok {
			errs = append(errs, e.Fields...)
		}
	} else if f.Var = m; m.Key != "" {
		f.Scan = varScan
	}
	if len(errs) > 0 {
		return search, f, roster.Invalid(errs...)
	}
	return search, f, nil
}

// searchError says what is wrong with a search, in words for the form.
func searchError(err error) string {
	e, ok := err.(*roster.Error)
	if !ok || len(e.Fields) == 0 {
		return roster.ErrorMessage(err)
	}
	labels := map[string]string{"name": "Name", "group": "Group", "var": "Var", "enabled": "Enabled", "after": "Page link"}
	msg := ""
	for i, fe := range e.Fields {
		if i > 0 {
			msg += "; "
		}
		label := labels[fe.Field]
		if label == "" {
			label = fe.Field
		}
		msg += label + ": " + fe.Message
	}
	return msg
}

// serveHosts shows a page of an inventory's hosts, as GET
// /api/v1/inventories/{inv}/hosts lists them: searched by name (glob
// '*'), group, a var's value and the enabled flag, a page at a time by
// the store's cursor. A bad search shows the form again, with what is
// wrong, and 400.
func (s *Server) serveHosts(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	inv, err := s.uiInventory(p, r, "ListHosts")
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page := ui.HostsPage{Page: p.Page, Inventory: inv.Name, Description: inv.Description, Path: ui.InventoryPath(inv.Name),
		GroupsPath: ui.InventoryPath(inv.Name) + "/groups", PageSize: hostsPageSize}
	counts, err := s.hostCounts(p.ctx)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page.Total, page.Enabled = counts[inv.ID].Hosts, counts[inv.ID].Enabled
	q := r.URL.Query()
	search, filter, err := searchOf(q, inv)
	page.Search = search
	page.Searching = search != (ui.HostSearch{})
	if err != nil {
		page.Error = searchError(err)
		s.render(w, http.StatusBadRequest, "hosts", page)
		return
	}
	view, err := s.hostsOf(p.ctx, inv)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	hosts, next, err := view.Hosts(p.ctx, filter)
	if err != nil {
		if roster.ErrorCode(err) != roster.EINVALID {
			s.uiFail(w, p, err)
			return
		}
		// The search was checked: what the store refuses is the cursor.
		page.Error = "The page link is broken or stale: start again from the first page."
		s.render(w, http.StatusBadRequest, "hosts", page)
		return
	}
	// The links keep the search, without what was left empty.
	kept := url.Values{}
	for k, v := range map[string]string{"name": search.Name, "group": search.Group, "var": search.Var, "enabled": search.Enabled} {
		if v != "" {
			kept.Set(k, v)
		}
	}
	if filter.After != "" {
		page.First = hostsPath(inv.Name, kept)
	}
	page.Scanned = filter.Scan
	if next != "" {
		more := url.Values{}
		for k, v := range kept {
			more[k] = v
		}
		more.Set("after", next)
		page.Next = hostsPath(inv.Name, more)
	}
	for _, h := range hosts {
		page.Hosts = append(page.Hosts, ui.HostItem{Name: h.Name, Path: hostPath(inv.Name, h.ID), Address: h.Address,
			Enabled: h.Enabled, Missing: h.Missing, Groups: h.Groups, LastSeen: &h.LastSeen})
	}
	s.render(w, http.StatusOK, "hosts", page)
}

// hostPath is the page of host id of inventory inv.
func hostPath(inv string, id int64) string {
	return ui.InventoryPath(inv) + "/hosts/" + strconv.FormatInt(id, 10)
}

// groupHostsPath lists the hosts of a group of inventory inv.
func groupHostsPath(inv, group string) string {
	return hostsPath(inv, url.Values{"group": {group}})
}

// serveHost shows a host, as GET /api/v1/inventories/{inv}/hosts/{host}
// answers it, with its change history as GET .../hosts/{name}/history
// lists it (if the person may read it) and the source that found it.
func (s *Server) serveHost(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	inv, err := s.uiInventory(p, r, "GetHost")
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	id, perr := strconv.ParseInt(r.PathValue("host"), 10, 64)
	if perr != nil {
		s.uiFail(w, p, roster.Errorf(roster.ENOTFOUND, "host %q not found: a host's page is named by its id", clip(r.PathValue("host"))))
		return
	}
	view, err := s.hostsOf(p.ctx, inv)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	h, err := view.Host(p.ctx, inv.ID, id)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page := ui.HostPage{Page: p.Page, Inventory: inv.Name, InventoryPath: ui.InventoryPath(inv.Name), Name: h.Name, Address: h.Address,
		Enabled: h.Enabled, Missing: h.Missing, Source: h.SourceID, FirstSeen: &h.FirstSeen, LastSeen: &h.LastSeen}
	for _, g := range h.Groups {
		page.Groups = append(page.Groups, ui.GroupLink{Name: g, Path: groupHostsPath(inv.Name, g)})
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, h.Vars, "", "  "); err != nil {
		pretty.Reset()
		pretty.Write(h.Vars)
	}
	page.Vars = pretty.String()

	// The history, as GetHostHistory reads it: auditors and up.
	if err := s.authorizeRequest(p.ctx, "GetHostHistory", map[string]string{"inventory": inv.ID}); err != nil {
		page.HistoryMessage = "You may not read the hosts' change history."
	} else if view.partial() {
		page.HistoryMessage = "The change history of this inventory's hosts needs read access to every inventory it is made of."
	} else {
		changes, next, err := s.store.HostHistory(p.ctx, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: h.Name, Limit: hostHistoryShown})
		if err != nil {
			s.uiFail(w, p, err)
			return
		}
		page.HistoryMore = next != ""
		for _, c := range changes {
			page.History = append(page.History, ui.HostChangeItem{Run: c.RunID, RunPath: ui.RunPath(c.RunID),
				Kind: string(c.Kind), Keys: c.ChangedKeys, Truncated: c.Truncated, At: &c.At})
		}
	}
	// The source, by name, if the person may read it (GetSource).
	if s.authorizeRequest(p.ctx, "GetSource", map[string]string{"inventory": inv.ID}) == nil {
		if src, err := s.source(p.ctx, h.SourceID); err == nil {
			page.Source, page.SourcePath = src.Name, ui.SourcePath(inv.Name, src.Name)
		}
	}
	s.render(w, http.StatusOK, "host", page)
}

// serveGroups shows an inventory's groups as Ansible nests them, as GET
// /api/v1/inventories/{inv}/groups lists them: "all" holding the groups
// no group nests, each with its children, its direct hosts counted and
// linked.
func (s *Server) serveGroups(w http.ResponseWriter, r *http.Request, p *uiRequest) {
	inv, err := s.uiInventory(p, r, "ListGroups")
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	page := ui.GroupsPage{Page: p.Page, Inventory: inv.Name, InventoryPath: ui.InventoryPath(inv.Name)}
	view, err := s.hostsOf(p.ctx, inv)
	if err != nil {
		s.uiFail(w, p, err)
		return
	}
	tree, fresh, ok := s.groupTrees.get(inv)
	switch {
	case view.partial():
		// The kept trees are of whole inventories.
		if tree, err = s.buildGroupTree(p.ctx, inv, view); err != nil {
			s.uiFail(w, p, err)
			return
		}
	case fresh:
	case ok && tree.took > groupTreeWait && tree.groups >= groupTreeLarge:
		// Slow to build: the last tree now, a new one in the background
		// (one at a time per inventory), shown from the next view on.
		if s.groupTrees.startBuild(inv.ID) {
			// The server's, not the request's: it outlives the page, not
			// the server (Close stops and waits for it).
			ctx, cancel := context.WithTimeout(withCaller(s.background, p.caller), time.Minute)
			s.backgroundWork.Add(1)
			go func() {
				defer s.backgroundWork.Done()
				defer cancel()
				t, err := s.buildGroupTree(ctx, inv, &hostView{HostStore: s.store})
				s.groupTrees.finishBuild(inv, t, err)
				if err != nil {
					s.log.Warn("building a group tree failed", "inventory", inv.Name, "err", err)
				}
			}()
		}
		page.Stale = true
	default:
		if tree, err = s.buildGroupTree(p.ctx, inv, view); err != nil {
			s.uiFail(w, p, err)
			return
		}
		s.groupTrees.put(inv, tree)
	}
	page.All, page.Groups, page.Message = tree.all, tree.groups, tree.message
	s.render(w, http.StatusOK, "groups", page)
}

// groupTreeWait is the longest a large group tree's build may take for
// the page to wait for the next one; a tree slower to build is rebuilt in
// the background while the page shows the last one.
const groupTreeWait = 50 * time.Millisecond

// groupTreeLarge is the fewest groups of a tree rebuilt in the
// background: a small inventory's tree is always current, however busy
// the machine that built it.
const groupTreeLarge = 1000

// buildGroupTree reads the groups of inv it shows, as view shows inv's
// hosts, and nests them.
func (s *Server) buildGroupTree(ctx context.Context, inv *roster.Inventory, view *hostView) (groupTreeAt, error) {
	start := time.Now()
	var t groupTreeAt
	groups, total, err := s.treeGroups(ctx, inv, view)
	if err != nil {
		return t, err
	}
	counts, err := s.hostCounts(ctx)
	if err != nil {
		return t, err
	}
	ungrouped, _, err := view.Hosts(ctx, roster.HostFilter{InventoryID: inv.ID, Ungrouped: true, Limit: 1})
	if err != nil {
		return t, err
	}
	t.all, t.groups, t.message = groupTree(inv.Name, groups, total, counts[inv.ID].Hosts)
	if len(ungrouped) > 0 {
		// Last among all's children, as Ansible lists it; not counted.
		t.all.Children = append(t.all.Children, &ui.GroupNode{Name: "ungrouped", Hosts: -1, Path: groupHostsPath(inv.Name, "ungrouped")})
	}
	t.took = time.Since(start)
	return t, nil
}

// treeGroups reads the groups of inv a tree of maxGroupNodes shows, not
// all of them (an inventory with a group per host has 100,000): every
// group nesting or vars name, and enough of the others, by name, for the
// groups nested by none to fill the tree. Returns how many groups inv
// has in all.
func (s *Server) treeGroups(ctx context.Context, inv *roster.Inventory, view *hostView) ([]*roster.Group, int, error) {
	n := maxGroupNodes
	for {
		groups, total, err := view.GroupsFirst(ctx, inv.ID, n)
		if err != nil || len(groups) == total {
			return groups, total, err
		}
		nested := map[string]bool{}
		for _, g := range groups {
			for _, c := range g.Children {
				nested[c] = true
			}
		}
		// Of the first n groups with hosts, at most len(nested) are
		// nested: at least maxGroupNodes are not.
		if n >= maxGroupNodes+len(nested) {
			return groups, total, nil
		}
		n = maxGroupNodes + len(nested)
	}
}

// groupTrees keeps the group tree of each inventory as last built, with
// the inventory generation it was built at: a build reads a few thousand
// groups and counts the rest (about 50 ms of CPU at 100,000 hosts in
// 100,000 groups), while the tree changes only when the generation
// moves. A tree is never changed once built; it is at most
// maxGroupNodes nodes, and at most maxGroupTrees trees are kept (the
// least recently shown goes).
type groupTrees struct {
	mu       sync.Mutex
	m        map[string]groupTreeAt // by inventory id
	building map[string]bool
}

// maxGroupTrees bounds the trees kept: memory does not grow with the
// inventories ever shown (deleted ones included).
const maxGroupTrees = 64

type groupTreeAt struct {
	generation int64
	name       string // the inventory's, which the tree's links hold
	all        *ui.GroupNode
	groups     int
	message    string
	took       time.Duration
	shown      time.Time // when get last returned it
}

// get returns the last tree of inv, whether it is of inv's generation,
// and whether there is one (of inv's name).
func (c *groupTrees) get(inv *roster.Inventory) (t groupTreeAt, fresh, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok = c.m[inv.ID]
	ok = ok && t.name == inv.Name
	if ok {
		t.shown = time.Now()
		c.m[inv.ID] = t
	}
	return t, ok && t.generation >= inv.Generation, ok
}

// startBuild reports whether a build of inventory id may start: none is
// under way.
func (c *groupTrees) startBuild(id string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.building[id] {
		return false
	}
	if c.building == nil {
		c.building = map[string]bool{}
	}
	c.building[id] = true
	return true
}

// finishBuild ends the build of inv's tree, keeping t unless it failed.
func (c *groupTrees) finishBuild(inv *roster.Inventory, t groupTreeAt, err error) {
	c.mu.Lock()
	delete(c.building, inv.ID)
	c.mu.Unlock()
	if err == nil {
		c.put(inv, t)
	}
}

// put keeps t as the tree of inv at its generation (read before the
// groups were: a tree newer than its generation is only rebuilt once
// more).
func (c *groupTrees) put(inv *roster.Inventory, t groupTreeAt) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]groupTreeAt{}
	}
	old, ok := c.m[inv.ID]
	if ok && old.generation > inv.Generation {
		return
	}
	if !ok && len(c.m) >= maxGroupTrees {
		var oldest string
		for id, t := range c.m {
			if oldest == "" || t.shown.Before(c.m[oldest].shown) {
				oldest = id
			}
		}
		delete(c.m, oldest)
	}
	t.generation, t.name, t.shown = inv.Generation, inv.Name, time.Now()
	c.m[inv.ID] = t
}

// groupTree nests groups under "all" as Ansible does: the groups no
// other nests are all's children. A group nested in several is shown in
// each, its children only once (Again); a cycle stops where it repeats.
// It shows at most maxGroupNodes groups, and says so when it left some
// out.
func groupTree(inv string, groups []*roster.Group, total, hosts int) (all *ui.GroupNode, count int, message string) {
	// groups come sorted by name: a group is found by binary search and
	// marked by its index (at 100,000 groups, maps of them all cost more
	// than the rest of the page).
	index := func(name string) int {
		i, ok := slices.BinarySearchFunc(groups, name, func(g *roster.Group, name string) int { return strings.Compare(g.Name, name) })
		if !ok {
			return -1
		}
		return i
	}
	nested := map[string]bool{}
	for _, g := range groups {
		for _, c := range g.Children {
			nested[c] = true
		}
	}
	all = &ui.GroupNode{Name: "all", Hosts: hosts, Path: ui.InventoryPath(inv)}
	if i := index("all"); i >= 0 {
		all.HasVars = len(groups[i].Vars) > 0
	}
	shown, distinct := 0, 0
	expanded := make([]bool, len(groups))
	seen := make([]bool, len(groups))
	var add func(parent *ui.GroupNode, name string)
	add = func(parent *ui.GroupNode, name string) {
		if shown >= maxGroupNodes {
			return
		}
		shown++
		n := &ui.GroupNode{Name: name, Path: groupHostsPath(inv, name)}
		i := index(name)
		if i < 0 {
			parent.Children = append(parent.Children, n)
			return
		}
		if !seen[i] {
			seen[i] = true
			distinct++
		}
		g := groups[i]
		n.Hosts, n.HasVars = g.Hosts, len(g.Vars) > 0
		parent.Children = append(parent.Children, n)
		if len(g.Children) == 0 {
			return
		}
		if expanded[i] {
			n.Again = true
			return
		}
		expanded[i] = true
		for _, c := range g.Children {
			add(n, c)
		}
	}
	top := func(g *roster.Group) bool { return g.Name != "all" && g.Name != "ungrouped" }
	for _, g := range groups { // sorted by name
		if top(g) && !nested[g.Name] {
			add(all, g.Name)
		}
	}
	// Groups only a cycle nests are nested by nothing outside it: shown
	// under all, from the first of them by name, in name order with the
	// others (nothing outside the cycle reaches into it).
	for i, g := range groups {
		if top(g) && !seen[i] {
			add(all, g.Name)
		}
	}
	slices.SortStableFunc(all.Children, func(a, b *ui.GroupNode) int { return strings.Compare(a.Name, b.Name) })
	count = total
	if index("all") >= 0 {
		count--
	}
	if left := count - distinct; shown >= maxGroupNodes && left > 0 {
		message = fmt.Sprintf("The inventory has too many groups to show at once: %d of them are left out. Search the hosts by group instead.", left)
	}
	return all, count, message
}

// derivedKind names the kind of an inventory made of others ("" for a
// plain one), for a label beside its name.
func derivedKind(inv *roster.Inventory) string {
	if inv.Kind == "" || inv.Kind == roster.KindPlain {
		return ""
	}
	return string(inv.Kind)
}
