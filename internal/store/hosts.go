package store

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// ---- hosts

const hostCols = `h.id, h.inventory_id, h.source_id, h.external_id, h.scope, h.name, h.address, h.enabled, h.groups, h.vars,
	h.missing_since, h.first_seen, h.last_seen, ss.synced_at`

const hostFrom = ` FROM hosts h LEFT JOIN source_scopes ss ON ss.source_id = h.source_id AND ss.scope = h.scope`

// scanHost reads the columns of hostCols into h. A host still seen was
// seen when its scope was last synced.
func scanHost(r row, h *roster.Host) error {
	var vars []byte
	var missing, synced *time.Time
	if err := r.Scan(&h.ID, &h.InventoryID, &h.SourceID, &h.ExternalID, &h.Scope, &h.Name, &h.Address, &h.Enabled,
		&h.Groups, &vars, &missing, &h.FirstSeen, &h.LastSeen, &synced); err != nil {
		return err
	}
	h.Vars = vars
	h.Missing = missing != nil
	if !h.Missing && synced != nil && synced.After(h.LastSeen) {
		h.LastSeen = *synced
	}
	return nil
}

// Hosts implements roster.HostStore.
func (s *db) Hosts(ctx context.Context, f roster.HostFilter) ([]*roster.Host, string, error) {
	limit := pageLimit(f.Limit)
	var where strings.Builder
	args := []any{f.InventoryID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	where.WriteString(` WHERE h.inventory_id = $1`)
	if f.SourceID != "" {
		where.WriteString(` AND h.source_id = ` + arg(f.SourceID))
	}
	if f.Enabled != nil {
		where.WriteString(` AND h.enabled = ` + arg(*f.Enabled))
	}
	switch {
	case f.Name == "":
	case strings.Contains(f.Name, "*"):
		op, pattern := s.wildcard(f.Name)
		where.WriteString(` AND h.name ` + op + ` ` + arg(pattern))
	default:
		where.WriteString(` AND h.name = ` + arg(f.Name))
	}
	if f.Group != "" {
		where.WriteString(` AND h.id IN (SELECT host_id FROM host_groups WHERE inventory_id = $1 AND group_name = ` + arg(f.Group) + `)`)
	}
	if f.Ungrouped {
		where.WriteString(` AND h.groups = ` + s.emptyList) // index hosts_ungrouped
	}
	if f.Var.Key != "" {
		if err := f.Var.Check(); err != nil {
			return nil, "", err
		}
		where.WriteString(` AND ` + s.varIs("h.vars", arg, f.Var.Key, f.Var.Value))
	}
	var after *hostCursor
	if f.After != "" {
		var c hostCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		where.WriteString(` AND ` + s.rowCompare("h.name", "h.id", ">", arg(c.Name), arg(c.ID)))
		after = &c
	}
	// The window a bounded scan looks at ends at its Scan-th host; none:
	// the inventory ends first.
	var windowEnd *hostCursor
	if f.Scan > 0 {
		end, err := s.hostWindowEnd(ctx, f.InventoryID, after, f.Scan)
		if err != nil {
			return nil, "", err
		}
		if end != nil {
			windowEnd = end
			where.WriteString(` AND ` + s.rowCompare("h.name", "h.id", "<=", arg(end.Name), arg(end.ID)))
		}
	}
	rs, err := s.r.query(ctx, `SELECT `+hostCols+hostFrom+where.String()+` ORDER BY h.name, h.id LIMIT `+arg(limit+1), args...)
	if err != nil {
		return nil, "", err
	}
	defer rs.Close()
	hosts := make([]*roster.Host, 0, min(limit, 64))
	for rs.Next() {
		var h roster.Host
		if err := scanHost(rs, &h); err != nil {
			return nil, "", err
		}
		hosts = append(hosts, &h)
	}
	if err := rs.Err(); err != nil {
		return nil, "", err
	}
	var next string
	if len(hosts) > limit {
		hosts = hosts[:limit]
		last := hosts[limit-1]
		next = encodeCursor(hostCursor{Name: last.Name, ID: last.ID})
	} else if windowEnd != nil {
		next = encodeCursor(*windowEnd)
	}
	return hosts, next, nil
}

// hostWindowEnd is the n-th host of an inventory after after (nil: from
// its first), by name; nil when the inventory ends first.
func (s *db) hostWindowEnd(ctx context.Context, inventoryID string, after *hostCursor, n int) (*hostCursor, error) {
	q, args := `SELECT name, id FROM hosts WHERE inventory_id = $1`, []any{inventoryID}
	if after != nil {
		q += ` AND ` + s.rowCompare("name", "id", ">", "$2", "$3")
		args = append(args, after.Name, after.ID)
	}
	args = append(args, n-1)
	var end hostCursor
	err := s.r.queryRow(ctx, q+` ORDER BY name, id LIMIT 1 OFFSET $`+strconv.Itoa(len(args)), args...).Scan(&end.Name, &end.ID)
	if isNoRows(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &end, nil
}

// Host implements roster.HostStore.
func (s *db) Host(ctx context.Context, inventoryID string, id int64) (*roster.Host, error) {
	var h roster.Host
	err := scanHost(s.r.queryRow(ctx, `SELECT `+hostCols+hostFrom+` WHERE h.inventory_id = $1 AND h.id = $2`, inventoryID, id), &h)
	if isNoRows(err) {
		return nil, notFound("host", strconv.FormatInt(id, 10))
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// WalkInventory implements roster.HostStore.
func (s *db) WalkInventory(ctx context.Context, inventoryID string, host func(*roster.Host) error, group func(*roster.Group) error) (int64, error) {
	// One snapshot, so the generation, hosts and groups agree.
	var gen int64
	err := s.snapshot(ctx, func(c conn) error {
		var err error
		if gen, err = generationOf(ctx, c, inventoryID); err != nil {
			return err
		}
		if err := walkHosts(ctx, c, inventoryID, host); err != nil {
			return err
		}
		var groups groupList
		if err := groupStructure(ctx, c, inventoryID, groups.get); err != nil {
			return err
		}
		for _, g := range groups.sorted() {
			if err := group(g); err != nil {
				return err
			}
		}
		return nil
	})
	return gen, err
}

// walkHosts passes every host of an inventory to host, by name, in one
// Host it reuses.
func walkHosts(ctx context.Context, c conn, inventoryID string, host func(*roster.Host) error) error {
	rs, err := c.query(ctx, `SELECT `+hostCols+hostFrom+` WHERE h.inventory_id = $1 ORDER BY h.name, h.id`, inventoryID)
	if err != nil {
		return err
	}
	defer rs.Close()
	var h roster.Host
	for rs.Next() {
		h.Groups = h.Groups[:0] // decoded in place (jsonList): the host is only valid during the call
		if err := scanHost(rs, &h); err != nil {
			return err
		}
		if err := host(&h); err != nil {
			return err
		}
	}
	return rs.Err()
}

// HostNamesOfOtherSources implements roster.HostStore.
func (s *db) HostNamesOfOtherSources(ctx context.Context, inventoryID, sourceID string) (map[string]string, error) {
	rs, err := s.r.query(ctx, `SELECT h.name, min(s.name) FROM hosts h JOIN sources s ON s.id = h.source_id
		WHERE h.inventory_id = $1 AND h.source_id <> $2 GROUP BY h.name`, inventoryID, sourceID)
	out := make(map[string]string)
	var host, source string
	err = eachRow(rs, err, []any{&host, &source}, func() error {
		out[host] = source
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// HostNameConflicts implements roster.HostStore.
func (s *db) HostNameConflicts(ctx context.Context, inventoryID string, limit int) ([]roster.NameConflict, int, error) {
	var out []roster.NameConflict
	var total int
	// One snapshot for the count and the list.
	err := s.snapshot(ctx, func(c conn) error {
		if err := c.queryRow(ctx, `SELECT count(*) FROM (`+conflictingNames+`) c`, inventoryID).Scan(&total); err != nil {
			return err
		}
		rs, err := c.query(ctx, conflictSources, inventoryID, limit)
		var host, source string
		return eachRow(rs, err, []any{&host, &source}, func() error {
			out = appendConflict(out, host, source)
			return nil
		})
	})
	return out, total, err
}

// HostStates implements roster.HostStore.
func (s *db) HostStates(ctx context.Context, sourceID string) ([]roster.HostState, error) {
	rs, err := s.r.query(ctx, `SELECT id, external_id, scope, name, hash, enabled, missing_since IS NOT NULL FROM hosts WHERE source_id = $1`, sourceID)
	var out []roster.HostState
	var st roster.HostState
	err = eachRow(rs, err, []any{&st.ID, &st.ExternalID, &st.Scope, &st.Name, &st.Hash, &st.Enabled, &st.Missing}, func() error {
		out = append(out, st)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
