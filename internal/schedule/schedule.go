// Package schedule computes when sources sync by themselves: the ticks of
// an interval or cron schedule, and the jitter that spreads sources on the
// same schedule over time.
//
// Everything here is a pure function of the source id and the time, so
// every node of a cluster computes the same ticks: a tick names one sync,
// which the store lets only one node claim.
package schedule

import (
	"errors"
	"fmt"
	"hash/fnv"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/rosterhq/roster"
)

// MinInterval is the shortest interval schedule. Shorter than a minute is
// for tests and simulators; clouds rate-limit listing calls.
const MinInterval = 5 * time.Second

// MaxDefaultJitter bounds the default jitter.
const MaxDefaultJitter = 5 * time.Minute

// Spec is a parsed schedule.
type Spec struct {
	text  string
	every time.Duration // interval schedules
	cron  cron.Schedule // cron schedules
}

var parser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Parse parses an interval ("15m", "1h30m") or a cron expression (five
// fields, or @hourly/@daily/@weekly/@monthly/@yearly; UTC unless prefixed
// with CRON_TZ=Area/City).
func Parse(s string) (Spec, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return Spec{}, errors.New("is empty")
	}
	if d, err := time.ParseDuration(s); err == nil {
		if d < MinInterval {
			return Spec{}, fmt.Errorf("interval %s is shorter than %s", d, MinInterval)
		}
		return Spec{text: s, every: d}, nil
	}
	if strings.HasPrefix(s, "@every") {
		return Spec{}, errors.New(`write an interval as a duration ("15m"), not "@every"`)
	}
	c, err := parser.Parse(s)
	if err != nil {
		return Spec{}, fmt.Errorf("is neither a duration such as 15m nor a cron expression such as \"*/15 * * * *\": %v", err)
	}
	return Spec{text: s, cron: c}, nil
}

// String returns the schedule as written.
func (s Spec) String() string { return s.text }

// Next returns the first tick of the source's schedule strictly after t.
// Interval ticks fall at a per-source phase within the interval, so that
// sources created together do not tick together.
func (s Spec) Next(sourceID string, t time.Time) time.Time {
	if s.cron != nil {
		return s.cron.Next(t).UTC()
	}
	every := s.every
	phase := time.Duration(fraction(sourceID, "phase") * float64(every)).Truncate(time.Microsecond)
	base := time.Unix(0, 0).UTC().Add(phase)
	n := t.Sub(base) / every // whole intervals since the first tick
	tick := base.Add(n * every)
	for !tick.After(t) {
		tick = tick.Add(every)
	}
	return tick
}

// Period is the time between ticks: the interval, or for cron the gap
// after the next tick following t.
func (s Spec) Period(t time.Time) time.Duration {
	if s.cron == nil {
		return s.every
	}
	a := s.cron.Next(t)
	return s.cron.Next(a).Sub(a)
}

// CheckJitter reports whether a chosen jitter fits the schedule: it must be
// shorter than the shortest time between two ticks (of the next hundred,
// for cron), or ticks would run late by more than the schedule's period
// and come out of order. The default jitter always fits.
func CheckJitter(spec string, jitter time.Duration, t time.Time) error {
	if spec == "" || jitter == roster.DefaultJitter || jitter == 0 {
		return nil
	}
	s, err := Parse(spec)
	if err != nil {
		return nil // the schedule's own error is reported
	}
	shortest := s.Period(t)
	if s.cron != nil {
		a := s.cron.Next(t)
		for range 100 {
			b := s.cron.Next(a)
			shortest = min(shortest, b.Sub(a))
			a = b
		}
	}
	if jitter >= shortest {
		return fmt.Errorf("must be shorter than the time between two ticks of the schedule (%s)", shortest)
	}
	return nil
}

// DefaultJitter is the jitter of a source that does not choose one: a
// tenth of the period, at most MaxDefaultJitter.
func (s Spec) DefaultJitter(t time.Time) time.Duration {
	return min(s.Period(t)/10, MaxDefaultJitter)
}

// Jitter is the delay of one tick of a source: a stable pseudo-random part
// of max, different for every source and tick.
func Jitter(sourceID string, tick time.Time, max time.Duration) time.Duration {
	if max <= 0 {
		return 0
	}
	return time.Duration(fraction(sourceID, tick.UTC().Format(time.RFC3339Nano)) * float64(max)).Truncate(time.Microsecond)
}

// fraction maps its inputs to [0, 1).
func fraction(parts ...string) float64 {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	return float64(h.Sum64()>>11) / (1 << 53)
}

// NextSync plans the first sync of a source's schedule after t; nil for a
// source without one.
func NextSync(src *roster.Source, t time.Time) (*roster.ScheduledSync, error) {
	if src.Schedule == "" {
		return nil, nil
	}
	spec, err := Parse(src.Schedule)
	if err != nil {
		return nil, err
	}
	tick := spec.Next(src.ID, t)
	jitter := src.ScheduleJitter
	if jitter == roster.DefaultJitter {
		jitter = spec.DefaultJitter(tick)
	}
	return &roster.ScheduledSync{Tick: tick, Due: tick.Add(Jitter(src.ID, tick, jitter))}, nil
}
