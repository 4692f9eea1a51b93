package main

import (
	"crypto/rand"
	"encoding/base64"
	"net/http/httptest"
	"os"
	"os/exec"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// TestPostgresDumpRestore runs the README's PostgreSQL backup recipe, word
// for word: pg_dump of a database served by `roster serve` in the middle
// of a sync, pg_restore into a new database, `roster serve` on it with the
// same key. It serves the inventory of the last run finished before the
// dump; the run the dump caught running is failed once its lease ends and
// retried, with the credential sealed in the dump: the key opens it.
func TestPostgresDumpRestore(t *testing.T) {
	if testing.Short() {
		t.Skip("runs PostgreSQL and roster serve processes")
	}
	dump, restore := readmeRecipe(t)
	pg := testenv.Postgres(t)
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	sim := awssim.New(awssim.Options{Seed: 23, Size: 2000, Regions: []string{"us-east-1", "eu-west-1"}, AccessKeys: []string{simAccessKey}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)
	key := make([]byte, 32)
	rand.Read(key)
	env := []string{"ROSTER_SECRET_KEY=" + base64.StdEncoding.EncodeToString(key)}
	// A short lease: the restored servers fail the run the dump caught
	// running seconds after they start.
	args := []string{"--sync-lease", "3s", "--sync-timeout", "2m", "--sync-timeout-max", "2m"}

	from := pg.CreateDatabase(t)
	token := adminToken(t, bin, "--database", from)
	src := startNode(t, bin, "source", from, env, args...)
	api := client.New(src.url, token)
	sourceID := createSealedSource(t, api, simSrv.URL)
	syncWhile(t, api, sourceID, nil)
	docA := inventoryDocument(t, src.url, token)

	changeFleet(t, sim, 200, 200, 100)
	sim.SetFaults(awssim.Faults{Latency: 2 * time.Second, Ops: []string{"DescribeInstances"}})
	work, dumped := t.TempDir(), false
	caught := syncWhile(t, api, sourceID, func() {
		if !dumped {
			runRecipe(t, pg, work, dump, from, "")
			dumped = true
		}
	})
	sim.SetFaults(awssim.Faults{})
	docB := inventoryDocument(t, src.url, token)
	if reflect.DeepEqual(docA, docB) {
		t.Fatal("the second run changed nothing: the test shows nothing")
	}

	to := pg.CreateDatabase(t)
	runRecipe(t, pg, work, restore, from, to)
	n := startNode(t, bin, "restored", to, env, args...)
	restored := client.New(n.url, token)
	if doc := inventoryDocument(t, n.url, token); !reflect.DeepEqual(doc, docA) {
		t.Fatal("the restored database does not serve the inventory of the run finished before the dump")
	}
	// The caught run fails when its lease ends; its retry syncs with the
	// sealed credential, and brings the fleet's changes.
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		var run, retry syncView
		call(t, restored, "GET", "/syncs/"+caught.ID, nil, &run)
		var runs struct {
			Items []syncView `json:"items"`
		}
		call(t, restored, "GET", "/sources/"+sourceID+"/syncs", nil, &runs)
		if len(runs.Items) > 0 {
			retry = runs.Items[0]
		}
		if run.Status == roster.SyncSucceeded {
			t.Fatal("the run caught running by the dump is recorded succeeded")
		}
		if run.Status == roster.SyncFailed && retry.ID != caught.ID && retry.Status == roster.SyncSucceeded {
			break
		}
		if retry.Status == roster.SyncFailed && retry.ID != caught.ID {
			t.Fatalf("the retry on the restored database failed: %s", retry.Error)
		}
		if time.Now().After(deadline) {
			t.Fatalf("on the restored database: caught run %s %q, newest run %s %s", run.Status, run.Error, retry.ID, retry.Status)
		}
	}
	if doc := inventoryDocument(t, n.url, token); !reflect.DeepEqual(doc, docB) {
		t.Fatal("after the retry the restored inventory is not the fleet's")
	}
}

// readmeRecipe returns the README's pg_dump and pg_restore commands.
func readmeRecipe(t *testing.T) (dump, restore string) {
	t.Helper()
	readme, err := os.ReadFile("../../README.md")
	must(t, err)
	for _, b := range shellBlocks(string(readme)) {
		for _, c := range b.commands {
			switch {
			case strings.HasPrefix(c, "pg_dump "):
				dump = c
			case strings.HasPrefix(c, "pg_restore "):
				restore = c
			}
		}
	}
	if dump == "" || restore == "" {
		t.Fatal("README.md has no pg_dump and pg_restore recipe")
	}
	return dump, restore
}

// runRecipe runs a command of the recipe in dir, with
// the server's PostgreSQL tools first on PATH, ROSTER_DATABASE the
// database served and NEW_DATABASE the one restored into.
func runRecipe(t *testing.T, pg *testenv.PostgresServer, dir, command, database, newDatabase string) {
	t.Helper()
	cmd := exec.Command("bash", "-euo", "pipefail", "-c", command)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "PATH="+pg.BinDir+":"+os.Getenv("PATH"), "ROSTER_DATABASE="+database, "NEW_DATABASE="+newDatabase)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", command, err, out)
	}
}
