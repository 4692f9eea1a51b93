package syncer_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/internal/syncer/syncertest"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/aws"
	"github.com/rosterhq/roster/sources/aws/awssim"
	"github.com/rosterhq/roster/sources/construct"
)

var fleetRegions = []string{"us-east-1", "eu-west-1", "ap-southeast-2"}

// env is one engine over a real SQLite store, syncing from a real EC2
// simulator through the real AWS SDK.
type env struct {
	*syncertest.Harness
	sim *awssim.Server
}

func newEnv(t *testing.T, size int, config map[string]any) *env {
	t.Helper()
	return newEnvWithLimits(t, size, config, construct.Limits{})
}

// newEnvWithLimits is newEnv with the given expression limits (zero
// fields: the defaults).
func newEnvWithLimits(t *testing.T, size int, config map[string]any, limits construct.Limits) *env {
	t.Helper()
	sim := awssim.New(awssim.Options{Seed: 7, Size: size, Regions: fleetRegions})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	reg := sources.NewRegistry(aws.Driver{
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		MaxBackoff:  20 * time.Millisecond,
	}).WithLimits(limits)
	cfg := map[string]any{"regions": toAny(fleetRegions), "endpoint_url": srv.URL}
	for k, v := range config {
		cfg[k] = v
	}
	return &env{Harness: syncertest.New(t, reg, slog.New(slog.DiscardHandler), "aws", "ec2", cfg), sim: sim}
}

func toAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// expected lists the fleet's instances the plugin's default state filter
// keeps: everything but terminated and shutting-down.
func (e *env) expected() map[string]awssim.InstanceInfo {
	out := map[string]awssim.InstanceInfo{}
	for _, i := range e.sim.Fleet().Instances() {
		if i.State != "terminated" && i.State != "shutting-down" {
			out[i.ID] = i
		}
	}
	return out
}

func wantStatus(t *testing.T, run *roster.SyncRun, status roster.SyncStatus) {
	t.Helper()
	if run.Status != status {
		t.Fatalf("run status = %s (error %q, scopes %+v), want %s", run.Status, run.Error, run.Scopes, status)
	}
}

// TestOptionsWithNoEffectAreWarnedOnEveryRun: a pasted plugin file's
// cache and strict_permissions settings are accepted, and each run says
// they have no effect, before the per-host warnings.
func TestOptionsWithNoEffectAreWarnedOnEveryRun(t *testing.T) {
	e := newEnv(t, 20, map[string]any{"cache": true, "cache_plugin": "jsonfile", "strict_permissions": false})
	for range 2 {
		run := e.Sync()
		wantStatus(t, run, roster.SyncSucceeded)
		want := []string{"option cache has no effect: ", "option cache_plugin has no effect: ", "option strict_permissions has no effect: "}
		if len(run.Warnings) < len(want) {
			t.Fatalf("warnings %q, want the options' first", run.Warnings)
		}
		for i, w := range want {
			if !strings.HasPrefix(run.Warnings[i], w) {
				t.Fatalf("warning %d = %q, want %q...", i, run.Warnings[i], w)
			}
		}
	}
}

func TestFirstSyncAddsEveryInstanceThenResyncWritesNothing(t *testing.T) {
	e := newEnv(t, 600, nil)
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	want := e.expected()
	hosts := e.Hosts()
	if len(hosts) != len(want) || run.Counts.Added != len(want) || run.Counts.Seen != len(want) {
		t.Fatalf("synced %d hosts (counts %+v), want %d", len(hosts), run.Counts, len(want))
	}
	for id, inst := range want {
		h := hosts[id]
		if h == nil {
			t.Fatalf("instance %s missing", id)
		}
		if h.Scope != inst.Region || h.Enabled != (inst.State == "running") {
			t.Fatalf("host %s: scope %s enabled %v; instance %s %s", id, h.Scope, h.Enabled, inst.Region, inst.State)
		}
		var vars map[string]any
		must(t, json.Unmarshal(h.Vars, &vars))
		if vars["instance_id"] != id || vars["placement"].(map[string]any)["region"] != inst.Region || !slices.Contains(h.Groups, "aws_ec2") {
			t.Fatalf("host %s vars/groups wrong: groups %v, placement %v", id, h.Groups, vars["placement"])
		}
	}
	if len(run.Scopes) != 3 {
		t.Fatalf("scopes = %+v", run.Scopes)
	}
	for _, s := range run.Scopes {
		if s.Status != roster.ScopeSucceeded || s.Hosts == 0 {
			t.Fatalf("scope %+v", s)
		}
	}

	before := e.HostWrites()
	again := e.Sync()
	wantStatus(t, again, roster.SyncSucceeded)
	if c := again.Counts; c.Unchanged != len(want) || c.Added+c.Updated+c.Removed+c.Disabled != 0 {
		t.Fatalf("unchanged re-sync counts = %+v", c)
	}
	if after := e.HostWrites(); after != before {
		t.Fatalf("an unchanged re-sync wrote host rows: %s → %s", before, after)
	}
}

func TestRenameIsAnUpdateAndTerminatedIsRemoved(t *testing.T) {
	e := newEnv(t, 200, map[string]any{"hostnames": []any{"tag:Name", "instance-id"}})
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	var renamed, gone string
	for id, inst := range e.expected() {
		if inst.Name == "" || inst.State != "running" {
			continue
		}
		switch {
		case renamed == "":
			renamed = id
		case gone == "":
			gone = id
		}
	}
	must(t, e.sim.Fleet().SetTag(renamed, "Name", "renamed-host"))
	must(t, e.sim.Fleet().Terminate(gone))
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Updated != 1 || run.Counts.Removed != 1 || run.Counts.Added != 0 {
		t.Fatalf("counts = %+v, want 1 updated and 1 removed", run.Counts)
	}
	after := e.Hosts()
	if h := after[renamed]; h == nil || h.Name != "renamed-host" || h.ID != before[renamed].ID || !h.FirstSeen.Equal(before[renamed].FirstSeen) {
		t.Fatalf("renamed host = %+v, want the same host (id %d) renamed", h, before[renamed].ID)
	}
	if _, ok := after[gone]; ok {
		t.Fatalf("terminated instance %s is still a host", gone)
	}
}

func TestDisablePolicyKeepsVanishedHostsDisabled(t *testing.T) {
	e := newEnv(t, 100, nil)
	disable := roster.OnMissingDisable
	src, err := e.Store.UpdateSource(t.Context(), e.Src.ID, roster.SourceUpdate{OnMissing: &disable})
	must(t, err)
	e.Src = src
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	var gone string
	for id, inst := range e.expected() {
		if inst.State == "running" {
			gone = id
			break
		}
	}
	must(t, e.sim.Fleet().Remove(gone))
	run := e.Sync()
	if run.Counts.Disabled != 1 || run.Counts.Removed != 0 {
		t.Fatalf("counts = %+v, want 1 disabled", run.Counts)
	}
	h := e.Hosts()[gone]
	if h == nil || h.Enabled || !h.Missing {
		t.Fatalf("vanished host = %+v, want kept, disabled and missing", h)
	}
	if run := e.Sync(); run.Counts.Disabled != 0 || run.Counts.Unchanged != len(e.expected()) {
		t.Fatalf("a still-missing host was disabled again: %+v", run.Counts)
	}
}

func TestFailedRegionKeepsItsHostsAndMarksRunPartial(t *testing.T) {
	e := newEnv(t, 300, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()

	e.sim.SetFaults(awssim.Faults{DenyScopes: []string{"eu-west-1"}})
	// Change an instance in the failing region and one elsewhere.
	var inEU, inUS string
	for id, inst := range e.expected() {
		switch {
		case inst.Region == "eu-west-1" && inEU == "":
			inEU = id
		case inst.Region == "us-east-1" && inUS == "":
			inUS = id
		}
	}
	must(t, e.sim.Fleet().Remove(inEU))
	must(t, e.sim.Fleet().Remove(inUS))
	run := e.Sync()
	wantStatus(t, run, roster.SyncPartial)
	after := e.Hosts()
	if _, ok := after[inEU]; !ok {
		t.Fatal("a host of the failed region was removed")
	}
	if _, ok := after[inUS]; ok {
		t.Fatal("a vanished host of a healthy region was kept")
	}
	for id, h := range before {
		if h.Scope == "eu-west-1" && after[id].Hash != h.Hash {
			t.Fatalf("host %s of the failed region changed", id)
		}
	}
	for _, s := range run.Scopes {
		if s.Name == "eu-west-1" && (s.Status != roster.ScopeFailed || !strings.Contains(s.Error, "UnauthorizedOperation")) {
			t.Fatalf("failed scope recorded as %+v", s)
		}
	}
}

func TestEveryRegionFailingChangesNothing(t *testing.T) {
	e := newEnv(t, 100, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.HostWrites()
	e.sim.SetFaults(awssim.Faults{DenyScopes: fleetRegions})
	run := e.Sync()
	wantStatus(t, run, roster.SyncFailed)
	if !strings.Contains(run.Error, "every scope failed") {
		t.Fatalf("error = %q", run.Error)
	}
	if after := e.HostWrites(); after != before {
		t.Fatal("a failed sync changed hosts")
	}
}

func TestFailureMidPaginationWritesNothingOfThatRegion(t *testing.T) {
	e := newEnv(t, 3000, nil) // about 1000 per region: some need a second page
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.Hosts()
	removed := map[string]string{} // region → a removed instance
	for _, inst := range e.expected() {
		if removed[inst.Region] == "" {
			removed[inst.Region] = inst.ID
			must(t, e.sim.Fleet().Remove(inst.ID))
		}
	}
	e.sim.SetFaults(awssim.Faults{FailAfterPage: 1})
	run := e.Sync()
	after := e.Hosts()
	failed := 0
	for _, s := range run.Scopes {
		_, kept := after[removed[s.Name]]
		switch s.Status {
		case roster.ScopeFailed:
			failed++
			if !kept {
				t.Errorf("region %s failed on a later page, yet its vanished host was removed", s.Name)
			}
			for id, h := range before {
				if h.Scope == s.Name && (after[id] == nil || after[id].Hash != h.Hash) {
					t.Fatalf("host %s of failed region %s changed", id, s.Name)
				}
			}
		case roster.ScopeSucceeded:
			if kept {
				t.Errorf("region %s succeeded, yet its vanished host was kept", s.Name)
			}
		}
	}
	if failed == 0 {
		t.Fatalf("no region needed a second page: the test proves nothing (%+v)", run.Scopes)
	}
}

func TestThrottlingAndServerErrorsAreRetried(t *testing.T) {
	e := newEnv(t, 300, nil)
	e.sim.SetFaults(awssim.Faults{ThrottleEvery: 2, ErrorEvery: 5, Ops: []string{"DescribeInstances"}})
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Added != len(e.expected()) {
		t.Fatalf("added %d, want %d", run.Counts.Added, len(e.expected()))
	}
	stats := e.sim.Stats()
	if stats.Faulted("DescribeInstances", "") == 0 {
		t.Fatal("no fault was injected: the test proves nothing")
	}
}

func TestFiltersIncludeAndExclude(t *testing.T) {
	e := newEnv(t, 400, map[string]any{
		"filters":         map[string]any{"tag:Env": "prod"},
		"include_filters": []any{map[string]any{"tag:Role": []any{"db"}}},
		"exclude_filters": []any{map[string]any{"instance-state-name": "stopped"}},
	})
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	want := 0
	for _, inst := range e.expected() {
		env, _ := inst.Tag("Env")
		role, _ := inst.Tag("Role")
		if (env == "prod" || role == "db") && inst.State != "stopped" {
			want++
		}
	}
	if want == 0 || run.Counts.Added != want {
		t.Fatalf("added %d, want %d (prod or db, not stopped)", run.Counts.Added, want)
	}
	for _, h := range e.Hosts() {
		var vars struct {
			Tags  map[string]string     `json:"tags"`
			State struct{ Name string } `json:"state"`
		}
		must(t, json.Unmarshal(h.Vars, &vars))
		if (vars.Tags["Env"] != "prod" && vars.Tags["Role"] != "db") || vars.State.Name == "stopped" {
			t.Fatalf("host %s should have been filtered out: %v %s", h.Name, vars.Tags, vars.State.Name)
		}
	}
}

func TestHostnameFallbackIsExplicit(t *testing.T) {
	e := newEnv(t, 300, map[string]any{"hostnames": []any{"tag:Name"}})
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	var unnamed int
	for id, inst := range e.expected() {
		if inst.Name == "" {
			unnamed++
			if h := e.Hosts()[id]; h == nil || h.Name != id {
				t.Fatalf("instance %s without a Name tag: host %+v, want it named by its id", id, h)
			}
		}
	}
	if unnamed == 0 {
		t.Fatal("the fleet has no instance without a Name tag: the test proves nothing")
	}
	if !slices.ContainsFunc(run.Warnings, func(w string) bool { return strings.Contains(w, "no hostnames preference matched") }) {
		t.Fatalf("no warning about the fallback: %q", run.Warnings)
	}
	// Every host has a distinct name, duplicates of Name tags included.
	seen := map[string]bool{}
	for _, h := range e.Hosts() {
		if seen[h.Name] {
			t.Fatalf("two hosts named %q", h.Name)
		}
		seen[h.Name] = true
	}
}

func TestStrictConstructErrorFailsTheRun(t *testing.T) {
	e := newEnv(t, 50, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.HostWrites()
	src, err := e.Store.UpdateSource(t.Context(), e.Src.ID, roster.SourceUpdate{Config: mergeConfig(e.Src.Config, map[string]any{
		"strict":       true,
		"keyed_groups": []any{map[string]any{"key": "tags.DoesNotExist", "prefix": "x"}},
	})})
	must(t, err)
	e.Src = src
	run := e.Sync()
	wantStatus(t, run, roster.SyncFailed)
	if !strings.Contains(run.Error, "keyed_groups[0].key") {
		t.Fatalf("error %q does not name the option", run.Error)
	}
	if e.HostWrites() != before {
		t.Fatal("a failed strict sync changed hosts")
	}
}

func mergeConfig(a, b map[string]any) map[string]any {
	out := map[string]any{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

func TestSecondTriggerReturnsTheActiveRun(t *testing.T) {
	e := newEnv(t, 10, nil)
	first, created, err := e.Engine.Trigger(t.Context(), e.Src, roster.TriggerAPI)
	must(t, err)
	second, created2, err := e.Engine.Trigger(t.Context(), e.Src, roster.TriggerAPI)
	must(t, err)
	if !created || created2 || second.ID != first.ID {
		t.Fatalf("second trigger: created=%v id=%s, want the first run %s", created2, second.ID, first.ID)
	}
}

func TestCanceledSyncChangesNothing(t *testing.T) {
	e := newEnv(t, 100, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := e.HostWrites()
	e.sim.SetFaults(awssim.Faults{Latency: 2 * time.Second})
	ctx, cancel := context.WithTimeout(t.Context(), 300*time.Millisecond)
	defer cancel()
	run := e.SyncCtx(ctx)
	if run.Status != roster.SyncCanceled && run.Status != roster.SyncFailed {
		t.Fatalf("status = %s, want canceled", run.Status)
	}
	if e.HostWrites() != before {
		t.Fatal("a canceled sync changed hosts")
	}
}

func TestExpressionsSeeAnsibleMagicVars(t *testing.T) {
	// groups and keyed_groups see the host's inventory vars; compose sees
	// the plugin's host vars only (TestAWSPluginParity, "duplicated
	// hosts", holds this against the real aws_ec2 plugin).
	e := newEnv(t, 100, map[string]any{
		"hostnames":    []any{"instance-id"},
		"groups":       map[string]any{"by_id": "inventory_hostname.startswith('i-') and 'aws_ec2' in group_names"},
		"keyed_groups": []any{map[string]any{"prefix": "short", "key": "inventory_hostname_short"}},
		"compose":      map[string]any{"short_name": "inventory_hostname_short", "id": "instance_id"},
	})
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	for _, h := range e.Hosts() {
		if !slices.Contains(h.Groups, "by_id") || !slices.Contains(h.Groups, "short_"+strings.ReplaceAll(h.Name, "-", "_")) {
			t.Fatalf("host %s is not in by_id and its short_ group: %v", h.Name, h.Groups)
		}
		var vars map[string]any
		must(t, json.Unmarshal(h.Vars, &vars))
		if _, ok := vars["short_name"]; ok || vars["id"] != h.Name {
			t.Fatalf("compose saw inventory_hostname_short (short_name = %v) or not instance_id (id = %v)", vars["short_name"], vars["id"])
		}
		for _, magic := range []string{"inventory_hostname", "inventory_hostname_short", "group_names"} {
			if _, ok := vars[magic]; ok {
				t.Fatalf("the magic var %s was stored as a host var", magic)
			}
		}
	}
}

func TestAnExistingHostKeepsItsNameWhenANewOneWantsIt(t *testing.T) {
	e := newEnv(t, 60, map[string]any{"hostnames": []any{"tag:Name"}})
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	var old awssim.InstanceInfo
	for _, inst := range e.expected() {
		if inst.Name != "" && inst.State == "running" {
			old = inst
			break
		}
	}
	// Several newcomers, so that some sort before the old instance's id.
	var added []string
	for range 6 {
		inst, err := e.sim.Fleet().Add(old.Region, map[string]string{"Name": old.Name})
		must(t, err)
		added = append(added, inst.ID)
	}
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	if run.Counts.Updated != 0 || run.Counts.Added != len(added) {
		t.Fatalf("counts = %+v: the old host must not change", run.Counts)
	}
	hosts := e.Hosts()
	if hosts[old.ID].Name != old.Name {
		t.Fatalf("the existing host was renamed to %q", hosts[old.ID].Name)
	}
	for _, id := range added {
		if hosts[id].Name != id {
			t.Fatalf("newcomer %s named %q, want its id", id, hosts[id].Name)
		}
	}
}

func TestAHostKeptDisabledKeepsItsName(t *testing.T) {
	e := newEnv(t, 60, map[string]any{"hostnames": []any{"tag:Name", "instance-id"}})
	disable := roster.OnMissingDisable
	src, err := e.Store.UpdateSource(t.Context(), e.Src.ID, roster.SourceUpdate{OnMissing: &disable})
	must(t, err)
	e.Src = src
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	var gone, other awssim.InstanceInfo
	for _, inst := range e.expected() {
		if inst.Name == "" || inst.State != "running" {
			continue
		}
		if gone.ID == "" {
			gone = inst
		} else if other.ID == "" && inst.Name != gone.Name {
			other = inst
		}
	}
	must(t, e.sim.Fleet().Remove(gone.ID))
	must(t, e.sim.Fleet().SetTag(other.ID, "Name", gone.Name))
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	hosts := e.Hosts()
	if h := hosts[gone.ID]; h == nil || h.Name != gone.Name || h.Enabled {
		t.Fatalf("the vanished host = %+v, want it kept disabled under its name", h)
	}
	if h := hosts[other.ID]; h.Name != other.ID {
		t.Fatalf("the renamed host took the name %q of a kept host", h.Name)
	}
}

func TestRunStartedByAnotherRunnerIsLeftToIt(t *testing.T) {
	e := newEnv(t, 10, nil)
	run, _, err := e.Engine.Trigger(t.Context(), e.Src, roster.TriggerAPI)
	must(t, err)
	started := time.Now()
	other := *run
	other.StartedAt = &started
	must(t, e.Store.StartSyncRun(t.Context(), &other)) // e.g. a CLI sync
	if err := e.Engine.Run(t.Context(), run, nil); roster.ErrorCode(err) != roster.ECONFLICT {
		t.Fatalf("Run of a run started elsewhere: %v, want a conflict", err)
	}
	got, err := e.Store.SyncRun(t.Context(), run.ID)
	must(t, err)
	if got.Status != roster.SyncRunning {
		t.Fatalf("the other runner's run is now %s (%q)", got.Status, got.Error)
	}
}

// sourceless is a store whose sources cannot be loaded.
type sourceless struct{ *store.SQLite }

func (sourceless) Source(context.Context, string) (*roster.Source, error) {
	return nil, errors.New("database is gone")
}

func TestRunWhoseSourceCannotBeLoadedIsFailed(t *testing.T) {
	e := newEnv(t, 10, nil)
	run, _, err := e.Engine.Trigger(t.Context(), e.Src, roster.TriggerAPI)
	must(t, err)
	// The same holder: the run was recorded for its recorder to run.
	engine := syncer.New(sourceless{e.Store}, nil, slog.New(slog.DiscardHandler), syncer.WithHolder(e.Engine.Holder()))
	if err := engine.Run(t.Context(), run, nil); err == nil {
		t.Fatal("Run succeeded without its source")
	}
	got, err := e.Store.SyncRun(t.Context(), run.ID)
	must(t, err)
	if got.Status != roster.SyncFailed || got.StartedAt == nil || !strings.Contains(got.Error, "source could not be loaded") {
		t.Fatalf("run = %s started %v %q, want failed, not left running", got.Status, got.StartedAt, got.Error)
	}
}

// TestCollidingNamesAreNamedByIDWithTheirBodies names hosts by a tag many
// share: all but one of each name are named by their id, with their own
// vars and groups (kept on disk until written, read back to hash them
// under the new name), and a re-sync writes nothing.
func TestCollidingNamesAreNamedByIDWithTheirBodies(t *testing.T) {
	e := newEnv(t, 300, map[string]any{"hostnames": []any{"tag:Env"}})
	run := e.Sync()
	wantStatus(t, run, roster.SyncSucceeded)
	hosts := e.Hosts()
	byID := 0
	for id, h := range hosts {
		var vars map[string]any
		must(t, json.Unmarshal(h.Vars, &vars))
		if vars["instance_id"] != id || !slices.Contains(h.Groups, "aws_ec2") {
			t.Fatalf("host %s (named %s) has the vars of %v, groups %v", id, h.Name, vars["instance_id"], h.Groups)
		}
		if h.Name == id {
			byID++
		}
	}
	if byID < len(hosts)-5 {
		t.Fatalf("%d of %d hosts named by id; the fleet has only a few Env values", byID, len(hosts))
	}
	before := e.HostWrites()
	again := e.Sync()
	wantStatus(t, again, roster.SyncSucceeded)
	if c := again.Counts; c.Unchanged != len(hosts) || c.Updated != 0 {
		t.Fatalf("re-sync of hosts named by id: counts %+v, want all %d unchanged", c, len(hosts))
	}
	if after := e.HostWrites(); after != before {
		t.Fatal("a re-sync of hosts named by id rewrote them")
	}

	// A change to a host named by id is written: its hash covers its vars.
	var changed string
	for id, h := range hosts {
		if h.Name == id {
			changed = id
			break
		}
	}
	must(t, e.sim.Fleet().SetTag(changed, "Team", "changed-team"))
	third := e.Sync()
	wantStatus(t, third, roster.SyncSucceeded)
	if c := third.Counts; c.Updated != 1 {
		t.Fatalf("after a tag change of %s: counts %+v, want 1 updated", changed, c)
	}
	if h := e.Hosts()[changed]; !strings.Contains(string(h.Vars), "changed-team") || h.Name != changed {
		t.Fatalf("host %s after its tag changed: %s %s", changed, h.Name, h.Vars)
	}
}

// TestSpillDirectory: a run keeps its hosts' bodies under the engine's
// spill directory and leaves nothing there; a directory it cannot write
// fails the run with a clear error and writes no host.
func TestSpillDirectory(t *testing.T) {
	e := newEnv(t, 120, nil)
	dir := t.TempDir()
	e.Engine = syncer.New(e.Store, e.Engine.Registry(), slog.New(slog.DiscardHandler), syncer.WithSpillDir(dir))
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("the run left %v in its spill directory", entries)
	}

	f := newEnv(t, 120, nil)
	f.Engine = syncer.New(f.Store, f.Engine.Registry(), slog.New(slog.DiscardHandler), syncer.WithSpillDir(filepath.Join(dir, "absent")))
	run := f.Sync()
	wantStatus(t, run, roster.SyncFailed)
	if !strings.Contains(run.Error, "keep the sync's work on disk") || !strings.Contains(run.Error, "absent") {
		t.Fatalf("run error = %q, want it to say where hosts could not be kept", run.Error)
	}
	if n := len(f.Hosts()); n != 0 {
		t.Fatalf("a run that could not keep its hosts wrote %d", n)
	}
}

// TestNamesOfOtherSourcesAreReported: two sources of one inventory that
// name hosts alike would be one host each in Ansible; the second sync
// says so, naming the other source, and changes nothing of either.
func TestNamesOfOtherSourcesAreReported(t *testing.T) {
	e := newEnv(t, 60, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	twin := &roster.Source{InventoryID: e.Inv.ID, Name: "ec2-again", Provider: "aws", Config: e.Src.Config, OnMissing: roster.OnMissingRemove}
	must(t, e.Store.CreateSource(t.Context(), twin))
	run, _, err := e.Engine.Trigger(t.Context(), twin, roster.TriggerCLI)
	must(t, err)
	if err := e.Engine.Run(t.Context(), run, nil); err != nil {
		t.Fatal(err)
	}
	run, err = e.Store.SyncRun(t.Context(), run.ID)
	must(t, err)
	wantStatus(t, run, roster.SyncSucceeded)
	found := false
	for _, w := range run.Warnings {
		if strings.Contains(w, `named like a host of source "ec2" in this inventory`) && strings.Contains(w, fmt.Sprintf("(%d hosts", run.Counts.Added)) {
			found = true
		}
	}
	if !found {
		t.Fatalf("a second source naming every host alike: warnings %q", run.Warnings)
	}
	// The first source's next sync says the same of the second.
	again := e.Sync()
	if !slices.ContainsFunc(again.Warnings, func(w string) bool { return strings.Contains(w, `source "ec2-again"`) }) {
		t.Fatalf("the first source's re-sync: warnings %q", again.Warnings)
	}
}

// TestNamePolicyFail: under the fail policy, a sync whose hosts are named
// like another source's hosts fails, names them, and writes nothing;
// under prefix, no name collides in Ansible and nothing is reported.
func TestNamePolicyFail(t *testing.T) {
	ctx := t.Context()
	e := newEnv(t, 60, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	fail := roster.NamesFail
	_, err := e.Store.UpdateInventory(ctx, e.Inv.ID, roster.InventoryUpdate{NamePolicy: &fail})
	must(t, err)
	twin := &roster.Source{InventoryID: e.Inv.ID, Name: "ec2-again", Provider: "aws", Config: e.Src.Config, OnMissing: roster.OnMissingRemove}
	must(t, e.Store.CreateSource(ctx, twin))
	syncTwin := func() *roster.SyncRun {
		t.Helper()
		run, _, err := e.Engine.Trigger(ctx, twin, roster.TriggerCLI)
		must(t, err)
		e.Engine.Run(ctx, run, nil)
		run, err = e.Store.SyncRun(ctx, run.ID)
		must(t, err)
		return run
	}
	run := syncTwin()
	wantStatus(t, run, roster.SyncFailed)
	if !strings.Contains(run.Error, "hosts are named like hosts of other sources") || strings.Count(run.Error, `(source "ec2")`) != 5 ||
		!strings.Contains(run.Error, " more; nothing was changed") || !strings.Contains(run.Error, "name_policy is fail") {
		t.Fatalf("run error = %q", run.Error)
	}
	if hosts, _, err := e.Store.Hosts(ctx, roster.HostFilter{InventoryID: e.Inv.ID, SourceID: twin.ID}); err != nil || len(hosts) != 0 {
		t.Fatalf("the failed sync wrote %d hosts (%v)", len(hosts), err)
	}

	prefix := roster.NamesPrefix
	_, err = e.Store.UpdateInventory(ctx, e.Inv.ID, roster.InventoryUpdate{NamePolicy: &prefix})
	must(t, err)
	run = syncTwin()
	wantStatus(t, run, roster.SyncSucceeded)
	if slices.ContainsFunc(run.Warnings, func(w string) bool { return strings.Contains(w, "named like a host of source") }) {
		t.Fatalf("under prefix no name collides, yet: %q", run.Warnings)
	}
}
