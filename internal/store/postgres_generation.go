package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

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
	shown, err := changesShown(c, func() ([]roster.GroupEdge, error) {
		rows, err := tx.Query(ctx, `SELECT parent, child FROM group_edges WHERE source_id = $1`, run.SourceID)
		return collect(rows, err, func(rows pgx.Rows) (roster.GroupEdge, error) { return scanEdge(rows) })
	})
	if err != nil {
		return err
	}
	if err := pgApplyChanges(ctx, tx, run, c, now); err != nil || !shown {
		return err
	}
	_, err = pgBumpGeneration(ctx, tx, run.InventoryID)
	return err
}

// pgInventoryGeneration reads an inventory's generation in q's snapshot;
// ENOTFOUND when the inventory is gone.
func pgInventoryGeneration(ctx context.Context, q pgQuerier, inventoryID string) (int64, error) {
	var gen int64
	err := q.QueryRow(ctx, `SELECT generation FROM inventory_generations WHERE inventory_id = $1`, inventoryID).Scan(&gen)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, notFound("inventory", inventoryID)
	}
	return gen, err
}
