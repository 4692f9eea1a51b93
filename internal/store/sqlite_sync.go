package store

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

func unmarshalJSON(s string, v any) error { return json.Unmarshal([]byte(s), v) }

const runCols = `id, source_id, inventory_id, trigger, status, created_at, started_at, finished_at, scopes, counts, error, warnings, scheduled_for,
	attempt, retry_of, not_before, holder, lease_until, next_attempt`

// insertRun is the statement that records a new run (runInsertArgs),
// doing nothing when a unique index forbids it (onConflict names it).
func insertRun(onConflict string) string {
	return `INSERT INTO sync_runs (` + runCols + `) VALUES (?, ?, ?, ?, ?, ?, NULL, NULL, ?, ?, '', ?, ?, ?, ?, ?, ?, ?, NULL)
		ON CONFLICT ` + onConflict + ` DO NOTHING`
}

func runInsertArgs(run *roster.SyncRun) []any {
	scopes, counts, warnings := runDetails(run)
	return []any{run.ID, run.SourceID, run.InventoryID, string(run.Trigger), string(run.Status), micros(run.CreatedAt), scopes, counts, warnings,
		nullMicros(run.ScheduledFor), max(run.Attempt, 1), nullString(run.RetryOf), nullMicros(run.NotBefore), run.Holder, nullMicros(run.LeaseUntil)}
}

// storedScope and storedCounts are the JSON forms of a run's details.
type storedScope struct {
	Name       string `json:"name"`
	Status     string `json:"status"`
	Hosts      int    `json:"hosts"`
	Error      string `json:"error,omitempty"`
	DurationUS int64  `json:"duration_us"`
}

type storedCounts struct {
	Seen      int `json:"seen"`
	Added     int `json:"added"`
	Updated   int `json:"updated"`
	Removed   int `json:"removed"`
	Disabled  int `json:"disabled"`
	Unchanged int `json:"unchanged"`
}

func runDetails(run *roster.SyncRun) (scopes, counts, warnings string) {
	ss := make([]storedScope, len(run.Scopes))
	for i, sc := range run.Scopes {
		ss[i] = storedScope{Name: sc.Name, Status: string(sc.Status), Hosts: sc.Hosts, Error: sc.Error, DurationUS: sc.Duration.Microseconds()}
	}
	w := run.Warnings
	if w == nil {
		w = []string{}
	}
	return mustJSON(ss), mustJSON(storedCounts(run.Counts)), mustJSON(w)
}

func scanRun(row interface{ Scan(...any) error }) (*roster.SyncRun, error) {
	var run roster.SyncRun
	var created int64
	var started, finished, tick, notBefore, lease, next *int64
	var scopes, counts, warnings string
	var retryOf *string
	if err := row.Scan(&run.ID, &run.SourceID, &run.InventoryID, &run.Trigger, &run.Status, &created, &started, &finished,
		&scopes, &counts, &run.Error, &warnings, &tick, &run.Attempt, &retryOf, &notBefore, &run.Holder, &lease, &next); err != nil {
		return nil, err
	}
	if next != nil {
		run.NextAttempt = int(*next)
	}
	run.CreatedAt = fromMicros(created)
	run.ScheduledFor = fromNullMicros(tick)
	run.StartedAt, run.FinishedAt = fromNullMicros(started), fromNullMicros(finished)
	run.NotBefore, run.LeaseUntil = fromNullMicros(notBefore), fromNullMicros(lease)
	if retryOf != nil {
		run.RetryOf = *retryOf
	}
	var ss []storedScope
	var sc storedCounts
	if err := errors.Join(unmarshalJSON(scopes, &ss), unmarshalJSON(counts, &sc), unmarshalJSON(warnings, &run.Warnings)); err != nil {
		return nil, err
	}
	run.Counts = roster.SyncCounts(sc)
	for _, s := range ss {
		run.Scopes = append(run.Scopes, roster.ScopeResult{Name: s.Name, Status: roster.ScopeStatus(s.Status), Hosts: s.Hosts, Error: s.Error, Duration: time.Duration(s.DurationUS) * time.Microsecond})
	}
	return &run, nil
}

// CreateSyncRun implements roster.SyncRunStore. The write transaction
// holds SQLite's only write lock: the active run it may find cannot end
// before it is read.
func (s *SQLite) CreateSyncRun(ctx context.Context, run *roster.SyncRun) (*roster.SyncRun, error) {
	run.ID = newID()
	run.Status = roster.SyncQueued
	run.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	run.Attempt = max(run.Attempt, 1)
	var active *roster.SyncRun
	superseded := false
	err := s.tx(ctx, func(tx *sql.Tx) error {
		if run.RetryOf != "" {
			if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET next_attempt = NULL WHERE id = ?`, run.RetryOf); err != nil {
				return err
			}
			// Ids are time-ordered: a newer run of the source (the retry
			// itself, or any other sync) supersedes the retry.
			err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM sync_runs WHERE source_id = ? AND id > ?)`, run.SourceID, run.RetryOf).Scan(&superseded)
			if err != nil || superseded {
				return err
			}
		}
		res, err := tx.ExecContext(ctx, insertRun(`(source_id) WHERE status IN ('queued', 'running')`), runInsertArgs(run)...)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 1 {
			return nil
		}
		active, err = scanRun(tx.QueryRowContext(ctx, `SELECT `+runCols+` FROM sync_runs WHERE source_id = ? AND status IN ('queued', 'running')`, run.SourceID))
		return err
	})
	switch {
	case isForeignKey(err):
		return nil, notFound("source", run.SourceID)
	case err != nil:
		return nil, err
	case superseded:
		return nil, roster.Errorf(roster.ECONFLICT, "sync run %s was retried or superseded by a newer run already", run.RetryOf)
	}
	return active, nil
}

// StartSyncRun implements roster.SyncRunStore.
func (s *SQLite) StartSyncRun(ctx context.Context, run *roster.SyncRun) error {
	res, err := s.wq.ExecContext(ctx, `UPDATE sync_runs SET status = 'running', started_at = ?, holder = ?, lease_until = ?
		WHERE id = ? AND status = 'queued' AND holder IN ('', ?)`,
		nullMicros(run.StartedAt), run.Holder, nullMicros(run.LeaseUntil), run.ID, run.Holder)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return roster.Errorf(roster.ECONFLICT, "sync run %s is not queued: it was started or finished already", run.ID)
	}
	run.Status = roster.SyncRunning
	return nil
}

// RenewSyncRun implements roster.SyncRunStore.
func (s *SQLite) RenewSyncRun(ctx context.Context, run *roster.SyncRun) error {
	res, err := s.wq.ExecContext(ctx, `UPDATE sync_runs SET lease_until = ? WHERE id = ? AND status = 'running' AND holder = ?`,
		nullMicros(run.LeaseUntil), run.ID, run.Holder)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return roster.Errorf(roster.ECONFLICT, "sync run %s is no longer held by %s", run.ID, run.Holder)
	}
	return nil
}

// UpdateSyncRun implements roster.SyncRunStore.
func (s *SQLite) UpdateSyncRun(ctx context.Context, run *roster.SyncRun) error {
	scopes, counts, warnings := runDetails(run)
	res, err := s.wq.ExecContext(ctx, `UPDATE sync_runs SET scopes = ?, counts = ?, warnings = ?
		WHERE id = ? AND (status = 'queued' OR (status = 'running' AND holder = ?))`,
		scopes, counts, warnings, run.ID, run.Holder)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return roster.Errorf(roster.ECONFLICT, "sync run %s is not in progress", run.ID)
	}
	return nil
}

// FinishSyncRun implements roster.SyncRunStore. The write transaction
// holds SQLite's only write lock from its start, so a run found held here
// cannot be failed by another process before it commits.
func (s *SQLite) FinishSyncRun(ctx context.Context, run *roster.SyncRun, changes *roster.HostChanges) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		now := s.now().UTC().Truncate(time.Microsecond)
		var held bool
		err := tx.QueryRowContext(ctx, `SELECT status = 'queued' OR holder = ? FROM sync_runs
			WHERE id = ? AND status IN ('queued', 'running')`, run.Holder, run.ID).Scan(&held)
		if errors.Is(err, sql.ErrNoRows) || err == nil && !held {
			return roster.Errorf(roster.ECONFLICT, "sync run %s is not in progress (or no longer held by this process)", run.ID)
		} else if err != nil {
			return err
		}
		if changes != nil {
			if err := applyChangesBumping(ctx, tx, run, changes, now); err != nil {
				return err
			}
			if err := seeInputs(ctx, tx, run.InventoryID, changes.InputGenerations); err != nil {
				return err
			}
		}
		// Stamped once the hosts are written: the run's duration is the
		// time until its changes could be read.
		finished := s.now().UTC().Truncate(time.Microsecond)
		scopes, counts, warnings := runDetails(run)
		if _, err := tx.ExecContext(ctx, `UPDATE sync_runs SET status = ?, started_at = ?, finished_at = ?, scopes = ?, counts = ?, error = ?, warnings = ?,
			next_attempt = ? WHERE id = ?`,
			string(run.Status), nullMicros(run.StartedAt), micros(finished), scopes, counts, run.Error, warnings, nullInt(run.NextAttempt), run.ID); err != nil {
			return err
		}
		if run.Status == roster.SyncSucceeded || run.Status == roster.SyncPartial {
			if _, err := tx.ExecContext(ctx, `UPDATE sources SET last_synced_at = ? WHERE id = ?`, micros(finished), run.SourceID); err != nil {
				return err
			}
		}
		run.FinishedAt = &finished
		return nil
	})
}

// ExpireSyncRuns implements roster.SyncRunStore.
func (s *SQLite) ExpireSyncRuns(ctx context.Context, now time.Time, reason, sourceID string, limit int) ([]*roster.SyncRun, error) {
	rows, err := s.wq.QueryContext(ctx, `UPDATE sync_runs SET status = 'failed', error = ?, finished_at = ?,
			next_attempt = CASE WHEN trigger <> 'cli' THEN attempt + 1 END
		WHERE id IN (SELECT id FROM sync_runs WHERE status IN ('queued', 'running')
			AND (lease_until < ? OR (lease_until IS NULL AND status = 'running' AND started_at < ?))
			AND (? = '' OR source_id = ?) ORDER BY lease_until LIMIT ?)
		RETURNING `+runCols, reason, micros(now), micros(now), micros(now.Add(-legacyLease)), sourceID, sourceID, limit)
	return collectRows(rows, err, scanRun)
}

// OwedRetries implements roster.SyncRunStore.
func (s *SQLite) OwedRetries(ctx context.Context, limit int) ([]*roster.SyncRun, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+runCols+` FROM sync_runs WHERE next_attempt IS NOT NULL ORDER BY finished_at LIMIT ?`, limit)
	return collectRows(rows, err, scanRun)
}

// SettleRetry implements roster.SyncRunStore.
func (s *SQLite) SettleRetry(ctx context.Context, id string) error {
	_, err := s.wq.ExecContext(ctx, `UPDATE sync_runs SET next_attempt = NULL WHERE id = ?`, id)
	return err
}

// batch is how many rows one multi-row statement carries; SQLite allows
// 32766 parameters per statement.
const batch = 500

func applyChanges(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, c *roster.HostChanges, now time.Time) error {
	ts := micros(now)
	tally := groupTally{}
	if len(c.Remove) > 0 {
		for ids := range chunks(c.Remove, batch) {
			in, args := inList(ids)
			if c.Record {
				if err := recordRemoved(ctx, tx, run, in, args, ts); err != nil {
					return err
				}
			}
			if err := deleteMemberships(ctx, tx, tally, in, args...); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM hosts WHERE source_id = ? AND id IN (`+in+`)`, append([]any{run.SourceID}, args...)...); err != nil {
				return err
			}
		}
	}
	for ids := range chunks(c.Disable, batch) {
		in, args := inList(ids)
		if c.Record {
			if err := recordDisabled(ctx, tx, run, in, args, ts); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `UPDATE hosts SET enabled = 0, missing_since = ? WHERE source_id = ? AND id IN (`+in+`)`,
			append([]any{ts, run.SourceID}, args...)...); err != nil {
			return err
		}
	}
	if len(c.Update) > 0 {
		stmt, err := tx.PrepareContext(ctx, `UPDATE hosts SET scope = ?, name = ?, address = ?, enabled = ?, groups = ?, vars = ?, hash = ?,
			missing_since = NULL, last_seen = ? WHERE id = ? AND source_id = ?`)
		if err != nil {
			return err
		}
		defer stmt.Close()
		for hosts, err := range c.Batches(c.Update, batch) {
			if err != nil {
				return err
			}
			if c.Record {
				if err := recordUpdated(ctx, tx, run, hosts, ts); err != nil {
					return err
				}
			}
			for _, h := range hosts {
				if _, err := stmt.ExecContext(ctx, h.Scope, h.Name, h.Address, h.Enabled, mustJSON(nonNilStrings(h.Groups)), string(h.Vars), h.Hash, ts, h.ID, run.SourceID); err != nil {
					return err
				}
			}
			// A host listed twice keeps its last groups, as its row does.
			in, args := inList(hostIDs(hosts))
			if err := deleteMemberships(ctx, tx, tally, in, args...); err != nil {
				return err
			}
			if err := insertMemberships(ctx, tx, run.InventoryID, lastByID(hosts), tally); err != nil {
				return err
			}
		}
	}
	if len(c.Add) > 0 {
		// Reserve a block of ids from the sequence (never reused); the
		// write transaction holds SQLite's only write lock.
		var last int64
		if err := tx.QueryRowContext(ctx, `UPDATE sequences SET value = value + ? WHERE name = 'hosts' RETURNING value`, len(c.Add)).Scan(&last); err != nil {
			return err
		}
		first := last - int64(len(c.Add))
		for i, h := range c.Add {
			h.ID = first + int64(i) + 1
			h.InventoryID, h.SourceID = run.InventoryID, run.SourceID
		}
		const cols = 12
		for hosts, err := range c.Batches(c.Add, batch) {
			if err != nil {
				return err
			}
			args := make([]any, 0, len(hosts)*cols)
			for _, h := range hosts {
				args = append(args, h.ID, h.InventoryID, h.SourceID, h.ExternalID, h.Scope, h.Name, h.Address, h.Enabled,
					mustJSON(nonNilStrings(h.Groups)), string(h.Vars), h.Hash, ts)
			}
			q := `INSERT INTO hosts (id, inventory_id, source_id, external_id, scope, name, address, enabled, groups, vars, hash, first_seen, last_seen) VALUES ` +
				repeatTuple(len(hosts), `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, `+itoa(ts)+`)`)
			if _, err := tx.ExecContext(ctx, q, args...); err != nil {
				return err
			}
			if err := insertMemberships(ctx, tx, run.InventoryID, hosts, tally); err != nil {
				return err
			}
		}
		if c.Record {
			if err := recordAdded(ctx, tx, run, first, last, ts); err != nil {
				return err
			}
		}
	}
	for _, scope := range c.Scopes {
		if _, err := tx.ExecContext(ctx, `INSERT INTO source_scopes (source_id, scope, synced_at) VALUES (?, ?, ?)
			ON CONFLICT (source_id, scope) DO UPDATE SET synced_at = excluded.synced_at`, run.SourceID, scope, ts); err != nil {
			return err
		}
	}
	if err := writeGroupCounts(ctx, tx, run.InventoryID, tally); err != nil {
		return err
	}
	return applyEdges(ctx, tx, run, c)
}

// deleteMemberships deletes the memberships of the hosts whose ids the
// query in (with args) selects, and counts them down in t.
func deleteMemberships(ctx context.Context, tx *sql.Tx, t groupTally, in string, args ...any) error {
	rows, err := tx.QueryContext(ctx, `SELECT group_name, count(*) FROM host_groups WHERE host_id IN (`+in+`) GROUP BY group_name`, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var g string
		var n int64
		if err := rows.Scan(&g, &n); err != nil {
			return err
		}
		t[g] -= n
	}
	if err := rows.Err(); err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `DELETE FROM host_groups WHERE host_id IN (`+in+`)`, args...)
	return err
}

// writeGroupCounts applies t to inventoryID's group host counts.
func writeGroupCounts(ctx context.Context, tx *sql.Tx, inventoryID string, t groupTally) error {
	names, deltas, emptied := t.changes()
	for i := 0; i < len(names); i += batch {
		j := min(i+batch, len(names))
		args := make([]any, 0, 3*(j-i))
		for k := i; k < j; k++ {
			args = append(args, inventoryID, names[k], deltas[k])
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_host_counts (inventory_id, group_name, hosts) VALUES `+
			repeatTuple(j-i, `(?, ?, ?)`)+` ON CONFLICT (inventory_id, group_name) DO UPDATE SET hosts = hosts + excluded.hosts`, args...); err != nil {
			return err
		}
	}
	if !emptied {
		return nil
	}
	_, err := tx.ExecContext(ctx, `DELETE FROM group_host_counts WHERE inventory_id = ? AND hosts <= 0`, inventoryID)
	return err
}

func applyEdges(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, c *roster.HostChanges) error {
	if c.ReplaceEdges {
		if _, err := tx.ExecContext(ctx, `DELETE FROM group_edges WHERE source_id = ?`, run.SourceID); err != nil {
			return err
		}
	}
	for edges := range chunks(c.Edges, batch) {
		args := make([]any, 0, len(edges)*4)
		for _, e := range edges {
			args = append(args, run.InventoryID, run.SourceID, e.Parent, e.Child)
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO group_edges (inventory_id, source_id, parent, child) VALUES `+
			repeatTuple(len(edges), `(?, ?, ?, ?)`)+` ON CONFLICT DO NOTHING`, args...); err != nil {
			return err
		}
	}
	return nil
}

// insertMemberships inserts the memberships of hosts, which have none
// stored, and counts them up in t.
func insertMemberships(ctx context.Context, tx *sql.Tx, inventoryID string, hosts []*roster.Host, t groupTally) error {
	t.addHosts(hosts)
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
		_, err := tx.ExecContext(ctx, `INSERT INTO host_groups (inventory_id, group_name, host_id) VALUES `+
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

// SyncRun implements roster.SyncRunStore.
func (s *SQLite) SyncRun(ctx context.Context, id string) (*roster.SyncRun, error) {
	run, err := scanRun(s.rq.QueryRowContext(ctx, `SELECT `+runCols+` FROM sync_runs WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("sync run", id)
	}
	return run, err
}

// SyncRuns implements roster.SyncRunStore.
func (s *SQLite) SyncRuns(ctx context.Context, f roster.SyncRunFilter) ([]*roster.SyncRun, string, error) {
	limit := pageLimit(f.Limit)
	var where []string
	var args []any
	if f.SourceID != "" {
		where, args = append(where, `source_id = ?`), append(args, f.SourceID)
	}
	if f.InventoryID != "" {
		where, args = append(where, `inventory_id = ?`), append(args, f.InventoryID)
	}
	if f.After != "" {
		var after string
		if err := decodeCursor(f.After, &after); err != nil {
			return nil, "", err
		}
		where, args = append(where, `id < ?`), append(args, after)
	}
	q := `SELECT ` + runCols + ` FROM sync_runs`
	if len(where) > 0 {
		q += ` WHERE ` + strings.Join(where, ` AND `)
	}
	rows, err := s.rq.QueryContext(ctx, q+` ORDER BY id DESC LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	var runs []*roster.SyncRun
	for rows.Next() {
		run, err := scanRun(rows)
		if err != nil {
			return nil, "", err
		}
		runs = append(runs, run)
	}
	if err := rows.Err(); err != nil {
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

const tokenCols = `id, name, role, inventories, read_only, user_id, created_at, expires_at, last_used_at`

func scanToken(row interface{ Scan(...any) error }) (*roster.Token, error) {
	var t roster.Token
	var created int64
	var expires, used *int64
	var inventories, user *string
	if err := row.Scan(&t.ID, &t.Name, &t.Role, &inventories, &t.ReadOnly, &user, &created, &expires, &used); err != nil {
		return nil, err
	}
	if user != nil {
		t.UserID = *user
	}
	if inventories != nil {
		if err := json.Unmarshal([]byte(*inventories), &t.Inventories); err != nil {
			return nil, fmt.Errorf("token %s: inventories: %w", t.ID, err)
		}
		if t.Inventories == nil {
			t.Inventories = []string{} // "[]" and "null" limit to none
		}
	}
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt = fromMicros(created), fromNullMicros(expires), fromNullMicros(used)
	return &t, nil
}

// tokenInventories is a token's limit to inventories as stored: NULL for
// none.
func tokenInventories(t *roster.Token) (*string, error) {
	if t.Inventories == nil {
		return nil, nil
	}
	b, err := json.Marshal(t.Inventories)
	if err != nil {
		return nil, err
	}
	v := string(b)
	return &v, nil
}

// CreateToken implements roster.TokenStore.
func (s *SQLite) CreateToken(ctx context.Context, t *roster.Token, hash string) error {
	t.ID = newID()
	t.CreatedAt = s.now().UTC().Truncate(time.Microsecond)
	inventories, err := tokenInventories(t)
	if err != nil {
		return err
	}
	_, err = s.wq.ExecContext(ctx, `INSERT INTO tokens (id, name, role, inventories, read_only, user_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		t.ID, t.Name, string(t.Role), inventories, t.ReadOnly, nullString(t.UserID), hash, micros(t.CreatedAt), nullMicros(t.ExpiresAt))
	if isForeignKey(err) {
		return notFound("user", t.UserID)
	}
	if isUnique(err) {
		return roster.Errorf(roster.ECONFLICT, "a token named %q already exists", t.Name)
	}
	return err
}

// TokenByHash implements roster.TokenStore.
func (s *SQLite) TokenByHash(ctx context.Context, hash string) (*roster.Token, error) {
	t, err := scanToken(s.rq.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE hash = ?`, hash))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, roster.Errorf(roster.ENOTFOUND, "token not found")
	}
	return t, err
}

// Token implements roster.TokenStore.
func (s *SQLite) Token(ctx context.Context, idOrName string) (*roster.Token, error) {
	t, err := scanToken(s.rq.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM tokens WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("token", idOrName)
	}
	return t, err
}

// Tokens implements roster.TokenStore.
func (s *SQLite) Tokens(ctx context.Context) ([]*roster.Token, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+tokenCols+` FROM tokens ORDER BY name`)
	return collectRows(rows, err, scanToken)
}

// DeleteToken implements roster.TokenStore.
func (s *SQLite) DeleteToken(ctx context.Context, id string) error {
	res, err := s.wq.ExecContext(ctx, `DELETE FROM tokens WHERE id = ?`, id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return notFound("token", id)
	}
	return nil
}

// TouchToken implements roster.TokenStore.
func (s *SQLite) TouchToken(ctx context.Context, id string, t time.Time) error {
	_, err := s.wq.ExecContext(ctx, `UPDATE tokens SET last_used_at = ? WHERE id = ?`, micros(t), id)
	return err
}
