package construct

import (
	"strings"
	"testing"
	"time"
)

// TestSandboxBounds checks that runaway templates stop with an error,
// quickly, instead of hanging a sync.
func TestSandboxBounds(t *testing.T) {
	vars := map[string]any{"big": strings.Repeat("x", 1<<16), "n": 100000}
	tests := []struct {
		name, parent, want string
	}{
		{"nested for over huge ranges", "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}", "step budget"},
		{"for over a range past the cap", "{% for i in range(10000000) %}x{% endfor %}", "range too big"},
		{"output too large", "{% for i in range(100000) %}{{ big }}{% endfor %}", "too large"},
		{"string repetition", "{{ 'x' * 100000000 }}", "too large"},
		{"list repetition", "{{ ([1] * 100000) * 100000 }}", "too large"},
		{"nested loops over a list", "{% for a in range(n) %}{% for b in range(n) %}{% endfor %}{% endfor %}", "step budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, map[string]any{"keyed_groups": []any{map[string]any{"key": "'k'", "parent_group": tt.parent}}})
			start := time.Now()
			res, err := c.Apply(vars)
			if err != nil {
				t.Fatal(err)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("took %v", elapsed)
			}
			if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], tt.want) {
				t.Errorf("Warnings = %q, want one containing %q", res.Warnings, tt.want)
			}
			if len(res.Groups) != 0 {
				t.Errorf("Groups = %q, want none (entry skipped)", res.Groups)
			}
		})
	}
}

func TestSandboxExpressionBounds(t *testing.T) {
	vars := map[string]any{}
	for src, want := range map[string]string{
		"range(1000000000) | list":                        "range too big",
		"'x' * 10000000000":                               "too large",
		"(range(100000) | list) * 100":                    "too large",
		"range(10000) | map('string') | join(',') * 1000": "too large",
		"2 ** 100":                        "integer overflow",
		"(-1) ** 1000000000000":           "", // O(1), no loop
		"range(100000) | unique | length": "step budget",
		"range(100000) | difference(range(100000)) | first": "step budget",
	} {
		start := time.Now()
		_, err := evalString(t, src, vars)
		if elapsed := time.Since(start); elapsed > 5*time.Second {
			t.Errorf("%s took %v", src, elapsed)
		}
		if want == "" {
			if err != nil {
				t.Errorf("%s: %v", src, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want %q", src, err, want)
		}
	}
}

// TestSandboxStatements checks that no statement reaching for files or
// defining code (include, import, extends, macro, call, set, ...) parses.
func TestSandboxStatements(t *testing.T) {
	for _, src := range []string{
		"{% include '/etc/passwd' %}",
		"{% import 'x.j2' as x %}",
		"{% from 'x.j2' import y %}",
		"{% extends 'base.j2' %}",
		"{% macro r(n) %}{{ r(n) }}{% endmacro %}{{ r(1) }}",
		"{% set x = 1 %}",
		"{% raw %}x{% endraw %}",
		"{% filter upper %}x{% endfilter %}",
		"{% for i in range(3) recursive %}{{ loop(i) }}{% endfor %}",
	} {
		_, err := Parse(map[string]any{"keyed_groups": []any{map[string]any{"key": "k", "parent_group": src}}})
		if err == nil {
			t.Errorf("%s: parsed", src)
			continue
		}
		if !strings.Contains(err.Error(), "keyed_groups[0].parent_group") {
			t.Errorf("%s: %v", src, err)
		}
	}
	// Expressions are expressions: statements cannot be smuggled in.
	for _, src := range []string{"x }}{% include 'a' %}{{ y", "x %}", "lookup('file', '/etc/passwd')"} {
		n, err := compileExpr(src, false)
		if err != nil {
			continue
		}
		if _, err := evalString(t, src, map[string]any{"x": 1}); err == nil {
			t.Errorf("%s: compiled to %T and evaluated", src, n)
		}
	}
}

func TestTemplates(t *testing.T) {
	vars := map[string]any{"region": "us-east-1", "tags": map[string]any{"b": "2", "a": "1"}, "none": nil, "l": []any{"x", "y"}}
	tests := []struct{ src, want string }{
		{"plain", "plain"},
		{"{{ region }}", "us-east-1"},
		{"{{ none }}", ""},
		{"{{ l }}", "['x', 'y']"},
		{"p-{{ region | upper }}-s", "p-US-EAST-1-s"},
		{"{% if region.startswith('us') %}us{% elif region %}other{% else %}none{% endif %}", "us"},
		{"{% for k, v in tags.items() %}{{ k }}={{ v }}{% if not loop.last %},{% endif %}{% endfor %}", "a=1,b=2"},
		{"{% for k in tags if k != 'a' %}{{ loop.index }}{{ k }}{% endfor %}", "1b"},
		{"{% for k in [] %}x{% else %}empty{% endfor %}", "empty"},
		{"{#- comment -#} {{- 'a' -}} \n", "a"},
		{"{{ 'x' if false else 'y' }}", "y"},
	}
	for _, tt := range tests {
		tpl, err := compileTemplate(tt.src)
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		got, err := tpl.render(&env{vars: vars, cache: newRegexCache()})
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %q, want %q", tt.src, got, tt.want)
		}
	}
}
