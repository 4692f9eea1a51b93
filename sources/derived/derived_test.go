package derived_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/internal/syncer"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/construct"
	"github.com/rosterhq/roster/sources/derived"
)

// fixture is a real SQLite store with plain inventories filled as a sync
// fills them, and an engine whose registry knows the derived drivers.
type fixture struct {
	t      *testing.T
	st     *store.SQLite
	engine *syncer.Engine
}

func newFixture(t *testing.T) *fixture {
	st, err := store.OpenSQLite(t.Context(), filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	reg := sources.NewRegistry(derived.NewDrivers(st)...)
	return &fixture{t: t, st: st, engine: syncer.New(st, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), syncer.WithSpillDir(t.TempDir()))}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// plain makes a plain inventory with one source holding hosts
// (name → groups and vars) and group vars.
type h struct {
	name     string
	groups   []string
	vars     map[string]any
	disabled bool
}

func (f *fixture) plain(name string, hosts []h, groupVars map[string]map[string]any, edges ...roster.GroupEdge) *roster.Inventory {
	t := f.t
	inv := &roster.Inventory{Name: name}
	must(t, f.st.CreateInventory(t.Context(), inv))
	src := &roster.Source{InventoryID: inv.ID, Name: "src", Provider: "aws", Config: map[string]any{}, OnMissing: roster.OnMissingRemove}
	must(t, f.st.CreateSource(t.Context(), src))
	run := &roster.SyncRun{SourceID: src.ID, InventoryID: inv.ID, Trigger: roster.TriggerAPI}
	_, err := f.st.CreateSyncRun(t.Context(), run)
	must(t, err)
	c := &roster.HostChanges{Scopes: []string{"r"}, Edges: edges, ReplaceEdges: true}
	for _, x := range hosts {
		vars, _ := json.Marshal(x.vars)
		if x.vars == nil {
			vars = []byte("{}")
		}
		c.Add = append(c.Add, &roster.Host{ExternalID: "id-" + x.name, Scope: "r", Name: x.name, Enabled: !x.disabled, Groups: x.groups, Vars: vars, Hash: x.name})
	}
	now := time.Now()
	run.StartedAt, run.Status = &now, roster.SyncSucceeded
	must(t, f.st.FinishSyncRun(t.Context(), run, c))
	for g, vars := range groupVars {
		b, _ := json.Marshal(vars)
		must(t, f.st.SetGroupVars(t.Context(), inv.ID, g, b))
	}
	return inv
}

// derivedInv makes a derived inventory and its managed source.
func (f *fixture) derivedInv(name string, kind roster.InventoryKind, policy roster.NamePolicy, config map[string]any, inputs ...*roster.Inventory) (*roster.Inventory, *roster.Source) {
	t := f.t
	inv := &roster.Inventory{Name: name, Kind: kind, NamePolicy: policy}
	for _, in := range inputs {
		inv.Inputs = append(inv.Inputs, in.ID)
	}
	must(t, f.st.CreateInventory(t.Context(), inv))
	must(t, f.engine.Registry().Validate(string(kind), config))
	src := &roster.Source{InventoryID: inv.ID, Name: string(kind), Provider: string(kind), Config: config, OnMissing: roster.OnMissingRemove}
	must(t, f.st.CreateSource(t.Context(), src))
	return inv, src
}

// sync runs src's sync inline and returns the run.
func (f *fixture) sync(src *roster.Source) *roster.SyncRun {
	f.t.Helper()
	e := f.engine.Inline()
	run, _, err := e.Trigger(f.t.Context(), src, roster.TriggerCLI)
	must(f.t, err)
	e.Run(f.t.Context(), run, nil)
	got, err := f.st.SyncRun(f.t.Context(), run.ID)
	must(f.t, err)
	return got
}

type stored struct {
	groups []string
	vars   map[string]any
	scope  string
}

func (f *fixture) hosts(inv *roster.Inventory) map[string]stored {
	f.t.Helper()
	out := map[string]stored{}
	_, err := f.st.WalkInventory(f.t.Context(), inv.ID, func(x *roster.Host) error {
		var vars map[string]any
		must(f.t, json.Unmarshal(x.Vars, &vars))
		out[x.Name] = stored{groups: slices.Clone(x.Groups), vars: vars, scope: x.Scope}
		return nil
	}, func(*roster.Group) error { return nil })
	must(f.t, err)
	return out
}

func TestSmartInventory(t *testing.T) {
	f := newFixture(t)
	a := f.plain("a", []h{
		{name: "h1", groups: []string{"web"}, vars: map[string]any{"os": "linux", "port": 80.0}},
		{name: "db1", groups: []string{"db"}, vars: map[string]any{"os": "linux"}},
		{name: "shared", groups: []string{"web"}, vars: map[string]any{"os": "linux", "only_a": 1.0}},
		{name: "off", groups: []string{"web"}, vars: map[string]any{"os": "linux"}, disabled: true},
	}, nil)
	b := f.plain("b", []h{
		{name: "h3", groups: []string{"web"}, vars: map[string]any{"os": "windows"}},
		{name: "shared", groups: []string{"web", "win"}, vars: map[string]any{"os": "windows", "only_b": 2.0}},
	}, nil)
	inv, src := f.derivedInv("linuxweb", roster.KindSmart, roster.NamesMerge,
		map[string]any{"host_filter": `groups__name=web and (variables__os=linux or variables__os__iexact="WINDOWS") and not name=h3`}, a, b)
	run := f.sync(src)
	if run.Status != roster.SyncSucceeded {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	got := f.hosts(inv)
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{"h1", "off", "shared"}) {
		t.Fatalf("smart hosts = %v, want h1, off, shared", names)
	}
	// shared is in both inputs: one host, merged as ansible-inventory
	// merges it (later input wins key by key, groups added).
	s := got["shared"]
	if s.vars["os"] != "windows" || s.vars["only_a"] != 1.0 || s.vars["only_b"] != 2.0 || !slices.Equal(s.groups, []string{"web", "win"}) {
		t.Fatalf("shared = %+v", s)
	}
	if want := strings.Join(slices.Sorted(slices.Values([]string{a.ID, b.ID})), " "); s.scope != want {
		t.Fatalf("shared's scope (origin) = %q, want %q", s.scope, want)
	}
	if got["h1"].scope != a.ID {
		t.Fatalf("h1's origin = %q, want a only", got["h1"].scope)
	}
	if !slices.ContainsFunc(run.Warnings, func(w string) bool { return strings.Contains(w, `"shared" (a and b)`) }) {
		t.Fatalf("the run does not report the name found in both inputs: %q", run.Warnings)
	}

	// Unchanged inputs: nothing rewritten. An input changing: only what changed.
	again := f.sync(src)
	if again.Counts.Unchanged != 3 || again.Counts.Added+again.Counts.Updated+again.Counts.Removed != 0 {
		t.Fatalf("an unchanged re-run counts %+v", again.Counts)
	}
	stale, err := f.st.StaleDerived(t.Context(), "")
	must(t, err)
	if len(stale) != 0 {
		t.Fatalf("stale after a run = %v", stale)
	}
	must(t, f.st.SetGroupVars(t.Context(), a.ID, "web", json.RawMessage(`{"tier":"front"}`)))
	stale, err = f.st.StaleDerived(t.Context(), a.ID)
	must(t, err)
	if !slices.Equal(stale, []string{inv.ID}) {
		t.Fatalf("after group vars on an input: stale = %v", stale)
	}
	n, err := f.engine.Inline().TriggerStale(t.Context(), "")
	must(t, err)
	if n != 1 {
		t.Fatalf("TriggerStale queued %d runs, want 1", n)
	}
}

func TestSmartFirstPrefixFail(t *testing.T) {
	f := newFixture(t)
	a := f.plain("a", []h{{name: "x", groups: []string{"g"}, vars: map[string]any{"v": "a"}}}, nil)
	b := f.plain("b", []h{{name: "x", groups: []string{"g2"}, vars: map[string]any{"v": "b"}}}, nil)
	filter := map[string]any{"host_filter": "name=x"}

	first, src := f.derivedInv("first", roster.KindSmart, roster.NamesFirst, filter, a, b)
	if run := f.sync(src); run.Status != roster.SyncSucceeded {
		t.Fatalf("first: %s %s", run.Status, run.Error)
	}
	if x := f.hosts(first)["x"]; x.vars["v"] != "a" || !slices.Equal(x.groups, []string{"g"}) || x.scope != a.ID {
		t.Fatalf("first: x = %+v, want a's", x)
	}

	prefix, src := f.derivedInv("prefix", roster.KindSmart, roster.NamesPrefix, filter, a, b)
	f.sync(src)
	got := f.hosts(prefix)
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{"a_x", "b_x"}) || got["b_x"].vars["ansible_host"] != "x" {
		t.Fatalf("prefix: %+v", got)
	}

	failing, src := f.derivedInv("fail", roster.KindSmart, roster.NamesFail, filter, a, b)
	run := f.sync(src)
	if run.Status != roster.SyncFailed || !strings.Contains(run.Error, `"x" (a and b)`) {
		t.Fatalf("fail: %s %q", run.Status, run.Error)
	}
	if len(f.hosts(failing)) != 0 {
		t.Fatal("a failed run wrote hosts")
	}
	// It failed for good on these inputs: not stale, so not run again
	// at every look until they change.
	stale, err := f.st.StaleDerived(t.Context(), "")
	must(t, err)
	if slices.Contains(stale, failing.ID) {
		t.Fatal("a derived inventory that failed for good on unchanged inputs counts as stale")
	}
}

func TestConstructedInventory(t *testing.T) {
	f := newFixture(t)
	a := f.plain("a", []h{
		{name: "h1", groups: []string{"web"}, vars: map[string]any{"os": "linux", "env": "prod"}},
		{name: "shared", groups: []string{"web"}, vars: map[string]any{"only_a": 1.0, "os": "linux"}},
		{name: "old", groups: []string{"retired"}, vars: map[string]any{"os": "linux"}},
	}, map[string]map[string]any{"all": {"site": "a"}, "web": {"port": 80.0, "tier": "front"}})
	b := f.plain("b", []h{
		{name: "h3", groups: []string{"db"}, vars: map[string]any{"os": "linux", "env": ""}},
		{name: "shared", groups: []string{"web"}, vars: map[string]any{"only_b": 2.0, "os": "windows"}},
	}, map[string]map[string]any{"web": {"port": 8080.0}})
	config := map[string]any{
		"plugin": "ansible.builtin.constructed",
		"strict": false,
		"compose": map[string]any{
			"tier_seen": "tier | default('none')",
			"ihn":       "inventory_hostname",
			"sum":       "(only_a|default(0)) + (only_b|default(0))",
		},
		"groups":       map[string]any{"port8080": "port == 8080"},
		"keyed_groups": []any{map[string]any{"key": "os", "prefix": "os", "parent_group": "oses"}, map[string]any{"key": "env", "prefix": "te"}},
		"limit":        "all:!retired",
	}
	inv, src := f.derivedInv("web", roster.KindConstructed, roster.NamesMerge, config, a, b)
	run := f.sync(src)
	if run.Status != roster.SyncSucceeded {
		t.Fatalf("run %s: %s", run.Status, run.Error)
	}
	got := f.hosts(inv)
	if names := slices.Sorted(maps.Keys(got)); !slices.Equal(names, []string{"h1", "h3", "shared"}) {
		t.Fatalf("constructed hosts = %v (limit all:!retired)", names)
	}
	h1 := got["h1"]
	// Group vars merge by group name across inputs, later input winning;
	// all.vars of a reach every host; compose sees them and magic vars.
	if h1.vars["port"] != 8080.0 || h1.vars["site"] != "a" || h1.vars["tier_seen"] != "front" || h1.vars["ihn"] != "h1" {
		t.Fatalf("h1 vars = %v", h1.vars)
	}
	if !slices.Equal(h1.groups, []string{"os_linux", "port8080", "te_prod", "web"}) {
		t.Fatalf("h1 groups = %v", h1.groups)
	}
	if s := got["shared"]; s.vars["sum"] != "3" || s.vars["os"] != "windows" || !slices.Contains(s.groups, "os_windows") {
		t.Fatalf("shared = %+v (non-native sum \"3\", b's os)", s)
	}
	if h3 := got["h3"]; slices.ContainsFunc(h3.groups, func(g string) bool { return strings.HasPrefix(g, "te") }) {
		t.Fatalf("an empty key made a group: %v", h3.groups)
	}
	// h3 carries a's all.vars: its origin is both inputs.
	if got["h3"].scope != strings.Join(slices.Sorted(slices.Values([]string{a.ID, b.ID})), " ") {
		t.Fatalf("h3's origin = %q, want both inputs (a's all.vars reach it)", got["h3"].scope)
	}
	groups, err := f.st.Groups(t.Context(), inv.ID)
	must(t, err)
	var oses *roster.Group
	for _, g := range groups {
		if g.Name == "oses" {
			oses = g
		}
	}
	if oses == nil || !slices.Contains(oses.Children, "os_linux") {
		t.Fatalf("parent_group oses missing or without os_linux: %+v", oses)
	}
}

func TestConstructedErrorsNameTheExpression(t *testing.T) {
	f := newFixture(t)
	a := f.plain("a", []h{{name: "h1", vars: map[string]any{"os": "linux"}}}, nil)
	_, src := f.derivedInv("bad", roster.KindConstructed, roster.NamesMerge,
		map[string]any{"strict": true, "compose": map[string]any{"x": "nope.attr"}}, a)
	run := f.sync(src)
	if run.Status != roster.SyncFailed || !strings.Contains(run.Error, "compose.x") {
		t.Fatalf("run %s %q, want a failure naming compose.x", run.Status, run.Error)
	}
}

func TestValidate(t *testing.T) {
	f := newFixture(t)
	reg := f.engine.Registry()
	for _, tc := range []struct {
		provider string
		config   map[string]any
		field    string
	}{
		{"smart", map[string]any{}, "config.host_filter"},
		{"smart", map[string]any{"host_filter": "name__containz=x"}, "config.host_filter"},
		{"smart", map[string]any{"host_filter": "name=x", "limit": "web"}, "config.limit"},
		{"smart", map[string]any{"host_filter": "name=x", "bogus": 1}, "config.bogus"},
		{"constructed", map[string]any{"limit": "~web.*"}, "config.limit"},
		{"constructed", map[string]any{"use_vars_plugins": true}, "config.use_vars_plugins"},
		{"constructed", map[string]any{"compose": map[string]any{"x": "{{"}}, "config.compose.x"},
		{"constructed", map[string]any{"plugin": "amazon.aws.aws_ec2"}, "config.plugin"},
	} {
		err := reg.Validate(tc.provider, tc.config)
		fields := roster.ErrorFields(err)
		if !slices.ContainsFunc(fields, func(fe roster.FieldError) bool { return fe.Field == tc.field }) {
			t.Errorf("Validate(%s, %v) = %v, want a field error on %s", tc.provider, tc.config, err, tc.field)
		}
	}
	for _, ok := range []map[string]any{{"use_vars_plugins": false, "use_extra_vars": false}, {"limit": "web:&prod:!db,h*"}} {
		must(t, reg.Validate("constructed", ok))
	}
}

// TestConstructedBudgets: a constructed inventory's expressions are held
// to the server's budgets, as a source's are; over one, the run fails
// naming the option and changes nothing.
func TestConstructedBudgets(t *testing.T) {
	f := newFixture(t)
	reg := sources.NewRegistry(derived.NewDrivers(f.st)...).WithLimits(construct.Limits{ValueBytes: 1 << 10, HostBytes: 4 << 10, SyncBytes: 1 << 20})
	f.engine = syncer.New(f.st, reg, slog.New(slog.NewTextHandler(io.Discard, nil)), syncer.WithSpillDir(t.TempDir()))
	a := f.plain("a", []h{{name: "h1", vars: map[string]any{"os": "linux"}}}, nil)
	inv, src := f.derivedInv("big", roster.KindConstructed, roster.NamesMerge,
		map[string]any{"compose": map[string]any{"blob": "os * 100000"}}, a)
	run := f.sync(src)
	if run.Status != roster.SyncFailed || !strings.Contains(run.Error, "compose.blob") {
		t.Fatalf("run %s %q, want a failure naming compose.blob", run.Status, run.Error)
	}
	if len(f.hosts(inv)) != 0 {
		t.Fatal("an over-budget run wrote hosts")
	}
}
