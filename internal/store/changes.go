package store

import (
	"encoding/json"
	"errors"

	"github.com/rosterhq/roster"
)

// Per-host change history (roster.HostChangeStore): a succeeded sync
// records what it did to each host in the transaction that writes the
// hosts (HostChanges.Record), in batches, without holding more of the
// fleet in memory than the host writes do: added and removed hosts are
// recorded by INSERT ... SELECT from the hosts table, updated ones a batch
// at a time from their stored rows read before they are overwritten.

// storedValue and storedDiff are the JSON form of a roster.HostDiff.
type storedValue struct {
	Old json.RawMessage `json:"old,omitempty"`
	New json.RawMessage `json:"new,omitempty"`
}

type storedDiff struct {
	Vars          map[string]storedValue `json:"vars,omitempty"`
	Fields        map[string]storedValue `json:"fields,omitempty"`
	GroupsAdded   []string               `json:"groups_added,omitempty"`
	GroupsRemoved []string               `json:"groups_removed,omitempty"`
}

func storedValues(m map[string]roster.ValueChange) map[string]storedValue {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]storedValue, len(m))
	for k, v := range m {
		out[k] = storedValue{Old: v.Old, New: v.New}
	}
	return out
}

func diffValues(m map[string]storedValue) map[string]roster.ValueChange {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]roster.ValueChange, len(m))
	for k, v := range m {
		out[k] = roster.ValueChange{Old: v.Old, New: v.New}
	}
	return out
}

// encodeDiff is the stored form of d: nil (NULL) for none.
func encodeDiff(d *roster.HostDiff) ([]byte, error) {
	if d == nil {
		return nil, nil
	}
	return json.Marshal(storedDiff{Vars: storedValues(d.Vars), Fields: storedValues(d.Fields), GroupsAdded: d.GroupsAdded, GroupsRemoved: d.GroupsRemoved})
}

func decodeDiff(b []byte) (*roster.HostDiff, error) {
	if len(b) == 0 {
		return nil, nil
	}
	var sd storedDiff
	if err := json.Unmarshal(b, &sd); err != nil {
		return nil, err
	}
	return &roster.HostDiff{Vars: diffValues(sd.Vars), Fields: diffValues(sd.Fields), GroupsAdded: sd.GroupsAdded, GroupsRemoved: sd.GroupsRemoved}, nil
}

// changeCursor continues a run's changes after (Kind, ID); historyCursor a
// host's history before ID.
type changeCursor struct {
	Kind roster.ChangeKind `json:"k"`
	ID   int64             `json:"i"`
}

type historyCursor struct {
	ID int64 `json:"i"`
}

// disabledRecord is what a host disabled for going missing records,
// enabled before (on) or not, as stored: its keys and its diff.
type disabledRecord struct {
	keys []string
	diff []byte
}

var disabledRecords = func() (r [2]disabledRecord) {
	for i, enabled := range []bool{false, true} {
		c := roster.DisableChange(&roster.Host{Enabled: enabled})
		d, err := encodeDiff(c.Diff)
		if err != nil {
			panic(err)
		}
		r[i] = disabledRecord{keys: c.ChangedKeys, diff: d}
	}
	return r
}()

// checkChange refuses a change no store could list.
func checkChange(c *roster.HostChange) error {
	switch {
	case c.RunID == "" || c.InventoryID == "" || c.SourceID == "":
		return errors.New("a host change needs its run, inventory and source")
	case !c.Kind.Valid():
		return roster.Errorf(roster.EINVALID, "unknown host change kind %q", c.Kind)
	}
	return nil
}

// changeBatch is how many changes one statement writes.
const changeBatch = 500
