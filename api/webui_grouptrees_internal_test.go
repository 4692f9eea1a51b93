package api

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
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

// TestGroupTreeFromTheFirstGroups: the tree built from the groups
// treeGroups reads (the first of an inventory with more groups than a
// tree shows) is the tree built from all of them, whichever groups edges
// nest: nested names first by name, a parent last, a cycle, a group of
// two parents.
func TestGroupTreeFromTheFirstGroups(t *testing.T) {
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	s := &Server{store: st}
	for _, c := range []struct {
		name  string
		hosts int
		edges []roster.GroupEdge
	}{
		{"fewer groups than a tree shows", 300, []roster.GroupEdge{{Parent: "zz", Child: "g00001"}}},
		{"no edges", maxGroupNodes + 500, nil},
		{"early names nested by a late one", maxGroupNodes + 500, func() (e []roster.GroupEdge) {
			for i := range 400 {
				e = append(e, roster.GroupEdge{Parent: "zz_parent", Child: fmt.Sprintf("g%05d", i*2)})
			}
			return append(e, roster.GroupEdge{Parent: "a_parent", Child: "g00002"}, roster.GroupEdge{Parent: "g00003", Child: "g00005"},
				roster.GroupEdge{Parent: "g00005", Child: "g00003"})
		}()},
	} {
		t.Run(c.name, func(t *testing.T) {
			inv := &roster.Inventory{Name: strings.ReplaceAll(c.name, " ", "-")}
			must(t, st.CreateInventory(ctx, inv))
			src := &roster.Source{InventoryID: inv.ID, Name: "ec2", Provider: "aws", Config: map[string]any{"regions": []any{"r"}}, OnMissing: roster.OnMissingRemove}
			must(t, st.CreateSource(ctx, src))
			run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI}
			if _, err := st.CreateSyncRun(ctx, run); err != nil {
				t.Fatal(err)
			}
			changes := &roster.HostChanges{Scopes: []string{"r"}, Edges: c.edges, ReplaceEdges: true}
			for i := range c.hosts {
				name := fmt.Sprintf("g%05d", i)
				changes.Add = append(changes.Add, &roster.Host{ExternalID: name, Scope: "r", Name: name, Enabled: true,
					Groups: []string{name, "everyone"}, Vars: json.RawMessage(`{}`), Hash: name})
			}
			now := time.Now()
			run.StartedAt, run.Status = &now, roster.SyncSucceeded
			must(t, st.FinishSyncRun(ctx, run, changes))

			all, err := st.Groups(ctx, inv.ID)
			must(t, err)
			first, total, err := s.treeGroups(ctx, inv, &hostView{HostStore: st})
			must(t, err)
			if total != len(all) {
				t.Fatalf("treeGroups counts %d groups, Groups lists %d", total, len(all))
			}
			if c.hosts > maxGroupNodes && len(first) >= len(all) {
				t.Fatalf("treeGroups read all %d groups", len(all))
			}
			wantTree, wantCount, wantMessage := groupTree(inv.Name, all, len(all), c.hosts)
			tree, count, message := groupTree(inv.Name, first, total, c.hosts)
			if !reflect.DeepEqual(tree, wantTree) || count != wantCount || message != wantMessage {
				t.Fatalf("from the first %d groups: %d groups, %q; from all %d: %d, %q (or the trees differ)",
					len(first), count, message, len(all), wantCount, wantMessage)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
