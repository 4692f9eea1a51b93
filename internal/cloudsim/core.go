package cloudsim

import (
	"fmt"
	"iter"
	"math/rand/v2"
	"sync"
)

// Core is the part of a fleet every cloud's has: its machines by id under
// the fleet's lock (readers, a page being rendered, take RLock; mutations
// Lock), its seed, and the stream machines added after generation draw
// from. What is left to a fleet is its cloud's shape and list order.
type Core[K comparable, M any] struct {
	sync.RWMutex
	byID map[K]*M
	// missing is wrapped by the error of a mutation of an unknown id
	// (awssim.ErrNoInstance, ...).
	missing error
	// Seed is the fleet's seed.
	Seed int64
	// Added is the stream of machines added after generation (AddStream).
	Added *rand.Rand
}

// NewCore returns the core of an empty fleet of seed whose unknown ids are
// missing.
func NewCore[K comparable, M any](seed int64, missing error) *Core[K, M] {
	return &Core[K, M]{byID: map[K]*M{}, missing: missing, Seed: seed, Added: Stream(seed, AddStream)}
}

// Len returns the number of machines.
func (x *Core[K, M]) Len() int {
	x.RLock()
	defer x.RUnlock()
	return len(x.byID)
}

// Get returns a machine; the caller holds the lock.
func (x *Core[K, M]) Get(id K) (*M, bool) {
	m, ok := x.byID[id]
	return m, ok
}

// Count is Len for a caller that holds the lock.
func (x *Core[K, M]) Count() int { return len(x.byID) }

// Put adds a machine; the caller holds the lock.
func (x *Core[K, M]) Put(id K, m *M) { x.byID[id] = m }

// Delete removes a machine; the caller holds the lock.
func (x *Core[K, M]) Delete(id K) { delete(x.byID, id) }

// Fresh draws ids until one is not taken; the caller holds the lock.
func (x *Core[K, M]) Fresh(draw func() K) K {
	for {
		id := draw()
		if _, dup := x.byID[id]; !dup {
			return id
		}
	}
}

// Find returns a machine, or an error wrapping missing; the caller holds
// the lock.
func (x *Core[K, M]) Find(id K) (*M, error) {
	m, ok := x.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %v", x.missing, id)
	}
	return m, nil
}

// Mutate runs fn on machine id under the write lock.
func (x *Core[K, M]) Mutate(id K, fn func(*M) error) error {
	x.Lock()
	defer x.Unlock()
	m, err := x.Find(id)
	if err != nil {
		return err
	}
	return fn(m)
}

// Tagger gives a fleet whose machines carry ordered tags its SetTag and
// DeleteTag methods (embed it).
type Tagger[M any] struct {
	core *Core[string, M]
	tags func(*M) *[]Tag
}

// NewTagger edits the tags of core's machines, found at tags.
func NewTagger[M any](core *Core[string, M], tags func(*M) *[]Tag) Tagger[M] {
	return Tagger[M]{core: core, tags: tags}
}

// SetTag sets (adds or replaces) a tag of machine id; a new tag comes last.
func (t Tagger[M]) SetTag(id, key, value string) error {
	return t.core.Mutate(id, func(m *M) error {
		tags := t.tags(m)
		*tags = SetTag(*tags, key, value)
		return nil
	})
}

// DeleteTag removes a tag of machine id if it has it.
func (t Tagger[M]) DeleteTag(id, key string) error {
	return t.core.Mutate(id, func(m *M) error {
		tags := t.tags(m)
		*tags = DeleteTag(*tags, key)
		return nil
	})
}

// Collect returns what info makes of every machine, in the order all
// (the cloud's list order) yields them, under the read lock.
func Collect[K comparable, M, I any](x *Core[K, M], all iter.Seq[*M], info func(*M) I) []I {
	x.RLock()
	defer x.RUnlock()
	out := make([]I, 0, len(x.byID))
	for m := range all {
		out = append(out, info(m))
	}
	return out
}

// Snapshot returns what info makes of machine id, under the read lock.
func Snapshot[K comparable, M, I any](x *Core[K, M], id K, info func(*M) I) (I, bool) {
	x.RLock()
	defer x.RUnlock()
	m, ok := x.byID[id]
	if !ok {
		var zero I
		return zero, false
	}
	return info(m), true
}
