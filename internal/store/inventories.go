package store

import (
	"context"
	"encoding/json"

	"github.com/rosterhq/roster"
)

// ---- inventories

const inventoryCols = `id, name, description, prometheus_sd, name_policy, kind, created_at, updated_at`

// scanInventory reads the columns of inventorySelect.
func scanInventory(r row) (*roster.Inventory, error) {
	var inv roster.Inventory
	var sd json.RawMessage
	if err := r.Scan(&inv.ID, &inv.Name, &inv.Description, &sd, &inv.NamePolicy, &inv.Kind, &inv.CreatedAt, &inv.UpdatedAt, &inv.Generation); err != nil {
		return nil, err
	}
	if sd != nil {
		inv.PrometheusSD = sd
	}
	return &inv, nil
}

// inventoryError maps the errors of a write of inv to roster errors.
func inventoryError(err error, inv *roster.Inventory) error {
	switch {
	case isUnique(err):
		return roster.Errorf(roster.ECONFLICT, "an inventory named %q already exists", inv.Name)
	case pgCode(err) == "22P02": // invalid_text_representation: not JSON (jsonb)
		return roster.Invalid(roster.FieldError{Field: "prometheus_sd", Message: "is not JSON"})
	}
	return err
}

// CreateInventory implements roster.InventoryStore.
func (s *db) CreateInventory(ctx context.Context, inv *roster.Inventory) error {
	now := storedTime(s.now())
	inv.ID, inv.CreatedAt, inv.UpdatedAt, inv.Generation = newID(), now, now, 1
	if inv.NamePolicy == "" {
		inv.NamePolicy = roster.NamesMerge
	}
	if inv.Kind == "" {
		inv.Kind = roster.KindPlain
	}
	return s.inTx(ctx, func(c conn) error {
		_, err := c.exec(ctx, `INSERT INTO inventories (`+inventoryCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			inv.ID, inv.Name, inv.Description, nullJSON(inv.PrometheusSD), inv.NamePolicy, inv.Kind, now, now)
		if err != nil {
			return inventoryError(err, inv)
		}
		if _, err = c.exec(ctx, `INSERT INTO inventory_generations (inventory_id, generation) VALUES ($1, $2)`, inv.ID, inv.Generation); err != nil {
			return err
		}
		return s.setInputs(ctx, c, inv, inv.Inputs)
	})
}

// Inventory implements roster.InventoryStore.
func (s *db) Inventory(ctx context.Context, idOrName string) (*roster.Inventory, error) {
	inv, err := byIDOrName(ctx, s.r, "inventories", inventorySelect, "inventory", idOrName, scanInventory)
	if err != nil {
		return nil, err
	}
	return inv, s.loadInputs(ctx, s.r, inv)
}

// Inventories implements roster.InventoryStore.
func (s *db) Inventories(ctx context.Context) ([]*roster.Inventory, error) {
	rs, err := s.r.query(ctx, `SELECT `+inventorySelect+` FROM inventories ORDER BY name`)
	invs, err := scanAll(rs, err, scanInventory)
	if err != nil {
		return nil, err
	}
	return invs, s.loadAllInputs(ctx, s.r, invs)
}

// UpdateInventory implements roster.InventoryStore.
func (s *db) UpdateInventory(ctx context.Context, id string, upd roster.InventoryUpdate) (*roster.Inventory, error) {
	var inv *roster.Inventory
	err := s.inTx(ctx, func(c conn) error {
		var err error
		inv, err = scanInventory(c.queryRow(ctx, `SELECT `+inventorySelect+` FROM inventories WHERE id = $1`+s.lockRows("UPDATE"), id))
		if isNoRows(err) {
			return notFound("inventory", id)
		} else if err != nil {
			return err
		}
		if err := s.loadInputs(ctx, c, inv); err != nil {
			return err
		}
		if upd.Inputs != nil {
			if err := s.setInputs(ctx, c, inv, *upd.Inputs); err != nil {
				return err
			}
		}
		shown := inventoryChangeShown(inv, upd)
		if upd.Name != nil {
			inv.Name = *upd.Name
		}
		if upd.Description != nil {
			inv.Description = *upd.Description
		}
		if upd.PrometheusSD != nil {
			inv.PrometheusSD = *upd.PrometheusSD
		}
		if upd.NamePolicy != nil {
			inv.NamePolicy = *upd.NamePolicy
		}
		inv.UpdatedAt = storedTime(s.now())
		_, err = c.exec(ctx, `UPDATE inventories SET name = $1, description = $2, prometheus_sd = $3, name_policy = $4, updated_at = $5 WHERE id = $6`,
			inv.Name, inv.Description, nullJSON(inv.PrometheusSD), inv.NamePolicy, inv.UpdatedAt, id)
		if err != nil {
			return inventoryError(err, inv)
		}
		if shown {
			inv.Generation, err = s.bumpGeneration(ctx, c, id)
		}
		return err
	})
	return inv, err
}

// DeleteInventory implements roster.InventoryStore.
func (s *db) DeleteInventory(ctx context.Context, id string) error {
	return s.inTx(ctx, func(c conn) error {
		// Lock the inventory and its sources first (see DeleteSource).
		if err := lockRow(ctx, c, `SELECT 1 FROM inventories WHERE id = $1`+s.lockRows("UPDATE"), "inventory", id); err != nil {
			return err
		}
		if err := s.inputOf(ctx, c, id); err != nil {
			return err
		}
		if lock := s.lockRows("UPDATE"); lock != "" { // SQLite's one writer excludes the others already.
			if _, err := c.exec(ctx, `SELECT 1 FROM sources WHERE inventory_id = $1`+lock, id); err != nil {
				return err
			}
		}
		for _, table := range []string{"inventory_inputs", "host_groups", "group_host_counts", "hosts"} {
			if _, err := c.exec(ctx, `DELETE FROM `+table+` WHERE inventory_id = $1`, id); err != nil {
				return err
			}
		}
		n, err := c.exec(ctx, `DELETE FROM inventories WHERE id = $1`, id)
		switch {
		case isForeignKey(err):
			return roster.Errorf(roster.ECONFLICT, "the inventory became an input of another inventory meanwhile; remove it from its inputs first")
		case err != nil:
			return err
		case n == 0:
			return notFound("inventory", id)
		}
		return nil
	})
}

// lockRow reads the row that q selects (locking it where the database
// locks rows: q ends with s.lockRows); ENOTFOUND naming what and id when
// there is none.
func lockRow(ctx context.Context, c conn, q, what, id string) error {
	var one int
	err := c.queryRow(ctx, q, id).Scan(&one)
	if isNoRows(err) {
		return notFound(what, id)
	}
	return err
}

// generationOf reads an inventory's generation in c's snapshot;
// ENOTFOUND when the inventory is gone.
func generationOf(ctx context.Context, c conn, inventoryID string) (int64, error) {
	var gen int64
	err := c.queryRow(ctx, `SELECT generation FROM inventory_generations WHERE inventory_id = $1`, inventoryID).Scan(&gen)
	if isNoRows(err) {
		return 0, notFound("inventory", inventoryID)
	}
	return gen, err
}
