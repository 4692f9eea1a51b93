package store

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
)

// shippedMigrations lists every migration file that reached main, with its
// SHA-256 (sha256sum's format, paths under migrations/). A database records
// only a migration's number: editing a shipped file leaves the databases
// that ran the old text without the change, and nothing would tell. So a
// shipped file never changes; a change is a new migration.
const shippedMigrations = "testdata/migrations.sha256"

var updateShipped = flag.Bool("update-migrations", false, "add new migration files to "+shippedMigrations+" (never rewrites a listed one)")

func readShipped(t *testing.T) map[string]string {
	t.Helper()
	f, err := os.Open(shippedMigrations)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok || len(sum) != 64 {
			t.Fatalf("%s: bad line %q (want sha256sum's \"<hex>  <path>\")", shippedMigrations, sc.Text())
		}
		out[name] = sum
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// TestShippedMigrationsUnchanged fails when a migration listed in
// testdata/migrations.sha256 was edited or removed, and when a migration is
// missing from the list (go test ./internal/store -run
// TestShippedMigrationsUnchanged -update-migrations adds it).
//
// 0009_run_leases.sql is listed as it is today: 670f92b edited it (adding
// sync_runs.next_attempt) a few hours after 80139c8 added it, before this
// test existed. A database migrated by a build of that window records 9
// without the column; those were development builds of one day, so they
// are unsupported (README, "Upgrades") rather than repaired.
func TestShippedMigrationsUnchanged(t *testing.T) {
	shipped := readShipped(t)
	embeddedNow := map[string]string{}
	for dialect, list := range map[string]func() ([]Migration, error){"sqlite": SQLiteMigrations, "postgres": PostgresMigrations} {
		all, err := list()
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range all {
			sum := sha256.Sum256([]byte(m.SQL))
			embeddedNow[dialect+"/"+m.Name] = hex.EncodeToString(sum[:])
		}
	}
	for name, sum := range shipped {
		now, ok := embeddedNow[name]
		switch {
		case !ok:
			t.Errorf("shipped migration %s was removed: databases record it as applied; restore it", name)
		case now != sum:
			t.Errorf("shipped migration %s was edited (sha256 %s, shipped %s): databases that ran it will not run it again; "+
				"restore it and put the change in a new migration", name, now, sum)
		}
	}
	var added []string
	for name, sum := range embeddedNow {
		if _, ok := shipped[name]; !ok {
			added = append(added, fmt.Sprintf("%s  %s\n", sum, name))
		}
	}
	slices.Sort(added)
	if len(added) == 0 {
		return
	}
	if !*updateShipped {
		t.Fatalf("migrations not in %s (run this test with -update-migrations to add them):\n%s", shippedMigrations, strings.Join(added, ""))
	}
	f, err := os.OpenFile(shippedMigrations, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.WriteString(strings.Join(added, "")); err != nil {
		t.Fatal(err)
	}
}
