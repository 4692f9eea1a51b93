package store

import (
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
)

// groupTally is one transaction's net change to its inventory's group
// host counts (table group_host_counts): memberships it inserts count
// up, memberships it deletes count down. The transaction writes it once,
// at its end, group names in order: two transactions writing the same
// inventory's counts lock its rows in one order, and so never deadlock
// over them (PostgreSQL; SQLite has one writer).
type groupTally map[string]int64

// addHosts counts the memberships of hosts inserted: a group a host
// names twice is one membership, as in host_groups.
func (t groupTally) addHosts(hosts []*roster.Host) {
	for _, h := range hosts {
		for i, g := range h.Groups {
			if !slices.Contains(h.Groups[:i], g) {
				t[g]++
			}
		}
	}
}

// changes lists the groups whose count moves, by name, with how much;
// emptied reports whether any count went down (and may have reached 0).
func (t groupTally) changes() (names []string, deltas []int64, emptied bool) {
	for g, d := range t {
		if d != 0 {
			names = append(names, g)
		}
	}
	slices.SortFunc(names, strings.Compare)
	deltas = make([]int64, len(names))
	for i, g := range names {
		deltas[i] = t[g]
		emptied = emptied || deltas[i] < 0
	}
	return names, deltas, emptied
}

// groupList gathers an inventory's groups as Groups returns them: the
// groups with hosts, read in name order from group_host_counts, and
// those only its group edges or vars name. At 100,000 groups a map of
// them all and a sort cost more than reading them (the Web UI's group
// tree); the few groups edges and vars add go in a map.
type groupList struct {
	counted []*roster.Group // by name
	more    map[string]*roster.Group
}

// uncounted lists the groups that edges or vars name and that were not
// among the counted groups read.
func (l *groupList) uncounted() []string {
	return slices.Sorted(maps.Keys(l.more))
}

func (l *groupList) add(name string, hosts int) {
	l.counted = append(l.counted, &roster.Group{Name: name, Hosts: hosts})
}

func (l *groupList) get(name string) *roster.Group {
	if i, ok := slices.BinarySearchFunc(l.counted, name, byGroupName); ok {
		return l.counted[i]
	}
	g := l.more[name]
	if g == nil {
		if l.more == nil {
			l.more = map[string]*roster.Group{}
		}
		g = &roster.Group{Name: name}
		l.more[name] = g
	}
	return g
}

// sorted returns every group, by name.
func (l *groupList) sorted() []*roster.Group {
	out := l.counted
	if len(l.more) > 0 {
		out = slices.AppendSeq(out, maps.Values(l.more))
	}
	// Counted groups come sorted by the database's collation, which is
	// byte order in SQLite and asked of PostgreSQL; sorting is cheap
	// only when they already are.
	if !slices.IsSortedFunc(out, compareGroups) {
		slices.SortFunc(out, compareGroups)
	}
	return out
}

func byGroupName(g *roster.Group, name string) int { return strings.Compare(g.Name, name) }

func compareGroups(a, b *roster.Group) int { return strings.Compare(a.Name, b.Name) }
