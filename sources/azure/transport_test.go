package azure_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/syncer/syncertest"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/azure/azuresim"
)

// What the parent run of TestSyncThroughDefaultTransport tells its child.
const (
	simURLVar  = "ROSTER_TEST_AZURESIM_URL"
	simSubsVar = "ROSTER_TEST_AZURESIM_SUBSCRIPTIONS"
	wantVMsVar = "ROSTER_TEST_AZURESIM_VMS"
)

// TestSyncThroughDefaultTransport syncs with a Driver that sets nothing:
// the SDK's own transport, the service principal from AZURE_TENANT_ID,
// AZURE_CLIENT_ID and AZURE_CLIENT_SECRET, and the simulator's CA trusted
// through SSL_CERT_FILE, as `roster simulate azure` tells a user to. Go
// reads SSL_CERT_FILE once per process, so the sync runs in a child process
// started with it (and none of the other variables that choose CAs).
func TestSyncThroughDefaultTransport(t *testing.T) {
	if testenv.InChild(t) {
		cfg := simConfig(os.Getenv(simURLVar), strings.Split(os.Getenv(simSubsVar), ","), map[string]any{"plugin": "azure.azcollection.azure_rm"})
		h := syncertest.New(t, sources.NewRegistry(azure.Driver{}), discard(), "azure", "azure", cfg)
		wantStatus(t, h.Sync(), roster.SyncSucceeded)
		if got := strings.Join(sortedKeys(h.Hosts()), ","); got != os.Getenv(wantVMsVar) {
			t.Fatalf("synced VMs %s, want %s", got, os.Getenv(wantVMsVar))
		}
		return
	}
	sim, url := startSim(t, azuresim.Options{Seed: 23, Size: 40})
	ca := filepath.Join(t.TempDir(), "azuresim-ca.pem")
	must(t, os.WriteFile(ca, sim.CACertificatePEM(), 0o600))
	want := sortedKeys(fleetBy(sim, "", false))
	if len(want) == 0 {
		t.Fatal("the simulated fleet has no VMs")
	}
	testenv.RunInChild(t, "SSL_CERT_FILE="+ca,
		"AZURE_TENANT_ID="+sim.TenantID(), "AZURE_CLIENT_ID="+sim.ClientID(), "AZURE_CLIENT_SECRET="+sim.ClientSecret(),
		simURLVar+"="+url, simSubsVar+"="+strings.Join(sim.Fleet().Subscriptions(), ","), wantVMsVar+"="+strings.Join(want, ","))
}
