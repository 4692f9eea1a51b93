package store

import (
	"context"
	"database/sql"
	"errors"
	"slices"

	"github.com/rosterhq/roster"
)

// The inputs of derived inventories (smart, constructed): inventory_inputs,
// migration 0020.

// loadInputs reads the inputs of inv, in order, when it is derived.
func loadInputs(ctx context.Context, q querier, inv *roster.Inventory) error {
	if !inv.Kind.Derived() {
		return nil
	}
	rows, err := q.QueryContext(ctx, `SELECT input_id FROM inventory_inputs WHERE inventory_id = ? ORDER BY position`, inv.ID)
	ids, err := collectRows(rows, err, func(r interface{ Scan(...any) error }) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	inv.Inputs = ids
	return err
}

// loadAllInputs reads the inputs of every derived inventory of invs.
func loadAllInputs(ctx context.Context, q querier, invs []*roster.Inventory) error {
	if !slices.ContainsFunc(invs, func(inv *roster.Inventory) bool { return inv.Kind.Derived() }) {
		return nil
	}
	byID := make(map[string]*roster.Inventory, len(invs))
	for _, inv := range invs {
		byID[inv.ID] = inv
	}
	rows, err := q.QueryContext(ctx, `SELECT inventory_id, input_id FROM inventory_inputs ORDER BY inventory_id, position`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var inv, input string
		if err := rows.Scan(&inv, &input); err != nil {
			return err
		}
		if i := byID[inv]; i != nil {
			i.Inputs = append(i.Inputs, input)
		}
	}
	return rows.Err()
}

// setInputs replaces the inputs of inv with inputs, keeping the generation
// last seen of those it had already (a new one is stale until a run reads
// it).
func setInputs(ctx context.Context, tx *sql.Tx, inv *roster.Inventory, inputs []string) error {
	if !inv.Kind.Derived() {
		if len(inputs) > 0 {
			return roster.Invalid(roster.FieldError{Field: "inputs", Message: "only a smart or constructed inventory has inputs"})
		}
		return nil
	}
	seen := map[string]int64{}
	rows, err := tx.QueryContext(ctx, `SELECT input_id, seen_generation FROM inventory_inputs WHERE inventory_id = ?`, inv.ID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var id string
		var gen int64
		if err := rows.Scan(&id, &gen); err != nil {
			rows.Close()
			return err
		}
		seen[id] = gen
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM inventory_inputs WHERE inventory_id = ?`, inv.ID); err != nil {
		return err
	}
	if err := checkInputs(inv, inputs, func(id string) (roster.InventoryKind, error) {
		var kind roster.InventoryKind
		err := tx.QueryRowContext(ctx, `SELECT kind FROM inventories WHERE id = ?`, id).Scan(&kind)
		if errors.Is(err, sql.ErrNoRows) {
			return "", nil
		}
		return kind, err
	}); err != nil {
		return err
	}
	for i, id := range inputs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO inventory_inputs (inventory_id, position, input_id, seen_generation) VALUES (?, ?, ?, ?)`,
			inv.ID, i, id, seen[id]); err != nil {
			return err
		}
	}
	inv.Inputs = slices.Clone(inputs)
	return nil
}

// inputOf refuses (ECONFLICT) to delete an inventory that is an input.
func inputOf(ctx context.Context, q querier, id string) error {
	var name string
	err := q.QueryRowContext(ctx, `SELECT i.name FROM inventory_inputs x JOIN inventories i ON i.id = x.inventory_id
		WHERE x.input_id = ? ORDER BY i.name LIMIT 1`, id).Scan(&name)
	if errors.Is(err, sql.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	return inputConflict(name)
}

// seeInputs records the input generations a derived inventory's run read.
func seeInputs(ctx context.Context, tx *sql.Tx, inventoryID string, gens map[string]int64) error {
	for id, gen := range gens {
		if _, err := tx.ExecContext(ctx, `UPDATE inventory_inputs SET seen_generation = ? WHERE inventory_id = ? AND input_id = ?`,
			gen, inventoryID, id); err != nil {
			return err
		}
	}
	return nil
}

// DerivedInputs implements roster.InventoryStore.
func (s *SQLite) DerivedInputs(ctx context.Context) (map[string][]string, error) {
	rows, err := s.rq.QueryContext(ctx, `SELECT inventory_id, input_id FROM inventory_inputs ORDER BY inventory_id, position`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string][]string{}
	for rows.Next() {
		var inv, input string
		if err := rows.Scan(&inv, &input); err != nil {
			return nil, err
		}
		out[inv] = append(out[inv], input)
	}
	return out, rows.Err()
}

// StaleDerived implements roster.InventoryStore.
func (s *SQLite) StaleDerived(ctx context.Context, inputID string) ([]string, error) {
	rows, err := s.rq.QueryContext(ctx, staleDerivedQuery("?"), inputID, inputID)
	return collectRows(rows, err, func(r interface{ Scan(...any) error }) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}
