package store

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"time"

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

// changePurgeBatch is how many changes one purge statement removes: each
// is a short write transaction, so syncs wait little for the lock.
const changePurgeBatch = 5000

const changeCols = `id, run_id, inventory_id, source_id, host_id, host_name, kind, keys, diff, truncated, at`

// changeInsertCols are the columns of a change as written (insertChanges).
var changeInsertCols = []string{"run_id", "inventory_id", "source_id", "host_id", "host_name", "kind", "keys", "diff", "truncated", "at"}

// changeRow is a change as listed, with its id for the cursor.
type changeRow struct {
	id     int64
	change *roster.HostChange
}

func scanChange(r row) (changeRow, error) {
	var cr changeRow
	c := &roster.HostChange{}
	var diff json.RawMessage
	if err := r.Scan(&cr.id, &c.RunID, &c.InventoryID, &c.SourceID, &c.HostID, &c.HostName, &c.Kind, &c.ChangedKeys, &diff, &c.Truncated, &c.At); err != nil {
		return cr, err
	}
	if len(c.ChangedKeys) == 0 {
		c.ChangedKeys = nil
	}
	d, err := decodeDiff(diff)
	c.Diff, cr.change = d, c
	return cr, err
}

func changesOf(rows []changeRow) []*roster.HostChange {
	out := make([]*roster.HostChange, len(rows))
	for i, r := range rows {
		out[i] = r.change
	}
	return out
}

// nullableJSON is the argument of a JSON column that may be NULL: nil for
// none.
func nullableJSON(b []byte) any {
	if b == nil {
		return nil
	}
	return json.RawMessage(b)
}

// insertChanges writes changes in c's transaction, in bulk (insertRows);
// those without At get at.
func insertChanges(ctx context.Context, c conn, changes []*roster.HostChange, at time.Time) error {
	for _, ch := range changes {
		if err := checkChange(ch); err != nil {
			return err
		}
	}
	return insertRows(ctx, c, "host_changes", changeInsertCols, len(changes), func(i int) ([]any, error) {
		ch := changes[i]
		diff, err := encodeDiff(ch.Diff)
		if err != nil {
			return nil, err
		}
		t := at
		if !ch.At.IsZero() {
			t = ch.At
		}
		return []any{ch.RunID, ch.InventoryID, ch.SourceID, ch.HostID, ch.HostName, string(ch.Kind), nonNilStrings(ch.ChangedKeys),
			nullableJSON(diff), ch.Truncated, t}, nil
	})
}

// recordRemoved records, in c's transaction, the removal of the hosts of
// ids, before they are deleted.
func (s *db) recordRemoved(ctx context.Context, c conn, run *roster.SyncRun, ids []int64, now time.Time) error {
	_, err := c.exec(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, at)
		SELECT $1, inventory_id, source_id, id, name, 'removed', $2 FROM hosts WHERE source_id = $3 AND id `+s.anyOf("$4")+` ORDER BY id`,
		run.ID, now, run.SourceID, ids)
	return err
}

// recordDisabled records, in c's transaction, the disabling of the
// missing hosts of ids, before they are disabled.
func (s *db) recordDisabled(ctx context.Context, c conn, run *roster.SyncRun, ids []int64, now time.Time) error {
	was, wasNot := disabledRecords[1], disabledRecords[0]
	_, err := c.exec(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, keys, diff, at)
		SELECT $1, inventory_id, source_id, id, name, 'disabled', CASE WHEN enabled THEN `+s.typed("$2", "text[]")+` ELSE `+s.typed("$3", "text[]")+` END,
			CASE WHEN enabled THEN `+s.typed("$4", "json")+` ELSE `+s.typed("$5", "json")+` END, $6
		FROM hosts WHERE source_id = $7 AND id `+s.anyOf("$8")+` ORDER BY id`,
		run.ID, nonNilStrings(was.keys), nonNilStrings(wasNot.keys), string(was.diff), string(wasNot.diff), now, run.SourceID, ids)
	return err
}

// recordAdded records, in c's transaction, the addition of hosts (a
// batch just written, whose ids are increasing: the ids between the first
// and the last of the source's hosts are theirs).
func (s *db) recordAdded(ctx context.Context, c conn, run *roster.SyncRun, hosts []*roster.Host, now time.Time) error {
	_, err := c.exec(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, at)
		SELECT $1, inventory_id, source_id, id, name, 'added', $2 FROM hosts WHERE source_id = $3 AND id BETWEEN $4 AND $5 ORDER BY id`,
		run.ID, now, run.SourceID, hosts[0].ID, hosts[len(hosts)-1].ID)
	return err
}

// recordUpdated records, in c's transaction, the updates of hosts (a
// batch, with their bodies), diffed against their stored rows: called
// before they are overwritten.
func (s *db) recordUpdated(ctx context.Context, c conn, run *roster.SyncRun, hosts []*roster.Host, now time.Time) error {
	rs, err := c.query(ctx, `SELECT id, name, address, scope, enabled, missing_since IS NOT NULL, groups, vars
		FROM hosts WHERE source_id = $1 AND id `+s.anyOf("$2"), run.SourceID, hostIDs(hosts))
	stored, err := scanAll(rs, err, func(r row) (*roster.Host, error) {
		var h roster.Host
		return &h, r.Scan(&h.ID, &h.Name, &h.Address, &h.Scope, &h.Enabled, &h.Missing, &h.Groups, &h.Vars)
	})
	if err != nil {
		return err
	}
	old := make(map[int64]*roster.Host, len(stored))
	for _, h := range stored {
		old[h.ID] = h
	}
	changes := make([]*roster.HostChange, 0, len(hosts))
	for _, h := range hosts {
		o := old[h.ID]
		if o == nil {
			continue // not the source's: the update writes nothing either
		}
		ch := roster.UpdateChange(o, h)
		ch.RunID, ch.InventoryID, ch.SourceID = run.ID, run.InventoryID, run.SourceID
		changes = append(changes, ch)
	}
	return insertChanges(ctx, c, changes, now)
}

// AddHostChanges implements roster.HostChangeStore.
func (s *db) AddHostChanges(ctx context.Context, changes []*roster.HostChange) error {
	if len(changes) == 0 {
		return nil
	}
	return s.inTx(ctx, func(c conn) error {
		runs := map[string]bool{}
		for _, ch := range changes {
			if runs[ch.RunID] {
				continue
			}
			var ok bool
			if err := c.queryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE id = $1)`, ch.RunID).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return notFound("sync run", ch.RunID)
			}
			runs[ch.RunID] = true
		}
		return insertChanges(ctx, c, changes, s.now())
	})
}

// params collects a statement's arguments: add binds v and returns its
// placeholder.
type params []any

func (p *params) add(v any) string {
	*p = append(*p, v)
	return "$" + strconv.Itoa(len(*p))
}

// HostChanges implements roster.HostChangeStore.
func (s *db) HostChanges(ctx context.Context, f roster.HostChangeFilter) ([]*roster.HostChange, string, error) {
	limit := pageLimit(f.Limit)
	var p params
	where := `run_id = ` + p.add(f.RunID)
	if f.Kind != "" {
		where += ` AND kind = ` + p.add(string(f.Kind))
	}
	if f.After != "" {
		var c changeCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		where += ` AND (kind, id) > (` + p.add(string(c.Kind)) + `, ` + p.add(c.ID) + `)`
	}
	rs, err := s.r.query(ctx, `SELECT `+changeCols+` FROM host_changes WHERE `+where+` ORDER BY kind, id LIMIT `+p.add(limit+1), p...)
	list, err := scanAll(rs, err, scanChange)
	if err != nil || len(list) <= limit {
		return changesOf(list), "", err
	}
	last := list[limit-1]
	return changesOf(list[:limit]), encodeCursor(changeCursor{Kind: last.change.Kind, ID: last.id}), nil
}

// HostHistory implements roster.HostChangeStore.
func (s *db) HostHistory(ctx context.Context, f roster.HostHistoryFilter) ([]*roster.HostChange, string, error) {
	limit := pageLimit(f.Limit)
	var p params
	where := `inventory_id = ` + p.add(f.InventoryID) + ` AND host_name = ` + p.add(f.HostName)
	if f.After != "" {
		var c historyCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		where += ` AND id < ` + p.add(c.ID)
	}
	rs, err := s.r.query(ctx, `SELECT `+changeCols+` FROM host_changes WHERE `+where+` ORDER BY id DESC LIMIT `+p.add(limit+1), p...)
	list, err := scanAll(rs, err, scanChange)
	if err != nil || len(list) <= limit {
		return changesOf(list), "", err
	}
	return changesOf(list[:limit]), encodeCursor(historyCursor{ID: list[limit-1].id}), nil
}

// PurgeHostChanges implements roster.HostChangeStore, a batch per
// statement.
func (s *db) PurgeHostChanges(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		n, err := s.w.exec(ctx, `DELETE FROM host_changes WHERE id IN (
			SELECT id FROM host_changes WHERE at < $1 ORDER BY at LIMIT $2)`, before, changePurgeBatch)
		if err != nil {
			return total, err
		}
		total += n
		if n < changePurgeBatch {
			return total, nil
		}
	}
}
