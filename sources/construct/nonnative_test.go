package construct

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// TestComposeIsTemplatedAsAnsibleDoes compares compose results with what
// ansible-core's Templar gives for the same expressions over the same
// vars: ansible-core 2.14.18 (Debian 12), taken with
//
//	t = Templar(loader=DataLoader()); t.available_variables = vars
//	t.template("{{ %s }}" % expr, disable_lookups=True)
//
// Numbers and None become text unless the template is a single variable;
// text that reads as a list, dict or boolean becomes that value.
func TestComposeIsTemplatedAsAnsibleDoes(t *testing.T) {
	vars := pythonJSON(t, `{"n": 4, "f": 1.5, "whole": 1.0, "big": 1e+20, "tiny": 1e-05, "b": true, "l": [1, "a", null, 2.5], "d": {"k": 1, "z": null}, "none": null, "s": "[1, 2]", "st": "True", "sf": "false", "word": "web", "js": "{\"a\": [true, null]}", "bad": "[x]", "tags": {"Env": "prod"}}`).(map[string]any)
	for _, tc := range []struct{ expr, want string }{
		{"n", `4`},
		{" n ", `4`},
		{"f", `1.5`},
		{"whole", `1.0`},
		{"big", `1e+20`},
		{"tiny", `1e-05`},
		{"b", `true`},
		{"none", `null`},
		{"l", `[1, "a", null, 2.5]`},
		{"d", `{"k": 1, "z": null}`},
		{"s", `[1, 2]`},
		{"st", `true`},
		{"sf", `"false"`},
		{"word", `"web"`},
		{"js", `{"a": [true, null]}`},
		{"bad", `"[x]"`},
		{"tags", `{"Env": "prod"}`},
		{"n + 1", `"5"`},
		{"d.k", `"1"`},
		{"d.z", `""`},
		{"whole * 2", `"2.0"`},
		{"f * 2", `"3.0"`},
		{"b and b", `true`},
		{"l | length", `"4"`},
		{"tags.Env", `"prod"`},
		{"word ~ '-x'", `"web-x"`},
		{"'[1, true, null]'", `[1, true, null]`},
		{"'{\"a\": 1}'", `{"a": 1}`},
		{"'012'", `"012"`},
		{"missing | default(None)", `""`},
		{"missing | default(3)", `"3"`},
		{"[n, f]", `[4, 1.5]`},
		{"{'a': n}", `{"a": 4}`},
		{"n > 3", `true`},
		{"'True'", `true`},
		{"'true'", `"true"`},
		{"'None'", `"None"`},
		{"big * 1", `"1e+20"`},
		{"tiny * 1", `"1e-05"`},
	} {
		c, err := Parse(map[string]any{"compose": map[string]any{"v": tc.expr}, "strict": true})
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		res, err := c.Apply(vars)
		if err != nil {
			t.Fatalf("%s: %v", tc.expr, err)
		}
		var want any
		if err := json.Unmarshal([]byte(tc.want), &want); err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(res.Vars["v"])
		var got any
		json.Unmarshal(b, &got)
		if !reflect.DeepEqual(got, want) {
			t.Errorf("{{ %s }} = %s, Ansible gives %s", tc.expr, b, tc.want)
		}
	}
}

// pythonJSON decodes JSON as Python does: integers as integers.
func pythonJSON(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	var conv func(any) any
	conv = func(v any) any {
		switch x := v.(type) {
		case json.Number:
			if i, err := x.Int64(); err == nil && !strings.ContainsAny(x.String(), ".eE") {
				return i
			}
			f, _ := x.Float64()
			return f
		case []any:
			for i := range x {
				x[i] = conv(x[i])
			}
		case map[string]any:
			for k := range x {
				x[k] = conv(x[k])
			}
		}
		return v
	}
	return conv(v)
}

func TestLiteralEvalRefusesWhatPythonRefuses(t *testing.T) {
	for _, s := range []string{"[x]", "[1, 2", "{1: 2}", "{'a' 1}", "[012]", "[True1]", "['a\\nb]", "[" + string(make([]byte, 0)) + "]]"} {
		if v, ok := literalEval(s); ok {
			t.Errorf("literalEval(%q) = %v, want refused", s, v)
		}
	}
	deep := ""
	for range 1000 {
		deep += "["
	}
	if _, ok := literalEval(deep); ok {
		t.Error("literalEval of 1,000 open brackets succeeded")
	}
	v, ok := literalEval(`{'a': (1, -2.5e3, 'x\'y'), "b": {}, 'c': [None, true]}`)
	want := map[string]any{"a": []any{int64(1), -2500.0, "x'y"}, "b": map[string]any{}, "c": []any{nil, true}}
	if !ok || !reflect.DeepEqual(v, want) {
		t.Errorf("literalEval = %#v, %v", v, ok)
	}
}
