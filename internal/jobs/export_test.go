package jobs

import "time"

// StuckAfter is how long a run of cfg's queue may stay running before the
// tick fails it.
func StuckAfter(cfg Config) time.Duration {
	cfg.defaults()
	return cfg.stuckAfter()
}
