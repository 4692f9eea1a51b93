package main

import (
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/jobs"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// The upgrade fixture: a database made by roster at commit 3b6f642, the
// oldest schema this repository shipped (scripts/make-upgrade-fixture.sh
// rebuilds it), and what that roster served from it.
const upgradeFixture = "testdata/upgrade/schema-0001"

// fileState is a file's bytes' digest plus the names in its directory
// (a -wal or -shm file would show):
// what a command that changes nothing leaves as it was.
func fileState(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(filepath.Dir(path))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		// serve takes its lock (a file of its own) before it opens the
		// database; the lock file changes nothing of the database.
		if !strings.HasSuffix(e.Name(), ".lock") {
			names = append(names, e.Name())
		}
	}
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:]) + " " + strings.Join(names, ",")
}

// runRoster runs the roster binary bin and returns its combined output and
// error, failing the test if it takes longer than 30 s.
func runRoster(t *testing.T, bin string, env []string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), bin, args...)
	cmd.Env = append(os.Environ(), env...)
	cmd.WaitDelay = time.Second
	done := make(chan struct{})
	timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill(); close(done) })
	out, err := cmd.CombinedOutput()
	if !timer.Stop() {
		<-done
		t.Fatalf("roster %s did not finish in 30 s:\n%s", strings.Join(args, " "), out)
	}
	return string(out), err
}

// TestUpgradeFromOldestSchema upgrades a database of the first schema
// with today's binary: --dry-run lists every migration and changes
// nothing; migrate applies them; serve serves the old inventory as the old
// roster did, the old token still authenticates, the old run is listed, and
// a sync of the same fleet matches the old hosts by instance id.
func TestUpgradeFromOldestSchema(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	dir := t.TempDir()
	db := filepath.Join(dir, "roster.db")
	copyFile(t, upgradeFixture+".db", db)

	before := fileState(t, db)
	out, err := runRoster(t, bin, nil, "migrate", "--dry-run", "--database", db)
	if err != nil {
		t.Fatalf("migrate --dry-run: %v\n%s", err, out)
	}
	want := []string{"schema 1, job queue schema none", "nothing was changed (--dry-run)"}
	all, err := store.SQLiteMigrations()
	must(t, err)
	for _, m := range all[1:] {
		want = append(want, "  schema "+m.Name+"\n")
	}
	for v := 1; v <= jobs.SchemaVersion(); v++ {
		want = append(want, fmt.Sprintf("  job queue (River) %03d ", v))
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("migrate --dry-run does not say %q:\n%s", w, out)
		}
	}
	if strings.Contains(out, "0001_init.sql") {
		t.Errorf("migrate --dry-run lists the applied 0001:\n%s", out)
	}
	if after := fileState(t, db); after != before {
		t.Fatalf("migrate --dry-run changed the database or its directory: %s → %s", before, after)
	}

	out, err = runRoster(t, bin, nil, "migrate", "--database", db)
	if err != nil || !strings.Contains(out, "is up to date") {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	out, err = runRoster(t, bin, nil, "migrate", "--dry-run", "--database", db)
	if err != nil || !strings.Contains(out, "up to date: nothing to do") {
		t.Fatalf("migrate --dry-run after migrate: %v\n%s", err, out)
	}

	sim := awssim.New(awssim.Options{Seed: 1, Size: 50, Regions: []string{"us-east-1", "us-west-2", "eu-west-1", "ap-southeast-2"}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	env := []string{"ROSTER_SECRET_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32)),
		"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey}
	node := startNode(t, bin, "upgraded", db, env)
	token, err := os.ReadFile(upgradeFixture + ".token")
	must(t, err)
	api := client.New(node.url, roster.Secret(strings.TrimSpace(string(token))))

	wantDoc, err := os.ReadFile(upgradeFixture + ".ansible.json")
	must(t, err)
	var doc json.RawMessage
	must(t, api.Do(t.Context(), "GET", "/inventories/demo/ansible", nil, &doc))
	if !jsonEqual(doc, wantDoc) {
		t.Fatalf("the upgraded inventory differs from what roster 3b6f642 served:\n%s", tail(string(doc), 2000))
	}

	type run struct {
		ID       string            `json:"id"`
		SourceID string            `json:"source_id"`
		Status   string            `json:"status"`
		Counts   roster.SyncCounts `json:"counts"`
	}
	var oldRuns struct{ Items []run }
	b, err := os.ReadFile(upgradeFixture + ".runs.json")
	must(t, err)
	must(t, json.Unmarshal(b, &oldRuns))
	if len(oldRuns.Items) != 1 {
		t.Fatalf("fixture runs: %d, want 1", len(oldRuns.Items))
	}
	old := oldRuns.Items[0]
	var runs struct{ Items []run }
	must(t, api.Do(t.Context(), "GET", "/sources/"+old.SourceID+"/syncs", nil, &runs))
	if len(runs.Items) != 1 || runs.Items[0].ID != old.ID || runs.Items[0].Status != "succeeded" || runs.Items[0].Counts != old.Counts {
		t.Fatalf("runs after the upgrade: %+v, want the fixture's %+v", runs.Items, old)
	}

	// The demo's simulator is gone: point the source at one with the same
	// fleet and sync. Hosts are matched by instance id, so none is added
	// or removed.
	must(t, api.Do(t.Context(), "PATCH", "/sources/"+old.SourceID, map[string]any{"config": map[string]any{"endpoint_url": simSrv.URL}}, nil))
	var sync run
	must(t, api.Do(t.Context(), "POST", "/sources/"+old.SourceID+"/syncs", nil, &sync))
	waitFor(t, func() bool {
		must(t, api.Do(t.Context(), "GET", "/syncs/"+sync.ID, nil, &sync))
		return sync.Status != "queued" && sync.Status != "running"
	}, "the sync after the upgrade")
	if sync.Status != "succeeded" || sync.Counts.Added != 0 || sync.Counts.Removed != 0 || sync.Counts.Seen != old.Counts.Seen {
		t.Fatalf("sync after the upgrade: %s %+v, want succeeded with the old hosts matched (%+v)", sync.Status, sync.Counts, old.Counts)
	}
}

// TestRefuseNewerSchemaSQLite: a database a newer roster upgraded (a store
// or a River version this binary does not know) is refused by serve,
// migrate, migrate --dry-run and a command that opens the store, quickly,
// with both versions named, and left as it was.
func TestRefuseNewerSchemaSQLite(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	serve := []string{"serve", "--listen", freeAddr(t)}
	for _, bump := range []struct {
		name, sql, want string
		refusing        [][]string // commands that must refuse
	}{
		{"store", `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`,
			"has store schema version 9999, newer than this roster binary (it knows store schema versions up to " + strconv.Itoa(store.SchemaVersion()) + ")",
			[][]string{serve, {"migrate"}, {"migrate", "--dry-run"}, {"token", "list"}}},
		// The job queue's tables are River's: only what opens the queue
		// reads them (token list does not).
		{"river", `INSERT INTO river_migration (line, version, created_at) VALUES ('main', 999, 0)`,
			"has job queue (River) schema version 999, newer than this roster binary (it knows job queue (River) schema versions up to " + strconv.Itoa(jobs.SchemaVersion()) + ")",
			[][]string{serve, {"migrate"}, {"migrate", "--dry-run"}}},
	} {
		t.Run(bump.name, func(t *testing.T) {
			dir := t.TempDir()
			db := filepath.Join(dir, "roster.db")
			if out, err := runRoster(t, bin, nil, "migrate", "--database", db); err != nil {
				t.Fatalf("migrate: %v\n%s", err, out)
			}
			sqlDB, err := sql.Open("sqlite", db)
			must(t, err)
			_, err = sqlDB.Exec(bump.sql)
			must(t, err)
			must(t, sqlDB.Close())
			before := fileState(t, db)
			for _, args := range bump.refusing {
				start := time.Now()
				out, err := runRoster(t, bin, []string{"ROSTER_SECRET_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))},
					append(args, "--database", db, "--data-dir", dir)...)
				if err == nil || !strings.Contains(out, bump.want) || !strings.Contains(out, "database "+db) {
					t.Errorf("roster %s on a newer database: %v\n%s\nwant %q", strings.Join(args, " "), err, out, bump.want)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("roster %s took %s to refuse", args[0], d)
				}
			}
			if after := fileState(t, db); after != before {
				t.Errorf("the refused database changed: %s → %s", before, after)
			}
		})
	}
}

// TestRefuseNewerSchemaCluster: on PostgreSQL (after --dry-run's own
// checks there), node A serves; a newer
// roster bumps the schema; node B refuses to start, naming both versions;
// A, which checked at its start, keeps serving.
func TestRefuseNewerSchemaCluster(t *testing.T) {
	pg := testenv.Postgres(t)
	dsn := pg.CreateDatabase(t)
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	env := []string{"ROSTER_SECRET_KEY=" + base64.StdEncoding.EncodeToString(make([]byte, 32))}
	// --dry-run on an empty database lists everything and creates nothing.
	empty := pg.CreateDatabase(t)
	out, err := runRoster(t, bin, nil, "migrate", "--dry-run", "--database", empty)
	if err != nil || !strings.Contains(out, "schema none, job queue schema none") || !strings.Contains(out, "  schema 0001_init.sql\n") ||
		!strings.Contains(out, fmt.Sprintf("  job queue (River) %03d ", jobs.SchemaVersion())) {
		t.Fatalf("migrate --dry-run on an empty PostgreSQL database: %v\n%s", err, out)
	}
	if tables := pg.Psql(t, empty, `SELECT count(*) FROM pg_tables WHERE schemaname = 'public'`); strings.TrimSpace(tables) != "0" {
		t.Fatalf("migrate --dry-run created %s tables", tables)
	}

	a := startNode(t, bin, "nodeA", dsn, env)
	token := adminToken(t, bin, "--database", dsn)
	if out, err := runRoster(t, bin, nil, "migrate", "--dry-run", "--database", dsn); err != nil || !strings.Contains(out, "up to date: nothing to do") {
		t.Fatalf("migrate --dry-run on node A's database: %v\n%s", err, out)
	}

	for _, bump := range []struct{ name, sql, undo, want string }{
		{"store", `INSERT INTO schema_migrations (version, applied_at) VALUES (9999, now())`, `DELETE FROM schema_migrations WHERE version = 9999`,
			"has store schema version 9999, newer than this roster binary (it knows store schema versions up to " + strconv.Itoa(store.SchemaVersion()) + ")"},
		{"river", `INSERT INTO river_migration (line, version) VALUES ('main', 999)`, `DELETE FROM river_migration WHERE version = 999`,
			"has job queue (River) schema version 999, newer than this roster binary (it knows job queue (River) schema versions up to " + strconv.Itoa(jobs.SchemaVersion()) + ")"},
	} {
		t.Run(bump.name, func(t *testing.T) {
			pg.Psql(t, dsn, bump.sql)
			defer pg.Psql(t, dsn, bump.undo)
			for _, args := range [][]string{{"serve", "--listen", freeAddr(t)}, {"migrate"}, {"migrate", "--dry-run"}} {
				start := time.Now()
				out, err := runRoster(t, bin, env, append(args, "--database", dsn, "--data-dir", t.TempDir())...)
				if err == nil || !strings.Contains(out, bump.want) || !strings.Contains(out, "database postgres://") {
					t.Errorf("node B: roster %s on a newer database: %v\n%s\nwant %q", strings.Join(args, " "), err, out, bump.want)
				}
				if d := time.Since(start); d > 5*time.Second {
					t.Errorf("node B: roster %s took %s to refuse", args[0], d)
				}
			}
			resp, err := http.Get(a.url + "/readyz")
			must(t, err)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("node A /readyz: %d", resp.StatusCode)
			}
			must(t, client.New(a.url, token).Do(t.Context(), "POST", "/inventories", map[string]any{"name": "after-" + bump.name}, nil))
		})
	}
}
