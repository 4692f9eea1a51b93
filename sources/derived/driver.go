// Package derived is the provider of smart and constructed inventories:
// inventories whose hosts come from other inventories (their inputs)
// rather than from a cloud. A derived inventory has one source, managed by
// Roster, whose provider reads the inputs from the store, names their
// hosts as each input's Ansible view does, combines hosts named alike in
// several inputs by the derived inventory's name policy, and hands them to
// the sync engine as instances. The engine then does what it does for any
// source: the construct step (compose, groups, keyed_groups of a
// constructed inventory, with the server's budgets), the diff against the
// stored hosts, one transaction, history, generations. Reads of a derived
// inventory therefore cost what reads of a plain one do.
//
// A smart inventory keeps the hosts its host_filter matches (filter.go); a
// constructed one runs Ansible's constructed plugin options over them and
// keeps those its limit selects (pattern.go).
package derived

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// Provider names.
const (
	Smart       = "smart"
	Constructed = "constructed"
)

// Store is what the provider reads of the inputs.
type Store interface {
	Inventory(ctx context.Context, idOrName string) (*roster.Inventory, error)
	Sources(ctx context.Context, inventoryID string) ([]*roster.Source, error)
	WalkInventory(ctx context.Context, inventoryID string, host func(*roster.Host) error, group func(*roster.Group) error) (int64, error)
}

// Driver is the sources.Driver of one kind of derived inventory.
type Driver struct {
	kind  roster.InventoryKind
	store Store
}

// NewDrivers returns the drivers of smart and constructed inventories,
// reading inputs from store.
func NewDrivers(store Store) []sources.Driver {
	return []sources.Driver{&Driver{kind: roster.KindSmart, store: store}, &Driver{kind: roster.KindConstructed, store: store}}
}

// Providers lists the provider names the derived drivers serve: sources
// of these are Roster's, made with their inventory, never by hand.
var Providers = []string{Smart, Constructed}

// Name implements sources.Driver.
func (d *Driver) Name() string { return string(d.kind) }

// PluginNames implements sources.Driver: a constructed inventory's
// definition is the constructed plugin's file.
func (d *Driver) PluginNames() []string {
	if d.kind == roster.KindConstructed {
		return []string{"constructed", "ansible.builtin.constructed"}
	}
	return nil
}

// Options are a derived source's own options (the construct options go
// to the construct step).
type Options struct {
	HostFilter     string `json:"host_filter,omitempty"`
	Limit          string `json:"limit,omitempty"`
	UseVarsPlugins *bool  `json:"use_vars_plugins,omitempty"`
	UseExtraVars   *bool  `json:"use_extra_vars,omitempty"`
}

// Validate implements sources.Driver.
func (d *Driver) Validate(config map[string]any) error {
	_, err := d.options(config)
	return err
}

func (d *Driver) options(config map[string]any) (*Options, error) {
	var o Options
	if err := sources.Decode(config, &o); err != nil {
		return nil, err
	}
	var errs roster.FieldErrors
	switch d.kind {
	case roster.KindSmart:
		if o.HostFilter == "" {
			errs.Add("host_filter", "a smart inventory needs a host filter")
		} else if _, err := ParseFilter(o.HostFilter); err != nil {
			errs.Add("host_filter", "%s", err.Error())
		}
		if o.Limit != "" {
			errs.Add("limit", "only a constructed inventory has a limit")
		}
		if o.UseVarsPlugins != nil || o.UseExtraVars != nil {
			errs.Add("use_vars_plugins", "only a constructed inventory has constructed options")
		}
	case roster.KindConstructed:
		if o.HostFilter != "" {
			errs.Add("host_filter", "only a smart inventory has a host filter")
		}
		if o.Limit != "" {
			if _, err := ParsePattern(o.Limit); err != nil {
				errs.Add("limit", "%s", err.Error())
			}
		}
		if o.UseVarsPlugins != nil && *o.UseVarsPlugins {
			errs.Add("use_vars_plugins", "Roster has no vars plugins (host_vars/group_vars directories); only false is accepted")
		}
		if o.UseExtraVars != nil && *o.UseExtraVars {
			errs.Add("use_extra_vars", "Roster has no extra vars; only false is accepted")
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return &o, nil
}

// Open implements sources.Driver; the registry calls OpenSource instead.
func (d *Driver) Open(context.Context, map[string]any, *sources.Credential, *slog.Logger) (sources.Provider, error) {
	return nil, fmt.Errorf("a %s source is opened with its source", d.kind)
}

// OpenSource implements sources.SourceOpener: the provider reads the
// inputs of the source's inventory.
func (d *Driver) OpenSource(ctx context.Context, src *roster.Source, config map[string]any, log *slog.Logger) (sources.Provider, error) {
	o, err := d.options(config)
	if err != nil {
		return nil, err
	}
	p := &provider{kind: d.kind, store: d.store, inventoryID: src.InventoryID, log: log}
	if o.HostFilter != "" {
		p.filter, _ = ParseFilter(o.HostFilter)
	}
	if o.Limit != "" {
		p.limit, _ = ParsePattern(o.Limit)
	}
	return p, nil
}
