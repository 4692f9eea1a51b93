package construct

import (
	"bytes"
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// percentFormat is Python's "fmt % args" for the common conversions
// (%s %r %d %i %f %x %o %e %g %%) with flags, width and precision, and
// %(name)s with a dict.
func percentFormat(e *env, format string, args any) (any, error) {
	var positional []any
	named, isDict := args.(map[string]any)
	if l, ok := args.([]any); ok {
		positional = l
	} else if !isDict {
		positional = []any{args}
	}
	next := 0
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			if err := e.write(&b, format[i:i+1]); err != nil {
				return nil, err
			}
			continue
		}
		i++
		if i >= len(format) {
			return nil, errorf("incomplete format")
		}
		var v any
		hasValue := false
		if format[i] == '(' {
			end := strings.IndexByte(format[i:], ')')
			if end < 0 || !isDict {
				return nil, errorf("format requires a mapping")
			}
			key := format[i+1 : i+end]
			val, ok := named[key]
			if !ok {
				return nil, errorf("format: key '%s' not found", key)
			}
			v, hasValue = val, true
			i += end + 1
		}
		j := i
		for j < len(format) && strings.IndexByte("-+ #0", format[j]) >= 0 {
			j++
		}
		flags := format[i:j]
		k := j
		for k < len(format) && (format[k] >= '0' && format[k] <= '9' || format[k] == '.') {
			k++
		}
		spec := format[j:k]
		if k >= len(format) {
			return nil, errorf("incomplete format")
		}
		verb := format[k]
		i = k
		if verb == '%' {
			if err := e.write(&b, "%"); err != nil {
				return nil, err
			}
			continue
		}
		if !hasValue {
			if isDict || next >= len(positional) {
				return nil, errorf("not enough arguments for format string")
			}
			v = positional[next]
			next++
		}
		if u, ok := v.(*undefined); ok {
			return nil, u.err()
		}
		width, prec := -1, -1
		if w, p, found := strings.Cut(spec, "."); found {
			width = atoiDefault(w, -1)
			prec = atoiDefault(p, 0)
		} else {
			width = atoiDefault(spec, -1)
		}
		var s string
		switch verb {
		case 's':
			var err error
			if s, err = e.str(v); err != nil {
				return nil, err
			}
			if prec >= 0 && utf8.RuneCountInString(s) > prec {
				s = string([]rune(s)[:prec])
			}
		case 'r', 'a':
			if _, err := e.str(v); err != nil { // repr is about as long as str
				return nil, err
			}
			s = pyRepr(v)
		case 'd', 'i', 'u', 'x', 'X', 'o':
			n, ok := toInt(v)
			if !ok {
				f, isF := toFloat(v)
				if !isF || verb == 'x' || verb == 'X' || verb == 'o' {
					return nil, errorf("%%%c format: a number is required, not %s", verb, typeName(v))
				}
				n = int64(f)
			}
			base := map[byte]int{'x': 16, 'X': 16, 'o': 8}[verb]
			if base == 0 {
				base = 10
			}
			s = strconv.FormatInt(n, base)
			if verb == 'X' {
				s = strings.ToUpper(s)
			}
			if n >= 0 && strings.Contains(flags, "+") {
				s = "+" + s
			} else if n >= 0 && strings.Contains(flags, " ") {
				s = " " + s
			}
		case 'f', 'F', 'e', 'E', 'g', 'G':
			f, ok := toFloat(v)
			if !ok {
				return nil, errorf("must be real number, not %s", typeName(v))
			}
			if prec < 0 {
				prec = 6
			}
			s = strconv.FormatFloat(f, verb|0x20, prec, 64)
			if verb == 'e' || verb == 'E' || verb == 'g' || verb == 'G' {
				s = pyExponent(s)
			}
			if verb == 'F' || verb == 'E' || verb == 'G' {
				s = strings.ToUpper(s)
			}
			if f >= 0 && strings.Contains(flags, "+") {
				s = "+" + s
			}
		default:
			return nil, errorf("unsupported format character '%c'", verb)
		}
		if pad := width - utf8.RuneCountInString(s); pad > 0 {
			if err := e.room(&b, int64(len(s))+int64(pad)); err != nil {
				return nil, err
			}
			switch {
			case strings.Contains(flags, "-"):
				s += strings.Repeat(" ", pad)
			case strings.Contains(flags, "0") && verb != 's' && verb != 'r':
				sign := ""
				if s != "" && (s[0] == '-' || s[0] == '+' || s[0] == ' ') {
					sign, s = s[:1], s[1:]
				}
				s = sign + strings.Repeat("0", pad) + s
			default:
				s = strings.Repeat(" ", pad) + s
			}
		}
		if err := e.write(&b, s); err != nil {
			return nil, err
		}
	}
	if !isDict && next < len(positional) {
		return nil, errorf("not all arguments converted during string formatting")
	}
	return b.String(), e.build(int64(b.Len()))
}

func atoiDefault(s string, def int) int {
	if s == "" {
		return def
	}
	n, err := strconv.Atoi(s)
	if err != nil || n > math.MaxInt32 {
		return def
	}
	return n
}

// pyExponent rewrites Go's exponent (e+6) the Python way (e+06).
func pyExponent(s string) string {
	i := strings.IndexAny(s, "eE")
	if i < 0 || i+2 >= len(s) {
		return s
	}
	if len(s)-(i+2) == 1 {
		return s[:i+2] + "0" + s[i+2:]
	}
	return s
}

// jsonStyle is the output style of Python's json.dumps.
type jsonStyle struct {
	indent  int // < 0: one line
	itemSep string
	ascii   bool
}

// jsonDumps is Python's json.dumps as Ansible's to_json and to_nice_json
// call it. Keys come out sorted (Go maps have no insertion order).
func jsonDumps(e *env, v any, st jsonStyle) (any, error) {
	var b strings.Builder
	if err := writeJSON(e, &b, v, st, 0); err != nil {
		return nil, err
	}
	return b.String(), e.build(int64(b.Len()))
}

// writeJSON writes v as JSON. The text is one value: each piece is checked
// against the limit per value before it is written (a string may grow up
// to six times when escaped: it is checked again after).
func writeJSON(e *env, b *strings.Builder, v any, st jsonStyle, depth int) error {
	if err := e.tick(1); err != nil {
		return err
	}
	if err := e.room(b, 0); err != nil {
		return err
	}
	if depth > 200 {
		return errorf("to_json: nesting too deep")
	}
	newline := func(d int) error {
		if st.indent < 0 {
			return nil
		}
		if err := e.write(b, "\n"); err != nil {
			return err
		}
		if int64(st.indent)*int64(d) > e.b.value-int64(b.Len()) { // no overflow
			return e.overValue()
		}
		b.WriteString(strings.Repeat(" ", st.indent*d))
		return nil
	}
	str := func(s string) error {
		if err := e.room(b, int64(len(s))+2); err != nil {
			return err
		}
		writeJSONString(b, s, st.ascii)
		return nil
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(x))
	case string:
		return str(x)
	case Datetime: // AnsibleJSONEncoder: isoformat()
		return str(x.isoformat('T'))
	case float64, float32:
		f, _ := toFloat(x)
		switch {
		case math.IsNaN(f):
			b.WriteString("NaN")
		case math.IsInf(f, 1):
			b.WriteString("Infinity")
		case math.IsInf(f, -1):
			b.WriteString("-Infinity")
		default:
			b.WriteString(pyFloat(f))
		}
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, it := range x {
			if i > 0 {
				b.WriteString(st.itemSep)
			}
			if err := newline(depth + 1); err != nil {
				return err
			}
			if err := writeJSON(e, b, it, st, depth+1); err != nil {
				return err
			}
		}
		if err := newline(depth); err != nil {
			return err
		}
		b.WriteByte(']')
	case map[string]any:
		if len(x) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(st.itemSep)
			}
			if err := newline(depth + 1); err != nil {
				return err
			}
			if err := str(k); err != nil {
				return err
			}
			b.WriteString(": ")
			if err := writeJSON(e, b, x[k], st, depth+1); err != nil {
				return err
			}
		}
		if err := newline(depth); err != nil {
			return err
		}
		b.WriteByte('}')
	case *undefined:
		return x.err()
	default:
		if i, ok := toInt(v); ok {
			b.WriteString(strconv.FormatInt(i, 10))
			return nil
		}
		return errorf("Object of type %s is not JSON serializable", typeName(v))
	}
	return nil
}

func writeJSONString(b *strings.Builder, s string, ascii bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (ascii && r > 0x7e):
			if r > 0xffff {
				r1, r2 := utf16Pair(r)
				b.WriteString(`\u` + leftPad(strconv.FormatInt(int64(r1), 16), 4))
				b.WriteString(`\u` + leftPad(strconv.FormatInt(int64(r2), 16), 4))
			} else {
				b.WriteString(`\u` + leftPad(strconv.FormatInt(int64(r), 16), 4))
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}

// jsonLoads is Python's json.loads: integers stay integers.
func jsonLoads(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, errorf("from_json: invalid JSON")
	}
	if dec.More() {
		return nil, errorf("from_json: extra data after the JSON value")
	}
	return normalizeJSON(v), nil
}

// normalizeJSON turns json.Number into int64 or float64.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	case []any:
		for i, it := range x {
			x[i] = normalizeJSON(it)
		}
	case map[string]any:
		for k, it := range x {
			x[k] = normalizeJSON(it)
		}
	}
	return v
}

// DecodeJSON decodes JSON into the value shapes Apply expects, keeping
// integers as int64 (as Python's json module does) rather than float64.
func DecodeJSON(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	return normalizeJSON(v), nil
}
