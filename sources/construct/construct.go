package construct

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
)

// Keys lists the source options this package owns; the caller hands the
// rest of a source's flat configuration to the provider.
func Keys() []string {
	return []string{"compose", "groups", "keyed_groups", "strict", "leading_separator", "use_extra_vars"}
}

// Constructor applies one source's constructed options to hosts.
type Constructor struct {
	compose []composeEntry
	groups  []namedExpr // names sanitised; expressions are conditionals
	keyed   []keyedEntry
	strict  bool
	// strictCompose: a compose error fails whatever strict says.
	strictCompose bool
	leadingSep    bool
	cache         *regexCache
	limits        Limits
}

// namedExpr is an entry of an option that maps names to expressions
// (compose, groups).
type namedExpr struct {
	name, field, src string // field: "compose.name"
	expr             node
}

type composeEntry struct {
	namedExpr
	text bool // the expression is a filter making text (makesText)
}

type keyedEntry struct {
	field      string // "keyed_groups[2]"
	src        string
	key        node
	text       bool // the key is a filter making text (makesText)
	prefix     string
	sep        string
	hasDefault bool
	defValue   string
	trailing   *bool // trailing_separator; nil when not set
	parent     *template
	parentSrc  string
}

// Result is what constructing one host produced.
type Result struct {
	// Vars are the composed variables, to merge over the host vars (nil
	// when none). Values may share structure with the input vars: treat
	// both as read-only.
	Vars map[string]any
	// Groups are the sanitised names of the groups the host joins, sorted
	// and without duplicates.
	Groups []string
	// Edges nest keyed groups under their parent_group, sorted and without
	// duplicates. A parent group has no hosts of its own.
	Edges []roster.GroupEdge
	// Warnings hold the entries skipped because of an error while strict
	// is false, as "field: message". They never hold host values.
	Warnings []string
}

// EvalError is an error evaluating one option for a host while strict is
// true, one that went over a limit (its Err is then a *LimitError), or one
// ansible-core raises whatever strict says (a keyed_groups key that is a
// number or boolean, an empty group name, a group its own parent). It
// names the option and its expression, never host values.
type EvalError struct {
	Field string // e.g. "compose.ansible_host", "keyed_groups[2].key"
	Expr  string
	Err   error
}

func (e *EvalError) Error() string {
	return fmt.Sprintf("%s (%q): %v", e.Field, e.Expr, e.Err)
}

func (e *EvalError) Unwrap() error { return e.Err }

// groupError is a group ansible-core refuses to make whatever strict says
// (its add_group and add_child raise outside the plugin's try): a key of
// the wrong type, an empty name, a group its own parent.
type groupError struct{ msg string }

func (e *groupError) Error() string { return e.msg }

// Parse decodes and compiles the constructed options of a source under the
// default limits. Errors are *roster.Error with code EINVALID and one field
// error per problem.
func Parse(config map[string]any) (*Constructor, error) {
	return parse(config, DefaultLimits(), false)
}

// ParseWithLimits is Parse under the given limits (zero fields take the
// defaults). An expression whose constant part already goes over them,
// such as 'a' * 1000000, is refused here, before any host is seen.
func ParseWithLimits(config map[string]any, limits Limits) (*Constructor, error) {
	return parse(config, limits, false)
}

func parse(config map[string]any, limits Limits, noFast bool) (*Constructor, error) {
	c := &Constructor{leadingSep: true, cache: newRegexCache(), limits: limits.orDefaults()}
	var fe roster.FieldErrors
	for _, k := range sortedNames(config) {
		v := config[k]
		switch k {
		case "compose":
			c.parseCompose(v, noFast, &fe)
		case "groups":
			c.parseGroups(v, noFast, &fe)
		case "keyed_groups":
			c.parseKeyed(v, noFast, &fe)
		case "strict":
			if b, ok := parseBool(v); ok {
				c.strict = b
			} else {
				fe.Add(k, "must be a boolean")
			}
		case "leading_separator":
			if b, ok := parseBool(v); ok {
				c.leadingSep = b
			} else {
				fe.Add(k, "must be a boolean")
			}
		case "use_extra_vars":
			// Roster has no extra vars (-e) to merge: false is the only
			// value with a meaning here.
			b, ok := parseBool(v)
			switch {
			case !ok:
				fe.Add(k, "must be a boolean")
			case b:
				fe.Add(k, "not supported: Roster syncs have no extra vars to merge; remove it or set it to false")
			}
		default:
			fe.Add(k, "not a constructed option")
		}
	}
	if err := fe.Err(); err != nil {
		return nil, err
	}
	return c, nil
}

// parseBool accepts a boolean, or a string Ansible's boolean() accepts.
func parseBool(v any) (bool, bool) {
	switch x := v.(type) {
	case nil:
		return false, true
	case bool:
		return x, true
	case string:
		switch strings.ToLower(strings.TrimSpace(x)) {
		case "yes", "on", "1", "true", "y", "t":
			return true, true
		case "no", "off", "0", "false", "n", "f", "":
			return false, true
		}
	}
	if i, ok := toInt(v); ok && (i == 0 || i == 1) {
		return i == 1, true
	}
	return false, false
}

// exprSource compiles an option value: a string expression, or a number or
// boolean taken as a constant (as "{{ 22 }}" would be).
func (c *Constructor) exprSource(v any, noFast bool) (string, node, string) {
	switch x := v.(type) {
	case string:
		n, err := compileExpr(x, noFast)
		if err != nil {
			return x, nil, err.Error()
		}
		if err := c.checkConstants(n); err != nil {
			return x, nil, err.Error()
		}
		return x, n, ""
	case bool:
		return pyStr(x), &litNode{v: x}, ""
	}
	if isIntType(v) {
		i, _ := toInt(v)
		return pyStr(i), &litNode{v: i}, ""
	}
	if f, ok := v.(float64); ok {
		return pyFloat(f), &litNode{v: f}, ""
	}
	return "", nil, "must be a Jinja2 expression (a string), got " + jsonType(v)
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case []any:
		return "a list"
	case map[string]any:
		return "a mapping"
	}
	return typeName(v)
}

func (c *Constructor) parseCompose(v any, noFast bool, fe *roster.FieldErrors) {
	same := func(name string) string { return name }
	for _, x := range c.parseNamedExprs(v, "compose", "variable", "expressions", same, noFast, fe) {
		c.compose = append(c.compose, composeEntry{namedExpr: x, text: makesText(x.expr)})
	}
}

func (c *Constructor) parseGroups(v any, noFast bool, fe *roster.FieldErrors) {
	c.groups = c.parseNamedExprs(v, "groups", "group", "conditionals", SafeGroupName, noFast, fe)
}

// parseNamedExprs compiles an option that maps names to expressions, in
// name order. nameOf gives the name a key stands for; names and exprs say
// in errors what the names name and what the expressions are. An entry
// whose name is empty or whose expression does not compile is noted and
// left out.
func (c *Constructor) parseNamedExprs(v any, option, names, exprs string, nameOf func(string) string, noFast bool, fe *roster.FieldErrors) []namedExpr {
	if v == nil {
		return nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		fe.Add(option, "must be a mapping of %s names to %s", names, exprs)
		return nil
	}
	var out []namedExpr
	for _, key := range sortedNames(m) {
		field := option + "." + key
		name := nameOf(key)
		if name == "" {
			fe.Add(field, "%s name must not be empty", names)
			continue
		}
		src, n, msg := c.exprSource(m[key], noFast)
		if msg != "" {
			fe.Add(field, "%s", msg)
			continue
		}
		out = append(out, namedExpr{name: name, field: field, src: src, expr: n})
	}
	return out
}

var keyedKeys = []string{"key", "prefix", "separator", "default_value", "trailing_separator", "parent_group", "leading_separator"}

func (c *Constructor) parseKeyed(v any, noFast bool, fe *roster.FieldErrors) {
	if v == nil {
		return
	}
	list, ok := v.([]any)
	if !ok {
		fe.Add("keyed_groups", "must be a list of mappings")
		return
	}
	for i, item := range list {
		field := fmt.Sprintf("keyed_groups[%d]", i)
		m, ok := item.(map[string]any)
		if !ok {
			fe.Add(field, "must be a mapping with at least a key")
			continue
		}
		k := keyedEntry{field: field, sep: "_"}
		bad := false
		for _, name := range sortedNames(m) {
			if name == "priority" {
				fe.Add(field+".priority", "not supported: Roster groups have no priority")
				bad = true
			} else if !slices.Contains(keyedKeys, name) {
				fe.Add(field+"."+name, "unknown option; expected one of %s", strings.Join(keyedKeys, ", "))
				bad = true
			}
		}
		raw, has := m["key"]
		if !has || raw == nil {
			fe.Add(field+".key", "required")
			bad = true
		} else {
			src, n, msg := c.exprSource(raw, noFast)
			if msg != "" {
				fe.Add(field+".key", "%s", msg)
				bad = true
			}
			k.src, k.key, k.text = src, n, makesText(n)
		}
		scalar := func(name string) (string, bool, bool) {
			v, has := m[name]
			if !has || v == nil {
				return "", false, true
			}
			switch v.(type) {
			case []any, map[string]any:
				fe.Add(field+"."+name, "must be a string")
				return "", false, false
			}
			return pyStr(v), true, true
		}
		if s, has, ok := scalar("prefix"); !ok {
			bad = true
		} else if has {
			k.prefix = s
		}
		if s, has, ok := scalar("separator"); !ok {
			bad = true
		} else if has {
			k.sep = s
		}
		if s, has, ok := scalar("default_value"); !ok {
			bad = true
		} else if has {
			k.hasDefault, k.defValue = true, s
		}
		if v, has := m["trailing_separator"]; has && v != nil {
			b, ok := parseBool(v)
			if !ok {
				fe.Add(field+".trailing_separator", "must be a boolean")
				bad = true
			}
			k.trailing = &b
			if k.hasDefault {
				fe.Add(field+".default_value", "mutually exclusive with trailing_separator")
				bad = true
			}
		}
		// leading_separator inside an entry is accepted and, as in
		// ansible-core (2.14 to 2.19), ignored: only the plugin-level
		// option counts.
		if s, has, ok := scalar("parent_group"); !ok {
			bad = true
		} else if has {
			t, err := compileTemplate(s)
			if err == nil {
				err = c.checkTemplateConstants(t)
			}
			if err != nil {
				fe.Add(field+".parent_group", "%s", err.Error())
				bad = true
			}
			k.parent, k.parentSrc = t, s
		}
		if !bad {
			c.keyed = append(c.keyed, k)
		}
	}
}

// Strict reports whether the options make evaluation errors fatal.
func (c *Constructor) Strict() bool { return c.strict }

// WithStrictCompose returns c with compose errors fatal whatever strict
// says, as in plugins that compose with strict=True (openstack.cloud 2.x);
// groups and keyed_groups still follow strict.
func (c *Constructor) WithStrictCompose() *Constructor {
	cc := *c
	cc.strictCompose = true
	return &cc
}

// Empty reports whether the options construct nothing.
func (c *Constructor) Empty() bool {
	return len(c.compose) == 0 && len(c.groups) == 0 && len(c.keyed) == 0
}

// eval evaluates a compiled expression for one host.
func (c *Constructor) eval(e *env, n node) (v any, err error) {
	defer recoverEval(&err)
	if p, ok := n.(*pathNode); ok {
		v, err := p.lookupFast(e.vars, e.over)
		if err != nil {
			return nil, err
		}
		switch x := v.(type) { // host data holds no undefined: no need to walk it
		case *undefined:
			return nil, x.err()
		case *callable, *method:
			return finalize(v)
		}
		return v, nil
	}
	e.b.reset()
	e.locals = e.locals[:0]
	if v, err = n.eval(e); err != nil {
		return nil, err
	}
	return finalize(v)
}

// recoverEval turns a panic of the evaluator into an error: a bug met by
// one host's data must not take a sync down.
func recoverEval(err *error) {
	if r := recover(); r != nil {
		*err = errorf("internal error while evaluating: %v", r)
	}
}

// Apply constructs one host from its vars, in Ansible's order: compose
// (each expression sees the host vars only, not the other composed vars),
// then groups, then keyed_groups (both see the host vars overlaid with the
// composed vars). vars is not modified.
//
// With strict false an entry whose evaluation fails is skipped and noted
// in Result.Warnings; with strict true Apply returns an *EvalError. An
// entry that goes over a limit (Limits), and the errors ansible-core 2.14
// raises outside its strict check (see EvalError), are an *EvalError
// whatever strict says.
func (c *Constructor) Apply(vars map[string]any) (Result, error) {
	return c.apply(vars, nil, nil)
}

// ApplyHidden is Apply for a host that also has hidden vars: vars a
// plugin sets on the host without handing them to compose (azure_rm's
// ansible_host). groups and keyed_groups see them under the composed
// vars, as ansible-core's helpers add the host's own vars
// (fetch_hostvars) to what the plugin hands them; compose does not.
func (c *Constructor) ApplyHidden(vars, hidden map[string]any) (Result, error) {
	return c.apply(vars, hidden, nil)
}

// newEnv returns the state of one host's evaluations.
func (c *Constructor) newEnv(vars map[string]any) *env {
	return &env{vars: vars, cache: c.cache, b: newBudget(c.limits)}
}

func (c *Constructor) apply(vars, hidden map[string]any, batch *Batch) (Result, error) {
	var res Result
	e := c.newEnv(vars)
	e.out = output{hostMax: c.limits.HostBytes, batch: batch, syncMax: c.limits.SyncBytes}
	out := &e.out
	fail := func(field, src string, err error) error {
		if c.strict || IsLimit(err) {
			return &EvalError{Field: field, Expr: src, Err: err}
		}
		res.Warnings = append(res.Warnings, field+": "+err.Error())
		return nil
	}

	for i := range c.compose {
		ce := &c.compose[i]
		v, err := c.eval(e, ce.expr)
		if err == nil {
			err = out.addValue(ce.name, v)
		}
		if err != nil {
			if c.strictCompose {
				return Result{}, &EvalError{Field: ce.field, Expr: ce.src, Err: err}
			}
			if err := fail(ce.field, ce.src, err); err != nil {
				return Result{}, err
			}
			continue
		}
		if res.Vars == nil {
			res.Vars = make(map[string]any, len(c.compose))
		}
		// As ansible-core's default templating renders it: numbers as
		// text (the value was measured above; its text is no larger).
		res.Vars[ce.name] = templated(ce.src, ce.text, nil, vars, v)
	}
	e.over = res.Vars
	if len(hidden) > 0 {
		over := make(map[string]any, len(hidden)+len(res.Vars))
		maps.Copy(over, hidden)
		maps.Copy(over, res.Vars)
		e.over = over
	}

	if n := len(c.groups) + 2*len(c.keyed); n > 0 {
		res.Groups = make([]string, 0, n)
	}
	for i := range c.groups {
		g := &c.groups[i]
		v, err := c.eval(e, g.expr)
		var ok bool
		if err == nil {
			ok, err = truth(v)
		}
		if err != nil {
			if err := fail(g.field, g.src, err); err != nil {
				return Result{}, err
			}
			continue
		}
		if ok {
			if err := out.add(int64(len(g.name)) + 2); err != nil {
				return Result{}, fail(g.field, g.src, err)
			}
			res.Groups = append(res.Groups, g.name)
		}
	}

	for i := range c.keyed {
		if err := c.applyKeyed(e, &c.keyed[i], &res, out, fail); err != nil {
			return Result{}, err
		}
	}

	if len(res.Groups) > 1 {
		slices.Sort(res.Groups)
		res.Groups = slices.Compact(res.Groups)
	}
	if len(res.Edges) > 1 {
		slices.SortFunc(res.Edges, func(a, b roster.GroupEdge) int {
			if c := strings.Compare(a.Parent, b.Parent); c != 0 {
				return c
			}
			return strings.Compare(a.Child, b.Child)
		})
		res.Edges = slices.Compact(res.Edges)
	}
	out.commit()
	return res, nil
}

// applyKeyed follows ansible-core 2.14's _add_host_to_keyed_groups. The
// key is templated as compose entries are (templated): text, except a
// single variable's number, boolean or None and text reading as a list,
// dict or boolean.
func (c *Constructor) applyKeyed(e *env, k *keyedEntry, res *Result, out *output, fail func(string, string, error) error) error {
	raw, err := c.eval(e, k.key)
	if err != nil {
		return fail(k.field+".key", k.src, err)
	}
	key := templated(k.src, k.text, e.over, e.vars, raw)
	useDefault := key == "" && k.hasDefault
	truthy, _ := truth(key) // key is finalized: never undefined
	if !truthy && !useDefault {
		// An empty list or dict is a valid way to make no group. None
		// (a single variable that is null) is not, and takes no
		// default_value: only "" does (2.19 also defaults None).
		if c.strict {
			if l, ok := key.([]any); ok && len(l) == 0 {
				return nil
			}
			if m, ok := key.(map[string]any); ok && len(m) == 0 {
				return nil
			}
			return fail(k.field+".key", k.src, errorf("no key or key resulted empty, invalid entry"))
		}
		return nil
	}

	parent := ""
	if k.parent != nil {
		e.b.reset()
		e.locals = e.locals[:0]
		p, err := renderSafely(e, k.parent)
		if err != nil {
			return fail(k.field+".parent_group", k.parentSrc, err)
		}
		parent = p
	}

	g := keyedGroup{c: c, k: k, res: res, out: out, fail: fail, parent: parent, sep: k.sep}
	if k.prefix == "" && !c.leadingSep {
		g.sep = ""
	}

	switch x := key.(type) {
	case string:
		if useDefault {
			return g.emit(k.defValue, "", "")
		}
		return g.emit(x, "", "")
	case []any:
		for _, it := range x {
			name := pyStr(it)
			if it == "" && k.hasDefault {
				name = k.defValue
			}
			if err := g.emit(name, "", ""); err != nil {
				return err
			}
		}
	case map[string]any:
		var buf [32]string
		keys := buf[:0]
		for name := range x {
			keys = append(keys, name)
		}
		slices.Sort(keys)
		for _, gname := range keys {
			gval := x[gname]
			var err error
			switch {
			case gval != "":
				err = g.emit(gname, k.sep, pyStr(gval))
			case k.hasDefault:
				err = g.emit(gname, k.sep, k.defValue)
			case k.trailing != nil && !*k.trailing:
				err = g.emit(gname, "", "")
			default:
				err = g.emit(gname, k.sep, "")
			}
			if err != nil {
				return err
			}
		}
	default:
		// A single variable's number or boolean (True, 4, 1.5): ansible-core
		// raises, strict or not; the inventory fails to load.
		return &EvalError{Field: k.field + ".key", Expr: k.src, Err: &groupError{
			"invalid group name format, expected a string or a list of them or dictionary, got: " + typeName(key)}}
	}
	return nil
}

// keyedGroup adds the groups of one keyed_groups entry for one host.
type keyedGroup struct {
	c      *Constructor
	k      *keyedEntry
	res    *Result
	out    *output
	fail   func(string, string, error) error
	parent string
	sep    string // the separator after the prefix
}

// emit adds the group prefix + sep + a + b + c, sanitised. An empty name
// and a group its own parent fail whatever strict says, as ansible-core's
// add_group and add_child raise outside the plugin's try.
func (g *keyedGroup) emit(a, b, c string) error {
	name := safeJoin(g.k.prefix, g.sep, a, b, c)
	if name == "" {
		return &EvalError{Field: g.k.field + ".key", Expr: g.k.src, Err: &groupError{"invalid empty group name"}}
	}
	if err := g.out.add(int64(len(name)) + 2); err != nil {
		return g.fail(g.k.field+".key", g.k.src, err)
	}
	g.res.Groups = append(g.res.Groups, name)
	if g.parent != "" {
		p := SafeGroupName(g.parent)
		if p == name {
			return &EvalError{Field: g.k.field + ".parent_group", Expr: g.k.parentSrc, Err: &groupError{fmt.Sprintf("group %q cannot be its own parent", name)}}
		}
		if err := g.out.add(int64(len(p)+len(name)) + 4); err != nil {
			return g.fail(g.k.field+".parent_group", g.k.parentSrc, err)
		}
		g.res.Edges = append(g.res.Edges, roster.GroupEdge{Parent: p, Child: name})
	}
	return nil
}

func renderSafely(e *env, t *template) (s string, err error) {
	defer recoverEval(&err)
	return t.render(e)
}
