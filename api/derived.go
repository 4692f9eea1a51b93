package api

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources/derived"
)

// Smart and constructed inventories (issue 19). Such an inventory has one
// source, made and changed with the inventory, named and provided after
// its kind; its config holds the definition (host_filter; or the
// constructed options and limit), its inputs are the store's. Every read
// path serves its hosts as any inventory's.

// derivedDef is the definition of a derived inventory as a request gives it.
type derivedDef struct {
	inputs     *[]string
	hostFilter *string
	sourceVars *map[string]any
	limit      *string
}

func (d derivedDef) empty() bool {
	return d.inputs == nil && d.hostFilter == nil && d.sourceVars == nil && d.limit == nil
}

// refuseOnPlain refuses a derived definition for a plain inventory.
func refuseOnPlain(errs *roster.FieldErrors, d derivedDef) {
	for field, set := range map[string]bool{"inputs": d.inputs != nil, "host_filter": d.hostFilter != nil, "source_vars": d.sourceVars != nil, "limit": d.limit != nil} {
		if set {
			errs.Add(field, "only a smart or constructed inventory has %s (set kind when making it)", field)
		}
	}
	slices.SortFunc(*errs, func(a, b roster.FieldError) int { return strings.Compare(a.Field, b.Field) })
}

// resolveInputs finds the inputs a request names (id or name), each one an
// inventory the caller may see: nobody materialises into an inventory of
// theirs what they may not read. An unknown and a hidden input answer
// alike.
func (s *Server) resolveInputs(ctx context.Context, errs *roster.FieldErrors, refs []string) []string {
	ids := make([]string, 0, len(refs))
	for i, ref := range refs {
		inv, err := s.inventory(ctx, ref)
		switch {
		case roster.ErrorCode(err) == roster.ENOTFOUND:
			errs.Add(fmt.Sprintf("inputs[%d]", i), "inventory %q not found", ref)
		case err != nil:
			errs.Merge(fmt.Sprintf("inputs[%d]", i), err)
		case inv.Kind.Derived():
			errs.Add(fmt.Sprintf("inputs[%d]", i), "a %s inventory cannot be an input; name its inputs instead", inv.Kind)
		default:
			ids = append(ids, inv.ID)
		}
	}
	return ids
}

// derivedConfig makes the managed source's config of a derived inventory
// of kind from old (nil for a new one) and the request's changes, checked
// by the provider's driver; field errors are named as in the request.
func (s *Server) derivedConfig(errs *roster.FieldErrors, kind roster.InventoryKind, old map[string]any, d derivedDef) map[string]any {
	config := map[string]any{}
	switch kind {
	case roster.KindSmart:
		if d.sourceVars != nil {
			errs.Add("source_vars", "only a constructed inventory has source_vars")
		}
		if d.limit != nil {
			errs.Add("limit", "only a constructed inventory has a limit")
		}
		if f, ok := old["host_filter"]; ok {
			config["host_filter"] = f
		}
		if d.hostFilter != nil {
			config["host_filter"] = *d.hostFilter
		}
	case roster.KindConstructed:
		if d.hostFilter != nil {
			errs.Add("host_filter", "only a smart inventory has a host filter")
		}
		if old != nil {
			config = maps.Clone(old)
		}
		if d.sourceVars != nil {
			limit := config["limit"]
			config = maps.Clone(*d.sourceVars)
			if _, ok := config["limit"]; ok {
				errs.Add("source_vars.limit", "give the limit as the inventory's limit")
			}
			delete(config, "limit")
			if limit != nil {
				config["limit"] = limit
			}
		}
		if d.limit != nil {
			delete(config, "limit")
			if *d.limit != "" {
				config["limit"] = *d.limit
			}
		}
	}
	if len(*errs) > 0 {
		return nil
	}
	for _, fe := range roster.ErrorFields(s.engine.Registry().Validate(string(kind), config)) {
		field := strings.TrimPrefix(strings.TrimPrefix(fe.Field, "config"), ".")
		switch {
		case field == "host_filter" || field == "limit":
		case field == "":
			field = "source_vars"
		default:
			field = "source_vars." + field
		}
		errs.Add(field, "%s", fe.Message)
	}
	return config
}

// managedSource returns a derived inventory's source.
func (s *Server) managedSource(ctx context.Context, inv *roster.Inventory) (*roster.Source, error) {
	srcs, err := s.store.Sources(ctx, inv.ID)
	if err != nil {
		return nil, err
	}
	for _, src := range srcs {
		if src.Provider == string(inv.Kind) {
			return src, nil
		}
	}
	return nil, roster.Errorf(roster.ECONFLICT, "inventory %q has lost its %s source; delete it and make it again", inv.Name, inv.Kind)
}

// createDerived makes a derived inventory and its source, and asks for
// its first run.
func (s *Server) createDerived(ctx context.Context, inv *roster.Inventory, d derivedDef) error {
	var errs roster.FieldErrors
	if d.inputs == nil || len(*d.inputs) == 0 {
		errs.Add("inputs", "a %s inventory needs at least one input", inv.Kind)
	} else {
		inv.Inputs = s.resolveInputs(ctx, &errs, *d.inputs)
	}
	config := s.derivedConfig(&errs, inv.Kind, nil, d)
	if err := errs.Err(); err != nil {
		return err
	}
	if err := s.store.CreateInventory(ctx, inv); err != nil {
		return err
	}
	src := &roster.Source{InventoryID: inv.ID, Name: string(inv.Kind), Provider: string(inv.Kind), Config: config,
		OnMissing: roster.OnMissingRemove, ScheduleJitter: roster.DefaultJitter}
	if err := s.store.CreateSource(ctx, src); err != nil {
		// Not one transaction: undo the inventory rather than leave it
		// without its source.
		if derr := s.store.DeleteInventory(context.WithoutCancel(ctx), inv.ID); derr != nil {
			s.log.Error("removing an inventory whose source could not be made failed", "inventory", inv.ID, "err", derr)
		}
		return err
	}
	s.syncDerived(ctx, src)
	return nil
}

// updateDerived checks a change of a derived inventory's inputs and
// definition: the inputs go into upd, the source's new config (nil when
// unchanged) is returned, to be written once the inventory's update is.
func (s *Server) updateDerived(ctx context.Context, inv *roster.Inventory, upd *roster.InventoryUpdate, d derivedDef) (*roster.Source, map[string]any, error) {
	src, err := s.managedSource(ctx, inv)
	if err != nil {
		return nil, nil, err
	}
	var errs roster.FieldErrors
	if d.inputs != nil {
		ids := s.resolveInputs(ctx, &errs, *d.inputs)
		upd.Inputs = &ids
	}
	var config map[string]any
	if d.hostFilter != nil || d.sourceVars != nil || d.limit != nil {
		config = s.derivedConfig(&errs, inv.Kind, src.Config, d)
	}
	if err := errs.Err(); err != nil {
		return nil, nil, err
	}
	return src, config, nil
}

// syncDerived asks for a run of a derived inventory's source, best
// effort: the scheduler's look for stale inventories catches a failure.
func (s *Server) syncDerived(ctx context.Context, src *roster.Source) {
	if _, _, err := s.engine.Trigger(ctx, src, roster.TriggerAPI); err != nil {
		s.log.Warn("asking for the run of a derived inventory failed", "inventory", src.InventoryID, "err", err)
	}
}

// derivedOut adds a derived inventory's definition to its wire form.
func (s *Server) derivedOut(ctx context.Context, inv *roster.Inventory, out *Inventory) error {
	kind := InventoryKind(inv.Kind)
	if kind == "" {
		kind = Plain
	}
	out.Kind = &kind
	if !inv.Kind.Derived() {
		return nil
	}
	ids := slices.Clone(inv.Inputs)
	out.Inputs = &ids
	names := make([]string, len(ids))
	for i, id := range ids {
		if in, err := s.store.Inventory(ctx, id); err == nil {
			names[i] = in.Name
		} else if roster.ErrorCode(err) != roster.ENOTFOUND {
			return err
		}
	}
	out.InputNames = &names
	src, err := s.managedSource(ctx, inv)
	if err != nil {
		return err
	}
	switch inv.Kind {
	case roster.KindSmart:
		if f, ok := src.Config["host_filter"].(string); ok {
			out.HostFilter = &f
		}
	case roster.KindConstructed:
		vars := maps.Clone(src.Config)
		if l, ok := vars["limit"].(string); ok {
			out.Limit = &l
		}
		delete(vars, "limit")
		out.SourceVars = &vars
	}
	return nil
}

// refuseManaged refuses to make a source of a derived provider, or any
// source in a derived inventory: the inventory manages its one source.
func refuseManaged(inv *roster.Inventory, provider string) error {
	if inv.Kind.Derived() {
		return roster.Invalid(roster.FieldError{Field: "inventory", Message: fmt.Sprintf("a %s inventory has only the source Roster manages for it; change the inventory's inputs or definition instead", inv.Kind)})
	}
	if slices.Contains(derived.Providers, provider) {
		return roster.Invalid(roster.FieldError{Field: "provider", Message: fmt.Sprintf("%s sources are made with a %s inventory (kind: %s), not by hand", provider, provider, provider)})
	}
	return nil
}

// inputNameConflicts lists, by name, up to limit host names that hosts of
// more than one input of a derived inventory have (as each input's
// Ansible view names them: its name policy, enabled hosts), with the
// inputs' names in input order, and how many there are. It walks the
// inputs: a diagnosis, not a read path.
func (s *Server) inputNameConflicts(ctx context.Context, inv *roster.Inventory, limit int) ([]roster.NameConflict, int, error) {
	in := map[string][]string{}
	for _, id := range inv.Inputs {
		input, err := s.store.Inventory(ctx, id)
		if err != nil {
			return nil, 0, err
		}
		naming, err := s.hostNaming(ctx, input)
		if err != nil {
			return nil, 0, err
		}
		_, err = s.store.WalkInventory(ctx, id, func(h *roster.Host) error {
			if !h.Enabled {
				return nil
			}
			name := naming.name(h)
			if list := in[name]; len(list) == 0 || list[len(list)-1] != input.Name {
				in[name] = append(list, input.Name)
			}
			return nil
		}, func(*roster.Group) error { return nil })
		if err != nil {
			return nil, 0, err
		}
	}
	var names []string
	for name, inputs := range in {
		if len(inputs) > 1 {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	out := make([]roster.NameConflict, 0, min(limit, len(names)))
	for _, name := range names[:min(limit, len(names))] {
		out = append(out, roster.NameConflict{Name: name, Sources: in[name]})
	}
	return out, len(names), nil
}
