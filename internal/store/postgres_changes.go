package store

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

var pgChangeCopyCols = []string{"run_id", "inventory_id", "source_id", "host_id", "host_name", "kind", "keys", "diff", "truncated", "at"}

// pgCopyChanges copies changes in; those without At get at.
func pgCopyChanges(ctx context.Context, tx pgx.Tx, changes []*roster.HostChange, at time.Time) error {
	for _, c := range changes {
		if err := checkChange(c); err != nil {
			return err
		}
	}
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"host_changes"}, pgChangeCopyCols, pgx.CopyFromSlice(len(changes), func(i int) ([]any, error) {
		c := changes[i]
		diff, err := encodeDiff(c.Diff)
		if err != nil {
			return nil, err
		}
		t := at
		if !c.At.IsZero() {
			t = pgTime(c.At)
		}
		var d any
		if diff != nil {
			d = diff
		}
		return []any{c.RunID, c.InventoryID, c.SourceID, c.HostID, c.HostName, string(c.Kind), nonNilStrings(c.ChangedKeys), d, c.Truncated, t}, nil
	}))
	return err
}

// pgRecordRemoved records the removal of the hosts of ids, before they
// are deleted.
func pgRecordRemoved(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, ids []int64, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, at)
		SELECT $1, inventory_id, source_id, id, name, 'removed', $2 FROM hosts WHERE source_id = $3 AND id = ANY($4) ORDER BY id`,
		run.ID, now, run.SourceID, ids)
	return err
}

// pgRecordDisabled records the disabling of the missing hosts of ids,
// before they are disabled.
func pgRecordDisabled(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, ids []int64, now time.Time) error {
	was, wasNot := disabledRecords[1], disabledRecords[0]
	_, err := tx.Exec(ctx, `INSERT INTO host_changes (run_id, inventory_id, source_id, host_id, host_name, kind, keys, diff, at)
		SELECT $1, inventory_id, source_id, id, name, 'disabled', CASE WHEN enabled THEN $2::text[] ELSE $3::text[] END,
			CASE WHEN enabled THEN $4::json ELSE $5::json END, $6
		FROM hosts WHERE source_id = $7 AND id = ANY($8) ORDER BY id`,
		run.ID, was.keys, wasNot.keys, string(was.diff), string(wasNot.diff), now, run.SourceID, ids)
	return err
}

// pgRecordAdded records the addition of hosts (a batch just copied in).
func pgRecordAdded(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, hosts []*roster.Host, now time.Time) error {
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"host_changes"}, []string{"run_id", "inventory_id", "source_id", "host_id", "host_name", "kind", "at"},
		pgx.CopyFromSlice(len(hosts), func(i int) ([]any, error) {
			h := hosts[i]
			return []any{run.ID, run.InventoryID, run.SourceID, h.ID, h.Name, string(roster.ChangeAdded), now}, nil
		}))
	return err
}

// pgRecordUpdated records the updates of hosts (a batch, with their
// bodies), diffed against their stored rows: called before they are
// overwritten.
func pgRecordUpdated(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, hosts []*roster.Host, now time.Time) error {
	rows, err := tx.Query(ctx, `SELECT id, name, address, scope, enabled, missing_since IS NOT NULL, groups, vars
		FROM hosts WHERE source_id = $1 AND id = ANY($2)`, run.SourceID, hostIDs(hosts))
	if err != nil {
		return err
	}
	old := make(map[int64]*roster.Host, len(hosts))
	err = func() error {
		defer rows.Close()
		for rows.Next() {
			var h roster.Host
			var vars []byte
			if err := rows.Scan(&h.ID, &h.Name, &h.Address, &h.Scope, &h.Enabled, &h.Missing, &h.Groups, &vars); err != nil {
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
	return pgCopyChanges(ctx, tx, changes, now)
}

// AddHostChanges implements roster.HostChangeStore.
func (s *Postgres) AddHostChanges(ctx context.Context, changes []*roster.HostChange) error {
	if len(changes) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		runs := map[string]bool{}
		for _, c := range changes {
			if runs[c.RunID] {
				continue
			}
			var ok bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE id = $1)`, c.RunID).Scan(&ok); err != nil {
				return err
			}
			if !ok {
				return notFound("sync run", c.RunID)
			}
			runs[c.RunID] = true
		}
		now := pgTime(s.now())
		for cs := range chunks(changes, changeBatch) {
			if err := pgCopyChanges(ctx, tx, cs, now); err != nil {
				return err
			}
		}
		return nil
	})
}

const pgChangeCols = `id, run_id, inventory_id, source_id, host_id, host_name, kind, keys, diff, truncated, at`

func pgScanChange(rows pgx.Rows) (changeRow, error) {
	var r changeRow
	c := &roster.HostChange{}
	var diff []byte
	if err := rows.Scan(&r.id, &c.RunID, &c.InventoryID, &c.SourceID, &c.HostID, &c.HostName, &c.Kind, &c.ChangedKeys, &diff, &c.Truncated, &c.At); err != nil {
		return r, err
	}
	c.At = utc(c.At)
	if len(c.ChangedKeys) == 0 {
		c.ChangedKeys = nil
	}
	d, err := decodeDiff(diff)
	c.Diff, r.change = d, c
	return r, err
}

// changeRow is a change as listed, with its id for the cursor.
type changeRow struct {
	id     int64
	change *roster.HostChange
}

func changesOf(rows []changeRow) []*roster.HostChange {
	out := make([]*roster.HostChange, len(rows))
	for i, r := range rows {
		out[i] = r.change
	}
	return out
}

// HostChanges implements roster.HostChangeStore.
func (s *Postgres) HostChanges(ctx context.Context, f roster.HostChangeFilter) ([]*roster.HostChange, string, error) {
	limit := pageLimit(f.Limit)
	var w pgWhere
	w.add(`run_id = ?`, f.RunID)
	if f.Kind != "" {
		w.add(`kind = ?`, string(f.Kind))
	}
	if f.After != "" {
		var c changeCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		w.args = append(w.args, string(c.Kind), c.ID)
		n := int64(len(w.args))
		w.conds = append(w.conds, `(kind, id) > ($`+itoa(n-1)+`, $`+itoa(n)+`)`)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+pgChangeCols+` FROM host_changes`+w.String()+` ORDER BY kind, id`+w.limit(limit+1), w.args...)
	list, err := collect(rows, err, pgScanChange)
	if err != nil || len(list) <= limit {
		return changesOf(list), "", err
	}
	last := list[limit-1]
	return changesOf(list[:limit]), encodeCursor(changeCursor{Kind: last.change.Kind, ID: last.id}), nil
}

// HostHistory implements roster.HostChangeStore.
func (s *Postgres) HostHistory(ctx context.Context, f roster.HostHistoryFilter) ([]*roster.HostChange, string, error) {
	limit := pageLimit(f.Limit)
	var w pgWhere
	w.add(`inventory_id = ?`, f.InventoryID)
	w.add(`host_name = ?`, f.HostName)
	if f.After != "" {
		var c historyCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		w.add(`id < ?`, c.ID)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+pgChangeCols+` FROM host_changes`+w.String()+` ORDER BY id DESC`+w.limit(limit+1), w.args...)
	list, err := collect(rows, err, pgScanChange)
	if err != nil || len(list) <= limit {
		return changesOf(list), "", err
	}
	return changesOf(list[:limit]), encodeCursor(historyCursor{ID: list[limit-1].id}), nil
}

// PurgeHostChanges implements roster.HostChangeStore.
func (s *Postgres) PurgeHostChanges(ctx context.Context, before time.Time) (int64, error) {
	var total int64
	for {
		tag, err := s.pool.Exec(ctx, `DELETE FROM host_changes WHERE id IN (
			SELECT id FROM host_changes WHERE at < $1 ORDER BY at LIMIT $2)`, pgTime(before), changePurgeBatch)
		if err != nil {
			return total, err
		}
		total += tag.RowsAffected()
		if tag.RowsAffected() < changePurgeBatch {
			return total, nil
		}
	}
}
