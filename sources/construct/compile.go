package construct

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	controlStructures "github.com/nikolalohinski/gonja/v2/builtins/control_structures"
	"github.com/nikolalohinski/gonja/v2/config"
	"github.com/nikolalohinski/gonja/v2/nodes"
	"github.com/nikolalohinski/gonja/v2/parser"
	"github.com/nikolalohinski/gonja/v2/tokens"
)

// Expressions are parsed by gonja (the project's Jinja2 parser) and then
// compiled into this package's own node tree, evaluated by a small
// interpreter with Ansible's semantics: StrictUndefined-style undefined
// values, native result types, a step budget and an output bound. gonja's
// own renderer is not used: it has no undefined type distinct from None,
// no way to bound a loop, and reflects on every value.

// maxSourceLen bounds the length of one expression or template.
const maxSourceLen = 16 << 10

// controlStructureSet lets templates use if and for only: no include,
// import, extends, macro, call, set or any other statement that reaches
// for files or defines code.
type controlStructureSet struct{}

func (controlStructureSet) Get(name string) (parser.ControlStructureParser, bool) {
	switch name {
	case "if", "for":
		return controlStructures.All.Get(name)
	}
	return nil, false
}

// compiler turns gonja nodes into evaluator nodes.
type compiler struct {
	strings map[*tokens.Token]string // Python-unescaped string literals
	noFast  bool                     // tests: disable the variable-path fast path
	// colShift is the length of the "{{ " an expression is wrapped in.
	colShift int
	// usesLoop is set when a template names the "loop" variable.
	usesLoop bool
	full     string // the source as parsed
}

// parseSource lexes and parses src as a Jinja template.
func (c *compiler) parseSource(src string) (_ *nodes.Template, err error) {
	// gonja's lexer and parser panic on some text: on "0.日" (a number, a
	// dot and a character of three bytes or more) the lexer backs up by
	// the width of the character it peeked at, not the dot's, and slices
	// its input out of range. Refuse such text as a syntax error rather
	// than fail an API request with a 500 or a sync with a panic.
	defer func() {
		if r := recover(); r != nil {
			err = errors.New("syntax error: unexpected text")
		}
	}()
	if len(src) > maxSourceLen {
		return nil, fmt.Errorf("longer than %d bytes", maxSourceLen)
	}
	if !utf8.ValidString(src) {
		return nil, errors.New("not valid UTF-8")
	}
	cfg := config.New()
	cfg.TrimBlocks = true // as Ansible's templar
	c.full = src
	stream := tokens.LexAll(src, cfg)
	var toks []*tokens.Token
	c.strings = map[*tokens.Token]string{}
	for {
		t := stream.Current()
		if t == nil {
			break
		}
		if t.Type == tokens.Error {
			return nil, errors.New("syntax error: unterminated string or unexpected character")
		}
		if t.Type == tokens.String {
			s, err := c.stringLiteral(src, t)
			if err != nil {
				return nil, err
			}
			c.strings[t] = s
			t.Val = "" // gonja's own unescaping treats \d as an error; ours is Python's
		}
		toks = append(toks, t)
		if t.Type == tokens.EOF {
			break
		}
		stream.Next()
	}
	p := parser.NewParser("expression", tokens.NewStream(toks), cfg, nil, controlStructureSet{})
	tpl, err := p.Parse()
	if err != nil {
		return nil, syntaxError(err, c.colShift)
	}
	return tpl, nil
}

// stringLiteral finds the raw text of the string token t in src (gonja
// ends a literal at the first quote not preceded by a backslash) and
// unescapes it the way Jinja does, with Python's unicode-escape rules.
func (c *compiler) stringLiteral(src string, t *tokens.Token) (string, error) {
	if t.Pos < 0 || t.Pos >= len(src) {
		return "", errors.New("string literal out of place")
	}
	quote, w := utf8.DecodeRuneInString(src[t.Pos:])
	if quote != '\'' && quote != '"' {
		return "", errors.New("string literal out of place")
	}
	var prev rune
	i := t.Pos + w
	for i < len(src) {
		r, size := utf8.DecodeRuneInString(src[i:])
		if r == quote && prev != '\\' {
			return pyUnescape(src[t.Pos+w : i]), nil
		}
		prev = r
		i += size
	}
	return "", errors.New("unterminated string literal")
}

// pyUnescape applies Python's unicode-escape decoding: known escapes are
// decoded, unknown ones (such as \d in a regular expression) are kept.
func pyUnescape(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		ch := s[i]
		if ch != '\\' || i+1 >= len(s) {
			b.WriteByte(ch)
			continue
		}
		n := s[i+1]
		switch n {
		case '\\', '\'', '"':
			b.WriteByte(n)
			i++
		case '\n':
			i++
		case 'a':
			b.WriteByte(7)
			i++
		case 'b':
			b.WriteByte(8)
			i++
		case 'f':
			b.WriteByte(12)
			i++
		case 'n':
			b.WriteByte('\n')
			i++
		case 'r':
			b.WriteByte('\r')
			i++
		case 't':
			b.WriteByte('\t')
			i++
		case 'v':
			b.WriteByte(11)
			i++
		case 'x', 'u', 'U':
			digits := map[byte]int{'x': 2, 'u': 4, 'U': 8}[n]
			if i+2+digits <= len(s) {
				if v, err := strconv.ParseUint(s[i+2:i+2+digits], 16, 32); err == nil && utf8.ValidRune(rune(v)) {
					b.WriteRune(rune(v))
					i += 1 + digits
					continue
				}
			}
			b.WriteByte(ch)
		case '0', '1', '2', '3', '4', '5', '6', '7':
			j := i + 1
			for j < len(s) && j < i+4 && s[j] >= '0' && s[j] <= '7' {
				j++
			}
			v, _ := strconv.ParseUint(s[i+1:j], 8, 32)
			b.WriteRune(rune(v))
			i = j - 1
		default:
			b.WriteByte(ch)
		}
	}
	return b.String()
}

var (
	reStatement = regexp.MustCompile(`ControlStructure '(\w+)' not found \(or beginning not provided\)`)
	reColumn    = regexp.MustCompile(`\(Line: (\d+) Col: (\d+),`)
)

// syntaxError rewords gonja's parse errors for users: statements that are
// not allowed are named as such, and columns count from the start of the
// user's text (an expression is parsed wrapped in "{{ ").
func syntaxError(err error, colShift int) error {
	msg := err.Error()
	var se *parser.SyntaxError
	if errors.As(err, &se) {
		msg = se.Error()
	}
	if m := reStatement.FindStringSubmatch(msg); m != nil {
		return fmt.Errorf("statement '%s' is not allowed (only if and for)", m[1])
	}
	msg = reColumn.ReplaceAllStringFunc(msg, func(s string) string {
		m := reColumn.FindStringSubmatch(s)
		line, _ := strconv.Atoi(m[1])
		col, _ := strconv.Atoi(m[2])
		if line == 1 {
			col = max(col-colShift, 1)
		}
		return fmt.Sprintf("(line %d, column %d,", line, col)
	})
	return fmt.Errorf("syntax error: %s", shortMessage(msg))
}

func shortMessage(s string) string {
	if i := strings.LastIndex(s, ": "); i >= 0 && strings.HasPrefix(s, "failed to parse") {
		s = s[i+2:]
	}
	if len(s) > 200 {
		s = s[:200] + "..."
	}
	return s
}

// compileExpr compiles a bare Jinja expression, such as a compose value
// or a keyed_groups key (Ansible templates them as "{{ expr }}").
func compileExpr(src string, noFast bool) (node, error) {
	if strings.TrimSpace(src) == "" {
		return nil, errors.New("empty expression")
	}
	c := &compiler{noFast: noFast, colShift: 3}
	tpl, err := c.parseSource("{{ " + src + " }}")
	if err != nil {
		return nil, err
	}
	if len(tpl.Nodes) != 1 {
		return nil, errors.New("syntax error: must be a single expression, without {{ }} or {% %}")
	}
	out, ok := tpl.Nodes[0].(*nodes.Output)
	if !ok {
		return nil, errors.New("syntax error: must be a single expression")
	}
	return c.output(out)
}

// compileTemplate compiles a Jinja template (keyed_groups' parent_group).
func compileTemplate(src string) (*template, error) {
	c := &compiler{}
	if strings.HasSuffix(src, "\n") { // Jinja drops one trailing newline
		src = strings.TrimSuffix(strings.TrimSuffix(src, "\n"), "\r")
	}
	tpl, err := c.parseSource(src)
	if err != nil {
		return nil, err
	}
	parts, err := c.tnodes(tpl.Nodes)
	if err != nil {
		return nil, err
	}
	t := &template{parts: parts, usesLoop: c.usesLoop}
	if len(parts) == 1 {
		if txt, ok := parts[0].(*textNode); ok {
			t.literal, t.isLiteral = txt.s, true
		}
	} else if len(parts) == 0 {
		t.isLiteral = true
	}
	return t, nil
}

func (c *compiler) output(out *nodes.Output) (node, error) {
	expr, err := c.expr(out.Expression)
	if err != nil {
		return nil, err
	}
	if out.Condition == nil {
		return expr, nil
	}
	cond, err := c.expr(out.Condition)
	if err != nil {
		return nil, err
	}
	n := &condNode{then: expr, cond: cond}
	if out.Alternative != nil {
		if n.els, err = c.expr(out.Alternative); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func (c *compiler) tnodes(list []nodes.Node) ([]tnode, error) {
	var out []tnode
	for _, n := range list {
		switch x := n.(type) {
		case nil:
		case *nodes.Comment:
		case *nodes.Data:
			s := x.Data.Val
			if x.RemoveFirstLineReturn {
				s = strings.TrimPrefix(s, "\n")
			}
			if x.Trim.Left {
				s = strings.TrimLeft(s, " \t\r\n")
			}
			if x.Trim.Right {
				s = strings.TrimRight(s, " \t\r\n")
			}
			if s != "" {
				out = append(out, &textNode{s: s})
			}
		case *nodes.Output:
			e, err := c.output(x)
			if err != nil {
				return nil, err
			}
			out = append(out, &outputNode{expr: e})
		case *nodes.ControlStructureBlock:
			t, err := c.block(x)
			if err != nil {
				return nil, err
			}
			out = append(out, t)
		default:
			return nil, fmt.Errorf("unsupported template element %T", n)
		}
	}
	return out, nil
}

func (c *compiler) wrapper(w *nodes.Wrapper) ([]tnode, error) {
	if w == nil {
		return nil, nil
	}
	return c.tnodes(w.Nodes)
}

func (c *compiler) block(b *nodes.ControlStructureBlock) (tnode, error) {
	switch cs := b.ControlStructure.(type) {
	case *controlStructures.IfControlStructure:
		n := &ifNode{}
		for _, cond := range cs.Conditions {
			e, err := c.expr(cond)
			if err != nil {
				return nil, err
			}
			n.conds = append(n.conds, e)
		}
		for _, w := range cs.Wrappers {
			body, err := c.wrapper(w)
			if err != nil {
				return nil, err
			}
			n.bodies = append(n.bodies, body)
		}
		return n, nil
	case *controlStructures.ForControlStructure:
		if cs.Recursive {
			return nil, errors.New("recursive for loops are not supported")
		}
		n := &forNode{key: cs.Key, value: cs.Value}
		var err error
		if n.seq, err = c.expr(cs.ObjectEvaluator); err != nil {
			return nil, err
		}
		if cs.IfCondition != nil {
			if n.filter, err = c.expr(cs.IfCondition); err != nil {
				return nil, err
			}
		}
		if n.body, err = c.wrapper(cs.BodyWrapper); err != nil {
			return nil, err
		}
		if n.empty, err = c.wrapper(cs.EmptyWrapper); err != nil {
			return nil, err
		}
		return n, nil
	}
	return nil, fmt.Errorf("statement %q is not supported", b.Name)
}

// expr compiles one expression node.
func (c *compiler) expr(n nodes.Node) (node, error) {
	switch x := n.(type) {
	case nil:
		return nil, errors.New("syntax error: missing expression")
	case *nodes.None:
		if x.Location != nil && x.Location.Val == "nil" { // gonja's alias; a plain name in Jinja
			return c.path(&nameNode{name: "nil"}), nil
		}
		return &litNode{v: nil}, nil
	case *nodes.Bool:
		return &litNode{v: x.Val}, nil
	case *nodes.Integer:
		return &litNode{v: int64(x.Val)}, nil
	case *nodes.Float:
		return &litNode{v: x.Val}, nil
	case *nodes.String:
		s, ok := c.strings[x.Location]
		if !ok {
			s = x.Val
		}
		return &litNode{v: s}, nil
	case *nodes.Name:
		if x.Name.Val == "none" { // Jinja's lowercase spelling of None
			return &litNode{v: nil}, nil
		}
		if x.Name.Val == "loop" {
			c.usesLoop = true
		}
		return c.path(&nameNode{name: x.Name.Val}), nil
	case *nodes.List:
		return c.list(x.Val)
	case *nodes.Tuple:
		return c.list(x.Val)
	case *nodes.Dict:
		d := &dictNode{}
		for _, p := range x.Pairs {
			k, err := c.expr(p.Key)
			if err != nil {
				return nil, err
			}
			v, err := c.expr(p.Value)
			if err != nil {
				return nil, err
			}
			d.keys = append(d.keys, k)
			d.vals = append(d.vals, v)
		}
		return d, nil
	case *nodes.GetAttribute:
		obj, err := c.expr(x.Node)
		if err != nil {
			return nil, err
		}
		if x.Attribute == "" { // foo.0 is foo[0] in Jinja
			return c.path(&itemNode{obj: obj, key: &litNode{v: int64(x.Index)}}), nil
		}
		return c.path(&attrNode{obj: obj, name: x.Attribute}), nil
	case *nodes.GetItem:
		obj, err := c.expr(x.Node)
		if err != nil {
			return nil, err
		}
		if x.Arg == nil {
			return nil, errors.New("syntax error: empty subscript")
		}
		key, err := c.expr(x.Arg)
		if err != nil {
			return nil, err
		}
		return c.path(&itemNode{obj: obj, key: key}), nil
	case *nodes.GetSlice:
		s := &sliceNode{}
		var err error
		if s.obj, err = c.expr(x.Node); err != nil {
			return nil, err
		}
		for _, part := range []struct {
			src nodes.Node
			dst *node
		}{{x.Start, &s.start}, {x.End, &s.end}, {x.Step, &s.step}} {
			if part.src != nil {
				if *part.dst, err = c.expr(part.src); err != nil {
					return nil, err
				}
			}
		}
		return s, nil
	case *nodes.Call:
		fn, err := c.expr(x.Func)
		if err != nil {
			return nil, err
		}
		args, kw, err := c.args(x.Args, x.Kwargs)
		if err != nil {
			return nil, err
		}
		return &callNode{fn: fn, args: args, kw: kw}, nil
	case *nodes.FilteredExpression:
		if fixed := c.filterAfterIn(x); fixed != nil {
			return c.expr(fixed)
		}
		in, err := c.expr(x.Expression)
		if err != nil {
			return nil, err
		}
		for _, f := range x.Filters {
			if in, err = c.filter(in, f); err != nil {
				return nil, err
			}
		}
		return in, nil
	case *nodes.TestExpression:
		in, err := c.expr(x.Expression)
		if err != nil {
			return nil, err
		}
		return c.test(in, x.Test)
	case *nodes.Negation:
		t, err := c.expr(x.Term)
		if err != nil {
			return nil, err
		}
		return &notNode{x: t}, nil
	case *nodes.UnaryExpression:
		t, err := c.expr(x.Term)
		if err != nil {
			return nil, err
		}
		n := &unaryNode{neg: x.Negative, x: t}
		if lit, ok := t.(*litNode); ok && isNumber(lit.v) { // fold -1, so that x[-1] is a fast path
			v, err := n.eval(nil)
			if err != nil {
				return nil, err
			}
			return &litNode{v: v}, nil
		}
		return n, nil
	case *nodes.BinaryExpression:
		l, err := c.expr(x.Left)
		if err != nil {
			return nil, err
		}
		r, err := c.expr(x.Right)
		if err != nil {
			return nil, err
		}
		switch x.Operator.Token.Type {
		case tokens.And, tokens.Or:
			return &boolOpNode{l: l, r: r, or: x.Operator.Token.Type == tokens.Or}, nil
		}
		op, ok := binOps[x.Operator.Token.Type]
		if !ok {
			return nil, fmt.Errorf("syntax error: unsupported operator %q", x.Operator.Token.Val)
		}
		return &binNode{op: op, l: l, r: r}, nil
	case *nodes.Error:
		return nil, fmt.Errorf("syntax error: %v", x.Error)
	}
	return nil, fmt.Errorf("syntax error: unsupported expression %T", n)
}

func (c *compiler) list(items []nodes.Expression) (node, error) {
	l := &listNode{}
	for _, it := range items {
		e, err := c.expr(it)
		if err != nil {
			return nil, err
		}
		l.items = append(l.items, e)
	}
	return l, nil
}

func (c *compiler) args(args []nodes.Expression, kwargs map[string]nodes.Expression) ([]node, []kwArg, error) {
	var out []node
	for _, a := range args {
		e, err := c.expr(a)
		if err != nil {
			return nil, nil, err
		}
		out = append(out, e)
	}
	var kw []kwArg
	for _, name := range sortedNames(kwargs) {
		e, err := c.expr(kwargs[name])
		if err != nil {
			return nil, nil, err
		}
		kw = append(kw, kwArg{name: name, val: e})
	}
	return out, kw, nil
}

func sortedNames[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

func (c *compiler) filter(in node, f *nodes.FilterCall) (node, error) {
	spec, ok := filters[f.Name]
	if !ok {
		return nil, fmt.Errorf("no filter named '%s'", f.Name)
	}
	args, kw, err := c.args(f.Args, f.Kwargs)
	if err != nil {
		return nil, err
	}
	if err := spec.check(f.Name, len(args), kw); err != nil {
		return nil, err
	}
	n := &filterNode{name: f.Name, spec: spec, in: in, args: args, kw: kw}
	n.prepare()
	return n, nil
}

func (c *compiler) test(in node, t *nodes.TestCall) (node, error) {
	name := t.Name
	spec, ok := jinjaTests[name]
	if !ok {
		return nil, fmt.Errorf("no test named '%s'", name)
	}
	var rawArgs []nodes.Expression
	for _, a := range t.Args {
		// gonja parses "x is test(a, b)" as one tuple argument.
		if tup, ok := a.(*nodes.Tuple); ok {
			rawArgs = append(rawArgs, tup.Val...)
		} else {
			rawArgs = append(rawArgs, a)
		}
	}
	args, kw, err := c.args(rawArgs, t.Kwargs)
	if err != nil {
		return nil, err
	}
	if len(args) < spec.minArgs || (spec.maxArgs >= 0 && len(args) > spec.maxArgs) {
		return nil, fmt.Errorf("test '%s' takes %s", name, spec.arity())
	}
	return &testNode{name: name, spec: spec, in: in, args: args, kw: kw}, nil
}

// path turns chains of names, attributes and literal subscripts into one
// pathNode, evaluated in a tight loop without recursion (the fast path
// for keys such as instance_type, placement.region or tags['Role']).
func (c *compiler) path(n node) node {
	if c.noFast {
		return n
	}
	switch x := n.(type) {
	case *nameNode:
		return &pathNode{root: x.name}
	case *attrNode:
		if p, ok := x.obj.(*pathNode); ok {
			return p.with(pathStep{key: x.name, attr: true})
		}
	case *itemNode:
		p, ok := x.obj.(*pathNode)
		if !ok {
			break
		}
		if lit, ok := x.key.(*litNode); ok {
			switch k := lit.v.(type) {
			case string:
				return p.with(pathStep{key: k})
			case int64:
				return p.with(pathStep{idx: k, isIdx: true})
			}
		}
	}
	return n
}

// filterAfterIn corrects a precedence slip of gonja's parser, which reads
// "a in b | f" as "(a in b) | f" where Jinja reads "a in (b | f)" (filters
// bind tighter than tests). It returns the corrected node, or nil when x
// is not such a case, e.g. when the source really is "(a in b) | f".
func (c *compiler) filterAfterIn(x *nodes.FilteredExpression) nodes.Node {
	var neg *nodes.Negation
	inner := x.Expression
	if n, ok := inner.(*nodes.Negation); ok {
		neg, inner = n, n.Term
	}
	te, ok := inner.(*nodes.TestExpression)
	if !ok || te.Test == nil || te.Test.Name != "in" || len(te.Test.Args) != 1 || len(x.Filters) == 0 || x.Filters[0].Token == nil {
		return nil
	}
	if c.parenthesizedBefore(x.Filters[0].Token.Pos, te.Test.Token.Pos) {
		return nil
	}
	arg := &nodes.FilteredExpression{Expression: te.Test.Args[0], Filters: x.Filters}
	test := *te.Test
	test.Args = []nodes.Expression{arg}
	fixed := &nodes.TestExpression{Expression: te.Expression, Test: &test}
	if neg != nil {
		return &nodes.Negation{Term: fixed, Operator: neg.Operator}
	}
	return fixed
}

// parenthesizedBefore reports whether the pipe before the filter name at
// filterPos follows a ")" whose "(" opens before the "in" at inPos.
func (c *compiler) parenthesizedBefore(filterPos, inPos int) bool {
	src := c.full
	i := filterPos - 1
	for i >= 0 && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i--
	}
	if i < 0 || src[i] != '|' {
		return false
	}
	i--
	for i >= 0 && (src[i] == ' ' || src[i] == '\t' || src[i] == '\n' || src[i] == '\r') {
		i--
	}
	if i < 0 || src[i] != ')' {
		return false
	}
	depth := 0
	for ; i >= 0; i-- {
		switch src[i] {
		case ')':
			depth++
		case '(':
			depth--
			if depth == 0 {
				return i < inPos
			}
		}
	}
	return false
}
