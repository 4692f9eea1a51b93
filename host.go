package roster

import (
	"context"
	"encoding/json"
	"fmt"
	"iter"
	"slices"
	"strings"
	"time"
)

// Host is one machine in an inventory, owned by the source that found it.
type Host struct {
	ID          int64
	InventoryID string
	SourceID    string
	// ExternalID is the provider's stable id (EC2 instance id, GCE id,
	// Azure vmId, Nova server id): a rename is an update, not a new host.
	ExternalID string
	// Scope is the region, project, subscription or cloud the host was
	// found in. When a scope fails, its hosts are left untouched.
	Scope   string
	Name    string
	Address string
	Enabled bool
	// Groups are the host's direct groups, sorted, without "all".
	Groups []string
	// Vars are the host vars as a JSON object, kept encoded: they pass from
	// the provider to Ansible without being decoded again.
	Vars json.RawMessage
	// Missing is set when the provider stopped reporting the host and its
	// source keeps missing hosts disabled.
	Missing bool
	// Hash fingerprints name, address, enabled, groups and vars: a sync
	// whose hosts hash the same as stored ones writes nothing.
	Hash      string
	FirstSeen time.Time
	LastSeen  time.Time
}

// HostFilter selects hosts of one inventory. Results are ordered by name
// then id; After continues from a cursor returned by the previous page.
type HostFilter struct {
	InventoryID string
	SourceID    string
	// Group limits the result to direct members of a group.
	Group string
	// Ungrouped limits the result to hosts of no group (Ansible's
	// "ungrouped").
	Ungrouped bool
	// Name matches host names; '*' matches any run of characters.
	Name    string
	Enabled *bool
	// Var limits the result to hosts with a top-level var Var.Key whose
	// value is Var.Value: a string equal to it, or a number or boolean
	// whose JSON text is it ("80", "1.5", "true"). No filter when Key is
	// empty; check it with Var.Check first.
	Var   VarMatch
	After string
	Limit int
	// Scan, when above zero, bounds the hosts a page looks at: the next
	// Scan hosts of the inventory after After, by name, whatever the
	// other filters. A page may then hold fewer than Limit hosts with more
	// to come: its next cursor continues after the last host looked at.
	// It keeps a filter no index serves (Var) from reading the whole
	// inventory for one page.
	Scan int
}

// VarMatch matches a top-level host var's value (HostFilter.Var).
type VarMatch struct{ Key, Value string }

// MaxVarMatch bounds the key and the value of a VarMatch.
const MaxVarMatch = 256

// Check refuses a key or value no store can match: a key must be 1 to
// MaxVarMatch bytes without '"', '\' or control characters (a JSON
// path quotes it), and a value at most MaxVarMatch bytes.
func (v VarMatch) Check() error {
	switch {
	case v.Key == "" && v.Value == "":
		return nil
	case v.Key == "":
		return Invalid(FieldError{Field: "var", Message: "give key=value: the key is missing"})
	case len(v.Key) > MaxVarMatch || len(v.Value) > MaxVarMatch:
		return Invalid(FieldError{Field: "var", Message: fmt.Sprintf("the key and the value may each be at most %d bytes", MaxVarMatch)})
	case strings.ContainsFunc(v.Key, func(r rune) bool { return r == '"' || r == '\\' || r < 0x20 || r == 0x7f }):
		return Invalid(FieldError{Field: "var", Message: `a var's key may not hold '"', '\' or control characters`})
	}
	return nil
}

// ParseVarMatch reads "key=value" (the value may hold '='); "" is no
// filter.
func ParseVarMatch(s string) (VarMatch, error) {
	if s == "" {
		return VarMatch{}, nil
	}
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return VarMatch{}, Invalid(FieldError{Field: "var", Message: "give key=value, such as instance_type=t3.micro"})
	}
	m := VarMatch{Key: k, Value: v}
	return m, m.Check()
}

// Group is a group of an inventory. Its members are the hosts that name it;
// Children are the groups nested under it.
type Group struct {
	Name     string
	Children []string
	Vars     json.RawMessage
	Hosts    int
}

// HostState is what the sync engine needs of a stored host to diff it.
type HostState struct {
	ID         int64
	ExternalID string
	Scope      string
	Name       string
	Hash       string
	Enabled    bool
	Missing    bool
}

// HostChanges is the result of diffing one sync against the stored hosts of
// its source: everything a sync writes, applied in one transaction.
type HostChanges struct {
	Add    []*Host
	Update []*Host // matched by ID
	// Remove lists host ids that disappeared (OnMissingRemove).
	Remove []int64
	// Disable lists host ids that disappeared (OnMissingDisable); they keep
	// their vars, are disabled and marked missing.
	Disable []int64
	// Scopes lists the scopes seen successfully, to stamp their hosts'
	// last-seen time without rewriting the hosts.
	Scopes []string
	// Edges are the group parent/child pairs this source produces
	// (keyed_groups' parent_group). They replace the source's previous
	// edges unless ReplaceEdges is false (a partial run keeps old ones too).
	Edges        []GroupEdge
	ReplaceEdges bool
	// Bodies, when set, holds the Groups and Vars of the hosts of Add and
	// Update outside memory until they are written (a sync of a large
	// fleet keeps them on disk): a store writes those hosts a batch at a
	// time through Batches, never all of them at once.
	Bodies HostBodies
	// InputGenerations, for a run of a derived inventory's source, are the
	// generations of the input inventories it read (input id →
	// generation); the store records them in the same transaction, for
	// StaleDerived.
	InputGenerations map[string]int64
	// Record asks the store to record, with the hosts and in the same
	// transaction, what the sync did to each (HostChangeStore): the
	// history of a succeeded run. Hosts unchanged record nothing.
	Record bool
}

// HostBodies keeps the bodies (Groups and Vars) of a sync's hosts until
// they are written.
type HostBodies interface {
	// Load fills in the Groups and Vars of hosts.
	Load(hosts []*Host) error
}

// Batches yields hosts (of c.Add or c.Update) n at a time with their
// Groups and Vars in memory. With Bodies set, each batch is loaded before
// it is yielded and its bodies let go once the yield returns, so a write
// holds at most n hosts' bodies at once; without, hosts are yielded as
// they are.
func (c *HostChanges) Batches(hosts []*Host, n int) iter.Seq2[[]*Host, error] {
	return func(yield func([]*Host, error) bool) {
		for batch := range slices.Chunk(hosts, n) {
			if c.Bodies == nil {
				if !yield(batch, nil) {
					return
				}
				continue
			}
			if err := c.Bodies.Load(batch); err != nil {
				yield(nil, fmt.Errorf("load the bodies of %d hosts: %w", len(batch), err))
				return
			}
			more := yield(batch, nil)
			for _, h := range batch {
				h.Groups, h.Vars = nil, nil
			}
			if !more {
				return
			}
		}
	}
}

// GroupEdge nests Child under Parent.
type GroupEdge struct {
	Parent string
	Child  string
}

// Empty reports whether the changes write no host.
func (c *HostChanges) Empty() bool {
	return len(c.Add) == 0 && len(c.Update) == 0 && len(c.Remove) == 0 && len(c.Disable) == 0
}

// HostStore reads hosts and groups.
type HostStore interface {
	Hosts(ctx context.Context, f HostFilter) (hosts []*Host, next string, err error)
	Host(ctx context.Context, inventoryID string, id int64) (*Host, error)
	// Groups lists every group of an inventory by name: those with hosts,
	// with how many they hold, and those only nesting or vars name.
	Groups(ctx context.Context, inventoryID string) ([]*Group, error)
	// GroupsFirst lists, by name, the first n groups of an inventory
	// that hold hosts and every group nesting or vars name, and how many
	// groups it has in all: a view of a few groups that does not read
	// every group of an inventory with a group per host.
	GroupsFirst(ctx context.Context, inventoryID string, n int) (groups []*Group, total int, err error)
	// SetGroupVars replaces the vars of a group of an inventory.
	SetGroupVars(ctx context.Context, inventoryID, group string, vars json.RawMessage) error
	// WalkInventory streams every host of an inventory ordered by name, then
	// every group that has children or vars, all from one snapshot, and
	// returns the inventory's Generation in that snapshot. The *Host passed
	// to fn is only valid during the call.
	WalkInventory(ctx context.Context, inventoryID string, host func(*Host) error, group func(*Group) error) (generation int64, err error)
	// HostStates returns the diff state of every host of a source.
	HostStates(ctx context.Context, sourceID string) ([]HostState, error)
	// HostNamesOfOtherSources maps the name of every host of an inventory
	// that another source than sourceID owns to that source's name (the
	// first by name when several own one): Ansible sees one host per name.
	HostNamesOfOtherSources(ctx context.Context, inventoryID, sourceID string) (map[string]string, error)
	// HostNameConflicts lists, by name, up to limit host names of an
	// inventory that hosts of more than one of its sources have, and
	// how many there are in all.
	HostNameConflicts(ctx context.Context, inventoryID string, limit int) (conflicts []NameConflict, total int, err error)
}

// HostCount counts an inventory's hosts.
type HostCount struct {
	InventoryID, Inventory string
	Hosts, Enabled         int
}

// StatsStore serves metrics.
type StatsStore interface {
	// HostCounts counts the hosts of every inventory.
	HostCounts(ctx context.Context) ([]HostCount, error)
}
