package store

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// SQLite's side of the seam (dialect.go): placeholders, stored forms, conn.

// sqliteText rewrites a statement's $N placeholders to SQLite's ?N, outside
// string literals and quoted names. Texts are remembered, up to a bound;
// statements of a shape of their own (a batch's list) go around it
// (sqliteBulk).
func sqliteText(q string) string {
	if v, ok := sqliteTexts.Load(q); ok {
		return v.(string)
	}
	out := rewritePlaceholders(q)
	if sqliteTextCount.Add(1) <= maxSQLiteTexts {
		sqliteTexts.Store(q, out)
	}
	return out
}

const maxSQLiteTexts = 1024

var (
	sqliteTexts     sync.Map
	sqliteTextCount atomic.Int64
)

func rewritePlaceholders(q string) string {
	if !strings.Contains(q, "$") {
		return q
	}
	b := []byte(q)
	var quote byte
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"':
			quote = c
		case c == '$' && i+1 < len(b) && b[i+1] >= '0' && b[i+1] <= '9':
			b[i] = '?'
		}
	}
	return string(b)
}

// sqliteArgs maps arguments to SQLite's stored forms.
func sqliteArgs(args []any) []any { return mapValues(nil, args, sqliteArg) }

func sqliteArg(a any) (any, bool) {
	switch v := a.(type) {
	case time.Time:
		return micros(v), true
	case *time.Time:
		return nullMicros(v), true
	case time.Duration:
		return durationMicros(v), true
	case json.RawMessage:
		if v == nil {
			return nil, true
		}
		return string(v), true
	case []string:
		return listJSON(v), true
	case []int64:
		return listJSON(v), true
	case nullList:
		if v == nil {
			return nil, true
		}
		return listJSON(v), true
	}
	return nil, false
}

// listJSON is a list's form for json_each: never null.
func listJSON[T any](l []T) string {
	if len(l) == 0 {
		return "[]"
	}
	return mustJSON(l)
}

// sqliteDests wraps destinations whose stored form differs.
func sqliteDests(dest []any) []any { return sqliteDestsIn(nil, dest) }

// sqliteDestsIn is sqliteDests in *buf (when buf is not nil), which a
// Scan of every row reuses.
func sqliteDestsIn(buf *[]any, dest []any) []any { return mapValues(buf, dest, sqliteDest) }

func sqliteDest(d any) (any, bool) {
	switch v := d.(type) {
	case *time.Time:
		return microsTime{v}, true
	case **time.Time:
		return nullMicrosTime{v}, true
	case *time.Duration:
		return microsDuration{v}, true
	case *json.RawMessage:
		return textJSON{v}, true
	case *[]string:
		return jsonList{v}, true
	case *nullList:
		return nullJSONList{v}, true
	}
	return nil, false
}

type microsTime struct{ t *time.Time }

func (d microsTime) Scan(src any) error {
	us, err := storedMicros("time", src)
	if err == nil {
		*d.t = fromMicros(us)
	}
	return err
}

// storedMicros is src, what SQLite stores of a time or a duration (what
// names which).
func storedMicros(what string, src any) (int64, error) {
	us, ok := src.(int64)
	if !ok {
		return 0, fmt.Errorf("%s stored as %T, not microseconds", what, src)
	}
	return us, nil
}

type nullMicrosTime struct{ t **time.Time }

func (d nullMicrosTime) Scan(src any) error {
	if src == nil {
		*d.t = nil
		return nil
	}
	var t time.Time
	if err := (microsTime{&t}).Scan(src); err != nil {
		return err
	}
	*d.t = &t
	return nil
}

type microsDuration struct{ d *time.Duration }

func (d microsDuration) Scan(src any) error {
	us, err := storedMicros("duration", src)
	if err == nil {
		*d.d = fromDurationMicros(us)
	}
	return err
}

type textJSON struct{ j *json.RawMessage }

func (d textJSON) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*d.j = nil
	case string:
		*d.j = json.RawMessage(v)
	case []byte:
		*d.j = append(json.RawMessage(nil), v...)
	default:
		return fmt.Errorf("JSON stored as %T", src)
	}
	return nil
}

// sqliteConn is a conn of SQLite.
type sqliteConn struct {
	q       querier
	explain func(error) error
}

func (c sqliteConn) exec(ctx context.Context, q string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, sqliteText(q), sqliteArgs(args)...)
	if err != nil {
		return 0, c.explain(err)
	}
	return res.RowsAffected()
}

func (c sqliteConn) query(ctx context.Context, q string, args ...any) (rows, error) {
	rs, err := c.q.QueryContext(ctx, sqliteText(q), sqliteArgs(args)...)
	if err != nil {
		return nil, c.explain(err)
	}
	return sqliteRows{rs, c.explain, new([]any)}, nil
}

func (c sqliteConn) queryRow(ctx context.Context, q string, args ...any) row {
	return sqliteRow{c.q.QueryRowContext(ctx, sqliteText(q), sqliteArgs(args)...), c.explain}
}

type sqliteRow struct {
	r       *sql.Row
	explain func(error) error
}

func (r sqliteRow) Scan(dest ...any) error { return r.explain(r.r.Scan(sqliteDests(dest)...)) }

type sqliteRows struct {
	rs      *sql.Rows
	explain func(error) error
	dests   *[]any // of Scan, reused
}

func (r sqliteRows) Next() bool             { return r.rs.Next() }
func (r sqliteRows) Scan(dest ...any) error { return r.rs.Scan(sqliteDestsIn(r.dests, dest)...) }
func (r sqliteRows) Err() error             { return r.explain(r.rs.Err()) }
func (r sqliteRows) Close()                 { r.rs.Close() }

// jsonList scans a list stored as a JSON array of strings (PostgreSQL's
// text[]); NULL is a nil list.
type jsonList struct{ l *[]string }

func (d jsonList) Scan(src any) error {
	var text []byte
	switch v := src.(type) {
	case nil:
		*d.l = nil
		return nil
	case string:
		text = []byte(v)
	case []byte:
		text = v
	default:
		return fmt.Errorf("list stored as %T, not JSON", src)
	}
	// A list its caller emptied ([:0]) is decoded into in place
	// (walkHosts reuses one host's groups); any other gets room for every
	// element at once (a comma inside one only adds room): decoding
	// appends without growing the list, a host's groups in one allocation
	// rather than three.
	if len(*d.l) > 0 || cap(*d.l) == 0 {
		*d.l = make([]string, 0, bytes.Count(text, []byte(","))+1)
	}
	return json.Unmarshal(text, d.l)
}

// sqliteInsertRows is how many rows one INSERT of insertRows writes, at
// most: SQLite allows 32766 variables per statement.
const sqliteInsertRows = 500

// insertRows implements rowInserter with multi-row INSERTs.
func (c sqliteConn) insertRows(ctx context.Context, table string, cols []string, n int, row func(i int) ([]any, error)) error {
	per := min(sqliteInsertRows, 32766/len(cols))
	head := `INSERT INTO ` + table + ` (` + strings.Join(cols, ", ") + `) VALUES `
	tuple := `(` + strings.TrimSuffix(strings.Repeat("?, ", len(cols)), ", ") + `)`
	for start := 0; start < n; start += per {
		k := min(per, n-start)
		args := make([]any, 0, k*len(cols))
		for i := start; i < start+k; i++ {
			v, err := row(i)
			if err != nil {
				return err
			}
			args = append(args, v...)
		}
		if _, err := c.q.ExecContext(ctx, head+repeatTuple(k, tuple), sqliteArgs(args)...); err != nil {
			return c.explain(err)
		}
	}
	return nil
}

func sqliteIsPrimaryKey(err error) bool {
	var e *sqlite.Error
	return errors.As(err, &e) && e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// nullJSONList scans a nullable list (nullList): NULL is nil, any other
// value a list, empty but not nil when it holds nothing ("[]", "null").
type nullJSONList struct{ l *nullList }

func (d nullJSONList) Scan(src any) error {
	if src == nil {
		*d.l = nil
		return nil
	}
	var l []string
	if err := (jsonList{&l}).Scan(src); err != nil {
		return err
	}
	if l == nil {
		l = []string{}
	}
	*d.l = l
	return nil
}
