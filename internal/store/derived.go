package store

import (
	"context"
	"fmt"
	"slices"

	"github.com/rosterhq/roster"
)

// The inputs of derived inventories (smart, constructed): inventory_inputs,
// migration 0020. The helpers run in the caller's conn (a transaction when
// they write), so an inventory's inputs change with the inventory.

// loadInputs reads the inputs of inv, in order, when it is derived.
func (s *db) loadInputs(ctx context.Context, c conn, inv *roster.Inventory) error {
	if !inv.Kind.Derived() {
		return nil
	}
	rs, err := c.query(ctx, `SELECT input_id FROM inventory_inputs WHERE inventory_id = $1 ORDER BY position`, inv.ID)
	ids, err := scanAll(rs, err, scanString)
	inv.Inputs = ids
	return err
}

func scanString(r row) (string, error) {
	var v string
	return v, r.Scan(&v)
}

// loadAllInputs reads the inputs of every derived inventory of invs.
func (s *db) loadAllInputs(ctx context.Context, c conn, invs []*roster.Inventory) error {
	if !slices.ContainsFunc(invs, func(inv *roster.Inventory) bool { return inv.Kind.Derived() }) {
		return nil
	}
	byID := make(map[string]*roster.Inventory, len(invs))
	for _, inv := range invs {
		byID[inv.ID] = inv
	}
	return s.eachInput(ctx, c, func(inv, input string) {
		if i := byID[inv]; i != nil {
			i.Inputs = append(i.Inputs, input)
		}
	})
}

// eachInput calls fn with every input of every derived inventory, by
// inventory and in order.
func (s *db) eachInput(ctx context.Context, c conn, fn func(inv, input string)) error {
	rs, err := c.query(ctx, `SELECT inventory_id, input_id FROM inventory_inputs ORDER BY inventory_id, position`)
	if err != nil {
		return err
	}
	defer rs.Close()
	for rs.Next() {
		var inv, input string
		if err := rs.Scan(&inv, &input); err != nil {
			return err
		}
		fn(inv, input)
	}
	return rs.Err()
}

// setInputs replaces the inputs of inv with inputs, in c's transaction,
// keeping the generation last seen of those it had already (a new one is
// stale until a run reads it).
func (s *db) setInputs(ctx context.Context, c conn, inv *roster.Inventory, inputs []string) error {
	if !inv.Kind.Derived() {
		if len(inputs) > 0 {
			return roster.Invalid(roster.FieldError{Field: "inputs", Message: "only a smart or constructed inventory has inputs"})
		}
		return nil
	}
	seen := map[string]int64{}
	rs, err := c.query(ctx, `SELECT input_id, seen_generation FROM inventory_inputs WHERE inventory_id = $1`, inv.ID)
	if err != nil {
		return err
	}
	for rs.Next() {
		var id string
		var gen int64
		if err := rs.Scan(&id, &gen); err != nil {
			rs.Close()
			return err
		}
		seen[id] = gen
	}
	rs.Close()
	if err := rs.Err(); err != nil {
		return err
	}
	if _, err := c.exec(ctx, `DELETE FROM inventory_inputs WHERE inventory_id = $1`, inv.ID); err != nil {
		return err
	}
	if err := checkInputs(inv, inputs, func(id string) (roster.InventoryKind, error) {
		var kind roster.InventoryKind
		// KEY SHARE: the input cannot be deleted before this commits.
		err := c.queryRow(ctx, `SELECT kind FROM inventories WHERE id = $1`+s.lockRows("KEY SHARE"), id).Scan(&kind)
		if isNoRows(err) {
			return "", nil
		}
		return kind, err
	}); err != nil {
		return err
	}
	for i, id := range inputs {
		if _, err := c.exec(ctx, `INSERT INTO inventory_inputs (inventory_id, position, input_id, seen_generation) VALUES ($1, $2, $3, $4)`,
			inv.ID, i, id, seen[id]); err != nil {
			return err
		}
	}
	inv.Inputs = slices.Clone(inputs)
	return nil
}

// inputOf refuses (ECONFLICT) to delete an inventory that is an input.
func (s *db) inputOf(ctx context.Context, c conn, id string) error {
	var name string
	err := c.queryRow(ctx, `SELECT i.name FROM inventory_inputs x JOIN inventories i ON i.id = x.inventory_id
		WHERE x.input_id = $1 ORDER BY i.name LIMIT 1`, id).Scan(&name)
	if isNoRows(err) {
		return nil
	} else if err != nil {
		return err
	}
	return inputConflict(name)
}

// seeInputs records the input generations a derived inventory's run read,
// in c's transaction.
func (s *db) seeInputs(ctx context.Context, c conn, inventoryID string, gens map[string]int64) error {
	for id, gen := range gens {
		if _, err := c.exec(ctx, `UPDATE inventory_inputs SET seen_generation = $1 WHERE inventory_id = $2 AND input_id = $3`,
			gen, inventoryID, id); err != nil {
			return err
		}
	}
	return nil
}

// DerivedInputs implements roster.InventoryStore.
func (s *db) DerivedInputs(ctx context.Context) (map[string][]string, error) {
	out := map[string][]string{}
	err := s.eachInput(ctx, s.r, func(inv, input string) { out[inv] = append(out[inv], input) })
	if err != nil {
		return nil, err
	}
	return out, nil
}

// StaleDerived implements roster.InventoryStore: the derived inventories
// with an input whose generation is past the one their last run read
// (of input inputID, or of any when it is "").
func (s *db) StaleDerived(ctx context.Context, inputID string) ([]string, error) {
	rs, err := s.r.query(ctx, `SELECT DISTINCT x.inventory_id FROM inventory_inputs x
		JOIN inventory_generations g ON g.inventory_id = x.input_id
		WHERE g.generation > x.seen_generation AND ($1 = '' OR x.input_id = $1)
		ORDER BY x.inventory_id`, inputID)
	return scanAll(rs, err, scanString)
}

// checkInputs checks the inputs of a derived inventory inv: at least one,
// at most roster.MaxInputs, none twice, each a plain inventory (no
// derived inventory of derived ones: no cycles, no chains of runs) that
// exists. kind answers "" for an inventory that does not exist.
func checkInputs(inv *roster.Inventory, inputs []string, kind func(id string) (roster.InventoryKind, error)) error {
	var errs roster.FieldErrors
	switch {
	case len(inputs) == 0:
		return roster.Invalid(roster.FieldError{Field: "inputs", Message: fmt.Sprintf("a %s inventory needs at least one input", inv.Kind)})
	case len(inputs) > roster.MaxInputs:
		return roster.Invalid(roster.FieldError{Field: "inputs", Message: fmt.Sprintf("at most %d inputs", roster.MaxInputs)})
	}
	seen := map[string]bool{}
	for i, id := range inputs {
		field := fmt.Sprintf("inputs[%d]", i)
		if seen[id] {
			errs = append(errs, roster.FieldError{Field: field, Message: "is already an input"})
			continue
		}
		seen[id] = true
		if id == inv.ID {
			errs = append(errs, roster.FieldError{Field: field, Message: "an inventory cannot be its own input"})
			continue
		}
		k, err := kind(id)
		switch {
		case err != nil:
			return err
		case k == "":
			errs = append(errs, roster.FieldError{Field: field, Message: fmt.Sprintf("inventory %q not found", id)})
		case k != roster.KindPlain:
			errs = append(errs, roster.FieldError{Field: field, Message: fmt.Sprintf("a %s inventory cannot be an input; name its inputs instead", k)})
		}
	}
	return errs.Err()
}

func inputConflict(derived string) error {
	return roster.Errorf(roster.ECONFLICT, "the inventory is an input of inventory %q; remove it from that inventory's inputs first", derived)
}
