package syncer

import (
	"context"
	"errors"
	"fmt"

	"github.com/rosterhq/roster"
)

// TriggerStale asks for a run of every smart or constructed inventory
// whose inputs changed since its last successful run read them (only
// those reading inputID, unless it is empty): their one source syncs
// again. Staleness is the store's state (roster.InventoryStore
// StaleDerived), so that whoever looks (the node that finished an input's
// sync, the scheduler's tick on any node) finds the same work, and
// Trigger's one-active-run rule makes any number of askers one run. A
// derived inventory whose run is active now is asked again by the next
// look: that run may have read an older input.
func (e *Engine) TriggerStale(ctx context.Context, inputID string) (int, error) {
	ids, err := e.store.StaleDerived(ctx, inputID)
	if err != nil {
		return 0, fmt.Errorf("find stale derived inventories: %w", err)
	}
	n := 0
	var errs []error
	for _, id := range ids {
		srcs, err := e.store.Sources(ctx, id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, src := range srcs {
			if _, created, err := e.Trigger(ctx, src, roster.TriggerInput); err != nil {
				errs = append(errs, fmt.Errorf("trigger the run of derived inventory %s: %w", id, err))
			} else if created {
				n++
			}
		}
	}
	return n, errors.Join(errs...)
}
