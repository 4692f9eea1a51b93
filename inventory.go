package roster

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
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
	// NamePolicy says what Ansible's document of the inventory does with a
	// host name that several of its sources produce.
	NamePolicy NamePolicy
	// Kind is plain for an inventory its sources fill; smart or
	// constructed for one derived from other inventories, its Inputs. It
	// never changes after the inventory is made.
	Kind InventoryKind
	// Inputs are the ids of the inventories a derived inventory reads, in
	// order: Ansible's -i order, the order name_policy merge merges in.
	// Empty for a plain inventory.
	Inputs []string
	// Generation moves (it only grows) whenever what the inventory's
	// whole-inventory documents show changes: its hosts, their groups and
	// vars, group nesting and vars, its sources' names, its name, its
	// name policy and its Prometheus mapping. Readers cache documents by it.
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
	NamePolicy   *NamePolicy
	// Inputs replaces the inputs of a derived inventory, in order.
	Inputs *[]string
}

// InventoryKind says where an inventory's hosts come from.
type InventoryKind string

const (
	// KindPlain is filled by its own sources. The default.
	KindPlain InventoryKind = "plain"
	// KindSmart holds the hosts of its inputs that match a host filter
	// (AWX's smart inventory).
	KindSmart InventoryKind = "smart"
	// KindConstructed holds the hosts of its inputs with groups and vars
	// computed by Ansible's constructed plugin options (AWX's constructed
	// inventory).
	KindConstructed InventoryKind = "constructed"
)

// InventoryKinds lists the valid kinds, the default first.
var InventoryKinds = []InventoryKind{KindPlain, KindSmart, KindConstructed}

// Valid reports whether k is one of InventoryKinds.
func (k InventoryKind) Valid() bool { return slices.Contains(InventoryKinds, k) }

// Derived reports whether an inventory of kind k is derived from inputs:
// its one source is managed by Roster and reads the inputs.
func (k InventoryKind) Derived() bool { return k == KindSmart || k == KindConstructed }

// MaxInputs bounds the inputs of a derived inventory.
const MaxInputs = 32

// NamePolicy is what an inventory does with a host name that more than one
// of its sources produce. Ansible's inventory has one host per name, so
// the hosts cannot all appear under it; every policy reports the
// collisions (on the runs of the sources involved and by the store's
// HostNameConflicts), none merges them unseen.
type NamePolicy string

const (
	// NamesMerge does what Ansible does with two inventory sources naming
	// one host: one host, its groups the union of theirs, its vars merged
	// key by key with the later host's value winning (hosts ordered by
	// when Roster first saw them). The default.
	NamesMerge NamePolicy = "merge"
	// NamesPrefix names every host of the inventory "<source>_<name>", so
	// no two sources can collide and no name changes when another source
	// gains a host; a host without ansible_host gets its own name as
	// ansible_host, so Ansible still connects to it.
	NamesPrefix NamePolicy = "prefix"
	// NamesFirst keeps the host that held the name first; the later ones
	// are left out of Ansible's document (REST reads still list them).
	NamesFirst NamePolicy = "first"
	// NamesFail fails a sync that would give a host a name another source
	// of the inventory already has, changing nothing. Collisions present
	// when the policy is chosen are shown as NamesFirst shows them.
	NamesFail NamePolicy = "fail"
)

// NamePolicies lists the valid policies, the default first.
var NamePolicies = []NamePolicy{NamesMerge, NamesPrefix, NamesFirst, NamesFail}

// Valid reports whether p is one of NamePolicies.
func (p NamePolicy) Valid() bool { return slices.Contains(NamePolicies, p) }

// NameConflict is a host name that hosts of more than one source of an
// inventory have.
type NameConflict struct {
	Name string
	// Sources are the names of the sources with a host of that name, in
	// the order their hosts were first seen.
	Sources []string
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
	// An inventory that is the input of a derived one is not deleted
	// (ECONFLICT naming that inventory).
	DeleteInventory(ctx context.Context, id string) error
	// StaleDerived lists the derived inventories that have an input whose
	// generation moved past the one their last successful run read
	// (HostChanges.InputGenerations); only those reading inputID, unless
	// it is empty.
	StaleDerived(ctx context.Context, inputID string) ([]string, error)
	// DerivedInputs maps every derived inventory to its inputs, in order.
	DerivedInputs(ctx context.Context) (map[string][]string, error)
}
