package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/schedule"
	"github.com/rosterhq/roster/sources/derived"
)

// ---- health

// GetHealth implements StrictServerInterface.
func (s *Server) GetHealth(context.Context, GetHealthRequestObject) (GetHealthResponseObject, error) {
	return GetHealth200JSONResponse{Status: "ok"}, nil
}

// GetReady implements StrictServerInterface.
func (s *Server) GetReady(ctx context.Context, _ GetReadyRequestObject) (GetReadyResponseObject, error) {
	if s.draining.Load() {
		return nil, roster.Errorf(roster.EUNAVAILABLE, "the server is shutting down")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := s.store.Ping(ctx); err != nil {
		s.log.Warn("readiness check failed", "err", err)
		return nil, roster.Errorf(roster.EUNAVAILABLE, "the database does not answer")
	}
	return GetReady200JSONResponse{Status: "ok"}, nil
}

// ---- inventories

// ListInventories implements StrictServerInterface.
func (s *Server) ListInventories(ctx context.Context, _ ListInventoriesRequestObject) (ListInventoriesResponseObject, error) {
	invs, err := s.store.Inventories(ctx)
	if err != nil {
		return nil, err
	}
	if invs, err = visibleOnly(ctx, invs, func(ctx context.Context, inv *roster.Inventory) (bool, error) { return s.seesInventory(ctx, inv.ID) }); err != nil {
		return nil, err
	}
	out := ListInventories200JSONResponse{Items: make([]Inventory, len(invs))}
	for i, inv := range invs {
		if out.Items[i], err = s.inventoryOut(ctx, inv); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// CreateInventory implements StrictServerInterface.
func (s *Server) CreateInventory(ctx context.Context, req CreateInventoryRequestObject) (CreateInventoryResponseObject, error) {
	inv := &roster.Inventory{Name: req.Body.Name, Description: deref(req.Body.Description), NamePolicy: roster.NamesMerge}
	if req.Body.NamePolicy != nil {
		inv.NamePolicy = roster.NamePolicy(*req.Body.NamePolicy)
	}
	var errs roster.FieldErrors
	if fe := roster.ValidateName("name", inv.Name); fe != nil {
		errs = append(errs, *fe)
	}
	inv.PrometheusSD = mappingIn(&errs, req.Body.PrometheusSd)
	inv.Kind = roster.KindPlain
	if req.Body.Kind != nil {
		inv.Kind = roster.InventoryKind(*req.Body.Kind)
	}
	def := derivedDef{inputs: req.Body.Inputs, hostFilter: req.Body.HostFilter, sourceVars: req.Body.SourceVars, limit: req.Body.Limit}
	if !inv.Kind.Derived() {
		refuseOnPlain(&errs, def)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if inv.Kind.Derived() {
		if err := s.createDerived(ctx, inv, def); err != nil {
			return nil, err
		}
	} else if err := s.store.CreateInventory(ctx, inv); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "inventory.create", "inventory", inv.ID, inv.Name, inv.ID, nil)
	out, err := s.inventoryOut(ctx, inv)
	if err != nil {
		return nil, err
	}
	return CreateInventory201JSONResponse(out), nil
}

// GetInventory implements StrictServerInterface.
func (s *Server) GetInventory(ctx context.Context, req GetInventoryRequestObject) (GetInventoryResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	out, err := s.inventoryOut(ctx, inv)
	if err != nil {
		return nil, err
	}
	return GetInventory200JSONResponse(out), nil
}

// UpdateInventory implements StrictServerInterface.
func (s *Server) UpdateInventory(ctx context.Context, req UpdateInventoryRequestObject) (UpdateInventoryResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	upd := roster.InventoryUpdate{Name: req.Body.Name, Description: req.Body.Description}
	var errs roster.FieldErrors
	if req.Body.Name != nil {
		if fe := roster.ValidateName("name", *req.Body.Name); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if req.Body.PrometheusSd != nil {
		upd.PrometheusSD = ptr(mappingIn(&errs, req.Body.PrometheusSd))
	}
	if req.Body.NamePolicy != nil {
		upd.NamePolicy = ptr(roster.NamePolicy(*req.Body.NamePolicy))
	}
	def := derivedDef{inputs: req.Body.Inputs, hostFilter: req.Body.HostFilter, sourceVars: req.Body.SourceVars, limit: req.Body.Limit}
	if !inv.Kind.Derived() {
		refuseOnPlain(&errs, def)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	var managed *roster.Source
	var config map[string]any
	if inv.Kind.Derived() && !def.empty() {
		if managed, config, err = s.updateDerived(ctx, inv, &upd, def); err != nil {
			return nil, err
		}
	}
	before := inv.NamePolicy
	inv, err = s.store.UpdateInventory(ctx, inv.ID, upd)
	if err != nil {
		return nil, err
	}
	if config != nil {
		if _, err := s.store.UpdateSource(ctx, managed.ID, roster.SourceUpdate{Config: config}); err != nil {
			return nil, err
		}
	}
	if inv.Kind.Derived() && (managed != nil || inv.NamePolicy != before) {
		// Its hosts follow from its definition, inputs and name policy.
		if managed == nil {
			managed, err = s.managedSource(ctx, inv)
		}
		if err == nil {
			s.syncDerived(ctx, managed)
		}
	}
	s.auditChange(ctx, "inventory.update", "inventory", inv.ID, inv.Name, inv.ID, nil)
	out, err := s.inventoryOut(ctx, inv)
	if err != nil {
		return nil, err
	}
	return UpdateInventory200JSONResponse(out), nil
}

// ListNameConflicts implements StrictServerInterface.
func (s *Server) ListNameConflicts(ctx context.Context, req ListNameConflictsRequestObject) (ListNameConflictsResponseObject, error) {
	inv, view, err := s.inventoryHosts(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	limit := 100 // openapi.yaml's default
	if req.Params.Limit != nil {
		limit = *req.Params.Limit
	}
	conflicts, total, err := s.store.HostNameConflicts(ctx, inv.ID, limit)
	if inv.Kind.Derived() {
		// Between the inputs the caller may read.
		seen := *inv
		seen.Inputs = slices.DeleteFunc(slices.Clone(inv.Inputs), func(id string) bool { return view.partial() && !view.allowed[id] })
		conflicts, total, err = s.inputNameConflicts(ctx, &seen, limit)
	}
	if err != nil {
		return nil, err
	}
	out := ListNameConflicts200JSONResponse{Items: make([]NameConflict, len(conflicts)), Total: total, NamePolicy: NamePolicy(inv.NamePolicy)}
	for i, c := range conflicts {
		out.Items[i] = NameConflict{Name: c.Name, Sources: c.Sources}
	}
	return out, nil
}

// DeleteInventory implements StrictServerInterface.
func (s *Server) DeleteInventory(ctx context.Context, req DeleteInventoryRequestObject) (DeleteInventoryResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	if err := s.purgeWebhooks(ctx, roster.WebhookFilter{InventoryID: inv.ID}); err != nil {
		return nil, err
	}
	if err := s.store.DeleteInventory(ctx, inv.ID); err != nil {
		return nil, err
	}
	s.docs.forget(inv.ID)
	s.auditChange(ctx, "inventory.delete", "inventory", inv.ID, inv.Name, inv.ID, nil)
	return DeleteInventory204Response{}, nil
}

// ---- sources

// ListSources implements StrictServerInterface.
func (s *Server) ListSources(ctx context.Context, req ListSourcesRequestObject) (ListSourcesResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	srcs, err := s.store.Sources(ctx, inv.ID)
	if err != nil {
		return nil, err
	}
	out := ListSources200JSONResponse{Items: make([]Source, len(srcs))}
	for i, src := range srcs {
		out.Items[i] = s.sourceOut(src)
	}
	return out, nil
}

// CreateSource implements StrictServerInterface.
func (s *Server) CreateSource(ctx context.Context, req CreateSourceRequestObject) (CreateSourceResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	if err := refuseManaged(inv, req.Body.Provider); err != nil {
		return nil, err
	}
	src := &roster.Source{
		InventoryID: inv.ID,
		Name:        req.Body.Name,
		Provider:    req.Body.Provider,
		Config:      map[string]any{},
		OnMissing:   roster.OnMissingRemove,
	}
	if req.Body.Config != nil {
		src.Config = *req.Body.Config
	}
	if req.Body.OnMissing != nil {
		src.OnMissing = roster.OnMissing(*req.Body.OnMissing)
	}
	var errs roster.FieldErrors
	if fe := roster.ValidateName("name", src.Name); fe != nil {
		errs = append(errs, *fe)
	}
	errs.Merge("", s.engine.Registry().Validate(src.Provider, src.Config))
	if err := s.checkRoutingOptions(ctx, src.InventoryID, src.Provider, src.Config, nil); err != nil {
		return nil, err
	}
	if req.Body.Credential != nil && *req.Body.Credential != "" {
		id, err := s.sourceCredential(ctx, src.Provider, *req.Body.Credential)
		errs.Merge("credential", err)
		src.CredentialID = id
	}
	src.ScheduleJitter = roster.DefaultJitter
	spec, jitter, timeout, cache := scheduleFields(&errs, req.Body.Schedule, req.Body.ScheduleJitter, req.Body.Timeout, req.Body.UpdateCacheTimeout)
	if spec != nil {
		src.Schedule = *spec
	}
	if jitter != nil {
		src.ScheduleJitter = *jitter
	}
	if timeout != nil {
		src.Timeout = *timeout
	}
	if cache != nil {
		src.UpdateCacheTimeout = *cache
	}
	if err := schedule.CheckJitter(src.Schedule, src.ScheduleJitter, s.now()); err != nil {
		errs.Add("schedule_jitter", "%s", err.Error())
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if err := s.store.CreateSource(ctx, src); err != nil {
		return nil, err
	}
	if err := s.planSchedule(ctx, src); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "source.create", "source", src.ID, src.Name, inv.ID, map[string]string{"provider": src.Provider, "credential": src.CredentialID})
	return CreateSource201JSONResponse(s.sourceOut(src)), nil
}

// GetSource implements StrictServerInterface.
func (s *Server) GetSource(ctx context.Context, req GetSourceRequestObject) (GetSourceResponseObject, error) {
	src, err := s.source(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	return GetSource200JSONResponse(s.sourceOut(src)), nil
}

// UpdateSource implements StrictServerInterface.
func (s *Server) UpdateSource(ctx context.Context, req UpdateSourceRequestObject) (UpdateSourceResponseObject, error) {
	src, err := s.source(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	raw := req.ApplicationMergePatchPlusJSONBody
	if raw == nil {
		raw = req.JSONBody
	}
	if raw == nil {
		return nil, roster.Invalid(roster.FieldError{Field: "body", Message: "is required: a merge patch of the source"})
	}
	body, errs := sourceChangeIn(*raw, src)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	upd := roster.SourceUpdate{Name: body.Name}
	if upd.Name != nil {
		if fe := roster.ValidateName("name", *upd.Name); fe != nil {
			errs = append(errs, *fe)
		}
	}
	if body.Config != nil {
		// The merged configuration is checked as a whole, as a new
		// source's is, and so are the options that route credentials:
		// those it sets, changes or removes against the stored ones.
		upd.Config = *body.Config
		errs.Merge("", s.engine.Registry().Validate(src.Provider, upd.Config))
		if err := s.checkRoutingOptions(ctx, src.InventoryID, src.Provider, upd.Config, src.Config); err != nil {
			return nil, err
		}
	}
	if body.OnMissing != nil {
		m := roster.OnMissing(*body.OnMissing)
		upd.OnMissing = &m
	}
	if body.Credential != nil {
		id := ""
		if *body.Credential != "" {
			var err error
			id, err = s.sourceCredential(ctx, src.Provider, *body.Credential)
			errs.Merge("credential", err)
		}
		upd.CredentialID = &id
		// A source whose endpoint an admin set may be trusted with that
		// admin's credential, not with any other.
		cfg := src.Config
		if upd.Config != nil {
			cfg = upd.Config
		}
		if id != src.CredentialID && !s.isAdminOn(ctx, src.InventoryID) && len(s.engine.Registry().RoutingOptions(src.Provider, cfg, nil)) > 0 {
			return nil, &roster.Error{Code: roster.EFORBIDDEN, Message: "this change needs an admin token", Fields: []roster.FieldError{{
				Field: "credential", Message: "only an admin may change the credential of a source whose options decide where credentials are sent"}}}
		}
	}
	spec, jitter, timeout, cache := scheduleFields(&errs, body.Schedule, body.ScheduleJitter, body.Timeout, body.UpdateCacheTimeout)
	upd.Schedule, upd.ScheduleJitter, upd.Timeout, upd.UpdateCacheTimeout = spec, jitter, timeout, cache
	planned := *src
	if spec != nil {
		planned.Schedule = *spec
	}
	if jitter != nil {
		planned.ScheduleJitter = *jitter
	}
	if planned.Schedule != src.Schedule || planned.ScheduleJitter != src.ScheduleJitter {
		// Checked when the schedule changes only: other edits of a source
		// saved before this check stay possible.
		if err := schedule.CheckJitter(planned.Schedule, planned.ScheduleJitter, s.now()); err != nil {
			errs.Add("schedule_jitter", "%s", err.Error())
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if upd.Rescheduled() {
		if upd.NextSync, err = schedule.NextSync(&planned, s.now()); err != nil {
			return nil, roster.Invalid(roster.FieldError{Field: "schedule", Message: err.Error()})
		}
	}
	before := src
	src, err = s.store.UpdateSource(ctx, src.ID, upd)
	if err != nil {
		return nil, err
	}
	s.auditChange(ctx, "source.update", "source", src.ID, src.Name, src.InventoryID, map[string]string{
		"credential": src.CredentialID, "changed_options": strings.Join(changedKeys(before.Config, src.Config), ","),
	})
	return UpdateSource200JSONResponse(s.sourceOut(src)), nil
}

// DeleteSource implements StrictServerInterface.
func (s *Server) DeleteSource(ctx context.Context, req DeleteSourceRequestObject) (DeleteSourceResponseObject, error) {
	src, err := s.source(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	if slices.Contains(derived.Providers, src.Provider) {
		return nil, roster.Errorf(roster.ECONFLICT, "the %s source is its inventory's own; delete the inventory instead", src.Provider)
	}
	if err := s.purgeWebhooks(ctx, roster.WebhookFilter{SourceID: src.ID}); err != nil {
		return nil, err
	}
	if err := s.store.DeleteSource(ctx, src.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "source.delete", "source", src.ID, src.Name, src.InventoryID, nil)
	return DeleteSource204Response{}, nil
}

// ---- syncs

// TriggerSync implements StrictServerInterface.
func (s *Server) TriggerSync(ctx context.Context, req TriggerSyncRequestObject) (TriggerSyncResponseObject, error) {
	src, err := s.source(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	run, created, err := s.engine.Trigger(ctx, src, roster.TriggerAPI)
	if err != nil {
		return nil, err
	}
	if !created {
		return TriggerSync200JSONResponse(syncRunOut(run)), nil
	}
	s.log.Info("sync requested", "source", src.Name, "run", run.ID, "by", actor(ctx))
	loc := "/api/v1/syncs/" + run.ID
	return TriggerSync202JSONResponse{Body: syncRunOut(run), Headers: TriggerSync202ResponseHeaders{Location: &loc}}, nil
}

// ListSyncRuns implements StrictServerInterface.
func (s *Server) ListSyncRuns(ctx context.Context, req ListSyncRunsRequestObject) (ListSyncRunsResponseObject, error) {
	src, err := s.source(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	runs, next, err := s.store.SyncRuns(ctx, roster.SyncRunFilter{SourceID: src.ID, After: deref(req.Params.Cursor), Limit: derefInt(req.Params.Limit)})
	if err != nil {
		return nil, err
	}
	out := ListSyncRuns200JSONResponse{Items: make([]SyncRun, len(runs)), NextCursor: optional(next)}
	for i, run := range runs {
		out.Items[i] = syncRunOut(run)
	}
	return out, nil
}

// GetSyncRun implements StrictServerInterface.
func (s *Server) GetSyncRun(ctx context.Context, req GetSyncRunRequestObject) (GetSyncRunResponseObject, error) {
	run, err := s.syncRun(ctx, req.Run)
	if err != nil {
		return nil, err
	}
	return GetSyncRun200JSONResponse(syncRunOut(run)), nil
}

// ---- hosts and groups

// sourceOf resolves the source filter of a host listing: a source of
// inv, by its id or its name. One of another inventory, or none, is a
// 400 naming the parameter.
func (s *Server) sourceOf(ctx context.Context, inv *roster.Inventory, ref *string) (string, error) {
	if ref == nil || *ref == "" {
		return "", nil
	}
	if src, err := s.store.Source(ctx, *ref); err == nil && src.InventoryID == inv.ID {
		return src.ID, nil
	} else if err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
		return "", err
	}
	src, err := s.store.SourceByName(ctx, inv.ID, *ref)
	switch {
	case roster.ErrorCode(err) == roster.ENOTFOUND:
		return "", roster.Invalid(roster.FieldError{Field: "source", Message: fmt.Sprintf("inventory %s has no source %q (give its name or id)", inv.Name, *ref)})
	case err != nil:
		return "", err
	}
	return src.ID, nil
}

// ListHosts implements StrictServerInterface.
func (s *Server) ListHosts(ctx context.Context, req ListHostsRequestObject) (ListHostsResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	p := req.Params
	sourceID, err := s.sourceOf(ctx, inv, p.Source)
	if err != nil {
		return nil, err
	}
	varMatch, err := roster.ParseVarMatch(deref(p.Var))
	if err != nil {
		return nil, err
	}
	filter := roster.HostFilter{
		InventoryID: inv.ID,
		SourceID:    sourceID,
		Group:       deref(p.Group),
		Name:        deref(p.Name),
		Enabled:     p.Enabled,
		Var:         varMatch,
		After:       deref(p.Cursor),
		Limit:       derefInt(p.Limit),
	}
	if varMatch.Key != "" {
		// No index serves a var: a page looks at varScan hosts at most.
		filter.Scan = varScan
	}
	view, err := s.hostsOf(ctx, inv)
	if err != nil {
		return nil, err
	}
	// The page is read first, so that a bad filter or cursor is refused
	// before any sync is triggered; it is read again after syncs the read
	// waited for.
	hosts, next, err := view.Hosts(ctx, filter)
	if err != nil {
		return nil, err
	}
	f, err := s.fresh(ctx, inv.ID, p.MaxAge, (*string)(p.Stale), false)
	if err != nil {
		return nil, err
	}
	if f.waited {
		if hosts, next, err = view.Hosts(ctx, filter); err != nil {
			return nil, err
		}
	}
	out := ListHosts200JSONResponse{Body: HostList{Items: make([]Host, len(hosts)), NextCursor: optional(next)}}
	for i, h := range hosts {
		out.Body.Items[i] = hostOut(h)
	}
	out.Headers.Age, out.Headers.RosterStale = f.age, ptr(strconv.FormatBool(f.stale))
	return out, nil
}

// GetHost implements StrictServerInterface.
func (s *Server) GetHost(ctx context.Context, req GetHostRequestObject) (GetHostResponseObject, error) {
	inv, view, err := s.inventoryHosts(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	h, err := view.Host(ctx, inv.ID, req.Host)
	if err != nil {
		return nil, err
	}
	return GetHost200JSONResponse(hostOut(h)), nil
}

// ListGroups implements StrictServerInterface.
func (s *Server) ListGroups(ctx context.Context, req ListGroupsRequestObject) (ListGroupsResponseObject, error) {
	inv, view, err := s.inventoryHosts(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	groups, err := view.Groups(ctx, inv.ID)
	if err != nil {
		return nil, err
	}
	out := ListGroups200JSONResponse{Items: make([]Group, len(groups))}
	for i, g := range groups {
		out.Items[i] = Group{Name: g.Name, Children: nonNil(g.Children), Hosts: g.Hosts}
		if len(g.Vars) > 0 {
			v := Vars(g.Vars)
			out.Items[i].Vars = &v
		}
	}
	return out, nil
}

// SetGroupVars implements StrictServerInterface.
func (s *Server) SetGroupVars(ctx context.Context, req SetGroupVarsRequestObject) (SetGroupVarsResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	if req.Group == "" || strings.TrimSpace(req.Group) != req.Group {
		return nil, roster.Invalid(roster.FieldError{Field: "group", Message: "must be a group name"})
	}
	vars, err := compactObject(*req.Body)
	if err != nil {
		return nil, err
	}
	if err := s.store.SetGroupVars(ctx, inv.ID, req.Group, vars); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "group.vars", "group", req.Group, req.Group, inv.ID, nil)
	return rawJSON(vars), nil
}

// isAdminOn reports whether the caller acts as an admin on an inventory:
// an admin token, or a user's admin binding that covers it.
func (s *Server) isAdminOn(ctx context.Context, inventoryID string) bool {
	ok, err := s.actsAs(ctx, inventoryID, false, roster.RoleAdmin)
	return err == nil && ok
}

// checkRoutingOptions refuses non-admins the options that decide where a
// source's credentials are sent: whoever sets an endpoint could collect
// the credential.
func (s *Server) checkRoutingOptions(ctx context.Context, inventoryID, provider string, config, previous map[string]any) error {
	if s.isAdminOn(ctx, inventoryID) {
		return nil
	}
	changed := s.engine.Registry().RoutingOptions(provider, config, previous)
	if len(changed) == 0 {
		return nil
	}
	fields := make([]roster.FieldError, len(changed))
	for i, name := range changed {
		fields[i] = roster.FieldError{Field: "config." + name, Message: "only an admin may set or change this option: it decides where the source's credentials are sent"}
	}
	return &roster.Error{Code: roster.EFORBIDDEN, Message: "this change needs an admin token", Fields: fields}
}

// sourceCredential finds the credential a source of provider syncs with:
// it must exist and be of the provider's type.
func (s *Server) sourceCredential(ctx context.Context, provider, ref string) (string, error) {
	c, err := s.credential(ctx, ref)
	if err != nil {
		return "", roster.Invalid(roster.FieldError{Message: roster.ErrorMessage(err)})
	}
	if string(c.Type) != provider {
		return "", roster.Invalid(roster.FieldError{Message: fmt.Sprintf("credential %q is of type %s; a %s source needs a %s credential", c.Name, c.Type, provider, provider)})
	}
	return c.ID, nil
}

// changedKeys lists the keys whose values differ between two configs.
func changedKeys(a, b map[string]any) []string {
	var out []string
	for k, v := range b {
		if w, ok := a[k]; !ok || fmt.Sprint(v) != fmt.Sprint(w) {
			out = append(out, k)
		}
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// compactObject checks that raw is a JSON object and compacts it.
func compactObject(raw json.RawMessage) (json.RawMessage, error) {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
		return nil, roster.Invalid(roster.FieldError{Field: "body", Message: "must be a JSON object of variables"})
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode vars: %w", err)
	}
	return out, nil
}

// ---- tokens

// ListTokens implements StrictServerInterface.
func (s *Server) ListTokens(ctx context.Context, _ ListTokensRequestObject) (ListTokensResponseObject, error) {
	toks, err := s.store.Tokens(ctx)
	if err != nil {
		return nil, err
	}
	out := ListTokens200JSONResponse{Items: make([]Token, len(toks))}
	for i, t := range toks {
		out.Items[i] = tokenOut(t)
	}
	return out, nil
}

// CreateToken implements StrictServerInterface.
func (s *Server) CreateToken(ctx context.Context, req CreateTokenRequestObject) (CreateTokenResponseObject, error) {
	spec := TokenSpec{Name: req.Body.Name, Role: roster.Role(req.Body.Role), ReadOnly: req.Body.ReadOnly != nil && *req.Body.ReadOnly}
	if req.Body.Ttl != nil {
		ttl, err := time.ParseDuration(*req.Body.Ttl)
		if err != nil {
			return nil, roster.Invalid(roster.FieldError{Field: "ttl", Message: "must be a duration such as 720h"})
		}
		spec.TTL = &ttl
	}
	if req.Body.Inventories != nil {
		spec.Inventories = *req.Body.Inventories
	}
	tok, err := NewToken(ctx, s.store, spec, s.now(), s.tokenMaxTTL)
	if err != nil {
		return nil, err
	}
	if req.Body.User != nil {
		u, err := s.store.User(ctx, *req.Body.User)
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			return nil, roster.Invalid(roster.FieldError{Field: "user", Message: roster.ErrorMessage(err)})
		} else if err != nil {
			return nil, err
		}
		if u.Disabled {
			return nil, roster.Invalid(roster.FieldError{Field: "user", Message: "the user is disabled"})
		}
		tok.UserID = u.ID
	}
	value, hash := roster.NewTokenValue()
	if err := s.store.CreateToken(ctx, tok, hash); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "token.create", "token", tok.ID, tok.Name, "", TokenAuditDetails(tok))
	t := tokenOut(tok)
	return CreateToken201JSONResponse{
		Id: t.Id, Name: t.Name, Role: t.Role, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt,
		Inventories: t.Inventories, ReadOnly: t.ReadOnly, UserId: t.UserId,
		Value: value.Reveal(), // shown to its creator, once
	}, nil
}

// DeleteToken implements StrictServerInterface.
func (s *Server) DeleteToken(ctx context.Context, req DeleteTokenRequestObject) (DeleteTokenResponseObject, error) {
	tok, err := s.token(ctx, req.Token)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteToken(ctx, tok.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "token.delete", "token", tok.ID, tok.Name, "", nil)
	return DeleteToken204Response{}, nil
}

// ---- helpers

func actor(ctx context.Context) string {
	if c := callerFrom(ctx); c != nil {
		return c.name()
	}
	return ""
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func derefInt(n *int) int {
	if n == nil {
		return 0
	}
	return *n
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}
