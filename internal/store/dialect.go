package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

// The store's behaviour is written once, as methods of db, over a small
// seam that is each database's own:
//
//   - conn: where a statement goes (a pool, the SQLite writer, a
//     transaction). Statements are written in PostgreSQL's placeholder
//     style ($1, $2 …); SQLite's conn rewrites them to its numbered form
//     (?1, ?2 …), which binds the same arguments the same way.
//   - stored forms: each conn maps Go values to the columns' types and
//     back. Times are timestamptz in PostgreSQL and integer microseconds
//     in SQLite, durations intervals and microseconds, JSON jsonb and text,
//     a list (for anyOf) an array and a JSON array. The store's code passes
//     and scans time.Time, *time.Time, time.Duration, json.RawMessage and
//     []string / []int64, and never sees a stored form.
//   - dialect: the few SQL fragments the two spell differently.
//   - errors: isUnique, isForeignKey and isNoRows read both drivers'.
//
// What has no common form stays per database, in postgres*.go and
// sqlite*.go: opening, migrating, the bulk writes of a sync (COPY and
// multi-row inserts), change notification and SQLite's checkpoints.

// conn runs statements; see above.
type conn interface {
	exec(ctx context.Context, q string, args ...any) (int64, error)
	query(ctx context.Context, q string, args ...any) (rows, error)
	queryRow(ctx context.Context, q string, args ...any) row
}

// row is one result row.
type row interface{ Scan(dest ...any) error }

// rows iterates over results; Close may be called more than once.
type rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// dialect holds the SQL fragments the databases spell differently.
type dialect struct {
	// greatest names the function of the largest of its arguments.
	greatest string
	// anyOf is the condition "is one of the list bound to param" (a
	// []string or []int64 argument), to follow a column.
	anyOf func(param string) string
	// elements is a table of one column, value, holding the elements of
	// the list bound to param; pgType names their type in PostgreSQL.
	elements func(param, pgType string) string
	// lockRows is the locking clause of a SELECT in mode ("UPDATE",
	// "KEY SHARE", "UPDATE SKIP LOCKED" …), with a leading space:
	// PostgreSQL's row locks. SQLite has none (its one writer holds the
	// whole database): "".
	lockRows func(mode string) string
	// typed is param given the type pgType where PostgreSQL cannot infer
	// it from the statement (a parameter in a SELECT list); SQLite's
	// values carry their own types.
	typed func(param, pgType string) string
	// xactLock is a statement that locks the text bound to $1 until the
	// transaction ends, so that writers of one key take turns
	// (PostgreSQL: an advisory lock); empty in SQLite, whose write
	// transactions run one at a time.
	xactLock string
	// deliveryDuration names webhook_deliveries' duration column (SQLite's
	// name says its unit).
	deliveryDuration string
	// emptyList is the stored form of an empty list (hosts.groups) as a
	// literal, which a partial index names.
	emptyList string
	// byteOrder follows a text column of an ORDER BY to order it by bytes.
	byteOrder string
	// rowCompare is the condition "(a, b) op (pa, pb)" in lexical order,
	// op ">" or "<=", as each database's planner serves it from an index
	// on (a, b).
	rowCompare func(a, b, op, pa, pb string) string
	// wildcard is the operator and the pattern to bind that match a text
	// column against filter, in which '*' matches any run of characters.
	wildcard func(filter string) (op, pattern string)
	// varIs is the condition "the JSON object in column has a top-level
	// key whose value is the string value, or a number or boolean whose
	// JSON text is value", its arguments bound with arg.
	varIs func(column string, arg func(any) string, key, value string) string
}

var (
	sqliteDialect = dialect{
		greatest:         "max",
		anyOf:            func(p string) string { return "IN (SELECT value FROM json_each(" + p + "))" },
		elements:         func(p, _ string) string { return "json_each(" + p + ")" },
		lockRows:         func(string) string { return "" },
		typed:            func(p, _ string) string { return p },
		xactLock:         "",
		deliveryDuration: "duration_us",
		emptyList:        `'[]'`,
		rowCompare: func(a, b, op, pa, pb string) string {
			return "(" + a + " " + op[:1] + " " + pa + " OR (" + a + " = " + pa + " AND " + b + " " + op + " " + pb + "))"
		},
		wildcard: func(f string) (string, string) { return "GLOB", globPattern(f) },
		varIs:    sqliteVarIs,
	}
	postgresDialect = dialect{
		greatest:         "greatest",
		anyOf:            func(p string) string { return "= ANY(" + p + ")" },
		elements:         func(p, t string) string { return "unnest(" + p + "::" + t + "[]) AS l(value)" },
		lockRows:         func(mode string) string { return " FOR " + mode },
		typed:            func(p, t string) string { return p + "::" + t },
		xactLock:         `SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`,
		deliveryDuration: "duration",
		emptyList:        `'{}'`,
		byteOrder:        ` COLLATE "C"`,
		rowCompare: func(a, b, op, pa, pb string) string {
			return "(" + a + ", " + b + ") " + op + " (" + pa + ", " + pb + ")"
		},
		wildcard: func(f string) (string, string) { return "LIKE", likePattern(f) },
		varIs:    postgresVarIs,
	}
)

// db is the store's behaviour over one database.
type db struct {
	dialect
	// r serves reads, w writes (SQLite: a pool of read-only connections
	// and its one writer; PostgreSQL: both the pool).
	r, w conn
	// begin runs fn in a write transaction, snapshot in a read-only one
	// that sees one state of the database throughout.
	begin, snapshot func(ctx context.Context, fn func(conn) error) error
	now             func() time.Time
	audit           roster.AuditLimits
	onAudit         auditHook
}

func newDB(d dialect) db {
	return db{dialect: d, now: time.Now, audit: roster.AuditLimits{}.WithDefaults()}
}

// SetClock replaces the clock, for tests.
func (s *db) SetClock(now func() time.Time) { s.now = now }

// SetAuditLimits sets the bounds of refusals and failures in the audit log
// (zero fields: the defaults), before the store is used. Every process
// sharing a database should have the same.
func (s *db) SetAuditLimits(l roster.AuditLimits) { s.audit = l.WithDefaults() }

// OnAudit sets fn to be called with every audit record the store inserts,
// after it is committed, before the store is used (event forwarding). fn
// must not block.
func (s *db) OnAudit(fn func(*roster.AuditEvent)) { s.onAudit = auditHook{fn} }

// inTx runs fn in a write transaction.
func (s *db) inTx(ctx context.Context, fn func(conn) error) error { return s.begin(ctx, fn) }

// deleteByID deletes the row of table with id, the not-found error naming
// what when there is none.
func (s *db) deleteByID(ctx context.Context, table, what, id string) error {
	n, err := s.w.exec(ctx, `DELETE FROM `+table+` WHERE id = $1`, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return notFound(what, id)
	}
	return nil
}

// byIDOrName reads, with scan, the row of table (its columns cols) whose id
// is idOrName, else whose name is; not found names what.
func byIDOrName[T any](ctx context.Context, c conn, table, cols, what, idOrName string, scan func(row) (T, error)) (T, error) {
	v, err := scan(c.queryRow(ctx, `SELECT `+cols+` FROM `+table+` WHERE id = $1 OR name = $1 ORDER BY id = $1 DESC LIMIT 1`, idOrName))
	if err != nil {
		var none T
		if isNoRows(err) {
			err = notFound(what, idOrName)
		}
		return none, err
	}
	return v, nil
}

// scanAll scans every row with scan.
func scanAll[T any](rs rows, err error, scan func(row) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rs.Close()
	var out []T
	for rs.Next() {
		v, err := scan(rs)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rs.Err()
}

func isNoRows(err error) bool { return errors.Is(err, sql.ErrNoRows) }

// isUnique reports a unique-constraint violation of either database.
func isUnique(err error) bool { return sqliteIsUnique(err) || pgIsUnique(err) }

// isForeignKey reports a foreign-key violation of either database: a row
// that names a missing one, or (ON DELETE RESTRICT) a delete of a row
// still named.
func isForeignKey(err error) bool { return sqliteIsForeignKey(err) || pgIsForeignKey(err) }

var (
	errNullTime     = errors.New("a NULL time scanned into time.Time (scan into *time.Time)")
	errNullDuration = errors.New("a NULL duration scanned into time.Duration")
)

// storedTime is t as the store gives it back: UTC, to the microsecond.
// A method that writes a caller's time into the caller's struct uses it, so
// the struct equals what a read returns.
func storedTime(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

// rowInserter is what the conns of write transactions are too: they
// insert many rows at once, each database its fastest way (PostgreSQL
// copies them in, SQLite runs multi-row INSERTs under its limit of
// variables).
type rowInserter interface {
	// insertRows inserts n rows into table's columns cols, row(i) giving
	// the values of the i-th (Go values, as arguments of exec).
	insertRows(ctx context.Context, table string, cols []string, n int, row func(i int) ([]any, error)) error
}

// insertRows inserts n rows in c (a transaction's conn): see rowInserter.
func insertRows(ctx context.Context, c conn, table string, cols []string, n int, row func(i int) ([]any, error)) error {
	if n == 0 {
		return nil
	}
	return c.(rowInserter).insertRows(ctx, table, cols, n, row)
}

// isPrimaryKey reports a primary-key violation of either database (a
// unique violation too: isUnique also reports it).
func isPrimaryKey(err error) bool { return sqliteIsPrimaryKey(err) || pgIsPrimaryKey(err) }

// nullList is a nullable list of strings in one column: text[] in
// PostgreSQL, a JSON array (text) in SQLite. As an argument nil is NULL;
// scanned (*nullList), NULL is nil and any other value a list, empty but
// not nil when it holds nothing. (A []string argument is a list to match
// against, which SQLite never binds as NULL.)
type nullList []string

// sqliteVarIs is varIs of SQLite: a string's value, or a number's or
// boolean's JSON text (-> keeps a number's text as written: "1.50" stays
// "1.50").
func sqliteVarIs(column string, arg func(any) string, key, value string) string {
	path := arg(`$."` + key + `"`)
	return `CASE json_type(` + column + `, ` + path + `) WHEN 'text' THEN ` + column + ` ->> ` + path +
		` WHEN 'integer' THEN ` + column + ` -> ` + path + ` WHEN 'real' THEN ` + column + ` -> ` + path +
		` WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' END = ` + arg(value)
}

// postgresVarIs is varIs of PostgreSQL. The column is json, not jsonb:
// ->> gives a number's text as written, as SQLite's -> does.
func postgresVarIs(column string, arg func(any) string, key, value string) string {
	k := arg(key)
	return `json_typeof(` + column + ` -> ` + k + `) IN ('string', 'number', 'boolean') AND ` + column + ` ->> ` + k + ` = ` + arg(value)
}

// mapValues returns vals with each value f maps replaced by its mapping
// (f reports whether it maps one): vals itself when f maps none, else a
// copy, in *buf when buf is not nil (a Scan of every row reuses one).
// Each conn maps its arguments and scan destinations so.
func mapValues(buf *[]any, vals []any, f func(any) (any, bool)) []any {
	var out []any
	for i, v := range vals {
		m, ok := f(v)
		if !ok {
			continue
		}
		if out == nil {
			out = copyDests(buf, vals)
		}
		out[i] = m
	}
	if out == nil {
		return vals
	}
	return out
}

// copyDests copies dest into *buf (when buf is not nil), or a new slice.
func copyDests(buf *[]any, dest []any) []any {
	if buf == nil {
		return append([]any(nil), dest...)
	}
	*buf = append((*buf)[:0], dest...)
	return *buf
}
