package construct

import (
	"encoding/base64"
	"fmt"
	"math"
	"path"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// fargs are a filter's evaluated arguments, bound to its parameter names.
type fargs struct {
	e    *env
	spec *filterSpec
	args []any
	kw   map[string]any
}

// get returns the argument for parameter i (positional or by name).
func (a *fargs) get(i int) (any, bool) {
	if i < len(a.args) {
		return a.args[i], true
	}
	if a.kw != nil && i < len(a.spec.params) {
		v, ok := a.kw[a.spec.params[i]]
		return v, ok
	}
	return nil, false
}

func (a *fargs) or(i int, def any) any {
	if v, ok := a.get(i); ok {
		return v
	}
	return def
}

func (a *fargs) str(i int, def string) (string, error) {
	v, ok := a.get(i)
	if !ok {
		return def, nil
	}
	if u, ok := v.(*undefined); ok {
		return "", u.err()
	}
	return a.e.str(v)
}

func (a *fargs) boolean(i int, def bool) (bool, error) {
	v, ok := a.get(i)
	if !ok {
		return def, nil
	}
	return truth(v)
}

func (a *fargs) integer(i int, def int64) (int64, error) {
	v, ok := a.get(i)
	if !ok || v == nil {
		return def, nil
	}
	n, ok := toInt(v)
	if !ok {
		return 0, errorf("argument '%s' must be an integer, got %s", a.spec.param(i), typeName(v))
	}
	return n, nil
}

type filterFn func(e *env, in any, a *fargs) (any, error)

type filterSpec struct {
	fn       filterFn
	params   []string
	variadic bool // extra positional arguments allowed
	anyKw    bool // any keyword argument allowed
	undefOK  bool // called with an undefined input (default, mandatory)
}

func (s *filterSpec) param(i int) string {
	if i < len(s.params) {
		return s.params[i]
	}
	return strconv.Itoa(i)
}

// check validates the arguments of a filter call at compile time.
func (s *filterSpec) check(name string, nargs int, kw []kwArg) error {
	if !s.variadic && nargs > len(s.params) {
		return fmt.Errorf("filter '%s' takes at most %d arguments, got %d", name, len(s.params), nargs)
	}
	for _, k := range kw {
		if s.anyKw {
			continue
		}
		i := slices.Index(s.params, k.name)
		if i < 0 {
			return fmt.Errorf("filter '%s' got an unexpected keyword argument '%s'", name, k.name)
		}
		if i < nargs {
			return fmt.Errorf("filter '%s' got multiple values for argument '%s'", name, k.name)
		}
	}
	return nil
}

type filterNode struct {
	name string
	spec *filterSpec
	in   node
	args []node
	kw   []kwArg
	// constant arguments, evaluated once when every argument is a literal
	constArgs []any
	constKw   map[string]any
	isConst   bool
}

func (n *filterNode) prepare() {
	var args []any
	for _, a := range n.args {
		l, ok := a.(*litNode)
		if !ok {
			return
		}
		args = append(args, l.v)
	}
	var kw map[string]any
	for _, k := range n.kw {
		l, ok := k.val.(*litNode)
		if !ok {
			return
		}
		if kw == nil {
			kw = map[string]any{}
		}
		kw[k.name] = l.v
	}
	n.constArgs, n.constKw, n.isConst = args, kw, true
}

func (n *filterNode) eval(e *env) (any, error) {
	if err := e.tick(1); err != nil {
		return nil, err
	}
	in, err := n.in.eval(e)
	if err != nil {
		return nil, err
	}
	if u, ok := in.(*undefined); ok && !n.spec.undefOK {
		return nil, u.err()
	}
	a := fargs{e: e, spec: n.spec}
	if n.isConst {
		a.args, a.kw = n.constArgs, n.constKw
	} else if a.args, a.kw, err = evalArgs(e, n.args, n.kw); err != nil {
		return nil, err
	}
	if !n.spec.undefOK {
		for _, v := range a.args {
			if u, ok := v.(*undefined); ok {
				return nil, u.err()
			}
		}
		for _, v := range a.kw {
			if u, ok := v.(*undefined); ok {
				return nil, u.err()
			}
		}
	}
	if err := e.tickLen(in); err != nil {
		return nil, err
	}
	out, err := n.spec.fn(e, in, &a)
	if err != nil {
		switch err.(type) {
		case *evalError, *LimitError:
			return nil, err
		}
		return nil, errorf("filter '%s': %v", n.name, err)
	}
	return out, nil
}

var filters map[string]*filterSpec

func init() {
	filters = map[string]*filterSpec{
		// Jinja2 builtins
		"default":    {fn: fDefault, params: []string{"default_value", "boolean"}, undefOK: true},
		"lower":      {fn: fStrFunc(strings.ToLower)},
		"upper":      {fn: fStrFunc(strings.ToUpper)},
		"capitalize": {fn: fStrFunc(pyCapitalize)},
		"title":      {fn: fStrFunc(jinjaTitle)},
		"trim":       {fn: fTrim, params: []string{"chars"}},
		"replace":    {fn: fReplace, params: []string{"old", "new", "count"}},
		"string":     {fn: func(e *env, in any, _ *fargs) (any, error) { return e.str(in) }},
		"list":       {fn: fList},
		"int":        {fn: fInt, params: []string{"default", "base"}},
		"float":      {fn: fFloat, params: []string{"default"}},
		"abs":        {fn: fAbs},
		"round":      {fn: fRound, params: []string{"precision", "method"}},
		"first":      {fn: fFirst},
		"last":       {fn: fLast},
		"length":     {fn: fLength},
		"join":       {fn: fJoin, params: []string{"d", "attribute"}},
		"map":        {fn: fMap, variadic: true, anyKw: true},
		"select":     {fn: fSelect(false, false), variadic: true},
		"reject":     {fn: fSelect(true, false), variadic: true},
		"selectattr": {fn: fSelect(false, true), variadic: true},
		"rejectattr": {fn: fSelect(true, true), variadic: true},
		"unique":     {fn: fUnique, params: []string{"case_sensitive", "attribute"}},
		"sort":       {fn: fSort, params: []string{"reverse", "case_sensitive", "attribute"}},
		"min":        {fn: fMinMax(-1), params: []string{"case_sensitive", "attribute"}},
		"max":        {fn: fMinMax(1), params: []string{"case_sensitive", "attribute"}},
		"sum":        {fn: fSum, params: []string{"attribute", "start"}},
		"reverse":    {fn: fReverse},
		"items":      {fn: fItems, undefOK: true},
		"attr":       {fn: fAttr, params: []string{"name"}},
		"format":     {fn: fFormat, variadic: true, anyKw: true},
		"safe":       {fn: func(_ *env, in any, _ *fargs) (any, error) { return in, nil }},
		"batch":      {fn: fBatch, params: []string{"linecount", "fill_with"}},
		// Ansible
		"bool":                 {fn: fBool},
		"ternary":              {fn: fTernary, params: []string{"true_val", "false_val", "none_val"}},
		"mandatory":            {fn: fMandatory, params: []string{"msg"}, undefOK: true},
		"regex_replace":        {fn: fRegexReplace, params: []string{"pattern", "replacement", "ignorecase", "multiline", "count", "mandatory_count"}},
		"regex_search":         {fn: fRegexSearch, params: []string{"regex"}, variadic: true, anyKw: true},
		"regex_findall":        {fn: fRegexFindall, params: []string{"regex", "multiline", "ignorecase"}},
		"regex_escape":         {fn: fRegexEscape, params: []string{"re_type"}},
		"split":                {fn: fSplit, params: []string{"sep", "maxsplit"}},
		"dict2items":           {fn: fDict2Items, params: []string{"key_name", "value_name"}},
		"items2dict":           {fn: fItems2Dict, params: []string{"key_name", "value_name"}},
		"combine":              {fn: fCombine, variadic: true, params: nil, anyKw: true},
		"flatten":              {fn: fFlatten, params: []string{"levels", "skip_nulls"}},
		"zip":                  {fn: fZip, variadic: true},
		"zip_longest":          {fn: fZipLongest, variadic: true, anyKw: true},
		"difference":           {fn: fSetOp("difference"), params: []string{"b"}},
		"intersect":            {fn: fSetOp("intersect"), params: []string{"b"}},
		"union":                {fn: fSetOp("union"), params: []string{"b"}},
		"symmetric_difference": {fn: fSetOp("symmetric_difference"), params: []string{"b"}},
		"json_query":           {fn: fJSONQuery, params: []string{"expr"}},
		"to_json":              {fn: fToJSON, anyKw: true},
		"to_nice_json":         {fn: fToNiceJSON, params: []string{"indent", "sort_keys"}, anyKw: true},
		"from_json":            {fn: fFromJSON, anyKw: true},
		"b64encode":            {fn: fB64Encode, params: []string{"encoding"}},
		"b64decode":            {fn: fB64Decode, params: []string{"encoding"}},
		"basename":             {fn: fStrFunc(path.Base)},
		"dirname":              {fn: fStrFunc(pyDirname)},
		"extract":              {fn: fExtract, params: []string{"container", "morekeys"}},
		"type_debug":           {fn: func(_ *env, in any, _ *fargs) (any, error) { return typeName(in), nil }},
	}
	filters["d"] = filters["default"]
	filters["count"] = filters["length"]
	filters["basename"].fn = fStrFunc(pyBasename)
}

func fDefault(_ *env, in any, a *fargs) (any, error) {
	def := a.or(0, "")
	useBool, err := a.boolean(1, false)
	if err != nil {
		return nil, err
	}
	if isUndef(in) {
		return def, nil
	}
	if useBool {
		t, err := truth(in)
		if err != nil {
			return nil, err
		}
		if !t {
			return def, nil
		}
	}
	return in, nil
}

// fStrFunc is a filter mapping the text of its input to a string about as
// long (case changes, path parts).
func fStrFunc(f func(string) string) filterFn {
	return func(e *env, in any, _ *fargs) (any, error) {
		s, err := e.str(in)
		if err != nil {
			return nil, err
		}
		if err := e.build(int64(len(s))); err != nil {
			return nil, err
		}
		return f(s), nil
	}
}

func pyCapitalize(s string) string {
	if s == "" {
		return s
	}
	r, size := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + strings.ToLower(s[size:])
}

// jinjaTitle is Jinja's title filter: words start after whitespace, "-",
// and opening brackets.
func jinjaTitle(s string) string {
	var b strings.Builder
	start := true
	for _, r := range s {
		switch {
		case unicode.IsSpace(r) || strings.ContainsRune("-([{<", r):
			b.WriteRune(r)
			start = true
		case start:
			b.WriteRune(unicode.ToUpper(r))
			start = false
		default:
			b.WriteRune(unicode.ToLower(r))
		}
	}
	return b.String()
}

func pyBasename(p string) string {
	if i := strings.LastIndexByte(p, '/'); i >= 0 {
		return p[i+1:]
	}
	return p
}

func pyDirname(p string) string {
	i := strings.LastIndexByte(p, '/')
	if i < 0 {
		return ""
	}
	head := p[:i+1]
	if strings.Trim(head, "/") != "" {
		head = strings.TrimRight(head, "/")
	}
	return head
}

func fTrim(e *env, in any, a *fargs) (any, error) {
	s, err := e.str(in) // trimming takes a part of s: nothing more is built
	if err != nil {
		return nil, err
	}
	v, ok := a.get(0)
	if !ok || v == nil {
		return strings.TrimFunc(s, unicode.IsSpace), nil
	}
	return strings.Trim(s, pyStr(v)), nil
}

func fReplace(e *env, in any, a *fargs) (any, error) {
	old, err := a.str(0, "")
	if err != nil {
		return nil, err
	}
	repl, err := a.str(1, "")
	if err != nil {
		return nil, err
	}
	count, err := a.integer(2, -1)
	if err != nil {
		return nil, err
	}
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	return e.replace(s, old, repl, count)
}

// replace is Python's str.replace, its result measured from the number of
// occurrences before it is built.
func (e *env) replace(s, old, repl string, count int64) (string, error) {
	n := int64(strings.Count(s, old))
	if count >= 0 && count < n {
		n = count
	}
	if n == 0 {
		return s, nil
	}
	// n ≤ len(s)+1 and len(repl) are below 2^31: the product cannot overflow.
	if err := e.build(int64(len(s)) + n*(int64(len(repl))-int64(len(old)))); err != nil {
		return "", err
	}
	return strings.Replace(s, old, repl, int(n)), nil
}

func fList(e *env, in any, _ *fargs) (any, error) {
	if s, ok := in.(string); ok { // one item per character: ['a', ...]
		if err := e.buildTimes(5, int64(utf8.RuneCountInString(s))); err != nil {
			return nil, err
		}
		return e.iterate(s)
	}
	items, err := e.iterate(in)
	if err != nil {
		return nil, err
	}
	if l, ok := in.([]any); ok {
		items = slices.Clone(l)
	}
	return e.charge(items)
}

// fInt is Jinja's int filter: int(value), else int(float(value)), else
// the default.
func fInt(_ *env, in any, a *fargs) (any, error) {
	def := a.or(0, int64(0))
	base, err := a.integer(1, 10)
	if err != nil {
		return nil, err
	}
	switch x := in.(type) {
	case string:
		if n, ok := pyParseInt(x, base); ok {
			return n, nil
		}
		if f, ok := pyParseFloat(x); ok && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return int64(f), nil
		}
		return def, nil
	case float64:
		if math.IsInf(x, 0) || math.IsNaN(x) {
			return def, nil
		}
		return int64(x), nil
	}
	if n, ok := toInt(in); ok {
		return n, nil
	}
	if f, ok := toFloat(in); ok {
		return int64(f), nil
	}
	return def, nil
}

// pyParseInt is Python's int(str, base).
func pyParseInt(s string, base int64) (int64, bool) {
	s = strings.TrimSpace(s)
	neg := false
	if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
		neg = s[0] == '-'
		s = s[1:]
	}
	if base == 16 || base == 8 || base == 2 {
		prefix := map[int64]string{16: "0x", 8: "0o", 2: "0b"}[base]
		if len(s) > 2 && strings.EqualFold(s[:2], prefix) {
			s = s[2:]
		}
	}
	if s == "" || strings.HasPrefix(s, "_") || strings.HasSuffix(s, "_") || strings.Contains(s, "__") {
		return 0, false
	}
	n, err := strconv.ParseInt(strings.ReplaceAll(s, "_", ""), int(base), 64)
	if err != nil {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

// pyParseFloat is Python's float(str).
func pyParseFloat(s string) (float64, bool) {
	s = strings.TrimSpace(s)
	switch strings.ToLower(strings.TrimLeft(s, "+-")) {
	case "inf", "infinity", "nan":
	default:
		if s == "" || strings.ContainsAny(s, "xXpP") || strings.HasPrefix(strings.TrimLeft(s, "+-"), "_") {
			return 0, false
		}
	}
	f, err := strconv.ParseFloat(strings.ReplaceAll(s, "_", ""), 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

func fFloat(_ *env, in any, a *fargs) (any, error) {
	def := a.or(0, 0.0)
	if s, ok := in.(string); ok {
		if f, ok := pyParseFloat(s); ok {
			return f, nil
		}
		return def, nil
	}
	if f, ok := toFloat(in); ok {
		return f, nil
	}
	return def, nil
}

func fAbs(_ *env, in any, _ *fargs) (any, error) {
	if i, ok := toInt(in); ok {
		if i < 0 {
			return -i, nil
		}
		return i, nil
	}
	if f, ok := toFloat(in); ok {
		return math.Abs(f), nil
	}
	return nil, errorf("bad operand type for abs(): '%s'", typeName(in))
}

func fRound(_ *env, in any, a *fargs) (any, error) {
	prec, err := a.integer(0, 0)
	if err != nil {
		return nil, err
	}
	m, err := a.str(1, "common")
	if err != nil {
		return nil, err
	}
	f, ok := toFloat(in)
	if !ok {
		return nil, errorf("type %s doesn't define __round__ method", typeName(in))
	}
	p := math.Pow(10, float64(prec))
	switch m {
	case "common":
		if isIntType(in) && prec >= 0 {
			return in, nil
		}
		return math.RoundToEven(f*p) / p, nil
	case "ceil":
		return math.Ceil(f*p) / p, nil
	case "floor":
		return math.Floor(f*p) / p, nil
	}
	return nil, errorf("method must be common, ceil or floor")
}

func fFirst(e *env, in any, _ *fargs) (any, error) { return endItem(e, in, 0, "first") }

func fLast(e *env, in any, _ *fargs) (any, error) { return endItem(e, in, -1, "last") }

// endItem is first (at 0) and last (at -1): a string's character or a
// sequence's item at that end.
func endItem(e *env, in any, at int64, name string) (any, error) {
	if s, ok := in.(string); ok {
		if r, ok := runeAt(s, at); ok {
			return r, nil
		}
	}
	items, err := e.iterate(in)
	if err != nil {
		return nil, err
	}
	if len(items) == 0 {
		return &undefined{hint: "No " + name + " item, sequence was empty."}, nil
	}
	if at < 0 {
		at += int64(len(items))
	}
	return items[at], nil
}

func fLength(_ *env, in any, _ *fargs) (any, error) {
	switch x := in.(type) {
	case string:
		return int64(utf8.RuneCountInString(x)), nil
	case []any:
		return int64(len(x)), nil
	case map[string]any:
		return int64(len(x)), nil
	}
	return nil, errorf("object of type '%s' has no len()", typeName(in))
}

func fJoin(e *env, in any, a *fargs) (any, error) {
	sep, err := a.str(0, "")
	if err != nil {
		return nil, err
	}
	items, err := e.iterate(in)
	if err != nil {
		return nil, err
	}
	if attr, ok := a.get(1); ok && attr != nil {
		if items, err = mapAttr(items, pyStr(attr), nil, false); err != nil {
			return nil, err
		}
	}
	parts := make([]string, len(items))
	for i, it := range items {
		if u, ok := it.(*undefined); ok {
			return nil, u.err()
		}
		if parts[i], err = e.str(it); err != nil {
			return nil, err
		}
	}
	return e.join(parts, sep)
}

// join is strings.Join, its result measured before it is built.
func (e *env) join(parts []string, sep string) (string, error) {
	m := meter{e: e}
	for i, p := range parts {
		if i > 0 {
			if err := m.add(int64(len(sep))); err != nil {
				return "", err
			}
		}
		if err := m.add(int64(len(p))); err != nil {
			return "", err
		}
	}
	if err := m.done(); err != nil {
		return "", err
	}
	return strings.Join(parts, sep), nil
}

// attrPath is Jinja's make_attrgetter: "a.b.0" walks getitem, with
// integer parts as indexes.
func attrPath(item any, attr string) any {
	for part := range strings.SplitSeq(attr, ".") {
		var key any = part
		if n, err := strconv.ParseInt(part, 10, 64); err == nil {
			key = n
		}
		v, err := getItem(item, key)
		if err != nil {
			return &undefined{hint: err.Error()}
		}
		item = v
	}
	return item
}

func mapAttr(items []any, attr string, def any, hasDef bool) ([]any, error) {
	out := make([]any, len(items))
	for i, it := range items {
		v := attrPath(it, attr)
		if hasDef && isUndef(v) {
			v = def
		}
		out[i] = v
	}
	return out, nil
}

// fMap is Jinja's map: map(attribute='x', default=...) or
// map('filter', args...).
func fMap(e *env, in any, a *fargs) (any, error) {
	items, err := e.iterate(in)
	if err != nil {
		return nil, err
	}
	if err := e.tick(len(items)); err != nil {
		return nil, err
	}
	if attr, ok := a.kw["attribute"]; ok {
		def, hasDef := a.kw["default"]
		out, err := mapAttr(items, pyStr(attr), def, hasDef)
		if err != nil {
			return nil, err
		}
		return e.charge(out)
	}
	if len(a.args) == 0 {
		return nil, errorf("map requires a filter argument")
	}
	name, ok := a.args[0].(string)
	if !ok {
		return nil, errorf("map requires a filter name")
	}
	spec, ok := filters[name]
	if !ok {
		return nil, errorf("no filter named '%s'", name)
	}
	sub := fargs{e: e, spec: spec, args: a.args[1:], kw: a.kw}
	out := make([]any, len(items))
	m := meter{e: e, n: 2}
	for i, it := range items {
		if u, ok := it.(*undefined); ok && !spec.undefOK {
			return nil, u.err()
		}
		if err := e.tickLen(it); err != nil {
			return nil, err
		}
		if out[i], err = spec.fn(e, it, &sub); err != nil {
			return nil, err
		}
		if err := m.addValue(out[i]); err != nil {
			return nil, err
		}
	}
	return out, m.done()
}

// fSelect implements select, reject, selectattr and rejectattr.
func fSelect(reject, byAttr bool) filterFn {
	return func(e *env, in any, a *fargs) (any, error) {
		items, err := e.iterate(in)
		if err != nil {
			return nil, err
		}
		if err := e.tick(len(items)); err != nil {
			return nil, err
		}
		args := a.args
		attr := ""
		if byAttr {
			if len(args) == 0 {
				return nil, errorf("missing parameter for attribute name")
			}
			attr = pyStr(args[0])
			args = args[1:]
		}
		var test *testSpec
		var testArgs []any
		if len(args) > 0 {
			name := pyStr(args[0])
			t, ok := jinjaTests[name]
			if !ok {
				return nil, errorf("no test named '%s'", name)
			}
			test, testArgs = t, args[1:]
		}
		out := []any{}
		for _, it := range items {
			v := it
			if byAttr {
				v = attrPath(it, attr)
			}
			var ok bool
			if test == nil {
				ok, err = truth(v)
			} else {
				if u, isU := v.(*undefined); isU && !test.undefOK {
					return nil, u.err()
				}
				ok, err = test.fn(e, v, testArgs, nil)
			}
			if err != nil {
				return nil, err
			}
			if ok != reject {
				out = append(out, it)
			}
		}
		return e.charge(out)
	}
}

// keyedItems reads the case_sensitive and attribute arguments (at
// csArg and attrArg) that unique, sort, min and max share, and returns
// in's items with the key they compare by: the attribute's value, its
// strings lower-cased unless case_sensitive.
func keyedItems(e *env, in any, a *fargs, csArg, attrArg int) (items []any, key func(any) any, err error) {
	cs, err := a.boolean(csArg, false)
	if err != nil {
		return nil, nil, err
	}
	if items, err = e.iterate(in); err != nil {
		return nil, nil, err
	}
	attr, _ := a.get(attrArg)
	key = func(v any) any {
		if attr != nil {
			v = attrPath(v, pyStr(attr))
		}
		return caseKey(v, cs)
	}
	return items, key, nil
}

func caseKey(v any, caseSensitive bool) any {
	if s, ok := v.(string); ok && !caseSensitive {
		return strings.ToLower(s)
	}
	return v
}

// fUnique keeps the first of equal items; strings compare without case
// unless case_sensitive is true (Ansible delegates to Jinja's unique).
func fUnique(e *env, in any, a *fargs) (any, error) {
	items, key, err := keyedItems(e, in, a, 0, 1)
	if err != nil {
		return nil, err
	}
	if err := e.tick(len(items) * len(items) / 64); err != nil {
		return nil, err
	}
	out := []any{}
	var seen []any
	for _, it := range items {
		k := key(it)
		dup := false
		for _, s := range seen {
			if eq, err := pyEqual(s, k); err != nil {
				return nil, err
			} else if eq {
				dup = true
				break
			}
		}
		if !dup {
			seen = append(seen, k)
			out = append(out, it)
		}
	}
	return e.charge(out)
}

func fSort(e *env, in any, a *fargs) (any, error) {
	rev, err := a.boolean(0, false)
	if err != nil {
		return nil, err
	}
	items, key, err := keyedItems(e, in, a, 1, 2)
	if err != nil {
		return nil, err
	}
	if err := e.tick(len(items) * 4); err != nil {
		return nil, err
	}
	out := slices.Clone(items)
	var sortErr error
	slices.SortStableFunc(out, func(x, y any) int {
		c, err := pyCompare(key(x), key(y))
		if err != nil && sortErr == nil {
			sortErr = err
		}
		if rev {
			return -c
		}
		return c
	})
	if sortErr != nil {
		return nil, sortErr
	}
	return e.charge(out)
}

func fMinMax(sign int) filterFn {
	return func(e *env, in any, a *fargs) (any, error) {
		items, key, err := keyedItems(e, in, a, 0, 1)
		if err != nil {
			return nil, err
		}
		if len(items) == 0 {
			return &undefined{hint: "No aggregated item, sequence was empty."}, nil
		}
		best := items[0]
		for _, it := range items[1:] {
			c, err := pyCompare(key(it), key(best))
			if err != nil {
				return nil, err
			}
			if c*sign > 0 {
				best = it
			}
		}
		return best, e.tick(len(items))
	}
}

func fSum(e *env, in any, a *fargs) (any, error) {
	items, err := e.iterate(in)
	if err != nil {
		return nil, err
	}
	total := a.or(1, int64(0))
	attr, _ := a.get(0)
	for _, it := range items {
		if attr != nil {
			it = attrPath(it, pyStr(attr))
		}
		if total, err = binary(e, opAdd, total, it); err != nil {
			return nil, err
		}
	}
	return total, nil
}

func fReverse(e *env, in any, _ *fargs) (any, error) {
	if s, ok := in.(string); ok {
		if err := e.build(int64(len(s))); err != nil {
			return nil, err
		}
		r := []rune(s)
		slices.Reverse(r)
		return string(r), nil
	}
	items, err := e.iterate(in)
	if err != nil {
		return nil, err
	}
	out := slices.Clone(items)
	slices.Reverse(out)
	return e.charge(out)
}

func fItems(e *env, in any, _ *fargs) (any, error) {
	switch x := in.(type) {
	case *undefined:
		return []any{}, nil
	case map[string]any:
		out := make([]any, 0, len(x))
		for _, k := range sortedKeys(x) {
			out = append(out, []any{k, x[k]})
		}
		return e.charge(out)
	}
	return nil, errorf("can only get item pairs from a mapping")
}

func fAttr(_ *env, in any, a *fargs) (any, error) {
	name, err := a.str(0, "")
	if err != nil {
		return nil, err
	}
	switch x := in.(type) {
	case map[string]any:
		if isDictMethod(name) {
			return &method{recv: x, name: name}, nil
		}
	case string:
		if isStrMethod(name) {
			return &method{recv: x, name: name}, nil
		}
	case []any:
		if isListMethod(name) {
			return &method{recv: x, name: name}, nil
		}
	}
	return undefAttr(in, name), nil
}

func fFormat(e *env, in any, a *fargs) (any, error) {
	if len(a.args) > 0 && len(a.kw) > 0 {
		return nil, errorf("can't handle positional and keyword arguments at the same time")
	}
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	if len(a.kw) > 0 {
		return percentFormat(e, s, a.kw)
	}
	return percentFormat(e, s, a.args)
}

func fBatch(e *env, in any, a *fargs) (any, error) {
	n, err := a.integer(0, 1)
	if err != nil {
		return nil, err
	}
	if n <= 0 {
		return nil, errorf("batch size must be positive")
	}
	items, err := e.iterate(in)
	if err != nil {
		return nil, err
	}
	fill, hasFill := a.get(1)
	fills := hasFill && fill != nil
	var fillSize int64
	if fills {
		if fillSize, err = e.size(fill); err != nil {
			return nil, err
		}
	}
	out := []any{}
	m := meter{e: e, n: 2}
	for i := 0; i < len(items); i += int(n) {
		chunk := items[i:min(i+int(n), len(items))]
		if err := m.addValue(chunk); err != nil {
			return nil, err
		}
		pad := int64(0)
		if fills {
			pad = n - int64(len(chunk))
			if pad > 0 && fillSize+2 > (e.b.value-m.n)/pad {
				return nil, e.overValue()
			}
			if err := m.add(pad * (fillSize + 2)); err != nil {
				return nil, err
			}
		}
		chunk = slices.Clone(chunk)
		for range pad {
			chunk = append(chunk, fill)
		}
		out = append(out, chunk)
	}
	return out, m.done()
}

// fBool is Ansible's bool filter (to_bool).
func fBool(_ *env, in any, _ *fargs) (any, error) {
	switch x := in.(type) {
	case nil:
		return nil, nil
	case bool:
		return x, nil
	case string:
		switch strings.ToLower(x) {
		case "yes", "on", "1", "true":
			return true, nil
		}
		return false, nil
	}
	if i, ok := toInt(in); ok && i == 1 {
		return true, nil
	}
	if f, ok := in.(float64); ok && f == 1 {
		return true, nil
	}
	return false, nil
}

func fTernary(_ *env, in any, a *fargs) (any, error) {
	tv, _ := a.get(0)
	fv, _ := a.get(1)
	nv, _ := a.get(2)
	if in == nil && nv != nil {
		return nv, nil
	}
	t, err := truth(in)
	if err != nil {
		return nil, err
	}
	if t {
		return tv, nil
	}
	return fv, nil
}

func fMandatory(_ *env, in any, a *fargs) (any, error) {
	if u, ok := in.(*undefined); ok {
		if msg, ok := a.get(0); ok && msg != nil {
			return nil, errorf("%s", pyStr(msg))
		}
		return nil, errorf("Mandatory variable not defined: %s", u.hint)
	}
	return in, nil
}

func fSplit(e *env, in any, a *fargs) (any, error) {
	s, ok := in.(string)
	if !ok {
		return nil, errorf("split expects a string, got %s", typeName(in))
	}
	sep, _ := a.get(0)
	maxsplit, err := a.integer(1, -1)
	if err != nil {
		return nil, err
	}
	out, err := pySplit(s, sep, maxsplit)
	if err != nil {
		return nil, err
	}
	return e.charge(out)
}

// keyValueNames reads the key_name and value_name arguments dict2items
// and items2dict share: the names of an item's key and value.
func (a *fargs) keyValueNames() (key, value string, err error) {
	if key, err = a.str(0, "key"); err != nil {
		return "", "", err
	}
	if value, err = a.str(1, "value"); err != nil {
		return "", "", err
	}
	return key, value, nil
}

func fDict2Items(e *env, in any, a *fargs) (any, error) {
	m, ok := in.(map[string]any)
	if !ok {
		return nil, errorf("dict2items requires a dictionary, got %s instead.", typeName(in))
	}
	kn, vn, err := a.keyValueNames()
	if err != nil {
		return nil, err
	}
	// Each item is a dict holding a key and a value of m, and the names.
	size, err := e.size(m)
	if err != nil {
		return nil, err
	}
	if err := e.build(size + int64(len(m))*(int64(len(kn)+len(vn))+12)); err != nil {
		return nil, err
	}
	out := make([]any, 0, len(m))
	for _, k := range sortedKeys(m) {
		out = append(out, map[string]any{kn: k, vn: m[k]})
	}
	return out, nil
}

func fItems2Dict(e *env, in any, a *fargs) (any, error) {
	l, ok := in.([]any)
	if !ok {
		return nil, errorf("items2dict requires a list, got %s instead.", typeName(in))
	}
	kn, vn, err := a.keyValueNames()
	if err != nil {
		return nil, err
	}
	out := make(map[string]any, len(l))
	for _, it := range l {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, errorf("items2dict requires each element to be a dictionary, got %s", typeName(it))
		}
		k, ok := m[kn]
		if !ok {
			return nil, errorf("items2dict requires each dictionary to have the key '%s'", kn)
		}
		v, ok := m[vn]
		if !ok {
			return nil, errorf("items2dict requires each dictionary to have the key '%s'", vn)
		}
		key, err := e.str(k)
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
	return e.charge(out)
}

// fCombine is Ansible's combine: later dicts win; recursive merges nested
// dicts; list_merge says what happens to lists met on both sides.
func fCombine(e *env, in any, a *fargs) (any, error) {
	for k := range a.kw {
		if k != "recursive" && k != "list_merge" {
			return nil, errorf("'%s' is an invalid keyword argument for combine()", k)
		}
	}
	recursive, _ := truth(a.kw["recursive"])
	listMerge := "replace"
	if v, ok := a.kw["list_merge"]; ok {
		listMerge = pyStr(v)
	}
	switch listMerge {
	case "replace", "keep", "append", "prepend", "append_rp", "prepend_rp":
	default:
		return nil, errorf("list_merge must be one of replace, keep, append, prepend, append_rp, prepend_rp")
	}
	terms := append([]any{in}, a.args...)
	var dicts []map[string]any
	for _, t := range terms {
		switch x := t.(type) {
		case map[string]any:
			dicts = append(dicts, x)
		case []any: // combine accepts lists of dicts too
			for _, it := range x {
				m, ok := it.(map[string]any)
				if !ok {
					return nil, errorf("combine expects dictionaries, got %s", typeName(it))
				}
				dicts = append(dicts, m)
			}
		default:
			return nil, errorf("combine expects dictionaries, got %s", typeName(t))
		}
	}
	out := map[string]any{}
	for _, d := range dicts {
		if err := e.tick(len(d)); err != nil {
			return nil, err
		}
		out = mergeDicts(out, d, recursive, listMerge)
	}
	return e.charge(out)
}

func mergeDicts(x, y map[string]any, recursive bool, listMerge string) map[string]any {
	out := make(map[string]any, len(x)+len(y))
	for k, v := range x {
		out[k] = v
	}
	for k, yv := range y {
		xv, both := out[k]
		if !both {
			out[k] = yv
			continue
		}
		xm, xIsMap := xv.(map[string]any)
		ym, yIsMap := yv.(map[string]any)
		if recursive && xIsMap && yIsMap {
			out[k] = mergeDicts(xm, ym, recursive, listMerge)
			continue
		}
		xl, xIsList := xv.([]any)
		yl, yIsList := yv.([]any)
		if xIsList && yIsList {
			switch listMerge {
			case "keep":
				continue
			case "append":
				out[k] = append(slices.Clone(xl), yl...)
				continue
			case "prepend":
				out[k] = append(slices.Clone(yl), xl...)
				continue
			case "append_rp":
				out[k] = append(removePresent(xl, yl), yl...)
				continue
			case "prepend_rp":
				out[k] = append(slices.Clone(yl), removePresent(xl, yl)...)
				continue
			}
		}
		out[k] = yv
	}
	return out
}

func removePresent(xs, ys []any) []any {
	out := []any{}
	for _, x := range xs {
		if !containsEqual(ys, x) {
			out = append(out, x)
		}
	}
	return out
}

func containsEqual(list []any, v any) bool {
	for _, it := range list {
		if eq, _ := pyEqual(it, v); eq {
			return true
		}
	}
	return false
}

func fFlatten(e *env, in any, a *fargs) (any, error) {
	l, ok := in.([]any)
	if !ok {
		return nil, errorf("flatten expects a list, got %s", typeName(in))
	}
	levels := int64(-1)
	if v, ok := a.get(0); ok && v != nil {
		n, ok := toInt(v)
		if !ok {
			return nil, errorf("flatten levels must be an integer")
		}
		levels = n
	}
	skip, err := a.boolean(1, true)
	if err != nil {
		return nil, err
	}
	var out []any
	m := meter{e: e, n: 2}
	var walk func(l []any, levels int64) error
	walk = func(l []any, levels int64) error {
		if err := e.tick(len(l)); err != nil {
			return err
		}
		for _, it := range l {
			if skip && (it == nil || it == "None" || it == "null") {
				continue
			}
			if sub, ok := it.([]any); ok && levels != 0 {
				if err := walk(sub, levels-1); err != nil {
					return err
				}
				continue
			}
			if err := m.addValue(it); err != nil {
				return err
			}
			out = append(out, it)
		}
		return nil
	}
	if err := walk(l, levels); err != nil {
		return nil, err
	}
	if out == nil {
		out = []any{}
	}
	return out, m.done()
}

func (e *env) zipLists(in any, args []any) ([][]any, error) {
	var lists [][]any
	for _, v := range append([]any{in}, args...) {
		items, err := e.iterate(v)
		if err != nil {
			return nil, err
		}
		lists = append(lists, items)
	}
	return lists, nil
}

func fZip(e *env, in any, a *fargs) (any, error) {
	lists, err := e.zipLists(in, a.args)
	if err != nil {
		return nil, err
	}
	n := len(lists[0])
	for _, l := range lists {
		n = min(n, len(l))
	}
	if err := e.tick(n); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range n {
		row := make([]any, len(lists))
		for j, l := range lists {
			row[j] = l[i]
		}
		out[i] = row
	}
	return e.charge(out)
}

func fZipLongest(e *env, in any, a *fargs) (any, error) {
	lists, err := e.zipLists(in, a.args)
	if err != nil {
		return nil, err
	}
	fill := a.kw["fillvalue"]
	n := 0
	for _, l := range lists {
		n = max(n, len(l))
	}
	if err := e.tick(n * len(lists)); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range n {
		row := make([]any, len(lists))
		for j, l := range lists {
			if i < len(l) {
				row[j] = l[i]
			} else {
				row[j] = fill
			}
		}
		out[i] = row
	}
	return e.charge(out)
}

// fSetOp implements Ansible's list set operations, which keep the order
// of first appearance and drop duplicates.
func fSetOp(op string) filterFn {
	return func(e *env, in any, a *fargs) (any, error) {
		x, err := e.iterate(in)
		if err != nil {
			return nil, err
		}
		bv, _ := a.get(0)
		y, err := e.iterate(bv)
		if err != nil {
			return nil, err
		}
		// Each item is looked for in both inputs and in the output.
		n := len(x) + len(y) + 1
		if err := e.tick(min(n, maxSteps+1) * min(n, maxSteps+1) / 16); err != nil {
			return nil, err
		}
		var out []any
		add := func(v any) {
			if !containsEqual(out, v) {
				out = append(out, v)
			}
		}
		switch op {
		case "difference":
			for _, v := range x {
				if !containsEqual(y, v) {
					add(v)
				}
			}
		case "intersect":
			for _, v := range x {
				if containsEqual(y, v) {
					add(v)
				}
			}
		case "union":
			for _, v := range append(slices.Clone(x), y...) {
				add(v)
			}
		case "symmetric_difference":
			for _, v := range x {
				if !containsEqual(y, v) {
					add(v)
				}
			}
			for _, v := range y {
				if !containsEqual(x, v) {
					add(v)
				}
			}
		}
		if out == nil {
			out = []any{}
		}
		return e.charge(out)
	}
}

// fJSONQuery is community.general.json_query (JMESPath). go-jmespath
// works on float64 numbers: integers go in as floats and integral floats
// come back as integers.
func fJSONQuery(e *env, in any, a *fargs) (any, error) {
	expr, err := a.str(0, "")
	if err != nil {
		return nil, err
	}
	q, err := e.cache.jmespath(expr)
	if err != nil {
		return nil, errorf("json_query: invalid JMESPath expression: %v", err)
	}
	// A multi-select ([a, b] or {x: a, y: b}) can repeat its input once
	// per entry, and multi-selects nest: with c commas, a query builds at
	// most 2^c times its input (reference by reference; to_string or join
	// would then spell them all out).
	size, err := e.size(in)
	if err != nil {
		return nil, err
	}
	if c := jmesFanout(expr); c >= 62 || size<<c > e.b.work {
		return nil, &LimitError{Kind: LimitWork, Limit: e.b.work}
	}
	data := in
	nodes, hasInts := jmesScan(in)
	if hasInts {
		data, _ = toJMESPath(in)
	}
	if err := e.tick(nodes); err != nil {
		return nil, err
	}
	out, err := q.Search(data)
	if err != nil {
		return nil, errorf("json_query: %v", err)
	}
	if out, err = e.charge(out); err != nil { // first: the walks below assume a bounded result
		return nil, err
	}
	if hasIntegralFloat(out) {
		out = fromJMESPath(out)
	}
	return out, nil
}

// jmesFanout counts the commas of a JMESPath query outside its literals.
func jmesFanout(q string) int {
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0 && c == '\\':
			i++
		case quote != 0:
			if c == quote {
				quote = 0
			}
		case c == '\'' || c == '"' || c == '`':
			quote = c
		case c == ',':
			n++
		}
	}
	return n
}

// jmesScan counts the values in v and reports whether any is an integer
// (go-jmespath only knows float64 numbers).
func jmesScan(v any) (int, bool) {
	switch x := v.(type) {
	case []any:
		n, ints := 1, false
		for _, it := range x {
			c, i := jmesScan(it)
			n, ints = n+c, ints || i
		}
		return n, ints
	case map[string]any:
		n, ints := 1, false
		for _, it := range x {
			c, i := jmesScan(it)
			n, ints = n+c, ints || i
		}
		return n, ints
	case bool:
		return 1, false
	}
	return 1, isIntType(v) || isFloatType(v) && !isFloat64(v)
}

func isFloat64(v any) bool {
	_, ok := v.(float64)
	return ok
}

func hasIntegralFloat(v any) bool {
	switch x := v.(type) {
	case []any:
		for _, it := range x {
			if hasIntegralFloat(it) {
				return true
			}
		}
	case map[string]any:
		for _, it := range x {
			if hasIntegralFloat(it) {
				return true
			}
		}
	case float64:
		return x == math.Trunc(x) && math.Abs(x) < 1<<53
	}
	return false
}

func toJMESPath(v any) (any, int) {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		n := 1
		for i, it := range x {
			var c int
			out[i], c = toJMESPath(it)
			n += c
		}
		return out, n
	case map[string]any:
		out := make(map[string]any, len(x))
		n := 1
		for k, it := range x {
			var c int
			out[k], c = toJMESPath(it)
			n += c
		}
		return out, n
	case bool:
		return x, 1
	}
	if i, ok := toInt(v); ok {
		return float64(i), 1
	}
	if f, ok := v.(float32); ok {
		return float64(f), 1
	}
	return v, 1
}

func fromJMESPath(v any) any {
	switch x := v.(type) {
	case []any:
		out := make([]any, len(x))
		for i, it := range x {
			out[i] = fromJMESPath(it)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k, it := range x {
			out[k] = fromJMESPath(it)
		}
		return out
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<53 {
			return int64(x)
		}
	}
	return v
}

func fToJSON(e *env, in any, a *fargs) (any, error) {
	for k := range a.kw {
		switch k {
		case "sort_keys", "ensure_ascii", "indent":
		default:
			return nil, errorf("to_json: unsupported keyword argument '%s'", k)
		}
	}
	ascii := true
	if v, ok := a.kw["ensure_ascii"]; ok {
		ascii, _ = truth(v)
	}
	indent := -1
	if v, ok := a.kw["indent"]; ok && v != nil {
		n, _ := toInt(v)
		indent = int(n)
	}
	sep := ", "
	if indent >= 0 {
		sep = ","
	}
	return jsonDumps(e, in, jsonStyle{indent: indent, itemSep: sep, ascii: ascii})
}

func fToNiceJSON(e *env, in any, a *fargs) (any, error) {
	indent, err := a.integer(0, 4)
	if err != nil {
		return nil, err
	}
	return jsonDumps(e, in, jsonStyle{indent: int(indent), itemSep: ",", ascii: true})
}

func fFromJSON(e *env, in any, _ *fargs) (any, error) {
	s, ok := in.(string)
	if !ok {
		return nil, errorf("the JSON object must be str, not %s", typeName(in))
	}
	// Decoded values take a few times the text's bytes; the text's length
	// bounds them before decoding, the result is measured after.
	if err := e.build(int64(len(s))); err != nil {
		return nil, err
	}
	v, err := jsonLoads(s)
	if err != nil {
		return nil, err
	}
	return e.charge(v)
}

func fB64Encode(e *env, in any, _ *fargs) (any, error) {
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	if err := e.build(int64(base64.StdEncoding.EncodedLen(len(s)))); err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), nil
}

func fB64Decode(e *env, in any, _ *fargs) (any, error) {
	s, err := e.str(in)
	if err != nil {
		return nil, err
	}
	if err := e.build(int64(base64.StdEncoding.DecodedLen(len(s)))); err != nil {
		return nil, err
	}
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, errorf("b64decode: invalid base64 input")
	}
	if !utf8.Valid(b) {
		return strings.ToValidUTF8(string(b), "\uFFFD"), nil
	}
	return string(b), nil
}

func fExtract(_ *env, in any, a *fargs) (any, error) {
	container, _ := a.get(0)
	v, err := getItem(container, in)
	if err != nil {
		return nil, err
	}
	more, ok := a.get(1)
	if !ok || more == nil {
		return v, nil
	}
	keys, isList := more.([]any)
	if !isList {
		keys = []any{more}
	}
	for _, k := range keys {
		if v, err = getItem(v, k); err != nil {
			return nil, err
		}
	}
	return v, nil
}
