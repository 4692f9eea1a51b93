package store

import (
	"encoding/json"
	"slices"
	"testing"
	"time"
)

func TestRewritePlaceholders(t *testing.T) {
	for in, want := range map[string]string{
		`SELECT 1`:                                `SELECT 1`,
		`WHERE a = $1 AND b = $12`:                `WHERE a = ?1 AND b = ?12`,
		`SELECT '$1', "c$2", $3`:                  `SELECT '$1', "c$2", ?3`,
		`json_extract(v, '$.a') = $2`:             `json_extract(v, '$.a') = ?2`,
		`SELECT 'it''s $1' || $1`:                 `SELECT 'it''s $1' || ?1`,
		`INSERT INTO t VALUES ($1, $2), ($3, $4)`: `INSERT INTO t VALUES (?1, ?2), (?3, ?4)`,
		`SELECT $ FROM t`:                         `SELECT $ FROM t`,
	} {
		if got := rewritePlaceholders(in); got != want {
			t.Errorf("rewritePlaceholders(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSQLiteStoredForms(t *testing.T) {
	at := time.Date(2026, 12, 7, 10, 0, 0, 1500, time.FixedZone("x", 3600))
	var nilTime *time.Time
	args := []any{"a", at, &at, nilTime, 2 * time.Second, json.RawMessage(`{"a":1}`), json.RawMessage(nil), []string{"x"}, []int64(nil)}
	got := sqliteArgs(args)
	want := []any{"a", at.UnixMicro(), at.UnixMicro(), nil, int64(2_000_000), `{"a":1}`, nil, `["x"]`, `[]`}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("argument %d (%T) stored as %#v, want %#v", i, args[i], got[i], want[i])
		}
	}
	if args[1] != any(at) {
		t.Error("sqliteArgs changed its argument slice")
	}

	var tm time.Time
	var ptm *time.Time
	var d time.Duration
	var j json.RawMessage
	dests := sqliteDests([]any{&tm, &ptm, &d, &j})
	for i, src := range []any{at.UnixMicro(), at.UnixMicro(), int64(-1), `[1]`} {
		if err := dests[i].(interface{ Scan(any) error }).Scan(src); err != nil {
			t.Fatal(err)
		}
	}
	if !tm.Equal(at.Truncate(time.Microsecond)) || tm.Location() != time.UTC || ptm == nil || !ptm.Equal(tm) {
		t.Errorf("times scanned as %v, %v", tm, ptm)
	}
	if d >= 0 || string(j) != `[1]` {
		t.Errorf("duration %v (want the negative marker), JSON %s", d, j)
	}
}

// TestSQLiteListScans: a list written as a []string (a JSON array in
// SQLite) scans back into a *[]string, as PostgreSQL's arrays do.
func TestSQLiteListScans(t *testing.T) {
	for src, want := range map[any][]string{`["b","a"]`: {"b", "a"}, `[]`: {}, nil: nil} {
		got := []string{"stale"}
		if err := sqliteDests([]any{&got})[0].(interface{ Scan(any) error }).Scan(src); err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) || (got == nil) != (want == nil) {
			t.Errorf("%v scanned as %#v, want %#v", src, got, want)
		}
	}
	var l []string
	if err := sqliteDests([]any{&l})[0].(interface{ Scan(any) error }).Scan(int64(1)); err == nil {
		t.Error("an integer scanned as a list")
	}
}
