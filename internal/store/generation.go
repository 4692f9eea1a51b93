package store

import "github.com/rosterhq/roster"

// An inventory's generation (roster.Inventory.Generation) lives in
// inventory_generations and moves in the transaction of every write that
// changes what the inventory's documents show: a sync that writes hosts
// or changes its group edges (applyChangesBumping), group vars, a source
// renamed or deleted, the inventory updated. A sync that changes nothing
// but last-seen times leaves it, so cached documents survive it.

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
