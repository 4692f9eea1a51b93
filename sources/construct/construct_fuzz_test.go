package construct

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// FuzzConstructed fuzzes the constructed options as a source gives them:
// a compose expression, a groups conditional, and a keyed_groups key with
// its parent_group template, parsed (compiled, constant parts evaluated
// under the limits) and applied to real hosts. Parse refuses with EINVALID
// naming the option; Apply ends within the evaluation budgets' backstop
// and fails only with an *EvalError naming the option, which is a
// *LimitError unless strict is set; nothing reports an evaluator panic
// ("internal error", which recoverEval makes of one).
func FuzzConstructed(f *testing.F) {
	for _, s := range []struct {
		compose, group, key, parent string
		strict                      bool
	}{
		{"private_ip_address", "'web' in (tags.Role | default(''))", "tags", "", false},
		{"tags.Name | regex_replace('-', '_')", "state.name == 'running'", "placement.region", "aws_{{ placement.region }}", true},
		{"security_groups | json_query(\"[].group_id\")", "tags is defined and tags | length > 1", "tags['Role']", "project", false},
		{"dict(tags | dict2items | map(attribute='key') | zip(range(3)))", "true", "instance_type",
			"{% if tags.Env is defined %}{{ tags.Env }}{% else %}none{% endif %}", true},
		{"range(100000) | join(',')", "range(100000) | sum > 0", "range(10) | list", "{% for i in range(100000) %}{{ i }}{% endfor %}", true},
		{"'a' * 70000", "('x' * 60000) ~ ('y' * 60000)", "tags.Name * 1000", "{{ 'p' * 65536 }}", false},
		{"(-9223372036854775807 - 1) // -1", "1 / 0", "undefined_var", "{{ undefined_var.x }}", true},
		{"[1, [2]] | flatten(levels=-5)", "'{}'.format()", "x[1:2:0]", "{% for x in tags %}{% for y in tags %}{{ x }}{{ y }}{% endfor %}{% endfor %}", false},
		{"tags | combine(none)", "lookup('env', 'HOME')", "'%(a)s' % tags", "{{ lookup('file', '/etc/passwd') }}", true},
		{"launch_time.strftime('%Y %j %c')", "launch_time < times[0]", "times", "{{ launch_time.isoformat() }}", false},
		{"[launch_time]", "launch_time.year > 2000", "launch_time.strftime('%' * 1000)", "", false},
	} {
		f.Add(s.compose, s.group, s.key, s.parent, s.strict)
	}
	var hosts []map[string]any
	for _, h := range loadJSON(f, filepath.Join("testdata", "hosts_aws_ec2.json")).([]any)[:2] {
		hosts = append(hosts, withDatetimes(h.(map[string]any)))
	}
	f.Fuzz(func(t *testing.T, compose, group, key, parent string, strict bool) {
		keyed := map[string]any{"key": key, "prefix": "k"}
		if parent != "" {
			keyed["parent_group"] = parent
		}
		config := map[string]any{
			"compose":      map[string]any{"v": compose},
			"groups":       map[string]any{"g": group},
			"keyed_groups": []any{keyed},
			"strict":       strict,
		}
		start := time.Now()
		c, err := Parse(config)
		// Parsing evaluates constant parts, under the same budgets.
		if took := time.Since(start); took > 4*maxEvalTime+time.Second {
			t.Fatalf("Parse took %s", took)
		}
		if err != nil {
			if roster.ErrorCode(err) != roster.EINVALID {
				t.Fatalf("Parse refused with %s: %v", roster.ErrorCode(err), err)
			}
			for _, fe := range roster.ErrorFields(err) {
				if !strings.HasPrefix(fe.Field, "compose.v") && !strings.HasPrefix(fe.Field, "groups.g") && !strings.HasPrefix(fe.Field, "keyed_groups[0]") {
					t.Fatalf("Parse: field error %q (%s) names no option given", fe.Field, fe.Message)
				}
				if strings.Contains(fe.Message, "internal error") {
					t.Fatalf("Parse: %s: %s", fe.Field, fe.Message)
				}
			}
			return
		}
		for _, h := range hosts {
			start := time.Now()
			res, err := c.Apply(h)
			// Four evaluations (compose, groups, key, parent_group), each
			// stopped by its budget or, at worst, by maxEvalTime.
			if took := time.Since(start); took > 4*maxEvalTime+time.Second {
				t.Fatalf("Apply took %s", took)
			}
			for _, w := range res.Warnings {
				if strings.Contains(w, "internal error") {
					t.Fatalf("warning: %s", w)
				}
			}
			if err == nil {
				continue
			}
			var ee *EvalError
			if !errors.As(err, &ee) || ee.Field == "" {
				t.Fatalf("Apply failed with %T, not an *EvalError naming the option: %v", err, err)
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("Apply: %v", err)
			}
			var ge *groupError
			if !strict && !IsLimit(err) && !errors.As(err, &ge) {
				t.Fatalf("Apply failed without strict, not over a limit nor on a group ansible-core refuses: %v", err)
			}
		}
	})
}
