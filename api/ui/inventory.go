package ui

import "time"

// The views of the inventory pages: the inventories a person sees, an
// inventory's hosts (searched, a page at a time), a host, and the group
// tree. Links are built by the handlers; templates only show them.

// InventoriesPath is the inventories page's path; an inventory's pages
// are under it (InventoryPath).
const InventoriesPath = "/ui/inventories"

// InventoryPath is the hosts page of inventory name.
func InventoryPath(name string) string { return InventoriesPath + "/" + pathSegment(name) }

// InventoryList is the inventories page.
type InventoryList struct {
	Page
	// Message says why something is missing (no permission, say).
	Message     string
	Inventories []InventoryItem
	// SourcesShown: the person may list the sources of some inventory,
	// so Sources counts them (-1 where it may not).
	SourcesShown bool
}

// InventoryItem is one inventory of the list.
type InventoryItem struct {
	Name, Description string
	// Kind is "smart" or "constructed" for an inventory made of others,
	// "" for one its own sources fill.
	Kind string
	// Path is the inventory's hosts page.
	Path           string
	Hosts, Enabled int
	Sources        int
}

// HostSearch is the hosts page's search form, as the person filled it.
type HostSearch struct {
	Name, Group, Var string
	// Enabled is "", "true" or "false".
	Enabled string
}

// HostsPage is an inventory's hosts page: one page of the hosts the
// search finds, ordered by name.
type HostsPage struct {
	Page
	Inventory, Description string
	// GroupsPath is the inventory's group tree.
	GroupsPath string
	// Path is the page's own path, without a query (the form's action).
	Path string
	// Total and Enabled count the inventory's hosts, whatever the search.
	Total, Enabled int
	Search         HostSearch
	// Searching: some filter is set.
	Searching bool
	// Error says what is wrong with the search; no hosts are shown.
	Error string
	Hosts []HostItem
	// Next is the next page's link ("" on the last page); First the
	// first page's, when this is a later one.
	Next, First string
	// PageSize is the most hosts a page shows.
	PageSize int
	// Scanned, when above zero, is the most hosts the search looked at for
	// this page (a search by var, or of the ungrouped hosts): a page may show fewer than PageSize hosts,
	// or none, and still have a next one.
	Scanned int
}

// HostItem is one host of a hosts page.
type HostItem struct {
	Name, Path, Address string
	Enabled, Missing    bool
	Groups              []string
	LastSeen            *time.Time
}

// HostPage is one host's page.
type HostPage struct {
	Page
	Inventory, InventoryPath string
	Name, Address            string
	Enabled, Missing         bool
	// Source is the source that found the host (its id when the person
	// may not read sources); SourcePath links its page, if any.
	Source, SourcePath string
	Groups             []GroupLink
	// Vars are the host's vars, indented JSON.
	Vars                string
	FirstSeen, LastSeen *time.Time
	// History is the changes syncs made to hosts of this name, newest
	// first; HistoryMessage says why it is not shown (no permission),
	// HistoryMore that older changes were left out.
	History        []HostChangeItem
	HistoryMessage string
	HistoryMore    bool
}

// GroupLink is a group with the link to its hosts.
type GroupLink struct{ Name, Path string }

// HostChangeItem is one change of a host's history.
type HostChangeItem struct {
	Run, RunPath string
	// Kind: added, removed, changed, disabled or enabled.
	Kind string
	// Keys are the changed var keys and host fields.
	Keys      []string
	Truncated bool
	At        *time.Time
}

// GroupsPage is an inventory's groups, as a tree under "all".
type GroupsPage struct {
	Page
	Inventory, InventoryPath string
	Groups                   int
	All                      *GroupNode
	// Message says what was left out of a tree too large to show whole.
	Message string
	// Stale: the inventory changed since the tree was built; a new one is
	// being built.
	Stale bool
}

// GroupNode is a group of the tree.
type GroupNode struct {
	Name string
	// Hosts counts the direct members; -1 when not counted (ungrouped).
	Hosts int
	// Path lists the group's hosts.
	Path     string
	HasVars  bool
	Children []*GroupNode
	// Again: the group was shown above; its children are not repeated.
	Again bool
}
