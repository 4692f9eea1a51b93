package store

import (
	"fmt"

	"github.com/rosterhq/roster"
)

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

// staleDerivedQuery lists derived inventories with an input whose
// generation is past the one their last run read; p is the placeholder
// of the (twice given) input filter.
func staleDerivedQuery(p string) string {
	return `SELECT DISTINCT x.inventory_id FROM inventory_inputs x
		JOIN inventory_generations g ON g.inventory_id = x.input_id
		WHERE g.generation > x.seen_generation AND (` + p + ` = '' OR x.input_id = ` + p + `)
		ORDER BY x.inventory_id`
}
