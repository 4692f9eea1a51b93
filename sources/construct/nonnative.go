package construct

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// templated is what ansible-core's default (non-native) templating makes
// of an expression src (a compose entry or a keyed_groups key) that
// evaluated to v over the variables over, then vars (ansible-core 2.14:
// Templar.template with convert_data, then ansible_eval_concat; checked
// against it):
//   - a template that is a single variable ("{{ cores }}") gives a
//     number, boolean or None as it is;
//   - the result of a filter that makes text (string, to_json,
//     to_nice_json: ansible-core's STRING_TYPE_FILTERS, text is true)
//     stays text;
//   - otherwise the value becomes text (Python's str; None as ""), and
//     text that reads as a list, dict or boolean (Python or JSON literal
//     syntax) becomes that value again.
//
// So "{{ cpu_options.core_count }}" gives "2", "{{ n + 1 }}" "5", and a
// tag value "[1, 2]" a list, as Ansible gives them. A datetime, even a
// single variable ("{{ launch_time }}"), gives its str()
// ("2024-01-02 03:04:05+00:00"), and a list or dict holding one the text
// of its repr ("[datetime.datetime(2024, 1, 2, 3, 4, 5,
// tzinfo=tzutc())]"), which literal_eval refuses: it stays text.
func templated(src string, text bool, over, vars map[string]any, v any) any {
	if name, ok := bareVariable(src); ok {
		hv, ok := over[name]
		if !ok {
			hv, ok = vars[name]
		}
		if ok {
			if _, isNum := toFloat(hv); isNum || hv == nil {
				return hv
			}
			if _, isBool := hv.(bool); isBool {
				return hv
			}
		}
	}
	switch x := v.(type) {
	case nil:
		return ""
	case bool:
		return x
	case []any, map[string]any:
		// str() then literal_eval: the same value, when every element is
		// a literal (what host vars and expressions make but datetimes).
		if holdsDatetime(x) {
			return pyStr(x)
		}
		return x
	case string:
		if text {
			return x
		}
		if strings.HasPrefix(x, "{") || strings.HasPrefix(x, "[") || x == "True" || x == "False" {
			if lit, ok := literalEval(x); ok {
				return lit
			}
		}
		return x
	case *undefined:
		return v
	}
	return pyStr(v)
}

// holdsDatetime reports whether a list or dict holds a Datetime anywhere.
func holdsDatetime(v any) bool {
	switch x := v.(type) {
	case Datetime:
		return true
	case []any:
		for _, it := range x {
			if holdsDatetime(it) {
				return true
			}
		}
	case map[string]any:
		for _, it := range x {
			if holdsDatetime(it) {
				return true
			}
		}
	}
	return false
}

// makesText reports whether n is a filter whose result ansible-core marks
// as text not to literal_eval (NativeJinjaText).
func makesText(n node) bool {
	f, ok := n.(*filterNode)
	return ok && (f.name == "string" || f.name == "to_json" || f.name == "to_nice_json")
}

// bareVariable reports whether src is a single variable name, as
// ansible-core's Templar.SINGLE_VAR matches "{{ name }}".
func bareVariable(src string) (string, bool) {
	name := strings.TrimSpace(src)
	for i := 0; i < len(name); i++ {
		if !isIdentByte(name[i]) {
			return "", false
		}
	}
	return name, name != ""
}

// literalEval is Python's ast.literal_eval for the literals a template's
// text can hold: strings, numbers, True, False, None (and JSON's true,
// false and null, which ansible-core maps to them), lists, tuples (as
// lists) and dicts with string keys. ok is false for anything else.
func literalEval(s string) (any, bool) {
	p := &litParser{s: s}
	p.space()
	v, ok := p.value(0)
	if !ok {
		return nil, false
	}
	p.space()
	return v, p.i == len(p.s)
}

type litParser struct {
	s string
	i int
}

// maxLiteralDepth bounds nesting: a hostile tag value must not recurse
// without end.
const maxLiteralDepth = 100

func (p *litParser) space() {
	for p.i < len(p.s) && strings.IndexByte(" \t\n\r", p.s[p.i]) >= 0 {
		p.i++
	}
}

func (p *litParser) value(depth int) (any, bool) {
	if depth > maxLiteralDepth || p.i >= len(p.s) {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '[':
		return p.list(']', depth)
	case c == '(':
		return p.list(')', depth)
	case c == '{':
		return p.dict(depth)
	case c == '\'' || c == '"':
		return p.str()
	case c == '-' || c == '+' || c == '.' || c >= '0' && c <= '9':
		return p.number()
	}
	for _, w := range literalWords {
		if word, v := w.word, w.value; strings.HasPrefix(p.s[p.i:], word) {
			end := p.i + len(word)
			if end < len(p.s) && isIdentByte(p.s[end]) {
				return nil, false
			}
			p.i = end
			return v, true
		}
	}
	return nil, false
}

// literalWords are the names literal_eval takes (JSON's as ansible-core
// maps them).
var literalWords = []struct {
	word  string
	value any
}{{"True", true}, {"False", false}, {"None", nil}, {"true", true}, {"false", false}, {"null", nil}}

func isIdentByte(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

func (p *litParser) list(end byte, depth int) (any, bool) {
	p.i++ // [ or (
	out := []any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			return out, true
		}
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		out = append(out, v)
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == end {
			p.i++
			return out, true
		}
		return nil, false
	}
}

func (p *litParser) dict(depth int) (any, bool) {
	p.i++ // {
	out := map[string]any{}
	for {
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, true
		}
		k, ok := p.value(depth + 1)
		key, isStr := k.(string)
		if !ok || !isStr {
			return nil, false // a set, or keys host vars cannot have
		}
		p.space()
		if p.i >= len(p.s) || p.s[p.i] != ':' {
			return nil, false
		}
		p.i++
		p.space()
		v, ok := p.value(depth + 1)
		if !ok {
			return nil, false
		}
		out[key] = v
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ',' {
			p.i++
			continue
		}
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return out, true
		}
		return nil, false
	}
}

func (p *litParser) str() (any, bool) {
	q := p.s[p.i]
	p.i++
	var b strings.Builder
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == q:
			p.i++
			return b.String(), true
		case c == '\n':
			return nil, false
		case c == '\\' && p.i+1 < len(p.s):
			p.i++
			switch e := p.s[p.i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '\\', '\'', '"':
				b.WriteByte(e)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if p.i+n >= len(p.s) {
					return nil, false
				}
				r, err := strconv.ParseUint(p.s[p.i+1:p.i+1+n], 16, 32)
				if err != nil || !utf8.ValidRune(rune(r)) {
					return nil, false
				}
				b.WriteRune(rune(r))
				p.i += n
			default:
				b.WriteByte('\\')
				b.WriteByte(e)
			}
			p.i++
		default:
			b.WriteByte(c)
			p.i++
		}
	}
	return nil, false
}

func (p *litParser) number() (any, bool) {
	start := p.i
	if p.s[p.i] == '-' || p.s[p.i] == '+' {
		p.i++
	}
	float := false
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c >= '0' && c <= '9', c == '_':
		case c == '.' || c == 'e' || c == 'E':
			float = true
		case (c == '-' || c == '+') && (p.s[p.i-1] == 'e' || p.s[p.i-1] == 'E'):
		default:
			goto done
		}
		p.i++
	}
done:
	text := strings.ReplaceAll(p.s[start:p.i], "_", "")
	if float {
		f, err := strconv.ParseFloat(text, 64)
		return f, err == nil
	}
	n, err := strconv.ParseInt(text, 10, 64)
	if err != nil {
		return nil, false // beyond int64, or not a number
	}
	if digits := strings.TrimLeft(text, "+-"); digits[0] == '0' && n != 0 {
		return nil, false // Python refuses leading zeros ("012"), not "00"
	}
	return n, true
}
