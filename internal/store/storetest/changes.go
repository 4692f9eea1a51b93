package storetest

import (
	"encoding/json"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// allChanges pages through a run's changes, pageSize at a time.
func allChanges(t *testing.T, s roster.Store, f roster.HostChangeFilter) []*roster.HostChange {
	t.Helper()
	var out []*roster.HostChange
	for {
		page, next, err := s.HostChanges(t.Context(), f)
		must(t, err)
		if f.Limit > 0 && len(page) > f.Limit {
			t.Fatalf("a page of %d changes, limit %d", len(page), f.Limit)
		}
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.After = next
	}
}

func allHistory(t *testing.T, s roster.Store, f roster.HostHistoryFilter) []*roster.HostChange {
	t.Helper()
	var out []*roster.HostChange
	for {
		page, next, err := s.HostHistory(t.Context(), f)
		must(t, err)
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.After = next
	}
}

// byHost indexes changes by host name.
func byHost(changes []*roster.HostChange) map[string]*roster.HostChange {
	m := map[string]*roster.HostChange{}
	for _, c := range changes {
		m[c.HostName] = c
	}
	return m
}

// testHostChangesRecorded: a run that asks for it records, in its own
// transaction, what it did to each host: added, removed, disabled,
// changed (with the keys and their old and new values) and enabled; one
// that does not ask, or changes nothing, records nothing.
func testHostChangesRecorded(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	first := newRun(t, s, src)
	before := time.Now().Add(-time.Second)
	finish(t, s, first, &roster.HostChanges{Record: true, Scopes: []string{"r"}, Add: []*roster.Host{
		host("i-1", "r", "web-1", "web", "prod"), host("i-2", "r", "web-2", "web"), host("i-3", "r", "db-1", "db"), host("i-4", "r", "db-2", "db"),
	}})
	added := allChanges(t, s, roster.HostChangeFilter{RunID: first.ID})
	if len(added) != 4 {
		t.Fatalf("first run recorded %d changes, want 4", len(added))
	}
	st := states(t, s, src)
	for _, c := range added {
		ext := "i-" + map[string]string{"web-1": "1", "web-2": "2", "db-1": "3", "db-2": "4"}[c.HostName]
		if c.Kind != roster.ChangeAdded || c.RunID != first.ID || c.InventoryID != inv.ID || c.SourceID != src.ID || c.HostID != st[ext].ID ||
			len(c.ChangedKeys) != 0 || c.Diff != nil || c.Truncated || c.At.Before(before) || c.At.After(time.Now().Add(time.Second)) {
			t.Fatalf("added change = %+v", c)
		}
	}

	// i-1 changes a var, gains one, loses one, is renamed and leaves a
	// group; i-2 is removed; i-3 goes missing (disabled); i-4 is disabled
	// by its provider.
	upd := host("i-1", "r", "web-01", "web")
	upd.ID = st["i-1"].ID
	upd.Vars = json.RawMessage(`{"instance_id":"i-1","new":{"a":[1,2]}}`)
	off := host("i-4", "r", "db-2", "db")
	off.ID, off.Enabled, off.Hash = st["i-4"].ID, false, "h-off"
	second := newRun(t, s, src)
	finish(t, s, second, &roster.HostChanges{Record: true, Scopes: []string{"r"},
		Update: []*roster.Host{upd, off}, Remove: []int64{st["i-2"].ID}, Disable: []int64{st["i-3"].ID}})
	got := byHost(allChanges(t, s, roster.HostChangeFilter{RunID: second.ID}))
	if len(got) != 4 {
		t.Fatalf("second run recorded %d changes, want 4: %v", len(got), got)
	}
	c := got["web-01"]
	if c == nil || c.Kind != roster.ChangeChanged || c.HostID != st["i-1"].ID || c.Truncated ||
		!slices.Equal(c.ChangedKeys, []string{"groups", "n", "name", "new"}) {
		t.Fatalf("changed host = %+v", c)
	}
	d := c.Diff
	if d == nil || string(d.Vars["n"].Old) != `"web-1"` || d.Vars["n"].New != nil ||
		d.Vars["new"].Old != nil || string(d.Vars["new"].New) != `{"a":[1,2]}` || len(d.Vars) != 2 ||
		string(d.Fields["name"].Old) != `"web-1"` || string(d.Fields["name"].New) != `"web-01"` || len(d.Fields) != 1 ||
		len(d.GroupsAdded) != 0 || !slices.Equal(d.GroupsRemoved, []string{"prod"}) {
		t.Fatalf("diff of the changed host = %+v", d)
	}
	if c := got["web-2"]; c == nil || c.Kind != roster.ChangeRemoved || c.HostID != st["i-2"].ID || len(c.ChangedKeys) != 0 || c.Diff != nil {
		t.Fatalf("removed host = %+v", c)
	}
	if c := got["db-1"]; c == nil || c.Kind != roster.ChangeDisabled || !slices.Equal(c.ChangedKeys, []string{"enabled", "missing"}) ||
		string(c.Diff.Fields["enabled"].New) != "false" || string(c.Diff.Fields["missing"].New) != "true" {
		t.Fatalf("missing host = %+v", c)
	}
	if c := got["db-2"]; c == nil || c.Kind != roster.ChangeDisabled || !slices.Equal(c.ChangedKeys, []string{"enabled"}) {
		t.Fatalf("host disabled by its provider = %+v", c)
	}
	// The kind filter.
	if rm := allChanges(t, s, roster.HostChangeFilter{RunID: second.ID, Kind: roster.ChangeDisabled}); len(rm) != 2 ||
		rm[0].Kind != roster.ChangeDisabled || rm[1].Kind != roster.ChangeDisabled {
		t.Fatalf("disabled changes = %+v", rm)
	}

	// The missing host comes back: enabled.
	back := host("i-3", "r", "db-1", "db")
	back.ID = st["i-3"].ID
	third := newRun(t, s, src)
	finish(t, s, third, &roster.HostChanges{Record: true, Scopes: []string{"r"}, Update: []*roster.Host{back}})
	if got := allChanges(t, s, roster.HostChangeFilter{RunID: third.ID}); len(got) != 1 || got[0].Kind != roster.ChangeEnabled ||
		!slices.Equal(got[0].ChangedKeys, []string{"enabled", "missing"}) {
		t.Fatalf("returning host recorded %+v", got)
	}

	// Nothing to write, or not asked to record: nothing recorded.
	quiet := newRun(t, s, src)
	finish(t, s, quiet, &roster.HostChanges{Record: true, Scopes: []string{"r"}})
	unasked := newRun(t, s, src)
	again := host("i-1", "r", "web-1", "web")
	again.ID = st["i-1"].ID
	finish(t, s, unasked, &roster.HostChanges{Scopes: []string{"r"}, Update: []*roster.Host{again}})
	for _, run := range []*roster.SyncRun{quiet, unasked} {
		if got := allChanges(t, s, roster.HostChangeFilter{RunID: run.ID}); len(got) != 0 {
			t.Fatalf("run %s recorded %d changes, want none", run.ID, len(got))
		}
	}

	// A host's history, newest first, under the name it had.
	hist := allHistory(t, s, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: "db-1"})
	if len(hist) != 3 || hist[0].RunID != third.ID || hist[1].RunID != second.ID || hist[2].RunID != first.ID {
		t.Fatalf("history of db-1 = %+v", hist)
	}
	if hist := allHistory(t, s, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: "web-01"}); len(hist) != 1 || hist[0].Kind != roster.ChangeChanged {
		t.Fatalf("history of web-01 = %+v", hist)
	}
	other := newInventory(t, s, "dev")
	if hist := allHistory(t, s, roster.HostHistoryFilter{InventoryID: other.ID, HostName: "db-1"}); len(hist) != 0 {
		t.Fatalf("another inventory's history of db-1 = %+v", hist)
	}
	_, _, err := s.HostChanges(ctx, roster.HostChangeFilter{RunID: first.ID, After: "not-a-cursor"})
	wantCode(t, err, roster.EINVALID)
	_, _, err = s.HostHistory(ctx, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: "db-1", After: "not-a-cursor"})
	wantCode(t, err, roster.EINVALID)
}

// testHostChangesOfAFailedFinish: changes are written in the transaction
// of the hosts: a refused finish records none.
func testHostChangesOfAFailedFinish(t *testing.T, s roster.Store) {
	src := newSource(t, s, newInventory(t, s, "prod"), "ec2")
	run := newRun(t, s, src)
	finish(t, s, run, nil)
	err := s.FinishSyncRun(t.Context(), run, &roster.HostChanges{Record: true, Add: []*roster.Host{host("i-1", "r", "web-1")}})
	wantCode(t, err, roster.ECONFLICT)
	if got := allChanges(t, s, roster.HostChangeFilter{RunID: run.ID}); len(got) != 0 {
		t.Fatalf("a refused finish recorded %d changes", len(got))
	}
}

// testHostChangePages: a run's changes page by kind then as recorded,
// across kinds; a host's history pages newest first; big diffs come back
// as stored.
func testHostChangePages(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	run := newRun(t, s, src)
	finish(t, s, run, nil)
	kinds := []roster.ChangeKind{roster.ChangeRemoved, roster.ChangeAdded, roster.ChangeChanged, roster.ChangeEnabled, roster.ChangeDisabled}
	var changes []*roster.HostChange
	for i := range 1203 { // more than two batches of any store
		c := &roster.HostChange{RunID: run.ID, InventoryID: inv.ID, SourceID: src.ID, HostID: int64(i + 1),
			HostName: fmt.Sprintf("h-%04d", i), Kind: kinds[i%len(kinds)]}
		if c.Kind == roster.ChangeChanged {
			c.ChangedKeys = []string{"big", "tags"}
			c.Diff = &roster.HostDiff{Vars: map[string]roster.ValueChange{"tags": {Old: json.RawMessage(`{"a":"b"}`), New: json.RawMessage(`null`)}}}
			c.Truncated = true
		}
		changes = append(changes, c)
	}
	// One host's long history, in the same inventory.
	for i := range 7 {
		changes = append(changes, &roster.HostChange{RunID: run.ID, InventoryID: inv.ID, SourceID: src.ID, HostID: 9999,
			HostName: "busy", Kind: roster.ChangeChanged, ChangedKeys: []string{fmt.Sprint("k", i)}})
	}
	must(t, s.AddHostChanges(ctx, changes))
	got := allChanges(t, s, roster.HostChangeFilter{RunID: run.ID, Limit: 100})
	if len(got) != len(changes) {
		t.Fatalf("paged through %d changes, want %d", len(got), len(changes))
	}
	seen := map[string]bool{}
	for i, c := range got {
		if seen[c.HostName] && c.HostName != "busy" {
			t.Fatalf("change of %s listed twice", c.HostName)
		}
		seen[c.HostName] = true
		if i > 0 && c.Kind < got[i-1].Kind {
			t.Fatalf("change %d is %s after %s: not by kind", i, c.Kind, got[i-1].Kind)
		}
	}
	for _, k := range kinds {
		page := allChanges(t, s, roster.HostChangeFilter{RunID: run.ID, Kind: k, Limit: 37})
		want := 0
		for _, c := range changes {
			if c.Kind == k {
				want++
			}
		}
		if len(page) != want {
			t.Fatalf("%d %s changes listed, want %d", len(page), k, want)
		}
		for i, c := range page {
			if c.Kind != k || i > 0 && c.HostName < page[i-1].HostName && c.HostName != "busy" && page[i-1].HostName != "busy" {
				t.Fatalf("%s changes out of order at %d: %s after %s", k, i, c.HostName, page[i-1].HostName)
			}
		}
	}
	changed := byHost(allChanges(t, s, roster.HostChangeFilter{RunID: run.ID, Kind: roster.ChangeChanged}))["h-0002"]
	if changed == nil || !changed.Truncated || !slices.Equal(changed.ChangedKeys, []string{"big", "tags"}) ||
		string(changed.Diff.Vars["tags"].Old) != `{"a":"b"}` || string(changed.Diff.Vars["tags"].New) != "null" {
		t.Fatalf("a changed host came back as %+v", changed)
	}
	hist := allHistory(t, s, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: "busy", Limit: 2})
	if len(hist) != 7 {
		t.Fatalf("history of busy: %d changes, want 7", len(hist))
	}
	for i, c := range hist {
		if want := fmt.Sprint("k", 6-i); c.ChangedKeys[0] != want {
			t.Fatalf("history entry %d has keys %v, want %s: not newest first", i, c.ChangedKeys, want)
		}
	}
	err := s.AddHostChanges(ctx, []*roster.HostChange{{RunID: "no-such-run", InventoryID: inv.ID, SourceID: src.ID, HostName: "x", Kind: roster.ChangeAdded}})
	wantCode(t, err, roster.ENOTFOUND)
}

// testHostChangePurge: changes before a time are purged, later ones kept;
// changes go with their run's source, and inventory.
func testHostChangePurge(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	a, b := newSource(t, s, inv, "a"), newSource(t, s, inv, "b")
	runA, runB := newRun(t, s, a), newRun(t, s, b)
	finish(t, s, runA, nil)
	finish(t, s, runB, nil)
	now := time.Now().UTC().Truncate(time.Microsecond)
	var changes []*roster.HostChange
	for i := range 12_000 { // purged in several batches
		at := now.Add(-40 * 24 * time.Hour).Add(time.Duration(i) * time.Millisecond)
		if i%3 == 0 {
			at = now.Add(-time.Hour)
		}
		run, src := runA, a
		if i%2 == 1 {
			run, src = runB, b
		}
		changes = append(changes, &roster.HostChange{RunID: run.ID, InventoryID: inv.ID, SourceID: src.ID, HostID: int64(i),
			HostName: fmt.Sprintf("h-%05d", i), Kind: roster.ChangeAdded, At: at})
	}
	must(t, s.AddHostChanges(ctx, changes))
	n, err := s.PurgeHostChanges(ctx, now.Add(-30*24*time.Hour))
	must(t, err)
	if n != 8000 {
		t.Fatalf("purged %d changes, want 8000", n)
	}
	left := append(allChanges(t, s, roster.HostChangeFilter{RunID: runA.ID, Limit: 1000}), allChanges(t, s, roster.HostChangeFilter{RunID: runB.ID, Limit: 1000})...)
	if len(left) != 4000 {
		t.Fatalf("%d changes left, want 4000", len(left))
	}
	for _, c := range left {
		if !c.At.Equal(now.Add(-time.Hour)) {
			t.Fatalf("kept a change of %s", c.At)
		}
	}
	if n, err := s.PurgeHostChanges(ctx, now.Add(-30*24*time.Hour)); err != nil || n != 0 {
		t.Fatalf("second purge: %d, %v", n, err)
	}
	// A source's runs go with it, and their changes with them.
	must(t, s.DeleteSource(ctx, a.ID))
	if got := allChanges(t, s, roster.HostChangeFilter{RunID: runA.ID, Limit: 1000}); len(got) != 0 {
		t.Fatalf("changes of a deleted source's run remain: %d", len(got))
	}
	if got := allChanges(t, s, roster.HostChangeFilter{RunID: runB.ID, Limit: 1000}); len(got) != 2000 {
		t.Fatalf("another source's changes: %d, want 2000", len(got))
	}
	must(t, s.DeleteInventory(ctx, inv.ID))
	if got := allHistory(t, s, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: "h-00001"}); len(got) != 0 {
		t.Fatalf("changes of a deleted inventory remain: %d", len(got))
	}
}
