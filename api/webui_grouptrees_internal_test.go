package api

import (
	"fmt"
	"testing"

	"github.com/rosterhq/roster"
)

// TestGroupTreesBounded: the Web UI keeps at most maxGroupTrees group
// trees, dropping the one shown least recently; a tree of an older
// generation never replaces a newer one, and a renamed inventory's tree
// is not shown.
func TestGroupTreesBounded(t *testing.T) {
	var c groupTrees
	inv := func(i int, gen int64) *roster.Inventory {
		return &roster.Inventory{ID: fmt.Sprint("inv-", i), Name: fmt.Sprint("name-", i), Generation: gen}
	}
	for i := range maxGroupTrees {
		c.put(inv(i, 1), groupTreeAt{groups: i})
	}
	// Shown: inventory 0 is now the most recently shown.
	if _, fresh, ok := c.get(inv(0, 1)); !fresh || !ok {
		t.Fatal("a kept tree is not found")
	}
	c.put(inv(maxGroupTrees, 1), groupTreeAt{})
	if len(c.m) != maxGroupTrees {
		t.Fatalf("%d trees kept, want %d", len(c.m), maxGroupTrees)
	}
	if _, _, ok := c.get(inv(0, 1)); !ok {
		t.Error("the most recently shown tree was dropped")
	}
	if _, _, ok := c.get(inv(1, 1)); ok {
		t.Error("the least recently shown tree was kept")
	}

	c.put(inv(0, 5), groupTreeAt{groups: 5})
	c.put(inv(0, 3), groupTreeAt{groups: 3})
	if tr, fresh, _ := c.get(inv(0, 5)); !fresh || tr.groups != 5 {
		t.Errorf("an older tree replaced a newer one: %+v", tr)
	}
	if _, fresh, _ := c.get(inv(0, 6)); fresh {
		t.Error("a tree of generation 5 is fresh at 6")
	}
	renamed := inv(0, 5)
	renamed.Name = "renamed"
	if _, _, ok := c.get(renamed); ok {
		t.Error("a renamed inventory's tree, with the old name in its links, is shown")
	}
}
