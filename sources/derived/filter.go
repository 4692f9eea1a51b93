package derived

import (
	"fmt"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rosterhq/roster/sources"
)

// A smart inventory's host filter: AWX's host_filter language
// (awx/main/utils/filters.py, SmartFilter), so that a filter pasted from
// AWX works, with `not` added:
//
//	expr  := or
//	or    := and ("or" and)*
//	and   := unary ("and" unary)*
//	unary := "not" unary | "(" expr ")" | term
//	term  := key "=" [value]
//
// A key or value is a bare word (no space, parenthesis, '=' or quote) or
// a "quoted" string (\" and \\ escape). A bare value is typed as AWX
// types it: null, true, false, an integer, a float, else a string; a
// quoted one stays a string. Keys (Django lookups in AWX):
//
//	name, enabled, groups__name, inventory__name, inventory (id),
//	source__name, variables__PATH, ansible_facts__PATH
//
// each optionally ending in __LOOKUP (exact, iexact, contains, icontains,
// startswith, istartswith, endswith, iendswith, regex, iregex, gt, gte,
// lt, lte, in, isnull). PATH walks into the host vars by key, a key
// ending in [] into every element of a list. ansible_facts is an alias of
// variables with AWX's exact-only semantics (Roster keeps no fact cache).
//
// Every filter is bounded: MaxFilterBytes of text, MaxFilterTerms terms,
// MaxFilterDepth nested parentheses or nots, MaxRegexBytes per pattern
// (compiled with RE2: matching is linear in the text).
const (
	MaxFilterBytes = 4096
	MaxFilterTerms = 64
	MaxFilterDepth = 16
	MaxRegexBytes  = 1024
)

// Host is what a filter sees of a host of an input inventory.
type Host struct {
	Name        string
	Enabled     bool
	Groups      []string // direct groups
	Inventory   string   // the input's name
	InventoryID string
	Sources     []string // the names of the sources the host came from
	Vars        map[string]any
}

// Filter is a parsed host filter.
type Filter struct {
	root      node
	readsVars bool
}

// FilterError is an error in a host filter, at a byte offset.
type FilterError struct {
	Offset  int
	Message string
}

func (e *FilterError) Error() string { return fmt.Sprintf("at %d: %s", e.Offset, e.Message) }

// ReadsVars reports whether the filter looks at host vars.
func (f *Filter) ReadsVars() bool { return f.readsVars }

// Match reports whether h passes the filter.
func (f *Filter) Match(h *Host) bool { return f.root.match(h) }

type node interface{ match(*Host) bool }

type andNode []node
type orNode []node
type notNode struct{ n node }

func (a andNode) match(h *Host) bool {
	for _, n := range a {
		if !n.match(h) {
			return false
		}
	}
	return true
}

func (o orNode) match(h *Host) bool {
	for _, n := range o {
		if n.match(h) {
			return true
		}
	}
	return false
}

func (n notNode) match(h *Host) bool { return !n.n.match(h) }

type token struct {
	kind   byte // '(' ')' 'w' (word) 'q' (quoted) '=' 'e' (end)
	text   string
	offset int
}

type parser struct {
	toks  []token
	pos   int
	terms int
	depth int
	reads bool
}

// ParseFilter parses a host filter.
func ParseFilter(text string) (*Filter, error) {
	if len(text) > MaxFilterBytes {
		return nil, &FilterError{Offset: MaxFilterBytes, Message: fmt.Sprintf("a host filter may be at most %d bytes", MaxFilterBytes)}
	}
	toks, err := lex(text)
	if err != nil {
		return nil, err
	}
	p := &parser{toks: toks}
	if p.peek().kind == 'e' {
		return nil, &FilterError{Offset: 0, Message: "the host filter is empty"}
	}
	root, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.peek(); t.kind != 'e' {
		return nil, &FilterError{Offset: t.offset, Message: fmt.Sprintf("unexpected %q; expected and, or, or the end", t.text)}
	}
	return &Filter{root: root, readsVars: p.reads}, nil
}

func lex(text string) ([]token, error) {
	var toks []token
	i := 0
	for i < len(text) {
		c := text[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
			i++
		case c == '(' || c == ')' || c == '=':
			toks = append(toks, token{kind: c, text: string(c), offset: i})
			i++
		case c == '"':
			start := i
			var b strings.Builder
			i++
			for {
				if i >= len(text) {
					return nil, &FilterError{Offset: start, Message: "unterminated quoted string"}
				}
				if text[i] == '\\' && i+1 < len(text) {
					b.WriteByte(text[i+1])
					i += 2
					continue
				}
				if text[i] == '"' {
					i++
					break
				}
				b.WriteByte(text[i])
				i++
			}
			toks = append(toks, token{kind: 'q', text: b.String(), offset: start})
		default:
			start := i
			for i < len(text) && !strings.ContainsRune(" \t\n\r()=\"", rune(text[i])) {
				i++
			}
			toks = append(toks, token{kind: 'w', text: text[start:i], offset: start})
		}
	}
	return append(toks, token{kind: 'e', text: "end", offset: len(text)}), nil
}

func (p *parser) peek() token { return p.toks[p.pos] }
func (p *parser) next() token { t := p.toks[p.pos]; p.pos++; return t }

func (p *parser) keyword(word string) bool {
	t := p.peek()
	// A keyword is a bare word followed by something that cannot end a
	// term's key: "and=1" is a term whose key is "and".
	if t.kind == 'w' && strings.EqualFold(t.text, word) && p.toks[p.pos+1].kind != '=' {
		p.pos++
		return true
	}
	return false
}

func (p *parser) or() (node, error) {
	var list orNode
	for {
		n, err := p.and()
		if err != nil {
			return nil, err
		}
		list = append(list, n)
		if !p.keyword("or") {
			break
		}
	}
	if len(list) == 1 {
		return list[0], nil
	}
	return list, nil
}

func (p *parser) and() (node, error) {
	var list andNode
	for {
		n, err := p.unary()
		if err != nil {
			return nil, err
		}
		list = append(list, n)
		if !p.keyword("and") {
			break
		}
	}
	if len(list) == 1 {
		return list[0], nil
	}
	return list, nil
}

func (p *parser) enter(offset int) error {
	p.depth++
	if p.depth > MaxFilterDepth {
		return &FilterError{Offset: offset, Message: fmt.Sprintf("nested deeper than %d", MaxFilterDepth)}
	}
	return nil
}

func (p *parser) unary() (node, error) {
	t := p.peek()
	if p.keyword("not") {
		if err := p.enter(t.offset); err != nil {
			return nil, err
		}
		n, err := p.unary()
		p.depth--
		if err != nil {
			return nil, err
		}
		return notNode{n}, nil
	}
	if t.kind == '(' {
		p.next()
		if err := p.enter(t.offset); err != nil {
			return nil, err
		}
		n, err := p.or()
		p.depth--
		if err != nil {
			return nil, err
		}
		if c := p.next(); c.kind != ')' {
			return nil, &FilterError{Offset: c.offset, Message: fmt.Sprintf("unexpected %q; expected )", c.text)}
		}
		return n, nil
	}
	return p.term()
}

func (p *parser) term() (node, error) {
	k := p.next()
	if k.kind != 'w' && k.kind != 'q' {
		return nil, &FilterError{Offset: k.offset, Message: fmt.Sprintf("unexpected %q; expected a term key=value", k.text)}
	}
	if eq := p.next(); eq.kind != '=' {
		return nil, &FilterError{Offset: eq.offset, Message: fmt.Sprintf("unexpected %q after %q; expected =", eq.text, k.text)}
	}
	p.terms++
	if p.terms > MaxFilterTerms {
		return nil, &FilterError{Offset: k.offset, Message: fmt.Sprintf("more than %d terms", MaxFilterTerms)}
	}
	var v token
	if t := p.peek(); t.kind == 'w' || t.kind == 'q' {
		v = p.next()
	} else {
		v = token{kind: 'q', offset: t.offset} // key= : the empty string
	}
	return p.compile(k, v)
}

var lookups = []string{"exact", "iexact", "contains", "icontains", "startswith", "istartswith", "endswith", "iendswith",
	"regex", "iregex", "gt", "gte", "lt", "lte", "in", "isnull"}

var fieldKeys = []string{"name", "enabled", "groups__name", "inventory__name", "inventory", "source__name", "variables", "ansible_facts"}

// term is one compiled key=value.
type term struct {
	field  string   // name, enabled, groups, inventory__name, inventory, source, vars
	path   []string // into vars
	lookup string
	value  any    // typed
	text   string // the value as written
	re     *regexp.Regexp
	list   []any // in
}

func (p *parser) compile(k, v token) (node, error) {
	parts := strings.Split(k.text, "__")
	t := &term{lookup: "exact", text: v.text}
	if v.kind == 'q' {
		t.value = v.text
	} else {
		t.value = typed(v.text)
	}
	if last := parts[len(parts)-1]; len(parts) > 1 && slices.Contains(lookups, last) {
		t.lookup, parts = last, parts[:len(parts)-1]
	}
	bad := func(format string, args ...any) error {
		return &FilterError{Offset: k.offset, Message: fmt.Sprintf(format, args...)}
	}
	switch head := parts[0]; {
	case head == "search":
		return nil, bad("search= is not supported; name the field: name__icontains=, groups__name=, variables__KEY=")
	case len(parts) == 1 && (head == "name" || head == "enabled" || head == "inventory"):
		t.field = head
	case len(parts) == 2 && (head == "groups" || head == "inventory" || head == "source") && parts[1] == "name":
		t.field = head + "__name"
	case head == "variables" || head == "ansible_facts":
		if len(parts) < 2 || slices.Contains(parts[1:], "") {
			return nil, bad("%s needs a path: %s__KEY[__KEY...]", head, head)
		}
		if head == "ansible_facts" && t.lookup != "exact" {
			return nil, bad("ansible_facts takes exact matches only, as in AWX; use variables__...__%s", t.lookup)
		}
		t.field, t.path = "vars", parts[1:]
		p.reads = true
	default:
		if s := sources.Suggest(k.text, fieldKeys); s != "" {
			return nil, bad("unknown key %q; did you mean %q?", k.text, s)
		}
		if len(parts) > 1 {
			if s := sources.Suggest(parts[len(parts)-1], lookups); s != "" {
				return nil, bad("unknown lookup %q; did you mean %q?", parts[len(parts)-1], s)
			}
		}
		return nil, bad("unknown key %q; known keys are %s, each with an optional __LOOKUP (%s)", k.text,
			strings.Join(fieldKeys, ", "), strings.Join(lookups, ", "))
	}
	switch t.lookup {
	case "regex", "iregex":
		if len(t.text) > MaxRegexBytes {
			return nil, &FilterError{Offset: v.offset, Message: fmt.Sprintf("a regex may be at most %d bytes", MaxRegexBytes)}
		}
		expr := t.text
		if t.lookup == "iregex" {
			expr = "(?i)" + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, &FilterError{Offset: v.offset, Message: "invalid regex: " + err.Error()}
		}
		t.re = re
	case "in":
		for _, s := range strings.Split(t.text, ",") {
			if v.kind == 'q' {
				t.list = append(t.list, s)
			} else {
				t.list = append(t.list, typed(s))
			}
		}
	case "isnull":
		if _, ok := t.value.(bool); !ok {
			return nil, &FilterError{Offset: v.offset, Message: "isnull takes true or false"}
		}
	}
	if t.field == "enabled" && t.lookup != "exact" && t.lookup != "isnull" {
		return nil, bad("enabled takes exact matches only (enabled=true, enabled=false)")
	}
	return t, nil
}

// typed types a bare value as AWX's string_to_type does.
func typed(s string) any {
	switch s {
	case "null":
		return nil
	case "true":
		return true
	case "false":
		return false
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return float64(i)
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) && !strings.ContainsAny(s, "xXpP_") {
		return f
	}
	return s
}

func (t *term) match(h *Host) bool {
	switch t.field {
	case "name":
		return t.test(h.Name, true)
	case "enabled":
		if t.lookup == "isnull" {
			return !t.value.(bool)
		}
		return t.test(h.Enabled, true)
	case "inventory":
		return t.test(h.InventoryID, true)
	case "inventory__name":
		return t.test(h.Inventory, true)
	case "groups__name":
		return slices.ContainsFunc(h.Groups, func(g string) bool { return t.test(g, true) })
	case "source__name":
		return slices.ContainsFunc(h.Sources, func(s string) bool { return t.test(s, true) })
	}
	return t.walk(h.Vars, t.path)
}

// walk follows path into v and tests what it reaches.
func (t *term) walk(v any, path []string) bool {
	if len(path) == 0 {
		return t.test(v, false)
	}
	key, each := strings.CutSuffix(path[0], "[]")
	m, ok := v.(map[string]any)
	if !ok {
		return t.lookup == "isnull" && t.value.(bool)
	}
	next, found := m[key]
	if !found {
		return t.lookup == "isnull" && t.value.(bool)
	}
	if each {
		list, ok := next.([]any)
		if !ok {
			return false
		}
		return slices.ContainsFunc(list, func(e any) bool { return t.walk(e, path[1:]) })
	}
	return t.walk(next, path[1:])
}

// test applies the lookup to v. A field of the host (asText) compares as
// text whatever the value's type.
func (t *term) test(v any, asText bool) bool {
	want := t.value
	if asText {
		if b, ok := v.(bool); ok {
			if t.lookup == "exact" {
				return want == b || t.text == strconv.FormatBool(b)
			}
			return false
		}
		want = t.text
	}
	switch t.lookup {
	case "isnull":
		return (v == nil) == want.(bool)
	case "exact":
		return equal(v, want)
	case "in":
		for _, w := range t.list {
			if asText {
				w = fmt.Sprint(w)
				if w == "<nil>" {
					w = "null"
				}
			}
			if equal(v, w) {
				return true
			}
		}
		return false
	case "gt", "gte", "lt", "lte":
		c, ok := compare(v, want)
		if !ok {
			return false
		}
		switch t.lookup {
		case "gt":
			return c > 0
		case "gte":
			return c >= 0
		case "lt":
			return c < 0
		}
		return c <= 0
	case "contains", "icontains":
		if list, ok := v.([]any); ok && t.lookup == "contains" {
			return slices.ContainsFunc(list, func(e any) bool { return equal(e, want) })
		}
	}
	s, ok := v.(string)
	if !ok {
		return false
	}
	w := t.text
	switch t.lookup {
	case "iexact":
		return strings.EqualFold(s, w)
	case "contains":
		return strings.Contains(s, w)
	case "icontains":
		return strings.Contains(strings.ToLower(s), strings.ToLower(w))
	case "startswith":
		return strings.HasPrefix(s, w)
	case "istartswith":
		return strings.HasPrefix(strings.ToLower(s), strings.ToLower(w))
	case "endswith":
		return strings.HasSuffix(s, w)
	case "iendswith":
		return strings.HasSuffix(strings.ToLower(s), strings.ToLower(w))
	case "regex", "iregex":
		return t.re.MatchString(s)
	}
	return false
}

// equal compares JSON values as Python does: numbers by value, others by
// type and value.
func equal(a, b any) bool {
	if x, ok := number(a); ok {
		y, ok := number(b)
		return ok && x == y
	}
	switch a := a.(type) {
	case nil:
		return b == nil
	case string:
		s, ok := b.(string)
		return ok && a == s
	case bool:
		c, ok := b.(bool)
		return ok && a == c
	}
	return false
}

// compare orders numbers with numbers and strings with strings.
func compare(a, b any) (int, bool) {
	if x, ok := number(a); ok {
		y, ok := number(b)
		if !ok {
			return 0, false
		}
		switch {
		case x < y:
			return -1, true
		case x > y:
			return 1, true
		}
		return 0, true
	}
	s, ok := a.(string)
	w, ok2 := b.(string)
	if !ok || !ok2 {
		return 0, false
	}
	return strings.Compare(s, w), true
}

func number(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}
