package api

import (
	"context"
	"encoding/json"

	"github.com/rosterhq/roster"
)

// ---- per-host change history

// ListSyncRunChanges implements StrictServerInterface: the changes of a
// run of an inventory the caller sees.
func (s *Server) ListSyncRunChanges(ctx context.Context, req ListSyncRunChangesRequestObject) (ListSyncRunChangesResponseObject, error) {
	run, err := s.syncRun(ctx, req.Run)
	if err != nil {
		return nil, err
	}
	if err := s.wholeInventoryOnly(ctx, run.InventoryID, "the change log of a run"); err != nil {
		return nil, err
	}
	p := req.Params
	f := roster.HostChangeFilter{RunID: run.ID, After: deref(p.Cursor), Limit: derefInt(p.Limit)}
	if p.Kind != nil {
		f.Kind = roster.ChangeKind(*p.Kind)
	}
	changes, next, err := s.store.HostChanges(ctx, f)
	if err != nil {
		return nil, err
	}
	return ListSyncRunChanges200JSONResponse(hostChangeListOut(changes, next)), nil
}

// GetHostHistory implements StrictServerInterface: the changes of the
// hosts of one name of an inventory the caller sees.
func (s *Server) GetHostHistory(ctx context.Context, req GetHostHistoryRequestObject) (GetHostHistoryResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	if err := s.wholeInventoryOnly(ctx, inv.ID, "the change history of a host"); err != nil {
		return nil, err
	}
	p := req.Params
	changes, next, err := s.store.HostHistory(ctx, roster.HostHistoryFilter{InventoryID: inv.ID, HostName: req.Host, After: deref(p.Cursor), Limit: derefInt(p.Limit)})
	if err != nil {
		return nil, err
	}
	return GetHostHistory200JSONResponse(hostChangeListOut(changes, next)), nil
}

func hostChangeListOut(changes []*roster.HostChange, next string) HostChangeList {
	out := HostChangeList{Items: make([]HostChange, len(changes)), NextCursor: optional(next)}
	for i, c := range changes {
		out.Items[i] = hostChangeOut(c)
	}
	return out
}

func hostChangeOut(c *roster.HostChange) HostChange {
	keys := c.ChangedKeys
	if keys == nil {
		keys = []string{}
	}
	out := HostChange{RunId: c.RunID, InventoryId: c.InventoryID, SourceId: c.SourceID, HostId: c.HostID, Host: c.HostName,
		Kind: HostChangeKind(c.Kind), ChangedKeys: keys, Truncated: c.Truncated, At: c.At}
	if d := c.Diff; d != nil {
		out.Diff = &HostDiff{Vars: valueChangesOut(d.Vars), Fields: valueChangesOut(d.Fields)}
		if len(d.GroupsAdded) > 0 {
			out.Diff.GroupsAdded = &d.GroupsAdded
		}
		if len(d.GroupsRemoved) > 0 {
			out.Diff.GroupsRemoved = &d.GroupsRemoved
		}
	}
	return out
}

func valueChangesOut(m map[string]roster.ValueChange) *map[string]ValueChange {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]ValueChange, len(m))
	for k, v := range m {
		out[k] = ValueChange{Old: rawOut(v.Old), New: rawOut(v.New)}
	}
	return &out
}

// rawOut is a JSON value for the wire: nil when absent (a JSON null is
// a value, and kept).
func rawOut(b json.RawMessage) *json.RawMessage {
	if b == nil {
		return nil
	}
	return &b
}
