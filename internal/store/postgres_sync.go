package store

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

const pgRunCols = `id, source_id, inventory_id, trigger, status, created_at, started_at, finished_at, scopes, counts, error, warnings, scheduled_for,
	attempt, retry_of, not_before, holder, lease_until, next_attempt`

// pgInsertRun is the statement that records a new run (pgRunInsertArgs),
// doing nothing when a unique index forbids it (onConflict names it).
func pgInsertRun(onConflict string) string {
	return `INSERT INTO sync_runs (` + pgRunCols + `) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL, $7, $8, '', $9, $10, $11, $12, $13, $14, $15, NULL)
		ON CONFLICT ` + onConflict + ` DO NOTHING`
}

func pgRunInsertArgs(run *roster.SyncRun) []any {
	scopes, counts, warnings := runDetails(run)
	return []any{run.ID, run.SourceID, run.InventoryID, string(run.Trigger), string(run.Status), run.CreatedAt, scopes, counts, warnings,
		run.ScheduledFor, max(run.Attempt, 1), nullString(run.RetryOf), run.NotBefore, run.Holder, run.LeaseUntil}
}

func pgScanRun(row pgx.Row) (*roster.SyncRun, error) {
	var run roster.SyncRun
	var scopes, counts, warnings []byte
	var retryOf *string
	var next *int
	if err := row.Scan(&run.ID, &run.SourceID, &run.InventoryID, &run.Trigger, &run.Status, &run.CreatedAt, &run.StartedAt, &run.FinishedAt,
		&scopes, &counts, &run.Error, &warnings, &run.ScheduledFor, &run.Attempt, &retryOf, &run.NotBefore, &run.Holder, &run.LeaseUntil, &next); err != nil {
		return nil, err
	}
	if next != nil {
		run.NextAttempt = *next
	}
	run.CreatedAt, run.ScheduledFor = utc(run.CreatedAt), utcPtr(run.ScheduledFor)
	run.StartedAt, run.FinishedAt = utcPtr(run.StartedAt), utcPtr(run.FinishedAt)
	run.NotBefore, run.LeaseUntil = utcPtr(run.NotBefore), utcPtr(run.LeaseUntil)
	if retryOf != nil {
		run.RetryOf = *retryOf
	}
	var ss []storedScope
	var sc storedCounts
	if err := errors.Join(json.Unmarshal(scopes, &ss), json.Unmarshal(counts, &sc), json.Unmarshal(warnings, &run.Warnings)); err != nil {
		return nil, err
	}
	run.Counts = roster.SyncCounts(sc)
	for _, s := range ss {
		run.Scopes = append(run.Scopes, roster.ScopeResult{Name: s.Name, Status: roster.ScopeStatus(s.Status), Hosts: s.Hosts, Error: s.Error, Duration: time.Duration(s.DurationUS) * time.Microsecond})
	}
	return &run, nil
}

func pgScanRunRows(rows pgx.Rows) (*roster.SyncRun, error) { return pgScanRun(rows) }

// CreateSyncRun implements roster.SyncRunStore. The partial unique index
// sync_runs_active makes it exclusive across processes: a concurrent
// insert for the same source waits for the first to commit, then does
// nothing. Two processes retrying one run queue up on that run's row.
func (s *Postgres) CreateSyncRun(ctx context.Context, run *roster.SyncRun) (*roster.SyncRun, error) {
	for {
		run.ID = newID()
		run.Status = roster.SyncQueued
		run.CreatedAt = pgTime(s.now())
		run.Attempt = max(run.Attempt, 1)
		var active *roster.SyncRun
		inserted, superseded := false, false
		err := s.tx(ctx, func(tx pgx.Tx) error {
			if run.RetryOf != "" {
				if _, err := tx.Exec(ctx, `UPDATE sync_runs SET next_attempt = NULL WHERE id = $1`, run.RetryOf); err != nil {
					return err
				}
				// Ids are time-ordered: a newer run of the source (the
				// retry itself, or any other sync) supersedes the retry.
				err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE source_id = $1 AND id > $2)`, run.SourceID, run.RetryOf).Scan(&superseded)
				if err != nil || superseded {
					return err
				}
			}
			tag, err := tx.Exec(ctx, pgInsertRun(`(source_id) WHERE status IN ('queued', 'running')`), pgRunInsertArgs(run)...)
			if err != nil {
				return err
			}
			if inserted = tag.RowsAffected() == 1; inserted {
				return nil
			}
			active, err = pgScanRun(tx.QueryRow(ctx, `SELECT `+pgRunCols+` FROM sync_runs WHERE source_id = $1 AND status IN ('queued', 'running')`, run.SourceID))
			if errors.Is(err, pgx.ErrNoRows) {
				return nil // it finished between our insert and this read: try again
			}
			return err
		})
		switch {
		case pgIsForeignKey(err):
			return nil, notFound("source", run.SourceID)
		case pgIsUnique(err):
			return nil, roster.Errorf(roster.ECONFLICT, "sync run %s was retried already", run.RetryOf)
		case err != nil:
			return nil, err
		case superseded:
			return nil, roster.Errorf(roster.ECONFLICT, "sync run %s was retried or superseded by a newer run already", run.RetryOf)
		case inserted:
			return nil, nil
		case active != nil:
			return active, nil
		}
	}
}

// StartSyncRun implements roster.SyncRunStore.
func (s *Postgres) StartSyncRun(ctx context.Context, run *roster.SyncRun) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sync_runs SET status = 'running', started_at = $1, holder = $2, lease_until = $3
		WHERE id = $4 AND status = 'queued' AND holder IN ('', $2)`,
		run.StartedAt, run.Holder, run.LeaseUntil, run.ID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return roster.Errorf(roster.ECONFLICT, "sync run %s is not queued: it was started or finished already", run.ID)
	}
	run.Status = roster.SyncRunning
	return nil
}

// RenewSyncRun implements roster.SyncRunStore.
func (s *Postgres) RenewSyncRun(ctx context.Context, run *roster.SyncRun) error {
	tag, err := s.pool.Exec(ctx, `UPDATE sync_runs SET lease_until = $1 WHERE id = $2 AND status = 'running' AND holder = $3`,
		run.LeaseUntil, run.ID, run.Holder)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return roster.Errorf(roster.ECONFLICT, "sync run %s is no longer held by %s", run.ID, run.Holder)
	}
	return nil
}

// UpdateSyncRun implements roster.SyncRunStore.
func (s *Postgres) UpdateSyncRun(ctx context.Context, run *roster.SyncRun) error {
	scopes, counts, warnings := runDetails(run)
	tag, err := s.pool.Exec(ctx, `UPDATE sync_runs SET scopes = $1, counts = $2, warnings = $3
		WHERE id = $4 AND (status = 'queued' OR (status = 'running' AND holder = $5))`,
		scopes, counts, warnings, run.ID, run.Holder)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return roster.Errorf(roster.ECONFLICT, "sync run %s is not in progress", run.ID)
	}
	return nil
}

// FinishSyncRun implements roster.SyncRunStore. The run's row is locked
// once found held, so an expiry (ExpireSyncRuns skips locked rows) cannot
// fail it before this transaction commits.
func (s *Postgres) FinishSyncRun(ctx context.Context, run *roster.SyncRun, changes *roster.HostChanges) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		now := pgTime(s.now())
		// Lock the source before anything else: DeleteSource takes its
		// row lock first too, so the two queue up instead of deadlocking
		// (see DeleteSource). A run that synced the source records that
		// on the source, and so takes the lock of that update here rather
		// than after the run's row: ClaimScheduledSync locks the source,
		// then waits on the run's row (ON CONFLICT on sync_runs_active);
		// upgrading from a key-share lock then would deadlock with it.
		// Other runs only key-share lock the source, which lets claims and
		// updates of other columns go on.
		lock := `SELECT 1 FROM sources WHERE id = $1 FOR KEY SHARE`
		synced := run.Status == roster.SyncSucceeded || run.Status == roster.SyncPartial
		if synced {
			lock = `SELECT 1 FROM sources WHERE id = $1 FOR NO KEY UPDATE`
		}
		if _, err := tx.Exec(ctx, lock, run.SourceID); err != nil {
			return err
		}
		var held bool
		err := tx.QueryRow(ctx, `SELECT status = 'queued' OR holder = $2 FROM sync_runs
			WHERE id = $1 AND status IN ('queued', 'running') FOR UPDATE`, run.ID, run.Holder).Scan(&held)
		if errors.Is(err, pgx.ErrNoRows) || err == nil && !held {
			return roster.Errorf(roster.ECONFLICT, "sync run %s is not in progress (or no longer held by this process)", run.ID)
		} else if err != nil {
			return err
		}
		if changes != nil {
			if err := pgApplyChangesBumping(ctx, tx, run, changes, now); err != nil {
				return err
			}
			if err := pgSeeInputs(ctx, tx, run.InventoryID, changes.InputGenerations); err != nil {
				return err
			}
		}
		// Stamped once the hosts are written: the run's duration is the
		// time until its changes could be read.
		finished := pgTime(s.now())
		scopes, counts, warnings := runDetails(run)
		if _, err := tx.Exec(ctx, `UPDATE sync_runs SET status = $1, started_at = $2, finished_at = $3, scopes = $4, counts = $5, error = $6, warnings = $7,
			next_attempt = $8 WHERE id = $9`,
			string(run.Status), run.StartedAt, finished, scopes, counts, run.Error, warnings, nullInt(run.NextAttempt), run.ID); err != nil {
			return err
		}
		if synced {
			if _, err := tx.Exec(ctx, `UPDATE sources SET last_synced_at = $2 WHERE id = $1`, run.SourceID, finished); err != nil {
				return err
			}
		}
		run.FinishedAt = &finished
		return nil
	})
}

// ExpireSyncRuns implements roster.SyncRunStore. Runs being finished (their
// rows locked) are skipped: their holder still holds them.
func (s *Postgres) ExpireSyncRuns(ctx context.Context, now time.Time, reason, sourceID string, limit int) ([]*roster.SyncRun, error) {
	rows, err := s.pool.Query(ctx, `UPDATE sync_runs SET status = 'failed', error = $1, finished_at = $2,
			next_attempt = CASE WHEN trigger <> 'cli' THEN attempt + 1 END
		WHERE id IN (SELECT id FROM sync_runs WHERE status IN ('queued', 'running')
			AND (lease_until < $2 OR (lease_until IS NULL AND status = 'running' AND started_at < $3))
			AND ($4 = '' OR source_id = $4) ORDER BY lease_until LIMIT $5 FOR UPDATE SKIP LOCKED)
		RETURNING `+pgRunCols, reason, pgTime(now), pgTime(now.Add(-legacyLease)), sourceID, limit)
	return collect(rows, err, pgScanRunRows)
}

// OwedRetries implements roster.SyncRunStore.
func (s *Postgres) OwedRetries(ctx context.Context, limit int) ([]*roster.SyncRun, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgRunCols+` FROM sync_runs WHERE next_attempt IS NOT NULL ORDER BY finished_at LIMIT $1`, limit)
	return collect(rows, err, pgScanRunRows)
}

// SettleRetry implements roster.SyncRunStore.
func (s *Postgres) SettleRetry(ctx context.Context, id string) error {
	_, err := s.pool.Exec(ctx, `UPDATE sync_runs SET next_attempt = NULL WHERE id = $1`, id)
	return err
}

// pgUpdateBatch is how many hosts one UPDATE carries: with 2.5 KB of vars
// each, a few megabytes per statement.
const pgUpdateBatch = 1000

// pgApplyChanges writes a sync's changes in a few statements whatever
// their size: arrays (= ANY, unnest) for removals, disables, updates,
// scopes and edges, COPY for new hosts and memberships.
func pgApplyChanges(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, c *roster.HostChanges, now time.Time) error {
	tally := groupTally{}
	if len(c.Remove) > 0 {
		if c.Record {
			if err := pgRecordRemoved(ctx, tx, run, c.Remove, now); err != nil {
				return err
			}
		}
		if err := pgDeleteMemberships(ctx, tx, tally, `host_id = ANY($1)`, c.Remove); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM hosts WHERE source_id = $1 AND id = ANY($2)`, run.SourceID, c.Remove); err != nil {
			return err
		}
	}
	if len(c.Disable) > 0 {
		if c.Record {
			if err := pgRecordDisabled(ctx, tx, run, c.Disable, now); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE hosts SET enabled = false, missing_since = $1 WHERE source_id = $2 AND id = ANY($3)`,
			now, run.SourceID, c.Disable); err != nil {
			return err
		}
	}
	if len(c.Update) > 0 {
		for hosts, err := range c.Batches(lastByID(c.Update), pgUpdateBatch) {
			if err != nil {
				return err
			}
			if c.Record {
				if err := pgRecordUpdated(ctx, tx, run, hosts, now); err != nil {
					return err
				}
			}
			if err := pgUpdateHosts(ctx, tx, run.SourceID, hosts, now); err != nil {
				return err
			}
			if err := pgDeleteMemberships(ctx, tx, tally, `host_id = ANY($1)`, hostIDs(hosts)); err != nil {
				return err
			}
			if err := pgCopyMemberships(ctx, tx, run.InventoryID, hosts, tally); err != nil {
				return err
			}
		}
	}
	if len(c.Add) > 0 {
		if err := pgAddHosts(ctx, tx, run, c, now, tally); err != nil {
			return err
		}
	}
	if err := pgWriteGroupCounts(ctx, tx, run.InventoryID, tally); err != nil {
		return err
	}
	if len(c.Scopes) > 0 {
		if _, err := tx.Exec(ctx, `INSERT INTO source_scopes (source_id, scope, synced_at)
			SELECT $1, scope, $2 FROM (SELECT DISTINCT unnest($3::text[])) AS s (scope)
			ON CONFLICT (source_id, scope) DO UPDATE SET synced_at = excluded.synced_at`, run.SourceID, now, c.Scopes); err != nil {
			return err
		}
	}
	return pgApplyEdges(ctx, tx, run, c)
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

// hostVars is the stored form of a host's vars: JSON, so never empty.
func hostVars(v json.RawMessage) []byte {
	if len(v) == 0 {
		return []byte("{}")
	}
	return v
}

func pgUpdateHosts(ctx context.Context, tx pgx.Tx, sourceID string, hosts []*roster.Host, now time.Time) error {
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
	_, err := tx.Exec(ctx, `UPDATE hosts h SET scope = u.scope, name = u.name, address = u.address, enabled = u.enabled,
			groups = ARRAY(SELECT json_array_elements_text(u.groups)), vars = u.vars, hash = u.hash, missing_since = NULL, last_seen = $1
		FROM unnest($3::bigint[], $4::text[], $5::text[], $6::text[], $7::boolean[], $8::json[], $9::json[], $10::text[])
			AS u (id, scope, name, address, enabled, groups, vars, hash)
		WHERE h.id = u.id AND h.source_id = $2`,
		now, sourceID, ids, scopes, names, addresses, enabled, groups, vars, hashes)
	return err
}

var pgHostCopyCols = []string{"id", "inventory_id", "source_id", "external_id", "scope", "name", "address", "enabled", "groups", "vars", "hash", "first_seen", "last_seen"}

// pgAddBatch is how many new hosts one COPY carries when their bodies
// are loaded a batch at a time.
const pgAddBatch = 2000

// pgAddHosts gives the new hosts of c ids and copies them and their group
// memberships in.
func pgAddHosts(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, c *roster.HostChanges, now time.Time, t groupTally) error {
	// Take a block of ids from the sequence (never reused, and never
	// blocking: concurrent syncs interleave, which is fine).
	var ids []int64
	if err := tx.QueryRow(ctx, `SELECT array_agg(nextval('host_ids')) FROM generate_series(1, $1)`, len(c.Add)).Scan(&ids); err != nil {
		return err
	}
	slices.Sort(ids)
	for i, h := range c.Add {
		h.ID = ids[i]
		h.InventoryID, h.SourceID = run.InventoryID, run.SourceID
	}
	n := len(c.Add)
	if c.Bodies != nil {
		n = pgAddBatch
	}
	for hosts, err := range c.Batches(c.Add, n) {
		if err != nil {
			return err
		}
		if _, err := tx.CopyFrom(ctx, pgx.Identifier{"hosts"}, pgHostCopyCols, pgx.CopyFromSlice(len(hosts), func(i int) ([]any, error) {
			h := hosts[i]
			return []any{h.ID, h.InventoryID, h.SourceID, h.ExternalID, h.Scope, h.Name, h.Address, h.Enabled,
				nonNilStrings(h.Groups), hostVars(h.Vars), h.Hash, now, now}, nil
		})); err != nil {
			return err
		}
		if err := pgCopyMemberships(ctx, tx, run.InventoryID, hosts, t); err != nil {
			return err
		}
		if c.Record {
			if err := pgRecordAdded(ctx, tx, run, hosts, now); err != nil {
				return err
			}
		}
	}
	return nil
}

// pgCopyMemberships copies in the group memberships of hosts that have
// none stored (new hosts, or updated ones whose memberships were just
// deleted). A group a host names twice is one membership.
func pgCopyMemberships(ctx context.Context, tx pgx.Tx, inventoryID string, hosts []*roster.Host, t groupTally) error {
	t.addHosts(hosts)
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
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"host_groups"}, []string{"inventory_id", "group_name", "host_id"}, pgx.CopyFromFunc(next))
	return err
}

// pgDeleteMemberships deletes the memberships that where (with args)
// selects, and counts them down in t.
func pgDeleteMemberships(ctx context.Context, tx pgx.Tx, t groupTally, where string, args ...any) error {
	rows, err := tx.Query(ctx, `WITH gone AS (DELETE FROM host_groups WHERE `+where+` RETURNING group_name)
		SELECT group_name, count(*) FROM gone GROUP BY group_name`, args...)
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

// pgWriteGroupCounts applies t to inventoryID's group host counts, in
// the order of the groups' names (see groupTally).
func pgWriteGroupCounts(ctx context.Context, tx pgx.Tx, inventoryID string, t groupTally) error {
	names, deltas, emptied := t.changes()
	if len(names) == 0 {
		return nil
	}
	if _, err := tx.Exec(ctx, `INSERT INTO group_host_counts (inventory_id, group_name, hosts)
		SELECT $1, g, d FROM unnest($2::text[], $3::bigint[]) WITH ORDINALITY AS t (g, d, i) ORDER BY i
		ON CONFLICT (inventory_id, group_name) DO UPDATE SET hosts = group_host_counts.hosts + excluded.hosts`,
		inventoryID, names, deltas); err != nil {
		return err
	}
	if !emptied {
		return nil
	}
	_, err := tx.Exec(ctx, `DELETE FROM group_host_counts WHERE inventory_id = $1 AND group_name = ANY($2) AND hosts <= 0`, inventoryID, names)
	return err
}

func pgApplyEdges(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, c *roster.HostChanges) error {
	if c.ReplaceEdges {
		if _, err := tx.Exec(ctx, `DELETE FROM group_edges WHERE source_id = $1`, run.SourceID); err != nil {
			return err
		}
	}
	if len(c.Edges) == 0 {
		return nil
	}
	parents, children := make([]string, len(c.Edges)), make([]string, len(c.Edges))
	for i, e := range c.Edges {
		parents[i], children[i] = e.Parent, e.Child
	}
	_, err := tx.Exec(ctx, `INSERT INTO group_edges (inventory_id, source_id, parent, child)
		SELECT $1, $2, parent, child FROM unnest($3::text[], $4::text[]) AS e (parent, child)
		ON CONFLICT DO NOTHING`, run.InventoryID, run.SourceID, parents, children)
	return err
}

// SyncRun implements roster.SyncRunStore.
func (s *Postgres) SyncRun(ctx context.Context, id string) (*roster.SyncRun, error) {
	run, err := pgScanRun(s.pool.QueryRow(ctx, `SELECT `+pgRunCols+` FROM sync_runs WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("sync run", id)
	}
	return run, err
}

// pgWhere builds a WHERE clause of "column = $n" conditions.
type pgWhere struct {
	conds []string
	args  []any
}

// add adds the condition cond, in which "?" stands for v's placeholder.
func (w *pgWhere) add(cond string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

func (w *pgWhere) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

// limit returns the placeholder of a LIMIT of n.
func (w *pgWhere) limit(n int) string {
	w.args = append(w.args, n)
	return ` LIMIT $` + strconv.Itoa(len(w.args))
}

// SyncRuns implements roster.SyncRunStore.
func (s *Postgres) SyncRuns(ctx context.Context, f roster.SyncRunFilter) ([]*roster.SyncRun, string, error) {
	limit := pageLimit(f.Limit)
	var w pgWhere
	if f.SourceID != "" {
		w.add(`source_id = ?`, f.SourceID)
	}
	if f.InventoryID != "" {
		w.add(`inventory_id = ?`, f.InventoryID)
	}
	if f.After != "" {
		var after string
		if err := decodeCursor(f.After, &after); err != nil {
			return nil, "", err
		}
		w.add(`id < ?`, after)
	}
	q := `SELECT ` + pgRunCols + ` FROM sync_runs` + w.String() + ` ORDER BY id DESC` + w.limit(limit+1)
	rows, err := s.pool.Query(ctx, q, w.args...)
	runs, err := collect(rows, err, pgScanRunRows)
	if err != nil {
		return nil, "", err
	}
	var next string
	if len(runs) > limit {
		runs = runs[:limit]
		next = encodeCursor(runs[limit-1].ID)
	}
	return runs, next, nil
}

// ---- tokens

const pgTokenCols = `id, name, role, inventories, read_only, coalesce(user_id, ''), created_at, expires_at, last_used_at`

func pgScanToken(row pgx.Row) (*roster.Token, error) {
	var t roster.Token
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &t.Inventories, &t.ReadOnly, &t.UserID, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt); err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = utc(t.CreatedAt), utcPtr(t.ExpiresAt), utcPtr(t.LastUsedAt)
	return &t, nil
}

func pgScanTokenRows(rows pgx.Rows) (*roster.Token, error) { return pgScanToken(rows) }

// CreateToken implements roster.TokenStore.
func (s *Postgres) CreateToken(ctx context.Context, t *roster.Token, hash string) error {
	t.ID = newID()
	t.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	_, err := s.pool.Exec(ctx, `INSERT INTO tokens (id, name, role, inventories, read_only, user_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.Name, string(t.Role), t.Inventories, t.ReadOnly, nullString(t.UserID), hash, t.CreatedAt, t.ExpiresAt)
	if pgIsForeignKey(err) {
		return notFound("user", t.UserID)
	}
	if pgIsUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a token named %q already exists", t.Name)
	}
	return err
}

// TokenByHash implements roster.TokenStore.
func (s *Postgres) TokenByHash(ctx context.Context, hash string) (*roster.Token, error) {
	t, err := pgScanToken(s.pool.QueryRow(ctx, `SELECT `+pgTokenCols+` FROM tokens WHERE hash = $1`, hash))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "token not found")
	}
	return t, err
}

// Token implements roster.TokenStore.
func (s *Postgres) Token(ctx context.Context, idOrName string) (*roster.Token, error) {
	t, err := pgScanToken(s.pool.QueryRow(ctx, `SELECT `+pgTokenCols+` FROM tokens WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("token", idOrName)
	}
	return t, err
}

// Tokens implements roster.TokenStore.
func (s *Postgres) Tokens(ctx context.Context) ([]*roster.Token, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgTokenCols+` FROM tokens ORDER BY name`)
	return collect(rows, err, pgScanTokenRows)
}

// DeleteToken implements roster.TokenStore.
func (s *Postgres) DeleteToken(ctx context.Context, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM tokens WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return notFound("token", id)
	}
	return nil
}

// TouchToken implements roster.TokenStore.
func (s *Postgres) TouchToken(ctx context.Context, id string, t time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE tokens SET last_used_at = $1 WHERE id = $2`, t, id)
	return err
}
