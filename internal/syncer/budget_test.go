package syncer_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources/construct"
)

// storedHosts returns a source's hosts (hash and vars) by external id.
func storedHosts(t *testing.T, e *env, src *roster.Source) map[string]string {
	t.Helper()
	out := map[string]string{}
	f := roster.HostFilter{InventoryID: src.InventoryID, SourceID: src.ID, Limit: 1000}
	for {
		page, next, err := e.Store.Hosts(t.Context(), f)
		must(t, err)
		for _, h := range page {
			out[h.ExternalID] = h.Hash + string(h.Vars)
		}
		if next == "" {
			return out
		}
		f.After = next
	}
}

// TestOverLimitExpressionFailsItsSyncOnly: a compose expression over the
// limit per value fails its source's sync although strict is false,
// naming the source, the option and the limit, and writes nothing; a sync
// of another source running meanwhile succeeds.
func TestOverLimitExpressionFailsItsSyncOnly(t *testing.T) {
	e := newEnv(t, 120, nil)
	wantStatus(t, e.Sync(), roster.SyncSucceeded)
	before := storedHosts(t, e, e.Src)
	if len(before) == 0 {
		t.Fatal("the first sync stored no host")
	}

	otherInv := &roster.Inventory{Name: "other"}
	must(t, e.Store.CreateInventory(t.Context(), otherInv))
	other := &roster.Source{InventoryID: otherInv.ID, Name: "healthy", Provider: "aws", Config: e.Src.Config, OnMissing: roster.OnMissingRemove}
	must(t, e.Store.CreateSource(t.Context(), other))

	// Not constant (it reads the host's name), so it passes validation.
	bad := "((instance_id[0] * 60000) | replace(instance_id[0], instance_id[0] * 60000)) | length"
	cfg := mergeConfig(e.Src.Config, map[string]any{"compose": map[string]any{"x": bad, "ansible_host": "private_ip_address"}})
	must(t, e.Engine.Registry().Validate("aws", cfg))
	src, err := e.Store.UpdateSource(t.Context(), e.Src.ID, roster.SourceUpdate{Config: cfg})
	must(t, err)

	runs := make([]*roster.SyncRun, 2)
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for i, s := range []*roster.Source{src, other} {
		run, created, err := e.Engine.Trigger(t.Context(), s, roster.TriggerAPI)
		must(t, err)
		if !created {
			t.Fatalf("source %s already had a run", s.Name)
		}
		wg.Go(func() {
			e.Engine.Run(t.Context(), run, nil)
			runs[i], errs[i] = e.Store.SyncRun(t.Context(), run.ID)
		})
	}
	wg.Wait()
	must(t, errors.Join(errs...))

	wantStatus(t, runs[0], roster.SyncFailed)
	for _, want := range []string{`source "ec2"`, "compose.x", "64 KiB per value (expression_value_bytes)"} {
		if !strings.Contains(runs[0].Error, want) {
			t.Errorf("error %q does not say %q", runs[0].Error, want)
		}
	}
	if after := storedHosts(t, e, e.Src); len(after) != len(before) {
		t.Errorf("the failed sync changed the source's hosts: %d, then %d", len(before), len(after))
	} else {
		for id, h := range before {
			if after[id] != h {
				t.Fatalf("the failed sync changed host %s", id)
			}
		}
	}
	wantStatus(t, runs[1], roster.SyncSucceeded)
	if runs[1].Counts.Added != len(before) {
		t.Errorf("the healthy source added %d hosts, want %d", runs[1].Counts.Added, len(before))
	}
}

// TestSyncLimit: the constructed output of all a sync's hosts, across its
// concurrent scopes, is held to the limit per sync.
func TestSyncLimit(t *testing.T) {
	limits := construct.Limits{ValueBytes: 64 << 10, HostBytes: 64 << 10, SyncBytes: 256 << 10}
	// About 6 KB per host: 120 hosts make 700 KB.
	e := newEnvWithLimits(t, 120, map[string]any{"compose": map[string]any{"blob": "(instance_id ~ '/') * 300"}}, limits)
	run := e.Sync()
	wantStatus(t, run, roster.SyncFailed)
	if !strings.Contains(run.Error, "256 KiB per sync (expression_sync_bytes)") || !strings.Contains(run.Error, "compose.blob") {
		t.Errorf("error %q names neither the option nor the limit", run.Error)
	}
	if n := len(storedHosts(t, e, e.Src)); n != 0 {
		t.Errorf("the failed sync stored %d hosts", n)
	}
}
