package construct

import (
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

func TestKeys(t *testing.T) {
	for _, k := range []string{"compose", "groups", "keyed_groups", "strict", "leading_separator", "use_extra_vars"} {
		if !slices.Contains(Keys(), k) {
			t.Errorf("Keys() lacks %q", k)
		}
	}
}

func TestParseEmpty(t *testing.T) {
	c, err := Parse(nil)
	if err != nil {
		t.Fatal(err)
	}
	if !c.Empty() {
		t.Error("Parse(nil) constructs something")
	}
	res, err := c.Apply(map[string]any{"a": 1})
	if err != nil || res.Vars != nil || len(res.Groups) != 0 || res.Edges != nil || res.Warnings != nil {
		t.Errorf("Apply = %+v, %v; want an empty result", res, err)
	}
}

func TestParseFieldErrors(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		want   map[string]string // field -> message fragment
	}{
		{"compose not a mapping", map[string]any{"compose": []any{"a"}},
			map[string]string{"compose": "must be a mapping of variable names to expressions"}},
		{"compose empty name", map[string]any{"compose": map[string]any{"": "a |"}},
			map[string]string{"compose.": "variable name must not be empty"}},
		{"compose syntax error", map[string]any{"compose": map[string]any{"ansible_host": "private_ip_address |", "ok": "a"}},
			map[string]string{"compose.ansible_host": "syntax error"}},
		{"compose list value", map[string]any{"compose": map[string]any{"x": []any{1}}},
			map[string]string{"compose.x": "must be a Jinja2 expression"}},
		{"compose unknown filter", map[string]any{"compose": map[string]any{"x": "a | shuffle"}},
			map[string]string{"compose.x": "no filter named 'shuffle'"}},
		{"groups syntax error", map[string]any{"groups": map[string]any{"web": "tags.Role ==", "db": "true"}},
			map[string]string{"groups.web": "syntax error"}},
		{"groups empty name", map[string]any{"groups": map[string]any{"": "true"}},
			map[string]string{"groups.": "group name must not be empty"}},
		{"groups not a mapping", map[string]any{"groups": "web"},
			map[string]string{"groups": "must be a mapping of group names to conditionals"}},
		{"keyed_groups not a list", map[string]any{"keyed_groups": map[string]any{"key": "a"}},
			map[string]string{"keyed_groups": "must be a list"}},
		{"keyed_groups entry not a mapping", map[string]any{"keyed_groups": []any{"tags"}},
			map[string]string{"keyed_groups[0]": "must be a mapping"}},
		{"keyed_groups errors", map[string]any{"keyed_groups": []any{
			map[string]any{"key": "a", "prefix": "x"},
			map[string]any{"prefix": "no key"},
			map[string]any{"key": "a |", "prefix": "x"},
			map[string]any{"key": "a", "default_value": "d", "trailing_separator": false},
			map[string]any{"key": "a", "separator": []any{"_"}},
			map[string]any{"key": "a", "parent_group": "{% include 'x' %}"},
			map[string]any{"key": "a", "priority": 10},
			map[string]any{"key": "a", "prefx": "typo"},
			map[string]any{"key": "a", "trailing_separator": "sometimes"},
			map[string]any{"key": "a", "parent_group": "{{ a "},
		}}, map[string]string{
			"keyed_groups[1].key":                "required",
			"keyed_groups[2].key":                "syntax error",
			"keyed_groups[3].default_value":      "mutually exclusive with trailing_separator",
			"keyed_groups[4].separator":          "must be a string",
			"keyed_groups[5].parent_group":       "statement 'include' is not allowed",
			"keyed_groups[6].priority":           "not supported",
			"keyed_groups[7].prefx":              "unknown option",
			"keyed_groups[8].trailing_separator": "must be a boolean",
			"keyed_groups[9].parent_group":       "syntax error",
		}},
		{"booleans", map[string]any{"strict": "maybe", "leading_separator": []any{}},
			map[string]string{"strict": "must be a boolean", "leading_separator": "must be a boolean"}},
		{"use_extra_vars true", map[string]any{"use_extra_vars": true},
			map[string]string{"use_extra_vars": "not supported"}},
		{"not ours", map[string]any{"regions": []any{"us-east-1"}},
			map[string]string{"regions": "not a constructed option"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.config)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("code = %q, want %q (%v)", roster.ErrorCode(err), roster.EINVALID, err)
			}
			got := map[string]string{}
			for _, f := range roster.ErrorFields(err) {
				got[f.Field] = f.Message
			}
			for field, frag := range tt.want {
				msg, ok := got[field]
				if !ok {
					t.Errorf("no error for %s; got %v", field, got)
					continue
				}
				if !strings.Contains(msg, frag) {
					t.Errorf("%s: %q, want it to contain %q", field, msg, frag)
				}
			}
			if len(got) != len(tt.want) {
				t.Errorf("got %d field errors, want %d: %v", len(got), len(tt.want), got)
			}
		})
	}
}

func TestParseAccepts(t *testing.T) {
	_, err := Parse(map[string]any{
		"strict":            "yes",
		"leading_separator": false,
		"use_extra_vars":    false,
		"compose":           map[string]any{"ansible_port": 2222, "flag": true, "ratio": 0.5},
		"groups":            map[string]any{"all_ec2": true},
		"keyed_groups": []any{
			map[string]any{"key": "tags", "trailing_separator": false, "leading_separator": true},
			map[string]any{"key": "a", "prefix": 12, "default_value": 0},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestApplyConstants(t *testing.T) {
	c, err := Parse(map[string]any{
		"compose":      map[string]any{"ansible_port": 2222, "flag": true},
		"groups":       map[string]any{"all_ec2": true, "never": false},
		"keyed_groups": []any{map[string]any{"key": "a", "prefix": 12, "default_value": 0}},
	})
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Apply(map[string]any{"a": ""})
	if err != nil {
		t.Fatal(err)
	}
	// As ansible-core templates them: "{{ 2222 }}" is text, "{{ True }}" a boolean.
	if res.Vars["ansible_port"] != "2222" || res.Vars["flag"] != true {
		t.Errorf("Vars = %v", res.Vars)
	}
	if want := []string{"_2_0", "all_ec2"}; !slices.Equal(res.Groups, want) {
		t.Errorf("Groups = %v, want %v", res.Groups, want)
	}
}
