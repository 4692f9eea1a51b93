package aws_test

import (
	"encoding/pem"
	"io"
	"log"
	"log/slog"
	"maps"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/syncer/syncertest"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

var syncRegions = []string{"us-east-1", "eu-west-1"}

const syncKey = "AKIDDEFAULTTRANSPORT"

func newSim() *awssim.Server {
	return awssim.New(awssim.Options{Seed: 4, Size: 80, Regions: syncRegions, AccessKeys: []string{syncKey}})
}

// newHarness is a source syncing the simulator at url with the default
// Driver (no HTTPClient: the provider builds what a user gets) and the
// simulator's key.
func newHarness(t *testing.T, url string, d aws.Driver) *syncertest.Harness {
	t.Helper()
	// A user's shared config is not this machine's: its ca_bundle would
	// make the SDK build an HTTP client and hide a missing one.
	empty := filepath.Join(t.TempDir(), "empty")
	if err := os.WriteFile(empty, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CONFIG_FILE", empty)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", empty)
	d.Credentials = credentials.NewStaticCredentialsProvider(syncKey, "secret", "")
	return syncertest.New(t, sources.NewRegistry(d), slog.New(slog.NewTextHandler(io.Discard, nil)), "aws", "ec2",
		map[string]any{"plugin": "amazon.aws.aws_ec2", "regions": []any{syncRegions[0], syncRegions[1]}, "endpoint_url": url})
}

func wantSucceeded(t *testing.T, run *roster.SyncRun) {
	t.Helper()
	if run.Status != roster.SyncSucceeded {
		t.Fatalf("sync %s: %s; scopes %+v", run.Status, run.Error, run.Scopes)
	}
}

// TestSyncThroughDefaultTransport: TestMain keeps AWS_CA_BUNDLE out of the
// environment. With it, the SDK builds an HTTP client while loading the
// config; without it, as on most users' machines, the provider once wrapped
// a nil client and panicked in every region.
func TestSyncThroughDefaultTransport(t *testing.T) {
	sim := newSim()
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	h := newHarness(t, srv.URL, aws.Driver{})
	wantSucceeded(t, h.Sync())

	var want []string
	for _, inst := range sim.Fleet().Instances() {
		if inst.State != "terminated" && inst.State != "shutting-down" {
			want = append(want, inst.ID)
		}
	}
	got := slices.Collect(maps.Keys(h.Hosts()))
	slices.Sort(want)
	slices.Sort(got)
	if len(want) == 0 || !slices.Equal(got, want) {
		t.Fatalf("synced hosts %v, want the fleet's live instances %v", got, want)
	}
}

// TestCABundleStillApplies: the provider wraps the SDK's client after the
// config is loaded, so AWS_CA_BUNDLE, the SDK's way to trust a private CA,
// still works.
func TestCABundleStillApplies(t *testing.T) {
	srv := httptest.NewUnstartedServer(newSim())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes
	srv.StartTLS()
	t.Cleanup(srv.Close)
	h := newHarness(t, srv.URL, aws.Driver{MaxAttempts: 1})
	if run := h.Sync(); run.Status != roster.SyncFailed || !strings.Contains(run.Error, "certificate signed by unknown authority") {
		t.Fatalf("an untrusted server's sync %s (%s); want failed for its certificate", run.Status, run.Error)
	}

	bundle := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(bundle, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("AWS_CA_BUNDLE", bundle)
	wantSucceeded(t, h.Sync())
}
