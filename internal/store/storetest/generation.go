package storetest

import (
	"encoding/json"
	"strconv"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// generation reads an inventory's generation the way readers do.
func generation(t *testing.T, s roster.Store, inv *roster.Inventory) int64 {
	t.Helper()
	got, err := s.Inventory(t.Context(), inv.ID)
	must(t, err)
	return got.Generation
}

// testGeneration: every write that changes what an inventory's documents
// show moves its generation, in the same call; writes that change nothing
// shown leave it, and no write moves another inventory's.
func testGeneration(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	other := newInventory(t, s, "staging")
	if inv.Generation == 0 {
		t.Fatal("CreateInventory left Generation zero")
	}
	if got := generation(t, s, inv); got != inv.Generation {
		t.Fatalf("Inventory().Generation = %d, CreateInventory said %d", got, inv.Generation)
	}
	otherGen := generation(t, s, other)
	src := newSource(t, s, inv, "ec2")
	edges := []roster.GroupEdge{{Parent: "envs", Child: "env_prod"}}

	last := generation(t, s, inv)
	step := func(what string, moves bool, write func()) {
		t.Helper()
		write()
		got := generation(t, s, inv)
		switch {
		case moves && got <= last:
			t.Fatalf("%s: generation %d, want more than %d", what, got, last)
		case !moves && got != last:
			t.Fatalf("%s changes nothing shown, yet moved the generation from %d to %d", what, last, got)
		}
		last = got
	}
	step("a new source", false, func() {})
	a, b := host("i-1", "r", "web-1", "web"), host("i-2", "r", "web-2", "web")
	step("a sync adding hosts", true, func() {
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Add: []*roster.Host{a, b}, Scopes: []string{"r"}, Edges: edges, ReplaceEdges: true})
	})
	step("a sync that changes no host and keeps the edges", false, func() {
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Scopes: []string{"r"}, Edges: edges, ReplaceEdges: true})
	})
	step("a failed sync", false, func() {
		run := newRun(t, s, src)
		now := time.Now()
		run.StartedAt, run.Status, run.Error = &now, roster.SyncFailed, "boom"
		must(t, s.FinishSyncRun(ctx, run, nil))
	})
	step("a sync adding an edge", true, func() {
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Scopes: []string{"r"}, Edges: append(edges, roster.GroupEdge{Parent: "envs", Child: "env_dev"}), ReplaceEdges: true})
	})
	step("a sync dropping an edge", true, func() {
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Scopes: []string{"r"}, Edges: edges, ReplaceEdges: true})
	})
	step("a partial sync keeping the edges it saw", false, func() {
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Edges: edges})
	})
	step("a sync updating a host", true, func() {
		upd := *a
		upd.Vars = json.RawMessage(`{"changed":true}`)
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Update: []*roster.Host{&upd}, Edges: edges, ReplaceEdges: true})
	})
	step("a sync disabling a host", true, func() {
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Disable: []int64{b.ID}, Edges: edges, ReplaceEdges: true})
	})
	step("a sync removing a host", true, func() {
		finish(t, s, newRun(t, s, src), &roster.HostChanges{Remove: []int64{b.ID}, Edges: edges, ReplaceEdges: true})
	})
	step("setting group vars", true, func() { must(t, s.SetGroupVars(ctx, inv.ID, "web", json.RawMessage(`{"port":80}`))) })
	step("clearing group vars", true, func() { must(t, s.SetGroupVars(ctx, inv.ID, "web", nil)) })
	step("changing a source's config", false, func() {
		_, err := s.UpdateSource(ctx, src.ID, roster.SourceUpdate{Config: map[string]any{"regions": []any{"eu-west-1"}}})
		must(t, err)
	})
	step("renaming a source", true, func() {
		_, err := s.UpdateSource(ctx, src.ID, roster.SourceUpdate{Name: ptr("ec2-prod")})
		must(t, err)
	})
	step("updating the inventory", true, func() {
		updated, err := s.UpdateInventory(ctx, inv.ID, roster.InventoryUpdate{PrometheusSD: ptr(json.RawMessage(`{"port":9100}`))})
		must(t, err)
		if updated.Generation != generation(t, s, inv) {
			t.Fatalf("UpdateInventory returned generation %d, the store has %d", updated.Generation, generation(t, s, inv))
		}
	})
	step("deleting a source", true, func() { must(t, s.DeleteSource(ctx, src.ID)) })

	if got := generation(t, s, other); got != otherGen {
		t.Fatalf("writes to prod moved staging's generation from %d to %d", otherGen, got)
	}
	list, err := s.Inventories(ctx)
	must(t, err)
	for _, i := range list {
		if i.ID == inv.ID && i.Generation != last {
			t.Fatalf("Inventories() gives generation %d, Inventory() %d", i.Generation, last)
		}
	}
}

// testGenerationOfWalk: WalkInventory reports the generation of the
// snapshot it walked, even while syncs commit: a document rendered from a
// walk is never labelled with a generation whose hosts it does not show.
func testGenerationOfWalk(t *testing.T, s roster.Store) {
	inv := newInventory(t, s, "prod")
	src := newSource(t, s, inv, "ec2")
	first := host("i-0", "r", "h")
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Add: []*roster.Host{first}, ReplaceEdges: true})
	// Each sync rewrites the one host's vars with its round; the writer
	// (the only one) notes the vars of each generation it commits.
	committed := map[int64]string{generation(t, s, inv): string(first.Vars)}
	done := make(chan error, 1)
	go func() {
		done <- func() error {
			for round := 1; round <= 50; round++ {
				h := host("i-0", "r", "h")
				h.ID, h.Vars = first.ID, json.RawMessage(`{"round":`+strconv.Itoa(round)+`}`)
				run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI}
				if _, err := s.CreateSyncRun(t.Context(), run); err != nil {
					return err
				}
				now := time.Now()
				run.StartedAt, run.Status = &now, roster.SyncSucceeded
				if err := s.FinishSyncRun(t.Context(), run, &roster.HostChanges{Update: []*roster.Host{h}, ReplaceEdges: true}); err != nil {
					return err
				}
				got, err := s.Inventory(t.Context(), inv.ID)
				if err != nil {
					return err
				}
				committed[got.Generation] = string(h.Vars)
			}
			return nil
		}()
	}()
	type walk struct {
		gen  int64
		vars string
	}
	var walks []walk
	for finished := false; !finished; {
		select {
		case err := <-done:
			must(t, err)
			finished = true
		default:
		}
		var w walk
		var err error
		w.gen, err = s.WalkInventory(t.Context(), inv.ID, func(h *roster.Host) error {
			w.vars = string(h.Vars)
			return nil
		}, func(*roster.Group) error { return nil })
		must(t, err)
		walks = append(walks, w)
	}
	for _, w := range walks {
		if want, ok := committed[w.gen]; !ok || w.vars != want {
			t.Fatalf("a walk at generation %d saw the host's vars %s; that generation committed %s", w.gen, w.vars, want)
		}
	}
	// A deleted inventory has no generation: a walk of it is ENOTFOUND,
	// not an empty document of generation 0 (which a reader that saw a
	// later generation would render again and again).
	must(t, s.DeleteInventory(t.Context(), inv.ID))
	_, err := s.WalkInventory(t.Context(), inv.ID, func(*roster.Host) error { return nil }, func(*roster.Group) error { return nil })
	wantCode(t, err, roster.ENOTFOUND)
}

func ptr[T any](v T) *T { return &v }
