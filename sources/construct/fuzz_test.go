package construct

import (
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// withDatetimes returns host vars with datetimes, as aws_ec2's hold
// them: launch_time and a list of two.
func withDatetimes(h map[string]any) map[string]any {
	out := make(map[string]any, len(h)+2)
	for k, v := range h {
		out[k] = v
	}
	lt := NewDatetime(time.Date(2024, 3, 1, 10, 15, 0, 0, time.UTC))
	out["launch_time"] = lt
	out["times"] = []any{NewDatetime(time.Date(2024, 3, 1, 10, 15, 2, 500000, time.UTC)), lt}
	return out
}

// FuzzExpression checks that no expression, however odd, panics or
// escapes its bounds when compiled and evaluated against real host vars.
func FuzzExpression(f *testing.F) {
	for _, seed := range []string{
		"tags", "tags.Name | regex_replace('-', '_')", "security_groups|json_query(\"[].group_id\")",
		"'devel' in (tags|list)", "range(10) | map('string') | join(',')", "dict(tags | dict2items | map(attribute='key') | zip(range(3)))",
		"state.code // 0", "placement['region'][::-1]", "'%(a)s' % tags", "tags.Name.split('-')[5]", "1 ** -1", "[1, [2]] | flatten(levels=-5)",
		"s | regex_replace('\\\\g<x>', 'y')", "'{}'.format()", "tags | combine(none)", "x[1:2:0]", "(-9223372036854775807 - 1) // -1",
		"launch_time.strftime('%Y-%m-%d %c %%')", "times | sort | first", "launch_time == times[1]", "[launch_time] | to_json",
	} {
		f.Add(seed)
	}
	var hosts []map[string]any
	for _, h := range loadJSON(f, filepath.Join("testdata", "hosts_aws_ec2.json")).([]any) {
		hosts = append(hosts, withDatetimes(h.(map[string]any)))
	}
	f.Fuzz(func(t *testing.T, src string) {
		n, err := compileExpr(src, false)
		if err != nil {
			return
		}
		c := &Constructor{cache: newRegexCache()}
		for _, h := range hosts {
			v, err := c.eval(c.newEnv(h), n)
			if err != nil && strings.HasPrefix(err.Error(), "internal error") {
				t.Fatalf("%q: %v", src, err)
			}
			if s, ok := v.(string); ok && int64(len(s)) > DefaultValueBytes {
				t.Fatalf("%q: result of %d bytes", src, len(s))
			}
		}
	})
}
