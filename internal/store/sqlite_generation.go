package store

import (
	"context"
	"database/sql"
	"errors"
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
