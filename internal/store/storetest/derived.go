package storetest

import (
	"slices"
	"testing"

	"github.com/rosterhq/roster"
)

// testDerivedInventories checks the kind and ordered inputs of smart and
// constructed inventories, the refusal to delete an input, and staleness:
// an input whose generation moved past what the derived inventory's last
// run read (recorded with that run's changes, also when they are empty).
func testDerivedInventories(t *testing.T, s roster.Store) {
	ctx := t.Context()
	a, b, c := newInventory(t, s, "a"), newInventory(t, s, "b"), newInventory(t, s, "c")
	if a.Kind != roster.KindPlain {
		t.Fatalf("a new inventory's kind = %q, want plain", a.Kind)
	}
	d := &roster.Inventory{Name: "d", Kind: roster.KindSmart, Inputs: []string{b.ID, a.ID}}
	must(t, s.CreateInventory(ctx, d))
	got, err := s.Inventory(ctx, "d")
	must(t, err)
	if got.Kind != roster.KindSmart || !slices.Equal(got.Inputs, []string{b.ID, a.ID}) {
		t.Fatalf("Inventory(d) = kind %q inputs %v, want smart [b a]", got.Kind, got.Inputs)
	}
	list, err := s.Inventories(ctx)
	must(t, err)
	for _, inv := range list {
		if inv.Name == "d" && !slices.Equal(inv.Inputs, []string{b.ID, a.ID}) {
			t.Fatalf("Inventories: d's inputs = %v", inv.Inputs)
		}
		if inv.Name != "d" && len(inv.Inputs) > 0 {
			t.Fatalf("Inventories: plain %s has inputs %v", inv.Name, inv.Inputs)
		}
	}

	all, err := s.DerivedInputs(ctx)
	must(t, err)
	if len(all) != 1 || !slices.Equal(all[d.ID], []string{b.ID, a.ID}) {
		t.Fatalf("DerivedInputs = %v, want d: [b a]", all)
	}

	// Refused inputs change nothing.
	for name, inputs := range map[string][]string{
		"none":     {},
		"twice":    {a.ID, a.ID},
		"missing":  {"nope"},
		"derived":  {d.ID},
		"itself":   {a.ID, d.ID},
		"too many": slices.Repeat([]string{a.ID}, roster.MaxInputs+1),
	} {
		_, err := s.UpdateInventory(ctx, d.ID, roster.InventoryUpdate{Inputs: &inputs})
		wantCode(t, err, roster.EINVALID)
		if got, _ := s.Inventory(ctx, d.ID); !slices.Equal(got.Inputs, []string{b.ID, a.ID}) {
			t.Fatalf("refused inputs (%s) changed them to %v", name, got.Inputs)
		}
	}
	wantCode(t, s.CreateInventory(ctx, &roster.Inventory{Name: "e", Kind: roster.KindConstructed, Inputs: []string{d.ID}}), roster.EINVALID)
	if _, err := s.Inventory(ctx, "e"); roster.ErrorCode(err) != roster.ENOTFOUND {
		t.Fatalf("a refused create left inventory e: %v", err)
	}
	plainInputs := []string{a.ID}
	_, err = s.UpdateInventory(ctx, a.ID, roster.InventoryUpdate{Inputs: &plainInputs})
	wantCode(t, err, roster.EINVALID)

	// An input cannot be deleted; the derived inventory can.
	wantCode(t, s.DeleteInventory(ctx, a.ID), roster.ECONFLICT)
	if _, err := s.Inventory(ctx, a.ID); err != nil {
		t.Fatalf("a refused delete removed the input: %v", err)
	}

	// Staleness: every input is new to d until a run of d reads it.
	stale := func(input string) []string {
		t.Helper()
		ids, err := s.StaleDerived(ctx, input)
		must(t, err)
		return ids
	}
	if got := stale(""); !slices.Equal(got, []string{d.ID}) {
		t.Fatalf("StaleDerived before any run = %v, want [d]", got)
	}
	src := newSource(t, s, d, "derived")
	gens := map[string]int64{a.ID: generation(t, s, a), b.ID: generation(t, s, b)}
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Scopes: []string{"x"}, ReplaceEdges: true, InputGenerations: gens})
	if got := stale(""); len(got) != 0 {
		t.Fatalf("StaleDerived after a run read every input = %v, want none", got)
	}
	// An input's sync that writes hosts makes d stale; through that input only.
	asrc := newSource(t, s, a, "ec2")
	finish(t, s, newRun(t, s, asrc), &roster.HostChanges{Add: []*roster.Host{host("i-1", "r", "web-1", "web")}, Scopes: []string{"r"}, ReplaceEdges: true})
	if got := stale(a.ID); !slices.Equal(got, []string{d.ID}) {
		t.Fatalf("StaleDerived(a) after a's sync = %v, want [d]", got)
	}
	if got := stale(c.ID); len(got) != 0 {
		t.Fatalf("StaleDerived(c) = %v, want none", got)
	}
	// A new input is stale; one kept keeps what was seen of it.
	inputs := []string{a.ID, c.ID}
	upd, err := s.UpdateInventory(ctx, d.ID, roster.InventoryUpdate{Inputs: &inputs})
	must(t, err)
	if !slices.Equal(upd.Inputs, inputs) {
		t.Fatalf("UpdateInventory answered inputs %v, want %v", upd.Inputs, inputs)
	}
	gens = map[string]int64{a.ID: generation(t, s, a)}
	finish(t, s, newRun(t, s, src), &roster.HostChanges{Scopes: []string{"x"}, ReplaceEdges: true, InputGenerations: gens})
	if got := stale(""); !slices.Equal(got, []string{d.ID}) {
		t.Fatalf("StaleDerived with c never read = %v, want [d]", got)
	}
	if got := stale(a.ID); len(got) != 0 {
		t.Fatalf("StaleDerived(a) after reading a = %v, want none", got)
	}
	// b is no input any more: it can go.
	must(t, s.DeleteInventory(ctx, b.ID))
	must(t, s.DeleteInventory(ctx, d.ID))
	must(t, s.DeleteInventory(ctx, a.ID))
}
