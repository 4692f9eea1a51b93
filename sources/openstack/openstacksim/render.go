package openstacksim

import (
	"strconv"
	"sync"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// jw writes JSON by appending to a buffer: the server renders pages of a
// thousand servers, and reflection-based encoding would dominate.
//
// Object members are written with a key; array items with key "". The
// writer inserts the commas.
type jw struct {
	b     []byte
	stack []bool // per open container: whether it has a member yet
}

var writers = sync.Pool{New: func() any { return &jw{b: make([]byte, 0, 64<<10)} }}

func getW() *jw {
	w := writers.Get().(*jw)
	w.b, w.stack = w.b[:0], w.stack[:0]
	return w
}

func putW(w *jw) {
	if cap(w.b) <= 8<<20 {
		writers.Put(w)
	}
}

func (w *jw) sep() {
	if n := len(w.stack); n > 0 {
		if w.stack[n-1] {
			w.b = append(w.b, ',')
		} else {
			w.stack[n-1] = true
		}
	}
}

func (w *jw) key(k string) {
	w.sep()
	if k != "" {
		w.b = cloudsim.JSON.Append(w.b, k)
		w.b = append(w.b, ':')
	}
}

func (w *jw) obj(k string) {
	w.key(k)
	w.b = append(w.b, '{')
	w.stack = append(w.stack, false)
}

func (w *jw) arr(k string) {
	w.key(k)
	w.b = append(w.b, '[')
	w.stack = append(w.stack, false)
}

func (w *jw) endObj() { w.b = append(w.b, '}'); w.stack = w.stack[:len(w.stack)-1] }
func (w *jw) endArr() { w.b = append(w.b, ']'); w.stack = w.stack[:len(w.stack)-1] }

func (w *jw) str(k, v string) {
	w.key(k)
	w.b = cloudsim.JSON.Append(w.b, v)
}

// strCat writes the concatenation of parts as one string, without
// building it first.
func (w *jw) strCat(k string, parts ...string) {
	w.key(k)
	w.b = append(w.b, '"')
	for _, p := range parts {
		w.b = cloudsim.JSON.AppendBody(w.b, p)
	}
	w.b = append(w.b, '"')
}

// link writes one {"rel":rel,"href":href...} item of a links array.
func (w *jw) link(rel string, href ...string) {
	w.obj("")
	w.str("rel", rel)
	w.strCat("href", href...)
	w.endObj()
}

// links writes a links array of one link.
func (w *jw) links(rel string, href ...string) {
	w.arr("links")
	w.link(rel, href...)
	w.endArr()
}

// versionEnd writes the end of a version document, its self link and its
// media type, and closes the version.
func (w *jw) versionEnd(self, mediaType string) {
	w.links("self", self)
	w.arr("media-types")
	w.obj("")
	w.str("base", "application/json")
	w.str("type", mediaType)
	w.endObj()
	w.endArr()
	w.endObj()
}

// time writes t formatted with layout.
func (w *jw) time(k string, t time.Time, layout string) {
	w.key(k)
	w.b = append(w.b, '"')
	w.b = t.AppendFormat(w.b, layout)
	w.b = append(w.b, '"')
}

// strOrNull writes v, or null when v is "".
func (w *jw) strOrNull(k, v string) {
	if v == "" {
		w.null(k)
		return
	}
	w.str(k, v)
}

func (w *jw) int(k string, v int) {
	w.key(k)
	w.b = strconv.AppendInt(w.b, int64(v), 10)
}

func (w *jw) float(k string, v float64) {
	w.key(k)
	w.b = strconv.AppendFloat(w.b, v, 'f', 1, 64)
}

func (w *jw) bool(k string, v bool) {
	w.key(k)
	w.b = strconv.AppendBool(w.b, v)
}

func (w *jw) null(k string) {
	w.key(k)
	w.b = append(w.b, "null"...)
}

func (w *jw) strs(k string, vs []string) {
	w.arr(k)
	for _, v := range vs {
		w.str("", v)
	}
	w.endArr()
}
