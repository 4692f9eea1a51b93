package roster

import (
	"context"
	"time"
)

// Source is one cloud account (or project, subscription, cloud) feeding an
// inventory. Config holds the provider's options in the shape of the
// matching Ansible inventory plugin's YAML (regions, filters, hostnames,
// compose, groups, keyed_groups, ...), so a plugin file pastes in as is.
// It never holds a secret.
type Source struct {
	ID          string
	InventoryID string
	Name        string
	Provider    string
	Config      map[string]any
	// OnMissing says what a sync does with a host the provider no longer
	// reports: remove it, or keep it disabled.
	OnMissing OnMissing
	// CredentialID names the credential a sync obtains from the broker;
	// empty means the provider's environment / default chain.
	CredentialID string
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// OnMissing is a source's policy for hosts that disappeared.
type OnMissing string

const (
	OnMissingRemove  OnMissing = "remove"
	OnMissingDisable OnMissing = "disable"
)

// Valid reports whether m is a known policy.
func (m OnMissing) Valid() bool { return m == OnMissingRemove || m == OnMissingDisable }

// SourceUpdate holds the fields of a partial update; nil leaves a field as is.
type SourceUpdate struct {
	Name         *string
	Config       map[string]any
	OnMissing    *OnMissing
	CredentialID *string // "" detaches the credential
}

// SourceStore persists sources.
type SourceStore interface {
	CreateSource(ctx context.Context, src *Source) error
	// Source finds a source by id.
	Source(ctx context.Context, id string) (*Source, error)
	// SourceByName finds a source by name, within one inventory when
	// inventoryID is not empty. A name shared by sources of several
	// inventories is ECONFLICT when no inventory is given.
	SourceByName(ctx context.Context, inventoryID, name string) (*Source, error)
	Sources(ctx context.Context, inventoryID string) ([]*Source, error)
	UpdateSource(ctx context.Context, id string, upd SourceUpdate) (*Source, error)
	// DeleteSource deletes a source, its hosts and its runs.
	DeleteSource(ctx context.Context, id string) error
}
