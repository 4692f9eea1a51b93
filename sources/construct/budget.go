package construct

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"
)

// Limits bound the memory that evaluating a source's expressions may take.
// Sizes are measured as about the length of a value's JSON encoding: a
// string its bytes, a list or dict the sum of its items plus a few bytes
// each.
type Limits struct {
	// ValueBytes bounds every value (string, list, dict) an expression
	// builds: with an operator, a filter, a method, a literal or a
	// template. Producers check it before they allocate. One evaluation
	// may build at most workFactor times as much in all.
	ValueBytes int64
	// HostBytes bounds the constructed output of one host: its composed
	// vars and the names of the groups and parent groups it joins.
	HostBytes int64
	// SyncBytes bounds the constructed output of all the hosts of one
	// sync (a Batch).
	SyncBytes int64
}

// The default limits. 64 KiB is far more than an inventory value needs
// and far less than a server can spare per evaluation.
const (
	DefaultValueBytes = 64 << 10
	DefaultHostBytes  = 1 << 20
	DefaultSyncBytes  = 256 << 20
)

// DefaultLimits returns the limits used when none are configured.
func DefaultLimits() Limits {
	return Limits{ValueBytes: DefaultValueBytes, HostBytes: DefaultHostBytes, SyncBytes: DefaultSyncBytes}
}

// orDefaults fills the zero fields of l with the defaults.
func (l Limits) orDefaults() Limits {
	d := DefaultLimits()
	if l.ValueBytes == 0 {
		l.ValueBytes = d.ValueBytes
	}
	if l.HostBytes == 0 {
		l.HostBytes = max(d.HostBytes, l.ValueBytes)
	}
	if l.SyncBytes == 0 {
		l.SyncBytes = max(d.SyncBytes, l.HostBytes)
	}
	return l
}

// minValueBytes is the smallest per-value limit accepted: below it,
// ordinary expressions fail.
const minValueBytes = 1 << 10

// workFactor is how many times the per-value limit one evaluation may
// build in all, intermediate values included: a loop building many values
// just under the limit stops too.
const workFactor = 16

// maxEvalTime is a backstop on the time of one evaluation, for work no
// step or byte count captures. The budgets stop runaway expressions long
// before it; a legitimate expression takes microseconds.
const maxEvalTime = 500 * time.Millisecond

// Validate checks that the limits are usable: each at least 1 KiB, and
// value ≤ host ≤ sync.
func (l Limits) Validate() error {
	switch {
	case l.ValueBytes < minValueBytes:
		return fmt.Errorf("the limit per value must be at least %s", byteSize(minValueBytes))
	case l.HostBytes < l.ValueBytes:
		return fmt.Errorf("the limit per host (%s) must be at least the limit per value (%s)", byteSize(l.HostBytes), byteSize(l.ValueBytes))
	case l.SyncBytes < l.HostBytes:
		return fmt.Errorf("the limit per sync (%s) must be at least the limit per host (%s)", byteSize(l.SyncBytes), byteSize(l.HostBytes))
	}
	return nil
}

// LimitKind names the limit an evaluation went over.
type LimitKind string

// The limits of Limits, and the two of each evaluation.
const (
	LimitValue LimitKind = "value" // Limits.ValueBytes
	LimitWork  LimitKind = "work"  // workFactor × Limits.ValueBytes per evaluation
	LimitSteps LimitKind = "steps" // maxSteps per evaluation
	LimitTime  LimitKind = "time"  // maxEvalTime per evaluation
	LimitHost  LimitKind = "host"  // Limits.HostBytes
	LimitSync  LimitKind = "sync"  // Limits.SyncBytes
)

// LimitError is an evaluation that went over a limit. Unlike other
// evaluation errors it fails the sync whatever strict says: a budget is
// not a template error the user chose to ignore. Its message holds no host
// values.
type LimitError struct {
	Kind  LimitKind
	Limit int64 // bytes, steps or nanoseconds
}

func (e *LimitError) Error() string {
	switch e.Kind {
	case LimitValue:
		return fmt.Sprintf("builds a value larger than the limit of %s per value (expression_value_bytes)", byteSize(e.Limit))
	case LimitWork:
		return fmt.Sprintf("builds more than %s in all, the limit of one evaluation (%d × expression_value_bytes)", byteSize(e.Limit), workFactor)
	case LimitSteps:
		return fmt.Sprintf("evaluation exceeded its step budget of %d steps (runaway loop?)", e.Limit)
	case LimitTime:
		return fmt.Sprintf("evaluation took longer than its limit of %s", time.Duration(e.Limit))
	case LimitHost:
		return fmt.Sprintf("the host's composed vars and groups are larger than the limit of %s per host (expression_host_bytes)", byteSize(e.Limit))
	case LimitSync:
		return fmt.Sprintf("the sync's composed vars and groups are larger than the limit of %s per sync (expression_sync_bytes)", byteSize(e.Limit))
	}
	return "over a limit"
}

// IsLimit reports whether err is, or wraps, a *LimitError. (AsType: it
// runs for every entry skipped on every host, and allocates nothing.)
func IsLimit(err error) bool {
	_, ok := errors.AsType[*LimitError](err)
	return ok
}

// byteSize prints n in the largest binary unit that divides it.
func byteSize(n int64) string {
	switch {
	case n >= 1<<30 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// budget is the allowance of one evaluation: the bytes it builds, per
// value and in all, its steps and its time.
type budget struct {
	value, work int64 // limits
	built       int64 // bytes built so far
	steps       int
	ticks       int // calls of tick, to look at the clock now and then
	start       time.Time
}

func newBudget(l Limits) budget {
	l = l.orDefaults()
	return budget{value: l.ValueBytes, work: workFactor * l.ValueBytes}
}

// reset starts a new evaluation.
func (b *budget) reset() {
	b.built, b.steps, b.ticks, b.start = 0, 0, 0, time.Time{}
}

func (e *env) tick(n int) error {
	e.b.steps += n
	if e.b.steps > maxSteps {
		return &LimitError{Kind: LimitSteps, Limit: maxSteps}
	}
	e.b.ticks++
	if e.b.ticks&15 == 0 {
		now := time.Now()
		if e.b.start.IsZero() {
			e.b.start = now
		} else if now.Sub(e.b.start) > maxEvalTime {
			return &LimitError{Kind: LimitTime, Limit: int64(maxEvalTime)}
		}
	}
	return nil
}

// tickLen charges the work of reading v to the step budget: a filter,
// method, test or operator reads its input at least once.
func (e *env) tickLen(v any) error {
	switch x := v.(type) {
	case string:
		return e.tick(len(x) / 256)
	case []any:
		return e.tick(len(x) / 16)
	case map[string]any:
		return e.tick(len(x) / 16)
	}
	return nil
}

// overValue is the error of a value larger than the limit per value.
func (e *env) overValue() error { return &LimitError{Kind: LimitValue, Limit: e.b.value} }

// room checks that n more bytes may be written to b, a value being built
// piece by piece, under the limit per value.
func (e *env) room(b *strings.Builder, n int64) error {
	if n < 0 || int64(b.Len())+n > e.b.value {
		return e.overValue()
	}
	return nil
}

// build charges a value of n bytes that a producer is about to build. It
// fails, before anything is allocated, when the value would be larger
// than the limit per value or the evaluation would build more than its
// total.
func (e *env) build(n int64) error {
	if n > e.b.value || n < 0 { // n < 0: an overflowed computation
		return e.overValue()
	}
	return e.spend(n)
}

// spend charges n bytes a producer allocates for its own work (not a
// value) to the evaluation's total.
func (e *env) spend(n int64) error {
	e.b.built += n
	if e.b.built > e.b.work || n < 0 {
		return &LimitError{Kind: LimitWork, Limit: e.b.work}
	}
	return nil
}

// buildTimes charges a value of n copies of unit bytes, without
// overflowing.
func (e *env) buildTimes(unit, n int64) error {
	if n > 0 && unit > e.b.value/n {
		return e.overValue()
	}
	return e.build(unit * n)
}

// size measures an existing value for a producer that puts it into a new
// one, charging the walk to the step budget. It stops counting past the
// limit per value.
func (e *env) size(v any) (int64, error) {
	n, nodes := sizeOf(v, e.b.value)
	return n, e.tick(nodes / 16)
}

// charge measures and charges a value a producer built that is no larger
// in memory than its inputs (a sorted, filtered or regrouped copy): it is
// then held to the same limits as any other value.
func (e *env) charge(v any) (any, error) {
	n, err := e.size(v)
	if err != nil {
		return nil, err
	}
	if err := e.build(n); err != nil {
		return nil, err
	}
	return v, nil
}

// str is pyStr for a producer: converting a list or dict to its text
// builds a string, which is measured before it is built.
func (e *env) str(v any) (string, error) {
	if s, ok := v.(string); ok {
		return s, nil
	}
	switch v.(type) {
	case []any, map[string]any:
		if _, err := e.charge(v); err != nil {
			return "", err
		}
	}
	return pyStr(v), nil
}

// meter measures one value a producer builds piece by piece: each piece is
// added before it is built, and the whole is charged once done.
type meter struct {
	e *env
	n int64
}

func (m *meter) add(n int64) error {
	m.n += n
	if m.n > m.e.b.value || n < 0 {
		return m.e.overValue()
	}
	return nil
}

// addValue adds an existing value put into the one being built, as a list
// item (with its separator).
func (m *meter) addValue(v any) error {
	n, err := m.e.size(v)
	if err != nil {
		return err
	}
	return m.add(n + 2)
}

func (m *meter) done() error { return m.e.build(m.n) }

// sizeOf returns about the length of v's JSON encoding (Python's repr is
// about as long) and the number of values it looked at. It stops once the
// size passes max, so a value sharing one big item many times costs no
// more to measure than max.
func sizeOf(v any, max int64) (size int64, nodes int) {
	var walk func(v any)
	walk = func(v any) {
		nodes++
		if size > max {
			return
		}
		switch x := v.(type) {
		case string:
			size += int64(len(x)) + 2
		case []any:
			size += 2
			for _, it := range x {
				if size > max {
					return
				}
				size += 2
				walk(it)
			}
		case map[string]any:
			size += 2
			for k, it := range x {
				if size > max {
					return
				}
				size += int64(len(k)) + 6
				walk(it)
			}
		case nil:
			size += 4
		case bool:
			size += 5
		case float64, float32:
			size += 8
		case Datetime:
			size += datetimeSize
		default:
			if i, ok := toInt(v); ok {
				size += digits(i)
			} else {
				size += 8
			}
		}
	}
	walk(v)
	return size, nodes
}

// digits is the length of i in decimal.
func digits(i int64) int64 {
	n := int64(1)
	if i < 0 {
		n++
		if i == -i { // math.MinInt64
			return 20
		}
		i = -i
	}
	for i >= 10 {
		i /= 10
		n++
	}
	return n
}

// Batch is one sync's use of a Constructor: it constructs the sync's hosts
// and counts their constructed output against the limit per sync. It is
// safe for concurrent use by the sync's scopes.
type Batch struct {
	c    *Constructor
	used atomic.Int64
}

// Batch starts counting one sync's constructed output.
func (c *Constructor) Batch() *Batch { return &Batch{c: c} }

// Apply is Constructor.Apply, counting the host's constructed output
// against the limit per sync as well.
func (b *Batch) Apply(vars map[string]any) (Result, error) { return b.c.apply(vars, nil, b) }

// ApplyHidden is Constructor.ApplyHidden, counting as Apply does.
func (b *Batch) ApplyHidden(vars, hidden map[string]any) (Result, error) {
	return b.c.apply(vars, hidden, b)
}

// Used returns the bytes of constructed output counted so far.
func (b *Batch) Used() int64 { return b.used.Load() }

// output counts the constructed output of one host as Apply builds it:
// each composed var and group name, against the limits per host and (with
// a Batch) per sync. The host's total joins the sync's once, when the host
// is done (commit) or goes over the sync's limit: the scopes of a sync
// share that counter. Hosts constructed at once may each take the last
// room left; they overshoot the limit per sync by at most one host each.
type output struct {
	host, hostMax int64
	batch         *Batch
	syncMax       int64
}

func (o *output) add(n int64) error {
	o.host += n
	if o.host > o.hostMax {
		return &LimitError{Kind: LimitHost, Limit: o.hostMax}
	}
	if o.batch != nil && o.batch.used.Load()+o.host > o.syncMax {
		o.commit()
		return &LimitError{Kind: LimitSync, Limit: o.syncMax}
	}
	return nil
}

// commit adds the host's output to its sync's.
func (o *output) commit() {
	if o.batch != nil {
		o.batch.used.Add(o.host)
		o.host = 0
	}
}

// addValue counts a composed var (its name and JSON value).
func (o *output) addValue(name string, v any) error {
	n, _ := sizeOf(v, o.hostMax-o.host)
	return o.add(int64(len(name)) + 4 + n)
}
