package construct

import (
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rosterhq/roster"
)

func mustParse(t testing.TB, config map[string]any) *Constructor {
	t.Helper()
	c, err := Parse(config)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

// TestKeyedGroupNames compares keyed group names with ansible-core
// 2.14.18's (Debian 12), taken by running its Constructable mixin
// (_add_host_to_keyed_groups, strict false) on the same vars and entries.
// fatal: ansible-core raises whatever strict says (the inventory fails).
func TestKeyedGroupNames(t *testing.T) {
	vars := map[string]any{
		"s": "Web", "empty": "", "null": nil, "zero": 0, "num": 7, "yes": true, "no": false,
		"list":  []any{"a", "", nil, 2},
		"dict":  map[string]any{"k": "v", "e": "", "n": nil, "x": 1.5},
		"nolst": []any{}, "nodct": map[string]any{},
	}
	tests := []struct {
		name    string
		keyed   map[string]any
		leading any // plugin-level leading_separator, nil for the default
		want    []string
		fatal   bool
	}{
		{"string", map[string]any{"key": "s"}, nil, []string{"_Web"}, false},
		{"string with prefix", map[string]any{"key": "s", "prefix": "p"}, nil, []string{"p_Web"}, false},
		{"custom separator", map[string]any{"key": "s", "prefix": "p", "separator": "-"}, nil, []string{"p_Web"}, false},
		{"no leading separator", map[string]any{"key": "s"}, false, []string{"Web"}, false},
		{"no leading separator, prefix kept", map[string]any{"key": "s", "prefix": "p"}, false, []string{"p_Web"}, false},
		{"per-entry leading separator ignored", map[string]any{"key": "s", "leading_separator": false}, nil, []string{"_Web"}, false},
		{"empty separator", map[string]any{"key": "s", "separator": ""}, nil, []string{"Web"}, false},
		{"empty string skipped", map[string]any{"key": "empty", "prefix": "p"}, nil, nil, false},
		{"empty string default", map[string]any{"key": "empty", "prefix": "p", "default_value": "none"}, nil, []string{"p_none"}, false},
		{"empty default value", map[string]any{"key": "empty", "prefix": "p", "default_value": ""}, nil, []string{"p_"}, false},
		{"None skipped", map[string]any{"key": "null", "prefix": "p"}, nil, nil, false},
		{"None takes no default", map[string]any{"key": "null", "prefix": "p", "default_value": "none"}, nil, nil, false},
		{"zero skipped even with default", map[string]any{"key": "zero", "prefix": "p", "default_value": "d"}, nil, nil, false},
		{"false skipped", map[string]any{"key": "no", "prefix": "p"}, nil, nil, false},
		{"number", map[string]any{"key": "num", "prefix": "p"}, nil, nil, true},
		{"number expression", map[string]any{"key": "num + 1", "prefix": "p"}, nil, []string{"p_8"}, false},
		{"true", map[string]any{"key": "yes", "prefix": "p"}, nil, nil, true},
		{"true expression", map[string]any{"key": "num > 1", "prefix": "p"}, nil, nil, true},
		{"list", map[string]any{"key": "list", "prefix": "p"}, nil, []string{"p_", "p_2", "p_None", "p_a"}, false},
		{"list default", map[string]any{"key": "list", "prefix": "p", "default_value": "d"}, nil, []string{"p_2", "p_None", "p_a", "p_d"}, false},
		{"dict", map[string]any{"key": "dict", "prefix": "p"}, nil, []string{"p_e_", "p_k_v", "p_n_None", "p_x_1_5"}, false},
		{"dict default", map[string]any{"key": "dict", "prefix": "p", "default_value": "d"}, nil, []string{"p_e_d", "p_k_v", "p_n_None", "p_x_1_5"}, false},
		{"dict trailing false", map[string]any{"key": "dict", "prefix": "p", "trailing_separator": false}, nil, []string{"p_e", "p_k_v", "p_n_None", "p_x_1_5"}, false},
		{"dict trailing true", map[string]any{"key": "dict", "prefix": "p", "trailing_separator": true}, nil, []string{"p_e_", "p_k_v", "p_n_None", "p_x_1_5"}, false},
		{"dict separator", map[string]any{"key": "dict", "separator": ":", "trailing_separator": false}, false, []string{"e", "k_v", "n_None", "x_1_5"}, false},
		{"empty list", map[string]any{"key": "nolst", "prefix": "p", "default_value": "d"}, nil, nil, false},
		{"empty dict", map[string]any{"key": "nodct", "prefix": "p", "default_value": "d"}, nil, nil, false},
		{"sanitised", map[string]any{"key": "'1st tier/web'"}, false, []string{"_st_tier_web"}, false},
		{"text that reads as a list", map[string]any{"key": `'[1, "a"]'`, "prefix": "p"}, nil, []string{"p_1", "p_a"}, false},
		{"string filter keeps text", map[string]any{"key": `'[1, "a"]' | string`, "prefix": "p"}, nil, []string{"p__1___a__"}, false},
		{"empty name", map[string]any{"key": "empty", "default_value": ""}, false, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := map[string]any{"keyed_groups": []any{tt.keyed}}
			if tt.leading != nil {
				cfg["leading_separator"] = tt.leading
			}
			res, err := mustParse(t, cfg).Apply(vars)
			if tt.fatal {
				var ee *EvalError
				if !errors.As(err, &ee) {
					t.Fatalf("Apply = %q, %v; want an *EvalError with strict false", res.Groups, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(res.Groups, tt.want) {
				t.Errorf("Groups = %q, want %q", res.Groups, tt.want)
			}
			if len(res.Warnings) > 0 {
				t.Errorf("Warnings = %q", res.Warnings)
			}
		})
	}
}

func TestParentGroups(t *testing.T) {
	c := mustParse(t, map[string]any{"keyed_groups": []any{
		map[string]any{"key": "tags.Role", "prefix": "role", "parent_group": "roles"},
		map[string]any{"key": "[tags.Role, 'db']", "parent_group": "{{ region }}-apps"},
		map[string]any{"key": "tags.Role", "parent_group": "{{ missing }}"},
		map[string]any{"key": "tags.Role", "prefix": "x", "parent_group": "{{ '' }}"},
	}})
	res, err := c.Apply(map[string]any{"tags": map[string]any{"Role": "web"}, "region": "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	wantGroups := []string{"_db", "_web", "role_web", "x_web"}
	if !slices.Equal(res.Groups, wantGroups) {
		t.Errorf("Groups = %q, want %q", res.Groups, wantGroups)
	}
	wantEdges := []roster.GroupEdge{{Parent: "eu_west_1_apps", Child: "_db"}, {Parent: "eu_west_1_apps", Child: "_web"}, {Parent: "roles", Child: "role_web"}}
	if !slices.Equal(res.Edges, wantEdges) {
		t.Errorf("Edges = %v, want %v", res.Edges, wantEdges)
	}
	// A parent_group that fails to render skips the whole entry, as in Ansible.
	if len(res.Warnings) != 1 || !strings.HasPrefix(res.Warnings[0], "keyed_groups[2].parent_group: 'missing' is undefined") {
		t.Errorf("Warnings = %q", res.Warnings)
	}
}

// TestComposeOrder checks Ansible's order: compose entries see the host
// vars only; groups and keyed_groups see the composed vars too, over the
// host vars.
func TestComposeOrder(t *testing.T) {
	c := mustParse(t, map[string]any{
		"compose": map[string]any{
			"a_role":    "tags.Role | upper",
			"b_derived": "a_role | default('unset')", // not visible: compose sees host vars only
			"region":    "'overridden'",
		},
		"groups":       map[string]any{"web": "a_role == 'WEB'", "overridden": "region == 'overridden'"},
		"keyed_groups": []any{map[string]any{"key": "a_role", "prefix": "role"}, map[string]any{"key": "region", "prefix": "r"}},
	})
	vars := map[string]any{"tags": map[string]any{"Role": "web"}, "region": "us-east-1"}
	res, err := c.Apply(vars)
	if err != nil {
		t.Fatal(err)
	}
	if res.Vars["b_derived"] != "unset" || res.Vars["a_role"] != "WEB" {
		t.Errorf("Vars = %v", res.Vars)
	}
	if want := []string{"overridden", "r_overridden", "role_WEB", "web"}; !slices.Equal(res.Groups, want) {
		t.Errorf("Groups = %q, want %q", res.Groups, want)
	}
	if vars["region"] != "us-east-1" || len(vars) != 2 {
		t.Errorf("Apply modified its input: %v", vars)
	}
}

func TestStrict(t *testing.T) {
	cfg := func(strict bool) map[string]any {
		return map[string]any{
			"strict":       strict,
			"compose":      map[string]any{"ansible_host": "public_ip_address", "ok": "'x'"},
			"groups":       map[string]any{"web": "tags.Role == 'web'"},
			"keyed_groups": []any{map[string]any{"key": "tags.Env", "prefix": "env"}, map[string]any{"key": "tags.Name", "prefix": "name"}},
		}
	}
	vars := map[string]any{"tags": map[string]any{"Name": "n1", "Env": ""}, "secret_looking_value": "hunter2"}

	res, err := mustParse(t, cfg(false)).Apply(vars)
	if err != nil {
		t.Fatalf("non-strict Apply: %v", err)
	}
	if want := []string{"name_n1"}; !slices.Equal(res.Groups, want) {
		t.Errorf("Groups = %q, want %q", res.Groups, want)
	}
	if res.Vars["ok"] != "x" || len(res.Vars) != 1 {
		t.Errorf("Vars = %v", res.Vars)
	}
	wantWarnings := []string{
		"compose.ansible_host: 'public_ip_address' is undefined",
		"groups.web: 'dict object' has no attribute 'Role'",
	}
	if !slices.Equal(res.Warnings, wantWarnings) {
		t.Errorf("Warnings = %q, want %q", res.Warnings, wantWarnings)
	}

	_, err = mustParse(t, cfg(true)).Apply(vars)
	var ee *EvalError
	if !errors.As(err, &ee) {
		t.Fatalf("strict Apply error = %v, want *EvalError", err)
	}
	if ee.Field != "compose.ansible_host" || ee.Expr != "public_ip_address" {
		t.Errorf("EvalError = %+v", ee)
	}
	if strings.Contains(err.Error(), "hunter2") || strings.Contains(err.Error(), "n1") {
		t.Errorf("error leaks host values: %v", err)
	}

	// strict: a key resulting empty is an error, an empty list is not.
	c := mustParse(t, map[string]any{"strict": true, "keyed_groups": []any{map[string]any{"key": "tags.Env"}}})
	if _, err := c.Apply(vars); err == nil || !strings.Contains(err.Error(), "key resulted empty") {
		t.Errorf("strict empty key error = %v", err)
	}
	c = mustParse(t, map[string]any{"strict": true, "keyed_groups": []any{map[string]any{"key": "[]"}, map[string]any{"key": "{}"}}})
	if _, err := c.Apply(vars); err != nil {
		t.Errorf("strict empty list: %v", err)
	}
}

// TestFastPath checks that variable paths evaluated without the general
// evaluator give identical results and errors.
func TestFastPath(t *testing.T) {
	paths := []string{
		"instance_type", "placement.region", "tags.Name", "tags['Role']", "tags[\"Name\"]", "security_groups[0].group_id",
		"security_groups.1.group_name", "security_groups[-1]", "security_groups[5]", "tags.Missing", "missing", "missing.a.b",
		"tags.keys", "tags.Nil.x", "instance_type.upper", "instance_type[0]", "range", "tags['Missing']['x']", "placement['region'][1]",
	}
	vars := map[string]any{
		"instance_type": "t3.micro", "placement": map[string]any{"region": "us-east-1"},
		"tags":            map[string]any{"Name": "n", "Role": "r", "Nil": nil},
		"security_groups": []any{map[string]any{"group_id": "sg-1", "group_name": "a"}, map[string]any{"group_id": "sg-2", "group_name": "b"}},
	}
	for _, p := range paths {
		fast, err := compileExpr(p, false)
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if _, ok := fast.(*pathNode); !ok {
			t.Errorf("%s did not compile to a fast path (%T)", p, fast)
		}
		slow, err := compileExpr(p, true)
		if err != nil {
			t.Fatal(err)
		}
		c := &Constructor{cache: newRegexCache()}
		fv, ferr := c.eval(c.newEnv(vars), fast)
		sv, serr := c.eval(c.newEnv(vars), slow)
		if pyRepr(fv) != pyRepr(sv) || (ferr == nil) != (serr == nil) || (ferr != nil && ferr.Error() != serr.Error()) {
			t.Errorf("%s: fast (%v, %v) != general (%v, %v)", p, pyRepr(fv), ferr, pyRepr(sv), serr)
		}
	}
}

func TestConcurrentApply(t *testing.T) {
	cfg := loadJSON(t, "testdata/options/awx_ec2_compat.json").(map[string]any)
	hosts := loadJSON(t, "testdata/hosts_aws_ec2.json").([]any)
	c := mustParse(t, cfg)
	want := make([]string, len(hosts))
	for i, h := range hosts {
		res, _ := c.Apply(h.(map[string]any))
		want[i] = pyRepr([]any{res.Vars, stringsAny(res.Groups), stringsAny(res.Warnings)})
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				k := (i + g) % len(hosts)
				res, _ := c.Apply(hosts[k].(map[string]any))
				if got := pyRepr([]any{res.Vars, stringsAny(res.Groups), stringsAny(res.Warnings)}); got != want[k] {
					t.Errorf("concurrent result differs for host %d", k)
					return
				}
			}
		})
	}
	wg.Wait()
}

func stringsAny(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}

// TestHiddenVars: vars a plugin sets on the host outside what it hands to
// compose (azure_rm's ansible_host) are undefined to compose, seen by
// groups and keyed_groups (ansible-core adds the host's vars for them),
// and under the composed vars there; Result.Vars never carries them.
func TestHiddenVars(t *testing.T) {
	vars := map[string]any{"name": "vm1", "private": "10.0.0.4"}
	hidden := map[string]any{"ansible_host": "20.1.2.3", "other": "x"}
	c := mustParse(t, map[string]any{
		"compose": map[string]any{"saw": "ansible_host is defined", "other": "'composed'"},
		"groups":  map[string]any{"has_host": "ansible_host == '20.1.2.3'", "other_composed": "other == 'composed'"},
		"keyed_groups": []any{
			map[string]any{"key": "ansible_host", "prefix": "host"},
		},
	})
	for _, apply := range []struct {
		name string
		fn   func() (Result, error)
	}{
		{"Constructor", func() (Result, error) { return c.ApplyHidden(vars, hidden) }},
		{"Batch", func() (Result, error) { return c.Batch().ApplyHidden(vars, hidden) }},
	} {
		res, err := apply.fn()
		if err != nil {
			t.Fatalf("%s: %v", apply.name, err)
		}
		if res.Vars["saw"] != false || res.Vars["other"] != "composed" || len(res.Vars) != 2 {
			t.Errorf("%s: composed vars %v, want saw=false (compose does not see hidden vars)", apply.name, res.Vars)
		}
		if want := []string{"has_host", "host_20_1_2_3", "other_composed"}; !slices.Equal(res.Groups, want) {
			t.Errorf("%s: groups %v, want %v", apply.name, res.Groups, want)
		}
	}
	if _, ok := vars["ansible_host"]; ok {
		t.Error("ApplyHidden modified vars")
	}
	// Without hidden vars, as Apply.
	res, err := c.ApplyHidden(vars, nil)
	if err != nil || len(res.Groups) != 1 || res.Groups[0] != "other_composed" {
		t.Errorf("no hidden vars: groups %v, err %v", res.Groups, err)
	}
}
