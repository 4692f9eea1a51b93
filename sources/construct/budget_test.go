package construct

import (
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// budgetVars are host vars for the budget tests. The host_* values are
// larger than the limit per value: reading them is free (they are the
// cloud's data), building a value from them is not.
func budgetVars() map[string]any {
	list := make([]any, 20_000)
	distinct := make([]any, 20_000)
	for i := range list {
		list[i] = "x"
		distinct[i] = fmt.Sprint(i)
	}
	dict := make(map[string]any, 10_000)
	for i := range 10_000 {
		dict[fmt.Sprintf("k%05d", i)] = "value"
	}
	big := strings.Repeat("x", 100_000)
	return map[string]any{
		"a": "a", "c1": "\x01", "n": 100_000_000, "k": 1000, "r": 100_000,
		"l":           []any{"x"},
		"host_str":    big,
		"host_dots":   strings.Repeat(".", 40_000),
		"host_words":  strings.Repeat("x ", 30_000),
		"host_list":   list,
		"host_nested": []any{list, list},
		"host_dict":   dict,
		"host_json":   "[" + strings.Repeat("1,", 50_000) + "1]",
		"host_b64":    base64.StdEncoding.EncodeToString([]byte(big)),
		"host_ids":    distinct,
	}
}

// wantLimit checks that err is an *EvalError of field (when field is not
// empty) caused by going over the limit of kind.
func wantLimit(t *testing.T, err error, field string, kind LimitKind) {
	t.Helper()
	var le *LimitError
	if !errors.As(err, &le) || le.Kind != kind {
		t.Fatalf("error %v, want a %s limit error", err, kind)
	}
	if field == "" {
		return
	}
	var ee *EvalError
	if !errors.As(err, &ee) || ee.Field != field {
		t.Fatalf("error %v does not name %s", err, field)
	}
}

// allocated runs f and returns the bytes it allocated.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// maxBudgetAlloc bounds what an expression stopped by a limit may have
// allocated: the evaluation's total (16 × 64 KiB) and the transient work
// of reading its inputs.
var maxBudgetAlloc uint64 = 8 << 20

func init() {
	if raceEnabled {
		maxBudgetAlloc *= 8
	}
}

// TestProducersChargeBeforeBuilding evaluates, for each operator, filter,
// method and literal that builds a string, list or dict, an expression
// whose result is over the limit per value (64 KiB): it must fail with a
// limit error, having allocated little, at once. Where a producer
// multiplies its input (*, ljust, replace, join, ...), the result would be
// tens of megabytes: built before it is charged, it fails the allocation
// check.
func TestProducersChargeBeforeBuilding(t *testing.T) {
	vars := budgetVars()
	tests := []struct {
		name, src string
		want      LimitKind
	}{
		{"~", "(a * 40000) ~ (a * 40000)", LimitValue},
		{"+ strings", "(a * 40000) + (a * 40000)", LimitValue},
		{"+ lists", "(l * 10000) + (l * 10000)", LimitValue},
		{"* string", "a * n", LimitValue},
		{"* list", "l * n", LimitValue},
		{"* list of strings", "[a * 1000] * k", LimitValue},
		{"list literal", "[a * 40000, a * 40000]", LimitValue},
		{"dict literal", "{'x': a * 40000, 'y': a * 40000}", LimitValue},
		{"dict()", "dict(x=a * 40000, y=a * 40000)", LimitValue},
		{"slice of a string", "host_str[:]", LimitValue},
		{"slice of a list", "host_list[::1]", LimitValue},
		{"replace", "(a * 1000) | replace(a, a * 60000)", LimitValue},
		{"str.replace", "(a * 1000).replace(a, a * 60000)", LimitValue},
		{"join", "range(k) | map('string') | join(a * 60000)", LimitValue},
		{"str.join", "(a * 60000).join(range(k) | map('string'))", LimitValue},
		{"str.ljust", "a.ljust(n)", LimitValue},
		{"str.rjust", "a.rjust(n)", LimitValue},
		{"str.center", "a.center(n, '-')", LimitValue},
		{"str.zfill", "a.zfill(n)", LimitValue},
		{"format", "'%100000s' | format(a)", LimitValue},
		{"%", "'%-100000s' % a", LimitValue},
		{"str.format", "'{}{}'.format(a * 40000, a * 40000)", LimitValue},
		{"to_json", "(c1 * 20000) | to_json", LimitValue},
		{"to_nice_json", "l | to_nice_json(indent=n)", LimitValue},
		{"regex_replace", "(a * 1000) | regex_replace('a', a * 60000)", LimitValue},
		{"regex_replace with groups", `(a * 1000) | regex_replace('(a)', '\\1' * 100)`, LimitValue},
		{"regex_findall", "host_str | regex_findall('x')", LimitWork},
		{"regex_escape", "host_dots | regex_escape", LimitValue},
		{"map", "(l * 2000) | map('replace', 'x', a * 50)", LimitValue},
		{"map attribute", "host_list | map(attribute='x', default=a)", LimitValue},
		{"batch", "l | batch(n, a)", LimitValue},
		{"zip", "(l * 10000) | zip(l * 10000)", LimitValue},
		{"zip_longest", "l | zip_longest(l * 10000, fillvalue=a * 10)", LimitValue},
		{"combine", "{'a': a * 40000} | combine({'b': a * 40000})", LimitValue},
		{"flatten", "host_nested | flatten", LimitValue},
		{"sum of lists", "host_nested | sum(start=[])", LimitValue},
		{"range", "range(r)", LimitValue},
		{"b64encode", "(a * 60000) | b64encode", LimitValue},
		{"b64decode", "host_b64 | b64decode", LimitValue},
		{"string", "host_list | string", LimitValue},
		{"upper", "host_str | upper", LimitValue},
		{"str.upper", "host_str.upper()", LimitValue},
		{"reverse", "host_str | reverse", LimitValue},
		{"list", "host_str | list", LimitValue},
		{"split", "host_words | split(' ')", LimitValue},
		{"str.split", "host_words.split()", LimitValue},
		{"dict2items", "host_dict | dict2items", LimitValue},
		{"items", "host_dict | items", LimitValue},
		{"dict.keys", "host_dict.keys()", LimitValue},
		{"dict.values", "host_dict.values()", LimitValue},
		{"dict.copy", "host_dict.copy()", LimitValue},
		{"list.copy", "host_list.copy()", LimitValue},
		{"sort", "host_list | sort", LimitValue},
		{"select", "host_list | select", LimitValue},
		{"reject", "host_list | reject('none')", LimitValue},
		{"json_query fan-out", "host_list | json_query('[@,@,@,@,@,@,@,@,@,@,@,@,@,@,@,@,@,@,@,@]')", LimitWork},
		{"json_query result", "host_dict | json_query('*')", LimitValue},
		{"from_json", "host_json | from_json", LimitValue},
		{"lower of a list", "host_ids | lower", LimitValue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var err error
			start := time.Now()
			n := allocated(func() { _, err = evalString(t, tt.src, vars) })
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("took %v", elapsed)
			}
			wantLimit(t, err, "", tt.want)
			if n > maxBudgetAlloc {
				t.Errorf("allocated %d bytes before failing", n)
			}
		})
	}
}

// TestReadingIsFree: a host value over the limit per value may be read,
// passed on and measured; only building from it is charged.
func TestReadingIsFree(t *testing.T) {
	vars := budgetVars()
	for src, want := range map[string]any{
		"host_str | length":               int64(100_000),
		"host_str | default('') | length": int64(100_000),
		"host_list | first":               "x",
		"host_str | trim | length":        int64(100_000),
		"host_dict.get('k00001')":         "value",
		"host_str[5]":                     "x",
		"host_str[-1]":                    "x",
		"'x' in host_str":                 true,
		"host_list | length":              int64(20_000),
	} {
		got, err := evalString(t, src, vars)
		if err != nil || got != want {
			t.Errorf("%s = %v, %v; want %v", src, got, err, want)
		}
	}
}

// TestIssueExpressions: the expressions of the issue that took the server
// down (and their kin) fail at once, having allocated little.
func TestIssueExpressions(t *testing.T) {
	vars := map[string]any{"inventory_hostname": "web-1.example.com"}
	for _, src := range []string{
		"(('a'*1000000)|replace('a','a'*1000000))|length",
		"((inventory_hostname[0]*60000)|replace(inventory_hostname[0], inventory_hostname[0]*60000))|length",
		"(inventory_hostname[0]*60000).replace(inventory_hostname[0], inventory_hostname[0]*60000)|length",
		"inventory_hostname.ljust(1000000000000)|length",
		"inventory_hostname.center(1000000, inventory_hostname[0])|length",
		"(inventory_hostname[0]*60000).join(range(5000)|map('string'))|length",
		"range(100000)|map('string')|join(inventory_hostname*1000)|length",
		"[inventory_hostname[0]*60000] * 1000000",
		"(inventory_hostname * 1000000)|length",
	} {
		var err error
		start := time.Now()
		n := allocated(func() { _, err = evalString(t, src, vars) })
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("%s took %v", src, elapsed)
		}
		if !IsLimit(err) {
			t.Errorf("%s: error %v, want a limit error", src, err)
		}
		if n > maxBudgetAlloc {
			t.Errorf("%s allocated %d bytes before failing", src, n)
		}
	}
}

// TestWorkBudget: an evaluation building many values, each under the
// limit per value, stops at its total.
func TestWorkBudget(t *testing.T) {
	vars := map[string]any{"a": "a"}
	c := mustParse(t, map[string]any{"keyed_groups": []any{map[string]any{
		"key": "'k'", "parent_group": "{% for i in range(100) %}{{ (a * 60000) | length }}{% endfor %}",
	}}})
	_, err := c.Apply(vars)
	wantLimit(t, err, "keyed_groups[0].parent_group", LimitWork)
	if !strings.Contains(err.Error(), "1 MiB in all") {
		t.Errorf("error %q does not give the total", err)
	}
}

// TestLimitFailsWhateverStrict: an over-limit entry is not skipped like a
// template error; Apply fails, naming the option and the limit.
func TestLimitFailsWhateverStrict(t *testing.T) {
	vars := map[string]any{"a": "a", "tags": map[string]any{"Role": "web"}}
	for _, strict := range []bool{false, true} {
		for field, cfg := range map[string]map[string]any{
			"compose.x":                    {"compose": map[string]any{"x": "a * 100000", "ok": "tags.Role"}},
			"groups.big":                   {"groups": map[string]any{"big": "(a * 100000) | length > 0"}},
			"keyed_groups[1].key":          {"keyed_groups": []any{map[string]any{"key": "tags.Role"}, map[string]any{"key": "a.ljust(100000)"}}},
			"keyed_groups[0].parent_group": {"keyed_groups": []any{map[string]any{"key": "tags.Role", "parent_group": "{{ a * 100000 }}"}}},
		} {
			cfg["strict"] = strict
			res, err := mustParse(t, cfg).Apply(vars)
			wantLimit(t, err, field, LimitValue)
			if !strings.Contains(err.Error(), field) || !strings.Contains(err.Error(), "64 KiB per value (expression_value_bytes)") {
				t.Errorf("error %q names neither the option nor the limit", err)
			}
			if res.Vars != nil || res.Groups != nil {
				t.Errorf("a failed Apply returned %+v", res)
			}
		}
	}
	// Other errors are still skipped when strict is false.
	res, err := mustParse(t, map[string]any{"compose": map[string]any{"x": "missing.attr", "ok": "tags.Role"}}).Apply(vars)
	if err != nil || len(res.Warnings) != 1 || res.Vars["ok"] != "web" {
		t.Fatalf("non-strict template error: %+v, %v", res, err)
	}
}

// TestConstantPartsRefusedOnParse: a constant part over a limit fails
// every host, so the options are refused when saved, naming the field.
func TestConstantPartsRefusedOnParse(t *testing.T) {
	for field, cfg := range map[string]map[string]any{
		"compose.x":                    {"compose": map[string]any{"x": "(('a'*1000000)|replace('a','a'*1000000))|length"}},
		"compose.y":                    {"compose": map[string]any{"y": "inventory_hostname ~ ('a' * 1000000)"}},
		"compose.z":                    {"compose": map[string]any{"z": "tags.Name if tags is defined else range(100000) | list"}},
		"groups.g":                     {"groups": map[string]any{"g": "'x'.ljust(10**9) | length > 1"}},
		"keyed_groups[0].key":          {"keyed_groups": []any{map[string]any{"key": "[tags.Name] + ([1] * 100000)"}}},
		"keyed_groups[0].parent_group": {"keyed_groups": []any{map[string]any{"key": "tags.Name", "parent_group": "{% for i in range(3) %}{{ 'x' * 100000 }}{% endfor %}"}}},
	} {
		_, err := Parse(cfg)
		fields := roster.ErrorFields(err)
		if len(fields) != 1 || fields[0].Field != field || !strings.Contains(fields[0].Message, "64 KiB per value") {
			t.Errorf("%s: Parse error %v, want one field error naming the limit", field, err)
		}
	}
	// A variable part is only known per host; a constant part under the
	// limit is fine, and so is a constant error of another kind (it may
	// never be reached, and is reported as it always was).
	for _, src := range []string{"inventory_hostname * 1000000", "'a' * 1000", "(1 / 0) if x is undefined else x"} {
		if _, err := Parse(map[string]any{"compose": map[string]any{"x": src}}); err != nil {
			t.Errorf("%s: %v", src, err)
		}
	}
	// The limits are the parser's: a larger per-value limit accepts more.
	big := Limits{ValueBytes: 4 << 20}
	if _, err := ParseWithLimits(map[string]any{"compose": map[string]any{"x": "'a' * 1000000"}}, big); err != nil {
		t.Errorf("under %+v: %v", big, err)
	}
}

// TestHostLimit: a host's composed vars and group names are counted
// together, host values passed on included.
func TestHostLimit(t *testing.T) {
	vars := map[string]any{"a": "a", "big": strings.Repeat("x", 70_000), "tags": map[string]any{"Role": "web"}}
	limits := Limits{ValueBytes: 64 << 10, HostBytes: 128 << 10}
	c, err := ParseWithLimits(map[string]any{"compose": map[string]any{
		"v1": "big", "v2": "big", "v3": "tags.Role",
	}}, limits)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Apply(vars)
	wantLimit(t, err, "compose.v2", LimitHost) // v1 fits, v1 + v2 do not
	if !strings.Contains(err.Error(), "128 KiB per host (expression_host_bytes)") {
		t.Errorf("error %q does not name the limit", err)
	}

	// Group names count too.
	c, err = ParseWithLimits(map[string]any{"compose": map[string]any{"v1": "big", "v2": "big[:50000]"},
		"keyed_groups": []any{map[string]any{"key": "range(3000) | map('regex_replace', '^', 'group-name-')"}}}, limits)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Apply(vars)
	wantLimit(t, err, "keyed_groups[0].key", LimitHost)
}

// TestBatchSyncLimit: the hosts of one sync share the limit per sync,
// across the sync's concurrent scopes; another sync starts afresh.
func TestBatchSyncLimit(t *testing.T) {
	limits := Limits{ValueBytes: 64 << 10, HostBytes: 64 << 10, SyncBytes: 1 << 20}
	c, err := ParseWithLimits(map[string]any{"compose": map[string]any{"blob": "name * 1000"}}, limits)
	if err != nil {
		t.Fatal(err)
	}
	host := func(i int) map[string]any { return map[string]any{"name": fmt.Sprintf("h%07d.", i)} } // 9 KB blob each
	b := c.Batch()
	var (
		wg     sync.WaitGroup
		mu     sync.Mutex
		failed []error
		ok     int
	)
	for scope := range 4 {
		wg.Go(func() {
			for i := range 50 {
				_, err := b.Apply(host(scope*1000 + i))
				mu.Lock()
				if err != nil {
					failed = append(failed, err)
				} else {
					ok++
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	// 1 MiB holds 116 blobs of 9,013 bytes (and their names).
	if ok < 100 || ok > 120 || len(failed) != 200-ok {
		t.Fatalf("%d hosts constructed, %d failed; want about 116 then failures", ok, len(failed))
	}
	wantLimit(t, failed[0], "compose.blob", LimitSync)
	if !strings.Contains(failed[0].Error(), "1 MiB per sync (expression_sync_bytes)") {
		t.Errorf("error %q does not name the limit", failed[0])
	}
	if b.Used() <= limits.SyncBytes {
		t.Errorf("Used = %d, want past the limit", b.Used())
	}
	// Apply without a batch, and a new batch, start afresh.
	if _, err := c.Apply(host(1)); err != nil {
		t.Error(err)
	}
	if _, err := c.Batch().Apply(host(1)); err != nil {
		t.Error(err)
	}
}

func TestLimitsValidate(t *testing.T) {
	if err := DefaultLimits().Validate(); err != nil {
		t.Fatal(err)
	}
	for _, l := range []Limits{
		{ValueBytes: 100, HostBytes: 1 << 20, SyncBytes: 1 << 30},
		{ValueBytes: 64 << 10, HostBytes: 32 << 10, SyncBytes: 1 << 30},
		{ValueBytes: 64 << 10, HostBytes: 1 << 20, SyncBytes: 512 << 10},
	} {
		if err := l.Validate(); err == nil {
			t.Errorf("%+v: valid", l)
		}
	}
}

// TestEveryFilterIsClassified makes a new filter take a side: it builds
// values (and must charge them; TestProducersChargeBeforeBuilding has a
// row for those that can multiply their input) or it does not.
func TestEveryFilterIsClassified(t *testing.T) {
	producers := []string{"replace", "join", "format", "to_json", "to_nice_json", "regex_replace", "regex_findall",
		"regex_escape", "map", "batch", "zip", "zip_longest", "combine", "flatten", "sum", "b64encode", "b64decode",
		"string", "upper", "lower", "capitalize", "title", "basename", "dirname", "reverse", "list", "split",
		"dict2items", "items2dict", "items", "sort", "unique", "select", "reject", "selectattr", "rejectattr",
		"json_query", "from_json", "difference", "intersect", "union", "symmetric_difference"}
	// These return one of their inputs, a part of it, a scalar, or a
	// value no larger than a part of their input.
	others := []string{"default", "d", "trim", "int", "float", "abs", "round", "first", "last", "length", "count",
		"min", "max", "attr", "safe", "bool", "ternary", "mandatory", "regex_search", "extract", "type_debug"}
	for name := range filters {
		if slices.Contains(producers, name) == slices.Contains(others, name) {
			t.Errorf("filter %s: classify it as a producer (and test it) or not", name)
		}
	}
}

func TestByteSize(t *testing.T) {
	for n, want := range map[int64]string{64 << 10: "64 KiB", 1 << 20: "1 MiB", 3 << 30: "3 GiB", 1500: "1500 bytes"} {
		if got := byteSize(n); got != want {
			t.Errorf("byteSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// TestTimeBounds: work that builds nothing (reading, comparing, matching)
// is bounded in time too: each of these loops stops within a second.
func TestTimeBounds(t *testing.T) {
	vars := budgetVars()
	vars["pat"] = strings.Repeat("(x|y)", 3000)
	for _, parent := range []string{
		"{% for i in range(9000) %}{{ host_str[50000] }}{% endfor %}",
		"{% for i in range(9000) %}{% if host_str == host_str %}{% endif %}{% endfor %}",
		"{% for i in range(9000) %}{% if host_nested == host_nested %}{% endif %}{% endfor %}",
		"{% for i in range(9000) %}{% if host_nested[0] in host_nested %}{% endif %}{% endfor %}",
		"{% for i in range(9000) %}{% if host_ids is subset(host_ids) %}{% endif %}{% endfor %}",
		"{% for i in range(9000) %}{% if host_str is match(pat) %}{% endif %}{% endfor %}",
		"{% for i in range(9000) %}{{ host_str | regex_search(pat) }}{% endfor %}",
		"{% for i in range(9000) %}{{ host_nested | to_json | length }}{% endfor %}",
		"{% for i in range(9000) %}{{ 'a' | replace(host_nested, 'b') }}{% endfor %}",
		"{% for i in range(9000) %}{{ host_str | list | length }}{% endfor %}",
		"{% for i in range(9000) %}{{ host_str.count('x') }}{% endfor %}",
		"{% for i in range(9000) %}{{ host_dict | dict2items | length }}{% endfor %}",
		"{% for i in range(9000) %}{{ host_list | sort | length }}{% endfor %}",
		"{% for i in range(9000) %}{{ host_nested | json_query('[0][0]') }}{% endfor %}",
		"{% for i in range(9000) %}{{ host_nested | string | length }}{% endfor %}",
		"{% for x in host_str %}{% endfor %}",
	} {
		c := mustParse(t, map[string]any{"keyed_groups": []any{map[string]any{"key": "'k'", "parent_group": parent}}})
		start := time.Now()
		_, err := c.Apply(vars)
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("%s took %v", parent, elapsed)
		}
		if !IsLimit(err) {
			t.Errorf("%s: error %v, want a limit error", parent, err)
		}
	}
}
