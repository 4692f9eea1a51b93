package syncer_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources/aws/awssim"
)

// changesOf returns every change a run recorded, by host name.
func (e *env) changesOf(run *roster.SyncRun) map[string]*roster.HostChange {
	e.T.Helper()
	out := map[string]*roster.HostChange{}
	f := roster.HostChangeFilter{RunID: run.ID, Limit: 1000}
	for {
		page, next, err := e.Store.HostChanges(e.T.Context(), f)
		if err != nil {
			e.T.Fatal(err)
		}
		for _, c := range page {
			if out[c.HostName] != nil {
				e.T.Fatalf("run %s recorded two changes of %s", run.ID, c.HostName)
			}
			out[c.HostName] = c
		}
		if next == "" {
			return out
		}
		f.After = next
	}
}

// runningInstances returns n running instances of region that have a Name
// tag (any region when region is "").
func (e *env) runningInstances(region string, n int) []awssim.InstanceInfo {
	e.T.Helper()
	var out []awssim.InstanceInfo
	for _, inst := range e.sim.Fleet().Instances() {
		if inst.State == "running" && inst.Name != "" && (region == "" || inst.Region == region) && len(out) < n {
			out = append(out, inst)
		}
	}
	if len(out) < n {
		e.T.Fatalf("the fleet has %d running named instances in %q, want %d", len(out), region, n)
	}
	return out
}

// TestSyncRecordsWhatItChanged: a succeeded sync records each host it
// added, removed and changed, with the changed keys and their old and new
// values; an unchanged re-sync and a failed sync record nothing, a partial
// one what it wrote of its healthy scopes.
func TestSyncRecordsWhatItChanged(t *testing.T) {
	e := newEnv(t, 300, map[string]any{
		"hostnames":    []any{"tag:Name", "instance-id"},
		"keyed_groups": []any{map[string]any{"prefix": "tag", "key": "tags"}},
	})
	first := e.Sync()
	wantStatus(t, first, roster.SyncSucceeded)
	added := e.changesOf(first)
	hosts := e.Hosts()
	if len(added) != first.Counts.Added || len(added) != len(hosts) {
		t.Fatalf("first sync recorded %d changes, added %d hosts (%d stored)", len(added), first.Counts.Added, len(hosts))
	}
	for _, h := range hosts {
		if c := added[h.Name]; c == nil || c.Kind != roster.ChangeAdded || c.HostID != h.ID || c.SourceID != e.Src.ID || len(c.ChangedKeys) != 0 {
			t.Fatalf("change of new host %s = %+v", h.Name, c)
		}
	}

	// Retag one instance, rename another, terminate a third, launch one.
	insts := e.runningInstances("", 3)
	retagged, renamed, gone := insts[0], insts[1], insts[2]
	must(t, e.sim.Fleet().SetTag(retagged.ID, "Env", "changed-env"))
	must(t, e.sim.Fleet().SetTag(renamed.ID, "Name", "renamed-host"))
	must(t, e.sim.Fleet().Terminate(gone.ID))
	launched, err := e.sim.Fleet().Add(fleetRegions[0], map[string]string{"Name": "launched-host"})
	must(t, err)
	second := e.Sync()
	wantStatus(t, second, roster.SyncSucceeded)
	got := e.changesOf(second)
	if len(got) != 4 || second.Counts.Added != 1 || second.Counts.Updated != 2 || second.Counts.Removed != 1 {
		t.Fatalf("second sync recorded %d changes (counts %+v), want 4", len(got), second.Counts)
	}
	c := got[hosts[retagged.ID].Name]
	if c == nil || c.Kind != roster.ChangeChanged || c.HostID != hosts[retagged.ID].ID || !slices.Equal(c.ChangedKeys, []string{"groups", "tags"}) {
		t.Fatalf("change of the retagged host = %+v", c)
	}
	var oldTags, newTags map[string]string
	must(t, json.Unmarshal(c.Diff.Vars["tags"].Old, &oldTags))
	must(t, json.Unmarshal(c.Diff.Vars["tags"].New, &newTags))
	if oldTags["Env"] == "changed-env" || newTags["Env"] != "changed-env" || !slices.Contains(c.Diff.GroupsAdded, "tag_Env_changed_env") ||
		len(c.Diff.GroupsRemoved) != 1 || !strings.HasPrefix(c.Diff.GroupsRemoved[0], "tag_Env_") {
		t.Fatalf("diff of the retagged host: tags %v → %v, groups +%v -%v", oldTags, newTags, c.Diff.GroupsAdded, c.Diff.GroupsRemoved)
	}
	c = got["renamed-host"]
	if c == nil || c.Kind != roster.ChangeChanged || c.HostID != hosts[renamed.ID].ID || !slices.Contains(c.ChangedKeys, "name") ||
		string(c.Diff.Fields["name"].Old) != `"`+hosts[renamed.ID].Name+`"` || string(c.Diff.Fields["name"].New) != `"renamed-host"` {
		t.Fatalf("change of the renamed host = %+v", c)
	}
	if c := got[hosts[gone.ID].Name]; c == nil || c.Kind != roster.ChangeRemoved || c.HostID != hosts[gone.ID].ID {
		t.Fatalf("change of the terminated host = %+v", c)
	}
	if c := got["launched-host"]; c == nil || c.Kind != roster.ChangeAdded || c.HostID != e.Hosts()[launched.ID].ID {
		t.Fatalf("change of the launched host = %+v", c)
	}

	// Nothing changed: nothing recorded (and no host row written).
	before := e.HostWrites()
	third := e.Sync()
	wantStatus(t, third, roster.SyncSucceeded)
	if got := e.changesOf(third); len(got) != 0 || e.HostWrites() != before {
		t.Fatalf("an unchanged re-sync recorded %d changes", len(got))
	}

	// A failed sync changes and records nothing.
	must(t, e.sim.Fleet().SetTag(retagged.ID, "Env", "changed-again"))
	e.sim.SetFaults(awssim.Faults{DenyScopes: fleetRegions})
	failed := e.Sync()
	wantStatus(t, failed, roster.SyncFailed)
	if got := e.changesOf(failed); len(got) != 0 {
		t.Fatalf("a failed sync recorded %d changes", len(got))
	}

	// A partial sync writes its healthy scopes' changes and records them,
	// and nothing of the scopes that failed.
	healthy := e.runningInstances(fleetRegions[0], 1)[0]
	must(t, e.sim.Fleet().SetTag(healthy.ID, "Env", "partial-env"))
	e.sim.SetFaults(awssim.Faults{DenyScopes: fleetRegions[1:]})
	partial := e.Sync()
	wantStatus(t, partial, roster.SyncPartial)
	if partial.Counts.Updated == 0 {
		t.Fatalf("the partial sync updated nothing (counts %+v): the test proves nothing", partial.Counts)
	}
	if got := e.changesOf(partial); len(got) != 1 || got[hosts[healthy.ID].Name] == nil || got[hosts[healthy.ID].Name].Kind != roster.ChangeChanged {
		t.Fatalf("a partial sync recorded %+v, want the healthy host's change only", got)
	}

	// The retagged host's history, newest first: changed (again by the
	// partial sync, whose healthy region it is in, its tag having changed
	// while the failed sync wrote nothing), changed, then added.
	if e.runningInstances(fleetRegions[0], 1)[0].ID != healthy.ID {
		t.Fatal("the healthy region's first instance moved")
	}
	hist, _, err := e.Store.HostHistory(t.Context(), roster.HostHistoryFilter{InventoryID: e.Inv.ID, HostName: hosts[retagged.ID].Name})
	must(t, err)
	want := []string{second.ID, first.ID}
	if retagged.Region == fleetRegions[0] {
		want = append([]string{partial.ID}, want...)
	}
	var runs []string
	for _, h := range hist {
		runs = append(runs, h.RunID)
	}
	if !slices.Equal(runs, want) || hist[0].Kind != roster.ChangeChanged {
		t.Fatalf("history of the retagged host: runs %v, want %v (%+v)", runs, want, hist)
	}
}

// TestSyncRecordsMissingHostsDisabledThenEnabled: under on_missing
// disable, a host that vanishes is recorded disabled, and enabled when it
// comes back.
func TestSyncRecordsMissingHostsDisabledThenEnabled(t *testing.T) {
	e := newEnv(t, 100, map[string]any{"hostnames": []any{"tag:Name", "instance-id"}})
	disable := roster.OnMissingDisable
	src, err := e.Store.UpdateSource(t.Context(), e.Src.ID, roster.SourceUpdate{OnMissing: &disable})
	must(t, err)
	e.Src = src
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	inst := e.runningInstances("", 1)[0]
	name := e.Hosts()[inst.ID].Name
	must(t, e.sim.Fleet().SetState(inst.ID, "terminated")) // filtered out: missing
	run := e.Sync()
	if c := e.changesOf(run)[name]; c == nil || c.Kind != roster.ChangeDisabled || !slices.Equal(c.ChangedKeys, []string{"enabled", "missing"}) {
		t.Fatalf("change of the vanished host = %+v", c)
	}
	must(t, e.sim.Fleet().SetState(inst.ID, "running"))
	run = e.Sync()
	if c := e.changesOf(run)[name]; c == nil || c.Kind != roster.ChangeEnabled || !slices.Contains(c.ChangedKeys, "missing") {
		t.Fatalf("change of the returning host = %+v", c)
	}
}
