package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// pgInventorySelect is what reads of inventories select: the columns and
// the generation.
const pgInventorySelect = pgInventoryCols + `, COALESCE((SELECT generation FROM inventory_generations g WHERE g.inventory_id = inventories.id), 0)`

// pgBumpGeneration moves an inventory's generation and returns the new one
// (0 when the inventory is gone). It locks the inventory's generation row,
// never the inventory's (see migration 0010).
func pgBumpGeneration(ctx context.Context, tx pgx.Tx, inventoryID string) (int64, error) {
	var gen int64
	err := tx.QueryRow(ctx, `UPDATE inventory_generations SET generation = generation + 1 WHERE inventory_id = $1 RETURNING generation`, inventoryID).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return gen, err
}

// pgApplyChangesBumping applies a sync's changes and moves its inventory's
// generation when they change what the inventory's documents show. The
// bump comes last, so concurrent syncs of one inventory's sources wait for
// each other only for their commits.
func pgApplyChangesBumping(ctx context.Context, tx pgx.Tx, run *roster.SyncRun, c *roster.HostChanges, now time.Time) error {
	visible := !c.Empty()
	if !visible && (c.ReplaceEdges || len(c.Edges) > 0) {
		stored := make(map[roster.GroupEdge]bool)
		rows, err := tx.Query(ctx, `SELECT parent, child FROM group_edges WHERE source_id = $1`, run.SourceID)
		if err != nil {
			return err
		}
		var e roster.GroupEdge
		if _, err := pgx.ForEachRow(rows, []any{&e.Parent, &e.Child}, func() error {
			stored[e] = true
			return nil
		}); err != nil {
			return err
		}
		visible = edgesChange(stored, c)
	}
	if err := pgApplyChanges(ctx, tx, run, c, now); err != nil {
		return err
	}
	if !visible {
		return nil
	}
	_, err := pgBumpGeneration(ctx, tx, run.InventoryID)
	return err
}

// pgInventoryGeneration reads an inventory's generation in q's snapshot.
func pgInventoryGeneration(ctx context.Context, q pgQuerier, inventoryID string) (int64, error) {
	var gen int64
	err := q.QueryRow(ctx, `SELECT generation FROM inventory_generations WHERE inventory_id = $1`, inventoryID).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return gen, err
}
