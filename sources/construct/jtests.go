package construct

import (
	"strconv"
	"strings"
)

// Jinja tests ("x is defined", "x is match('^web')", "'a' in tags").

type testFn func(e *env, v any, args []any, kw map[string]any) (bool, error)

type testSpec struct {
	fn               testFn
	minArgs, maxArgs int  // maxArgs < 0: any
	undefOK          bool // may be applied to an undefined value
	kw               []string
}

func (s *testSpec) arity() string {
	switch {
	case s.minArgs == s.maxArgs:
		return strconv.Itoa(s.minArgs) + " argument(s)"
	case s.maxArgs < 0:
		return "at least " + strconv.Itoa(s.minArgs) + " argument(s)"
	}
	return strconv.Itoa(s.minArgs) + " to " + strconv.Itoa(s.maxArgs) + " arguments"
}

type testNode struct {
	name string
	spec *testSpec
	in   node
	args []node
	kw   []kwArg
}

func (n *testNode) eval(e *env) (any, error) {
	if err := e.tick(1); err != nil {
		return nil, err
	}
	v, err := n.in.eval(e)
	if err != nil {
		return nil, err
	}
	if u, ok := v.(*undefined); ok && !n.spec.undefOK {
		return nil, u.err()
	}
	if err := e.tickLen(v); err != nil {
		return nil, err
	}
	args, kw, err := evalArgs(e, n.args, n.kw)
	if err != nil {
		return nil, err
	}
	for _, a := range args {
		if u, ok := a.(*undefined); ok {
			return nil, u.err()
		}
	}
	return n.spec.fn(e, v, args, kw)
}

var jinjaTests map[string]*testSpec

func init() {
	typeTest := func(f func(any) bool) *testSpec {
		return &testSpec{fn: func(_ *env, v any, _ []any, _ map[string]any) (bool, error) { return f(v), nil }, undefOK: true}
	}
	cmpTest := func(ok func(int) bool) *testSpec {
		return &testSpec{minArgs: 1, maxArgs: 1, fn: func(_ *env, v any, args []any, _ map[string]any) (bool, error) {
			c, err := pyCompare(v, args[0])
			if err != nil {
				return false, err
			}
			return ok(c), nil
		}}
	}
	eqTest := &testSpec{minArgs: 1, maxArgs: 1, fn: func(_ *env, v any, args []any, _ map[string]any) (bool, error) {
		return pyEqual(v, args[0])
	}}
	neTest := &testSpec{minArgs: 1, maxArgs: 1, fn: func(_ *env, v any, args []any, _ map[string]any) (bool, error) {
		eq, err := pyEqual(v, args[0])
		return !eq, err
	}}
	jinjaTests = map[string]*testSpec{
		"defined":   typeTest(func(v any) bool { return !isUndef(v) }),
		"undefined": typeTest(isUndef),
		"none":      typeTest(func(v any) bool { return v == nil }),
		"string":    typeTest(func(v any) bool { _, ok := v.(string); return ok }),
		"number":    typeTest(func(v any) bool { return isNumber(v) || isBool(v) }),
		"integer":   typeTest(isIntType),
		"float":     typeTest(isFloatType),
		"boolean":   typeTest(isBool),
		"true":      typeTest(func(v any) bool { return v == true }),
		"false":     typeTest(func(v any) bool { return v == false }),
		"mapping":   typeTest(func(v any) bool { _, ok := v.(map[string]any); return ok }),
		"sequence": typeTest(func(v any) bool {
			switch v.(type) {
			case []any, map[string]any, string:
				return true
			}
			return false
		}),
		"iterable": typeTest(func(v any) bool {
			switch v.(type) {
			case []any, map[string]any, string:
				return true
			}
			return false
		}),
		"callable": typeTest(func(v any) bool {
			switch v.(type) {
			case *callable, *method:
				return true
			}
			return false
		}),
		"eq": eqTest, "equalto": eqTest, "==": eqTest,
		"ne": neTest, "!=": neTest,
		"lt": cmpTest(func(c int) bool { return c < 0 }), "lessthan": cmpTest(func(c int) bool { return c < 0 }),
		"<":  cmpTest(func(c int) bool { return c < 0 }),
		"le": cmpTest(func(c int) bool { return c <= 0 }), "<=": cmpTest(func(c int) bool { return c <= 0 }),
		"gt": cmpTest(func(c int) bool { return c > 0 }), "greaterthan": cmpTest(func(c int) bool { return c > 0 }),
		">":  cmpTest(func(c int) bool { return c > 0 }),
		"ge": cmpTest(func(c int) bool { return c >= 0 }), ">=": cmpTest(func(c int) bool { return c >= 0 }),
		"in": {minArgs: 1, maxArgs: 1, fn: func(_ *env, v any, args []any, _ map[string]any) (bool, error) {
			return contains(args[0], v)
		}},
		"contains": {minArgs: 1, maxArgs: 1, fn: func(_ *env, v any, args []any, _ map[string]any) (bool, error) {
			return contains(v, args[0])
		}},
		"sameas": {minArgs: 1, maxArgs: 1, fn: func(_ *env, v any, args []any, _ map[string]any) (bool, error) {
			switch v.(type) {
			case nil, bool:
				return v == args[0], nil
			}
			return false, nil
		}},
		"odd":         {fn: intTest(func(n int64) bool { return n%2 != 0 })},
		"even":        {fn: intTest(func(n int64) bool { return n%2 == 0 })},
		"divisibleby": {minArgs: 1, maxArgs: 1, fn: testDivisibleBy},
		"lower": {fn: func(e *env, v any, _ []any, _ map[string]any) (bool, error) {
			s, err := e.str(v)
			return err == nil && strings.ToLower(s) == s, err
		}},
		"upper": {fn: func(e *env, v any, _ []any, _ map[string]any) (bool, error) {
			s, err := e.str(v)
			return err == nil && strings.ToUpper(s) == s, err
		}},
		"match":  {minArgs: 1, maxArgs: 3, fn: regexTest("match")},
		"search": {minArgs: 1, maxArgs: 3, fn: regexTest("search")},
		"regex":  {minArgs: 1, maxArgs: 4, fn: regexTest("")},
		"truthy": {fn: func(_ *env, v any, _ []any, _ map[string]any) (bool, error) { return truth(v) }},
		"falsy": {fn: func(_ *env, v any, _ []any, _ map[string]any) (bool, error) {
			t, err := truth(v)
			return !t, err
		}},
		"subset": {minArgs: 1, maxArgs: 1, fn: func(e *env, v any, args []any, _ map[string]any) (bool, error) {
			return e.subset(v, args[0])
		}},
		"superset": {minArgs: 1, maxArgs: 1, fn: func(e *env, v any, args []any, _ map[string]any) (bool, error) {
			return e.subset(args[0], v)
		}},
		"any": {fn: func(e *env, v any, _ []any, _ map[string]any) (bool, error) { return e.anyAll(v, true) }},
		"all": {fn: func(e *env, v any, _ []any, _ map[string]any) (bool, error) { return e.anyAll(v, false) }},
	}
}

func intTest(f func(int64) bool) testFn {
	return func(_ *env, v any, _ []any, _ map[string]any) (bool, error) {
		n, ok := toInt(v)
		if !ok {
			return false, errorf("not all arguments converted during string formatting")
		}
		return f(n), nil
	}
}

func testDivisibleBy(_ *env, v any, args []any, _ map[string]any) (bool, error) {
	n, ok1 := toInt(v)
	d, ok2 := toInt(args[0])
	if !ok1 || !ok2 {
		return false, errorf("divisibleby needs integers")
	}
	if d == 0 {
		return false, errorf("integer division or modulo by zero")
	}
	return n%d == 0, nil
}

// contains is Python's "item in container".
func contains(container, item any) (bool, error) {
	switch c := container.(type) {
	case string:
		s, ok := item.(string)
		if !ok {
			return false, errorf("'in <string>' requires string as left operand, not %s", typeName(item))
		}
		return strings.Contains(c, s), nil
	case []any:
		for _, it := range c {
			eq, err := pyEqual(it, item)
			if err != nil {
				return false, err
			}
			if eq {
				return true, nil
			}
		}
		return false, nil
	case map[string]any:
		if u, ok := item.(*undefined); ok {
			return false, u.err()
		}
		k, ok := item.(string)
		if !ok {
			return false, nil
		}
		_, found := c[k]
		return found, nil
	case *undefined:
		return false, c.err()
	}
	return false, errorf("argument of type '%s' is not iterable", typeName(container))
}

// regexTest is Ansible's match/search/regex tests: the value as a string,
// with ignorecase and multiline flags.
func regexTest(matchType string) testFn {
	return func(e *env, v any, args []any, kw map[string]any) (bool, error) {
		pattern := pyStr(args[0])
		get := func(i int, name string) any {
			if i < len(args) {
				return args[i]
			}
			return kw[name]
		}
		ic, err := truth(get(1, "ignorecase"))
		if err != nil {
			return false, err
		}
		ml, err := truth(get(2, "multiline"))
		if err != nil {
			return false, err
		}
		mt := matchType
		if mt == "" {
			mt = "search"
			if t := get(3, "match_type"); t != nil {
				mt = pyStr(t)
			}
		}
		s, err := e.str(v)
		if err != nil {
			return false, err
		}
		if err := e.regexWork(pattern, s); err != nil {
			return false, err
		}
		switch mt {
		case "search":
			re, err := e.cache.regexp(pattern, ic, ml)
			if err != nil {
				return false, err
			}
			return re.MatchString(s), nil
		case "match":
			re, err := e.cache.regexp(pattern, ic, ml)
			if err != nil {
				return false, err
			}
			loc := re.FindStringIndex(s)
			return loc != nil && loc[0] == 0, nil
		case "fullmatch":
			re, err := e.cache.regexp(`\A(?:`+pattern+`)\z`, ic, ml)
			if err != nil {
				return false, err
			}
			return re.MatchString(s), nil
		}
		return false, errorf("invalid match_type '%s'", mt)
	}
}

func (e *env) subset(a, b any) (bool, error) {
	x, err := e.iterate(a)
	if err != nil {
		return false, err
	}
	y, err := e.iterate(b)
	if err != nil {
		return false, err
	}
	if err := e.tick(min(len(x), maxSteps+1) * min(len(y), maxSteps+1) / 16); err != nil {
		return false, err
	}
	for _, v := range x {
		if !containsEqual(y, v) {
			return false, nil
		}
	}
	return true, nil
}

func (e *env) anyAll(v any, isAny bool) (bool, error) {
	items, err := e.iterate(v)
	if err != nil {
		return false, err
	}
	for _, it := range items {
		t, err := truth(it)
		if err != nil {
			return false, err
		}
		if t == isAny {
			return isAny, nil
		}
	}
	return !isAny, nil
}
