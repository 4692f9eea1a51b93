// Package sources holds the contract between Roster's sync engine and the
// cloud providers, and the helpers every provider shares.
//
// A provider only fetches and translates: it lists its scopes (regions,
// projects, subscriptions, clouds) and, for one scope, every instance with
// the host vars the matching Ansible inventory plugin would emit. Naming,
// grouping, compose and the enabled flag's final say happen once, in the
// engine and the construct step.
package sources

import (
	"context"
	"log/slog"

	"github.com/rosterhq/roster"
)

// Instance is one machine as a provider reports it.
type Instance struct {
	// ExternalID is the provider's stable id for the machine.
	ExternalID string
	// Hostnames holds, in the source's order of preference, the names the
	// instance has for each hostname preference ("" where it has none).
	// The engine takes the first non-empty one, or falls back to
	// ExternalID and says so in the run's warnings.
	Hostnames []string
	// AllNames makes the instance a host under each of its distinct
	// Hostnames, not only the first, and lets its names be other
	// instances' too (Ansible then sees one host of each name, their
	// vars merged): aws_ec2's allow_duplicated_hosts.
	AllNames bool
	// Address is the address to reach the instance at when neither the
	// host vars nor compose set ansible_host: public if it has one, else
	// private.
	Address string
	// Enabled is derived from the instance state (running = enabled).
	Enabled bool
	// Groups are groups the plugin puts every host in (aws_ec2 puts each in
	// "aws_ec2"), before the construct step adds its own.
	Groups []string
	// VarsPrefix and VarsSuffix wrap the names of Vars before the
	// construct step runs, as aws_ec2's hostvars_prefix and
	// hostvars_suffix do: compose, groups and keyed_groups see the wrapped
	// names; composed vars are not wrapped.
	VarsPrefix, VarsSuffix string
	// ComposeSeesUnwrapped changes what the construct step sees of
	// wrapped Vars to what gcp_compute's vars_prefix gives it: compose
	// sees the names unwrapped (the plugin hands it the instance), groups
	// and keyed_groups both unwrapped and wrapped (ansible-core adds the
	// host's inventory vars there). The stored names are wrapped.
	ComposeSeesUnwrapped bool
	// Vars are the host vars in the Ansible plugin's shape. Values are
	// JSON-compatible: string, bool, float64/int/int64, nil, []any,
	// map[string]any, and construct.Datetime where the plugin hands
	// templates a Python datetime (aws_ec2's launch_time); it encodes as
	// the isoformat() text ansible-inventory prints.
	Vars map[string]any
	// DefaultVars are host vars the plugin sets on the host without
	// handing them to hostnames, filters or compose (azure_rm's
	// ansible_host); groups and keyed_groups see them, as ansible-core
	// adds the host's vars for those. The engine stores them unless Vars
	// or compose set the same name: a composed ansible_host wins, as in
	// the plugin. Not wrapped by VarsPrefix.
	DefaultVars map[string]any
	// ComposeSeesInventoryVars lets compose see inventory_hostname,
	// inventory_hostname_short and group_names too, as the constructed
	// plugin's compose does (the cloud plugins' compose sees the
	// instance only); they are never stored.
	ComposeSeesInventoryVars bool
	// GroupNames, when set, is what group_names lists for the construct
	// step instead of Groups: a host read from an inventory with nested
	// groups is in their parents too, as Ansible's group_names says.
	GroupNames []string
	// Edges nest groups of the host under others (the group children of
	// an inventory a derived inventory reads), besides keyed_groups'
	// parent_group.
	Edges []roster.GroupEdge
}

// MagicGroupNames is the group_names the construct step sees.
func (i *Instance) MagicGroupNames() []string {
	if i.GroupNames != nil {
		return i.GroupNames
	}
	return i.Groups
}

// Provider fetches instances from one configured source.
type Provider interface {
	// Scopes lists the units fetched independently, e.g. regions.
	Scopes(ctx context.Context) ([]string, error)
	// Collect returns every instance of one scope, or an error: never a
	// partial list. A scope that fails keeps its stored hosts untouched.
	Collect(ctx context.Context, scope string) ([]Instance, error)
}

// SourceOpener is a Driver whose providers need the source itself, not
// only its options: a derived inventory's source reads its inventory's
// inputs. The registry calls OpenSource instead of Open.
type SourceOpener interface {
	OpenSource(ctx context.Context, src *roster.Source, config map[string]any, log *slog.Logger) (Provider, error)
}

// InputReporter is a Provider that read other inventories (a derived
// inventory's): the generations it read (input id → generation) are
// recorded with the run's changes, so that a newer input is known stale.
type InputReporter interface {
	InputGenerations() map[string]int64
}

// HostLimiter is a Provider that keeps only some of the constructed
// hosts (a constructed inventory's limit): Keep is asked with each host's
// name, its groups once constructed, and the group edges that reach it
// (its keyed groups' parent_group).
type HostLimiter interface {
	Keep(name string, groups []string, edges []roster.GroupEdge) bool
}

// Noter is a Provider with remarks on the sync it is opened for (what
// it leaves out, and why), known once its Scopes are: they join the
// run's warnings.
type Noter interface {
	Notes() []string
}

// PageCollector is a Provider that hands a scope's instances over a page
// at a time, as it decodes them: a sync then holds a page of raw instances
// per scope in flight, not the scope. A scope still fails as a whole: the
// pages handed over before an error are thrown away.
type PageCollector interface {
	// CollectPages calls page with each page of the scope's instances, in
	// order, and stops at the first error, its own or page's. page may
	// keep nothing of the slice: the provider may reuse it.
	CollectPages(ctx context.Context, scope string, page func([]Instance) error) error
}

// Driver builds providers of one kind from a source's configuration.
type Driver interface {
	// Name is the provider name sources use ("aws", "gcp", ...).
	Name() string
	// PluginNames are the Ansible plugin names a pasted plugin file may
	// carry in its "plugin" key (e.g. "amazon.aws.aws_ec2", "aws_ec2").
	PluginNames() []string
	// Validate checks the provider's options. config holds no construct
	// options. Errors are *roster.Error with fields relative to config.
	Validate(config map[string]any) error
	// Open returns a provider for a validated config and, when the source
	// names one, its credential from the broker (nil otherwise: the
	// provider's environment / default chain).
	Open(ctx context.Context, config map[string]any, cred *Credential, log *slog.Logger) (Provider, error)
}

// SecretHolder is implemented by drivers whose plugin options can hold
// secrets, which the driver refuses in a source's config (they belong
// in a credential). Each is a dotted path into the config, "*" standing
// for any key (clouds.*.auth.password).
type SecretHolder interface {
	SecretOptions() []string
}

// CredentialRouter is implemented by drivers with options that decide
// where a source's credentials are sent (endpoint overrides, token URLs,
// files read on the server). Whoever sets them could collect the
// credential, so only admins may set or change them.
type CredentialRouter interface {
	CredentialRoutingOptions() []string
}

// StrictComposer is implemented by drivers whose plugin fails on a
// compose error whatever strict says: openstack.cloud 2.x composes with
// strict=True (plugins/inventory/openstack.py, _add_host).
type StrictComposer interface {
	StrictCompose() bool
}

// ConstructAliaser is implemented by drivers whose plugin names the
// constructed options differently (azure_rm's conditional_groups and
// hostvar_expressions): the registry renames them before splitting.
type ConstructAliaser interface {
	ConstructAliases() map[string]string
}

// Credential is a source's credential, obtained from the broker for one
// sync and held in memory for that sync only.
type Credential struct {
	Type   roster.CredentialType
	Fields map[string]roster.Secret
}

// Field returns the value of a field ("" when unset).
func (c *Credential) Field(name string) roster.Secret {
	if c == nil {
		return ""
	}
	return c.Fields[name]
}
