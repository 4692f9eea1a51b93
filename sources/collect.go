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
	var mu sync.Mutex
	insts := make(map[string][]Instance, len(scopes))
	CollectPages(ctx, p, scopes, limit, func(scope string, page []Instance) error {
		mu.Lock()
		defer mu.Unlock()
		insts[scope] = append(insts[scope], page...)
		return nil
	}, func(o Outcome) {
		mu.Lock()
		o.Instances = insts[o.Scope]
		delete(insts, o.Scope)
		mu.Unlock()
		if o.Err != nil {
			o.Instances = nil
		}
		handle(o)
	})
}

// CollectPages is CollectScopes for a caller that takes the instances of a
// scope a page at a time, so that it holds no more of them than it keeps:
// page is called on the scope's goroutine with each page of a provider
// that pages (PageCollector), or once with the whole scope of one that
// does not; an error it returns ends the scope with that error. done is
// then called once per scope, with no instances: a scope whose Outcome
// has an error failed, and the caller drops what its pages gave.
func CollectPages(ctx context.Context, p Provider, scopes []string, limit int, page func(scope string, insts []Instance) error, done func(Outcome)) {
	if limit <= 0 {
		limit = DefaultScopeConcurrency
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for _, scope := range scopes {
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			done(Outcome{Scope: scope, Err: ctx.Err()})
			continue
		}
		wg.Go(func() {
			defer func() { <-sem }()
			start := time.Now()
			err := collectOne(ctx, p, scope, func(insts []Instance) error { return page(scope, insts) })
			done(Outcome{Scope: scope, Err: err, Duration: time.Since(start)})
		})
	}
	wg.Wait()
}

// collectOne turns a provider panic into the scope's error: one broken
// response must not take the whole process down.
func collectOne(ctx context.Context, p Provider, scope string, page func([]Instance) error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("provider panicked: %v", r)
		}
	}()
	if pc, ok := p.(PageCollector); ok {
		return pc.CollectPages(ctx, scope, page)
	}
	insts, err := p.Collect(ctx, scope)
	if err != nil {
		return err
	}
	return page(insts)
}

// HandOver is how many translated instances a PageCollector hands over at
// a time: their vars (maps, the largest part of a sync's memory) are built
// on and let go a handful at a time.
const HandOver = 100

// Pager gathers a scope's instances as a provider translates them and
// hands them to a page function HandOver at a time.
type Pager struct {
	page func([]Instance) error
	buf  []Instance
	err  error
}

// NewPager returns a Pager handing over to page.
func NewPager(page func([]Instance) error) *Pager { return &Pager{page: page} }

// Add adds one instance, handing over a full handful. After an error, its
// own or the page function's, it drops what it is given and Err says why.
func (p *Pager) Add(inst Instance) {
	if p.err != nil {
		return
	}
	p.buf = append(p.buf, inst)
	if len(p.buf) >= HandOver {
		p.Flush()
	}
}

// Flush hands over what is gathered, and returns Err.
func (p *Pager) Flush() error {
	if p.err == nil && len(p.buf) > 0 {
		p.err = p.page(p.buf)
		clear(p.buf)
		p.buf = p.buf[:0]
	}
	return p.err
}

// Err is the page function's error that stopped the pager, if any.
func (p *Pager) Err() error { return p.err }

// CollectAll is Collect for a PageCollector: every page, gathered.
func CollectAll(ctx context.Context, pc PageCollector, scope string) ([]Instance, error) {
	var out []Instance
	if err := pc.CollectPages(ctx, scope, func(page []Instance) error {
		out = append(out, page...)
		return nil
	}); err != nil {
		return nil, err
	}
	return out, nil
}
