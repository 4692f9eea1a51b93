package azuresim

import (
	"encoding/json"
	"testing"

	"github.com/rosterhq/roster/internal/cloudsim"
)

func TestAppendStringIsValidJSON(t *testing.T) {
	for _, s := range []string{
		"", "plain", `quote " and \ backslash`, "tab\tnew\nline\r", "\x00\x01\x1f",
		"Jörg Müller <jorg@example.com>", "Sales <EMEA> 'north'", "bad \xff utf8", "emoji 🙂", "\u2028",
	} {
		b := cloudsim.JSON.Append(nil, s)
		var back string
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("%q rendered as invalid JSON %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s) // encoding/json's own reading of s
		var wantBack string
		_ = json.Unmarshal(want, &wantBack)
		if back != wantBack {
			t.Fatalf("%q round-trips to %q, want %q", s, back, wantBack)
		}
	}
}

func TestRenderedPagesAreValidJSON(t *testing.T) {
	f := NewFleet(1, 200, 12, nil)
	for _, id := range f.order {
		s := f.subs[id]
		w := getW()
		w.arr()
		for _, v := range s.vms {
			w.vmModel(v, false, false)
			w.vmModel(v, true, false)
			for _, n := range v.nics {
				w.nicModel(n)
			}
		}
		for _, p := range s.pips {
			w.pipModel(p)
		}
		for _, ss := range s.scaleSets {
			w.scaleSetModel(ss)
			for _, v := range ss.instances {
				w.vmModel(v, false, true)
				w.instanceView(v)
			}
		}
		w.endArr()
		var out []map[string]any
		if err := json.Unmarshal(w.b, &out); err != nil {
			t.Fatalf("subscription %s: invalid JSON: %v", id, err)
		}
		if len(out) == 0 {
			t.Fatal("rendered nothing")
		}
		putW(w)
	}
}
