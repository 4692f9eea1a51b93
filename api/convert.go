package api

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// inventoryOut converts an inventory for the wire, with the definition
// of a derived one.
func (s *Server) inventoryOut(ctx context.Context, inv *roster.Inventory) (Inventory, error) {
	out := Inventory{Id: inv.ID, Name: inv.Name, Description: inv.Description, PrometheusSd: mappingOut(inv.PrometheusSD),
		NamePolicy: NamePolicy(inv.NamePolicy), CreatedAt: inv.CreatedAt, UpdatedAt: inv.UpdatedAt}
	if err := s.derivedOut(ctx, inv, &out); err != nil {
		return Inventory{}, err
	}
	return out, nil
}

// sourceOut converts a source for the wire, with the warnings of its
// options that have no effect in Roster.
func (s *Server) sourceOut(src *roster.Source) Source {
	out := Source{
		Id:          src.ID,
		InventoryId: src.InventoryID,
		Name:        src.Name,
		Provider:    src.Provider,
		Config:      SourceConfig(src.Config),
		OnMissing:   OnMissing(src.OnMissing),
		Credential:  optional(src.CredentialID),
		CreatedAt:   src.CreatedAt,
		UpdatedAt:   src.UpdatedAt,
	}
	if src.Schedule != "" {
		out.Schedule = &src.Schedule
	}
	if src.ScheduleJitter >= 0 {
		out.ScheduleJitter = ptr(src.ScheduleJitter.String())
	}
	if src.Timeout > 0 {
		out.Timeout = ptr(src.Timeout.String())
	}
	if src.UpdateCacheTimeout > 0 {
		out.UpdateCacheTimeout = ptr(int(src.UpdateCacheTimeout / time.Second))
	}
	if src.NextSync != nil {
		out.NextSyncAt = &src.NextSync.Due
	}
	out.HasCallbackKey = &src.HasCallbackKey
	if w := s.engine.Registry().Warnings(src.Provider, src.Config); len(w) > 0 {
		out.Warnings = &w
	}
	return out
}

func syncRunOut(run *roster.SyncRun) SyncRun {
	out := SyncRun{
		Id:           run.ID,
		SourceId:     run.SourceID,
		InventoryId:  run.InventoryID,
		Trigger:      SyncRunTrigger(run.Trigger),
		ScheduledFor: run.ScheduledFor,
		Status:       SyncRunStatus(run.Status),
		CreatedAt:    run.CreatedAt,
		StartedAt:    run.StartedAt,
		FinishedAt:   run.FinishedAt,
		Scopes:       make([]ScopeResult, len(run.Scopes)),
		Counts:       countsOut(run.Counts),
		Error:        optional(run.Error),
		Warnings:     nonNil(run.Warnings),
		Attempt:      max(run.Attempt, 1),
		RetryOf:      optional(run.RetryOf),
		NotBefore:    run.NotBefore,
		Holder:       optional(run.Holder),
		LeaseUntil:   run.LeaseUntil,
	}
	for i, sc := range run.Scopes {
		out.Scopes[i] = ScopeResult{Name: sc.Name, Status: ScopeResultStatus(sc.Status), Hosts: sc.Hosts, Error: optional(sc.Error), DurationMs: sc.Duration.Milliseconds()}
	}
	return out
}

func hostOut(h *roster.Host) Host {
	vars := h.Vars
	if len(vars) == 0 {
		vars = []byte("{}")
	}
	return Host{
		Id:          h.ID,
		InventoryId: h.InventoryID,
		SourceId:    h.SourceID,
		ExternalId:  h.ExternalID,
		Scope:       h.Scope,
		Name:        h.Name,
		Address:     h.Address,
		Enabled:     h.Enabled,
		Missing:     h.Missing,
		Groups:      nonNil(h.Groups),
		Vars:        Vars(vars),
		FirstSeen:   h.FirstSeen,
		LastSeen:    h.LastSeen,
	}
}

func tokenOut(t *roster.Token) Token {
	out := Token{Id: t.ID, Name: t.Name, Role: Role(t.Role), ReadOnly: t.ReadOnly, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
	if t.Inventories != nil {
		out.Inventories = ptr(slices.Clone(t.Inventories))
	}
	out.UserId = optional(t.UserID)
	return out
}

// TokenAuditDetails is what the audit log keeps of a new token's limits.
func TokenAuditDetails(t *roster.Token) map[string]string {
	d := map[string]string{"role": string(t.Role)}
	if t.Inventories != nil {
		d["inventories"] = strings.Join(t.Inventories, ",")
	}
	if t.UserID != "" {
		d["user_id"] = t.UserID
	}
	if t.ReadOnly {
		d["read_only"] = "true"
	}
	return d
}

func countsOut(c roster.SyncCounts) SyncCounts {
	return SyncCounts{Seen: c.Seen, Added: c.Added, Updated: c.Updated, Removed: c.Removed, Disabled: c.Disabled, Unchanged: c.Unchanged}
}
