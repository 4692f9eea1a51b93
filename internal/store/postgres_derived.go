package store

import (
	"context"
	"errors"
	"slices"

	"github.com/jackc/pgx/v5"

	"github.com/rosterhq/roster"
)

// The inputs of derived inventories on PostgreSQL (see sqlite_derived.go).

func pgLoadInputs(ctx context.Context, q pgQuerier, inv *roster.Inventory) error {
	if !inv.Kind.Derived() {
		return nil
	}
	rows, err := q.Query(ctx, `SELECT input_id FROM inventory_inputs WHERE inventory_id = $1 ORDER BY position`, inv.ID)
	ids, err := collect(rows, err, func(r pgx.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
	inv.Inputs = ids
	return err
}

func pgLoadAllInputs(ctx context.Context, q pgQuerier, invs []*roster.Inventory) error {
	if !slices.ContainsFunc(invs, func(inv *roster.Inventory) bool { return inv.Kind.Derived() }) {
		return nil
	}
	byID := make(map[string]*roster.Inventory, len(invs))
	for _, inv := range invs {
		byID[inv.ID] = inv
	}
	rows, err := q.Query(ctx, `SELECT inventory_id, input_id FROM inventory_inputs ORDER BY inventory_id, position`)
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

func pgSetInputs(ctx context.Context, tx pgx.Tx, inv *roster.Inventory, inputs []string) error {
	if !inv.Kind.Derived() {
		if len(inputs) > 0 {
			return roster.Invalid(roster.FieldError{Field: "inputs", Message: "only a smart or constructed inventory has inputs"})
		}
		return nil
	}
	seen := map[string]int64{}
	rows, err := tx.Query(ctx, `SELECT input_id, seen_generation FROM inventory_inputs WHERE inventory_id = $1`, inv.ID)
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
	if _, err := tx.Exec(ctx, `DELETE FROM inventory_inputs WHERE inventory_id = $1`, inv.ID); err != nil {
		return err
	}
	if err := checkInputs(inv, inputs, func(id string) (roster.InventoryKind, error) {
		var kind roster.InventoryKind
		// FOR KEY SHARE: the input cannot be deleted before this commits.
		err := tx.QueryRow(ctx, `SELECT kind FROM inventories WHERE id = $1 FOR KEY SHARE`, id).Scan(&kind)
		if errors.Is(err, pgx.ErrNoRows) {
			return "", nil
		}
		return kind, err
	}); err != nil {
		return err
	}
	for i, id := range inputs {
		if _, err := tx.Exec(ctx, `INSERT INTO inventory_inputs (inventory_id, position, input_id, seen_generation) VALUES ($1, $2, $3, $4)`,
			inv.ID, i, id, seen[id]); err != nil {
			return err
		}
	}
	inv.Inputs = slices.Clone(inputs)
	return nil
}

func pgInputOf(ctx context.Context, q pgQuerier, id string) error {
	var name string
	err := q.QueryRow(ctx, `SELECT i.name FROM inventory_inputs x JOIN inventories i ON i.id = x.inventory_id
		WHERE x.input_id = $1 ORDER BY i.name LIMIT 1`, id).Scan(&name)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil
	} else if err != nil {
		return err
	}
	return inputConflict(name)
}

func pgSeeInputs(ctx context.Context, tx pgx.Tx, inventoryID string, gens map[string]int64) error {
	for id, gen := range gens {
		if _, err := tx.Exec(ctx, `UPDATE inventory_inputs SET seen_generation = $1 WHERE inventory_id = $2 AND input_id = $3`,
			gen, inventoryID, id); err != nil {
			return err
		}
	}
	return nil
}

// DerivedInputs implements roster.InventoryStore.
func (s *Postgres) DerivedInputs(ctx context.Context) (map[string][]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT inventory_id, input_id FROM inventory_inputs ORDER BY inventory_id, position`)
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
func (s *Postgres) StaleDerived(ctx context.Context, inputID string) ([]string, error) {
	rows, err := s.pool.Query(ctx, staleDerivedQuery("$1"), inputID)
	return collect(rows, err, func(r pgx.Rows) (string, error) {
		var id string
		return id, r.Scan(&id)
	})
}
