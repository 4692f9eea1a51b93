package store

import (
	"iter"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// chunks yields consecutive slices of s of at most n elements.
func chunks[T any](s []T, n int) iter.Seq[[]T] {
	return func(yield func([]T) bool) {
		for len(s) > 0 {
			k := min(n, len(s))
			if !yield(s[:k]) {
				return
			}
			s = s[k:]
		}
	}
}

// inList returns "?, ?, ?" for ids and the ids as arguments.
func inList(ids []int64) (string, []any) {
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	return strings.TrimSuffix(strings.Repeat("?, ", len(ids)), ", "), args
}

// repeatTuple returns n copies of tuple joined by commas.
func repeatTuple(n int, tuple string) string {
	var b strings.Builder
	b.Grow(n * (len(tuple) + 2))
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(tuple)
	}
	return b.String()
}

func hostIDs(hosts []*roster.Host) []int64 {
	ids := make([]int64, len(hosts))
	for i, h := range hosts {
		ids[i] = h.ID
	}
	return ids
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
