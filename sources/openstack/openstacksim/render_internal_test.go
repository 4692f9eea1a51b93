package openstacksim

import (
	"encoding/json"
	"testing"

	"github.com/rosterhq/roster/internal/cloudsim"
)

func TestAppendStringRoundTrips(t *testing.T) {
	for _, s := range []string{
		"", "plain", `q"uote`, `back\slash`, "new\nline\ttab\rret", "\x00\x01\x1f\x7f", "é ü 日本 😀",
		"R&D <EMEA> 'x' / 42", "bad \xff utf8 \xe2\x82", "\u2028\u2029",
	} {
		b := cloudsim.JSON.Append(nil, s)
		var got string
		if err := json.Unmarshal(b, &got); err != nil {
			t.Fatalf("%q rendered as invalid JSON %s: %v", s, b, err)
		}
		want, _ := json.Marshal(s)
		var wantS string
		_ = json.Unmarshal(want, &wantS)
		if got != wantS {
			t.Fatalf("%q round-trips to %q, want %q", s, got, wantS)
		}
	}
}

func TestWriterNesting(t *testing.T) {
	w := getW()
	defer putW(w)
	w.obj("")
	w.arr("a")
	w.obj("")
	w.int("n", -3)
	w.float("f", 1)
	w.endObj()
	w.str("", "x")
	w.null("")
	w.endArr()
	w.strOrNull("e", "")
	w.bool("b", true)
	w.strs("s", nil)
	w.endObj()
	if got := string(w.b); got != `{"a":[{"n":-3,"f":1.0},"x",null],"e":null,"b":true,"s":[]}` {
		t.Fatalf("got %s", got)
	}
}
