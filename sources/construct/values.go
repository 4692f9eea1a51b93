package construct

import (
	"cmp"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Values inside the evaluator are plain Go values in the JSON-compatible
// set the providers emit (nil, bool, int, int64, float64, string, []any,
// map[string]any) plus three evaluator-only kinds: *undefined, callables
// and bound methods. Integers produced by the evaluator are always int64;
// integers read from host vars may be any Go integer type.

// undefined is Jinja's (Ansible's) Undefined: a missing variable, attribute
// or item. Like Ansible's StrictUndefined flavour, it may be tested
// (defined, undefined, default) and navigated (a missing attribute of an
// undefined is the same undefined) but any other use is an error.
type undefined struct {
	hint string // Jinja's message, e.g. "'tags' is undefined"
}

func (u *undefined) err() error { return &evalError{msg: u.hint} }

func undefName(name string) *undefined {
	return &undefined{hint: "'" + name + "' is undefined"}
}

func undefAttr(obj any, name string) *undefined {
	return &undefined{hint: "'" + typeObject(obj) + "' has no attribute '" + name + "'"}
}

func isUndef(v any) bool {
	_, ok := v.(*undefined)
	return ok
}

// callable is a global function such as range or dict.
type callable struct {
	name string
	fn   func(e *env, args []any, kw map[string]any) (any, error)
}

// method is a bound method of a string, dict or list, e.g. tags.keys.
type method struct {
	recv any
	name string
}

// evalError is a template error. Its message never holds host values:
// only names from the expression and type names.
type evalError struct{ msg string }

func (e *evalError) Error() string { return e.msg }

func errorf(format string, args ...any) error {
	return &evalError{msg: fmt.Sprintf(format, args...)}
}

// toInt reports v as int64 when it is an integer (bool included, as in
// Python where True == 1).
func toInt(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case int32:
		return int64(n), true
	case int16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint:
		return int64(n), true
	case uint64:
		return int64(n), true
	case uint32:
		return int64(n), true
	case uint16:
		return int64(n), true
	case uint8:
		return int64(n), true
	case bool:
		if n {
			return 1, true
		}
		return 0, true
	}
	return 0, false
}

func isIntType(v any) bool {
	switch v.(type) {
	case int64, int, int32, int16, int8, uint, uint64, uint32, uint16, uint8:
		return true
	}
	return false
}

func isFloatType(v any) bool {
	switch v.(type) {
	case float64, float32:
		return true
	}
	return false
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	}
	if i, ok := toInt(v); ok {
		return float64(i), true
	}
	return 0, false
}

func isNumber(v any) bool {
	_, ok := v.(bool)
	return !ok && (isIntType(v) || isFloatType(v))
}

// truth is Python's truthiness. An undefined value is an error, as with
// StrictUndefined.
func truth(v any) (bool, error) {
	switch x := v.(type) {
	case nil:
		return false, nil
	case bool:
		return x, nil
	case string:
		return x != "", nil
	case []any:
		return len(x) > 0, nil
	case map[string]any:
		return len(x) > 0, nil
	case *undefined:
		return false, x.err()
	case float64:
		return x != 0, nil
	case float32:
		return x != 0, nil
	}
	if i, ok := toInt(v); ok {
		return i != 0, nil
	}
	return true, nil
}

// typeName is Python's type name of v, for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "NoneType"
	case bool:
		return "bool"
	case string:
		return "str"
	case []any:
		return "list"
	case map[string]any:
		return "dict"
	case *undefined:
		return "Undefined"
	case *callable, *method:
		return "function"
	case Datetime:
		return "datetime"
	}
	if isIntType(v) {
		return "int"
	}
	if isFloatType(v) {
		return "float"
	}
	return "object"
}

// typeObject is Jinja's object description in "has no attribute" errors.
func typeObject(v any) string {
	switch v.(type) {
	case nil:
		return "None"
	case Datetime:
		return "datetime.datetime object"
	}
	return typeName(v) + " object"
}

// pyEqual is Python's ==.
func pyEqual(a, b any) (bool, error) {
	if u, ok := a.(*undefined); ok {
		return false, u.err()
	}
	if u, ok := b.(*undefined); ok {
		return false, u.err()
	}
	switch x := a.(type) {
	case nil:
		return b == nil, nil
	case string:
		y, ok := b.(string)
		return ok && x == y, nil
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false, nil
		}
		for i := range x {
			if eq, err := pyEqual(x[i], y[i]); err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false, nil
		}
		for k, xv := range x {
			yv, ok := y[k]
			if !ok {
				return false, nil
			}
			if eq, err := pyEqual(xv, yv); err != nil || !eq {
				return false, err
			}
		}
		return true, nil
	case Datetime:
		y, ok := b.(Datetime)
		return ok && x.t.Equal(y.t), nil
	}
	if isIntType(a) || isFloatType(a) || isBool(a) {
		if !(isIntType(b) || isFloatType(b) || isBool(b)) {
			return false, nil
		}
		if ai, ok := toInt(a); ok {
			if bi, ok := toInt(b); ok {
				return ai == bi, nil
			}
		}
		af, _ := toFloat(a)
		bf, _ := toFloat(b)
		return af == bf, nil
	}
	return a == b, nil
}

func isBool(v any) bool {
	_, ok := v.(bool)
	return ok
}

// pyCompare is Python's ordering for <, <=, >, >=: numbers with numbers,
// strings with strings, lists element-wise. It returns -1, 0 or 1.
func pyCompare(a, b any) (int, error) {
	if u, ok := a.(*undefined); ok {
		return 0, u.err()
	}
	if u, ok := b.(*undefined); ok {
		return 0, u.err()
	}
	if as, ok := a.(string); ok {
		if bs, ok := b.(string); ok {
			return strings.Compare(as, bs), nil
		}
	}
	if ad, ok := a.(Datetime); ok {
		if bd, ok := b.(Datetime); ok {
			return ad.t.Compare(bd.t), nil
		}
	}
	if (isIntType(a) || isFloatType(a) || isBool(a)) && (isIntType(b) || isFloatType(b) || isBool(b)) {
		ai, aok := toInt(a)
		bi, bok := toInt(b)
		if aok && bok {
			return cmp.Compare(ai, bi), nil
		}
		af, _ := toFloat(a)
		bf, _ := toFloat(b)
		switch {
		case af < bf:
			return -1, nil
		case af > bf:
			return 1, nil
		}
		return 0, nil
	}
	if al, ok := a.([]any); ok {
		if bl, ok := b.([]any); ok {
			for i := 0; i < len(al) && i < len(bl); i++ {
				eq, err := pyEqual(al[i], bl[i])
				if err != nil {
					return 0, err
				}
				if !eq {
					return pyCompare(al[i], bl[i])
				}
			}
			return cmp.Compare(len(al), len(bl)), nil
		}
	}
	return 0, errorf("'<' not supported between instances of '%s' and '%s'", typeName(a), typeName(b))
}

// pyStr is Python's str(v).
func pyStr(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case Datetime:
		return x.String()
	}
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

// pyRepr is Python's repr(v).
func pyRepr(v any) string {
	var b strings.Builder
	writeRepr(&b, v)
	return b.String()
}

// reprCap is a backstop on the text of a value: producers measure a value
// before they convert it (env.str), so only text made outside an
// evaluation's budget (a keyed group named after a host's list item) can
// reach it.
const reprCap = 1 << 20

func writeRepr(b *strings.Builder, v any) {
	if b.Len() > reprCap {
		return
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("None")
	case bool:
		if x {
			b.WriteString("True")
		} else {
			b.WriteString("False")
		}
	case string:
		writeStrRepr(b, x)
	case float64:
		b.WriteString(pyFloat(x))
	case float32:
		b.WriteString(pyFloat(float64(x)))
	case []any:
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteString(", ")
			}
			writeRepr(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		b.WriteByte('{')
		for i, k := range sortedKeys(x) {
			if i > 0 {
				b.WriteString(", ")
			}
			writeStrRepr(b, k)
			b.WriteString(": ")
			writeRepr(b, x[k])
		}
		b.WriteByte('}')
	case Datetime:
		b.WriteString(x.repr())
	case *undefined:
		b.WriteString("AnsibleUndefined")
	case *callable:
		b.WriteString("<function " + x.name + ">")
	case *method:
		b.WriteString("<built-in method " + x.name + ">")
	default:
		if i, ok := toInt(v); ok {
			b.WriteString(strconv.FormatInt(i, 10))
			return
		}
		b.WriteString("<object>")
	}
}

// writeStrRepr writes Python's repr of a str: single quotes unless the
// string holds a single quote and no double quote.
func writeStrRepr(b *strings.Builder, s string) {
	q := byte('\'')
	if strings.IndexByte(s, '\'') >= 0 && strings.IndexByte(s, '"') < 0 {
		q = '"'
	}
	b.WriteByte(q)
	for _, r := range s {
		switch {
		case r == rune(q) || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == utf8.RuneError:
			b.WriteString(`\ufffd`)
		case r < 0x20 || r == 0x7f:
			b.WriteString(`\x`)
			b.WriteString(hex2(byte(r)))
		case r > 0x7f && !unicode.IsPrint(r):
			switch {
			case r <= 0xff:
				b.WriteString(`\x` + hex2(byte(r)))
			case r <= 0xffff:
				b.WriteString(`\u` + leftPad(strconv.FormatInt(int64(r), 16), 4))
			default:
				b.WriteString(`\U` + leftPad(strconv.FormatInt(int64(r), 16), 8))
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte(q)
}

func hex2(c byte) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[c>>4], digits[c&15]})
}

func leftPad(s string, n int) string {
	for len(s) < n {
		s = "0" + s
	}
	return s
}

// pyFloat is Python's repr of a float: the shortest round-tripping digits,
// in fixed notation when the decimal exponent is in [-4, 16), else in
// exponent notation with a sign and at least two exponent digits.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	e := strconv.FormatFloat(f, 'e', -1, 64) // -d.ddde±XX
	neg := false
	if e[0] == '-' {
		neg = true
		e = e[1:]
	}
	mant, expStr, _ := strings.Cut(e, "e")
	exp, _ := strconv.Atoi(expStr)
	digits := strings.Replace(mant, ".", "", 1)
	decpt := exp + 1
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	if decpt > -4 && decpt <= 16 {
		switch {
		case decpt <= 0:
			b.WriteString("0.")
			b.WriteString(strings.Repeat("0", -decpt))
			b.WriteString(digits)
		case decpt >= len(digits):
			b.WriteString(digits)
			b.WriteString(strings.Repeat("0", decpt-len(digits)))
			b.WriteString(".0")
		default:
			b.WriteString(digits[:decpt])
			b.WriteByte('.')
			b.WriteString(digits[decpt:])
		}
		return b.String()
	}
	b.WriteByte(digits[0])
	if len(digits) > 1 {
		b.WriteByte('.')
		b.WriteString(digits[1:])
	}
	b.WriteByte('e')
	x := decpt - 1
	if x < 0 {
		b.WriteByte('-')
		x = -x
	} else {
		b.WriteByte('+')
	}
	if x < 10 {
		b.WriteByte('0')
	}
	b.WriteString(strconv.Itoa(x))
	return b.String()
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// containsUndef reports whether v holds an undefined value anywhere: such
// a result is an error, as Ansible's finalize raises on it.
func containsUndef(v any) *undefined {
	switch x := v.(type) {
	case *undefined:
		return x
	case []any:
		for _, e := range x {
			if u := containsUndef(e); u != nil {
				return u
			}
		}
	case map[string]any:
		for _, e := range x {
			if u := containsUndef(e); u != nil {
				return u
			}
		}
	}
	return nil
}
