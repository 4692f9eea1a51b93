package cloudsim

import (
	"fmt"
	"iter"
	"sync"
)

// Index holds a fleet's machines by id under the fleet's lock: readers
// (a page being rendered) take RLock, mutations Lock. What is left to a
// fleet is how its machines are ordered in its cloud's lists.
type Index[K comparable, M any] struct {
	sync.RWMutex
	byID map[K]*M
	// missing is wrapped by the error of a mutation of an unknown id
	// (awssim.ErrNoInstance, ...).
	missing error
}

// NewIndex returns an empty index whose unknown ids are missing.
func NewIndex[K comparable, M any](missing error) *Index[K, M] {
	return &Index[K, M]{byID: map[K]*M{}, missing: missing}
}

// Len returns the number of machines.
func (x *Index[K, M]) Len() int {
	x.RLock()
	defer x.RUnlock()
	return len(x.byID)
}

// Get returns a machine; the caller holds the lock.
func (x *Index[K, M]) Get(id K) (*M, bool) {
	m, ok := x.byID[id]
	return m, ok
}

// Count is Len for a caller that holds the lock.
func (x *Index[K, M]) Count() int { return len(x.byID) }

// Put adds a machine; the caller holds the lock.
func (x *Index[K, M]) Put(id K, m *M) { x.byID[id] = m }

// Delete removes a machine; the caller holds the lock.
func (x *Index[K, M]) Delete(id K) { delete(x.byID, id) }

// Fresh draws ids until one is not taken; the caller holds the lock.
func (x *Index[K, M]) Fresh(draw func() K) K {
	for {
		id := draw()
		if _, dup := x.byID[id]; !dup {
			return id
		}
	}
}

// Find returns a machine, or an error wrapping missing; the caller holds
// the lock.
func (x *Index[K, M]) Find(id K) (*M, error) {
	m, ok := x.byID[id]
	if !ok {
		return nil, fmt.Errorf("%w: %v", x.missing, id)
	}
	return m, nil
}

// Mutate runs fn on machine id under the write lock.
func (x *Index[K, M]) Mutate(id K, fn func(*M) error) error {
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
	idx  *Index[string, M]
	tags func(*M) *[]Tag
}

// NewTagger edits the tags of idx's machines, found at tags.
func NewTagger[M any](idx *Index[string, M], tags func(*M) *[]Tag) Tagger[M] {
	return Tagger[M]{idx: idx, tags: tags}
}

// SetTag sets (adds or replaces) a tag of machine id; a new tag comes last.
func (t Tagger[M]) SetTag(id, key, value string) error {
	return t.idx.Mutate(id, func(m *M) error {
		tags := t.tags(m)
		*tags = SetTag(*tags, key, value)
		return nil
	})
}

// DeleteTag removes a tag of machine id if it has it.
func (t Tagger[M]) DeleteTag(id, key string) error {
	return t.idx.Mutate(id, func(m *M) error {
		tags := t.tags(m)
		*tags = DeleteTag(*tags, key)
		return nil
	})
}

// Collect returns what info makes of every machine, in the order all
// (the cloud's list order) yields them, under the read lock.
func Collect[K comparable, M, I any](x *Index[K, M], all iter.Seq[*M], info func(*M) I) []I {
	x.RLock()
	defer x.RUnlock()
	out := make([]I, 0, len(x.byID))
	for m := range all {
		out = append(out, info(m))
	}
	return out
}

// Snapshot returns what info makes of machine id, under the read lock.
func Snapshot[K comparable, M, I any](x *Index[K, M], id K, info func(*M) I) (I, bool) {
	x.RLock()
	defer x.RUnlock()
	m, ok := x.byID[id]
	if !ok {
		var zero I
		return zero, false
	}
	return info(m), true
}
