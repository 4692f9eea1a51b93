package store

import (
	"context"
	"time"

	"github.com/rosterhq/roster"
)

// Applying a sync's changes to the hosts (FinishSyncRun): written once
// here, over bulkWriter for the writes of many rows, which each database
// does its own fastest way.

// bulkWriter writes a sync's rows in bulk: PostgreSQL copies them in
// (COPY) and binds arrays (unnest), SQLite runs multi-row statements under
// its limit of variables.
type bulkWriter interface {
	// reserveHostIDs takes n new host ids, in increasing order, from the
	// hosts' sequence (never reused).
	reserveHostIDs(ctx context.Context, n int) ([]int64, error)
	// insertHosts inserts new hosts, their ids and inventory set, first
	// and last seen now.
	insertHosts(ctx context.Context, hosts []*roster.Host, now time.Time) error
	// updateHosts overwrites the stored hosts of source sourceID among
	// hosts (each listed once), last seen now and no longer missing.
	updateHosts(ctx context.Context, sourceID string, hosts []*roster.Host, now time.Time) error
	// insertMemberships inserts the group memberships of hosts, which
	// have none stored: a group a host names twice is one membership.
	insertMemberships(ctx context.Context, inventoryID string, hosts []*roster.Host) error
	// deleteMemberships deletes the memberships that where (a condition
	// written with $N placeholders, bound to args) selects, and counts
	// them down in t.
	deleteMemberships(ctx context.Context, t groupTally, where string, args ...any) error
	// deleteHostMemberships deletes the memberships of the hosts of ids
	// and counts them down in t.
	deleteHostMemberships(ctx context.Context, t groupTally, ids []int64) error
	// addGroupCounts adds deltas to the host counts of the groups names
	// (sorted) of inventoryID, in that order.
	addGroupCounts(ctx context.Context, inventoryID string, names []string, deltas []int64) error
	// insertEdges inserts the group edges of run's source that are not
	// stored yet.
	insertEdges(ctx context.Context, run *roster.SyncRun, edges []roster.GroupEdge) error
}

// bulkConn is what the conn of a write transaction (inTx) is too.
type bulkConn interface {
	conn
	bulk() bulkWriter
}

// bulk returns the bulk writer of c, the conn of a write transaction.
func bulk(c conn) bulkWriter { return c.(bulkConn).bulk() }

const (
	// updateBatch is how many hosts one update writes: with 2.5 KB of
	// vars each, a few megabytes per statement.
	updateBatch = 1000
	// addBatch is how many new hosts are written at once when their
	// bodies are loaded a batch at a time (HostChanges.Bodies).
	addBatch = 2000
)

// bumpGeneration moves an inventory's generation and returns the new one
// (0 when the inventory is gone). In PostgreSQL it locks the inventory's
// generation row, never the inventory's (see migration 0010).
func (s *db) bumpGeneration(ctx context.Context, c conn, inventoryID string) (int64, error) {
	var gen int64
	err := c.queryRow(ctx, `UPDATE inventory_generations SET generation = generation + 1 WHERE inventory_id = $1 RETURNING generation`, inventoryID).Scan(&gen)
	if isNoRows(err) {
		return 0, nil
	}
	return gen, err
}

// applyChangesBumping applies a sync's changes and moves its inventory's
// generation when they change what the inventory's documents show. The
// bump comes last, so concurrent syncs of one inventory's sources
// (PostgreSQL) wait for each other only for their commits.
func (s *db) applyChangesBumping(ctx context.Context, c conn, run *roster.SyncRun, ch *roster.HostChanges, now time.Time) error {
	shown, err := changesShown(ch, func() ([]roster.GroupEdge, error) {
		rs, err := c.query(ctx, `SELECT parent, child FROM group_edges WHERE source_id = $1`, run.SourceID)
		return scanAll(rs, err, func(r row) (roster.GroupEdge, error) { return scanEdge(r) })
	})
	if err != nil {
		return err
	}
	if err := s.applyChanges(ctx, c, run, ch, now); err != nil || !shown {
		return err
	}
	_, err = s.bumpGeneration(ctx, c, run.InventoryID)
	return err
}

// applyChanges writes a sync's changes in a few statements whatever their
// size, each host's memberships and its groups' counts with it.
func (s *db) applyChanges(ctx context.Context, c conn, run *roster.SyncRun, ch *roster.HostChanges, now time.Time) error {
	w := bulk(c)
	tally := groupTally{}
	if len(ch.Remove) > 0 {
		if ch.Record {
			if err := s.recordRemoved(ctx, c, run, ch.Remove, now); err != nil {
				return err
			}
		}
		if err := w.deleteHostMemberships(ctx, tally, ch.Remove); err != nil {
			return err
		}
		if _, err := c.exec(ctx, `DELETE FROM hosts WHERE source_id = $1 AND id `+s.anyOf("$2"), run.SourceID, ch.Remove); err != nil {
			return err
		}
	}
	if len(ch.Disable) > 0 {
		if ch.Record {
			if err := s.recordDisabled(ctx, c, run, ch.Disable, now); err != nil {
				return err
			}
		}
		if _, err := c.exec(ctx, `UPDATE hosts SET enabled = false, missing_since = $1 WHERE source_id = $2 AND id `+s.anyOf("$3"),
			now, run.SourceID, ch.Disable); err != nil {
			return err
		}
	}
	if err := s.updateHosts(ctx, c, w, run, ch, now, tally); err != nil {
		return err
	}
	if err := s.addHosts(ctx, c, w, run, ch, now, tally); err != nil {
		return err
	}
	if err := s.writeGroupCounts(ctx, c, run.InventoryID, tally); err != nil {
		return err
	}
	if len(ch.Scopes) > 0 {
		// WHERE true: SQLite's parser needs it between a SELECT and ON CONFLICT.
		if _, err := c.exec(ctx, `INSERT INTO source_scopes (source_id, scope, synced_at)
			SELECT $1, value, $2 FROM (SELECT DISTINCT value FROM `+s.elements("$3", "text")+`) AS s WHERE true
			ON CONFLICT (source_id, scope) DO UPDATE SET synced_at = excluded.synced_at`, run.SourceID, now, ch.Scopes); err != nil {
			return err
		}
	}
	if ch.ReplaceEdges {
		if _, err := c.exec(ctx, `DELETE FROM group_edges WHERE source_id = $1`, run.SourceID); err != nil {
			return err
		}
	}
	if len(ch.Edges) == 0 {
		return nil
	}
	return w.insertEdges(ctx, run, ch.Edges)
}

// updateHosts writes the updated hosts of ch a batch at a time, a host
// listed twice as its last listing, and replaces their memberships.
func (s *db) updateHosts(ctx context.Context, c conn, w bulkWriter, run *roster.SyncRun, ch *roster.HostChanges, now time.Time, tally groupTally) error {
	if len(ch.Update) == 0 {
		return nil
	}
	for hosts, err := range ch.Batches(lastByID(ch.Update), updateBatch) {
		if err != nil {
			return err
		}
		if ch.Record {
			if err := s.recordUpdated(ctx, c, run, hosts, now); err != nil {
				return err
			}
		}
		if err := w.updateHosts(ctx, run.SourceID, hosts, now); err != nil {
			return err
		}
		if err := w.deleteHostMemberships(ctx, tally, hostIDs(hosts)); err != nil {
			return err
		}
		tally.addHosts(hosts)
		if err := w.insertMemberships(ctx, run.InventoryID, hosts); err != nil {
			return err
		}
	}
	return nil
}

// addHosts gives the new hosts of ch ids and writes them and their
// memberships.
func (s *db) addHosts(ctx context.Context, c conn, w bulkWriter, run *roster.SyncRun, ch *roster.HostChanges, now time.Time, tally groupTally) error {
	if len(ch.Add) == 0 {
		return nil
	}
	ids, err := w.reserveHostIDs(ctx, len(ch.Add))
	if err != nil {
		return err
	}
	for i, h := range ch.Add {
		h.ID = ids[i]
		h.InventoryID, h.SourceID = run.InventoryID, run.SourceID
	}
	n := len(ch.Add)
	if ch.Bodies != nil {
		n = addBatch
	}
	for hosts, err := range ch.Batches(ch.Add, n) {
		if err != nil {
			return err
		}
		if err := w.insertHosts(ctx, hosts, now); err != nil {
			return err
		}
		tally.addHosts(hosts)
		if err := w.insertMemberships(ctx, run.InventoryID, hosts); err != nil {
			return err
		}
		if ch.Record {
			if err := s.recordAdded(ctx, c, run, hosts, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeGroupCounts applies t to inventoryID's group host counts, in the
// order of the groups' names (see groupTally), in c's transaction.
func (s *db) writeGroupCounts(ctx context.Context, c conn, inventoryID string, t groupTally) error {
	names, deltas, emptied := t.changes()
	if len(names) == 0 {
		return nil
	}
	if err := bulk(c).addGroupCounts(ctx, inventoryID, names, deltas); err != nil || !emptied {
		return err
	}
	_, err := c.exec(ctx, `DELETE FROM group_host_counts WHERE inventory_id = $1 AND group_name `+s.anyOf("$2")+` AND hosts <= 0`, inventoryID, names)
	return err
}

// lastByID drops all but the last of hosts listed twice, as a statement
// per host would leave them.
func lastByID(hosts []*roster.Host) []*roster.Host {
	seen := make(map[int64]int, len(hosts))
	dup := false
	for i, h := range hosts {
		if _, ok := seen[h.ID]; ok {
			dup = true
		}
		seen[h.ID] = i
	}
	if !dup {
		return hosts
	}
	out := make([]*roster.Host, 0, len(seen))
	for i, h := range hosts {
		if seen[h.ID] == i {
			out = append(out, h)
		}
	}
	return out
}
