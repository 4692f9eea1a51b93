package syncer

import (
	"fmt"
	"sync/atomic"
	"time"
)

// ShutdownError is the error of a run its process stopped because its
// shutdown's drain time ran out before the run finished.
type ShutdownError struct{ Timeout time.Duration }

func (e *ShutdownError) Error() string {
	return fmt.Sprintf("roster serve stopped before the sync finished (shutdown timeout %s); nothing was changed", e.Timeout)
}

// stopping says whether the process is past its shutdown timeout: runs
// canceled from then on are failed with that reason, not canceled (a
// user's interruption).
type stopping struct{ err atomic.Pointer[ShutdownError] }

func (s *stopping) cause() error {
	if e := s.err.Load(); e != nil {
		return e
	}
	return nil
}

// ShutdownTimedOut tells the engine that its process waited timeout for
// the running syncs and now cancels them: they are recorded as failed
// with a message that says so (and retried, by another node or after the
// restart, while attempts remain).
func (e *Engine) ShutdownTimedOut(timeout time.Duration) {
	e.stopping.err.Store(&ShutdownError{Timeout: timeout})
}
