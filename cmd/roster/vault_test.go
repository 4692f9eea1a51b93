package main

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/vault/vaulttest"
)

// vaultMain runs Roster on a real Vault, logging in with AppRole from files.
func vaultMain(t testing.TB, setup *vaulttest.Setup) *Main {
	t.Helper()
	c := defaultConfig()
	c.Listen, c.DataDir = "127.0.0.1:0", t.TempDir()
	c.Database = filepath.Join(c.DataDir, "roster.db")
	c.SecretBackend, c.VaultAddr = "vault", setup.Server.Addr
	c.VaultKVMount, c.VaultKVPrefix, c.VaultSSHMount, c.VaultAppRoleMount = setup.KVMount, setup.PathPrefix, setup.SSHMount, setup.AppRoleMount
	c.VaultRoleIDFile, c.VaultSecretIDFile = filepath.Join(c.DataDir, "role-id"), filepath.Join(c.DataDir, "secret-id")
	must(t, os.WriteFile(c.VaultRoleIDFile, []byte(setup.RoleID), 0o600))
	must(t, os.WriteFile(c.VaultSecretIDFile, []byte(setup.SecretID), 0o600))
	m := &Main{Config: c, Log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	if err := m.Run(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestBrokerFailsClosedAndRecovers: with Vault sealed or stopped, the
// broker answers 503 with a clear problem within 2 s and changes nothing;
// once Vault is back, it serves again by itself.
func TestBrokerFailsClosedAndRecovers(t *testing.T) {
	srv := testenv.Vault(t)
	setup := vaulttest.Configure(t, srv, vaulttest.Options{})
	m := vaultMain(t, setup)
	adminValue, hash := roster.NewTokenValue()
	must(t, m.Store.CreateToken(t.Context(), &roster.Token{Name: "admin", Role: roster.RoleAdmin}, hash))
	admin := client.New(m.URL, adminValue)
	runnerValue, hash := roster.NewTokenValue()
	must(t, m.Store.CreateToken(t.Context(), &roster.Token{Name: "runner", Role: roster.RoleRunner}, hash))
	runner := client.New(m.URL, runnerValue)

	must(t, admin.Do(t.Context(), "POST", "/inventories", map[string]any{"name": "prod"}, nil))
	must(t, admin.Do(t.Context(), "POST", "/credentials", map[string]any{"name": "db", "type": "password",
		"fields": map[string]string{"username": "app", "password": "S3CR3T-db-password"}}, nil))
	must(t, admin.Do(t.Context(), "POST", "/grants", map[string]string{"token": "runner", "credential": "db", "inventory": "prod"}, nil))
	issue := func() (int, error, time.Duration) {
		start := time.Now()
		var out struct {
			Fields map[string]string `json:"fields"`
		}
		status, err := runner.Call(t.Context(), "POST", "/credentials/db/issue", map[string]any{"inventory": "prod"}, &out)
		if err == nil && out.Fields["password"] != "S3CR3T-db-password" {
			t.Fatalf("issued %v", out.Fields)
		}
		return status, err, time.Since(start)
	}
	if status, err, _ := issue(); err != nil || status != http.StatusOK {
		t.Fatalf("issue with Vault up: %d %v", status, err)
	}

	unavailable := func(what string, want string) {
		t.Helper()
		status, err, took := issue()
		var apiErr *client.Error
		if status != http.StatusServiceUnavailable || !errors.As(err, &apiErr) || apiErr.Code != roster.EUNAVAILABLE || !strings.Contains(err.Error(), want) {
			t.Fatalf("%s: issue answered %d %v, want 503 mentioning %q", what, status, err, want)
		}
		if took > 2500*time.Millisecond {
			t.Fatalf("%s: the 503 took %s, want about 2 s at most", what, took)
		}
		// Nothing changes while Vault is away: a new credential is refused.
		status, _ = admin.Call(t.Context(), "POST", "/credentials", map[string]any{"name": "new", "type": "token", "fields": map[string]string{"token": "t"}}, nil)
		if status != http.StatusServiceUnavailable {
			t.Fatalf("%s: create answered %d, want 503", what, status)
		}
		if _, err := m.Store.Credential(t.Context(), "new"); roster.ErrorCode(err) != roster.ENOTFOUND {
			t.Fatalf("%s: a credential was created without its secrets (%v)", what, err)
		}
	}

	// A source syncing with a brokered AWS credential: the simulator
	// accepts only the credential's key.
	sim := awssim.New(awssim.Options{Seed: 31, Size: 40, Regions: []string{"us-east-1"}, AccessKeys: []string{"AKIDBROKERED"}})
	simURL, stopSim, err := sim.Start(t.Context(), "127.0.0.1:0")
	must(t, err)
	defer stopSim()
	must(t, admin.Do(t.Context(), "POST", "/credentials", map[string]any{"name": "aws-sim", "type": "aws",
		"fields": map[string]string{"access_key_id": "AKIDBROKERED", "secret_access_key": "S3CR3T-aws-secret"}}, nil))
	var src struct{ ID string }
	must(t, admin.Do(t.Context(), "POST", "/inventories/prod/sources", map[string]any{"name": "ec2", "provider": "aws", "credential": "aws-sim",
		"config": map[string]any{"regions": []string{"us-east-1"}, "endpoint_url": simURL}}, &src))
	sync := func() roster.SyncRun {
		t.Helper()
		s, err := m.Store.Source(t.Context(), src.ID)
		must(t, err)
		run, _, err := m.Engine.Inline().Trigger(t.Context(), s, roster.TriggerAPI)
		must(t, err)
		m.Engine.Run(t.Context(), run, nil)
		got, err := m.Store.SyncRun(t.Context(), run.ID)
		must(t, err)
		return *got
	}
	if run := sync(); run.Status != roster.SyncSucceeded || run.Counts.Added == 0 {
		t.Fatalf("sync with the brokered credential: %s %q %+v", run.Status, run.Error, run.Counts)
	}
	hostsBefore, _, err := m.Store.Hosts(t.Context(), roster.HostFilter{InventoryID: run0Inventory(t, m), Limit: 1000})
	must(t, err)

	srv.Seal(t)
	unavailable("sealed", "sealed")
	if run := sync(); run.Status != roster.SyncFailed || !strings.Contains(run.Error, "sealed") {
		t.Fatalf("sync with Vault sealed: %s %q, want failed naming the seal", run.Status, run.Error)
	}
	hostsAfter, _, err := m.Store.Hosts(t.Context(), roster.HostFilter{InventoryID: run0Inventory(t, m), Limit: 1000})
	must(t, err)
	if len(hostsAfter) != len(hostsBefore) {
		t.Fatalf("a sync that could not get its credential changed hosts: %d → %d", len(hostsBefore), len(hostsAfter))
	}
	srv.Unseal(t)
	waitFor(t, func() bool { s, err, _ := issue(); return err == nil && s == http.StatusOK }, "the broker to serve again after unseal")
	if run := sync(); run.Status != roster.SyncSucceeded {
		t.Fatalf("sync after unseal: %s %q", run.Status, run.Error)
	}

	// The audit log says what happened, without the secret.
	var audit struct {
		Items []struct{ Action, Outcome, Reason string }
	}
	must(t, admin.Do(t.Context(), "GET", "/audit?action=credential.issue&limit=100", nil, &audit))
	var failed bool
	for _, e := range audit.Items {
		failed = failed || (e.Outcome == "failed" && strings.Contains(e.Reason, "sealed"))
	}
	if !failed {
		t.Fatalf("no failed issuance naming the seal in the audit log: %+v", audit.Items)
	}
	raw, _, _ := m.Store.AuditEvents(t.Context(), roster.AuditFilter{Limit: 1000})
	for _, e := range raw {
		for _, v := range e.Details {
			if strings.Contains(v, "S3CR3T") {
				t.Fatal("a secret is in the audit log")
			}
		}
	}

	srv.Stop()
	unavailable("stopped", "unreachable")
}

func run0Inventory(t *testing.T, m *Main) string {
	t.Helper()
	inv, err := m.Store.Inventory(t.Context(), "prod")
	must(t, err)
	return inv.ID
}

func waitFor(t *testing.T, ok func() bool, what string) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !ok(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
