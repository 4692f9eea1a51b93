package construct

import (
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Python methods reachable from expressions, e.g.
// inventory_hostname.startswith('web') or tags.keys(). Methods that would
// mutate host data (dict.update, list.append, ...) are absent: calling them
// is an error, as it would be in Jinja's immutable sandbox.

func isDictMethod(name string) bool {
	switch name {
	case "keys", "values", "items", "get", "copy",
		"update", "pop", "popitem", "setdefault", "clear", "fromkeys":
		return true
	}
	return false
}

func isStrMethod(name string) bool {
	switch name {
	case "lower", "upper", "startswith", "endswith", "split", "rsplit", "strip", "lstrip", "rstrip",
		"replace", "join", "find", "rfind", "index", "count", "title", "capitalize", "casefold",
		"isdigit", "isalpha", "isalnum", "islower", "isupper", "isspace", "isdecimal", "isnumeric",
		"zfill", "splitlines", "format", "swapcase", "center", "ljust", "rjust":
		return true
	}
	return false
}

func isListMethod(name string) bool {
	switch name {
	case "index", "count", "copy", "append", "extend", "insert", "pop", "remove", "reverse", "sort", "clear":
		return true
	}
	return false
}

func callMethod(e *env, m *method, args []any, kw map[string]any) (any, error) {
	for _, a := range args {
		if u, ok := a.(*undefined); ok {
			return nil, u.err()
		}
	}
	arg := func(i int, name string) (any, bool) {
		if i < len(args) {
			return args[i], true
		}
		v, ok := kw[name]
		return v, ok
	}
	switch recv := m.recv.(type) {
	case map[string]any:
		switch m.name {
		case "keys":
			out := make([]any, 0, len(recv))
			for _, k := range sortedKeys(recv) {
				out = append(out, k)
			}
			return e.charge(out)
		case "values":
			out := make([]any, 0, len(recv))
			for _, k := range sortedKeys(recv) {
				out = append(out, recv[k])
			}
			return e.charge(out)
		case "items":
			return fItems(e, recv, nil)
		case "get":
			k, ok := arg(0, "key")
			if !ok {
				return nil, errorf("get expected at least 1 argument, got 0")
			}
			def, _ := arg(1, "default")
			if ks, ok := k.(string); ok {
				if v, ok := recv[ks]; ok {
					return v, nil
				}
			}
			return def, nil
		case "copy":
			out := make(map[string]any, len(recv))
			for k, v := range recv {
				out[k] = v
			}
			return e.charge(out)
		}
	case []any:
		switch m.name {
		case "index":
			v, _ := arg(0, "value")
			for i, it := range recv {
				if eq, err := pyEqual(it, v); err != nil {
					return nil, err
				} else if eq {
					return int64(i), nil
				}
			}
			return nil, errorf("value is not in list")
		case "count":
			v, _ := arg(0, "value")
			n := int64(0)
			for _, it := range recv {
				if eq, _ := pyEqual(it, v); eq {
					n++
				}
			}
			return n, nil
		case "copy":
			return e.charge(append([]any{}, recv...))
		}
	case string:
		return callStrMethod(e, recv, m.name, args, arg)
	case Datetime:
		return callDatetimeMethod(e, recv, m.name, args, arg)
	}
	return nil, errorf("method '%s' of '%s' objects is not available", m.name, typeName(m.recv))
}

func callStrMethod(e *env, s, name string, args []any, arg func(int, string) (any, bool)) (any, error) {
	strArg := func(i int, n string) (string, bool, error) {
		v, ok := arg(i, n)
		if !ok || v == nil {
			return "", false, nil
		}
		str, isStr := v.(string)
		if !isStr {
			return "", false, errorf("%s() argument must be str, not %s", name, typeName(v))
		}
		return str, true, nil
	}
	intArg := func(i int, n string, def int64) (int64, error) {
		v, ok := arg(i, n)
		if !ok || v == nil {
			return def, nil
		}
		x, ok := toInt(v)
		if !ok {
			return 0, errorf("%s() argument must be int, not %s", name, typeName(v))
		}
		return x, nil
	}
	switch name {
	case "lower", "upper", "casefold", "swapcase", "title", "capitalize":
		// About as long as s.
		if err := e.build(int64(len(s))); err != nil {
			return nil, err
		}
	}
	switch name {
	case "lower":
		return strings.ToLower(s), nil
	case "upper":
		return strings.ToUpper(s), nil
	case "casefold":
		return strings.ToLower(s), nil
	case "swapcase":
		return strings.Map(func(r rune) rune {
			if unicode.IsUpper(r) {
				return unicode.ToLower(r)
			}
			return unicode.ToUpper(r)
		}, s), nil
	case "title":
		return pyTitle(s), nil
	case "capitalize":
		return pyCapitalize(s), nil
	case "startswith", "endswith":
		v, ok := arg(0, "prefix")
		if !ok {
			return nil, errorf("%s() takes at least 1 argument", name)
		}
		var cands []any
		switch x := v.(type) {
		case string:
			cands = []any{x}
		case []any:
			cands = x
		default:
			return nil, errorf("%s first arg must be str or a tuple of str, not %s", name, typeName(v))
		}
		for _, c := range cands {
			cs, ok := c.(string)
			if !ok {
				return nil, errorf("tuple for %s must only contain str, not %s", name, typeName(c))
			}
			if (name == "startswith" && strings.HasPrefix(s, cs)) || (name == "endswith" && strings.HasSuffix(s, cs)) {
				return true, nil
			}
		}
		return false, nil
	case "split", "rsplit":
		sep, _ := arg(0, "sep")
		maxsplit, err := intArg(1, "maxsplit", -1)
		if err != nil {
			return nil, err
		}
		var out any
		if name == "rsplit" && maxsplit >= 0 {
			out, err = pyRSplit(s, sep, maxsplit)
		} else {
			out, err = pySplit(s, sep, maxsplit)
		}
		if err != nil {
			return nil, err
		}
		return e.charge(out)
	case "splitlines":
		lines := strings.FieldsFunc(strings.ReplaceAll(s, "\r\n", "\n"), func(r rune) bool { return r == '\n' || r == '\r' })
		out := make([]any, len(lines))
		for i, l := range lines {
			out[i] = l
		}
		return e.charge(out)
	case "strip", "lstrip", "rstrip":
		chars, has, err := strArg(0, "chars")
		if err != nil {
			return nil, err
		}
		trim := func(r rune) bool {
			if has {
				return strings.ContainsRune(chars, r)
			}
			return unicode.IsSpace(r)
		}
		switch name {
		case "strip":
			return strings.TrimFunc(s, trim), nil
		case "lstrip":
			return strings.TrimLeftFunc(s, trim), nil
		}
		return strings.TrimRightFunc(s, trim), nil
	case "replace":
		old, _, err := strArg(0, "old")
		if err != nil {
			return nil, err
		}
		repl, _, err := strArg(1, "new")
		if err != nil {
			return nil, err
		}
		count, err := intArg(2, "count", -1)
		if err != nil {
			return nil, err
		}
		return e.replace(s, old, repl, count)
	case "join":
		v, _ := arg(0, "iterable")
		items, err := e.iterate(v)
		if err != nil {
			return nil, err
		}
		parts := make([]string, len(items))
		for i, it := range items {
			str, ok := it.(string)
			if !ok {
				return nil, errorf("sequence item %d: expected str instance, %s found", i, typeName(it))
			}
			parts[i] = str
		}
		if err := e.tick(len(items)); err != nil {
			return nil, err
		}
		return e.join(parts, s)
	case "find", "rfind", "index", "count":
		sub, _, err := strArg(0, "sub")
		if err != nil {
			return nil, err
		}
		var i int
		switch name {
		case "count":
			return int64(strings.Count(s, sub)), nil
		case "rfind":
			i = strings.LastIndex(s, sub)
		default:
			i = strings.Index(s, sub)
		}
		if i < 0 {
			if name == "index" {
				return nil, errorf("substring not found")
			}
			return int64(-1), nil
		}
		return int64(utf8.RuneCountInString(s[:i])), nil
	case "isdigit", "isdecimal", "isnumeric", "isalpha", "isalnum", "isspace", "islower", "isupper":
		return strPredicate(s, name), nil
	case "zfill", "center", "ljust", "rjust":
		width, err := intArg(0, "width", 0)
		if err != nil {
			return nil, err
		}
		pad := width - int64(utf8.RuneCountInString(s))
		if pad <= 0 {
			return s, nil
		}
		fill := " "
		if f, has, err := strArg(1, "fillchar"); err != nil {
			return nil, err
		} else if has {
			if utf8.RuneCountInString(f) != 1 {
				return nil, errorf("The fill character must be exactly one character long")
			}
			fill = f
		}
		if pad > e.b.value { // (len(fill) ≤ 4: the product below cannot overflow)
			return nil, e.overValue()
		}
		if err := e.build(int64(len(s)) + pad*int64(len(fill))); err != nil {
			return nil, err
		}
		switch name {
		case "zfill":
			if strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+") {
				return s[:1] + strings.Repeat("0", int(pad)) + s[1:], nil
			}
			return strings.Repeat("0", int(pad)) + s, nil
		case "ljust":
			return s + strings.Repeat(fill, int(pad)), nil
		case "rjust":
			return strings.Repeat(fill, int(pad)) + s, nil
		}
		left := pad / 2
		if pad%2 == 1 && width%2 == 1 {
			left++
		}
		return strings.Repeat(fill, int(left)) + s + strings.Repeat(fill, int(pad-left)), nil
	case "format":
		return strFormat(e, s, args)
	}
	return nil, errorf("method '%s' of 'str' objects is not available", name)
}

func strPredicate(s, name string) bool {
	if s == "" {
		return false
	}
	cased := false
	for _, r := range s {
		switch name {
		case "isdigit", "isdecimal":
			if !unicode.IsDigit(r) {
				return false
			}
		case "isnumeric":
			if !unicode.IsNumber(r) {
				return false
			}
		case "isalpha":
			if !unicode.IsLetter(r) {
				return false
			}
		case "isalnum":
			if !unicode.IsLetter(r) && !unicode.IsNumber(r) {
				return false
			}
		case "isspace":
			if !unicode.IsSpace(r) {
				return false
			}
		case "islower":
			if unicode.IsUpper(r) || unicode.IsTitle(r) {
				return false
			}
			cased = cased || unicode.IsLower(r)
		case "isupper":
			if unicode.IsLower(r) || unicode.IsTitle(r) {
				return false
			}
			cased = cased || unicode.IsUpper(r)
		}
	}
	if name == "islower" || name == "isupper" {
		return cased
	}
	return true
}

// pyTitle is Python's str.title: a letter following a non-letter starts a
// word.
func pyTitle(s string) string {
	var b strings.Builder
	prevCased := false
	for _, r := range s {
		if unicode.IsLetter(r) {
			if prevCased {
				b.WriteRune(unicode.ToLower(r))
			} else {
				b.WriteRune(unicode.ToTitle(r))
			}
			prevCased = true
		} else {
			b.WriteRune(r)
			prevCased = false
		}
	}
	return b.String()
}

// pySplit is Python's str.split(sep, maxsplit).
func pySplit(s string, sep any, maxsplit int64) (any, error) {
	var parts []string
	switch x := sep.(type) {
	case nil:
		if maxsplit < 0 {
			parts = strings.Fields(s)
		} else {
			rest := strings.TrimLeftFunc(s, unicode.IsSpace)
			for rest != "" {
				if int64(len(parts)) == maxsplit {
					parts = append(parts, rest)
					break
				}
				i := strings.IndexFunc(rest, unicode.IsSpace)
				if i < 0 {
					parts = append(parts, rest)
					break
				}
				parts = append(parts, rest[:i])
				rest = strings.TrimLeftFunc(rest[i:], unicode.IsSpace)
			}
		}
	case string:
		if x == "" {
			return nil, errorf("empty separator")
		}
		n := -1
		if maxsplit >= 0 {
			n = int(maxsplit) + 1
		}
		parts = strings.SplitN(s, x, n)
	default:
		return nil, errorf("must be str or None, not %s", typeName(sep))
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func pyRSplit(s string, sep any, maxsplit int64) (any, error) {
	x, ok := sep.(string)
	if sep != nil && !ok {
		return nil, errorf("must be str or None, not %s", typeName(sep))
	}
	if sep == nil {
		fields := strings.Fields(s)
		if int64(len(fields)) <= maxsplit+1 {
			return pySplit(s, nil, -1)
		}
		// keep the head as it is, split the last maxsplit words
		rest := strings.TrimRightFunc(s, unicode.IsSpace)
		var tail []any
		for int64(len(tail)) < maxsplit {
			i := strings.LastIndexFunc(rest, unicode.IsSpace)
			tail = append([]any{rest[i+1:]}, tail...)
			rest = strings.TrimRightFunc(rest[:i+1], unicode.IsSpace)
		}
		return append([]any{rest}, tail...), nil
	}
	if x == "" {
		return nil, errorf("empty separator")
	}
	var out []any
	rest := s
	for int64(len(out)) < maxsplit {
		i := strings.LastIndex(rest, x)
		if i < 0 {
			break
		}
		out = append([]any{rest[i+len(x):]}, out...)
		rest = rest[:i]
	}
	return append([]any{rest}, out...), nil
}

// strFormat is a subset of Python's str.format: {} and {0} fields with
// no format spec.
func strFormat(e *env, s string, args []any) (any, error) {
	var b strings.Builder
	next := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '{' && i+1 < len(s) && s[i+1] == '{':
			if err := e.write(&b, "{"); err != nil {
				return nil, err
			}
			i++
		case c == '}' && i+1 < len(s) && s[i+1] == '}':
			if err := e.write(&b, "}"); err != nil {
				return nil, err
			}
			i++
		case c == '{':
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, errorf("single '{' encountered in format string")
			}
			field := s[i+1 : i+end]
			idx := next
			if field != "" {
				n, err := strconv.Atoi(field)
				if err != nil {
					return nil, errorf("format: only positional fields are supported")
				}
				idx = n
			} else {
				next++
			}
			if idx >= len(args) {
				return nil, errorf("Replacement index %d out of range for positional args tuple", idx)
			}
			arg, err := e.str(args[idx])
			if err != nil {
				return nil, err
			}
			if err := e.write(&b, arg); err != nil {
				return nil, err
			}
			i += end
		default:
			if err := e.write(&b, s[i:i+1]); err != nil {
				return nil, err
			}
		}
	}
	return b.String(), e.build(int64(b.Len()))
}

// globals are the functions expressions may call.
var globals = map[string]any{
	"range": &callable{name: "range", fn: gRange},
	"dict":  &callable{name: "dict", fn: gDict},
	"lookup": &callable{name: "lookup", fn: func(*env, []any, map[string]any) (any, error) {
		return nil, errorf("lookup plugins are not available in inventory expressions")
	}},
	"query": &callable{name: "query", fn: func(*env, []any, map[string]any) (any, error) {
		return nil, errorf("lookup plugins are not available in inventory expressions")
	}},
}

func init() { globals["q"] = globals["query"] }

// gRange is Python's range, capped at maxRange items like Jinja's sandbox.
func gRange(e *env, args []any, _ map[string]any) (any, error) {
	var start, stop, step int64 = 0, 0, 1
	ints := make([]int64, len(args))
	for i, a := range args {
		n, ok := toInt(a)
		if !ok {
			return nil, errorf("'%s' object cannot be interpreted as an integer", typeName(a))
		}
		ints[i] = n
	}
	switch len(ints) {
	case 1:
		stop = ints[0]
	case 2:
		start, stop = ints[0], ints[1]
	case 3:
		start, stop, step = ints[0], ints[1], ints[2]
	default:
		return nil, errorf("range expected 1 to 3 arguments, got %d", len(ints))
	}
	if step == 0 {
		return nil, errorf("range() arg 3 must not be zero")
	}
	var n int64
	if step > 0 && stop > start {
		n = (stop - start + step - 1) / step
	} else if step < 0 && stop < start {
		n = (start - stop - step - 1) / -step
	}
	if n > maxRange {
		return nil, errorf("range too big, maximum size for range is %d", maxRange)
	}
	if err := e.tick(int(n) / 16); err != nil {
		return nil, err
	}
	if err := e.buildTimes(max(digits(start), digits(stop))+2, n); err != nil {
		return nil, err
	}
	out := make([]any, n)
	for i := range out {
		out[i] = start + int64(i)*step
	}
	return out, nil
}

// gDict is Python's dict(): from key=value arguments and/or a list of
// pairs or a dict.
func gDict(e *env, args []any, kw map[string]any) (any, error) {
	out := map[string]any{}
	if len(args) > 1 {
		return nil, errorf("dict expected at most 1 argument, got %d", len(args))
	}
	if len(args) == 1 {
		switch x := args[0].(type) {
		case map[string]any:
			for k, v := range x {
				out[k] = v
			}
		case []any:
			for i, it := range x {
				pair, ok := it.([]any)
				if !ok || len(pair) != 2 {
					return nil, errorf("dictionary update sequence element #%d has the wrong length or type", i)
				}
				if u, ok := pair[0].(*undefined); ok {
					return nil, u.err()
				}
				key, err := e.str(pair[0])
				if err != nil {
					return nil, err
				}
				out[key] = pair[1]
			}
		default:
			return nil, errorf("'%s' object is not iterable", typeName(args[0]))
		}
	}
	for k, v := range kw {
		out[k] = v
	}
	return e.charge(out)
}
