package sources

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// DefaultScopeConcurrency bounds how many scopes of one source are fetched
// at once when the source does not say.
const DefaultScopeConcurrency = 8

// Outcome is the result of collecting one scope.
type Outcome struct {
	Scope     string
	Instances []Instance
	Err       error
	Duration  time.Duration
}

// CollectScopes collects every scope with at most limit of them in flight
// and hands each outcome to handle, on the goroutine that collected it: handle
// must be safe for concurrent use, and may do the CPU work that follows a
// scope (so it overlaps with the fetching of other scopes). It returns when
// every scope has been handled or ctx is done; scopes not started by then
// are handed over with ctx's error.
func CollectScopes(ctx context.Context, p Provider, scopes []string, limit int, handle func(Outcome)) {
	if limit <= 0 {
		limit = DefaultScopeConcurrency
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, scope := range scopes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			handle(Outcome{Scope: scope, Err: ctx.Err()})
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			insts, err := collectOne(ctx, p, scope)
			handle(Outcome{Scope: scope, Instances: insts, Err: err, Duration: time.Since(start)})
		})
	}
	wg.Wait()
}

// collectOne turns a provider panic into the scope's error: one broken
// response must not take the whole process down.
func collectOne(ctx context.Context, p Provider, scope string) (insts []Instance, err error) {
	defer func() {
		if r := recover(); r != nil {
			insts, err = nil, fmt.Errorf("provider panicked: %v", r)
		}
	}()
	return p.Collect(ctx, scope)
}
