package store

import (
	"bytes"

	"github.com/rosterhq/roster"
)

// An inventory's generation (roster.Inventory.Generation) lives in
// inventory_generations and moves in the transaction of every write that
// changes what the inventory's documents show: a sync that writes hosts
// or changes its group edges (applyChangesBumping), group vars, a source
// renamed or deleted, the inventory updated. A sync that changes nothing
// but last-seen times leaves it, so cached documents survive it.

// inventorySelect is what reads of inventories select, on either engine:
// the columns and the generation.
const inventorySelect = inventoryCols + `, COALESCE((SELECT generation FROM inventory_generations g WHERE g.inventory_id = inventories.id), 0)`

// inventoryChangeShown reports whether upd changes what inv's documents
// show: its name (Prometheus's __meta_roster_inventory), its name policy
// (Ansible's host names) or its Prometheus mapping; a description shows in
// none.
func inventoryChangeShown(inv *roster.Inventory, upd roster.InventoryUpdate) bool {
	return upd.Name != nil && *upd.Name != inv.Name ||
		upd.NamePolicy != nil && *upd.NamePolicy != inv.NamePolicy ||
		upd.PrometheusSD != nil && !bytes.Equal(*upd.PrometheusSD, inv.PrometheusSD)
}

// changesShown reports whether applying c changes what its inventory's
// documents show: hosts written, or group edges changed. stored reads the
// source's stored edges; it is asked only when c writes no host.
func changesShown(c *roster.HostChanges, stored func() ([]roster.GroupEdge, error)) (bool, error) {
	if !c.Empty() {
		return true, nil
	}
	if !c.ReplaceEdges && len(c.Edges) == 0 {
		return false, nil
	}
	edges, err := stored()
	if err != nil {
		return false, err
	}
	have := make(map[roster.GroupEdge]bool, len(edges))
	for _, e := range edges {
		have[e] = true
	}
	return edgesChange(have, c), nil
}

// scanEdge reads a group edge (parent, child).
func scanEdge(row interface{ Scan(...any) error }) (roster.GroupEdge, error) {
	var e roster.GroupEdge
	err := row.Scan(&e.Parent, &e.Child)
	return e, err
}

// edgesChange reports whether writing c's group edges over a source's
// stored ones changes them.
func edgesChange(stored map[roster.GroupEdge]bool, c *roster.HostChanges) bool {
	for _, e := range c.Edges {
		if !stored[e] {
			return true
		}
	}
	if !c.ReplaceEdges {
		return false
	}
	kept := make(map[roster.GroupEdge]bool, len(c.Edges))
	for _, e := range c.Edges {
		kept[e] = true
	}
	for e := range stored {
		if !kept[e] {
			return true
		}
	}
	return false
}
