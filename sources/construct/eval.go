package construct

import (
	"errors"
	"math"
	"strings"
	"unicode/utf8"

	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Bounds of one evaluation. Jinja's own sandbox caps range() at 100,000
// items; the step budget bounds loops and the work of filters, Limits
// bound what an evaluation builds (budget.go).
const (
	maxSteps = 100_000
	maxRange = 100_000
)

// env is the state of one evaluation.
type env struct {
	vars   map[string]any // host vars
	over   map[string]any // composed vars, shadowing host vars
	locals []local        // loop variables of templates, innermost last
	b      budget
	out    output // the host's constructed output, counted by Apply
	cache  *regexCache
	// loopVar is set while rendering a template that reads "loop".
	loopVar bool
}

type local struct {
	name string
	val  any
}

func (e *env) lookup(name string) any {
	for i := len(e.locals) - 1; i >= 0; i-- {
		if e.locals[i].name == name {
			return e.locals[i].val
		}
	}
	if e.over != nil {
		if v, ok := e.over[name]; ok {
			return v
		}
	}
	if v, ok := e.vars[name]; ok {
		return v
	}
	if g, ok := globals[name]; ok {
		return g
	}
	return undefName(name)
}

// node is a compiled expression.
type node interface {
	eval(e *env) (any, error)
}

type litNode struct{ v any }

func (n *litNode) eval(*env) (any, error) { return n.v, nil }

type nameNode struct{ name string }

func (n *nameNode) eval(e *env) (any, error) { return e.lookup(n.name), nil }

type attrNode struct {
	obj  node
	name string
}

func (n *attrNode) eval(e *env) (any, error) {
	obj, err := n.obj.eval(e)
	if err != nil {
		return nil, err
	}
	return getAttr(obj, n.name), nil
}

type itemNode struct {
	obj, key node
}

func (n *itemNode) eval(e *env) (any, error) {
	obj, err := n.obj.eval(e)
	if err != nil {
		return nil, err
	}
	key, err := n.key.eval(e)
	if err != nil {
		return nil, err
	}
	if s, ok := obj.(string); ok {
		if i, ok := toInt(key); ok {
			if err := e.tickIndex(s, i); err != nil {
				return nil, err
			}
		}
	}
	return getItem(obj, key)
}

// tickIndex charges s[i], which walks |i| characters, to the step budget.
func (e *env) tickIndex(s string, i int64) error {
	if i < 0 {
		i = -i
	}
	return e.tick(int(min(int64(len(s)), 4*i)) / 256)
}

// pathStep is one .name or [literal] of a variable path.
type pathStep struct {
	key   string
	idx   int64
	isIdx bool
	attr  bool // written as .name (attribute first), else [key] (item first)
}

// pathNode is a variable path: a name followed by attributes and literal
// subscripts. It has exactly the semantics of the chain of nameNode,
// attrNode and itemNode it replaces.
type pathNode struct {
	root  string
	steps []pathStep
}

func (p *pathNode) with(s pathStep) *pathNode {
	steps := make([]pathStep, len(p.steps), len(p.steps)+1)
	copy(steps, p.steps)
	return &pathNode{root: p.root, steps: append(steps, s)}
}

func (p *pathNode) eval(e *env) (any, error) {
	return p.resolve(e.lookup(p.root), e)
}

// lookupFast resolves the path against vars without an env: the fast path
// for the most common keys. Locals do not exist outside templates.
func (p *pathNode) lookupFast(vars, over map[string]any) (any, error) {
	if over != nil {
		if v, ok := over[p.root]; ok {
			return p.resolve(v, nil)
		}
	}
	if v, ok := vars[p.root]; ok {
		return p.resolve(v, nil)
	}
	if g, ok := globals[p.root]; ok {
		return p.resolve(g, nil)
	}
	return p.resolve(undefName(p.root), nil)
}

// resolve follows the path from v. Indexing a string walks it: with an
// env (in loops), that is charged to the step budget.
func (p *pathNode) resolve(v any, e *env) (any, error) {
	for i := range p.steps {
		s := &p.steps[i]
		switch {
		case s.attr:
			// The hot case, a dict attribute that is not a dict method.
			if m, ok := v.(map[string]any); ok && !isDictMethod(s.key) {
				if x, ok := m[s.key]; ok {
					v = x
					continue
				}
			}
			v = getAttr(v, s.key)
		case s.isIdx:
			if str, ok := v.(string); ok && e != nil {
				if err := e.tickIndex(str, s.idx); err != nil {
					return nil, err
				}
			}
			var err error
			if v, err = getItem(v, s.idx); err != nil {
				return nil, err
			}
		default:
			if m, ok := v.(map[string]any); ok {
				if x, ok := m[s.key]; ok {
					v = x
					continue
				}
			}
			var err error
			if v, err = getItem(v, s.key); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// getAttr is Jinja's environment.getattr: the Python attribute first (the
// methods of str, dict and list), then the item; else undefined.
func getAttr(obj any, name string) any {
	switch x := obj.(type) {
	case *undefined:
		return x // Ansible's undefined returns itself for any attribute
	case map[string]any:
		if isDictMethod(name) {
			return &method{recv: x, name: name}
		}
		if v, ok := x[name]; ok {
			return v
		}
	case string:
		if isStrMethod(name) {
			return &method{recv: x, name: name}
		}
	case []any:
		if isListMethod(name) {
			return &method{recv: x, name: name}
		}
	case Datetime:
		if v := datetimeAttr(x, name); v != nil {
			return v
		}
	}
	return undefAttr(obj, name)
}

// getItem is Jinja's environment.getitem: the item first, then (for a
// string key) the attribute; else undefined.
func getItem(obj any, key any) (any, error) {
	switch x := obj.(type) {
	case *undefined:
		return x, nil
	case map[string]any:
		if k, ok := key.(string); ok {
			if v, ok := x[k]; ok {
				return v, nil
			}
			return getAttr(obj, k), nil
		}
		if u, ok := key.(*undefined); ok {
			return nil, u.err()
		}
		return &undefined{hint: "'dict object' has no attribute " + pyRepr(key)}, nil
	case []any:
		if i, ok := toInt(key); ok {
			if i < 0 {
				i += int64(len(x))
			}
			if i >= 0 && i < int64(len(x)) {
				return x[i], nil
			}
			return &undefined{hint: "list object has no element " + pyStr(key)}, nil
		}
	case string:
		if i, ok := toInt(key); ok {
			if r, ok := runeAt(x, i); ok {
				return r, nil
			}
			return &undefined{hint: "str object has no element " + pyStr(key)}, nil
		}
	}
	if u, ok := key.(*undefined); ok {
		return nil, u.err()
	}
	if k, ok := key.(string); ok {
		return getAttr(obj, k), nil
	}
	return &undefined{hint: "'" + typeObject(obj) + "' has no attribute " + pyRepr(key)}, nil
}

// runeAt is Python's s[i] (a negative i counts from the end), walking
// only as far as i.
func runeAt(s string, i int64) (string, bool) {
	if i >= 0 {
		for _, r := range s {
			if i == 0 {
				return string(r), true
			}
			i--
		}
		return "", false
	}
	for end := len(s); end > 0; {
		r, size := utf8.DecodeLastRuneInString(s[:end])
		if i == -1 {
			return string(r), true
		}
		end -= size
		i++
	}
	return "", false
}

type sliceNode struct {
	obj, start, end, step node
}

func (n *sliceNode) eval(e *env) (any, error) {
	obj, err := n.obj.eval(e)
	if err != nil {
		return nil, err
	}
	bound := func(b node) (int64, bool, error) {
		if b == nil {
			return 0, false, nil
		}
		v, err := b.eval(e)
		if err != nil {
			return 0, false, err
		}
		if v == nil {
			return 0, false, nil
		}
		i, ok := toInt(v)
		if !ok {
			return 0, false, errorf("slice indices must be integers or None")
		}
		return i, true, nil
	}
	start, hasStart, err := bound(n.start)
	if err != nil {
		return nil, err
	}
	end, hasEnd, err := bound(n.end)
	if err != nil {
		return nil, err
	}
	step, hasStep, err := bound(n.step)
	if err != nil {
		return nil, err
	}
	if !hasStep {
		step = 1
	}
	if step == 0 {
		return nil, errorf("slice step cannot be zero")
	}
	if err := e.tickLen(obj); err != nil {
		return nil, err
	}
	switch x := obj.(type) {
	case []any:
		idx := sliceIndices(int64(len(x)), start, end, step, hasStart, hasEnd)
		m := meter{e: e, n: 2}
		for _, i := range idx {
			if err := m.addValue(x[i]); err != nil {
				return nil, err
			}
		}
		if err := m.done(); err != nil {
			return nil, err
		}
		out := make([]any, 0, len(idx))
		for _, i := range idx {
			out = append(out, x[i])
		}
		return out, nil
	case string:
		r := []rune(x)
		idx := sliceIndices(int64(len(r)), start, end, step, hasStart, hasEnd)
		var n int64
		for _, i := range idx {
			n += int64(utf8.RuneLen(r[i]))
		}
		if err := e.build(n); err != nil {
			return nil, err
		}
		out := make([]rune, 0, len(idx))
		for _, i := range idx {
			out = append(out, r[i])
		}
		return string(out), nil
	case *undefined:
		return nil, x.err()
	}
	return nil, errorf("'%s' object is not subscriptable", typeName(obj))
}

// sliceIndices is Python's slice.indices followed by range.
func sliceIndices(n, start, stop, step int64, hasStart, hasStop bool) []int64 {
	clamp := func(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }
	if step > 0 {
		if !hasStart {
			start = 0
		} else if start < 0 {
			start = clamp(start+n, 0, n)
		} else {
			start = min(start, n)
		}
		if !hasStop {
			stop = n
		} else if stop < 0 {
			stop = clamp(stop+n, 0, n)
		} else {
			stop = min(stop, n)
		}
	} else {
		if !hasStart {
			start = n - 1
		} else if start < 0 {
			start = clamp(start+n, -1, n-1)
		} else {
			start = min(start, n-1)
		}
		if !hasStop {
			stop = -1
		} else if stop < 0 {
			stop = clamp(stop+n, -1, n-1)
		} else {
			stop = min(stop, n-1)
		}
	}
	var out []int64
	for i := start; (step > 0 && i < stop) || (step < 0 && i > stop); i += step {
		out = append(out, i)
	}
	return out
}

type listNode struct{ items []node }

func (n *listNode) eval(e *env) (any, error) {
	out := make([]any, len(n.items))
	m := meter{e: e, n: 2}
	for i, it := range n.items {
		v, err := it.eval(e)
		if err != nil {
			return nil, err
		}
		if err := m.addValue(v); err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, m.done()
}

type dictNode struct{ keys, vals []node }

func (n *dictNode) eval(e *env) (any, error) {
	out := make(map[string]any, len(n.keys))
	m := meter{e: e, n: 2}
	for i := range n.keys {
		k, err := n.keys[i].eval(e)
		if err != nil {
			return nil, err
		}
		if u, ok := k.(*undefined); ok {
			return nil, u.err()
		}
		key, err := e.str(k)
		if err != nil {
			return nil, err
		}
		v, err := n.vals[i].eval(e)
		if err != nil {
			return nil, err
		}
		if err := m.addValue(v); err != nil {
			return nil, err
		}
		if err := m.add(int64(len(key)) + 4); err != nil {
			return nil, err
		}
		out[key] = v
	}
	return out, m.done()
}

type kwArg struct {
	name string
	val  node
}

type callNode struct {
	fn   node
	args []node
	kw   []kwArg
}

func (n *callNode) eval(e *env) (any, error) {
	if err := e.tick(1); err != nil {
		return nil, err
	}
	fn, err := n.fn.eval(e)
	if err != nil {
		return nil, err
	}
	args, kw, err := evalArgs(e, n.args, n.kw)
	if err != nil {
		return nil, err
	}
	switch f := fn.(type) {
	case *callable:
		return f.fn(e, args, kw)
	case *method:
		if err := e.tickLen(f.recv); err != nil {
			return nil, err
		}
		return callMethod(e, f, args, kw)
	case *undefined:
		return nil, f.err()
	}
	return nil, errorf("'%s' object is not callable", typeName(fn))
}

func evalArgs(e *env, argNodes []node, kwNodes []kwArg) ([]any, map[string]any, error) {
	var args []any
	if len(argNodes) > 0 {
		args = make([]any, len(argNodes))
		for i, a := range argNodes {
			v, err := a.eval(e)
			if err != nil {
				return nil, nil, err
			}
			args[i] = v
		}
	}
	var kw map[string]any
	if len(kwNodes) > 0 {
		kw = make(map[string]any, len(kwNodes))
		for _, a := range kwNodes {
			v, err := a.val.eval(e)
			if err != nil {
				return nil, nil, err
			}
			kw[a.name] = v
		}
	}
	return args, kw, nil
}

type condNode struct {
	then, cond, els node
}

func (n *condNode) eval(e *env) (any, error) {
	ok, err := e.truthOf(n.cond)
	if err != nil {
		return nil, err
	}
	if ok {
		return n.then.eval(e)
	}
	if n.els == nil {
		return &undefined{hint: "the inline if-expression evaluated to false and no else section was defined"}, nil
	}
	return n.els.eval(e)
}

type notNode struct{ x node }

func (n *notNode) eval(e *env) (any, error) {
	t, err := e.truthOf(n.x)
	if err != nil {
		return nil, err
	}
	return !t, nil
}

// truthOf evaluates a condition (an inline if, a not, an {% if %}, a for
// loop's filter) to its Python truth.
func (e *env) truthOf(n node) (bool, error) {
	v, err := n.eval(e)
	if err != nil {
		return false, err
	}
	return truth(v)
}

// boolOpNode is Python's "and" and "or" (ast.BoolOp): the left operand
// when its truth decides the result (false for and, true for or), else
// the right one, which is evaluated only then.
type boolOpNode struct {
	l, r node
	or   bool
}

func (n *boolOpNode) eval(e *env) (any, error) {
	l, err := n.l.eval(e)
	if err != nil {
		return nil, err
	}
	t, err := truth(l)
	if err != nil || t == n.or {
		return l, err
	}
	return n.r.eval(e)
}

type unaryNode struct {
	neg bool
	x   node
}

func (n *unaryNode) eval(e *env) (any, error) {
	v, err := n.x.eval(e)
	if err != nil {
		return nil, err
	}
	if u, ok := v.(*undefined); ok {
		return nil, u.err()
	}
	if i, ok := toInt(v); ok {
		if n.neg {
			if i == math.MinInt64 {
				return nil, errorf("integer overflow")
			}
			return -i, nil
		}
		return i, nil
	}
	if f, ok := toFloat(v); ok {
		if n.neg {
			return -f, nil
		}
		return f, nil
	}
	return nil, errorf("bad operand type for unary %s: '%s'", map[bool]string{true: "-", false: "+"}[n.neg], typeName(v))
}

type binOp int

const (
	opAdd binOp = iota
	opSub
	opMul
	opDiv
	opFloorDiv
	opMod
	opPow
	opConcat
	opEq
	opNe
	opLt
	opLe
	opGt
	opGe
)

var binOps = map[tokens.Type]binOp{
	tokens.Addition:           opAdd,
	tokens.Subtraction:        opSub,
	tokens.Multiply:           opMul,
	tokens.Division:           opDiv,
	tokens.FloorDivision:      opFloorDiv,
	tokens.Modulo:             opMod,
	tokens.Power:              opPow,
	tokens.Tilde:              opConcat,
	tokens.Equals:             opEq,
	tokens.Ne:                 opNe,
	tokens.LowerThan:          opLt,
	tokens.LowerThanOrEqual:   opLe,
	tokens.GreaterThan:        opGt,
	tokens.GreaterThanOrEqual: opGe,
}

var opSymbols = [...]string{"+", "-", "*", "/", "//", "%", "**", "~", "==", "!=", "<", "<=", ">", ">="}

type binNode struct {
	op   binOp
	l, r node
}

func (n *binNode) eval(e *env) (any, error) {
	if err := e.tick(1); err != nil {
		return nil, err
	}
	l, err := n.l.eval(e)
	if err != nil {
		return nil, err
	}
	r, err := n.r.eval(e)
	if err != nil {
		return nil, err
	}
	if err := e.tickLen(l); err != nil {
		return nil, err
	}
	if err := e.tickLen(r); err != nil {
		return nil, err
	}
	return binary(e, n.op, l, r)
}

func binary(e *env, op binOp, l, r any) (any, error) {
	if u, ok := l.(*undefined); ok {
		return nil, u.err()
	}
	if u, ok := r.(*undefined); ok {
		return nil, u.err()
	}
	switch op {
	case opEq:
		return pyEqual(l, r)
	case opNe:
		eq, err := pyEqual(l, r)
		return !eq, err
	case opLt, opLe, opGt, opGe:
		c, err := pyCompare(l, r)
		if err != nil {
			return nil, errorf("'%s' not supported between instances of '%s' and '%s'", opSymbols[op], typeName(l), typeName(r))
		}
		switch op {
		case opLt:
			return c < 0, nil
		case opLe:
			return c <= 0, nil
		case opGt:
			return c > 0, nil
		}
		return c >= 0, nil
	case opConcat:
		ls, err := e.str(l)
		if err != nil {
			return nil, err
		}
		rs, err := e.str(r)
		if err != nil {
			return nil, err
		}
		if err := e.build(int64(len(ls)) + int64(len(rs))); err != nil {
			return nil, err
		}
		return ls + rs, nil
	}
	numeric := (isIntType(l) || isFloatType(l) || isBool(l)) && (isIntType(r) || isFloatType(r) || isBool(r))
	if numeric {
		return arith(op, l, r)
	}
	switch op {
	case opAdd:
		switch x := l.(type) {
		case string:
			if y, ok := r.(string); ok {
				if err := e.build(int64(len(x)) + int64(len(y))); err != nil {
					return nil, err
				}
				return x + y, nil
			}
		case []any:
			if y, ok := r.([]any); ok {
				xs, err := e.size(x)
				if err != nil {
					return nil, err
				}
				ys, err := e.size(y)
				if err != nil {
					return nil, err
				}
				if err := e.build(xs + ys - 2); err != nil {
					return nil, err
				}
				out := make([]any, 0, len(x)+len(y))
				return append(append(out, x...), y...), nil
			}
		}
	case opMul:
		if s, n, ok := seqTimes(l, r); ok {
			return repeat(e, s, n)
		}
		if s, n, ok := seqTimes(r, l); ok {
			return repeat(e, s, n)
		}
	case opMod:
		if s, ok := l.(string); ok {
			return percentFormat(e, s, r)
		}
	}
	return nil, errorf("unsupported operand type(s) for %s: '%s' and '%s'", opSymbols[op], typeName(l), typeName(r))
}

func seqTimes(s, n any) (any, int64, bool) {
	switch s.(type) {
	case string, []any:
		if isIntType(n) || isBool(n) {
			i, _ := toInt(n)
			return s, i, true
		}
	}
	return nil, 0, false
}

func repeat(e *env, s any, n int64) (any, error) {
	if n < 0 {
		n = 0
	}
	switch x := s.(type) {
	case string:
		if err := e.buildTimes(int64(len(x)), n); err != nil {
			return nil, err
		}
		return strings.Repeat(x, int(n)), nil
	case []any:
		size, err := e.size(x)
		if err != nil {
			return nil, err
		}
		if err := e.buildTimes(size-2, n); err != nil { // the items of each copy
			return nil, err
		}
		out := make([]any, 0, int64(len(x))*n)
		for range n {
			out = append(out, x...)
		}
		return out, nil
	}
	return nil, errors.New("unreachable")
}

func arith(op binOp, l, r any) (any, error) {
	li, lok := toInt(l)
	ri, rok := toInt(r)
	if lok && rok {
		switch op {
		case opAdd:
			s := li + ri
			if (s > li) != (ri > 0) {
				return nil, errorf("integer overflow")
			}
			return s, nil
		case opSub:
			s := li - ri
			if (s < li) != (ri > 0) {
				return nil, errorf("integer overflow")
			}
			return s, nil
		case opMul:
			if li != 0 && ri != 0 {
				p := li * ri
				if p/ri != li || (li == -1 && ri == math.MinInt64) || (ri == -1 && li == math.MinInt64) {
					return nil, errorf("integer overflow")
				}
				return p, nil
			}
			return int64(0), nil
		case opDiv:
			if ri == 0 {
				return nil, errorf("division by zero")
			}
			return float64(li) / float64(ri), nil
		case opFloorDiv:
			if ri == 0 {
				return nil, errorf("integer division or modulo by zero")
			}
			q := li / ri
			if (li%ri != 0) && ((li < 0) != (ri < 0)) {
				q--
			}
			return q, nil
		case opMod:
			if ri == 0 {
				return nil, errorf("integer division or modulo by zero")
			}
			m := li % ri
			if m != 0 && ((m < 0) != (ri < 0)) {
				m += ri
			}
			return m, nil
		case opPow:
			if ri >= 0 {
				switch li {
				case 0:
					if ri == 0 {
						return int64(1), nil
					}
					return int64(0), nil
				case 1:
					return int64(1), nil
				case -1:
					if ri%2 == 0 {
						return int64(1), nil
					}
					return int64(-1), nil
				}
				res := int64(1)
				abs := li
				if abs < 0 {
					abs = -abs
				}
				for range ri { // |li| >= 2: overflows within 63 rounds
					if res > math.MaxInt64/abs || res < -math.MaxInt64/abs {
						return nil, errorf("integer overflow")
					}
					res *= li
				}
				return res, nil
			}
			return math.Pow(float64(li), float64(ri)), nil
		}
	}
	lf, _ := toFloat(l)
	rf, _ := toFloat(r)
	switch op {
	case opAdd:
		return lf + rf, nil
	case opSub:
		return lf - rf, nil
	case opMul:
		return lf * rf, nil
	case opDiv:
		if rf == 0 {
			return nil, errorf("float division by zero")
		}
		return lf / rf, nil
	case opFloorDiv:
		if rf == 0 {
			return nil, errorf("float floor division by zero")
		}
		return math.Floor(lf / rf), nil
	case opMod:
		if rf == 0 {
			return nil, errorf("float modulo")
		}
		m := math.Mod(lf, rf)
		if m != 0 && ((m < 0) != (rf < 0)) {
			m += rf
		}
		return m, nil
	case opPow:
		return math.Pow(lf, rf), nil
	}
	return nil, errorf("unsupported operator")
}

// finalize checks a result before it leaves the evaluator: an undefined
// value anywhere in it is an error, as is a function.
func finalize(v any) (any, error) {
	switch x := v.(type) {
	case *undefined:
		return nil, x.err()
	case *callable, *method:
		return nil, errorf("expression evaluated to a function, not a value (missing parentheses?)")
	case []any, map[string]any:
		if u := containsUndef(x); u != nil {
			return nil, u.err()
		}
	}
	return v, nil
}

// Templates (keyed_groups' parent_group).

type template struct {
	parts     []tnode
	usesLoop  bool
	literal   string
	isLiteral bool
}

type tnode interface {
	render(e *env, b *strings.Builder) error
}

func (t *template) render(e *env) (string, error) {
	if t.isLiteral {
		return t.literal, nil
	}
	e.loopVar = t.usesLoop
	var b strings.Builder
	if err := renderAll(e, &b, t.parts); err != nil {
		return "", err
	}
	return b.String(), e.build(int64(b.Len()))
}

func renderAll(e *env, b *strings.Builder, parts []tnode) error {
	for _, p := range parts {
		if err := p.render(e, b); err != nil {
			return err
		}
	}
	return nil
}

// write adds s to a template's output, which is one value: it may not
// grow past the limit per value.
func (e *env) write(b *strings.Builder, s string) error {
	if err := e.room(b, int64(len(s))); err != nil {
		return err
	}
	b.WriteString(s)
	return nil
}

type textNode struct{ s string }

func (t *textNode) render(e *env, b *strings.Builder) error {
	if err := e.write(b, t.s); err != nil {
		return err
	}
	return e.tick(1)
}

type outputNode struct{ expr node }

func (t *outputNode) render(e *env, b *strings.Builder) error {
	v, err := t.expr.eval(e)
	if err != nil {
		return err
	}
	if v, err = finalize(v); err != nil {
		return err
	}
	if v != nil { // Ansible's finalize prints None as ""
		s, err := e.str(v)
		if err != nil {
			return err
		}
		if err := e.write(b, s); err != nil {
			return err
		}
	}
	return e.tick(1)
}

type ifNode struct {
	conds  []node
	bodies [][]tnode
}

func (t *ifNode) render(e *env, b *strings.Builder) error {
	for i, c := range t.conds {
		ok, err := e.truthOf(c)
		if err != nil {
			return err
		}
		if ok {
			return renderAll(e, b, t.bodies[i])
		}
	}
	if len(t.bodies) > len(t.conds) {
		return renderAll(e, b, t.bodies[len(t.conds)])
	}
	return nil
}

type forNode struct {
	key, value  string
	seq, filter node
	body, empty []tnode
}

func (t *forNode) render(e *env, b *strings.Builder) error {
	seq, err := t.seq.eval(e)
	if err != nil {
		return err
	}
	if err := e.tickLen(seq); err != nil {
		return err
	}
	items, err := e.iterate(seq)
	if err != nil {
		return err
	}
	base := len(e.locals)
	defer func() { e.locals = e.locals[:base] }()
	if t.filter != nil {
		var kept []any
		for _, it := range items {
			if err := e.tick(1); err != nil {
				return err
			}
			e.locals = e.bind(base, t.key, t.value, it)
			ok, err := e.truthOf(t.filter)
			if err != nil {
				return err
			}
			if ok {
				kept = append(kept, it)
			}
		}
		items = kept
	}
	if len(items) == 0 {
		e.locals = e.locals[:base]
		return renderAll(e, b, t.empty)
	}
	for i, it := range items {
		if err := e.tick(1); err != nil {
			return err
		}
		e.locals = e.bind(base, t.key, t.value, it)
		if e.loopVar {
			e.locals = append(e.locals, local{name: "loop", val: map[string]any{
				"index": int64(i + 1), "index0": int64(i), "first": i == 0, "last": i == len(items)-1,
				"length": int64(len(items)), "revindex": int64(len(items) - i), "revindex0": int64(len(items) - i - 1),
			}})
		}
		if err := renderAll(e, b, t.body); err != nil {
			return err
		}
	}
	return nil
}

// bind sets the loop variables for one item: "for k in x" or "for k, v in x".
func (e *env) bind(base int, key, value string, it any) []local {
	l := e.locals[:base]
	if value == "" {
		return append(l, local{name: key, val: it})
	}
	pair, ok := it.([]any)
	if !ok || len(pair) != 2 {
		return append(l, local{name: key, val: &undefined{hint: "cannot unpack loop item into two variables"}},
			local{name: value, val: &undefined{hint: "cannot unpack loop item into two variables"}})
	}
	return append(l, local{name: key, val: pair[0]}, local{name: value, val: pair[1]})
}

// iterate lists the items Python's iter() yields: list items, dict keys
// (sorted: Go maps have no insertion order), string characters.
func (e *env) iterate(v any) ([]any, error) {
	if s, ok := v.(string); ok { // a string for each character
		if err := e.tick(len(s) / 4); err != nil {
			return nil, err
		}
		if err := e.spend(16 * int64(len(s))); err != nil {
			return nil, err
		}
	}
	return iterValues(v)
}

// iterValues is iterate without the budget.
func iterValues(v any) ([]any, error) {
	switch x := v.(type) {
	case []any:
		return x, nil
	case map[string]any:
		keys := sortedKeys(x)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = k
		}
		return out, nil
	case string:
		out := make([]any, 0, len(x))
		for _, r := range x {
			out = append(out, string(r))
		}
		return out, nil
	case *undefined:
		return nil, x.err()
	}
	return nil, errorf("'%s' object is not iterable", typeName(v))
}
