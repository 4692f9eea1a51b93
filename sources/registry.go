package sources

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources/construct"
)

// Registry knows the providers a Roster build supports. A source's
// configuration is one flat map, like an Ansible inventory plugin file: the
// registry hands the construct options (compose, groups, keyed_groups,
// strict, ...) to the construct step and the rest to the provider's driver.
type Registry struct {
	drivers map[string]Driver
	limits  construct.Limits // zero: the defaults
}

// NewRegistry returns a registry of the given drivers.
func NewRegistry(drivers ...Driver) *Registry {
	r := &Registry{drivers: make(map[string]Driver, len(drivers))}
	for _, d := range drivers {
		r.drivers[d.Name()] = d
	}
	return r
}

// WithLimits returns a registry like r whose sources' expressions are held
// to limits, on save (Validate) and in syncs (Open).
func (r *Registry) WithLimits(limits construct.Limits) *Registry {
	c := *r
	c.limits = limits
	return &c
}

// With returns a registry like r that also knows drivers (those that need
// the store, known once it is open: the derived inventories').
func (r *Registry) With(drivers ...Driver) *Registry {
	c := *r
	c.drivers = maps.Clone(r.drivers)
	for _, d := range drivers {
		c.drivers[d.Name()] = d
	}
	return &c
}

// Names lists the provider names, sorted.
func (r *Registry) Names() []string { return slices.Sorted(maps.Keys(r.drivers)) }

// SecretOptions lists the options of provider that hold secrets (see
// SecretHolder), none for an unknown provider.
func (r *Registry) SecretOptions(provider string) []string {
	if h, ok := r.drivers[provider].(SecretHolder); ok {
		return h.SecretOptions()
	}
	return nil
}

// Driver returns the driver of a provider.
func (r *Registry) Driver(name string) (Driver, error) {
	d, ok := r.drivers[name]
	if !ok {
		return nil, roster.Invalid(roster.FieldError{
			Field:   "provider",
			Message: fmt.Sprintf("unknown provider %q; this Roster supports %s", name, strings.Join(r.Names(), ", ")),
		})
	}
	return d, nil
}

// split separates a source's configuration into the provider's options and
// the construct step's, after checking a pasted "plugin" key. The
// inventory_cache options every plugin documents go to neither: warnings
// say why they have no effect.
func split(d Driver, config map[string]any) (provider, constructed map[string]any, warnings []string, err error) {
	if a, ok := d.(ConstructAliaser); ok {
		config = maps.Clone(config) // never rename in the stored config
		if err := Aliases(config, a.ConstructAliases()); err != nil {
			return nil, nil, nil, err
		}
	}
	provider = make(map[string]any, len(config))
	constructed = make(map[string]any)
	own := construct.Keys()
	for k, v := range config {
		if slices.Contains(own, k) {
			constructed[k] = v
		} else {
			provider[k] = v
		}
	}
	var errs roster.FieldErrors
	warnings, err = takeCache(provider)
	errs.Merge("", err)
	errs.Merge("", SplitPlugin(provider, d))
	return provider, constructed, warnings, errs.Err()
}

// Validate checks a provider name and a source configuration; field errors
// are named "provider" or "config.<option>".
func (r *Registry) Validate(provider string, config map[string]any) error {
	d, err := r.Driver(provider)
	if err != nil {
		return err
	}
	var errs roster.FieldErrors
	popts, copts, _, err := split(d, config)
	errs.Merge("config", err)
	_, err = construct.ParseWithLimits(copts, r.limits)
	errs.Merge("config", err)
	errs.Merge("config", d.Validate(popts))
	return errs.Err()
}

// Warnings lists, for a configuration Validate accepts, the options it
// sets that have no effect in Roster (or act differently from the plugin),
// each with the reason: the cache options, and what the provider's driver
// reports. What it says of an invalid configuration is not meaningful.
func (r *Registry) Warnings(provider string, config map[string]any) []string {
	d, ok := r.drivers[provider]
	if !ok {
		return nil
	}
	popts, _, warnings, err := split(d, config)
	if err != nil {
		return nil
	}
	if w, ok := d.(Warner); ok {
		warnings = append(warnings, w.Warnings(popts)...)
	}
	return warnings
}

// RoutingOptions returns the options of config that decide where the
// provider's credentials are sent and differ from their value in previous
// (nil for a new source).
func (r *Registry) RoutingOptions(provider string, config, previous map[string]any) []string {
	d, ok := r.drivers[provider]
	if !ok {
		return nil
	}
	cr, ok := d.(CredentialRouter)
	if !ok {
		return nil
	}
	var changed []string
	for _, name := range cr.CredentialRoutingOptions() {
		v, set := config[name]
		old, was := previous[name]
		if set && (!was || fmt.Sprint(v) != fmt.Sprint(old)) || !set && was {
			changed = append(changed, name)
		}
	}
	return changed
}

// Open prepares one sync of a source: its provider (with its credential,
// nil for none) and its compiled construct step.
func (r *Registry) Open(ctx context.Context, src *roster.Source, cred *Credential, log *slog.Logger) (Provider, *construct.Constructor, error) {
	d, err := r.Driver(src.Provider)
	if err != nil {
		return nil, nil, err
	}
	popts, copts, _, err := split(d, src.Config)
	if err != nil {
		return nil, nil, err
	}
	c, err := construct.ParseWithLimits(copts, r.limits)
	if err != nil {
		return nil, nil, err
	}
	if sc, ok := d.(StrictComposer); ok && sc.StrictCompose() {
		c = c.WithStrictCompose()
	}
	if cred != nil && string(cred.Type) != d.Name() {
		return nil, nil, roster.Errorf(roster.EINVALID, "a %s source cannot sync with a %s credential", d.Name(), cred.Type)
	}
	var p Provider
	if so, ok := d.(SourceOpener); ok {
		p, err = so.OpenSource(ctx, src, popts, log)
	} else {
		p, err = d.Open(ctx, popts, cred, log)
	}
	if err != nil {
		return nil, nil, err
	}
	return p, c, nil
}
