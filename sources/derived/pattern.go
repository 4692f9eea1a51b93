package derived

import (
	"fmt"
	"path"
	"strings"
)

// A constructed inventory's limit: an Ansible host pattern over the
// constructed hosts (what `ansible -i ... --limit PATTERN --list-hosts`
// selects). Terms are separated by ',' or ':'; a term is a host name, a
// group name (its hosts and its child groups' hosts) or a glob of either
// ('*', '?', '[...]'); '&' before a term intersects, '!' excludes.
// As in Ansible, the plain terms are unioned first, then the
// intersections applied, then the exclusions. Regex terms (~) and
// subscripts ([0:2]) are refused: they select by position, which a
// materialised inventory has no stable notion of.

// MaxPatternBytes bounds a limit.
const MaxPatternBytes = 4096

// Pattern is a parsed limit.
type Pattern struct {
	union, and, not []string
}

// ParsePattern parses a limit.
func ParsePattern(text string) (*Pattern, error) {
	if len(text) > MaxPatternBytes {
		return nil, fmt.Errorf("a limit may be at most %d bytes", MaxPatternBytes)
	}
	p := &Pattern{}
	terms := strings.FieldsFunc(text, func(r rune) bool { return r == ',' || r == ':' })
	if len(terms) == 0 {
		return nil, fmt.Errorf("the limit is empty")
	}
	if len(terms) > MaxFilterTerms {
		return nil, fmt.Errorf("a limit may have at most %d terms", MaxFilterTerms)
	}
	for _, t := range terms {
		t = strings.TrimSpace(t)
		list := &p.union
		switch {
		case strings.HasPrefix(t, "&"):
			list, t = &p.and, t[1:]
		case strings.HasPrefix(t, "!"):
			list, t = &p.not, t[1:]
		}
		switch {
		case t == "":
			return nil, fmt.Errorf("an empty term")
		case strings.HasPrefix(t, "~"):
			return nil, fmt.Errorf("%q: regex patterns (~) are not supported in a limit; use globs", t)
		case strings.HasSuffix(t, "]") && strings.Contains(t, "[") && !strings.ContainsAny(t[strings.LastIndex(t, "["):], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"):
			if strings.Contains(t[strings.LastIndex(t, "["):], ":") || strings.Trim(t[strings.LastIndex(t, "[")+1:len(t)-1], "0123456789-") == "" {
				return nil, fmt.Errorf("%q: subscripts ([i:j]) are not supported in a limit", t)
			}
		}
		if _, err := path.Match(t, ""); err != nil {
			return nil, fmt.Errorf("%q: malformed glob", t)
		}
		*list = append(*list, t)
	}
	if len(p.union) == 0 {
		p.union = []string{"all"}
	}
	return p, nil
}

// Match reports whether a host with this name, in these groups (direct
// and inherited), is selected.
func (p *Pattern) Match(name string, groups map[string]bool) bool {
	one := func(term string) bool {
		if term == "all" || term == "*" {
			return true
		}
		if ok, _ := path.Match(term, name); ok {
			return true
		}
		if groups[term] {
			return true
		}
		if strings.ContainsAny(term, "*?[") {
			for g := range groups {
				if ok, _ := path.Match(term, g); ok {
					return true
				}
			}
		}
		return false
	}
	in := false
	for _, t := range p.union {
		if one(t) {
			in = true
			break
		}
	}
	if !in {
		return false
	}
	for _, t := range p.and {
		if !one(t) {
			return false
		}
	}
	for _, t := range p.not {
		if one(t) {
			return false
		}
	}
	return true
}
