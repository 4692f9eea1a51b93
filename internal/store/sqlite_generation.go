package store

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/rosterhq/roster"
)

// bumpGeneration moves an inventory's generation and returns the new one
// (0 when the inventory is gone).
func bumpGeneration(ctx context.Context, tx *sql.Tx, inventoryID string) (int64, error) {
	var gen int64
	err := tx.QueryRowContext(ctx, `UPDATE inventory_generations SET generation = generation + 1 WHERE inventory_id = ? RETURNING generation`, inventoryID).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	return gen, err
}

// applyChangesBumping applies a sync's changes and moves its inventory's
// generation when they change what the inventory's documents show.
func applyChangesBumping(ctx context.Context, tx *sql.Tx, run *roster.SyncRun, c *roster.HostChanges, now time.Time) error {
	shown, err := changesShown(c, func() ([]roster.GroupEdge, error) {
		rows, err := tx.QueryContext(ctx, `SELECT parent, child FROM group_edges WHERE source_id = ?`, run.SourceID)
		return collectRows(rows, err, scanEdge)
	})
	if err != nil {
		return err
	}
	if err := applyChanges(ctx, tx, run, c, now); err != nil || !shown {
		return err
	}
	_, err = bumpGeneration(ctx, tx, run.InventoryID)
	return err
}

// inventoryGeneration reads an inventory's generation in q's snapshot;
// ENOTFOUND when the inventory is gone.
func inventoryGeneration(ctx context.Context, q querier, inventoryID string) (int64, error) {
	var gen int64
	err := q.QueryRowContext(ctx, `SELECT generation FROM inventory_generations WHERE inventory_id = ?`, inventoryID).Scan(&gen)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, notFound("inventory", inventoryID)
	}
	return gen, err
}
