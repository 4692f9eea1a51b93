package store

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// PostgreSQL's side of the seam (dialect.go): stored forms and conn. The
// statements are written in its own placeholder style.

// pgConn is a conn of PostgreSQL: the pool or a transaction.
type pgConn struct {
	q     pgQuerier
	where string // the database, for explainPostgres
}

func (c pgConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, q, pgArgs(args)...)
	if err != nil {
		return 0, explainPostgres(c.where, err)
	}
	return tag.RowsAffected(), nil
}

func (c pgConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	rs, err := c.q.Query(ctx, q, pgArgs(args)...)
	if err != nil {
		return nil, explainPostgres(c.where, err)
	}
	return pgRows{rs, c.where, new([]any)}, nil
}

func (c pgConn) queryRow(ctx context.Context, q string, args ...any) row {
	return pgConnRow{c.q.QueryRow(ctx, q, pgArgs(args)...), c.where}
}

type pgConnRow struct {
	r     pgx.Row
	where string
}

func (r pgConnRow) Scan(dest ...any) error {
	return explainPostgres(r.where, r.r.Scan(pgDests(nil, dest)...))
}

type pgRows struct {
	rs    pgx.Rows
	where string
	dests *[]any // of Scan, reused
}

func (r pgRows) Next() bool             { return r.rs.Next() }
func (r pgRows) Scan(dest ...any) error { return r.rs.Scan(pgDests(r.dests, dest)...) }
func (r pgRows) Err() error             { return explainPostgres(r.where, r.rs.Err()) }
func (r pgRows) Close()                 { r.rs.Close() }

// pgArgs maps arguments to PostgreSQL's stored forms.
func pgArgs(args []any) []any { return mapValues(nil, args, pgArg) }

func pgArg(a any) (any, bool) {
	switch a := a.(type) {
	case time.Time:
		return storedTime(a), true
	case *time.Time:
		if a == nil {
			return nil, true
		}
		return storedTime(*a), true
	case time.Duration:
		return pgDuration(a), true
	case nullList:
		return []string(a), true
	}
	return nil, false
}

// pgDests wraps destinations whose stored form differs, in *buf when buf
// is not nil (see mapValues). The wrappers are values: boxing one
// allocates nothing.
func pgDests(buf *[]any, dest []any) []any { return mapValues(buf, dest, pgDest) }

func pgDest(d any) (any, bool) {
	switch v := d.(type) {
	case *time.Time:
		return pgTimeDest{v}, true
	case **time.Time:
		return pgNullTimeDest{v}, true
	case *time.Duration:
		return pgDurationDest{v}, true
	case *nullList:
		return (*[]string)(v), true
	}
	return nil, false
}

// pgTimeDest scans a timestamptz as UTC (pgx gives local time).
type pgTimeDest struct{ t *time.Time }

func (d pgTimeDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		return errNullTime
	}
	*d.t = v.Time.UTC()
	return nil
}

type pgNullTimeDest struct{ t **time.Time }

func (d pgNullTimeDest) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*d.t = nil
		return nil
	}
	t := v.Time.UTC()
	*d.t = &t
	return nil
}

type pgDurationDest struct{ d *time.Duration }

func (d pgDurationDest) ScanInterval(v pgtype.Interval) error {
	if !v.Valid {
		return errNullDuration
	}
	*d.d = fromPGDuration(v)
	return nil
}

// pgCopier is what pgx.Tx and the pool have to copy rows in.
type pgCopier interface {
	CopyFrom(ctx context.Context, table pgx.Identifier, cols []string, src pgx.CopyFromSource) (int64, error)
}

// insertRows implements rowInserter with COPY.
func (c pgConn) insertRows(ctx context.Context, table string, cols []string, n int, row func(i int) ([]any, error)) error {
	_, err := c.q.(pgCopier).CopyFrom(ctx, pgx.Identifier{table}, cols, pgx.CopyFromSlice(n, func(i int) ([]any, error) {
		v, err := row(i)
		return pgArgs(v), err
	}))
	return explainPostgres(c.where, err)
}

// pgIsPrimaryKey reports a violation of a primary key (PostgreSQL names
// it <table>_pkey).
func pgIsPrimaryKey(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505" && strings.HasSuffix(e.ConstraintName, "_pkey")
}
