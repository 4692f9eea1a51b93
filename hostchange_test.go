package roster

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestUpdateChangeKinds(t *testing.T) {
	base := func() *Host {
		return &Host{ID: 7, Name: "web-1", Address: "10.0.0.1", Scope: "r", Enabled: true, Groups: []string{"a", "b"}, Vars: json.RawMessage(`{"x":1,"y":"s"}`)}
	}
	for _, tc := range []struct {
		name     string
		old, new func(*Host)
		kind     ChangeKind
		keys     []string
	}{
		{"a var", nil, func(h *Host) { h.Vars = json.RawMessage(`{"x":2,"y":"s"}`) }, ChangeChanged, []string{"x"}},
		{"groups and address", nil, func(h *Host) { h.Groups = []string{"b", "c"}; h.Address = "10.0.0.2" }, ChangeChanged, []string{"address", "groups"}},
		{"disabled by its provider", nil, func(h *Host) { h.Enabled = false }, ChangeDisabled, []string{"enabled"}},
		{"back from missing", func(h *Host) { h.Enabled, h.Missing = false, true }, nil, ChangeEnabled, []string{"enabled", "missing"}},
		{"back from missing, still disabled", func(h *Host) { h.Enabled, h.Missing = false, true }, func(h *Host) { h.Enabled = false }, ChangeChanged, []string{"missing"}},
		{"a var named like a field", nil, func(h *Host) { h.Vars = json.RawMessage(`{"enabled":false,"x":1,"y":"s"}`); h.Enabled = false }, ChangeDisabled, []string{"enabled"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			old, new := base(), base()
			if tc.old != nil {
				tc.old(old)
			}
			if tc.new != nil {
				tc.new(new)
			}
			c := UpdateChange(old, new)
			if c.Kind != tc.kind || !slices.Equal(c.ChangedKeys, tc.keys) || c.Truncated || c.HostID != 7 || c.HostName != "web-1" {
				t.Fatalf("UpdateChange = %+v, want kind %s, keys %v", c, tc.kind, tc.keys)
			}
		})
	}
	old, new := base(), base()
	new.Groups = []string{"b", "c"}
	new.Vars = json.RawMessage(`{"x":1,"z":null}`)
	d := UpdateChange(old, new).Diff
	if !slices.Equal(d.GroupsAdded, []string{"c"}) || !slices.Equal(d.GroupsRemoved, []string{"a"}) ||
		string(d.Vars["y"].Old) != `"s"` || d.Vars["y"].New != nil || d.Vars["z"].Old != nil || string(d.Vars["z"].New) != "null" || len(d.Vars) != 2 {
		t.Fatalf("diff = %+v", d)
	}
}

// TestUpdateChangeIsBounded: a host with huge changed vars keeps every
// key, and as many values as fit in MaxDiffBytes, the small ones and the
// host's fields first.
func TestUpdateChangeIsBounded(t *testing.T) {
	oldVars, newVars := map[string]any{}, map[string]any{}
	for i := range 40 {
		k := fmt.Sprintf("k%02d", i)
		oldVars[k], newVars[k] = strings.Repeat("o", 1000), strings.Repeat("n", 1000)
	}
	oldVars["small"], newVars["small"] = 1, 2
	ov, _ := json.Marshal(oldVars)
	nv, _ := json.Marshal(newVars)
	c := UpdateChange(&Host{Name: "a", Enabled: true, Vars: ov}, &Host{Name: "b", Enabled: true, Vars: nv})
	if !c.Truncated || len(c.ChangedKeys) != 42 {
		t.Fatalf("truncated %v, %d keys; want truncated, 42 keys (40 big, small, name)", c.Truncated, len(c.ChangedKeys))
	}
	size := 0
	for k, v := range c.Diff.Vars {
		size += len(k) + len(v.Old) + len(v.New)
	}
	for k, v := range c.Diff.Fields {
		size += len(k) + len(v.Old) + len(v.New)
	}
	if size > MaxDiffBytes || len(c.Diff.Vars) < 5 {
		t.Fatalf("diff of %d bytes with %d vars; want at most %d bytes, most of it used", size, len(c.Diff.Vars), MaxDiffBytes)
	}
	if _, ok := c.Diff.Fields["name"]; !ok {
		t.Fatal("the rename was left out of a truncated diff")
	}
	small, _ := json.Marshal(map[string]any{"x": 1})
	if c := UpdateChange(&Host{Vars: small}, &Host{Vars: json.RawMessage(`{"x":2}`)}); c.Truncated {
		t.Fatal("a small diff was truncated")
	}
}
