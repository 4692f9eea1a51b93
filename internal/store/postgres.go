package store

import (
	"context"
	"embed"
	"errors"
	"fmt"
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
	pool *pgxpool.Pool
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
	where := PostgresDisplayName(cfg.ConnConfig)
	s.pool = pool
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
func (s *Postgres) Pool() *pgxpool.Pool { return s.pool }

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

// likePattern turns a host-name filter ('*' matches any run) into a LIKE
// pattern, escaping LIKE's own metacharacters with backslashes (LIKE's
// default escape character).
func likePattern(s string) string {
	r := strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`, "*", "%")
	return r.Replace(s)
}
