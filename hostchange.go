package roster

import (
	"bytes"
	"context"
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"time"
)

// ChangeKind says what a sync did to a host: the kinds of HostChanges
// (Add, Remove, Disable, Update), an update that turned the host's
// enabled flag told apart from the others.
type ChangeKind string

const (
	ChangeAdded   ChangeKind = "added"
	ChangeRemoved ChangeKind = "removed"
	ChangeChanged ChangeKind = "changed"
	// ChangeDisabled: the host went missing and its source keeps such
	// hosts disabled, or the provider reports it disabled now.
	ChangeDisabled ChangeKind = "disabled"
	// ChangeEnabled: a disabled host is enabled again (a missing host
	// came back enabled, or the provider reports it enabled now).
	ChangeEnabled ChangeKind = "enabled"
)

// ChangeKinds are the kinds, in the order a run's changes are listed.
var ChangeKinds = []ChangeKind{ChangeAdded, ChangeChanged, ChangeDisabled, ChangeEnabled, ChangeRemoved}

// Valid reports whether k is a known kind.
func (k ChangeKind) Valid() bool { return slices.Contains(ChangeKinds, k) }

// HostChange records what one succeeded sync did to one host.
type HostChange struct {
	RunID       string
	InventoryID string
	SourceID    string
	HostID      int64
	// HostName is the host's name after the change (before it, for a
	// removed host): a rename is recorded under the new name, the old one
	// in Diff.Fields["name"].
	HostName string
	Kind     ChangeKind
	// ChangedKeys are, sorted, the var keys that changed and the host's
	// fields that did ("name", "address", "scope", "enabled", "missing",
	// and "groups" for its group memberships). Empty for an added or a
	// removed host. Always complete, even when Diff is Truncated.
	ChangedKeys []string
	// Diff holds the old and new values; nil when there are none to show
	// (an added or a removed host).
	Diff *HostDiff
	// Truncated says that Diff leaves out some of ChangedKeys: the diff
	// would have been larger than MaxDiffBytes.
	Truncated bool
	At        time.Time
}

// HostDiff is the old and new values of what a change changed.
type HostDiff struct {
	// Vars holds the old and new value of each changed var key.
	Vars map[string]ValueChange
	// Fields holds the old and new value of each changed host field
	// (name, address, scope, enabled, missing).
	Fields map[string]ValueChange
	// GroupsAdded and GroupsRemoved are the groups the host joined and
	// left, sorted.
	GroupsAdded, GroupsRemoved []string
}

// ValueChange is a value before and after a change, each as JSON; nil
// where there was none (a var key added, or removed).
type ValueChange struct {
	Old, New json.RawMessage
}

// MaxDiffBytes bounds the diff recorded for one host: the sum of the
// lengths of its keys, values and group names. What does not fit is left
// out of the diff (its keys stay in ChangedKeys) and the change marked
// Truncated, so that a host with huge vars cannot make a sync's history
// as large as its hosts.
const MaxDiffBytes = 16 << 10

// Host fields a change names in ChangedKeys.
const (
	FieldName    = "name"
	FieldAddress = "address"
	FieldScope   = "scope"
	FieldEnabled = "enabled"
	FieldMissing = "missing"
	FieldGroups  = "groups"
)

// UpdateChange is the record of a sync's update of a host from old to
// new: its kind, the keys that changed and their values, bounded by
// MaxDiffBytes. The run, times and ids are the caller's to set (HostID,
// InventoryID and SourceID are new's). Vars that are not JSON objects are
// compared whole, as one key "".
func UpdateChange(old, new *Host) *HostChange {
	c := &HostChange{InventoryID: new.InventoryID, SourceID: new.SourceID, HostID: new.ID, HostName: new.Name, Kind: ChangeChanged}
	switch {
	case !old.Enabled && new.Enabled:
		c.Kind = ChangeEnabled
	case old.Enabled && !new.Enabled:
		c.Kind = ChangeDisabled
	}
	d := &HostDiff{}
	field := func(name string, o, n []byte) {
		if d.Fields == nil {
			d.Fields = map[string]ValueChange{}
		}
		d.Fields[name] = ValueChange{Old: o, New: n}
		c.ChangedKeys = append(c.ChangedKeys, name)
	}
	if old.Name != new.Name {
		field(FieldName, jsonString(old.Name), jsonString(new.Name))
	}
	if old.Address != new.Address {
		field(FieldAddress, jsonString(old.Address), jsonString(new.Address))
	}
	if old.Scope != new.Scope {
		field(FieldScope, jsonString(old.Scope), jsonString(new.Scope))
	}
	if old.Enabled != new.Enabled {
		field(FieldEnabled, jsonBool(old.Enabled), jsonBool(new.Enabled))
	}
	if old.Missing != new.Missing {
		field(FieldMissing, jsonBool(old.Missing), jsonBool(new.Missing))
	}
	d.GroupsAdded, d.GroupsRemoved = setDiff(new.Groups, old.Groups), setDiff(old.Groups, new.Groups)
	if len(d.GroupsAdded) > 0 || len(d.GroupsRemoved) > 0 {
		c.ChangedKeys = append(c.ChangedKeys, FieldGroups)
	}
	d.Vars = varsDiff(old.Vars, new.Vars)
	for k := range d.Vars {
		c.ChangedKeys = append(c.ChangedKeys, k)
	}
	slices.Sort(c.ChangedKeys)
	c.ChangedKeys = slices.Compact(c.ChangedKeys)
	c.Truncated = d.bound(MaxDiffBytes)
	c.Diff = d
	return c
}

// DisableChange is the record of a sync's disabling of a host that went
// missing (its source keeps missing hosts, disabled), enabled before or
// not.
func DisableChange(h *Host) *HostChange {
	c := &HostChange{InventoryID: h.InventoryID, SourceID: h.SourceID, HostID: h.ID, HostName: h.Name, Kind: ChangeDisabled,
		ChangedKeys: []string{FieldMissing}, Diff: &HostDiff{Fields: map[string]ValueChange{FieldMissing: {Old: jsonBool(false), New: jsonBool(true)}}}}
	if h.Enabled {
		c.ChangedKeys = []string{FieldEnabled, FieldMissing}
		c.Diff.Fields[FieldEnabled] = ValueChange{Old: jsonBool(true), New: jsonBool(false)}
	}
	return c
}

// bound drops from d what does not fit in max bytes, the host's fields
// first kept, then its groups, then its vars by key, and reports whether
// it dropped anything.
func (d *HostDiff) bound(max int) (truncated bool) {
	size := 0
	fits := func(n int) bool {
		if size+n > max {
			truncated = true
			return false
		}
		size += n
		return true
	}
	for _, k := range slices.Sorted(maps.Keys(d.Fields)) {
		if v := d.Fields[k]; !fits(len(k) + len(v.Old) + len(v.New)) {
			delete(d.Fields, k)
		}
	}
	groups := 0
	for _, g := range d.GroupsAdded {
		groups += len(g)
	}
	for _, g := range d.GroupsRemoved {
		groups += len(g)
	}
	if !fits(groups) {
		d.GroupsAdded, d.GroupsRemoved = nil, nil
	}
	for _, k := range slices.Sorted(maps.Keys(d.Vars)) {
		if v := d.Vars[k]; !fits(len(k) + len(v.Old) + len(v.New)) {
			delete(d.Vars, k)
		}
	}
	return truncated
}

// varsDiff compares two JSON objects key by key, by their encoded values:
// a sync encodes vars one way, so equal values encode alike.
func varsDiff(old, new json.RawMessage) map[string]ValueChange {
	if bytes.Equal(old, new) {
		return nil
	}
	var o, n map[string]json.RawMessage
	if json.Unmarshal(orEmpty(old), &o) != nil || json.Unmarshal(orEmpty(new), &n) != nil {
		return map[string]ValueChange{"": {Old: old, New: new}}
	}
	out := map[string]ValueChange{}
	for k, ov := range o {
		nv, ok := n[k]
		switch {
		case !ok:
			out[k] = ValueChange{Old: ov}
		case !bytes.Equal(ov, nv):
			out[k] = ValueChange{Old: ov, New: nv}
		}
	}
	for k, nv := range n {
		if _, ok := o[k]; !ok {
			out[k] = ValueChange{New: nv}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func orEmpty(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("{}")
	}
	return b
}

// setDiff is what a has that b has not, sorted.
func setDiff(a, b []string) []string {
	var out []string
	for _, s := range a {
		if !slices.Contains(b, s) {
			out = append(out, s)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func jsonString(s string) json.RawMessage { return strconv.AppendQuote(nil, s) }

func jsonBool(b bool) json.RawMessage { return strconv.AppendBool(nil, b) }

// HostChangeFilter selects the changes of one run, by kind then in the
// order they were recorded.
type HostChangeFilter struct {
	RunID string
	// Kind, when set, selects the changes of that kind only.
	Kind  ChangeKind
	After string
	Limit int
}

// HostHistoryFilter selects the changes of the hosts of one name in an
// inventory (of any of its sources), newest first.
type HostHistoryFilter struct {
	InventoryID string
	HostName    string
	After       string
	Limit       int
}

// HostChangeStore keeps the per-host history of syncs. A succeeded sync
// records its changes with its hosts (HostChanges.Record); they are
// removed with their run, or by PurgeHostChanges.
type HostChangeStore interface {
	// AddHostChanges records changes, in batches in one transaction.
	// Their run must exist (ENOTFOUND); a change without At gets the
	// store's time.
	AddHostChanges(ctx context.Context, changes []*HostChange) error
	// HostChanges returns a page of a run's changes and the cursor of
	// the next page ("" on the last).
	HostChanges(ctx context.Context, f HostChangeFilter) (changes []*HostChange, next string, err error)
	// HostHistory returns a page of a host's changes, newest first.
	HostHistory(ctx context.Context, f HostHistoryFilter) (changes []*HostChange, next string, err error)
	// PurgeHostChanges removes the changes recorded before t, in small
	// batches so that syncs are not held up, and says how many it
	// removed.
	PurgeHostChanges(ctx context.Context, before time.Time) (int64, error)
}
