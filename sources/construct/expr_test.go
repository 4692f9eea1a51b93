package construct

import (
	"reflect"
	"strings"
	"testing"
)

func testVars() map[string]any {
	return map[string]any{
		"tags":      map[string]any{"Name": "web-1", "Role": "web", "Empty": "", "Nil": nil},
		"placement": map[string]any{"region": "us-east-1", "availability_zone": "us-east-1a"},
		"security_groups": []any{
			map[string]any{"group_id": "sg-1", "group_name": "web"},
			map[string]any{"group_id": "sg-2", "group_name": "ssh"},
		},
		"n":      16,
		"i64":    int64(-3),
		"f":      1.5,
		"none":   nil,
		"t":      true,
		"s":      "Hello World",
		"list":   []any{"b", "a", "B", "c", "a"},
		"nested": []any{[]any{1, []any{2, nil}}, "None", 3},
		"launch": "2024-01-02 03:04:05+00:00",
	}
}

func evalString(t testing.TB, src string, vars map[string]any) (any, error) {
	t.Helper()
	n, err := compileExpr(src, false)
	if err != nil {
		return nil, err
	}
	c := &Constructor{cache: newRegexCache()}
	return c.eval(c.newEnv(vars), n)
}

func TestExpressions(t *testing.T) {
	tests := []struct {
		src  string
		want any
	}{
		// variables and paths
		{"tags.Name", "web-1"},
		{"tags['Role']", "web"},
		{`tags["Name"]`, "web-1"},
		{"placement.region", "us-east-1"},
		{"security_groups[1].group_id", "sg-2"},
		{"security_groups.0.group_name", "web"},
		{"security_groups[-1]['group_name']", "ssh"},
		{"tags.Nil", nil},
		{"n", 16},
		{"tags", map[string]any{"Name": "web-1", "Role": "web", "Empty": "", "Nil": nil}},
		// literals
		{"none", nil}, {"None", nil}, {"true", true}, {"False", false},
		{"[1, 'a', none]", []any{int64(1), "a", nil}},
		{"{'a': 1, 'b': [true]}", map[string]any{"a": int64(1), "b": []any{true}}},
		{"('a', 'b')", []any{"a", "b"}},
		{`'a\tb\x41\u00e9\d'`, "a\tbAé\\d"},
		// arithmetic, Python style
		{"n + 1", int64(17)}, {"n - 20", int64(-4)}, {"n * 2", int64(32)}, {"n / 4", 4.0},
		{"7 // 2", int64(3)}, {"-7 // 2", int64(-4)}, {"-7 % 3", int64(2)}, {"2 ** 10", int64(1024)},
		{"f * 2", 3.0}, {"f + n", 17.5}, {"t + 1", int64(2)},
		{"'ab' * 3", "ababab"}, {"[1] * 2", []any{int64(1), int64(1)}},
		{"'a' + 'b'", "ab"}, {"[1] + [2]", []any{int64(1), int64(2)}},
		{"n ~ '-' ~ f ~ none ~ t", "16-1.5NoneTrue"},
		{"'%s-%05.1f-%d' % ('x', 2.25, 7)", "x-002.2-7"},
		{"-n", int64(-16)},
		// comparisons and logic
		{"n == 16.0", true}, {"t == 1", true}, {"'a' < 'b'", true}, {"[1, 2] < [1, 3]", true},
		{"n > 3 and n < 20", true}, {"none or 'fallback'", "fallback"}, {"'' and 'x'", ""},
		{"n and 'x'", "x"}, {"t or missing", true}, {"0 and missing", int64(0)}, // short-circuit
		{"not tags.Empty", true},
		{"'web' in tags.Name", true}, {"'Role' in tags", true}, {"'x' not in list", true},
		{"'devel' in (tags|list)", false}, {"'Name' in (tags|list)", true},
		{"'Name' in tags | list", true}, {"'WEB' in tags.Name | upper", true}, {"'web' in tags.Name | upper", false},
		{"'web' not in tags.Name | upper", true}, {"('web' in tags.Name) | string", "True"},
		{"'x' in ['a'] | union(['x'])", true}, {"'a' in (tags.keys() | list) | map('lower')", false},
		{"'yes' if n > 3 else 'no'", "yes"},
		// tests
		{"tags.Missing is defined", false}, {"tags.Missing is undefined", true},
		{"missing.deeper.still is defined", false}, {"tags.Nil is defined", true},
		{"tags.Nil is none", true}, {"n is number", true}, {"s is string", true},
		{"tags is mapping", true}, {"list is sequence", true}, {"n is even", true}, {"n is divisibleby 4", true},
		{"s is match('Hello')", true}, {"s is match('World')", false}, {"s is search('World')", true},
		{"s is match('hello', true)", true},
		{"list is contains('c')", true}, {"['a'] is subset(list)", true},
		{"n is gt 10", true}, {"n is eq 16", true},
		// default
		{"missing | default('x')", "x"}, {"tags.Missing | d('x')", "x"}, {"tags.Nil | default('x')", nil},
		{"tags.Empty | default('x', true)", "x"}, {"missing.a.b | default(5)", int64(5)},
		// string filters and methods
		{"s | lower", "hello world"}, {"s | upper", "HELLO WORLD"}, {"'hELLO wORLD' | capitalize", "Hello world"},
		{"'hello big-world' | title", "Hello Big-World"}, {"'  x  ' | trim", "x"}, {"'xxaxx' | trim('x')", "a"},
		{"s | replace('o', '0')", "Hell0 W0rld"}, {"s | replace('o', '0', 1)", "Hell0 World"},
		{"n | string", "16"}, {"f | string", "1.5"}, {"none | string", "None"}, {"list | string", "['b', 'a', 'B', 'c', 'a']"},
		{"s.split()", []any{"Hello", "World"}}, {"'a,b,,c'.split(',')", []any{"a", "b", "", "c"}},
		{"'a,b,c'.split(',', 1)", []any{"a", "b,c"}}, {"'a,b,c'.rsplit(',', 1)", []any{"a,b", "c"}},
		{"s | split(' ')", []any{"Hello", "World"}},
		{"s.startswith('He')", true}, {"s.endswith(('x', 'ld'))", true}, {"s.lower().replace(' ', '_')", "hello_world"},
		{"'-'.join(['a', 'b'])", "a-b"}, {"'{}-{}'.format('a', 1)", "a-1"}, {"'x'.zfill(3)", "00x"},
		{"s.find('World')", int64(6)}, {"'123'.isdigit()", true},
		{"tags.keys() | list | sort", []any{"Empty", "Name", "Nil", "Role"}},
		{"tags.get('Role')", "web"}, {"tags.get('Nope', 'dflt')", "dflt"},
		// conversions
		{"'42' | int", int64(42)}, {"'4.7' | int", int64(4)}, {"'x' | int", int64(0)}, {"'x' | int(7)", int64(7)},
		{"'ff' | int(base=16)", int64(255)}, {"f | int", int64(1)}, {"'1.25' | float", 1.25}, {"'x' | float", 0.0},
		{"'yes' | bool", true}, {"'off' | bool", false}, {"1 | bool", true}, {"none | bool", nil},
		{"s | list | first", "H"}, {"list | first", "b"}, {"list | last", "a"}, {"list | length", int64(5)},
		{"s | length", int64(11)}, {"tags | count", int64(4)}, {"'café' | length", int64(4)},
		// list filters
		{"list | unique", []any{"b", "a", "c"}}, {"list | unique(case_sensitive=true)", []any{"b", "a", "B", "c"}},
		{"list | sort", []any{"a", "a", "b", "B", "c"}}, {"list | sort(reverse=true, case_sensitive=true)", []any{"c", "b", "a", "a", "B"}},
		{"list | join('+')", "b+a+B+c+a"}, {"[1, 2] | join", "12"},
		{"list | reverse | list", []any{"a", "c", "B", "a", "b"}},
		{"[3, 1, 2] | max", int64(3)}, {"[3, 1, 2] | min", int64(1)}, {"[1, 2, 3] | sum", int64(6)},
		{"nested | flatten", []any{1, 2, 3}}, {"nested | flatten(levels=1)", []any{1, []any{2, nil}, 3}},
		{"nested | flatten(skip_nulls=false)", []any{1, 2, nil, "None", 3}},
		{"security_groups | map(attribute='group_id') | list", []any{"sg-1", "sg-2"}},
		{"security_groups | map(attribute='nope', default='d') | list", []any{"d", "d"}},
		{"list | map('upper') | list", []any{"B", "A", "B", "C", "A"}},
		{"list | map('regex_replace', '[ab]', 'x') | list", []any{"x", "x", "B", "c", "x"}},
		{"security_groups | selectattr('group_name', 'equalto', 'ssh') | map(attribute='group_id') | first", "sg-2"},
		{"security_groups | rejectattr('group_name', 'match', 'ss') | map(attribute='group_id') | list", []any{"sg-1"}},
		{"[0, 1, '', 'a', none] | select | list", []any{int64(1), "a"}},
		{"[1, 2, 3, 4] | select('odd') | list", []any{int64(1), int64(3)}},
		{"[1, 2, 3, 4] | reject('odd') | list", []any{int64(2), int64(4)}},
		{"[1, 2] | zip(['a', 'b']) | list", []any{[]any{int64(1), "a"}, []any{int64(2), "b"}}},
		{"dict(['a', 'b'] | zip([1, 2]))", map[string]any{"a": int64(1), "b": int64(2)}},
		{"dict(a=1)", map[string]any{"a": int64(1)}},
		{"[1, 2, 2, 3] | difference([2])", []any{int64(1), int64(3)}},
		{"[1, 2, 2, 3] | intersect([2, 3, 4])", []any{int64(2), int64(3)}},
		{"[1, 2] | union([2, 3])", []any{int64(1), int64(2), int64(3)}},
		{"[1, 2] | symmetric_difference([2, 3])", []any{int64(1), int64(3)}},
		{"range(3) | list", []any{int64(0), int64(1), int64(2)}}, {"range(5, 0, -2) | list", []any{int64(5), int64(3), int64(1)}},
		{"[1, 2, 3, 4, 5][1:3]", []any{int64(2), int64(3)}}, {"s[::-1]", "dlroW olleH"}, {"s[-5:]", "World"},
		{"[1,2,3,4,5] | batch(2) | list", []any{[]any{int64(1), int64(2)}, []any{int64(3), int64(4)}, []any{int64(5)}}},
		// dict filters
		{"{'b': 1, 'a': 2} | dict2items", []any{map[string]any{"key": "a", "value": int64(2)}, map[string]any{"key": "b", "value": int64(1)}}},
		{"{'a': 1} | dict2items(key_name='k', value_name='v')", []any{map[string]any{"k": "a", "v": int64(1)}}},
		{"[{'key': 'a', 'value': 1}] | items2dict", map[string]any{"a": int64(1)}},
		{"{'a': 1} | items | list", []any{[]any{"a", int64(1)}}},
		{"{'a': {'x': 1}, 'l': [1]} | combine({'a': {'y': 2}, 'l': [2]})", map[string]any{"a": map[string]any{"y": int64(2)}, "l": []any{int64(2)}}},
		{"{'a': {'x': 1}, 'l': [1]} | combine({'a': {'y': 2}, 'l': [2]}, recursive=true, list_merge='append')",
			map[string]any{"a": map[string]any{"x": int64(1), "y": int64(2)}, "l": []any{int64(1), int64(2)}}},
		{"tags | dict2items | selectattr('value') | items2dict | length", int64(2)},
		// regex
		{"s | regex_replace('o', '0')", "Hell0 W0rld"},
		{"s | regex_replace('(\\\\w+) (\\\\w+)', '\\\\2 \\\\1')", "World Hello"},
		{"s | regex_replace('(?P<a>\\\\w+) (\\\\w+)', '\\\\g<2>-\\\\g<a>')", "World-Hello"},
		{"s | regex_replace('O', '0', ignorecase=true)", "Hell0 W0rld"},
		{"s | regex_replace('$', '$1')", "Hello World$1"},
		{"launch | regex_replace(' ', 'T') | regex_replace('(\\\\+)(\\\\d\\\\d):(\\\\d)(\\\\d)$', '.\\\\g<2>\\\\g<3>Z')", "2024-01-02T03:04:05.000Z"},
		{"s | regex_search('W\\\\w+')", "World"}, {"s | regex_search('xyz')", nil},
		{"s | regex_search('(\\\\w+) (\\\\w+)', '\\\\2', '\\\\1')", []any{"World", "Hello"}},
		{"s | regex_findall('o')", []any{"o", "o"}}, {"s | regex_findall('(l+)(o)')", []any{[]any{"ll", "o"}}},
		{"'a.b' | regex_escape", "a\\.b"},
		{"'us-east-1' | regex_replace('[^A-Za-z0-9\\\\_]', '_')", "us_east_1"},
		// json
		{"security_groups | json_query('[].group_id')", []any{"sg-1", "sg-2"}},
		{"security_groups | json_query(\"[?group_name=='ssh'].group_id | [0]\")", "sg-2"},
		{"{'n': 3} | json_query('n')", int64(3)},
		{"{'b': [1, 2.5, true, none], 'a': 'é'} | to_json", `{"a": "\u00e9", "b": [1, 2.5, true, null]}`},
		{"{'b': 1, 'a': [1]} | to_nice_json", "{\n    \"a\": [\n        1\n    ],\n    \"b\": 1\n}"},
		{"'{\"a\": [1, 2.0, \"x\"]}' | from_json", map[string]any{"a": []any{int64(1), 2.0, "x"}}},
		// misc Ansible
		{"t | ternary('yes', 'no')", "yes"}, {"none | ternary('y', 'n', 'null')", "null"},
		{"'aGVsbG8=' | b64decode", "hello"}, {"'hello' | b64encode", "aGVsbG8="},
		{"'/a/b/c.txt' | basename", "c.txt"}, {"'/a/b/c.txt' | dirname", "/a/b"},
		{"'a' | extract({'a': {'b': 1}}, 'b')", int64(1)},
		{"n | type_debug", "int"}, {"'%s=%s' | format('a', 1)", "a=1"},
		{"-2.5 | abs", 2.5}, {"2.5 | round", 2.0}, {"2.567 | round(2)", 2.57}, {"2.1 | round(method='ceil')", 3.0},
		{"1e20", 1e20}, {"0.1 + 0.2", 0.30000000000000004},
	}
	vars := testVars()
	for _, tt := range tests {
		got, err := evalString(t, tt.src, vars)
		if err != nil {
			t.Errorf("%s: unexpected error %v", tt.src, err)
			continue
		}
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s = %#v, want %#v", tt.src, got, tt.want)
		}
	}
}

func TestExpressionErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"missing", "'missing' is undefined"},
		{"tags.Missing", "'dict object' has no attribute 'Missing'"},
		{"tags.Missing.deeper", "'dict object' has no attribute 'Missing'"},
		{"none.attr", "'None' has no attribute 'attr'"},
		{"tags.Missing == 'x'", "has no attribute 'Missing'"},
		{"tags.Missing != 'x'", "has no attribute 'Missing'"},
		{"missing ~ 'x'", "'missing' is undefined"},
		{"missing | lower", "'missing' is undefined"},
		{"missing | length", "'missing' is undefined"},
		{"missing + 1", "'missing' is undefined"},
		{"missing and 1", "'missing' is undefined"}, {"0 or missing", "'missing' is undefined"},
		{"not missing", "'missing' is undefined"}, {"1 if missing else 2", "'missing' is undefined"},
		{"'x' in missing", "'missing' is undefined"},
		{"[missing]", "'missing' is undefined"},
		{"{'a': missing}", "'missing' is undefined"},
		{"missing | mandatory", "Mandatory variable not defined"},
		{"[] | first", "No first item"},
		{"n + 'a'", "unsupported operand type(s) for +: 'int' and 'str'"},
		{"n > 'a'", "'>' not supported between instances of 'int' and 'str'"},
		{"1 / 0", "division by zero"},
		{"9223372036854775807 + 1", "integer overflow"},
		{"n()", "'int' object is not callable"},
		{"tags.keys", "function"},
		{"tags.update({})", "not available"},
		{"lookup('env', 'HOME')", "lookup plugins are not available"},
		{"query('file', '/etc/passwd')", "lookup plugins are not available"},
		{"s | regex_replace('(?<=a)b', 'c')", "invalid regular expression"},
		{"s | regex_replace('(a)', '\\\\2')", "invalid group reference"},
		{"s | json_query('[')", "invalid JMESPath"},
		{"'x' | from_json", "invalid JSON"},
		{"n | dict2items", "dict2items requires a dictionary"},
		{"none | list", "'NoneType' object is not iterable"},
		{"x if false", "no else section"},
	}
	vars := testVars()
	for _, tt := range tests {
		got, err := evalString(t, tt.src, vars)
		if err == nil {
			t.Errorf("%s = %#v, want error containing %q", tt.src, got, tt.want)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %q, want it to contain %q", tt.src, err, tt.want)
		}
	}
}

func TestCompileErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"", "empty expression"},
		{"tags.", "syntax error"},
		{"(a", "syntax error"},
		{"a | nosuchfilter", "no filter named 'nosuchfilter'"},
		{"a is nosuchtest", "no test named 'nosuchtest'"},
		{"a | replace('a', 'b', 1, 2)", "takes at most 3 arguments"},
		{"a | lower(x=1)", "unexpected keyword argument 'x'"},
		{"a }} {{ b", "single expression"},
		{"a | random", "no filter named 'random'"},
	}
	for _, tt := range tests {
		_, err := compileExpr(tt.src, false)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("compileExpr(%q) error = %v, want it to contain %q", tt.src, err, tt.want)
		}
	}
}

func TestPyFloat(t *testing.T) {
	tests := map[float64]string{
		0: "0.0", 1: "1.0", -2.5: "-2.5", 0.1: "0.1", 1e16: "1e+16", 1234567890123456: "1234567890123456.0",
		0.0001: "0.0001", 0.00001: "1e-05", 1.5e-7: "1.5e-07", 1e22: "1e+22", 123.456: "123.456",
	}
	for f, want := range tests {
		if got := pyFloat(f); got != want {
			t.Errorf("pyFloat(%v) = %q, want %q", f, got, want)
		}
	}
}

func TestPyRepr(t *testing.T) {
	v := map[string]any{"b": []any{"it's", int64(1), 2.0, nil, true}, "a": "x\ny"}
	if got, want := pyRepr(v), `{'a': 'x\ny', 'b': ["it's", 1, 2.0, None, True]}`; got != want {
		t.Errorf("pyRepr = %s, want %s", got, want)
	}
}
