package store

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/testenv"
)

// migrationsBefore are the bodies of the migrations of dir numbered below
// version, in order.
func migrationsBefore(t *testing.T, files embed.FS, dir string, version int) map[int]string {
	t.Helper()
	names, err := fs.Glob(files, dir+"/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	out := map[int]string{}
	for _, name := range names {
		v, _ := strconv.Atoi(strings.SplitN(filepath.Base(name), "_", 2)[0])
		if v >= version {
			continue
		}
		b, err := files.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		out[v] = string(b)
	}
	return out
}

// The data of a database made before tokens had limits: two inventories,
// a runner that only read them, a runner with a grant, an operator.
const tokensBeforeLimits = `
INSERT INTO inventories (id, name, created_at, updated_at) VALUES ('inv-a', 'a', %[1]s, %[1]s), ('inv-b', 'b', %[1]s, %[1]s);
INSERT INTO tokens (id, name, role, hash, created_at) VALUES
  ('t-reader', 'reader', 'runner', 'h1', %[1]s),
  ('t-granted', 'granted', 'runner', 'h2', %[1]s),
  ('t-operator', 'operator', 'operator', 'h3', %[1]s);
INSERT INTO credentials (id, name, type, fields, secrets_set, path, version, created_at, updated_at)
  VALUES ('c-1', 'key', 'password', '{}', %[2]s, '', 1, %[1]s, %[1]s);
INSERT INTO grants (id, token_id, credential_id, inventory_id, created_at) VALUES ('g-1', 't-granted', 'c-1', 'inv-b', %[1]s);
`

// checkUpgradedTokens: a runner that held no grant keeps the inventories
// of the day (and no later one); one with grants and every other role keep
// no list, so the runner sees its grants' inventories only. Every token of
// the day is a service token (no user), and the grant is still there.
func checkUpgradedTokens(t *testing.T, s roster.Store) {
	t.Helper()
	ctx := t.Context()
	for name, want := range map[string][]string{"reader": {"inv-a", "inv-b"}, "granted": nil, "operator": nil} {
		tok, err := s.Token(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		got := slices.Clone(tok.Inventories)
		slices.Sort(got)
		if (got == nil) != (want == nil) || !slices.Equal(got, want) || tok.ReadOnly {
			t.Errorf("token %s after the upgrade: inventories %#v read-only %v, want %#v", name, tok.Inventories, tok.ReadOnly, want)
		}
		if tok.UserID != "" {
			t.Errorf("token %s after the upgrade belongs to user %q, want a service token", name, tok.UserID)
		}
	}
	grants, err := s.Grants(ctx, roster.GrantFilter{TokenID: "t-granted"})
	if err != nil {
		t.Fatal(err)
	}
	if len(grants) != 1 || grants[0].ID != "g-1" {
		t.Errorf("grants of t-granted after the upgrade: %+v", grants)
	}
}

func TestSQLiteUpgradeKeepsRunnersReading(t *testing.T) {
	path := filepath.Join(t.TempDir(), "roster.db")
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=foreign_keys(1)")
	if err != nil {
		t.Fatal(err)
	}
	old := migrationsBefore(t, sqliteMigrations, "migrations/sqlite", 11)
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := db.Exec(q, args...); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`)
	for v := 1; v < 11; v++ {
		if body, ok := old[v]; ok {
			exec(body)
			exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, 0)`, v)
		}
	}
	exec(fmt.Sprintf(tokensBeforeLimits, "0", "''"))
	db.Close()

	s, err := OpenSQLite(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkUpgradedTokens(t, s)
}

func TestPostgresUpgradeKeepsRunnersReading(t *testing.T) {
	pg := testenv.Postgres(t)
	dsn := pg.CreateDatabase(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	old := migrationsBefore(t, postgresMigrations, "migrations/postgres", 11)
	exec := func(q string) {
		t.Helper()
		if _, err := conn.Exec(ctx, q); err != nil {
			t.Fatalf("%v\n%s", err, q)
		}
	}
	exec(`CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`)
	for v := 1; v < 11; v++ {
		if body, ok := old[v]; ok {
			exec(body)
			exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (` + strconv.Itoa(v) + `, now())`)
		}
	}
	exec(fmt.Sprintf(tokensBeforeLimits, "now()", "'{}'"))
	conn.Close(ctx)

	s, err := OpenPostgres(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	checkUpgradedTokens(t, s)
}
