package store

import (
	"context"
	"encoding/json"
	"math"

	"github.com/rosterhq/roster"
)

// ---- groups

// Groups implements roster.HostStore.
func (s *db) Groups(ctx context.Context, inventoryID string) ([]*roster.Group, error) {
	groups, _, err := s.GroupsFirst(ctx, inventoryID, -1)
	return groups, err
}

// GroupsFirst implements roster.HostStore; n < 0 reads every group.
func (s *db) GroupsFirst(ctx context.Context, inventoryID string, n int) ([]*roster.Group, int, error) {
	var groups groupList
	total := 0
	limit := int64(n)
	if n < 0 {
		limit = math.MaxInt64
	}
	err := s.snapshot(ctx, func(c conn) error {
		rs, err := c.query(ctx, `SELECT group_name, hosts FROM group_host_counts WHERE inventory_id = $1 ORDER BY group_name`+s.byteOrder+` LIMIT $2`, inventoryID, limit)
		if _, err := scanGroupCounts(rs, err, groups.add); err != nil {
			return err
		}
		if err := groupStructure(ctx, c, inventoryID, groups.get); err != nil {
			return err
		}
		total = len(groups.counted)
		if n < 0 || total < n {
			total += len(groups.more)
			return nil // every group with hosts was read
		}
		if err := c.queryRow(ctx, `SELECT count(*) FROM group_host_counts WHERE inventory_id = $1`, inventoryID).Scan(&total); err != nil {
			return err
		}
		uncounted := groups.uncounted()
		if len(uncounted) == 0 {
			return nil
		}
		rs, err = c.query(ctx, `SELECT group_name, hosts FROM group_host_counts WHERE inventory_id = $1 AND group_name `+s.anyOf("$2"), inventoryID, uncounted)
		counted, err := scanGroupCounts(rs, err, func(name string, hosts int) { groups.get(name).Hosts = hosts })
		total += len(uncounted) - counted
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return groups.sorted(), total, nil
}

// scanGroupCounts passes each (group_name, hosts) row of rs to f and
// returns how many there were.
func scanGroupCounts(rs rows, err error, f func(name string, hosts int)) (int, error) {
	var name string
	var hosts int
	n := 0
	err = eachRow(rs, err, []any{&name, &hosts}, func() error {
		f(name, hosts)
		n++
		return nil
	})
	return n, err
}

// groupStructure loads the children and vars of an inventory's groups.
func groupStructure(ctx context.Context, c conn, inventoryID string, get func(string) *roster.Group) error {
	var parent, child string
	rs, err := c.query(ctx, `SELECT DISTINCT parent, child FROM group_edges WHERE inventory_id = $1 ORDER BY parent, child`, inventoryID)
	err = eachRow(rs, err, []any{&parent, &child}, func() error {
		g := get(parent)
		g.Children = append(g.Children, child)
		get(child)
		return nil
	})
	if err != nil {
		return err
	}
	var name string
	var vars []byte
	rs, err = c.query(ctx, `SELECT name, vars FROM group_vars WHERE inventory_id = $1`, inventoryID)
	return eachRow(rs, err, []any{&name, &vars}, func() error {
		get(name).Vars = vars
		return nil
	})
}

// eachRow scans every row of rs into dest, then calls f; as pgx's
// ForEachRow, one dest serves all rows (a scan into a []byte makes a new
// one).
func eachRow(rs rows, err error, dest []any, f func() error) error {
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		if err := rs.Scan(dest...); err != nil {
			return err
		}
		if err := f(); err != nil {
			return err
		}
	}
	return rs.Err()
}

// SetGroupVars implements roster.HostStore.
func (s *db) SetGroupVars(ctx context.Context, inventoryID, group string, vars json.RawMessage) error {
	return s.inTx(ctx, func(c conn) error {
		var err error
		if len(vars) == 0 || string(vars) == "{}" || string(vars) == "null" {
			_, err = c.exec(ctx, `DELETE FROM group_vars WHERE inventory_id = $1 AND name = $2`, inventoryID, group)
		} else {
			_, err = c.exec(ctx, `INSERT INTO group_vars (inventory_id, name, vars) VALUES ($1, $2, $3)
				ON CONFLICT (inventory_id, name) DO UPDATE SET vars = excluded.vars`, inventoryID, group, string(vars))
		}
		switch {
		case isForeignKey(err):
			return notFound("inventory", inventoryID)
		case pgCode(err) == "22P02": // invalid_text_representation: not JSON
			return roster.Errorf(roster.EINVALID, "the vars of group %q are not JSON", group)
		case err != nil:
			return err
		}
		_, err = s.bumpGeneration(ctx, c, inventoryID)
		return err
	})
}
