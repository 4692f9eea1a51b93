package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/vault"
)

// backupFleet is the size of the backup test's EC2 fleet.
const backupFleet = 20_000

// TestBackupDuringSync: `roster backup` processes copy the SQLite database
// of a `roster serve` process over and over while it syncs 20,000 hosts
// (the fleet changed since its last finished run). Each archive restored
// into a new data directory and served gives the inventory of the last
// run finished when it was taken, never a half-written one; a run caught
// running is recorded failed with the backup's reason. The source's
// credential, sealed by the local backend, still opens with the key (given
// apart, or carried wrapped under a passphrase): the restored server
// syncs with it. A wrong key, a database in place and a damaged archive
// are refused.
func TestBackupDuringSync(t *testing.T) {
	if testing.Short() {
		t.Skip("syncs 20,000 hosts and runs several roster serve processes")
	}
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	sim := awssim.New(awssim.Options{Seed: 22, Size: backupFleet, Regions: []string{"us-east-1", "eu-west-1"}, AccessKeys: []string{simAccessKey}})
	simSrv := httptest.NewServer(sim)
	t.Cleanup(simSrv.Close)

	dir := t.TempDir()
	db := filepath.Join(dir, "roster.db")
	keyFile := filepath.Join(dir, "secret.key")
	serveArgs := func(dataDir string) []string {
		return []string{"--secret-key-file", filepath.Join(dataDir, "secret.key"), "--sync-timeout", "5m", "--sync-timeout-max", "5m"}
	}
	token := adminToken(t, bin, "--database", db)
	// No cloud credentials in the servers' environment: the sealed
	// credential is the only way into the simulator.
	src := startNode(t, bin, "source", db, nil, serveArgs(dir)...)
	api := client.New(src.url, token)
	sourceID := createSealedSource(t, api, simSrv.URL)
	// The local SSH CA's key is sealed at a reserved path, the first by
	// name: restore must open it, not refuse the right key.
	var ca struct {
		PublicKey string `json:"public_key"`
	}
	if code := call(t, api, "POST", "/credentials", map[string]any{"name": "ca", "type": "ssh_certificate", "fields": map[string]string{"username": "deploy"}}, nil); code != 201 {
		t.Fatalf("POST /credentials (ssh_certificate): %d", code)
	}
	if code := call(t, api, "GET", "/credentials/ca/ssh/ca", nil, &ca); code != 200 || ca.PublicKey == "" {
		t.Fatalf("GET /credentials/ca/ssh/ca: %d %+v", code, ca)
	}
	first := syncWhile(t, api, sourceID, nil)
	docA := inventoryDocument(t, src.url, token)

	// The fleet changes; the next run is slowed so that backups catch it.
	changeFleet(t, sim, 1500, 1500, 1000)
	sim.SetFaults(awssim.Faults{Latency: 250 * time.Millisecond, Ops: []string{"DescribeInstances"}})
	var archives []string
	takeBackup := func(extra ...string) string {
		t.Helper()
		to := filepath.Join(dir, fmt.Sprintf("backup-%02d.tar.gz", len(archives)))
		cmd := exec.Command(bin, append([]string{"backup", "--database", db, "--secret-key-file", keyFile, "--to", to}, extra...)...)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("roster backup: %v\n%s", err, out)
		}
		archives = append(archives, to)
		return to
	}
	second := syncWhile(t, api, sourceID, func() { takeBackup(); time.Sleep(200 * time.Millisecond) })
	docB := inventoryDocument(t, src.url, token)
	if reflect.DeepEqual(docA, docB) {
		t.Fatal("the second run changed nothing: the test shows nothing")
	}
	passphrase := filepath.Join(t.TempDir(), "passphrase")
	must(t, os.WriteFile(passphrase, []byte("correct horse battery staple\n"), 0o600))
	afterwards := takeBackup("--include-key", "--passphrase-file", passphrase)

	// Every archive holds one run's hosts whole: the first's while the
	// second runs, the second's once it finished.
	hostsA := first.Counts["added"]
	hostsB := hostsA + second.Counts["added"] - second.Counts["removed"]
	var caught string // an archive taken while the second run was running
	for _, a := range archives {
		m := readManifest(t, a)
		want := hostsB
		if m.RunningRuns > 0 {
			want = hostsA
			if caught == "" {
				caught = a
			}
		}
		fi, err := os.Stat(a)
		must(t, err)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s has mode %04o, want 0600", a, fi.Mode().Perm())
		}
		if m.Hosts != want || len(m.SecretKeyIDs) != 1 {
			t.Fatalf("%s (%d runs running): %d hosts, secret keys %v; want %d hosts, one key", a, m.RunningRuns, m.Hosts, m.SecretKeyIDs, want)
		}
	}
	if caught == "" {
		t.Fatalf("none of the %d backups caught the second run running", len(archives))
	}
	t.Logf("%d backups during a run of %d hosts; first run %s, second %s", len(archives), backupFleet, first.ID, second.ID)
	sim.SetFaults(awssim.Faults{})

	t.Run("a backup taken mid-run restores the last finished run", func(t *testing.T) {
		keyCopy := filepath.Join(t.TempDir(), "secret.key")
		b, err := os.ReadFile(keyFile)
		must(t, err)
		must(t, os.WriteFile(keyCopy, b, 0o600))
		to := filepath.Join(t.TempDir(), "data")
		restoreCLI(t, bin, "--from", caught, "--data-dir", to, "--key-from", keyCopy)
		n := startNode(t, bin, "restored", filepath.Join(to, "roster.db"), nil, serveArgs(to)...)
		restored := client.New(n.url, token)
		if doc := inventoryDocument(t, n.url, token); !reflect.DeepEqual(doc, docA) {
			t.Fatal("the restored inventory is not the first run's")
		}
		var run syncView
		call(t, restored, "GET", "/syncs/"+second.ID, nil, &run)
		if run.Status != roster.SyncFailed || run.Error != runningAtBackupReason {
			t.Fatalf("the run caught running is %s %q, want failed %q", run.Status, run.Error, runningAtBackupReason)
		}
		// The sealed credential opens: the restored server syncs with it.
		syncWhile(t, restored, sourceID, nil)
		if doc := inventoryDocument(t, n.url, token); !reflect.DeepEqual(doc, docB) {
			t.Fatal("after a sync the restored inventory is not the fleet's")
		}
	})

	t.Run("a backup carrying its key wrapped restores with the passphrase", func(t *testing.T) {
		to := filepath.Join(t.TempDir(), "data")
		restoreCLI(t, bin, "--from", afterwards, "--data-dir", to, "--passphrase-file", passphrase)
		fi, err := os.Stat(filepath.Join(to, "secret.key"))
		must(t, err)
		if fi.Mode().Perm() != 0o600 {
			t.Fatalf("the restored key file has mode %04o", fi.Mode().Perm())
		}
		n := startNode(t, bin, "restored", filepath.Join(to, "roster.db"), nil, serveArgs(to)...)
		restored := client.New(n.url, token)
		if doc := inventoryDocument(t, n.url, token); !reflect.DeepEqual(doc, docB) {
			t.Fatal("the restored inventory is not the second run's")
		}
		syncWhile(t, restored, sourceID, nil)
	})

	t.Run("--force replaces a database in place", func(t *testing.T) {
		to := filepath.Join(t.TempDir(), "data")
		restoreCLI(t, bin, "--from", caught, "--data-dir", to, "--key-from", keyFile)
		restoreCLI(t, bin, "--from", afterwards, "--data-dir", to, "--passphrase-file", passphrase, "--force")
		entries, err := os.ReadDir(to)
		must(t, err)
		for _, e := range entries {
			if strings.Contains(e.Name(), ".restoring") {
				t.Fatalf("the restore left %s beside the database", e.Name())
			}
		}
		n := startNode(t, bin, "forced", filepath.Join(to, "roster.db"), nil, serveArgs(to)...)
		if doc := inventoryDocument(t, n.url, token); !reflect.DeepEqual(doc, docB) {
			t.Fatal("the database restored with --force is not the second run's")
		}
	})

	t.Run("refusals", func(t *testing.T) {
		other, err := vault.GenerateLocalKey()
		must(t, err)
		wrongKey := filepath.Join(t.TempDir(), "other.key")
		must(t, vault.WriteKeyFile(wrongKey, other))
		damaged := filepath.Join(t.TempDir(), "damaged.tar.gz")
		b, err := os.ReadFile(afterwards)
		must(t, err)
		must(t, os.WriteFile(damaged, b[:len(b)/2], 0o600))
		taken := t.TempDir()
		must(t, os.WriteFile(filepath.Join(taken, "roster.db"), []byte("in place"), 0o600))
		twice := filepath.Join(t.TempDir(), "twice.tar.gz")
		withSecondManifest(t, caught, twice)
		for _, tc := range []struct {
			name string
			args []string
			want string
		}{
			{"wrong key", []string{"--from", caught, "--key-from", wrongKey}, "the key " + other.ID() + " is not the one the backup's secrets are sealed with"},
			{"no key", []string{"--from", caught}, "give that key with --key-from"},
			{"wrong passphrase", []string{"--from", afterwards, "--passphrase-file", wrongKey}, "the passphrase does not open the wrapped key"},
			{"damaged archive", []string{"--from", damaged, "--key-from", keyFile}, "is cut short or damaged"},
			{"a second manifest", []string{"--from", twice, "--key-from", keyFile}, `holds "MANIFEST.json" twice`},
			{"a database in place", []string{"--from", caught, "--key-from", keyFile, "--data-dir", taken}, "roster.db exists: restore into a new data directory, or give --force"},
		} {
			args := append([]string{"restore", "--data-dir", filepath.Join(t.TempDir(), "data")}, tc.args...)
			out, err := exec.Command(bin, args...).CombinedOutput()
			if err == nil || !strings.Contains(string(out), tc.want) {
				t.Errorf("%s: err %v, output %q, want %q", tc.name, err, out, tc.want)
			}
		}
		// The database in place is as it was, and nothing is left beside it.
		if b, err := os.ReadFile(filepath.Join(taken, "roster.db")); err != nil || string(b) != "in place" {
			t.Errorf("the database in place was changed: %q, %v", b, err)
		}
		entries, err := os.ReadDir(taken)
		must(t, err)
		for _, e := range entries {
			if e.Name() != "roster.db" && e.Name() != "roster.db.lock" {
				t.Errorf("a refused restore left %s", e.Name())
			}
		}
	})
}

// createSealedSource creates, through api, the prod inventory and its
// source syncing the EC2 simulator at simURL with a credential the broker
// holds (sealed, with the local backend), and returns the source's id.
func createSealedSource(t *testing.T, api *client.Client, simURL string) string {
	t.Helper()
	var created struct {
		ID string `json:"id"`
	}
	for _, req := range []struct {
		path string
		body map[string]any
	}{
		{"/credentials", map[string]any{"name": "aws", "type": "aws", "fields": map[string]string{"access_key_id": simAccessKey, "secret_access_key": simSecretKey}}},
		{"/inventories", map[string]any{"name": "prod"}},
		{"/inventories/prod/sources", map[string]any{"name": "ec2", "provider": "aws", "credential": "aws", "on_missing": "remove",
			"config": map[string]any{"regions": []string{"us-east-1", "eu-west-1"}, "endpoint_url": simURL, "hostnames": []any{"tag:Name", "instance-id"},
				"keyed_groups": []any{map[string]any{"prefix": "tag", "key": "tags"}}}}},
	} {
		if code := call(t, api, "POST", req.path, req.body, &created); code != 201 {
			t.Fatalf("POST %s: %d", req.path, code)
		}
	}
	return created.ID
}

// changeFleet terminates, renames and adds instances of the simulator's
// fleet, so that the next sync changes the inventory.
func changeFleet(t *testing.T, sim *awssim.Server, terminate, rename, add int) {
	t.Helper()
	for i, inst := range sim.Fleet().Instances()[:terminate+rename] {
		if i < terminate {
			must(t, sim.Fleet().Terminate(inst.ID))
		} else {
			must(t, sim.Fleet().SetTag(inst.ID, "Name", fmt.Sprintf("renamed-%d", i)))
		}
	}
	for i := range add {
		_, err := sim.Fleet().Add([]string{"us-east-1", "eu-west-1"}[i%2], map[string]string{"Name": fmt.Sprintf("added-%d", i)})
		must(t, err)
	}
}

// syncView is a sync run as the API shows it.
type syncView struct {
	ID     string            `json:"id"`
	Status roster.SyncStatus `json:"status"`
	Error  string            `json:"error"`
	Counts map[string]int    `json:"counts"`
}

// syncWhile asks for a sync of the source and waits for it to succeed,
// calling meanwhile (if not nil) between looks while it runs.
func syncWhile(t *testing.T, api *client.Client, source string, meanwhile func()) syncView {
	t.Helper()
	var run syncView
	// 200: a run of the source is queued already (on a restored server,
	// the retry of the run the backup caught running): that one is
	// followed.
	if code := call(t, api, "POST", "/sources/"+source+"/syncs", nil, &run); code != 202 && code != 200 {
		t.Fatalf("sync %s: %d", source, code)
	}
	for deadline := time.Now().Add(3 * time.Minute); !run.Status.Done(); {
		if time.Now().After(deadline) {
			t.Fatalf("the sync did not finish: %s", run.Status)
		}
		if meanwhile != nil && run.Status == roster.SyncRunning {
			meanwhile()
		} else {
			time.Sleep(100 * time.Millisecond)
		}
		call(t, api, "GET", "/syncs/"+run.ID, nil, &run)
	}
	if run.Status != roster.SyncSucceeded {
		t.Fatalf("sync %s: %s %q", source, run.Status, run.Error)
	}
	return run
}

// inventoryDocument is the prod inventory's Ansible document, decoded.
func inventoryDocument(t *testing.T, base string, token roster.Secret) any {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, base+"/api/v1/inventories/prod/ansible", nil)
	must(t, err)
	req.Header.Set("Authorization", "Bearer "+token.Reveal())
	resp, err := http.DefaultClient.Do(req)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET the inventory document: %s\n%s", resp.Status, b)
	}
	var doc any
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatalf("the inventory document (%d bytes): %v", len(b), err)
	}
	return doc
}

// restoreCLI runs `roster restore` with args, which must succeed.
func restoreCLI(t *testing.T, bin string, args ...string) {
	t.Helper()
	out, err := exec.Command(bin, append([]string{"restore"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("roster restore %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	t.Logf("roster restore: %s", out)
}

// readManifest reads an archive's manifest.
func readManifest(t *testing.T, path string) backupManifest {
	t.Helper()
	f, err := os.Open(path)
	must(t, err)
	defer f.Close()
	zr, err := gzip.NewReader(f)
	must(t, err)
	tr := tar.NewReader(zr)
	h, err := tr.Next()
	must(t, err)
	if h.Name != backupManifestName {
		t.Fatalf("%s starts with %s", path, h.Name)
	}
	var m backupManifest
	must(t, json.NewDecoder(tr).Decode(&m))
	return m
}

// withSecondManifest copies the archive src to dst with its manifest
// again at the end, as a crafted archive would carry one that replaces
// the manifest the database is checked against.
func withSecondManifest(t *testing.T, src, dst string) {
	t.Helper()
	in, err := os.Open(src)
	must(t, err)
	defer in.Close()
	gz, err := gzip.NewReader(in)
	must(t, err)
	out, err := os.Create(dst)
	must(t, err)
	defer out.Close()
	zw := gzip.NewWriter(out)
	tw := tar.NewWriter(zw)
	tr := tar.NewReader(gz)
	var manifest []byte
	var manifestHeader *tar.Header
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		must(t, err)
		b, err := io.ReadAll(tr)
		must(t, err)
		if h.Name == "MANIFEST.json" {
			manifest, manifestHeader = b, h
		}
		must(t, tw.WriteHeader(h))
		_, err = tw.Write(b)
		must(t, err)
	}
	if manifestHeader == nil {
		t.Fatal("the archive has no manifest")
	}
	must(t, tw.WriteHeader(manifestHeader))
	_, err = tw.Write(manifest)
	must(t, err)
	must(t, tw.Close())
	must(t, zw.Close())
}
