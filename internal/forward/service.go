package forward

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/rosterhq/roster"
)

// SecretPrefix is where the backend keeps a sink's secrets: sinks/<id>.
const SecretPrefix = "sinks/"

// maxSecret bounds one secret field.
const maxSecret = 4096

// testTimeout bounds a "send test event".
const testTimeout = 15 * time.Second

// Service manages event sinks: their settings in the store, their secrets
// in the backend, and the forwarder that runs them.
type Service struct {
	store   roster.EventSinkStore
	backend roster.SecretBackend
	fw      *Forwarder
	log     *slog.Logger

	mu   sync.Mutex
	last map[string]Sink // by id: what the last reload handed over
}

// NewService returns a service over store, backend and fw.
func NewService(store roster.EventSinkStore, backend roster.SecretBackend, fw *Forwarder, log *slog.Logger) *Service {
	return &Service{store: store, backend: backend, fw: fw, log: log}
}

// Forwarder is the service's forwarder.
func (s *Service) Forwarder() *Forwarder { return s.fw }

// Create validates and stores a sink with its secrets, and starts it.
func (s *Service) Create(ctx context.Context, e *roster.EventSink, secrets roster.SecretFields) (*roster.EventSink, error) {
	e.Normalize()
	errs := checkSecrets(secrets)
	errs.Merge("", e.Validate(slices.Collect(maps.Keys(secrets))))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	e.ID = uuid.Must(uuid.NewV7()).String()
	e.SecretPath, e.HasSecret = SecretPrefix+e.ID, len(secrets) > 0
	if e.HasSecret {
		v, err := s.backend.PutSecrets(ctx, e.SecretPath, secrets, 0)
		if err != nil {
			return nil, s.backendError("store the sink's secrets", err)
		}
		e.SecretVersion = v
	}
	if err := s.store.CreateEventSink(ctx, e); err != nil {
		s.deleteSecrets(ctx, e)
		return nil, err
	}
	s.reloadSoon(ctx)
	return e, nil
}

// Update changes a sink. In secrets, a field absent keeps its value, and
// an empty one removes it.
func (s *Service) Update(ctx context.Context, id string, u roster.EventSinkUpdate, secrets roster.SecretFields) (*roster.EventSink, error) {
	cur, err := s.store.EventSink(ctx, id)
	if err != nil {
		return nil, err
	}
	stored := roster.SecretFields{}
	info := roster.BackendInfo{}
	if cur.HasSecret {
		if stored, info, err = s.backend.GetSecrets(ctx, cur.SecretPath); err != nil {
			return nil, s.backendError("read the sink's secrets", err)
		}
	}
	next := maps.Clone(stored)
	for k, v := range secrets {
		if v == "" {
			delete(next, k)
		} else {
			next[k] = v
		}
	}
	want := u.Apply(*cur)
	want.Normalize()
	errs := checkSecrets(secrets)
	errs.Merge("", want.Validate(slices.Collect(maps.Keys(next))))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if len(secrets) > 0 {
		has := len(next) > 0
		u.HasSecret = &has
		var v int
		if has {
			if v, err = s.backend.PutSecrets(ctx, cur.SecretPath, next, info.Version); err != nil {
				return nil, s.backendError("store the sink's secrets", err)
			}
		} else {
			s.deleteSecrets(ctx, cur)
		}
		u.SecretVersion = &v
	}
	u.Streams, u.LogLevel, u.QueueSize, u.Config = want.Streams, &want.LogLevel, &want.QueueSize, &want.Config
	out, err := s.store.UpdateEventSink(ctx, id, u)
	if err != nil {
		return nil, err
	}
	s.reloadSoon(ctx)
	return out, nil
}

// Delete removes a sink and its secrets, and stops it.
func (s *Service) Delete(ctx context.Context, id string) error {
	cur, err := s.store.EventSink(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteEventSink(ctx, id); err != nil {
		return err
	}
	s.deleteSecrets(ctx, cur)
	s.reloadSoon(ctx)
	return nil
}

// Sink finds a sink by id or name.
func (s *Service) Sink(ctx context.Context, ref string) (*roster.EventSink, error) {
	e, err := s.store.EventSink(ctx, ref)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		if byName, nerr := s.store.EventSinkByName(ctx, ref); nerr == nil {
			return byName, nil
		}
	}
	return e, err
}

// Sinks lists every sink.
func (s *Service) Sinks(ctx context.Context) ([]*roster.EventSink, error) {
	return s.store.EventSinks(ctx)
}

// Test sends one synthetic event to the sink at once, bypassing its queue.
func (s *Service) Test(ctx context.Context, e *roster.EventSink) (TestResult, error) {
	secrets, err := s.secrets(ctx, e)
	if err != nil {
		return TestResult{}, err
	}
	return Test(ctx, e, secrets, s.fw.Node(), testTimeout), nil
}

// Status is this process's view of the sink's forwarding; ok is false
// when this process does not run it (yet).
func (s *Service) Status(e *roster.EventSink) (Status, bool) { return s.fw.Status(e.ID) }

func (s *Service) secrets(ctx context.Context, e *roster.EventSink) (roster.SecretFields, error) {
	if !e.HasSecret {
		return roster.SecretFields{}, nil
	}
	f, _, err := s.backend.GetSecrets(ctx, e.SecretPath)
	if err != nil {
		return nil, s.backendError("read the sink's secrets", err)
	}
	return f, nil
}

// Reload reads every sink and its secrets and hands them to the
// forwarder. A sink whose secrets cannot be read (the secret backend is
// down) keeps running as it was, or does not start yet: the others'
// changes apply all the same.
func (s *Service) Reload(ctx context.Context) error {
	all, err := s.store.EventSinks(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	sinks := make([]Sink, 0, len(all))
	next := make(map[string]Sink, len(all))
	var errs []error
	for _, e := range all {
		secrets, err := s.secrets(ctx, e)
		if err != nil {
			errs = append(errs, fmt.Errorf("sink %s: %w", e.Name, err))
			prev, ok := s.last[e.ID]
			if !ok {
				continue
			}
			secrets = prev.Secrets
			if prev.SecretVersion != e.SecretVersion {
				*e = prev.EventSink // its new settings wait for their secrets
			}
		}
		sink := Sink{EventSink: *e, Secrets: secrets}
		sinks = append(sinks, sink)
		next[e.ID] = sink
	}
	s.fw.Set(sinks)
	s.last = next
	return errors.Join(errs...)
}

// reloadSoon applies a change made through this process at once; other
// processes pick it up at their next periodic reload.
func (s *Service) reloadSoon(ctx context.Context) {
	if err := s.Reload(context.WithoutCancel(ctx)); err != nil {
		s.log.Warn("reloading the event sinks failed", "err", err)
	}
}

// Run reloads the sinks every interval until ctx ends, so that changes
// made through another node of a cluster take effect here.
func (s *Service) Run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.Reload(ctx); err != nil && ctx.Err() == nil {
				s.log.Warn("reloading the event sinks failed", "err", err)
			}
		}
	}
}

func (s *Service) deleteSecrets(ctx context.Context, e *roster.EventSink) {
	if !e.HasSecret {
		return
	}
	if err := s.backend.DeleteSecrets(context.WithoutCancel(ctx), e.SecretPath); err != nil {
		s.log.Warn("removing an event sink's secrets failed", "sink", e.ID, "err", err)
	}
}

// backendError turns a backend failure into what a caller may see (see
// roster.SecretBackendError).
func (s *Service) backendError(doing string, err error) error {
	return roster.SecretBackendError(s.log, doing, err)
}

// checkSecrets bounds the secret fields given, never quoting one.
func checkSecrets(secrets roster.SecretFields) roster.FieldErrors {
	var fe roster.FieldErrors
	for _, k := range slices.Sorted(maps.Keys(secrets)) {
		v := secrets[k].Reveal()
		if len(v) > maxSecret || containsLineBreak(v) {
			fe.Add(k, "must be at most %d bytes on one line", maxSecret)
		}
	}
	return fe
}

func containsLineBreak(s string) bool {
	return slices.ContainsFunc([]byte(s), func(b byte) bool { return b == '\n' || b == '\r' || b == 0 })
}
