package construct

import (
	"strings"
	"testing"
	"time"
)

// TestSandboxBounds checks that runaway templates stop with an error,
// quickly, instead of hanging a sync; past a limit, the error fails Apply
// although strict is false.
func TestSandboxBounds(t *testing.T) {
	vars := map[string]any{"big": strings.Repeat("x", 1<<16), "n": 100000, "m": 2000}
	tests := []struct {
		name, parent string
		want         LimitKind // "" for a template error, skipped with a warning
		msg          string
	}{
		{"nested for over large ranges", "{% for i in range(m) %}{% for j in range(m) %}{% if i < 0 %}{{ i }}{% endif %}{% endfor %}{% endfor %}", LimitSteps, "step budget"},
		{"for over a range past the cap", "{% for i in range(n * 100) %}x{% endfor %}", "", "range too big"},
		{"output too large", "{% for i in range(1000) %}{{ big }}{% endfor %}", LimitValue, "64 KiB per value"},
		{"string repetition", "{{ 'x' * n * 1000 }}", LimitValue, "64 KiB per value"},
		{"list repetition", "{{ ([1] * n) * n }}", LimitValue, "64 KiB per value"},
		{"nested loops over a list", "{% for a in range(m) %}{% for b in range(m) %}{% endfor %}{% endfor %}", LimitSteps, "step budget"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := mustParse(t, map[string]any{"keyed_groups": []any{map[string]any{"key": "'k'", "parent_group": tt.parent}}})
			start := time.Now()
			res, err := c.Apply(vars)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("took %v", elapsed)
			}
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], tt.msg) {
					t.Errorf("Warnings = %q, want one containing %q", res.Warnings, tt.msg)
				}
				if len(res.Groups) != 0 {
					t.Errorf("Groups = %q, want none (entry skipped)", res.Groups)
				}
				return
			}
			wantLimit(t, err, "keyed_groups[0].parent_group", tt.want)
			if !strings.Contains(err.Error(), tt.msg) {
				t.Errorf("error %q does not say %q", err, tt.msg)
			}
		})
	}
}

func TestSandboxExpressionBounds(t *testing.T) {
	vars := map[string]any{}
	for src, want := range map[string]string{
		"range(1000000000) | list":                        "range too big",
		"'x' * 10000000000":                               "64 KiB per value",
		"(range(100000) | list) * 100":                    "64 KiB per value",
		"range(10000) | map('string') | join(',') * 1000": "64 KiB per value",
		"2 ** 100":              "integer overflow",
		"(-1) ** 1000000000000": "", // O(1), no loop
		"range(5000) | map('string') | unique | length": "step budget",
		"range(5000) | difference(range(5000)) | first": "step budget",
		"range(9000) | union([]) | length":              "step budget", // deduplicating is quadratic
	} {
		start := time.Now()
		_, err := evalString(t, src, vars)
		if elapsed := time.Since(start); elapsed > time.Second {
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
		got, err := tpl.render((&Constructor{cache: newRegexCache()}).newEnv(vars))
		if err != nil {
			t.Errorf("%s: %v", tt.src, err)
			continue
		}
		if got != tt.want {
			t.Errorf("%s = %q, want %q", tt.src, got, tt.want)
		}
	}
}
