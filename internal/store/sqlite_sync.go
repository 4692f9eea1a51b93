package store

import (
	"context"
	"database/sql"
	"time"

	"github.com/rosterhq/roster"
)

// SQLite's bulk writes of a sync (apply.go): multi-row statements of at
// most batch rows, under its limit of variables per statement.

// batch is how many rows one multi-row statement carries; SQLite allows
// 32766 parameters per statement.
const batch = 500

// sqliteBulk is the bulkWriter of a SQLite write transaction.
type sqliteBulk struct {
	c  sqliteConn
	tx *sql.Tx
}

var _ bulkConn = sqliteConn{}

// bulk implements bulkConn for the conn of a write transaction.
func (c sqliteConn) bulk() bulkWriter { return sqliteBulk{c, c.q.(*sql.Tx)} }

// reserveHostIDs takes a block of ids from the hosts' sequence; the write
// transaction holds SQLite's only write lock.
func (b sqliteBulk) reserveHostIDs(ctx context.Context, n int) ([]int64, error) {
	var last int64
	if err := b.tx.QueryRowContext(ctx, `UPDATE sequences SET value = value + ? WHERE name = 'hosts' RETURNING value`, n).Scan(&last); err != nil {
		return nil, err
	}
	ids := make([]int64, n)
	for i := range ids {
		ids[i] = last - int64(n) + int64(i) + 1
	}
	return ids, nil
}

func (b sqliteBulk) insertHosts(ctx context.Context, hosts []*roster.Host, now time.Time) error {
	const cols = 12
	ts := micros(now)
	for hosts := range chunks(hosts, batch) {
		args := make([]any, 0, len(hosts)*cols)
		for _, h := range hosts {
			args = append(args, h.ID, h.InventoryID, h.SourceID, h.ExternalID, h.Scope, h.Name, h.Address, h.Enabled,
				mustJSON(nonNilStrings(h.Groups)), string(h.Vars), h.Hash, ts)
		}
		q := `INSERT INTO hosts (id, inventory_id, source_id, external_id, scope, name, address, enabled, groups, vars, hash, first_seen, last_seen) VALUES ` +
			repeatTuple(len(hosts), `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+itoa(ts)+`)`)
		if _, err := b.tx.ExecContext(ctx, q, args...); err != nil {
			return err
		}
	}
	return nil
}

// updateHosts runs one prepared statement per host: in process, that is
// as fast as a statement of many.
func (b sqliteBulk) updateHosts(ctx context.Context, sourceID string, hosts []*roster.Host, now time.Time) error {
	stmt, err := b.tx.PrepareContext(ctx, `UPDATE hosts SET scope = ?, name = ?, address = ?, enabled = ?, groups = ?, vars = ?, hash = ?,
		missing_since = NULL, last_seen = ? WHERE id = ? AND source_id = ?`)
	if err != nil {
		return err
	}
	defer stmt.Close()
	ts := micros(now)
	for _, h := range hosts {
		if _, err := stmt.ExecContext(ctx, h.Scope, h.Name, h.Address, h.Enabled, mustJSON(nonNilStrings(h.Groups)), string(h.Vars), h.Hash, ts, h.ID, sourceID); err != nil {
			return err
		}
	}
	return nil
}

func (b sqliteBulk) insertMemberships(ctx context.Context, inventoryID string, hosts []*roster.Host) error {
	type member struct {
		group string
		id    int64
	}
	var pending []member
	flush := func() error {
		if len(pending) == 0 {
			return nil
		}
		args := make([]any, 0, len(pending)*3)
		for _, m := range pending {
			args = append(args, inventoryID, m.group, m.id)
		}
		_, err := b.tx.ExecContext(ctx, `INSERT INTO host_groups (inventory_id, group_name, host_id) VALUES `+
			repeatTuple(len(pending), `(?, ?, ?)`)+` ON CONFLICT DO NOTHING`, args...)
		pending = pending[:0]
		return err
	}
	for _, h := range hosts {
		for _, g := range h.Groups {
			pending = append(pending, member{g, h.ID})
			if len(pending) == batch*2 {
				if err := flush(); err != nil {
					return err
				}
			}
		}
	}
	return flush()
}

// deleteHostMemberships names the ids in lists of constants: SQLite
// deletes by them faster than by a list it reads from JSON (json_each)
// (BENCHMARKS.md, "One store over a dialect seam").
func (b sqliteBulk) deleteHostMemberships(ctx context.Context, t groupTally, ids []int64) error {
	for ids := range chunks(ids, batch) {
		args := make([]any, len(ids))
		for i, id := range ids {
			args[i] = id
		}
		if err := b.deleteMemberships(ctx, t, `host_id IN (`+placeholders(len(ids))+`)`, args...); err != nil {
			return err
		}
	}
	return nil
}

// deleteMemberships counts the memberships it deletes first: SQLite has
// no DELETE in a WITH. Its statements are rewritten here, not remembered
// by sqliteText: deleteHostMemberships' lists give each a shape of its own.
func (b sqliteBulk) deleteMemberships(ctx context.Context, t groupTally, where string, args ...any) error {
	where = rewritePlaceholders(where)
	rs, err := b.tx.QueryContext(ctx, `SELECT group_name, count(*) FROM host_groups WHERE `+where+` GROUP BY group_name`, args...)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var g string
		var n int64
		if err := rs.Scan(&g, &n); err != nil {
			return err
		}
		t[g] -= n
	}
	if err := rs.Err(); err != nil {
		return err
	}
	_, err = b.tx.ExecContext(ctx, `DELETE FROM host_groups WHERE `+where, args...)
	return err
}

func (b sqliteBulk) addGroupCounts(ctx context.Context, inventoryID string, names []string, deltas []int64) error {
	for i := 0; i < len(names); i += batch {
		j := min(i+batch, len(names))
		args := make([]any, 0, 3*(j-i))
		for k := i; k < j; k++ {
			args = append(args, inventoryID, names[k], deltas[k])
		}
		if _, err := b.tx.ExecContext(ctx, `INSERT INTO group_host_counts (inventory_id, group_name, hosts) VALUES `+
			repeatTuple(j-i, `(?, ?, ?)`)+` ON CONFLICT (inventory_id, group_name) DO UPDATE SET hosts = hosts + excluded.hosts`, args...); err != nil {
			return err
		}
	}
	return nil
}

func (b sqliteBulk) insertEdges(ctx context.Context, run *roster.SyncRun, edges []roster.GroupEdge) error {
	for edges := range chunks(edges, batch) {
		args := make([]any, 0, len(edges)*4)
		for _, e := range edges {
			args = append(args, run.InventoryID, run.SourceID, e.Parent, e.Child)
		}
		if _, err := b.tx.ExecContext(ctx, `INSERT INTO group_edges (inventory_id, source_id, parent, child) VALUES `+
			repeatTuple(len(edges), `(?, ?, ?, ?)`)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}
