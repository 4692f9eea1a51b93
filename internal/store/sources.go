package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/rosterhq/roster"
)

// ---- sources

const sourceColumns = `id, inventory_id, name, provider, config, on_missing, COALESCE(credential_id, ''), schedule, schedule_jitter,
	timeout, update_cache_timeout, next_tick, next_due, callback_hash IS NOT NULL, created_at, updated_at`

// readSource reads the columns of sourceColumns.
func readSource(r row) (*roster.Source, error) {
	var src roster.Source
	var config []byte
	var tick, due *time.Time
	if err := r.Scan(&src.ID, &src.InventoryID, &src.Name, &src.Provider, &config, &src.OnMissing, &src.CredentialID,
		&src.Schedule, &src.ScheduleJitter, &src.Timeout, &src.UpdateCacheTimeout, &tick, &due, &src.HasCallbackKey,
		&src.CreatedAt, &src.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(config, &src.Config); err != nil {
		return nil, fmt.Errorf("source %s: decode config: %w", src.ID, err)
	}
	if tick != nil && due != nil {
		src.NextSync = &roster.ScheduledSync{Tick: *tick, Due: *due}
	}
	return &src, nil
}

// nextSyncArgs are the arguments of a source's next scheduled sync
// (next_tick, next_due): NULL when there is none.
func nextSyncArgs(n *roster.ScheduledSync) (tick, due *time.Time) {
	if n == nil {
		return nil, nil
	}
	return &n.Tick, &n.Due
}

// CreateSource implements roster.SourceStore.
func (s *db) CreateSource(ctx context.Context, src *roster.Source) error {
	now := storedTime(s.now())
	src.ID, src.CreatedAt, src.UpdatedAt = newID(), now, now
	if src.Config == nil {
		src.Config = map[string]any{}
	}
	tick, due := nextSyncArgs(src.NextSync)
	_, err := s.w.exec(ctx, `INSERT INTO sources (id, inventory_id, name, provider, config, on_missing, credential_id,
		schedule, schedule_jitter, timeout, update_cache_timeout, next_tick, next_due, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		src.ID, src.InventoryID, src.Name, src.Provider, mustJSON(src.Config), string(src.OnMissing), nullString(src.CredentialID),
		src.Schedule, src.ScheduleJitter, src.Timeout, src.UpdateCacheTimeout, tick, due,
		now, now)
	switch {
	case isUnique(err):
		return roster.Errorf(roster.ECONFLICT, "the inventory already has a source named %q", src.Name)
	case isForeignKey(err):
		return roster.Errorf(roster.ENOTFOUND, "the inventory or the credential of the source does not exist")
	}
	return err
}

// Source implements roster.SourceStore.
func (s *db) Source(ctx context.Context, id string) (*roster.Source, error) {
	src, err := readSource(s.r.queryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id = $1`, id))
	if isNoRows(err) {
		return nil, notFound("source", id)
	}
	return src, err
}

// SourceByName implements roster.SourceStore.
func (s *db) SourceByName(ctx context.Context, inventoryID, name string) (*roster.Source, error) {
	q := `SELECT ` + sourceColumns + ` FROM sources WHERE name = $1`
	args := []any{name}
	if inventoryID != "" {
		q += ` AND inventory_id = $2`
		args = append(args, inventoryID)
	}
	rs, err := s.r.query(ctx, q+` LIMIT 2`, args...)
	found, err := scanAll(rs, err, readSource)
	if err != nil {
		return nil, err
	}
	switch len(found) {
	case 0:
		return nil, notFound("source", name)
	case 1:
		return found[0], nil
	}
	return nil, roster.Errorf(roster.ECONFLICT, "several inventories have a source named %q; name the inventory too", name)
}

// Sources implements roster.SourceStore.
func (s *db) Sources(ctx context.Context, inventoryID string) ([]*roster.Source, error) {
	rs, err := s.r.query(ctx, `SELECT `+sourceColumns+` FROM sources WHERE inventory_id = $1 ORDER BY name`, inventoryID)
	return scanAll(rs, err, readSource)
}

// UpdateSource implements roster.SourceStore.
func (s *db) UpdateSource(ctx context.Context, id string, upd roster.SourceUpdate) (*roster.Source, error) {
	var src *roster.Source
	err := s.inTx(ctx, func(c conn) error {
		var err error
		src, err = readSource(c.queryRow(ctx, `SELECT `+sourceColumns+` FROM sources WHERE id = $1`+s.lockRows("UPDATE"), id))
		if isNoRows(err) {
			return notFound("source", id)
		} else if err != nil {
			return err
		}
		if upd.Name != nil && *upd.Name != src.Name {
			// Documents name a host's source (Prometheus's __meta_roster_source).
			if _, err := s.bumpGeneration(ctx, c, src.InventoryID); err != nil {
				return err
			}
		}
		applySourceUpdate(src, upd)
		src.UpdatedAt = storedTime(s.now())
		tick, due := nextSyncArgs(src.NextSync)
		_, err = c.exec(ctx, `UPDATE sources SET name = $1, config = $2, on_missing = $3, credential_id = $4,
			schedule = $5, schedule_jitter = $6, timeout = $7, update_cache_timeout = $8, next_tick = $9, next_due = $10, updated_at = $11
			WHERE id = $12`,
			src.Name, mustJSON(src.Config), string(src.OnMissing), nullString(src.CredentialID),
			src.Schedule, src.ScheduleJitter, src.Timeout, src.UpdateCacheTimeout, tick, due,
			src.UpdatedAt, id)
		switch {
		case isUnique(err):
			return roster.Errorf(roster.ECONFLICT, "the inventory already has a source named %q", src.Name)
		case isForeignKey(err):
			return notFound("credential", src.CredentialID)
		}
		return err
	})
	return src, err
}

// applySourceUpdate sets the fields of src that upd changes.
func applySourceUpdate(src *roster.Source, upd roster.SourceUpdate) {
	if upd.Name != nil {
		src.Name = *upd.Name
	}
	if upd.Config != nil {
		src.Config = upd.Config
	}
	if upd.OnMissing != nil {
		src.OnMissing = *upd.OnMissing
	}
	if upd.CredentialID != nil {
		src.CredentialID = *upd.CredentialID
	}
	if upd.Schedule != nil {
		src.Schedule = *upd.Schedule
	}
	if upd.ScheduleJitter != nil {
		src.ScheduleJitter = *upd.ScheduleJitter
	}
	if upd.Rescheduled() {
		src.NextSync = upd.NextSync
	}
	if upd.Timeout != nil {
		src.Timeout = *upd.Timeout
	}
	if upd.UpdateCacheTimeout != nil {
		src.UpdateCacheTimeout = *upd.UpdateCacheTimeout
	}
}

// DeleteSource implements roster.SourceStore.
func (s *db) DeleteSource(ctx context.Context, id string) error {
	return s.inTx(ctx, func(c conn) error {
		// Lock the source first. FinishSyncRun locks it before writing
		// too, so a sync finishing now either commits before the source's
		// hosts are looked up here, or waits and then finds its run gone
		// with the source (no deadlock, no stray memberships).
		if err := lockRow(ctx, c, `SELECT 1 FROM sources WHERE id = $1`+s.lockRows("UPDATE"), "source", id); err != nil {
			return err
		}
		tally := groupTally{}
		if err := bulk(c).deleteMemberships(ctx, tally, `host_id IN (SELECT id FROM hosts WHERE source_id = $1)`, id); err != nil {
			return err
		}
		var inventoryID string
		err := c.queryRow(ctx, `DELETE FROM sources WHERE id = $1 RETURNING inventory_id`, id).Scan(&inventoryID)
		if isNoRows(err) {
			return notFound("source", id)
		} else if err != nil {
			return err
		}
		if err := s.writeGroupCounts(ctx, c, inventoryID, tally); err != nil {
			return err
		}
		_, err = s.bumpGeneration(ctx, c, inventoryID)
		return err
	})
}
