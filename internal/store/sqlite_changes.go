package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/rosterhq/roster"
)

const changeCols = `id, run_id, inventory_id, source_id, host_id, host_name, kind, keys, diff, truncated, at`

func scanChange(row interface{ Scan(...any) error }) (int64, *roster.HostChange, error) {
	var c roster.HostChange
	var id, at int64
	var keys string
	var diff []byte
	if err := row.Scan(&id, &c.RunID, &c.InventoryID, &c.SourceID, &c.HostID, &c.HostName, &c.Kind, &keys, &diff, &c.Truncated, &at); err != nil {
		return 0, nil, err
	}
	c.At = fromMicros(at)
	if err := unmarshalJSON(keys, &c.ChangedKeys); err != nil {
		return 0, nil, err
	}
	d, err := decodeDiff(diff)
	c.Diff = d
	return id, &c, err
}

// insertChanges writes changes a batch per statement; those without At
// get at (Unix microseconds).
func insertChanges(ctx context.Context, tx *sql.Tx, changes []*roster.HostChange, at int64) error {
	const cols = 10
	for cs := range chunks(changes, changeBatch) {
		args := make([]any, 0, len(cs)*cols)
		for _, c := range cs {
			if err := checkChange(c); err != nil {
				return err
			}
			diff, err := encodeDiff(c.Diff)
			if err != nil {
				return err
			}
			keys := c.ChangedKeys
			if keys == nil {
				keys = []string{}
			}
			t := at
			if !c.At.IsZero() {
				t = micros(c.At)
			}
			args = append(args, c.RunID, c.InventoryID, c.SourceID, c.HostID, c.HostName, string(c.Kind), mustJSON(keys), nullBytes(diff), c.Truncated, t)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, keys, diff, truncated, at) VALUES `+
			repeatTuple(len(cs), `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`), args...); err != nil {
			return err
		}
	}
	return nil
}

func nullBytes(b []byte) any {
	if b == nil {
		return nil
	}
	return string(b)
}

// recordRemoved records the removal of the hosts of ids (in list, args),
// before they are deleted.
func recordRemoved(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, in string, args []any, ts int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, at)
		SELECT ?, inventory_id, source_id, id, name, 'removed', ? FROM hosts WHERE source_id = ? AND id IN (`+in+`)`,
		append([]any{run.ID, ts, run.SourceID}, args...)...)
	return err
}

// recordDisabled records the disabling of the missing hosts of ids (in
// list, args), before they are disabled.
func recordDisabled(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, in string, args []any, ts int64) error {
	was, wasNot := disabledRecords[1], disabledRecords[0]
	_, err := tx.ExecContext(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, keys, diff, at)
		SELECT ?, inventory_id, source_id, id, name, 'disabled', CASE WHEN enabled THEN ? ELSE ? END, CASE WHEN enabled THEN ? ELSE ? END, ?
		FROM hosts WHERE source_id = ? AND id IN (`+in+`)`,
		append([]any{run.ID, mustJSON(was.keys), mustJSON(wasNot.keys), string(was.diff), string(wasNot.diff), ts, run.SourceID}, args...)...)
	return err
}

// recordAdded records the addition of the hosts whose ids are in (first,
// last], the block the run took, once they are written.
func recordAdded(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, first, last, ts int64) error {
	_, err := tx.ExecContext(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, at)
		SELECT ?, inventory_id, source_id, id, name, 'added', ? FROM hosts WHERE id > ? AND id <= ? ORDER BY id`,
		run.ID, ts, first, last)
	return err
}

// recordUpdated records the updates of hosts (a batch, with their
// bodies), diffed against their stored rows: called before they are
// overwritten.
func recordUpdated(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, hosts []*roster.Host, ts int64) error {
	in, args := inList(hostIDs(hosts))
	rows, err := tx.QueryContext(ctx, `SELECT id, name, address, scope, enabled, missing_since IS NOT NULL, groups, vars
		FROM hosts WHERE source_id = ? AND id IN (`+in+`)`, append([]any{run.SourceID}, args...)...)
	if err != nil {
		return err
	}
	old := make(map[int64]*roster.Host, len(hosts))
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var h roster.Host
			var groups string
			var vars []byte
			if err := rows.Scan(&h.ID, &h.Name, &h.Address, &h.Scope, &h.Enabled, &h.Missing, &groups, &vars); err != nil {
				return err
			}
			if err := unmarshalJSON(groups, &h.Groups); err != nil {
				return err
			}
			h.Vars = vars
			old[h.ID] = &h
		}
		return rows.Err()
	}()
	if err != nil {
		return err
	}
	changes := make([]*roster.HostChange, 0, len(hosts))
	for _, h := range hosts {
		o := old[h.ID]
		if o == nil {
			continue // not the source's: the update writes nothing either
		}
		c := roster.UpdateChange(o, h)
		c.RunID, c.InventoryID, c.SourceID = run.ID, run.InventoryID, run.SourceID
		changes = append(changes, c)
	}
	return insertChanges(ctx, tx, changes, ts)
}

// AddHostChanges implements roster.HostChangeStore.
func (s *SQLite) AddHostChanges(ctx context.Context, changes []*roster.HostChange) error {
	if len(changes) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		runs := map[string]bool{}
		for _, c := range changes {
			if runs[c.RunID] {
				continue
			}
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM sync_runs WHERE id = ?`, c.RunID).Scan(&n); err != nil {
				return err
			}
			if n == 0 {
				return notFound("sync run", c.RunID)
			}
			runs[c.RunID] = true
		}
		return insertChanges(ctx, tx, changes, micros(s.now()))
	})
}

// HostChanges implements roster.HostChangeStore.
func (s *SQLite) HostChanges(ctx context.Context, f roster.HostChangeFilter) ([]*roster.HostChange, string, error) {
	limit := pageLimit(f.Limit)
	q := `SELECT ` + changeCols + ` FROM host_changes WHERE run_id = ?`
	args := []any{f.RunID}
	if f.Kind != "" {
		q, args = q+` AND kind = ?`, append(args, string(f.Kind))
	}
	if f.After != "" {
		var c changeCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		q, args = q+` AND (kind, id) > (?, ?)`, append(args, string(c.Kind), c.ID)
	}
	rows, err := s.rq.QueryContext(ctx, q+` ORDER BY kind, id LIMIT ?`, append(args, limit+1)...)
	changes, ids, err := collectChanges(rows, err)
	if err != nil || len(changes) <= limit {
		return changes, "", err
	}
	last := changes[limit-1]
	return changes[:limit], encodeCursor(changeCursor{Kind: last.Kind, ID: ids[limit-1]}), nil
}

// HostHistory implements roster.HostChangeStore.
func (s *SQLite) HostHistory(ctx context.Context, f roster.HostHistoryFilter) ([]*roster.HostChange, string, error) {
	limit := pageLimit(f.Limit)
	q := `SELECT ` + changeCols + ` FROM host_changes WHERE inventory_id = ? AND host_name = ?`
	args := []any{f.InventoryID, f.HostName}
	if f.After != "" {
		var c historyCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		q, args = q+` AND id < ?`, append(args, c.ID)
	}
	rows, err := s.rq.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	changes, ids, err := collectChanges(rows, err)
	if err != nil || len(changes) <= limit {
		return changes, "", err
	}
	return changes[:limit], encodeCursor(historyCursor{ID: ids[limit-1]}), nil
}

func collectChanges(rows *sql.Rows, err error) ([]*roster.HostChange, []int64, error) {
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var changes []*roster.HostChange
	var ids []int64
	for rows.Next() {
		id, c, err := scanChange(rows)
		if err != nil {
			return nil, nil, err
		}
		changes, ids = append(changes, c), append(ids, id)
	}
	return changes, ids, rows.Err()
}

// changePurgeBatch is how many changes one purge statement removes: each
// is a short write transaction, so syncs wait little for the lock.
const changePurgeBatch = 5000

// PurgeHostChanges implements roster.HostChangeStore.
func (s *SQLite) PurgeHostChanges(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		res, err := s.wq.ExecContext(ctx, `DELETE FROM host_changes WHERE id IN (
			SELECT id FROM host_changes WHERE at < ? ORDER BY at LIMIT ?)`, micros(before), changePurgeBatch)
		if err != nil {
			return total, err
		}
		n, _ := res.RowsAffected()
		total += n
		if n < changePurgeBatch {
			return total, nil
		}
	}
}
