package jobs

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/riverqueue/river"
	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/rosterhq/roster/internal/store"
)

// migrationLock is the advisory lock key under which River's tables are
// migrated, so that nodes starting together migrate one at a time.
const migrationLock = 0x726f737465725f71 // "roster_q"

// OpenPostgres opens the queue on a PostgreSQL pool (Roster's store's),
// bringing River's tables up to date. Several processes may share the
// database: River elects one leader to tick the scheduler and to rescue
// the jobs of processes that died.
func OpenPostgres(ctx context.Context, pool *pgxpool.Pool, cfg Config) (*Queue, error) {
	driver := riverpgxv5.New(pool)
	if err := MigratePostgres(ctx, pool); err != nil {
		return nil, err
	}
	queue, err := newQueue(cfg, func(c *river.Config) (*river.Client[pgx.Tx], error) { return river.NewClient(driver, c) })
	if err != nil {
		return nil, err
	}
	queue.depth = func(ctx context.Context) (map[string]int, error) {
		rows, err := pool.Query(ctx, `SELECT state::text, count(*) FROM river_job WHERE queue = $1 GROUP BY state`, QueueSync)
		if err != nil {
			return nil, err
		}
		out := map[string]int{}
		for rows.Next() {
			var state string
			var n int
			if err := rows.Scan(&state, &n); err != nil {
				rows.Close()
				return nil, err
			}
			out[state] = n
		}
		return out, rows.Err()
	}
	return queue, nil
}

// MigratePostgres brings River's tables up to date (roster migrate). Its
// migrations run one transaction each (some add enum values, which
// PostgreSQL does not allow to use in the transaction that adds them),
// under a session advisory lock that keeps nodes starting together from
// migrating at once.
func MigratePostgres(ctx context.Context, pool *pgxpool.Pool) error {
	m, err := rivermigrate.New(riverpgxv5.New(pool), nil)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	// The lock is the session's: releasing the connection after an error
	// would hand a locked session back to the pool, so it is closed.
	lock := conn.Hijack()
	defer lock.Close(context.WithoutCancel(ctx))
	if _, err := lock.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	// Under the lock, so what a newer node is applying is seen.
	applied, err := postgresApplied(ctx, lock)
	if err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	if _, err := planRiver(store.PostgresDisplayName(pool.Config().ConnConfig), applied, m.AllVersions()); err != nil {
		return err
	}
	if _, err := m.Migrate(ctx, rivermigrate.DirectionUp, nil); err != nil {
		return fmt.Errorf("job queue migrations: %w", err)
	}
	return nil
}
