package roster

import (
	"context"
	"encoding/json"
	"regexp"
	"time"
)

// Inventory is a named collection of hosts and groups, filled by sources.
type Inventory struct {
	ID          string
	Name        string
	Description string
	// PrometheusSD maps hosts to Prometheus targets (the JSON of a
	// promsd.Mapping); nil when the inventory has none.
	PrometheusSD json.RawMessage
	// Generation moves (it only grows) whenever what the inventory's
	// whole-inventory documents show changes: its hosts, their groups and
	// vars, group nesting and vars, its sources' names, its name and its
	// Prometheus mapping. Readers cache documents by it.
	Generation int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// InventoryUpdate holds the fields of a partial update; nil leaves a field as is.
type InventoryUpdate struct {
	Name        *string
	Description *string
	// PrometheusSD replaces the mapping; a pointer to nil removes it.
	PrometheusSD *json.RawMessage
}

var (
	namePattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$`)
	idPattern   = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

// ValidateName checks a user-chosen name of an inventory, source, token or
// credential. Names appear in URLs, CLI flags and environment variables,
// so they are kept to a conservative alphabet; and since references accept
// an id or a name, a name may not look like an id.
func ValidateName(field, name string) *FieldError {
	switch {
	case !namePattern.MatchString(name):
		return &FieldError{Field: field, Message: "must be 1-63 characters of letters, digits, '.', '_' or '-', starting with a letter or digit"}
	case idPattern.MatchString(name):
		return &FieldError{Field: field, Message: "must not look like an id (a UUID)"}
	}
	return nil
}

// InventoryStore persists inventories.
type InventoryStore interface {
	CreateInventory(ctx context.Context, inv *Inventory) error
	// Inventory finds an inventory by id or by name.
	Inventory(ctx context.Context, idOrName string) (*Inventory, error)
	Inventories(ctx context.Context) ([]*Inventory, error)
	UpdateInventory(ctx context.Context, id string, upd InventoryUpdate) (*Inventory, error)
	// DeleteInventory deletes an inventory with its sources, hosts and runs.
	DeleteInventory(ctx context.Context, id string) error
}
