package store

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/rosterhq/roster"
)

//go:embed migrations/postgres/*.sql
var postgresMigrations embed.FS

// Postgres is the store for several Roster processes sharing one
// database. Unlike SQLite it has no single writer to lean on: what must be
// exclusive (one active run per source, check-and-set of secret blobs,
// read-modify-write updates) is made so by the database itself, with
// unique indexes, conditional statements and row locks.
type Postgres struct {
	db
	pool *pgPool
}

var _ roster.Store = (*Postgres)(nil)

// PostgresOption configures OpenPostgres.
type PostgresOption func(*pgxpool.Config)

// PostgresMaxConns bounds the connection pool (pgxpool's default is the
// larger of 4 and the number of CPUs; the DSN's pool_max_conns also sets it).
func PostgresMaxConns(n int32) PostgresOption {
	return func(c *pgxpool.Config) { c.MaxConns = n }
}

// PostgresPoolConfig lets the caller adjust anything else of the pool's
// configuration (TLS, tracing, timeouts) before it connects.
func PostgresPoolConfig(fn func(*pgxpool.Config)) PostgresOption { return PostgresOption(fn) }

// OpenPostgres connects to the database at dsn (a postgres:// URL or a
// key=value string, as libpq takes) and brings its schema up to date.
// Several processes may open one database at once: migrations run under an
// advisory lock, one process at a time, and each is applied once.
func OpenPostgres(ctx context.Context, dsn string, opts ...PostgresOption) (*Postgres, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("parse PostgreSQL DSN: %w", err)
	}
	for _, opt := range opts {
		opt(cfg)
	}
	s := &Postgres{db: newDB(postgresDialect)}
	if err := s.migrate(ctx, cfg.ConnConfig.Copy()); err != nil {
		return nil, err
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	s.pool = &pgPool{Pool: pool, where: PostgresDisplayName(cfg.ConnConfig)}
	where := s.pool.where
	s.db.r = pgConn{pool, where}
	s.db.w = s.db.r
	s.begin = func(ctx context.Context, fn func(conn) error) error {
		return explainPostgres(where, pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error { return fn(pgConn{tx, where}) }))
	}
	s.snapshot = func(ctx context.Context, fn func(conn) error) error {
		opts := pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}
		return explainPostgres(where, pgx.BeginTxFunc(ctx, pool, opts, func(tx pgx.Tx) error { return fn(pgConn{tx, where}) }))
	}
	return s, nil
}

// Close implements roster.Store.
func (s *Postgres) Close() error {
	s.pool.Close()
	return nil
}

// Ping implements roster.Store.
func (s *Postgres) Ping(ctx context.Context) error { return s.pool.Ping(ctx) }

// Pool returns the store's connection pool, for what shares the database
// (the job queue's River driver). The store keeps owning it: Close closes
// it, and no one else should.
func (s *Postgres) Pool() *pgxpool.Pool { return s.pool.Pool }

// PostgresDisplayName names a database for messages: host, port and name, never the
// password.
func PostgresDisplayName(c *pgx.ConnConfig) string {
	return fmt.Sprintf("postgres://%s:%d/%s", c.Host, c.Port, c.Database)
}

// migrationLock is the key of the session advisory lock held while
// migrating ("roster" in ASCII). Advisory locks are per database.
const migrationLock int64 = 0x726f73746572

// migrate applies the migrations not yet applied, on a connection of its
// own: the advisory lock belongs to that session, and closing it releases
// the lock whatever happened.
func (s *Postgres) migrate(ctx context.Context, cfg *pgx.ConnConfig) error {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect to PostgreSQL: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, migrationLock); err != nil {
		return fmt.Errorf("take the migration lock: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	// Under the lock: a newer node upgrading at the same time has
	// finished, and what it applied is seen here.
	all, err := PostgresMigrations()
	if err != nil {
		return err
	}
	applied, err := pgAppliedVersions(ctx, conn)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	p, err := plan(PostgresDisplayName(cfg), applied, all)
	if err != nil {
		return err
	}
	for _, m := range p.Pending {
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var applied bool
			if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM schema_migrations WHERE version = $1)`, m.Version).Scan(&applied); err != nil || applied {
				return err
			}
			// Without arguments pgx sends the simple protocol, which
			// takes several statements at once.
			if _, err := tx.Exec(ctx, m.SQL); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)`, m.Version, s.now())
			return err
		})
		if err != nil {
			return fmt.Errorf("apply migration %s: %w", m.Name, err)
		}
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1)`, migrationLock); err != nil {
		return fmt.Errorf("release the migration lock: %w", err)
	}
	return nil
}

// pgQuerier is what *pgxpool.Pool and pgx.Tx share.
type pgQuerier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// tx runs fn in a read-committed transaction.
func (s *Postgres) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	return explainPostgres(s.pool.where, pgx.BeginFunc(ctx, s.pool, fn))
}

// pgCode returns the SQLSTATE of a PostgreSQL error, "" for other errors.
func pgCode(err error) string {
	var e *pgconn.PgError
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func pgIsUnique(err error) bool { return pgCode(err) == "23505" }

// pgIsForeignKey reports a foreign-key violation: a row that names a
// missing one, or (ON DELETE RESTRICT) a delete of a row still named.
func pgIsForeignKey(err error) bool {
	code := pgCode(err)
	return code == "23503" || code == "23001"
}

func utc(t time.Time) time.Time { return t.UTC() }

// pgTime is the stored form of a time: timestamptz keeps microseconds.
func pgTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

// pgDuration is the stored form of a source's duration: an interval of
// whole microseconds, every negative duration (a marker, such as
// roster.DefaultJitter) as -1 microsecond, as durationMicros.
func pgDuration(d time.Duration) pgtype.Interval {
	return pgtype.Interval{Microseconds: durationMicros(d), Valid: true}
}

func fromPGDuration(iv pgtype.Interval) time.Duration { return fromDurationMicros(intervalMicros(iv)) }

// intervalMicros is the length of an interval in microseconds, a day
// counted as 24 hours and a month as 30 days (the store writes neither;
// an interval set by hand may have them).
func intervalMicros(iv pgtype.Interval) int64 {
	const day = 24 * 60 * 60 * 1_000_000
	return iv.Microseconds + int64(iv.Days)*day + int64(iv.Months)*30*day
}

// pgNextSync is the stored form of a source's next scheduled sync.
func pgNextSync(n *roster.ScheduledSync) (tick, due *time.Time) {
	if n == nil {
		return nil, nil
	}
	t, d := pgTime(n.Tick), pgTime(n.Due)
	return &t, &d
}

func pgScheduledSync(tick, due *time.Time) *roster.ScheduledSync {
	if tick == nil || due == nil {
		return nil
	}
	return &roster.ScheduledSync{Tick: utc(*tick), Due: utc(*due)}
}

// collect scans every row with scan.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Rows) (T, error)) ([]T, error) {
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

// ---- inventories

const pgInventoryCols = `id, name, description, prometheus_sd, name_policy, kind, created_at, updated_at`

func pgScanInventory(row pgx.Row) (*roster.Inventory, error) {
	var inv roster.Inventory
	var sd []byte
	if err := row.Scan(&inv.ID, &inv.Name, &inv.Description, &sd, &inv.NamePolicy, &inv.Kind, &inv.CreatedAt, &inv.UpdatedAt, &inv.Generation); err != nil {
		return nil, err
	}
	if sd != nil {
		inv.PrometheusSD = sd
	}
	inv.CreatedAt, inv.UpdatedAt = utc(inv.CreatedAt), utc(inv.UpdatedAt)
	return &inv, nil
}

func pgScanInventoryRows(rows pgx.Rows) (*roster.Inventory, error) { return pgScanInventory(rows) }

// CreateInventory implements roster.InventoryStore.
func (s *Postgres) CreateInventory(ctx context.Context, inv *roster.Inventory) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	inv.ID, inv.CreatedAt, inv.UpdatedAt, inv.Generation = newID(), now, now, 1
	if inv.NamePolicy == "" {
		inv.NamePolicy = roster.NamesMerge
	}
	if inv.Kind == "" {
		inv.Kind = roster.KindPlain
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO inventories (`+pgInventoryCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			inv.ID, inv.Name, inv.Description, nullJSON(inv.PrometheusSD), inv.NamePolicy, inv.Kind, now, now)
		if err != nil {
			return pgInventoryError(err, inv)
		}
		if _, err = tx.Exec(ctx, `INSERT INTO inventory_generations (inventory_id, generation) VALUES ($1, $2)`, inv.ID, inv.Generation); err != nil {
			return err
		}
		return pgSetInputs(ctx, tx, inv, inv.Inputs)
	})
}

// pgInventoryError maps the errors of a write of inv to roster errors.
func pgInventoryError(err error, inv *roster.Inventory) error {
	switch {
	case pgIsUnique(err):
		return roster.Errorf(roster.ECONFLICT, "an inventory named %q already exists", inv.Name)
	case pgCode(err) == "22P02": // invalid_text_representation: not JSON
		return roster.Invalid(roster.FieldError{Field: "prometheus_sd", Message: "is not JSON"})
	}
	return err
}

// Inventory implements roster.InventoryStore.
func (s *Postgres) Inventory(ctx context.Context, idOrName string) (*roster.Inventory, error) {
	inv, err := pgScanInventory(s.pool.QueryRow(ctx, `SELECT `+inventorySelect+` FROM inventories WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("inventory", idOrName)
	} else if err != nil {
		return nil, err
	}
	return inv, pgLoadInputs(ctx, s.pool, inv)
}

// Inventories implements roster.InventoryStore.
func (s *Postgres) Inventories(ctx context.Context) ([]*roster.Inventory, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+inventorySelect+` FROM inventories ORDER BY name`)
	invs, err := collect(rows, err, pgScanInventoryRows)
	if err != nil {
		return nil, err
	}
	return invs, pgLoadAllInputs(ctx, s.pool, invs)
}

// UpdateInventory implements roster.InventoryStore.
func (s *Postgres) UpdateInventory(ctx context.Context, id string, upd roster.InventoryUpdate) (*roster.Inventory, error) {
	var inv *roster.Inventory
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		inv, err = pgScanInventory(tx.QueryRow(ctx, `SELECT `+inventorySelect+` FROM inventories WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("inventory", id)
		} else if err != nil {
			return err
		}
		if err := pgLoadInputs(ctx, tx, inv); err != nil {
			return err
		}
		if upd.Inputs != nil {
			if err := pgSetInputs(ctx, tx, inv, *upd.Inputs); err != nil {
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
		_, err = tx.Exec(ctx, `UPDATE inventories SET name = $1, description = $2, prometheus_sd = $3, name_policy = $4, updated_at = $5 WHERE id = $6`,
			inv.Name, inv.Description, nullJSON(inv.PrometheusSD), inv.NamePolicy, inv.UpdatedAt, id)
		if err != nil {
			return pgInventoryError(err, inv)
		}
		if shown {
			inv.Generation, err = pgBumpGeneration(ctx, tx, id)
		}
		return err
	})
	return inv, err
}

// DeleteInventory implements roster.InventoryStore.
func (s *Postgres) DeleteInventory(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		// Lock the inventory and its sources first (see DeleteSource).
		tag, err := tx.Exec(ctx, `SELECT 1 FROM inventories WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("inventory", id)
		}
		if err := pgInputOf(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `SELECT 1 FROM sources WHERE inventory_id = $1 FOR UPDATE`, id); err != nil {
			return err
		}
		for _, table := range []string{"host_groups", "group_host_counts"} {
			if _, err := tx.Exec(ctx, `DELETE FROM `+table+` WHERE inventory_id = $1`, id); err != nil {
				return err
			}
		}
		if _, err := tx.Exec(ctx, `DELETE FROM hosts WHERE inventory_id = $1`, id); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM inventories WHERE id = $1`, id)
		if pgIsForeignKey(err) {
			return roster.Errorf(roster.ECONFLICT, "the inventory became an input of another inventory meanwhile; remove it from its inputs first")
		}
		return err
	})
}

// ---- sources

const pgSourceCols = `id, inventory_id, name, provider, config, on_missing, COALESCE(credential_id, ''), schedule, schedule_jitter,
	timeout, update_cache_timeout, next_tick, next_due, callback_hash IS NOT NULL, created_at, updated_at`

func pgScanSource(row pgx.Row) (*roster.Source, error) {
	var src roster.Source
	var config []byte
	var jitter, timeout, cacheTimeout pgtype.Interval
	var tick, due *time.Time
	if err := row.Scan(&src.ID, &src.InventoryID, &src.Name, &src.Provider, &config, &src.OnMissing, &src.CredentialID,
		&src.Schedule, &jitter, &timeout, &cacheTimeout, &tick, &due, &src.HasCallbackKey, &src.CreatedAt, &src.UpdatedAt); err != nil {
		return nil, err
	}
	if err := json.Unmarshal(config, &src.Config); err != nil {
		return nil, fmt.Errorf("source %s: decode config: %w", src.ID, err)
	}
	src.ScheduleJitter = fromPGDuration(jitter)
	src.Timeout, src.UpdateCacheTimeout = fromPGDuration(timeout), fromPGDuration(cacheTimeout)
	src.NextSync = pgScheduledSync(tick, due)
	src.CreatedAt, src.UpdatedAt = utc(src.CreatedAt), utc(src.UpdatedAt)
	return &src, nil
}

func pgScanSourceRows(rows pgx.Rows) (*roster.Source, error) { return pgScanSource(rows) }

// CreateSource implements roster.SourceStore.
func (s *Postgres) CreateSource(ctx context.Context, src *roster.Source) error {
	now := s.now().UTC().Truncate(time.Microsecond)
	src.ID, src.CreatedAt, src.UpdatedAt = newID(), now, now
	if src.Config == nil {
		src.Config = map[string]any{}
	}
	tick, due := pgNextSync(src.NextSync)
	_, err := s.pool.Exec(ctx, `INSERT INTO sources (id, inventory_id, name, provider, config, on_missing, credential_id,
		schedule, schedule_jitter, timeout, update_cache_timeout, next_tick, next_due, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		src.ID, src.InventoryID, src.Name, src.Provider, mustJSON(src.Config), string(src.OnMissing), nullString(src.CredentialID),
		src.Schedule, pgDuration(src.ScheduleJitter), pgDuration(src.Timeout), pgDuration(src.UpdateCacheTimeout), tick, due,
		now, now)
	switch {
	case pgIsUnique(err):
		return roster.Errorf(roster.ECONFLICT, "the inventory already has a source named %q", src.Name)
	case pgIsForeignKey(err):
		return roster.Errorf(roster.ENOTFOUND, "the inventory or the credential of the source does not exist")
	}
	return err
}

// Source implements roster.SourceStore.
func (s *Postgres) Source(ctx context.Context, id string) (*roster.Source, error) {
	src, err := pgScanSource(s.pool.QueryRow(ctx, `SELECT `+pgSourceCols+` FROM sources WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("source", id)
	}
	return src, err
}

// SourceByName implements roster.SourceStore.
func (s *Postgres) SourceByName(ctx context.Context, inventoryID, name string) (*roster.Source, error) {
	q := `SELECT ` + pgSourceCols + ` FROM sources WHERE name = $1`
	args := []any{name}
	if inventoryID != "" {
		q += ` AND inventory_id = $2`
		args = append(args, inventoryID)
	}
	rows, err := s.pool.Query(ctx, q+` LIMIT 2`, args...)
	found, err := collect(rows, err, pgScanSourceRows)
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
func (s *Postgres) Sources(ctx context.Context, inventoryID string) ([]*roster.Source, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+pgSourceCols+` FROM sources WHERE inventory_id = $1 ORDER BY name`, inventoryID)
	return collect(rows, err, pgScanSourceRows)
}

// UpdateSource implements roster.SourceStore.
func (s *Postgres) UpdateSource(ctx context.Context, id string, upd roster.SourceUpdate) (*roster.Source, error) {
	var src *roster.Source
	err := s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		src, err = pgScanSource(tx.QueryRow(ctx, `SELECT `+pgSourceCols+` FROM sources WHERE id = $1 FOR UPDATE`, id))
		if errors.Is(err, pgx.ErrNoRows) {
			return notFound("source", id)
		} else if err != nil {
			return err
		}
		if upd.Name != nil && *upd.Name != src.Name {
			// Documents name a host's source (Prometheus's __meta_roster_source).
			if _, err := pgBumpGeneration(ctx, tx, src.InventoryID); err != nil {
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
		tick, due := pgNextSync(src.NextSync)
		_, err = tx.Exec(ctx, `UPDATE sources SET name = $1, config = $2, on_missing = $3, credential_id = $4,
			schedule = $5, schedule_jitter = $6, timeout = $7, update_cache_timeout = $8, next_tick = $9, next_due = $10, updated_at = $11
			WHERE id = $12`,
			src.Name, mustJSON(src.Config), string(src.OnMissing), nullString(src.CredentialID),
			src.Schedule, pgDuration(src.ScheduleJitter), pgDuration(src.Timeout), pgDuration(src.UpdateCacheTimeout), tick, due,
			src.UpdatedAt, id)
		switch {
		case pgIsUnique(err):
			return roster.Errorf(roster.ECONFLICT, "the inventory already has a source named %q", src.Name)
		case pgIsForeignKey(err):
			return notFound("credential", src.CredentialID)
		}
		return err
	})
	return src, err
}

// DeleteSource implements roster.SourceStore.
func (s *Postgres) DeleteSource(ctx context.Context, id string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		// Lock the source first. FinishSyncRun locks it before writing
		// too, so a sync finishing now either commits before the source's
		// hosts are looked up here, or waits and then finds its run gone
		// with the source (no deadlock, no stray memberships).
		tag, err := tx.Exec(ctx, `SELECT 1 FROM sources WHERE id = $1 FOR UPDATE`, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return notFound("source", id)
		}
		tally := groupTally{}
		if err := pgDeleteMemberships(ctx, tx, tally, `host_id IN (SELECT id FROM hosts WHERE source_id = $1)`, id); err != nil {
			return err
		}
		var inventoryID string
		if err := tx.QueryRow(ctx, `DELETE FROM sources WHERE id = $1 RETURNING inventory_id`, id).Scan(&inventoryID); err != nil {
			return err
		}
		if err := pgWriteGroupCounts(ctx, tx, inventoryID, tally); err != nil {
			return err
		}
		_, err = pgBumpGeneration(ctx, tx, inventoryID)
		return err
	})
}

// ---- hosts and groups

const pgHostCols = `h.id, h.inventory_id, h.source_id, h.external_id, h.scope, h.name, h.address, h.enabled, h.groups, h.vars,
	h.missing_since, h.first_seen, h.last_seen, ss.synced_at`

const pgHostFrom = ` FROM hosts h LEFT JOIN source_scopes ss ON ss.source_id = h.source_id AND ss.scope = h.scope`

func pgScanHost(row pgx.Row, h *roster.Host) error {
	var vars []byte
	var missing, synced *time.Time
	if err := row.Scan(&h.ID, &h.InventoryID, &h.SourceID, &h.ExternalID, &h.Scope, &h.Name, &h.Address, &h.Enabled,
		&h.Groups, &vars, &missing, &h.FirstSeen, &h.LastSeen, &synced); err != nil {
		return err
	}
	h.Vars = vars
	h.Missing = missing != nil
	h.FirstSeen, h.LastSeen = utc(h.FirstSeen), utc(h.LastSeen)
	if !h.Missing && synced != nil && synced.After(h.LastSeen) {
		h.LastSeen = utc(*synced)
	}
	return nil
}

// likePattern turns a host-name filter ('*' matches any run) into a LIKE
// pattern, escaping LIKE's own metacharacters with backslashes (LIKE's
// default escape character).
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`, "*", "%")
	return r.Replace(s)
}

// Hosts implements roster.HostStore.
func (s *Postgres) Hosts(ctx context.Context, f roster.HostFilter) ([]*roster.Host, string, error) {
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
		where.WriteString(` AND h.name LIKE ` + arg(likePattern(f.Name)))
	default:
		where.WriteString(` AND h.name = ` + arg(f.Name))
	}
	if f.Group != "" {
		where.WriteString(` AND h.id IN (SELECT host_id FROM host_groups WHERE inventory_id = $1 AND group_name = ` + arg(f.Group) + `)`)
	}
	if f.Ungrouped {
		where.WriteString(` AND h.groups = '{}'`) // index hosts_ungrouped
	}
	if f.Var.Key != "" {
		if err := f.Var.Check(); err != nil {
			return nil, "", err
		}
		// vars is json, not jsonb: ->> gives a number's text as written,
		// as SQLite's -> does.
		k := arg(f.Var.Key)
		where.WriteString(` AND json_typeof(h.vars -> ` + k + `) IN ('string', 'number', 'boolean') AND h.vars ->> ` + k + ` = ` + arg(f.Var.Value))
	}
	var after *hostCursor
	if f.After != "" {
		var c hostCursor
		if err := decodeCursor(f.After, &c); err != nil {
			return nil, "", err
		}
		where.WriteString(` AND (h.name, h.id) > (` + arg(c.Name) + `, ` + arg(c.ID) + `)`)
		after = &c
	}
	// The window a bounded scan looks at ends at its Scan-th host; none:
	// the inventory ends first.
	var windowEnd *hostCursor
	if f.Scan > 0 {
		q, wargs := `SELECT name, id FROM hosts WHERE inventory_id = $1`, []any{f.InventoryID}
		if after != nil {
			q += ` AND (name, id) > ($2, $3)`
			wargs = append(wargs, after.Name, after.ID)
		}
		wargs = append(wargs, f.Scan-1)
		var end hostCursor
		err := s.pool.QueryRow(ctx, q+` ORDER BY name, id OFFSET $`+strconv.Itoa(len(wargs))+` LIMIT 1`, wargs...).Scan(&end.Name, &end.ID)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
		case err != nil:
			return nil, "", err
		default:
			windowEnd = &end
			where.WriteString(` AND (h.name, h.id) <= (` + arg(end.Name) + `, ` + arg(end.ID) + `)`)
		}
	}
	q := `SELECT ` + pgHostCols + pgHostFrom + where.String() + ` ORDER BY h.name, h.id LIMIT ` + arg(limit+1)
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, "", err
	}
	defer rows.Close()
	hosts := make([]*roster.Host, 0, min(limit, 64))
	for rows.Next() {
		var h roster.Host
		if err := pgScanHost(rows, &h); err != nil {
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
func (s *Postgres) Host(ctx context.Context, inventoryID string, id int64) (*roster.Host, error) {
	var h roster.Host
	err := pgScanHost(s.pool.QueryRow(ctx, `SELECT `+pgHostCols+pgHostFrom+` WHERE h.inventory_id = $1 AND h.id = $2`, inventoryID, id), &h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound("host", strconv.FormatInt(id, 10))
	}
	if err != nil {
		return nil, err
	}
	return &h, nil
}

// groupSet collects the groups of an inventory by name.
type groupSet map[string]*roster.Group

func (gs groupSet) get(name string) *roster.Group {
	g := gs[name]
	if g == nil {
		g = &roster.Group{Name: name}
		gs[name] = g
	}
	return g
}

// sorted returns the groups ordered by name.
func (gs groupSet) sorted() []*roster.Group {
	out := make([]*roster.Group, 0, len(gs))
	for _, g := range gs {
		out = append(out, g)
	}
	slices.SortFunc(out, func(a, b *roster.Group) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// Groups implements roster.HostStore.
func (s *Postgres) Groups(ctx context.Context, inventoryID string) ([]*roster.Group, error) {
	groups, _, err := s.GroupsFirst(ctx, inventoryID, -1)
	return groups, err
}

// GroupsFirst implements roster.HostStore; n < 0 reads every group.
func (s *Postgres) GroupsFirst(ctx context.Context, inventoryID string, n int) ([]*roster.Group, int, error) {
	var groups groupList
	total := 0
	limit := &n
	if n < 0 {
		limit = nil // LIMIT NULL: no limit
	}
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `SELECT group_name, hosts FROM group_host_counts WHERE inventory_id = $1 ORDER BY group_name COLLATE "C" LIMIT $2`, inventoryID, limit)
		if err != nil {
			return err
		}
		var name string
		var hosts int
		if _, err := pgx.ForEachRow(rows, []any{&name, &hosts}, func() error {
			groups.add(name, hosts)
			return nil
		}); err != nil {
			return err
		}
		if err := pgGroupStructure(ctx, tx, inventoryID, groups.get); err != nil {
			return err
		}
		total = len(groups.counted)
		if n < 0 || total < n {
			total += len(groups.more)
			return nil // every group with hosts was read
		}
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM group_host_counts WHERE inventory_id = $1`, inventoryID).Scan(&total); err != nil {
			return err
		}
		uncounted := groups.uncounted()
		rows, err = tx.Query(ctx, `SELECT group_name, hosts FROM group_host_counts WHERE inventory_id = $1 AND group_name = ANY($2)`, inventoryID, uncounted)
		if err != nil {
			return err
		}
		counted, err := pgx.ForEachRow(rows, []any{&name, &hosts}, func() error {
			groups.get(name).Hosts = hosts
			return nil
		})
		total += len(uncounted) - int(counted.RowsAffected())
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return groups.sorted(), total, nil
}

// pgGroupStructure loads the children and vars of an inventory's groups.
func pgGroupStructure(ctx context.Context, q pgQuerier, inventoryID string, get func(string) *roster.Group) error {
	rows, err := q.Query(ctx, `SELECT DISTINCT parent, child FROM group_edges WHERE inventory_id = $1 ORDER BY parent, child`, inventoryID)
	if err != nil {
		return err
	}
	var parent, child string
	_, err = pgx.ForEachRow(rows, []any{&parent, &child}, func() error {
		g := get(parent)
		g.Children = append(g.Children, child)
		get(child)
		return nil
	})
	if err != nil {
		return err
	}
	rows, err = q.Query(ctx, `SELECT name, vars FROM group_vars WHERE inventory_id = $1`, inventoryID)
	if err != nil {
		return err
	}
	var name string
	var vars []byte
	_, err = pgx.ForEachRow(rows, []any{&name, &vars}, func() error {
		get(name).Vars = vars
		return nil
	})
	return err
}

// SetGroupVars implements roster.HostStore.
func (s *Postgres) SetGroupVars(ctx context.Context, inventoryID, group string, vars json.RawMessage) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		var err error
		if len(vars) == 0 || string(vars) == "{}" || string(vars) == "null" {
			_, err = tx.Exec(ctx, `DELETE FROM group_vars WHERE inventory_id = $1 AND name = $2`, inventoryID, group)
		} else {
			_, err = tx.Exec(ctx, `INSERT INTO group_vars (inventory_id, name, vars) VALUES ($1, $2, $3)
				ON CONFLICT (inventory_id, name) DO UPDATE SET vars = excluded.vars`, inventoryID, group, string(vars))
		}
		switch {
		case pgIsForeignKey(err):
			return notFound("inventory", inventoryID)
		case pgCode(err) == "22P02": // invalid_text_representation: not JSON
			return roster.Errorf(roster.EINVALID, "the vars of group %q are not JSON", group)
		case err != nil:
			return err
		}
		_, err = pgBumpGeneration(ctx, tx, inventoryID)
		return err
	})
}

// WalkInventory implements roster.HostStore.
func (s *Postgres) WalkInventory(ctx context.Context, inventoryID string, host func(*roster.Host) error, group func(*roster.Group) error) (int64, error) {
	// One repeatable-read transaction, so the generation, hosts and groups
	// come from one snapshot (taken by its first statement).
	var gen int64
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		var err error
		if gen, err = pgInventoryGeneration(ctx, tx, inventoryID); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, `SELECT `+pgHostCols+pgHostFrom+` WHERE h.inventory_id = $1 ORDER BY h.name, h.id`, inventoryID)
		if err != nil {
			return err
		}
		var h roster.Host
		for rows.Next() {
			if err := pgScanHost(rows, &h); err != nil {
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
		groups := groupSet{}
		if err := pgGroupStructure(ctx, tx, inventoryID, groups.get); err != nil {
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

// HostNamesOfOtherSources implements roster.HostStore.
func (s *Postgres) HostNamesOfOtherSources(ctx context.Context, inventoryID, sourceID string) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT h.name, min(s.name) FROM hosts h JOIN sources s ON s.id = h.source_id
		WHERE h.inventory_id = $1 AND h.source_id <> $2 GROUP BY h.name`, inventoryID, sourceID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string)
	var host, source string
	_, err = pgx.ForEachRow(rows, []any{&host, &source}, func() error {
		out[host] = source
		return nil
	})
	return out, err
}

// HostNameConflicts implements roster.HostStore.
func (s *Postgres) HostNameConflicts(ctx context.Context, inventoryID string, limit int) ([]roster.NameConflict, int, error) {
	var out []roster.NameConflict
	var total int
	// One snapshot for the count and the list.
	err := pgx.BeginTxFunc(ctx, s.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		if err := tx.QueryRow(ctx, `SELECT count(*) FROM (`+strings.Replace(conflictingNames, "?", "$1", 1)+`) c`, inventoryID).Scan(&total); err != nil {
			return err
		}
		rows, err := tx.Query(ctx, conflictSources(`$1`, `$1`, `$2`), inventoryID, limit)
		if err != nil {
			return err
		}
		var host, source string
		_, err = pgx.ForEachRow(rows, []any{&host, &source}, func() error {
			out = appendConflict(out, host, source)
			return nil
		})
		return err
	})
	return out, total, err
}

// HostStates implements roster.HostStore.
func (s *Postgres) HostStates(ctx context.Context, sourceID string) ([]roster.HostState, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, external_id, scope, name, hash, enabled, missing_since IS NOT NULL FROM hosts WHERE source_id = $1`, sourceID)
	if err != nil {
		return nil, err
	}
	var out []roster.HostState
	var st roster.HostState
	_, err = pgx.ForEachRow(rows, []any{&st.ID, &st.ExternalID, &st.Scope, &st.Name, &st.Hash, &st.Enabled, &st.Missing}, func() error {
		out = append(out, st)
		return nil
	})
	return out, err
}
