package store

import (
	"context"
	"database/sql"
	"sync"
)

// stmtCache prepares each query text once per database handle: parsing SQL
// is a good part of a small query's cost with SQLite. Queries built with a
// variable shape (IN lists, batches) go straight to the database once the
// cache is full, so it cannot grow without bound.
type stmtCache struct {
	db      *sql.DB
	explain func(error) error // the store's storage errors
	mu      sync.Mutex
	stmts   map[string]*sql.Stmt
}

const maxCachedStmts = 128

func newStmtCache(db *sql.DB, explain func(error) error) *stmtCache {
	return &stmtCache{db: db, explain: explain, stmts: map[string]*sql.Stmt{}}
}

// stmt returns the prepared statement of query, preparing it (outside the
// lock: preparing needs a connection, which may be a while coming) when
// there is room; nil when there is none.
func (c *stmtCache) stmt(ctx context.Context, query string) (*sql.Stmt, error) {
	c.mu.Lock()
	st, ok := c.stmts[query]
	full := len(c.stmts) >= maxCachedStmts
	c.mu.Unlock()
	if ok || full {
		return st, nil
	}
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.stmts[query]; ok || c.stmts == nil {
		st.Close() // another caller won the race, or the cache is closed
		return prev, nil
	}
	c.stmts[query] = st
	return st, nil
}

func (c *stmtCache) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	st, err := c.stmt(ctx, query)
	var rows *sql.Rows
	if err != nil || st == nil {
		rows, err = c.db.QueryContext(ctx, query, args...)
	} else {
		rows, err = st.QueryContext(ctx, args...)
	}
	return rows, c.explain(err)
}

func (c *stmtCache) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	st, err := c.stmt(ctx, query)
	if err != nil || st == nil {
		return c.db.QueryRowContext(ctx, query, args...)
	}
	return st.QueryRowContext(ctx, args...)
}

func (c *stmtCache) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	st, err := c.stmt(ctx, query)
	var res sql.Result
	if err != nil || st == nil {
		res, err = c.db.ExecContext(ctx, query, args...)
	} else {
		res, err = st.ExecContext(ctx, args...)
	}
	return res, c.explain(err)
}

func (c *stmtCache) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, st := range c.stmts {
		st.Close()
	}
	c.stmts = nil
}
