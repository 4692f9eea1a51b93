package store

import (
	"context"
	"encoding/json"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// PostgreSQL's bulk writes of a sync (apply.go): a few statements whatever
// their size, COPY for new rows and arrays (= ANY, unnest) for the rest.

// pgBulk is the bulkWriter of a PostgreSQL write transaction.
type pgBulk struct{ tx pgx.Tx }

var _ bulkConn = pgConn{}

// bulk implements bulkConn for the conn of a write transaction.
func (c pgConn) bulk() bulkWriter { return pgBulk{c.q.(pgx.Tx)} }

// reserveHostIDs takes a block of ids from the sequence (never reused, and
// never blocking: concurrent syncs interleave, which is fine).
func (b pgBulk) reserveHostIDs(ctx context.Context, n int) ([]int64, error) {
	var ids []int64
	if err := b.tx.QueryRow(ctx, `SELECT array_agg(nextval('host_ids')) FROM generate_series(1, $1)`, n).Scan(&ids); err != nil {
		return nil, err
	}
	slices.Sort(ids)
	return ids, nil
}

var pgHostCopyCols = []string{"id", "inventory_id", "source_id", "external_id", "scope", "name", "address", "enabled", "groups", "vars", "hash", "first_seen", "last_seen"}

func (b pgBulk) insertHosts(ctx context.Context, hosts []*roster.Host, now time.Time) error {
	_, err := b.tx.CopyFrom(ctx, pgx.Identifier{"hosts"}, pgHostCopyCols, pgx.CopyFromSlice(len(hosts), func(i int) ([]any, error) {
		h := hosts[i]
		return []any{h.ID, h.InventoryID, h.SourceID, h.ExternalID, h.Scope, h.Name, h.Address, h.Enabled,
			nonNilStrings(h.Groups), hostVars(h.Vars), h.Hash, now, now}, nil
	}))
	return err
}

func (b pgBulk) updateHosts(ctx context.Context, sourceID string, hosts []*roster.Host, now time.Time) error {
	n := len(hosts)
	ids, enabled := make([]int64, n), make([]bool, n)
	scopes, names, addresses, groups, hashes := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	vars := make([][]byte, n)
	for i, h := range hosts {
		ids[i], enabled[i] = h.ID, h.Enabled
		scopes[i], names[i], addresses[i], hashes[i] = h.Scope, h.Name, h.Address, h.Hash
		groups[i] = mustJSON(nonNilStrings(h.Groups))
		vars[i] = hostVars(h.Vars)
	}
	// A host's groups travel as a JSON array: SQL arrays cannot be ragged.
	_, err := b.tx.Exec(ctx, `UPDATE hosts h SET scope = u.scope, name = u.name, address = u.address, enabled = u.enabled,
			groups = ARRAY(SELECT json_array_elements_text(u.groups)), vars = u.vars, hash = u.hash, missing_since = NULL, last_seen = $1
		FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::json[], $9::json[], $10::text[])
			AS u (id, scope, name, address, enabled, groups, vars, hash)
		WHERE h.id = u.id AND h.source_id = $2`,
		now, sourceID, ids, scopes, names, addresses, enabled, groups, vars, hashes)
	return err
}

func (b pgBulk) insertMemberships(ctx context.Context, inventoryID string, hosts []*roster.Host) error {
	i, j := 0, 0
	next := func() ([]any, error) {
		for ; i < len(hosts); i, j = i+1, 0 {
			h := hosts[i]
			for j < len(h.Groups) {
				g := h.Groups[j]
				j++
				if !slices.Contains(h.Groups[:j-1], g) {
					return []any{inventoryID, g, h.ID}, nil
				}
			}
		}
		return nil, nil
	}
	_, err := b.tx.CopyFrom(ctx, pgx.Identifier{"host_groups"}, []string{"inventory_id", "group_name", "host_id"}, pgx.CopyFromFunc(next))
	return err
}

func (b pgBulk) deleteHostMemberships(ctx context.Context, t groupTally, ids []int64) error {
	return b.deleteMemberships(ctx, t, `host_id = ANY($1)`, ids)
}

func (b pgBulk) deleteMemberships(ctx context.Context, t groupTally, where string, args ...any) error {
	rows, err := b.tx.Query(ctx, `WITH gone AS (DELETE FROM host_groups WHERE `+where+` RETURNING group_name)
		SELECT group_name, count(*) FROM gone GROUP BY group_name`, pgArgs(args)...)
	if err != nil {
		return err
	}
	var g string
	var n int64
	_, err = pgx.ForEachRow(rows, []any{&g, &n}, func() error {
		t[g] -= n
		return nil
	})
	return err
}

func (b pgBulk) addGroupCounts(ctx context.Context, inventoryID string, names []string, deltas []int64) error {
	_, err := b.tx.Exec(ctx, `INSERT INTO group_host_counts (inventory_id, group_name, hosts)
		SELECT $1, g, d FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS t (g, d, i) ORDER BY i
		ON CONFLICT (inventory_id, group_name) DO UPDATE SET hosts = group_host_counts.hosts + excluded.hosts`,
		inventoryID, names, deltas)
	return err
}

func (b pgBulk) insertEdges(ctx context.Context, run *roster.SyncRun, edges []roster.GroupEdge) error {
	parents, children := make([]string, len(edges)), make([]string, len(edges))
	for i, e := range edges {
		parents[i], children[i] = e.Parent, e.Child
	}
	_, err := b.tx.Exec(ctx, `INSERT INTO group_edges (inventory_id, source_id, parent, child)
		SELECT $1, $2, parent, child FROM unnest($3::text[], $4::text[]) AS e (parent, child)
		ON CONFLICT DO NOTHING`, run.InventoryID, run.SourceID, parents, children)
	return err
}

// hostVars is the stored form of a host's vars: JSON, so never empty.
func hostVars(v json.RawMessage) []byte {
	if len(v) == 0 {
		return []byte("{}")
	}
	return v
}
