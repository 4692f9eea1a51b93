package store

import (
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/rosterhq/roster"
)

//go:embed migrations/sqlite/*.sql
var sqliteMigrations embed.FS

// SQLite is the embedded store: one file, WAL journal, one writer
// connection (SQLite allows one writer at a time anyway; queueing in Go is
// cheaper than busy-waiting in SQLite) and a pool of readers.
type SQLite struct {
	db
	path   string
	w, r   *sql.DB
	wq, rq *stmtCache // prepared statements of w and r
	// stopCheckpoints ends the checkpointer (sqlite_checkpoint.go), which
	// closes checkpointed when it has returned.
	stopCheckpoints func()
	checkpointed    chan struct{}
}

var _ roster.Store = (*SQLite)(nil)

// SQLiteOption configures OpenSQLite.
type SQLiteOption func(*sqliteOptions)

type sqliteOptions struct{ readers int }

// SQLiteReaders sets how many connections read at once (8 by default).
func SQLiteReaders(n int) SQLiteOption { return func(o *sqliteOptions) { o.readers = n } }

// OpenSQLite opens (creating if needed) the database file at path and
// brings its schema up to date.
func OpenSQLite(ctx context.Context, path string, opts ...SQLiteOption) (*SQLite, error) {
	o := sqliteOptions{readers: 8}
	for _, opt := range opts {
		opt(&o)
	}
	if err := PrepareSQLite(path); err != nil {
		return nil, err
	}
	pragmas := []string{
		"busy_timeout(10000)",
		"journal_mode(WAL)",
		"synchronous(NORMAL)",
		"foreign_keys(ON)",
		"temp_store(MEMORY)",
		"wal_autocheckpoint(0)", // the checkpointer's job
	}
	dsn := func(extra ...string) string {
		q := url.Values{}
		for _, p := range append(pragmas, extra...) {
			q.Add("_pragma", p)
		}
		return "file:" + filepath.ToSlash(path) + "?" + q.Encode()
	}
	// Page caches are per connection: the writer's holds a sync's dirty
	// pages until they spill to the WAL, each reader's what it reads again.
	// The operating system caches the file for all of them; a big private
	// cache only multiplies the process's memory by the connections
	// (BENCHMARKS.md, "Memory").
	w, err := sql.Open("sqlite", dsn("cache_size(-16384)")+"&_txlock=immediate")
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	r, err := sql.Open("sqlite", dsn("query_only(1)", "cache_size(-4096)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	r.SetMaxOpenConns(o.readers)
	r.SetMaxIdleConns(o.readers)
	c, err := sql.Open("sqlite", dsn())
	if err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	c.SetMaxOpenConns(1)
	s := &SQLite{db: newDB(sqliteDialect), path: path, w: w, r: r, checkpointed: make(chan struct{})}
	s.wq, s.rq = newStmtCache(w, s.explain), newStmtCache(r, s.explain)
	s.db.r, s.db.w = sqliteConn{s.rq, s.explain}, sqliteConn{s.wq, s.explain}
	s.begin = func(ctx context.Context, fn func(conn) error) error {
		return s.tx(ctx, func(tx *sql.Tx) error { return fn(sqliteConn{tx, s.explain}) })
	}
	s.snapshot = func(ctx context.Context, fn func(conn) error) error {
		return s.readTx(ctx, func(tx *sql.Tx) error { return fn(sqliteConn{tx, s.explain}) })
	}
	cctx, stop := context.WithCancel(context.WithoutCancel(ctx))
	s.stopCheckpoints = stop
	go checkpointer(cctx, c, checkpointEvery, s.checkpointed)
	if err := s.migrate(ctx); err != nil {
		s.Close()
		return nil, s.explain(err)
	}
	return s, nil
}

// Close implements roster.Store.
func (s *SQLite) Close() error {
	s.stopCheckpoints()
	<-s.checkpointed
	s.rq.close()
	s.wq.close()
	return errors.Join(s.r.Close(), s.w.Close())
}

// Ping implements roster.Store.
func (s *SQLite) Ping(ctx context.Context) error {
	var one int
	return s.rq.QueryRowContext(ctx, "SELECT 1").Scan(&one)
}

// migrate applies the migrations not yet applied, each in its own
// transaction, after refusing a database newer than this binary.
func (s *SQLite) migrate(ctx context.Context) error {
	if _, err := s.wq.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	all, err := SQLiteMigrations()
	if err != nil {
		return err
	}
	applied, err := appliedVersions(ctx, s.w)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	p, err := plan(s.path, applied, all)
	if err != nil {
		return err
	}
	for _, m := range p.Pending {
		err = s.tx(ctx, func(tx *sql.Tx) error {
			var n int
			if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, m.Version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, micros(s.now()))
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	return nil
}

// querier is what *sql.DB, *sql.Tx and stmtCache share.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// tx runs fn in a write transaction.
func (s *SQLite) tx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.w.BeginTx(ctx, nil)
	if err != nil {
		return s.explain(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		return s.explain(err)
	}
	return s.explain(tx.Commit())
}

// explain says what a storage error of the database means (storage.go).
func (s *SQLite) explain(err error) error { return explainSQLite(s.path, err) }

func sqliteIsUnique(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

// ---- inventories

const inventoryCols = `id, name, description, prometheus_sd, name_policy, kind, created_at, updated_at`

// collectRows scans every row of a query with scan, as collect does on
// PostgreSQL.
func collectRows[T any](rows *sql.Rows, err error, scan func(interface{ Scan(...any) error }) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func scanInventory(row interface{ Scan(...any) error }) (*roster.Inventory, error) {
	var inv roster.Inventory
	var created, updated int64
	var sd *string
	if err := row.Scan(&inv.ID, &inv.Name, &inv.Description, &sd, &inv.NamePolicy, &inv.Kind, &created, &updated, &inv.Generation); err != nil {
		return nil, err
	}
	if sd != nil {
		inv.PrometheusSD = json.RawMessage(*sd)
	}
	inv.CreatedAt, inv.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &inv, nil
}

// CreateInventory implements roster.InventoryStore.
func (s *SQLite) CreateInventory(ctx context.Context, inv *roster.Inventory) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	inv.ID, inv.CreatedAt, inv.UpdatedAt, inv.Generation = newID(), now, now, 1
	if inv.NamePolicy == "" {
		inv.NamePolicy = roster.NamesMerge
	}
	if inv.Kind == "" {
		inv.Kind = roster.KindPlain
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO inventories (`+inventoryCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			inv.ID, inv.Name, inv.Description, nullJSON(inv.PrometheusSD), inv.NamePolicy, inv.Kind, micros(now), micros(now))
		if isUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "an inventory named %q already exists", inv.Name)
		} else if err != nil {
			return err
		}
		if _, err = tx.ExecContext(ctx, `INSERT INTO inventory_generations (inventory_id, generation) VALUES (?, ?)`, inv.ID, inv.Generation); err != nil {
			return err
		}
		return setInputs(ctx, tx, inv, inv.Inputs)
	})
}

// Inventory implements roster.InventoryStore.
func (s *SQLite) Inventory(ctx context.Context, idOrName string) (*roster.Inventory, error) {
	inv, err := scanInventory(s.rq.QueryRowContext(ctx, `SELECT `+inventorySelect+` FROM inventories WHERE id = ? OR name = ? ORDER BY id = ? DESC LIMIT 1`, idOrName, idOrName, idOrName))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("inventory", idOrName)
	} else if err != nil {
		return nil, err
	}
	return inv, loadInputs(ctx, s.rq, inv)
}

// Inventories implements roster.InventoryStore.
func (s *SQLite) Inventories(ctx context.Context) ([]*roster.Inventory, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+inventorySelect+` FROM inventories ORDER BY name`)
	invs, err := collectRows(rows, err, scanInventory)
	if err != nil {
		return nil, err
	}
	return invs, loadAllInputs(ctx, s.rq, invs)
}

// UpdateInventory implements roster.InventoryStore.
func (s *SQLite) UpdateInventory(ctx context.Context, id string, upd roster.InventoryUpdate) (*roster.Inventory, error) {
	var inv *roster.Inventory
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		inv, err = scanInventory(tx.QueryRowContext(ctx, `SELECT `+inventorySelect+` FROM inventories WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("inventory", id)
		} else if err != nil {
			return err
		}
		if err := loadInputs(ctx, tx, inv); err != nil {
			return err
		}
		if upd.Inputs != nil {
			if err := setInputs(ctx, tx, inv, *upd.Inputs); err != nil {
				return err
			}
		}
		shown := inventoryChangeShown(inv, upd)
		if upd.Name != nil {
			inv.Name = *upd.Name
		}
		if upd.Description != nil {
			inv.Description = *upd.Description
		}
		if upd.PrometheusSD != nil {
			inv.PrometheusSD = *upd.PrometheusSD
		}
		if upd.NamePolicy != nil {
			inv.NamePolicy = *upd.NamePolicy
		}
		inv.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		_, err = tx.ExecContext(ctx, `UPDATE inventories SET name = ?, description = ?, prometheus_sd = ?, name_policy = ?, updated_at = ? WHERE id = ?`,
			inv.Name, inv.Description, nullJSON(inv.PrometheusSD), inv.NamePolicy, micros(inv.UpdatedAt), id)
		if isUnique(err) {
			return roster.Errorf(roster.ECONFLICT, "an inventory named %q already exists", inv.Name)
		} else if err != nil {
			return err
		}
		if shown {
			inv.Generation, err = bumpGeneration(ctx, tx, id)
		}
		return err
	})
	return inv, err
}

// DeleteInventory implements roster.InventoryStore.
func (s *SQLite) DeleteInventory(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := inputOf(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM inventory_inputs WHERE inventory_id = ?`, id); err != nil {
			return err
		}
		for _, table := range []string{"host_groups", "group_host_counts"} {
			if _, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE inventory_id = ?`, id); err != nil {
				return err
			}
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM hosts WHERE inventory_id = ?`, id); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `DELETE FROM inventories WHERE id = ?`, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return notFound("inventory", id)
		}
		return nil
	})
}

// ---- sources

const sourceCols = `id, inventory_id, name, provider, config, on_missing, COALESCE(credential_id, ''), schedule, schedule_jitter,
	timeout, update_cache_timeout, next_tick, next_due, callback_hash IS NOT NULL, created_at, updated_at`

func scanSource(row interface{ Scan(...any) error }) (*roster.Source, error) {
	var src roster.Source
	var config string
	var created, updated, jitter, timeout, cacheTimeout int64
	var tick, due *int64
	if err := row.Scan(&src.ID, &src.InventoryID, &src.Name, &src.Provider, &config, &src.OnMissing, &src.CredentialID,
		&src.Schedule, &jitter, &timeout, &cacheTimeout, &tick, &due, &src.HasCallbackKey, &created, &updated); err != nil {
		return nil, err
	}
	if err := unmarshalJSON(config, &src.Config); err != nil {
		return nil, fmt.Errorf("source %s: decode config: %w", src.ID, err)
	}
	src.ScheduleJitter = fromDurationMicros(jitter)
	src.Timeout, src.UpdateCacheTimeout = fromDurationMicros(timeout), fromDurationMicros(cacheTimeout)
	src.NextSync = scheduledSync(tick, due)
	src.CreatedAt, src.UpdatedAt = fromMicros(created), fromMicros(updated)
	return &src, nil
}

// CreateSource implements roster.SourceStore.
func (s *SQLite) CreateSource(ctx context.Context, src *roster.Source) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	src.ID, src.CreatedAt, src.UpdatedAt = newID(), now, now
	if src.Config == nil {
		src.Config = map[string]any{}
	}
	tick, due := nextSyncMicros(src.NextSync)
	_, err := s.wq.ExecContext(ctx, `INSERT INTO sources (id, inventory_id, name, provider, config, on_missing, credential_id,
		schedule, schedule_jitter, timeout, update_cache_timeout, next_tick, next_due, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		src.ID, src.InventoryID, src.Name, src.Provider, mustJSON(src.Config), string(src.OnMissing), nullString(src.CredentialID),
		src.Schedule, durationMicros(src.ScheduleJitter), durationMicros(src.Timeout), durationMicros(src.UpdateCacheTimeout), tick, due,
		micros(now), micros(now))
	switch {
	case isUnique(err):
		return roster.Errorf(roster.ECONFLICT, "the inventory already has a source named %q", src.Name)
	case isForeignKey(err):
		return roster.Errorf(roster.ENOTFOUND, "the inventory or the credential of the source does not exist")
	}
	return err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func sqliteIsForeignKey(err error) bool {
	var e *sqlite.Error
	// An ON DELETE RESTRICT refusal is reported as a trigger constraint.
	return errors.As(err, &e) && (e.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY || e.Code() == sqlite3.SQLITE_CONSTRAINT_TRIGGER)
}

// Source implements roster.SourceStore.
func (s *SQLite) Source(ctx context.Context, id string) (*roster.Source, error) {
	src, err := scanSource(s.rq.QueryRowContext(ctx, `SELECT `+sourceCols+` FROM sources WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("source", id)
	}
	return src, err
}

// SourceByName implements roster.SourceStore.
func (s *SQLite) SourceByName(ctx context.Context, inventoryID, name string) (*roster.Source, error) {
	q := `SELECT ` + sourceCols + ` FROM sources WHERE name = ?`
	args := []any{name}
	if inventoryID != "" {
		q += ` AND inventory_id = ?`
		args = append(args, inventoryID)
	}
	rows, err := s.rq.QueryContext(ctx, q+` LIMIT 2`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var found []*roster.Source
	for rows.Next() {
		src, err := scanSource(rows)
		if err != nil {
			return nil, err
		}
		found = append(found, src)
	}
	if err := rows.Err(); err != nil {
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
func (s *SQLite) Sources(ctx context.Context, inventoryID string) ([]*roster.Source, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT `+sourceCols+` FROM sources WHERE inventory_id = ? ORDER BY name`, inventoryID)
	return collectRows(rows, err, scanSource)
}

// UpdateSource implements roster.SourceStore.
func (s *SQLite) UpdateSource(ctx context.Context, id string, upd roster.SourceUpdate) (*roster.Source, error) {
	var src *roster.Source
	err := s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		src, err = scanSource(tx.QueryRowContext(ctx, `SELECT `+sourceCols+` FROM sources WHERE id = ?`, id))
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("source", id)
		} else if err != nil {
			return err
		}
		if upd.Name != nil && *upd.Name != src.Name {
			// Documents name a host's source (Prometheus's __meta_roster_source).
			if _, err := bumpGeneration(ctx, tx, src.InventoryID); err != nil {
				return err
			}
		}
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
		src.UpdatedAt = s.now().UTC().Truncate(time.Microsecond)
		tick, due := nextSyncMicros(src.NextSync)
		_, err = tx.ExecContext(ctx, `UPDATE sources SET name = ?, config = ?, on_missing = ?, credential_id = ?,
			schedule = ?, schedule_jitter = ?, timeout = ?, update_cache_timeout = ?, next_tick = ?, next_due = ?, updated_at = ? WHERE id = ?`,
			src.Name, mustJSON(src.Config), string(src.OnMissing), nullString(src.CredentialID),
			src.Schedule, durationMicros(src.ScheduleJitter), durationMicros(src.Timeout), durationMicros(src.UpdateCacheTimeout), tick, due,
			micros(src.UpdatedAt), id)
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

// DeleteSource implements roster.SourceStore.
func (s *SQLite) DeleteSource(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		tally := groupTally{}
		if err := deleteMemberships(ctx, tx, tally, `SELECT id FROM hosts WHERE source_id = ?`, id); err != nil {
			return err
		}
		var inventoryID string
		err := tx.QueryRowContext(ctx, `DELETE FROM sources WHERE id = ? RETURNING inventory_id`, id).Scan(&inventoryID)
		if errors.Is(err, sql.ErrNoRows) {
			return notFound("source", id)
		} else if err != nil {
			return err
		}
		if err := writeGroupCounts(ctx, tx, inventoryID, tally); err != nil {
			return err
		}
		_, err = bumpGeneration(ctx, tx, inventoryID)
		return err
	})
}

// ---- hosts and groups

const hostCols = `h.id, h.inventory_id, h.source_id, h.external_id, h.scope, h.name, h.address, h.enabled, h.groups, h.vars,
	h.missing_since, h.first_seen, h.last_seen, ss.synced_at`

const hostFrom = ` FROM hosts h LEFT JOIN source_scopes ss ON ss.source_id = h.source_id AND ss.scope = h.scope`

func scanHost(row interface{ Scan(...any) error }, h *roster.Host) error {
	var groups string
	var vars []byte
	var missing, synced *int64
	var first, last int64
	if err := row.Scan(&h.ID, &h.InventoryID, &h.SourceID, &h.ExternalID, &h.Scope, &h.Name, &h.Address, &h.Enabled,
		&groups, &vars, &missing, &first, &last, &synced); err != nil {
		return err
	}
	h.Groups = h.Groups[:0]
	if err := unmarshalJSON(groups, &h.Groups); err != nil {
		return fmt.Errorf("host %d: decode groups: %w", h.ID, err)
	}
	h.Vars = vars
	h.Missing = missing != nil
	h.FirstSeen = fromMicros(first)
	h.LastSeen = fromMicros(last)
	if !h.Missing && synced != nil && *synced > last {
		h.LastSeen = fromMicros(*synced)
	}
	return nil
}

// Hosts implements roster.HostStore.
func (s *SQLite) Hosts(ctx context.Context, f roster.HostFilter) ([]*roster.Host, string, error) {
	limit := pageLimit(f.Limit)
	var where strings.Builder
	args := []any{f.InventoryID}
	where.WriteString(` WHERE h.inventory_id = ?`)
	if f.SourceID != "" {
		where.WriteString(` AND h.source_id = ?`)
		args = append(args, f.SourceID)
	}
	if f.Enabled != nil {
		where.WriteString(` AND h.enabled = ?`)
		args = append(args, *f.Enabled)
	}
	switch {
	case f.Name == "":
	case strings.Contains(f.Name, "*"):
		where.WriteString(` AND h.name GLOB ?`)
		args = append(args, globPattern(f.Name))
	default:
		where.WriteString(` AND h.name = ?`)
		args = append(args, f.Name)
	}
	if f.Group != "" {
		where.WriteString(` AND h.id IN (SELECT host_id FROM host_groups WHERE inventory_id = ? AND group_name = ?)`)
		args = append(args, f.InventoryID, f.Group)
	}
	if f.Ungrouped {
		where.WriteString(` AND h.groups = '[]'`) // index hosts_ungrouped
	}
	if f.Var.Key != "" {
		if err := f.Var.Check(); err != nil {
			return nil, "", err
		}
		// A string's value, or a number's or boolean's JSON text (-> keeps
		// a number's text as written: "1.50" stays "1.50").
		path := `$."` + f.Var.Key + `"`
		where.WriteString(` AND CASE json_type(h.vars, ?) WHEN 'text' THEN h.vars ->> ? WHEN 'integer' THEN h.vars -> ? WHEN 'real' THEN h.vars -> ?` +
			` WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END = ?`)
		args = append(args, path, path, path, path, f.Var.Value)
	}
	var after *hostCursor
	if f.After != "" {
		var c hostCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		where.WriteString(` AND (h.name > ? OR (h.name = ? AND h.id > ?))`)
		args = append(args, c.Name, c.Name, c.ID)
		after = &c
	}
	// The window a bounded scan looks at ends at its Scan-th host; none:
	// the inventory ends first.
	var windowEnd *hostCursor
	if f.Scan > 0 {
		q, wargs := `SELECT name, id FROM hosts WHERE inventory_id = ?`, []any{f.InventoryID}
		if after != nil {
			q += ` AND (name > ? OR (name = ? AND id > ?))`
			wargs = append(wargs, after.Name, after.Name, after.ID)
		}
		var end hostCursor
		err := s.rq.QueryRowContext(ctx, q+` ORDER BY name, id LIMIT 1 OFFSET ?`, append(wargs, f.Scan-1)...).Scan(&end.Name, &end.ID)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, "", err
		default:
			windowEnd = &end
			where.WriteString(` AND (h.name < ? OR (h.name = ? AND h.id <= ?))`)
			args = append(args, end.Name, end.Name, end.ID)
		}
	}
	args = append(args, limit+1)
	rows, err := s.rq.QueryContext(ctx, `SELECT `+hostCols+hostFrom+where.String()+` ORDER BY h.name, h.id LIMIT ?`, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	hosts := make([]*roster.Host, 0, min(limit, 64))
	for rows.Next() {
		var h roster.Host
		if err := scanHost(rows, &h); err != nil {
			return nil, "", err
		}
		hosts = append(hosts, &h)
	}
	if err := rows.Err(); err != nil {
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

// Host implements roster.HostStore.
func (s *SQLite) Host(ctx context.Context, inventoryID string, id int64) (*roster.Host, error) {
	var h roster.Host
	err := scanHost(s.rq.QueryRowContext(ctx, `SELECT `+hostCols+hostFrom+` WHERE h.inventory_id = ? AND h.id = ?`, inventoryID, id), &h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, notFound("host", strconv.FormatInt(id, 10))
	}
	return &h, err
}

// Groups implements roster.HostStore.
func (s *SQLite) Groups(ctx context.Context, inventoryID string) ([]*roster.Group, error) {
	groups, _, err := s.GroupsFirst(ctx, inventoryID, -1)
	return groups, err
}

// GroupsFirst implements roster.HostStore; n < 0 reads every group.
func (s *SQLite) GroupsFirst(ctx context.Context, inventoryID string, n int) ([]*roster.Group, int, error) {
	var groups groupList
	total := 0
	err := s.readTx(ctx, func(tx *sql.Tx) error {
		rows, err := tx.QueryContext(ctx, `SELECT group_name, hosts FROM group_host_counts WHERE inventory_id = ? ORDER BY group_name LIMIT ?`, inventoryID, n)
		if _, err := scanGroupCounts(rows, err, groups.add); err != nil {
			return err
		}
		if err := groupStructure(ctx, tx, inventoryID, groups.get); err != nil {
			return err
		}
		total = len(groups.counted)
		if n < 0 || total < n {
			total += len(groups.more)
			return nil // every group with hosts was read
		}
		if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM group_host_counts WHERE inventory_id = ?`, inventoryID).Scan(&total); err != nil {
			return err
		}
		for names := range chunks(groups.uncounted(), batch) {
			in, args := inList(names)
			rows, err := tx.QueryContext(ctx, `SELECT group_name, hosts FROM group_host_counts WHERE inventory_id = ? AND group_name IN (`+in+`)`,
				append([]any{inventoryID}, args...)...)
			counted, err := scanGroupCounts(rows, err, func(name string, hosts int) { groups.get(name).Hosts = hosts })
			if err != nil {
				return err
			}
			total += len(names) - counted
		}
		return nil
	})
	if err != nil {
		return nil, 0, err
	}
	return groups.sorted(), total, nil
}

// scanGroupCounts passes each (group_name, hosts) row of rows to f and
// returns how many there were.
func scanGroupCounts(rows *sql.Rows, err error, f func(name string, hosts int)) (int, error) {
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	n := 0
	for ; rows.Next(); n++ {
		var name string
		var hosts int
		if err := rows.Scan(&name, &hosts); err != nil {
			return n, err
		}
		f(name, hosts)
	}
	return n, rows.Err()
}

// groupStructure loads the children and vars of an inventory's groups.
func groupStructure(ctx context.Context, q querier, inventoryID string, get func(string) *roster.Group) error {
	rows, err := q.QueryContext(ctx, `SELECT DISTINCT parent, child FROM group_edges WHERE inventory_id = ? ORDER BY parent, child`, inventoryID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var parent, child string
		if err := rows.Scan(&parent, &child); err != nil {
			rows.Close()
			return err
		}
		g := get(parent)
		g.Children = append(g.Children, child)
		get(child)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	rows, err = q.QueryContext(ctx, `SELECT name, vars FROM group_vars WHERE inventory_id = ?`, inventoryID)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var vars []byte
		if err := rows.Scan(&name, &vars); err != nil {
			return err
		}
		get(name).Vars = vars
	}
	return rows.Err()
}

// SetGroupVars implements roster.HostStore.
func (s *SQLite) SetGroupVars(ctx context.Context, inventoryID, group string, vars json.RawMessage) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		var err error
		if len(vars) == 0 || string(vars) == "{}" || string(vars) == "null" {
			_, err = tx.ExecContext(ctx, `DELETE FROM group_vars WHERE inventory_id = ? AND name = ?`, inventoryID, group)
		} else {
			_, err = tx.ExecContext(ctx, `INSERT INTO group_vars (inventory_id, name, vars) VALUES (?, ?, ?)
				ON CONFLICT (inventory_id, name) DO UPDATE SET vars = excluded.vars`, inventoryID, group, string(vars))
		}
		if isForeignKey(err) {
			return notFound("inventory", inventoryID)
		} else if err != nil {
			return err
		}
		_, err = bumpGeneration(ctx, tx, inventoryID)
		return err
	})
}

// readTx runs fn in a read-only transaction: its reads see one snapshot
// (taken by the first).
func (s *SQLite) readTx(ctx context.Context, fn func(*sql.Tx) error) error {
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return err
	}
	defer tx.Rollback()
	return fn(tx)
}

// WalkInventory implements roster.HostStore.
func (s *SQLite) WalkInventory(ctx context.Context, inventoryID string, host func(*roster.Host) error, group func(*roster.Group) error) (int64, error) {
	// One read transaction, so the generation, hosts and groups come from
	// one snapshot (taken by its first read).
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	gen, err := inventoryGeneration(ctx, tx, inventoryID)
	if err != nil {
		return 0, err
	}
	return gen, walkInventory(ctx, tx, inventoryID, host, group)
}

func walkInventory(ctx context.Context, tx *sql.Tx, inventoryID string, host func(*roster.Host) error, group func(*roster.Group) error) error {
	rows, err := tx.QueryContext(ctx, `SELECT `+hostCols+hostFrom+` WHERE h.inventory_id = ? ORDER BY h.name, h.id`, inventoryID)
	if err != nil {
		return err
	}
	var h roster.Host
	for rows.Next() {
		if err := scanHost(rows, &h); err != nil {
			rows.Close()
			return err
		}
		if err := host(&h); err != nil {
			rows.Close()
			return err
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	groups := make(map[string]*roster.Group)
	get := func(name string) *roster.Group {
		g := groups[name]
		if g == nil {
			g = &roster.Group{Name: name}
			groups[name] = g
		}
		return g
	}
	if err := groupStructure(ctx, tx, inventoryID, get); err != nil {
		return err
	}
	names := make([]string, 0, len(groups))
	for n := range groups {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		if err := group(groups[n]); err != nil {
			return err
		}
	}
	return nil
}

// HostNamesOfOtherSources implements roster.HostStore.
func (s *SQLite) HostNamesOfOtherSources(ctx context.Context, inventoryID, sourceID string) (map[string]string, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT h.name, min(s.name) FROM hosts h JOIN sources s ON s.id = h.source_id
		WHERE h.inventory_id = ? AND h.source_id <> ? GROUP BY h.name`, inventoryID, sourceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := make(map[string]string)
	for rows.Next() {
		var host, source string
		if err := rows.Scan(&host, &source); err != nil {
			return nil, err
		}
		out[host] = source
	}
	return out, rows.Err()
}

// HostNameConflicts implements roster.HostStore.
func (s *SQLite) HostNameConflicts(ctx context.Context, inventoryID string, limit int) ([]roster.NameConflict, int, error) {
	var out []roster.NameConflict
	var total int
	// One snapshot for the count and the list.
	tx, err := s.r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, 0, err
	}
	defer tx.Rollback()
	if err := tx.QueryRowContext(ctx, `SELECT count(*) FROM (`+conflictingNames+`)`, inventoryID).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := tx.QueryContext(ctx, conflictSources(`?`, `?`, `?`), inventoryID, inventoryID, limit)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	for rows.Next() {
		var host, source string
		if err := rows.Scan(&host, &source); err != nil {
			return nil, 0, err
		}
		out = appendConflict(out, host, source)
	}
	return out, total, rows.Err()
}

// HostStates implements roster.HostStore.
func (s *SQLite) HostStates(ctx context.Context, sourceID string) ([]roster.HostState, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT id, external_id, scope, name, hash, enabled, missing_since IS NOT NULL FROM hosts WHERE source_id = ?`, sourceID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []roster.HostState
	for rows.Next() {
		var st roster.HostState
		if err := rows.Scan(&st.ID, &st.ExternalID, &st.Scope, &st.Name, &st.Hash, &st.Enabled, &st.Missing); err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}
