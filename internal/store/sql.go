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

// conflictingNames selects the host names of inventory $1 that hosts of
// more than one source have. The hosts_inventory_name index serves it.
const conflictingNames = `SELECT name FROM hosts WHERE inventory_id = $1 GROUP BY name HAVING count(DISTINCT source_id) > 1`

// conflictSources selects (host name, source name) of the first $2
// conflicting names of inventory $1, by name, then by the first host of
// each source.
const conflictSources = `SELECT h.name, s.name FROM hosts h JOIN sources s ON s.id = h.source_id
		WHERE h.inventory_id = $1 AND h.name IN (` + conflictingNames + ` ORDER BY name LIMIT $2)
		GROUP BY h.name, s.name ORDER BY h.name, min(h.id)`

// appendConflict adds a (host name, source name) row, in conflictSources'
// order, to out.
func appendConflict(out []roster.NameConflict, host, source string) []roster.NameConflict {
	if n := len(out); n > 0 && out[n-1].Name == host {
		out[n-1].Sources = append(out[n-1].Sources, source)
		return out
	}
	return append(out, roster.NameConflict{Name: host, Sources: []string{source}})
}

// placeholders returns "$1, $2, … $n".
func placeholders(n int) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("$" + strconv.Itoa(i+1))
	}
	return b.String()
}

// whereClause builds a WHERE clause of conditions on placeholders $1, $2 … (both
// databases: see dialect.go).
type whereClause struct {
	conds []string
	args  []any
}

// add adds the condition cond, in which "?" stands for v's placeholder.
func (w *whereClause) add(cond string, v any) {
	w.args = append(w.args, v)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

func (w *whereClause) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return ` WHERE ` + strings.Join(w.conds, ` AND `)
}

// limit returns the placeholder of a LIMIT of n.
func (w *whereClause) limit(n int) string {
	w.args = append(w.args, n)
	return ` LIMIT $` + strconv.Itoa(len(w.args))
}
