package construct

import "errors"

// Constant parts of expressions, checked when a source is saved: a part
// that reads no variable, such as 'a' * 1000000, has the same value for
// every host, so a part that goes over a limit would fail every sync. It
// is evaluated once, under the source's limits, when the options are
// parsed, and refused then.

// children returns the sub-expressions of n.
func children(n node) []node {
	var out []node
	add := func(ns ...node) {
		for _, c := range ns {
			if c != nil {
				out = append(out, c)
			}
		}
	}
	addKw := func(kw []kwArg) {
		for _, k := range kw {
			add(k.val)
		}
	}
	switch x := n.(type) {
	case *attrNode:
		add(x.obj)
	case *itemNode:
		add(x.obj, x.key)
	case *sliceNode:
		add(x.obj, x.start, x.end, x.step)
	case *listNode:
		add(x.items...)
	case *dictNode:
		add(x.keys...)
		add(x.vals...)
	case *callNode:
		add(x.fn)
		add(x.args...)
		addKw(x.kw)
	case *condNode:
		add(x.then, x.cond, x.els)
	case *notNode:
		add(x.x)
	case *boolOpNode:
		add(x.l, x.r)
	case *unaryNode:
		add(x.x)
	case *binNode:
		add(x.l, x.r)
	case *filterNode:
		add(x.in)
		add(x.args...)
		addKw(x.kw)
	case *testNode:
		add(x.in)
		add(x.args...)
		addKw(x.kw)
	}
	return out
}

// isConstant reports whether n reads no variable. The global functions
// (range, dict) count as constants.
func isConstant(n node) bool {
	switch x := n.(type) {
	case *nameNode:
		_, global := globals[x.name]
		return global
	case *pathNode:
		_, global := globals[x.root]
		return global && len(x.steps) == 0
	}
	for _, c := range children(n) {
		if !isConstant(c) {
			return false
		}
	}
	return true
}

// checkConstants evaluates the largest constant parts of n under the
// limits and returns the first *LimitError met. Other errors are left to
// evaluation time, when they are reported as they always were (a part
// may never be reached).
func (c *Constructor) checkConstants(n node) error {
	if _, lit := n.(*litNode); lit {
		return nil
	}
	if isConstant(n) {
		_, err := c.eval(c.newEnv(nil), n)
		if le, ok := errors.AsType[*LimitError](err); ok && le.Kind != LimitTime {
			return err
		}
		return nil
	}
	for _, ch := range children(n) {
		if err := c.checkConstants(ch); err != nil {
			return err
		}
	}
	return nil
}

// checkTemplateConstants checks the expressions of a template.
func (c *Constructor) checkTemplateConstants(t *template) error {
	var walk func(parts []tnode) error
	walk = func(parts []tnode) error {
		for _, p := range parts {
			var exprs []node
			var bodies [][]tnode
			switch x := p.(type) {
			case *outputNode:
				exprs = []node{x.expr}
			case *ifNode:
				exprs, bodies = x.conds, x.bodies
			case *forNode:
				exprs, bodies = []node{x.seq, x.filter}, [][]tnode{x.body, x.empty}
			}
			for _, n := range exprs {
				if n == nil {
					continue
				}
				if err := c.checkConstants(n); err != nil {
					return err
				}
			}
			for _, b := range bodies {
				if err := walk(b); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return walk(t.parts)
}
