package api

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/promsd"
	"github.com/rosterhq/roster/internal/schedule"
)

// FollowUps queues a sync of a source for when its running sync ends.
type FollowUps interface {
	SyncAfter(ctx context.Context, run *roster.SyncRun, trigger roster.SyncTrigger) error
}

// callbackGap is the least time between two callbacks of one source.
const callbackGap = 10 * time.Second

// maxFreshWait bounds how long a read waits for the syncs it triggered.
const maxFreshWait = 60 * time.Second

// ---- source scheduling fields

// scheduleFields validates and applies the scheduling fields of a source
// create or update. Durations are Go durations; "" means the default.
func scheduleFields(errs *roster.FieldErrors, spec, jitter, timeout *string, cacheTimeout *int) (sched *string, jit, tmo, cache *time.Duration) {
	if spec != nil {
		if *spec != "" {
			if _, err := schedule.Parse(*spec); err != nil {
				errs.Add("schedule", "%s", err.Error())
			}
		}
		sched = spec
	}
	duration := func(field string, v *string, def time.Duration, max time.Duration) *time.Duration {
		if v == nil {
			return nil
		}
		if *v == "" {
			return &def
		}
		d, err := time.ParseDuration(*v)
		switch {
		case err != nil:
			errs.Add(field, "must be a duration such as 30s, 10m or 1h")
		case d < 0:
			errs.Add(field, "must not be negative")
		case d > max:
			errs.Add(field, "must be at most %s", max)
		}
		return &d
	}
	jit = duration("schedule_jitter", jitter, roster.DefaultJitter, 24*time.Hour)
	tmo = duration("timeout", timeout, 0, 24*time.Hour)
	if tmo != nil && *tmo != 0 && *tmo < time.Second {
		errs.Add("timeout", "must be at least 1s")
	}
	if cacheTimeout != nil {
		if *cacheTimeout < 0 || *cacheTimeout > MaxAgeSeconds {
			errs.Add("update_cache_timeout", "must be between 0 and %d seconds (a year)", MaxAgeSeconds)
		}
		d := time.Duration(*cacheTimeout) * time.Second
		cache = &d
	}
	return sched, jit, tmo, cache
}

// MaxAgeSeconds bounds max_age and update_cache_timeout: a year. In
// seconds, so that no value that passes overflows a time.Duration.
const MaxAgeSeconds = 365 * 24 * 60 * 60

// ---- provisioning callbacks

// CreateCallbackKey implements StrictServerInterface.
func (s *Server) CreateCallbackKey(ctx context.Context, req CreateCallbackKeyRequestObject) (CreateCallbackKeyResponseObject, error) {
	src, err := s.source(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	key, hash := roster.NewCallbackKey()
	if err := s.scheduler.SetCallbackKey(ctx, src.ID, hash); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "source.callback_key.create", "source", src.ID, src.Name, src.InventoryID, nil)
	return CreateCallbackKey201JSONResponse{Key: key.Reveal(), Url: "/api/v1/callbacks/" + key.Reveal()}, nil
}

// DeleteCallbackKey implements StrictServerInterface.
func (s *Server) DeleteCallbackKey(ctx context.Context, req DeleteCallbackKeyRequestObject) (DeleteCallbackKeyResponseObject, error) {
	src, err := s.source(ctx, req.Source)
	if err != nil {
		return nil, err
	}
	if err := s.scheduler.SetCallbackKey(ctx, src.ID, ""); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "source.callback_key.delete", "source", src.ID, src.Name, src.InventoryID, nil)
	return DeleteCallbackKey204Response{}, nil
}

// SourceCallback implements StrictServerInterface.
func (s *Server) SourceCallback(ctx context.Context, req SourceCallbackRequestObject) (SourceCallbackResponseObject, error) {
	src, err := s.scheduler.SourceByCallbackKey(ctx, roster.HashToken(roster.Secret(req.Key)))
	if err != nil {
		return nil, err
	}
	ok, wait, err := s.scheduler.TakeCallback(ctx, src.ID, s.now(), callbackGap)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, &tooMany{wait: wait, err: roster.Errorf(roster.ETOOMANY, "this source's callback was called less than %s ago; try again later", callbackGap)}
	}
	run, created, err := s.engine.Trigger(ctx, src, roster.TriggerCallback)
	if err != nil {
		return nil, err
	}
	out := CallbackAccepted{RunId: run.ID, Status: CallbackAcceptedStatus(run.Status)}
	if !created && run.Status == roster.SyncRunning {
		// That run may have listed the cloud before the host existed.
		if s.followUps == nil {
			return nil, roster.Errorf(roster.EUNAVAILABLE, "this process cannot queue follow-up syncs")
		}
		if err := s.followUps.SyncAfter(ctx, run, roster.TriggerCallback); err != nil {
			return nil, err
		}
		out.FollowUp = true
	}
	s.log.Info("provisioning callback", "source", src.Name, "run", run.ID, "created", created, "follow_up", out.FollowUp)
	return SourceCallback202JSONResponse(out), nil
}

// tooMany is a 429 with its Retry-After.
type tooMany struct {
	wait time.Duration
	err  error
}

func (e *tooMany) Error() string { return e.err.Error() }
func (e *tooMany) Unwrap() error { return e.err }

// retryAfter is the Retry-After of err, in whole seconds (0: none).
func retryAfter(err error) int {
	var tm *tooMany
	if errors.As(err, &tm) {
		return max(1, int(math.Ceil(tm.wait.Seconds())))
	}
	return 0
}

func ptr[T any](v T) *T { return &v }

// ---- fresh reads

// freshness is how fresh an answer is, for its headers.
type freshness struct {
	age    *int // seconds since the least recent last sync; nil when a source never synced
	stale  bool
	waited bool // for syncs: data read before may have changed
}

func (f freshness) set(h http.Header) {
	if f.age != nil {
		h.Set("Age", strconv.Itoa(*f.age))
	}
	h.Set("Roster-Stale", strconv.FormatBool(f.stale))
}

// fresh makes sure the inventory's data is no older than maxAge seconds
// (and, for a launch, than each source's update_cache_timeout): it
// triggers syncs of the sources that are older and, unless stale is
// "serve", waits for them (at most maxFreshWait). It returns how fresh the
// data is then. An auditor changes nothing: its reads never trigger syncs
// (they report how stale the data is).
func (s *Server) fresh(ctx context.Context, inventoryID string, maxAge *int, stale *string, launch bool) (freshness, error) {
	if maxAge != nil && (*maxAge < 0 || *maxAge > MaxAgeSeconds) {
		return freshness{}, roster.Invalid(roster.FieldError{Field: "max_age", Message: fmt.Sprintf("must be between 0 and %d seconds (a year)", MaxAgeSeconds)})
	}
	bound := func(st roster.SourceSyncState) (time.Duration, bool) {
		b, ok := time.Duration(0), false
		if maxAge != nil {
			b, ok = time.Duration(*maxAge)*time.Second, true
		}
		if launch && st.UpdateCacheTimeout > 0 && (!ok || st.UpdateCacheTimeout < b) {
			b, ok = st.UpdateCacheTimeout, true
		}
		return b, ok
	}
	isStale := func(st roster.SourceSyncState, now time.Time) bool {
		b, ok := bound(st)
		return ok && (st.LastSynced == nil || now.Sub(*st.LastSynced) > b)
	}
	states, err := s.scheduler.SourceSyncStates(ctx, inventoryID)
	if err != nil {
		return freshness{}, err
	}
	now := s.now()
	// Auditors and read-only tokens change nothing: not even a sync.
	mayTrigger, err := s.actsAs(ctx, inventoryID, true, roster.RoleAdmin, roster.RoleOperator, roster.RoleRunner)
	if err != nil {
		return freshness{}, err
	}
	var waitFor []string
	waited := false
	for _, st := range states {
		if !isStale(st, now) || (st.Active == nil && !mayTrigger) {
			continue
		}
		run := st.Active
		if run == nil {
			src, err := s.store.Source(ctx, st.SourceID)
			if err != nil {
				return freshness{}, err
			}
			if run, _, err = s.engine.Trigger(ctx, src, roster.TriggerAPI); err != nil {
				return freshness{}, err
			}
			s.log.Info("sync triggered by a read asking for fresher data", "source", src.Name, "run", run.ID)
		}
		waitFor = append(waitFor, run.ID)
	}
	if len(waitFor) > 0 && (stale == nil || *stale != "serve") {
		if err := s.waitRuns(ctx, waitFor); err != nil {
			return freshness{}, err
		}
		waited = true
		if states, err = s.scheduler.SourceSyncStates(ctx, inventoryID); err != nil {
			return freshness{}, err
		}
		now = s.now()
	}
	f := freshness{waited: waited}
	var oldest *time.Time
	never := false
	for _, st := range states {
		f.stale = f.stale || isStale(st, now)
		switch {
		case st.LastSynced == nil:
			never = true
		case oldest == nil || st.LastSynced.Before(*oldest):
			oldest = st.LastSynced
		}
	}
	if oldest != nil && !never {
		f.age = ptr(int(now.Sub(*oldest).Seconds()))
	}
	return f, nil
}

// waitRuns waits until the runs are done, the bound passes, or ctx ends;
// only the last is an error.
func (s *Server) waitRuns(ctx context.Context, ids []string) error {
	ctx, cancel := context.WithTimeout(ctx, maxFreshWait)
	defer cancel()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for len(ids) > 0 {
		run, err := s.store.SyncRun(ctx, ids[0])
		switch {
		case ctx.Err() != nil:
			if context.Cause(ctx) == context.DeadlineExceeded && ctx.Err() == context.DeadlineExceeded {
				return nil // bounded: answer with what there is
			}
			return ctx.Err()
		case roster.ErrorCode(err) == roster.ENOTFOUND || (err == nil && run.Status.Done()):
			ids = ids[1:]
			continue
		case err != nil:
			return err
		}
		select {
		case <-ctx.Done():
		case <-tick.C:
		}
	}
	return nil
}

// ---- Prometheus service discovery

// GetPrometheusSD implements StrictServerInterface.
func (s *Server) GetPrometheusSD(ctx context.Context, req GetPrometheusSDRequestObject) (GetPrometheusSDResponseObject, error) {
	inv, err := s.inventory(ctx, req.Inventory)
	if err != nil {
		return nil, err
	}
	if len(inv.PrometheusSD) == 0 {
		return nil, roster.Invalid(roster.FieldError{Field: "prometheus_sd", Message: fmt.Sprintf("inventory %q has no Prometheus mapping; set one with PATCH /api/v1/inventories/%s", inv.Name, inv.ID)})
	}
	var m promsd.Mapping
	if err := json.Unmarshal(inv.PrometheusSD, &m); err != nil {
		return nil, fmt.Errorf("inventory %s: decode prometheus_sd: %w", inv.ID, err)
	}
	f, err := s.fresh(ctx, inv.ID, req.Params.MaxAge, (*string)(req.Params.Stale), false)
	if err != nil {
		return nil, err
	}
	if inv, err = s.afterSyncs(ctx, inv, f); err != nil {
		return nil, err
	}
	srcs, err := s.store.Sources(ctx, inv.ID)
	if err != nil {
		return nil, err
	}
	meta := promsd.Meta{Inventory: inv.Name, Sources: make(map[string]string, len(srcs))}
	for _, src := range srcs {
		meta.Sources[src.ID] = src.Name
	}
	// The mapping and the names are read outside the render's snapshot:
	// readers share a document only when they read the same ones.
	variant := promSDVariant(inv.PrometheusSD, meta)
	view, err := s.hostsOf(ctx, inv)
	if err != nil {
		return nil, err
	}
	return s.document(ctx, inv, f, view.docKey(inv, "prometheus-sd"), variant, negotiation{ifNoneMatch: req.Params.IfNoneMatch}, func(ctx context.Context, w *bufio.Writer) (int64, error) {
		var gen int64
		hosts := func(yield func(*roster.Host, error) bool) {
			var err error
			gen, err = view.WalkInventory(ctx, inv.ID, func(h *roster.Host) error {
				if !yield(h, nil) {
					return errWalkDone
				}
				return nil
			}, func(*roster.Group) error { return nil })
			if err != nil && !errors.Is(err, errWalkDone) {
				yield(nil, err)
			}
		}
		res, err := promsd.Render(w, m, meta, hosts)
		if err != nil {
			return 0, err
		}
		if res.Skipped() > 0 {
			s.log.Info("prometheus-sd left out hosts without an address or port", "inventory", meta.Inventory,
				"no_address", res.NoAddress, "no_port", res.NoPort)
		}
		return gen, nil
	})
}

var errWalkDone = errors.New("walk done")

// promSDVariant fingerprints what a Prometheus SD document shows besides
// the inventory's hosts: the mapping and the names of the inventory and
// its sources.
func promSDVariant(mapping json.RawMessage, meta promsd.Meta) string {
	h := fnv.New64a()
	h.Write(mapping)
	b, _ := json.Marshal(meta) // maps marshal in key order
	h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36)
}

// mappingIn validates an API mapping and returns its stored JSON (nil for
// an empty mapping, which removes it on update).
func mappingIn(errs *roster.FieldErrors, in *PrometheusSDMapping) json.RawMessage {
	// (include_disabled alone, which request validation may fill in with
	// its default, maps nothing.)
	if in == nil || in.Port == nil && in.PortVar == nil && in.AddressVar == nil && in.Labels == nil && in.Groups == nil {
		return nil
	}
	m := promsd.Mapping{AddressVar: deref(in.AddressVar), PortVar: deref(in.PortVar), IncludeDisabled: in.IncludeDisabled != nil && *in.IncludeDisabled}
	if in.Port != nil {
		m.Port = *in.Port
	}
	if in.Labels != nil {
		m.Labels = *in.Labels
	}
	if in.Groups != nil {
		m.Groups = *in.Groups
	}
	*errs = append(*errs, m.Validate()...)
	b, err := json.Marshal(m)
	if err != nil {
		panic(err)
	}
	return b
}

// mappingOut is the API form of a stored mapping.
func mappingOut(raw json.RawMessage) *PrometheusSDMapping {
	if len(raw) == 0 {
		return nil
	}
	var m promsd.Mapping
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil
	}
	out := &PrometheusSDMapping{AddressVar: optional(m.AddressVar), PortVar: optional(m.PortVar)}
	if m.Port != 0 {
		out.Port = &m.Port
	}
	if len(m.Labels) > 0 {
		out.Labels = &m.Labels
	}
	if len(m.Groups) > 0 {
		out.Groups = &m.Groups
	}
	if m.IncludeDisabled {
		out.IncludeDisabled = ptr(true)
	}
	return out
}

// planSchedule plans the first scheduled sync of a new source, so that
// its answer shows when it will run.
func (s *Server) planSchedule(ctx context.Context, src *roster.Source) error {
	next, err := schedule.NextSync(src, s.now())
	if err != nil || next == nil {
		return err
	}
	if _, _, err := s.scheduler.ClaimScheduledSync(ctx, src.ID, time.Time{}, next); err != nil {
		return err
	}
	src.NextSync = next
	return nil
}
