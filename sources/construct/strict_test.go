package construct

import (
	"slices"
	"sort"
	"testing"
)

// TestStrictAsAnsible214 checks which errors strict false swallows against
// ansible-core 2.14.18 (Debian 12): its Constructable mixin
// (_set_composite_vars, _add_host_to_composed_groups,
// _add_host_to_keyed_groups) run on the same vars and options. ansible-core
// swallows any error templating a compose entry, a groups conditional or a
// keyed_groups key, an empty key, and a parent_group template error; it
// raises whatever strict says on a key that is a number or boolean, on an
// empty group name and on a group made its own parent. fatal: Apply must
// fail (*EvalError) with strict false too.
func TestStrictAsAnsible214(t *testing.T) {
	vars := map[string]any{"n": int64(4), "s": "v", "e": "", "l": []any{}, "d": map[string]any{}}
	for _, tc := range []struct {
		name   string
		opts   map[string]any
		groups []string // the host's groups with strict false
		vars   []string // the composed vars with strict false
		fatal  bool     // fails with strict false
		strict bool     // fails with strict true
	}{
		{"compose undefined", map[string]any{"compose": map[string]any{"a": "nope", "b": "n"}}, nil, []string{"b"}, false, true},
		{"compose type error", map[string]any{"compose": map[string]any{"a": "n < 'x'", "b": "n"}}, nil, []string{"b"}, false, true},
		{"groups undefined", map[string]any{"groups": map[string]any{"g1": "nope", "g2": "n > 3", "g3": "nope.x == 1"}}, []string{"g2"}, nil, false, true},
		{"groups type error and truthiness", map[string]any{"groups": map[string]any{"g1": "n < 'a'", "g2": "'abc'", "g3": "0"}}, []string{"g2"}, nil, false, true},
		{"keyed undefined", map[string]any{"keyed_groups": []any{map[string]any{"key": "nope"}, map[string]any{"key": "'x'"}}}, []string{"_x"}, nil, false, true},
		{"keyed empty", map[string]any{"keyed_groups": []any{map[string]any{"key": "e"}, map[string]any{"key": "'x'"}}}, []string{"_x"}, nil, false, true},
		{"keyed empty list and dict", map[string]any{"keyed_groups": []any{map[string]any{"key": "l"}, map[string]any{"key": "d"}, map[string]any{"key": "'x'"}}}, []string{"_x"}, nil, false, false},
		{"keyed number", map[string]any{"keyed_groups": []any{map[string]any{"key": "n"}}}, nil, nil, true, true},
		{"keyed number expression", map[string]any{"keyed_groups": []any{map[string]any{"key": "n + 1"}}}, []string{"_5"}, nil, false, false},
		{"keyed boolean expression", map[string]any{"keyed_groups": []any{map[string]any{"key": "n > 3"}}}, nil, nil, true, true},
		{"parent_group undefined", map[string]any{"keyed_groups": []any{map[string]any{"key": "s", "parent_group": "{{ nope }}"}, map[string]any{"key": "'x'"}}}, []string{"_x"}, nil, false, true},
		{"parent_group empty", map[string]any{"keyed_groups": []any{map[string]any{"key": "s", "parent_group": "{{ e }}"}}}, []string{"_v"}, nil, false, false},
		{"parent_group is the group", map[string]any{"keyed_groups": []any{map[string]any{"key": "s", "prefix": "p", "parent_group": "p_v"}}}, nil, nil, true, true},
		{"empty group name", map[string]any{"leading_separator": false, "keyed_groups": []any{map[string]any{"key": "e", "default_value": ""}, map[string]any{"key": "'x'"}}}, nil, nil, true, true},
	} {
		for _, strict := range []bool{false, true} {
			opts := map[string]any{"strict": strict}
			for k, v := range tc.opts {
				opts[k] = v
			}
			res, err := mustParse(t, opts).Apply(vars)
			wantErr := tc.fatal || strict && tc.strict
			if (err != nil) != wantErr {
				t.Errorf("%s, strict %v: error %v, want an error: %v", tc.name, strict, err, wantErr)
				continue
			}
			if err != nil || strict {
				continue
			}
			if !slices.Equal(res.Groups, tc.groups) {
				t.Errorf("%s: groups %q, ansible-core %q", tc.name, res.Groups, tc.groups)
			}
			var names []string
			for k := range res.Vars {
				names = append(names, k)
			}
			sort.Strings(names)
			if !slices.Equal(names, tc.vars) {
				t.Errorf("%s: composed %q, ansible-core %q", tc.name, names, tc.vars)
			}
		}
	}
}

// TestMutuallyExclusiveKeyedOptions: ansible-core raises on default_value
// with trailing_separator when it meets a host whose key it could
// template; Roster refuses the options when the source is saved.
func TestMutuallyExclusiveKeyedOptions(t *testing.T) {
	_, err := Parse(map[string]any{"keyed_groups": []any{map[string]any{"key": "s", "default_value": "d", "trailing_separator": true}}})
	if err == nil {
		t.Fatal("Parse accepted default_value with trailing_separator")
	}
}
