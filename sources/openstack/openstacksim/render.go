package openstacksim

import (
	"net/url"
	"slices"
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

// versionDoc is a service's version document: {"version": {...}}, or for
// all the list of versions at path (objects down to an array: Nova's
// "versions", Keystone's "versions", "values") holding it. fields writes
// the version's own fields; its self link and media type follow.
func versionDoc(all bool, self, mediaType string, fields func(*jw), path ...string) []byte {
	w := getW()
	defer putW(w)
	w.obj("")
	outer := path[:len(path)-1]
	if all {
		for _, k := range outer {
			w.obj(k)
		}
		w.arr(path[len(path)-1])
		w.obj("")
	} else {
		w.obj("version")
	}
	fields(w)
	w.links("self", self)
	w.arr("media-types")
	w.obj("")
	w.str("base", "application/json")
	w.str("type", mediaType)
	w.endObj()
	w.endArr()
	w.endObj()
	if all {
		w.endArr()
		for range outer {
			w.endObj()
		}
	}
	w.endObj()
	return append([]byte(nil), w.b...)
}

// list opens a document {"key": [...]} at its list.
func (w *jw) list(key string) {
	w.obj("")
	w.arr(key)
}

// named opens object k (an array item for "") with an id and a name.
func (w *jw) named(k, id, name string) {
	w.obj(k)
	w.str("id", id)
	w.str("name", name)
}

// nextQuery is query with marker set, encoded: the next page's.
func nextQuery(query url.Values, marker string) string {
	next := url.Values{}
	for k, v := range query {
		next[k] = v
	}
	next.Set("marker", marker)
	return next.Encode()
}

// markerPage is the page of list after the element whose id is marker (from
// the start when marker is ""), at most limit long: list[start:end]; ok is
// false when no element has the marker's id.
func markerPage[T any](list []T, marker string, limit int, id func(T) string) (start, end int, ok bool) {
	if marker != "" {
		i := slices.IndexFunc(list, func(x T) bool { return id(x) == marker })
		if i < 0 {
			return 0, 0, false
		}
		start = i + 1
	}
	return start, min(len(list), start+limit), true
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
