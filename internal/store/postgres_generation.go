package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
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
