// Package syncer runs syncs: a source's provider collects its scopes, the
// construct step names and groups the hosts, and the result is diffed
// against the stored hosts of the source and applied in one transaction.
package syncer

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/construct"
)

// Engine runs syncs against a store.
type Engine struct {
	store    roster.Store
	registry *sources.Registry
	creds    Credentials
	queue    Queue
	finished []func(context.Context, *roster.SyncRun)
	timeouts Timeouts
	retries  Retries
	holder   string
	spillDir string
	held     *heldRuns // the runs this engine (and its Inline copies) works now
	stopping *stopping // set once its process's shutdown ran out of time
	log      *slog.Logger
	now      func() time.Time
}

// Queue hands a queued run to whichever process of the cluster works it,
// not before run.NotBefore.
type Queue interface {
	Enqueue(ctx context.Context, run *roster.SyncRun) error
}

// Timeouts bound how long a run may take.
type Timeouts struct {
	// Default applies to sources that do not set a timeout.
	Default time.Duration
	// Max caps every source's timeout; the job queue rescues the job of a
	// run that outlives it (its process died) after a margin.
	Max time.Duration
	// Lease is how long a run stays held by a process that stops renewing
	// it (it died, or lost the database) before anyone may fail it; the
	// holder renews it every quarter of it (0: DefaultLease).
	Lease time.Duration
}

// DefaultLease is the lease of runs when Timeouts gives none: a source
// whose sync was cut off by a dead process syncs again about a minute
// later, and a holder may miss three renewals in a row before it loses
// its run.
const DefaultLease = time.Minute

func (t Timeouts) lease() time.Duration {
	if t.Lease > 0 {
		return t.Lease
	}
	return DefaultLease
}

// DefaultTimeouts are the timeouts of an engine that is given none.
var DefaultTimeouts = Timeouts{Default: 30 * time.Minute, Max: 2 * time.Hour, Lease: DefaultLease}

// Timeout returns the timeout a run of src gets.
func (t Timeouts) Timeout(src *roster.Source) time.Duration {
	d := t.Default
	if src.Timeout > 0 {
		d = src.Timeout
	}
	return min(d, t.Max)
}

// interruptedReason is the error of a run canceled from outside: its
// process was stopping, or the CLI was interrupted. Such a run is retried
// like a failed one (using up an attempt: a process that keeps being
// stopped in the middle of a sync must not retry it forever).
const interruptedReason = "the sync was canceled; nothing was changed"

// TimeoutError is the cause of a run canceled for taking longer than its
// source's timeout.
type TimeoutError struct{ Timeout time.Duration }

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("the sync took longer than its timeout (%s) and was canceled; nothing was changed", e.Timeout)
}

// Credentials obtains a source's credential for one sync: the credential
// broker. The use is the broker's to audit.
type Credentials interface {
	ForSource(ctx context.Context, src *roster.Source) (roster.CredentialType, map[string]roster.Secret, error)
}

// New returns an engine.
func New(store roster.Store, registry *sources.Registry, log *slog.Logger, opts ...Option) *Engine {
	e := &Engine{store: store, registry: registry, log: log, now: time.Now, timeouts: DefaultTimeouts, retries: DefaultRetries,
		holder: defaultHolder(), held: &heldRuns{}, stopping: &stopping{}}
	for _, o := range opts {
		o(e)
	}
	return e
}

// Option configures an engine.
type Option func(*Engine)

// WithCredentials gives the engine the credential broker. Without it, a
// sync of a source that names a credential fails.
func WithCredentials(c Credentials) Option { return func(e *Engine) { e.creds = c } }

// WithQueue makes Trigger hand new runs to q. Without a queue, the caller
// of Trigger runs the run itself (the CLI does).
func WithQueue(q Queue) Option { return func(e *Engine) { e.queue = q } }

// Inline returns an engine like e whose Trigger does not queue runs: its
// caller runs them (the CLI and the demo, which show their progress).
func (e *Engine) Inline() *Engine {
	c := *e
	c.queue = nil
	return &c
}

// WithTimeouts sets the run timeouts.
func WithTimeouts(t Timeouts) Option { return func(e *Engine) { e.timeouts = t } }

// WithSpillDir sets where a run keeps the bodies of its new and changed
// hosts until it writes them (default: the system's temporary directory).
func WithSpillDir(dir string) Option { return func(e *Engine) { e.spillDir = dir } }

// WithHolder names the process in the runs it holds (default: host, pid
// and a random suffix); it must differ between engines.
func WithHolder(name string) Option { return func(e *Engine) { e.holder = name } }

// OnFinish adds a function called with every run the engine finished and
// recorded (notifications, metrics). It must not block for long.
func OnFinish(fn func(context.Context, *roster.SyncRun)) Option {
	return func(e *Engine) { e.finished = append(e.finished, fn) }
}

// Registry returns the provider registry the engine syncs with.
func (e *Engine) Registry() *sources.Registry { return e.registry }

// Trigger records a queued run of src. When src already has a queued or
// running run, nothing is recorded and that run is returned with
// created=false: a source never syncs twice at once.
//
// An active run whose lease ended (its process died) is failed first, so
// that a dead process never blocks its source past its lease; and a retry
// waiting out its backoff gives way to a sync asked for now (by anything
// but the schedule).
func (e *Engine) Trigger(ctx context.Context, src *roster.Source, trigger roster.SyncTrigger) (run *roster.SyncRun, created bool, err error) {
	for tries := 0; ; tries++ {
		run = &roster.SyncRun{SourceID: src.ID, InventoryID: src.InventoryID, Trigger: trigger}
		if e.queue == nil {
			// The caller runs it: the run is this process's from the start.
			until := e.now().Add(e.timeouts.lease())
			run.Holder, run.LeaseUntil = e.holder, &until
		}
		active, err := e.store.CreateSyncRun(ctx, run)
		if err != nil {
			return nil, false, err
		}
		if active == nil {
			break
		}
		now := e.now()
		switch {
		case tries >= 2:
			return active, false, nil
		case active.Expired(now):
			if _, err := e.expire(ctx, now, src.ID, 1); err != nil {
				return nil, false, err
			}
		case trigger != roster.TriggerSchedule && trigger != roster.TriggerInput && active.Status == roster.SyncQueued && active.NotBefore != nil && active.NotBefore.After(now):
			// (Not for an input's change either: the look for stale
			// derived inventories comes every tick, and would undo the
			// backoff of a failing one.)
			replaced := *active
			replaced.Status, replaced.Error = roster.SyncCanceled, fmt.Sprintf("replaced by a sync asked for by %s before its backoff ended", trigger)
			if err := e.store.FinishSyncRun(ctx, &replaced, nil); err != nil && roster.ErrorCode(err) != roster.ECONFLICT {
				return nil, false, err // ECONFLICT: it started meanwhile, and is the answer
			}
		default:
			return active, false, nil
		}
	}
	if e.queue != nil {
		if err := e.queue.Enqueue(ctx, run); err != nil {
			e.abandon(run, e.log.With("run", run.ID, "source", run.SourceID), "the sync could not be queued; nothing was changed", nil)
			return nil, false, fmt.Errorf("queue sync run: %w", err)
		}
	}
	return run, true, nil
}

// Progress reports a running sync's advance, for displays.
type Progress struct {
	Scopes     int // scopes to fetch
	ScopesDone int
	Failed     int // scopes that failed so far
	HostsSeen  int
	// Scope is the scope that just finished ("" before the first).
	Scope string
}

// maxWarnings bounds the warnings a run records.
const maxWarnings = 20

// maxFinishTimeout bounds the transaction that applies a run's changes
// and records its outcome: generous, since a first sync of 100,000 hosts
// on a busy machine writes for a while, but not unbounded.
const maxFinishTimeout = 10 * time.Minute

// Finish bounds the recording of a run's outcome, which goes on after the
// run's own timeout: up to maxFinishTimeout, less when runs are short
// (half the longest run, at least 10s).
func (t Timeouts) Finish() time.Duration {
	return min(maxFinishTimeout, max(t.Max/2, 10*time.Second))
}

// Run executes a queued run to the end and records its outcome. The
// returned error is the run's error (also recorded), or an error recording
// it. progress may be nil.
//
// The run is held by this engine from its start: its lease is renewed
// while it runs, and should the run be lost (its lease ran out and another
// process failed it) it is canceled and nothing is written.
func (e *Engine) Run(ctx context.Context, run *roster.SyncRun, progress func(Progress)) error {
	log := e.log.With("run", run.ID, "source", run.SourceID)
	// The run is ours once started: only then may a failure be recorded
	// on it.
	start := e.now()
	lease := start.Add(e.timeouts.lease())
	run.StartedAt, run.Holder, run.LeaseUntil = &start, e.holder, &lease
	if err := e.store.StartSyncRun(ctx, run); err != nil {
		if roster.ErrorCode(err) == roster.ECONFLICT {
			return err // another runner started it: it is theirs
		}
		// Whether the start was recorded is unknown, so the run is not
		// ours to fail: its lease ends, and whoever looks next fails it.
		return fmt.Errorf("start sync run: %w", err)
	}
	leased, loseLease := context.WithCancelCause(ctx)
	defer loseLease(nil)
	e.held.add(run)
	defer e.held.remove(run.ID)
	stopRenewing := e.keepLease(leased, run, loseLease, log)
	defer stopRenewing()

	src, err := e.store.Source(leased, run.SourceID)
	if err != nil {
		stopRenewing()
		e.abandon(run, log, "the source could not be loaded", err)
		return fmt.Errorf("load source: %w", err)
	}
	timeout := e.timeouts.Timeout(src)
	runCtx, cancel := context.WithTimeoutCause(leased, timeout, &TimeoutError{Timeout: timeout})
	defer cancel()
	log.Info("sync started", "trigger", run.Trigger, "attempt", run.Attempt)

	bodies := newSpill(e.spillDir)
	defer bodies.Close()
	var read inputsRead
	changes, err := e.collect(runCtx, run, src, bodies, log, progress, &read)
	var (
		timedOut *TimeoutError
		lost     *LeaseLostError
	)
	cause := context.Cause(runCtx)
	switch {
	case errors.As(cause, &lost):
		run.Status, run.Error, changes = roster.SyncFailed, lost.Error(), nil
	case errors.As(cause, &timedOut):
		run.Status, run.Error, changes = roster.SyncCanceled, timedOut.Error(), nil
	case ctx.Err() != nil && e.stopping.cause() != nil:
		// Its process drained for its shutdown timeout, then stopped it.
		run.Status, run.Error, changes = roster.SyncFailed, e.stopping.cause().Error(), nil
	case ctx.Err() != nil:
		// Canceled from outside: the process is stopping, or the CLI was
		// interrupted (not an error that merely wraps context.Canceled).
		run.Status, run.Error, changes = roster.SyncCanceled, interruptedReason, nil
	case err != nil:
		run.Status, run.Error, changes = roster.SyncFailed, err.Error(), nil
	}
	if changes == nil && read.gens != nil && Permanent(err) {
		// A derived inventory's run that failed for good (its name policy
		// refused, an expression failed) would fail again on the same
		// inputs: they count as read, so that it runs again when they
		// change, not at every look for stale inventories.
		changes = &roster.HostChanges{InputGenerations: read.gens}
	}
	if changes != nil {
		// The per-host history records what a run did, in the
		// transaction that does it: a partial run the changes of its
		// healthy scopes, which it writes (the hosts of its failed scopes
		// are left as they were); a failed or canceled one writes, and
		// records, nothing.
		changes.Record = run.Status == roster.SyncSucceeded || run.Status == roster.SyncPartial
	}
	run.NextAttempt = e.nextAttempt(run, err)
	// The finishing transaction holds the run until it commits; renewing
	// would only queue behind it.
	stopRenewing()
	// Record the outcome even when ctx is done: a canceled run must not
	// stay "running".
	finishCtx, cancelFinish := context.WithTimeout(context.WithoutCancel(ctx), e.timeouts.Finish())
	defer cancelFinish()
	if ferr := e.store.FinishSyncRun(finishCtx, run, changes); ferr != nil {
		if roster.ErrorCode(ferr) == roster.ECONFLICT {
			// Its lease ran out and another process failed it: the run
			// is no longer ours to record.
			log.Warn("the sync lost its run to another process; nothing was changed", "err", ferr)
			return fmt.Errorf("record sync run: %w", ferr)
		}
		log.Error("recording the sync failed", "err", ferr)
		e.abandon(run, log, fmt.Sprintf("the sync's changes could not be written (%s); nothing was changed", roster.ErrorMessage(ferr)), ferr)
		return fmt.Errorf("record sync run: %w", ferr)
	}
	for _, fn := range e.finished {
		fn(finishCtx, run)
	}
	e.retryNow(run, log)
	c := run.Counts
	log.Info("sync finished", "status", run.Status, "duration", run.FinishedAt.Sub(start).Round(time.Millisecond),
		"seen", c.Seen, "added", c.Added, "updated", c.Updated, "removed", c.Removed, "disabled", c.Disabled, "unchanged", c.Unchanged,
		"error", run.Error)
	if run.Status == roster.SyncFailed || run.Status == roster.SyncCanceled {
		if err != nil {
			return err // its chain says whether it is Permanent
		}
		return errors.New(run.Error)
	}
	return nil
}

// permanent marks a failure that trying again cannot mend: the source's
// configuration, or an expression that fails or goes over its limits.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// Permanent reports whether a run's error (Run's) is one that a retry
// would only repeat.
func Permanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// abandon records a run that cannot be recorded normally as failed, with
// nothing changed, so that it does not stay active and block its source
// (if even that fails, its lease runs out), and queues the retry it owes
// for cause (nil: it owes none).
func (e *Engine) abandon(run *roster.SyncRun, log *slog.Logger, reason string, cause error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	failed := *run
	failed.Status, failed.Error, failed.NextAttempt = roster.SyncFailed, reason, 0
	if cause != nil {
		failed.NextAttempt = e.nextAttempt(&failed, cause)
	}
	if err := e.store.FinishSyncRun(ctx, &failed, nil); err != nil {
		log.Error("the run stays active until its lease runs out", "err", err)
		return
	}
	*run = failed
	for _, fn := range e.finished {
		fn(ctx, run)
	}
	e.retryNow(run, log)
}

// scopeHosts is what one successful scope produced.
type scopeHosts struct {
	hosts []built
	edges map[roster.GroupEdge]struct{}
}

// built is one constructed host. An unchanged host (same hash as stored,
// not missing) keeps no vars: nothing will be written for it, and letting
// them go as soon as they are hashed keeps an unchanged re-sync small.
type built struct {
	*roster.Host
	unchanged bool
	// sharesNames: the host's name may be another host's of its source
	// too (allow_duplicated_hosts), to be one host in Ansible's document.
	sharesNames bool
}

// storedHosts indexes a source's stored hosts by external id.
type storedHosts map[string]*roster.HostState

// collect fetches and constructs every scope and diffs the result against
// the store. It returns nil changes and an error when the run fails as a
// whole; a failed scope only marks the run partial.
// inputsRead holds the input generations a derived inventory's provider
// read, for the run's record even when it fails.
type inputsRead struct{ gens map[string]int64 }

func (e *Engine) collect(ctx context.Context, run *roster.SyncRun, src *roster.Source, bodies *spill, log *slog.Logger, progress func(Progress), read *inputsRead) (*roster.HostChanges, error) {
	cred, err := e.credential(ctx, src)
	if err != nil {
		return nil, err
	}
	// Providers that keep raw pages on disk keep them there too.
	ctx = sources.WithScratchDir(ctx, e.spillDir)
	provider, cons, err := e.registry.Open(ctx, src, cred, log)
	if err != nil {
		opened := fmt.Errorf("open %s provider: %s", src.Provider, userMessage(err))
		if roster.ErrorCode(err) == roster.EINVALID {
			return nil, permanent{opened}
		}
		return nil, opened
	}
	// Options the source sets that have no effect in Roster head the run's
	// warnings, so each run says so.
	optionNotes := e.registry.Warnings(src.Provider, src.Config)
	scopes, err := provider.Scopes(ctx)
	if r, ok := provider.(sources.InputReporter); ok {
		read.gens = r.InputGenerations()
	}
	if err != nil {
		if roster.ErrorCode(err) == roster.EINVALID {
			return nil, permanent{err}
		}
		return nil, err
	}
	if len(scopes) == 0 {
		return nil, errors.New("the provider reported no scopes to sync")
	}
	if n, ok := provider.(sources.Noter); ok {
		optionNotes = append(optionNotes, n.Notes()...)
	}
	run.Scopes = make([]roster.ScopeResult, len(scopes))
	index := make(map[string]int, len(scopes))
	for i, s := range scopes {
		run.Scopes[i] = roster.ScopeResult{Name: s, Status: roster.ScopePending}
		index[s] = i
	}
	if err := e.store.UpdateSyncRun(ctx, run); err != nil {
		return nil, fmt.Errorf("record scopes: %w", err)
	}
	// The stored state is read before fetching: only this run (the one
	// active run of the source) writes the source's hosts.
	states, err := e.store.HostStates(ctx, run.SourceID)
	if err != nil {
		return nil, fmt.Errorf("load stored hosts: %w", err)
	}
	stored := make(storedHosts, len(states))
	for i := range states {
		stored[states[i].ExternalID] = &states[i]
	}

	var (
		mu      sync.Mutex
		results = make(map[string]*scopeHosts, len(scopes))
		prog    = Progress{Scopes: len(scopes)}
		notes   = newWarnings()
		fatal   error // a strict or over-limit construct error fails the whole run
		batch   = cons.Batch()
	)
	if progress != nil {
		progress(prog)
	}
	limiter, _ := provider.(sources.HostLimiter)
	limit := sources.DefaultScopeConcurrency
	if l, ok := provider.(interface{ Concurrency() int }); ok && l.Concurrency() > 0 {
		limit = l.Concurrency()
	}
	// Each page is built (named, constructed, encoded) as it comes and its
	// raw instances let go: a scope's hosts are held encoded, not as the
	// provider's maps (BENCHMARKS.md, "Memory").
	building := make(map[string]*scopeHosts, len(scopes))
	page := func(scope string, insts []sources.Instance) error {
		mu.Lock()
		sh := building[scope]
		if sh == nil {
			sh = &scopeHosts{edges: make(map[roster.GroupEdge]struct{})}
			building[scope] = sh
		}
		mu.Unlock()
		// Only this scope's goroutine touches sh.
		return e.build(sh, scope, insts, batch, stored, bodies, notes, limiter)
	}
	sources.CollectPages(ctx, provider, scopes, limit, page, func(o sources.Outcome) {
		mu.Lock()
		sh := building[o.Scope]
		delete(building, o.Scope)
		mu.Unlock()
		if sh == nil {
			sh = &scopeHosts{}
		}
		err := o.Err
		if err != nil && ctx.Err() != nil {
			// Cut off by the run's end (timeout, cancel): the scope did
			// not finish, so it stays pending rather than failed.
			return
		}
		snapshot := func() roster.SyncRun {
			mu.Lock()
			defer mu.Unlock()
			sr := &run.Scopes[index[o.Scope]]
			sr.Duration = o.Duration
			prog.ScopesDone++
			prog.Scope = o.Scope
			switch {
			case err == nil:
				results[o.Scope] = sh
				sr.Status, sr.Hosts = roster.ScopeSucceeded, len(sh.hosts)
				prog.HostsSeen += len(sh.hosts)
			case errors.Is(err, errConstruct):
				fatal = errors.Join(fatal, err)
				sr.Status, sr.Error = roster.ScopeFailed, err.Error()
				prog.Failed++
			default:
				sr.Status, sr.Error = roster.ScopeFailed, err.Error()
				prog.Failed++
				log.Warn("scope failed; its hosts are kept as they were", "scope", o.Scope, "err", err)
			}
			if progress != nil {
				progress(prog)
			}
			snap := *run
			snap.Scopes = slices.Clone(run.Scopes)
			return snap
		}()
		e.recordProgress(ctx, &snapshot, log)
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	run.Warnings = append(slices.Clone(optionNotes), notes.list()...)
	if fatal != nil {
		return nil, permanent{fmt.Errorf("source %q: %w", src.Name, fatal)}
	}
	if len(results) == 0 {
		return nil, fmt.Errorf("every scope failed (%s); nothing was changed", firstScopeError(run.Scopes))
	}
	changes, err := diff(run, src, scopes, results, states, stored, bodies, notes)
	if err != nil {
		return nil, err
	}
	changes.InputGenerations = read.gens
	if err := e.noteNamesOfOtherSources(ctx, run, scopes, results, notes, log); err != nil {
		return nil, err
	}
	run.Warnings = append(slices.Clone(optionNotes), notes.list()...)
	if len(results) < len(scopes) {
		run.Status = roster.SyncPartial
		run.Error = fmt.Sprintf("%d of %d scopes failed; their hosts were kept as they were", len(scopes)-len(results), len(scopes))
	} else {
		run.Status = roster.SyncSucceeded
	}
	return changes, nil
}

// noteNamesOfOtherSources warns of every host of the run named like a
// host another source of the inventory owns: Ansible's inventory has one
// host per name, and the inventory's name policy says what its document
// makes of them. Under the fail policy such a host fails the run instead
// (a permanent error: nothing is written). Best effort otherwise: a store
// that cannot answer costs the warning, not the sync.
func (e *Engine) noteNamesOfOtherSources(ctx context.Context, run *roster.SyncRun, scopes []string, results map[string]*scopeHosts, notes *warnings, log *slog.Logger) error {
	inv, err := e.store.Inventory(ctx, run.InventoryID)
	if err != nil {
		log.Warn("reading the inventory's name policy failed", "err", err)
		return nil
	}
	if inv.NamePolicy == roster.NamesPrefix {
		return nil // every name is its source's: none collides in Ansible
	}
	others, err := e.store.HostNamesOfOtherSources(ctx, run.InventoryID, run.SourceID)
	if err != nil {
		if inv.NamePolicy == roster.NamesFail {
			return fmt.Errorf("checking host names against the inventory's other sources (its name_policy is fail): %w", err)
		}
		log.Warn("checking host names against the inventory's other sources failed", "err", err)
		return nil
	}
	if len(others) == 0 {
		return nil
	}
	const shown = 5
	var clashes []string
	n := 0
	for _, scope := range scopes {
		sh := results[scope]
		if sh == nil {
			continue
		}
		for _, h := range sh.hosts {
			other, ok := others[h.Name]
			if !ok {
				continue
			}
			n++
			switch inv.NamePolicy {
			case roster.NamesFail:
				if len(clashes) < shown {
					clashes = append(clashes, fmt.Sprintf("%q (source %q)", h.Name, other))
				}
			case roster.NamesFirst:
				notes.add(fmt.Sprintf("named like a host of source %q in this inventory: Ansible sees the host that had the name first (name_policy first)", other), h.ExternalID)
			default:
				notes.add(fmt.Sprintf("named like a host of source %q in this inventory: Ansible sees one host of that name, the two merged (name_policy merge)", other), h.ExternalID)
			}
		}
	}
	if len(clashes) == 0 {
		return nil
	}
	more := ""
	if n > len(clashes) {
		more = fmt.Sprintf(" and %d more", n-len(clashes))
	}
	return permanent{fmt.Errorf("%d hosts are named like hosts of other sources of inventory %q, whose name_policy is fail: %s%s; nothing was changed. "+
		"Name them apart (hostnames, or a prefix in compose), or choose another name_policy", n, inv.Name, strings.Join(clashes, ", "), more)}
}

// recordProgress saves a run's progress for watchers, best effort: a busy
// database must not hold up the sync, which records its outcome anyway.
func (e *Engine) recordProgress(ctx context.Context, run *roster.SyncRun, log *slog.Logger) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	if err := e.store.UpdateSyncRun(ctx, run); err != nil && ctx.Err() == nil {
		log.Warn("recording progress failed", "err", err)
	}
}

// credential obtains the source's credential from the broker, if it names
// one. A broker that cannot serve fails the run before anything is fetched.
func (e *Engine) credential(ctx context.Context, src *roster.Source) (*sources.Credential, error) {
	if src.CredentialID == "" {
		return nil, nil
	}
	if e.creds == nil {
		return nil, errors.New("the source names a credential, but this process has no credential broker")
	}
	t, fields, err := e.creds.ForSource(ctx, src)
	if err != nil {
		return nil, fmt.Errorf("obtain the source's credential: %s", roster.ErrorMessage(err))
	}
	return &sources.Credential{Type: t, Fields: fields}, nil
}

func firstScopeError(scopes []roster.ScopeResult) string {
	for _, s := range scopes {
		if s.Error != "" {
			return s.Name + ": " + s.Error
		}
	}
	return "no detail"
}

// errConstruct marks a construct error that fails the run: any error with
// strict, an over-limit one (construct.LimitError) always.
var errConstruct = errors.New("construct")

// build names, groups and encodes a page of the instances of one scope,
// adding them to sh. It runs on the scope's own goroutine, so construction
// overlaps with fetching.
func (e *Engine) build(sh *scopeHosts, scope string, insts []sources.Instance, cons *construct.Batch, stored storedHosts, bodies *spill, notes *warnings, limiter sources.HostLimiter) error {
	sh.hosts = slices.Grow(sh.hosts, len(insts))
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	for i := range insts {
		inst := &insts[i]
		names := []string{firstNonEmpty(inst.Hostnames)}
		if inst.AllNames {
			names = distinctNames(inst.Hostnames)
		}
		if names[0] == "" {
			names[0] = inst.ExternalID
			notes.add("no hostnames preference matched; named by id", inst.ExternalID)
		}
		// vars are what compose sees, and what is stored unless the names
		// are wrapped for gcp_compute: then wrapped is.
		vars, wrapped := inst.Vars, map[string]any(nil)
		if inst.ComposeSeesInventoryVars {
			// compose sees the magic vars over the host's; the host's are
			// stored (constructed's compose: combine_vars(group vars,
			// host.get_vars()), the inventory vars set last).
			wrapped = vars
			vars = maps.Clone(vars)
			if vars == nil {
				vars = map[string]any{}
			}
			setMagicVars(vars, names[0], inst.MagicGroupNames())
		}
		if inst.VarsPrefix != "" || inst.VarsSuffix != "" {
			if inst.ComposeSeesUnwrapped {
				wrapped = wrapNames(vars, inst.VarsPrefix, inst.VarsSuffix)
			} else {
				// Before construct: its expressions see the wrapped
				// names, as in the plugin (amazon.aws's prepare_host_vars).
				vars = wrapNames(vars, inst.VarsPrefix, inst.VarsSuffix)
			}
		}
		for k, name := range names {
			h := &roster.Host{ExternalID: inst.ExternalID, Scope: scope, Name: name, Enabled: inst.Enabled, Address: inst.Address}
			v := vars
			if k > 0 {
				// One more host of the instance (allow_duplicated_hosts):
				// its own id, its vars constructed again for its name.
				h.ExternalID = inst.ExternalID + aliasSeparator + name
			}
			w := wrapped
			if k < len(names)-1 {
				// construct's output goes into the map stored
				if w != nil {
					w = maps.Clone(wrapped)
				} else {
					v = maps.Clone(vars)
				}
			}
			edges, err := e.buildHost(sh, h, inst, v, w, cons, &buf, enc, notes)
			if err != nil {
				return err
			}
			if limiter != nil && !limiter.Keep(h.Name, h.Groups, append(edges, inst.Edges...)) {
				continue
			}
			for _, edge := range edges {
				sh.edges[edge] = struct{}{}
			}
			st := stored[h.ExternalID]
			unchanged := st != nil && st.Hash == h.Hash && !st.Missing
			if unchanged {
				// Nothing of it is written: only its name and hash are needed.
				h.Groups, h.Vars = nil, nil
			} else if err := bodies.keep(h); err != nil {
				return err
			}
			sh.hosts = append(sh.hosts, built{Host: h, unchanged: unchanged, sharesNames: inst.AllNames})
		}
		insts[i].Vars, insts[i].DefaultVars = nil, nil // let the raw vars go as soon as they are encoded
	}
	return nil
}

// aliasSeparator joins an instance's id and one of its further names into
// the external id of the further host an instance is under
// allow_duplicated_hosts.
const aliasSeparator = "@"

// buildHost constructs h, a host of inst named already, from vars:
// its groups, composed vars, address, encoded vars and hash. Its vars are
// stored, with the composed ones added, or vars when stored is nil (either
// map is changed).
//
// It returns the group edges the construct step made for h, for the
// caller to keep with the host.
func (e *Engine) buildHost(sh *scopeHosts, h *roster.Host, inst *sources.Instance, vars, stored map[string]any, cons *construct.Batch, buf *bytes.Buffer, enc *json.Encoder, notes *warnings) ([]roster.GroupEdge, error) {
	// compose sees the plugin's host vars only (each of the four plugins
	// hands it those); groups and keyed_groups see the host's inventory
	// vars as well, inventory_hostname and group_names among them
	// (ansible-core's constructed mixin adds them there).
	hidden := maps.Clone(inst.DefaultVars)
	if hidden == nil {
		hidden = make(map[string]any, 3+len(stored))
	}
	maps.Copy(hidden, stored) // the wrapped names, for groups and keyed_groups
	setMagicVars(hidden, h.Name, inst.MagicGroupNames())
	res, err := cons.ApplyHidden(vars, hidden)
	if stored != nil {
		vars = stored
	}
	if err != nil {
		return nil, fmt.Errorf("%w: host %s: %v", errConstruct, inst.ExternalID, err)
	}
	for _, w := range res.Warnings {
		notes.add("construct: "+w, inst.ExternalID)
	}
	for k, v := range inst.DefaultVars {
		if _, set := vars[k]; !set {
			vars[k] = v
		}
	}
	for k, v := range res.Vars {
		vars[k] = v
	}
	if a, ok := vars["ansible_host"].(string); ok && a != "" {
		h.Address = a
	}
	h.Groups = mergeGroups(inst.Groups, res.Groups)
	for _, edge := range inst.Edges {
		sh.edges[edge] = struct{}{}
	}
	buf.Reset()
	if err := enc.Encode(vars); err != nil {
		return nil, fmt.Errorf("encode host vars of %s: %w", inst.ExternalID, err)
	}
	h.Vars = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	h.Hash = hostHash(h)
	return res.Edges, nil
}

// distinctNames is names without the empty ones and repeats, in order;
// [""] when none is left.
func distinctNames(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return []string{""}
	}
	return out
}

// setMagicVars adds the variables Ansible's inventory exposes to groups
// and keyed_groups expressions besides the host vars.
func setMagicVars(vars map[string]any, name string, groups []string) {
	short, _, _ := strings.Cut(name, ".")
	names := make([]any, len(groups))
	for i, g := range groups {
		names[i] = g
	}
	vars["inventory_hostname"] = name
	vars["inventory_hostname_short"] = short
	vars["group_names"] = names
}

// wrapNames returns vars with every name wrapped in prefix and suffix.
func wrapNames(vars map[string]any, prefix, suffix string) map[string]any {
	out := make(map[string]any, len(vars))
	for k, v := range vars {
		out[prefix+k+suffix] = v
	}
	return out
}

func firstNonEmpty(names []string) string {
	for _, n := range names {
		if n != "" {
			return n
		}
	}
	return ""
}

func mergeGroups(a, b []string) []string {
	out := make([]string, 0, len(a)+len(b))
	out = append(append(out, a...), b...)
	slices.Sort(out)
	return slices.Compact(out)
}

// hostHash fingerprints everything a sync writes of a host.
func hostHash(h *roster.Host) string {
	s := sha256.New()
	enabled := "0"
	if h.Enabled {
		enabled = "1"
	}
	for _, part := range []string{h.Name, h.Address, enabled, h.Scope, strings.Join(h.Groups, "\x1f")} {
		s.Write([]byte(part))
		s.Write([]byte{0})
	}
	s.Write(h.Vars)
	return hex.EncodeToString(s.Sum(nil)[:16])
}

// diff compares what the run saw with the stored hosts of the source.
func diff(run *roster.SyncRun, src *roster.Source, scopes []string, results map[string]*scopeHosts, states []roster.HostState, stored storedHosts, bodies *spill, notes *warnings) (*roster.HostChanges, error) {
	c := &roster.HostChanges{ReplaceEdges: len(results) == len(scopes), Bodies: bodies}
	failed := make(map[string]bool)
	for _, s := range run.Scopes {
		if s.Status != roster.ScopeSucceeded {
			failed[s.Name] = true
		}
	}

	// Every host seen, once, in a deterministic order.
	seen := make(map[string]bool)
	var hosts []built
	edges := make(map[roster.GroupEdge]bool)
	for _, scope := range scopes {
		sh := results[scope]
		if sh == nil {
			continue
		}
		c.Scopes = append(c.Scopes, scope)
		slices.SortStableFunc(sh.hosts, func(a, b built) int { return strings.Compare(a.ExternalID, b.ExternalID) })
		for _, h := range sh.hosts {
			if seen[h.ExternalID] {
				notes.add("reported twice (in two scopes or queries); kept the first", h.ExternalID)
				continue
			}
			seen[h.ExternalID] = true
			hosts = append(hosts, h)
		}
		for e := range sh.edges {
			if !edges[e] {
				edges[e] = true
				c.Edges = append(c.Edges, e)
			}
		}
	}

	if slices.ContainsFunc(hosts, func(h built) bool { return h.sharesNames }) {
		// Hosts of one name are merged in Ansible's document in the order
		// of their ids, handed out in this order: the plugin's, which
		// sorts every region's instances by id.
		slices.SortStableFunc(hosts, func(a, b built) int { return strings.Compare(a.ExternalID, b.ExternalID) })
	}

	// Names are unique within a source, unless allow_duplicated_hosts
	// lets instances share them. A host keeps the name it has in
	// the store (an unchanged host always does, so it is never rewritten);
	// so do the kept hosts of failed scopes. A host wanting a taken name is
	// named by its id instead.
	owner := make(map[string]string)
	for _, st := range states {
		if !seen[st.ExternalID] && (failed[st.Scope] || src.OnMissing == roster.OnMissingDisable) {
			owner[st.Name] = st.ExternalID // kept: as is, or disabled
		}
	}
	for _, h := range hosts {
		if st := stored[h.ExternalID]; st != nil && st.Name == h.Name {
			if _, taken := owner[h.Name]; !taken {
				owner[h.Name] = h.ExternalID
			}
		}
	}
	for _, h := range hosts {
		if o, taken := owner[h.Name]; taken && o != h.ExternalID && h.sharesNames {
			notes.add(fmt.Sprintf("shares its name %q with %s (allow_duplicated_hosts): Ansible sees one host, their vars merged", h.Name, o), h.ExternalID)
		} else if taken && o != h.ExternalID {
			notes.add(fmt.Sprintf("name %q is taken by %s; named by id", h.Name, o), h.ExternalID)
			h.Name = h.ExternalID
			// Its hash covers its body, kept on disk: read it back to
			// hash it again (a rare case: names seldom collide).
			if err := bodies.Load([]*roster.Host{h.Host}); err != nil {
				return nil, err
			}
			h.Hash = hostHash(h.Host)
			h.Groups, h.Vars = nil, nil
		}
		owner[h.Name] = h.ExternalID
		run.Counts.Seen++
		st := stored[h.ExternalID]
		switch {
		case h.unchanged:
			run.Counts.Unchanged++
		case st == nil:
			c.Add = append(c.Add, h.Host)
			run.Counts.Added++
		case st.Hash != h.Hash || st.Missing:
			h.ID = st.ID
			c.Update = append(c.Update, h.Host)
			run.Counts.Updated++
		default:
			run.Counts.Unchanged++
		}
	}

	for i := range states {
		st := &states[i]
		if seen[st.ExternalID] || failed[st.Scope] {
			continue // seen, or not seen because its scope failed: keep
		}
		switch {
		case src.OnMissing == roster.OnMissingDisable && st.Missing:
			// already disabled as missing
		case src.OnMissing == roster.OnMissingDisable:
			c.Disable = append(c.Disable, st.ID)
			run.Counts.Disabled++
		default:
			c.Remove = append(c.Remove, st.ID)
			run.Counts.Removed++
		}
	}
	slices.SortFunc(c.Edges, func(a, b roster.GroupEdge) int {
		return strings.Compare(a.Parent+"\x00"+a.Child, b.Parent+"\x00"+b.Child)
	})
	return c, nil
}

// userMessage is err's message for a run record: field errors in full,
// other errors as they are (they come from providers, never secrets).
func userMessage(err error) string {
	if fields := roster.ErrorFields(err); len(fields) > 0 {
		return (&roster.Error{Message: "invalid configuration", Fields: fields}).Error()
	}
	return err.Error()
}

// warnings collects a run's warnings, grouped by message with a few
// example hosts each, safe for concurrent use.
type warnings struct {
	mu    sync.Mutex
	order []string
	hosts map[string][]string
	count map[string]int
}

func newWarnings() *warnings {
	return &warnings{hosts: map[string][]string{}, count: map[string]int{}}
}

func (w *warnings) add(msg, host string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.count[msg]; !ok {
		w.order = append(w.order, msg)
	}
	w.count[msg]++
	if len(w.hosts[msg]) < 5 {
		w.hosts[msg] = append(w.hosts[msg], host)
	}
}

func (w *warnings) list() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, msg := range w.order {
		if len(out) == maxWarnings {
			break
		}
		n, hosts := w.count[msg], strings.Join(w.hosts[msg], ", ")
		if n > len(w.hosts[msg]) {
			hosts += fmt.Sprintf(", and %d more", n-len(w.hosts[msg]))
		}
		out = append(out, fmt.Sprintf("%s (%d hosts: %s)", msg, n, hosts))
	}
	return out
}
