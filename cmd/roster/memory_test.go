package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster/sources/azure/azuresim"
	"github.com/rosterhq/roster/sources/openstack/openstacksim"

	"github.com/rosterhq/roster/internal/client"
	"github.com/rosterhq/roster/internal/testenv"
)

// memoryHosts is the fleet TestSyncMemoryIsBounded syncs: 20,000 in CI,
// ROSTER_MEMORY_HOSTS=100000 for the scale target.
var memoryHosts = envInt("ROSTER_MEMORY_HOSTS", 20_000)

// syncMemoryBudget is the most a full sync of hosts machines of a cloud
// may raise a server's peak RSS.
//
// AWS, GCP and OpenStack stream: 128 MiB and 1.75 KiB a host, so that at
// 100,000 hosts the whole server stays within issue 14's 400 MB.
// Measured: AWS on SQLite +110 MiB at 19,490 hosts and +210 MiB at 97,487
// (before the sync kept its hosts' bodies on disk, +181 and +681 MiB;
// before paging, +395 and +1,606), AWS on PostgreSQL +208 MiB at 97,487,
// GCP +173 MiB at 100,000, OpenStack +75 and +140 MiB at 19,533 and
// 97,594 (+163 and +713 before its raw pages were kept on disk). What
// still grows with the fleet is a few hundred bytes a host: its name, id
// and hash (BENCHMARKS.md, "Memory").
//
// Azure joins a subscription's VMs with its NICs and public IPs, held in
// memory while the VMs stream, and misses that target: its budget guards
// today's figures against regressions. Measured: +164 MiB at 20,000 VMs
// and +559 MiB at 100,000 (+283 and +1,205 when the VMs were held too).
func syncMemoryBudget(cloud string, hosts int) int64 {
	if cloud == "azure" {
		return 128<<20 + int64(hosts)*7<<10
	}
	return 128<<20 + int64(hosts)*1792
}

// TestSyncMemoryIsBounded runs a full sync of memoryHosts machines of
// each cloud in a real `roster serve` (the cloud's simulator in a process
// of its own, `roster simulate`) and reads the server's peak RSS (VmHWM)
// before and after: what the sync adds must stay within the budget. AWS
// runs on SQLite and on PostgreSQL.
func TestSyncMemoryIsBounded(t *testing.T) {
	bin := buildBinary(t, "./cmd/roster", t.TempDir())
	for _, tc := range []struct {
		name, cloud string
		postgres    bool
	}{
		{"aws", "aws", false},
		{"aws-postgres", "aws", true},
		{"gcp", "gcp", false},
		{"azure", "azure", false},
		{"openstack", "openstack", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := t.TempDir() + "/roster.db"
			if tc.postgres {
				db = testenv.Postgres(t).CreateDatabase(t)
			}
			syncWithinMemoryBudget(t, bin, db, simulateCloud(t, bin, tc.cloud, memoryHosts))
		})
	}
}

// simulatedCloud is a cloud simulator process and how a source syncs it.
type simulatedCloud struct {
	provider   string
	config     map[string]any
	credential map[string]any // POST /credentials; nil: none
	env        []string       // the server's environment
}

// simulateCloud starts `roster simulate CLOUD` with size machines.
func simulateCloud(t *testing.T, bin, cloud string, size int) simulatedCloud {
	t.Helper()
	dir := t.TempDir()
	start := func(args ...string) string {
		cmd := exec.Command(bin, append([]string{"simulate", cloud, "--listen", "127.0.0.1:0", "--size", fmt.Sprint(size)}, args...)...)
		cmd.Dir = dir
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
		line, err := bufio.NewReader(stdout).ReadString('\n')
		if err != nil {
			t.Fatalf("%s simulator: %v", cloud, err)
		}
		go io.Copy(io.Discard, stdout)
		i := strings.LastIndex(line, " at ")
		if i < 0 {
			t.Fatalf("%s simulator said %q", cloud, line)
		}
		return strings.TrimSpace(line[i+4:])
	}
	switch cloud {
	case "aws":
		// The same simulator simProcess starts, from the binary built here.
		return simulatedCloud{provider: "aws", config: benchConfig(start("--regions", benchRegions)),
			env: []string{"AWS_ACCESS_KEY_ID=" + simAccessKey, "AWS_SECRET_ACCESS_KEY=" + simSecretKey, "AWS_EC2_METADATA_DISABLED=true"}}
	case "gcp":
		projects := []any{"roster-prod", "roster-staging", "roster-dev", "roster-data"}
		url := start("--projects", "roster-prod,roster-staging,roster-dev,roster-data", "--key-file", "key.json")
		key, err := os.ReadFile(filepath.Join(dir, "key.json"))
		if err != nil {
			t.Fatal(err)
		}
		return simulatedCloud{provider: "gcp",
			config: map[string]any{"projects": projects, "endpoint_url": url, "hostnames": []any{"name"},
				"keyed_groups": []any{map[string]any{"prefix": "gcp", "key": "labels"}, map[string]any{"prefix": "zone", "key": "zone"}},
				"compose":      map[string]any{"ansible_host": "networkInterfaces[0].networkIP"}},
			credential: map[string]any{"type": "gcp", "fields": map[string]any{"service_account_json": string(key)}}}
	case "azure":
		subs := []any{"3f1c2a5e-0000-4000-8000-00000000a001", "3f1c2a5e-0000-4000-8000-00000000a002", "3f1c2a5e-0000-4000-8000-00000000a003", "3f1c2a5e-0000-4000-8000-00000000a004"}
		var list []string
		for _, s := range subs {
			list = append(list, s.(string))
		}
		url := start("--subscriptions", strings.Join(list, ","), "--scale-sets", "0", "--ca-file", "ca.pem")
		// As the simulator tells its users: the server trusts its CA.
		return simulatedCloud{provider: "azure",
			config: map[string]any{"subscriptions": subs, "authority_host": url, "arm_endpoint": url,
				"keyed_groups":       []any{map[string]any{"prefix": "azure_loc", "key": "location"}, map[string]any{"prefix": "azure_os", "key": "os_profile.system"}},
				"conditional_groups": map[string]any{"azure_running": "powerstate == 'running'"}},
			credential: map[string]any{"type": "azure", "fields": map[string]any{"tenant_id": azuresim.DefaultTenantID, "client_id": azuresim.DefaultClientID, "client_secret": azuresim.DefaultClientSecret}},
			env:        []string{"SSL_CERT_FILE=" + filepath.Join(dir, "ca.pem")}}
	case "openstack":
		url := start("--projects", "demo", "--regions", "RegionOne,RegionTwo,RegionThree,RegionFour")
		return simulatedCloud{provider: "openstack",
			config: map[string]any{"projects": []any{"demo"}, "legacy_groups": false,
				"keyed_groups": []any{map[string]any{"prefix": "os_region", "key": "openstack.cloud.region"}, map[string]any{"prefix": "flavor", "key": "openstack.flavor.name"}}},
			credential: map[string]any{"type": "openstack", "fields": map[string]any{
				"auth_url": openstacksim.AuthURL(url), "username": openstacksim.DefaultUser, "password": openstacksim.DefaultPassword,
				"user_domain_name": "Default", "project_name": "demo", "project_domain_name": "Default"}}}
	}
	t.Fatalf("no simulator for %s", cloud)
	return simulatedCloud{}
}

func syncWithinMemoryBudget(t *testing.T, bin, db string, cloud simulatedCloud) {
	admin := adminToken(t, bin, "--database", db)
	env := cloud.env
	// ROSTER_MEMORY_TRACE=1: the collector's trace in the server's log,
	// shown at the end, and the peak RSS at each poll of the run.
	trace := os.Getenv("ROSTER_MEMORY_TRACE") != ""
	if trace {
		env = append(env, "GODEBUG=gctrace=1")
	}
	node := startNode(t, bin, "node", db, env,
		"--sync-timeout", "10m", "--sync-timeout-max", "10m")
	if trace {
		t.Cleanup(func() { b, _ := os.ReadFile(node.log); t.Log(string(b)) })
	}
	api := client.New(node.url, admin)
	call := func(method, path string, body, out any) {
		t.Helper()
		if err := api.Do(t.Context(), method, path, body, out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	call("POST", "/inventories", map[string]any{"name": "fleet"}, nil)
	source := map[string]any{"name": "fleet", "provider": cloud.provider, "config": cloud.config}
	if cloud.credential != nil {
		cloud.credential["name"] = "sim"
		call("POST", "/credentials", cloud.credential, nil)
		source["credential"] = "sim"
	}
	var src struct{ ID string }
	call("POST", "/inventories/fleet/sources", source, &src)
	before := testenv.PeakRSS(t, node.cmd.Process.Pid)
	var run struct {
		ID, Status, Error string
		Counts            struct{ Added int }
	}
	call("POST", "/sources/"+src.ID+"/syncs", nil, &run)
	for deadline := time.Now().Add(10 * time.Minute); run.Status != "succeeded"; time.Sleep(200 * time.Millisecond) {
		if run.Status == "failed" || run.Status == "partial" || time.Now().After(deadline) {
			t.Fatalf("sync %s: %s", run.Status, run.Error)
		}
		call("GET", "/syncs/"+run.ID, nil, &run)
		if trace {
			t.Logf("%s: peak RSS %d MiB", run.Status, testenv.PeakRSS(t, node.cmd.Process.Pid)>>20)
		}
	}
	after := testenv.PeakRSS(t, node.cmd.Process.Pid)
	budget := syncMemoryBudget(cloud.provider, memoryHosts)
	t.Logf("%d hosts: peak RSS %d MiB before the sync, %d MiB after (+%d MiB; budget +%d MiB)",
		run.Counts.Added, before>>20, after>>20, (after-before)>>20, budget>>20)
	if run.Counts.Added < memoryHosts*9/10 {
		t.Fatalf("the sync added %d hosts of %d", run.Counts.Added, memoryHosts)
	}
	if after-before > budget {
		t.Fatalf("a sync of %d hosts raised the server's peak RSS by %d MiB, over its budget of %d MiB", run.Counts.Added, (after-before)>>20, budget>>20)
	}
}
