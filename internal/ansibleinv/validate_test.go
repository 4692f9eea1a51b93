package ansibleinv

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// jsonSeeds are inputs at the edges of JSON's grammar.
var jsonSeeds = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `-1E-2`, `01`, `1.`, `.5`, `-`, `1e`, `1e+`, `+1`,
	`true`, `false`, `null`, `tru`, `nul`, `trUe`, `{"a":1,}`, `[1,]`, `[,1]`, `{"a" 1}`, `{a:1}`,
	`"\u00e9\n\t\"\\\/"`, `"\u00g0"`, `"\x"`, "\"a\tb\"", "\"\x01\"", `"é✓"`, "\"\xff\xfe\"",
	`{"k":{"k":[[[{}]]]}}`, ` { "a" : [ 1 , 2 ] } `, `{"a":1}{"b":2}`, `{"a":1} x`, `{"a":1}  `,
	`"unterminated`, `{"a":`, `[1,2`, strings.Repeat("[", 10001) + strings.Repeat("]", 10001),
	`"` + strings.Repeat("abcdefgh", 40) + `\"` + strings.Repeat("x", 13) + `"`,
	`{"` + strings.Repeat("k", 70) + `\u0041":` + strings.Repeat(`"v"`, 1) + `}`,
}

// scanAny checks b as any JSON value, reading it in chunks of the given
// reader's making.
func scanAny(r io.Reader) error {
	s := newScanner(r)
	c, err := s.first()
	if err != nil {
		return err
	}
	if err := s.value(c); err != nil {
		return err
	}
	return s.end()
}

// FuzzScanner: the scanner takes exactly what encoding/json takes as
// one JSON value, however the bytes are cut into reads.
func FuzzScanner(f *testing.F) {
	for _, s := range jsonSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(validList))
	f.Fuzz(func(t *testing.T, b []byte) {
		want := json.Valid(b)
		whole := scanAny(bytes.NewReader(b))
		bytewise := scanAny(iotest.OneByteReader(bytes.NewReader(b)))
		if (whole == nil) != want || (bytewise == nil) != want {
			t.Fatalf("%q: encoding/json says valid=%v; the scanner says %v (whole), %v (a byte at a time)", b, want, whole, bytewise)
		}
		if whole != nil && bytewise != nil && whole.Error() != bytewise.Error() {
			t.Fatalf("%q: %v whole, %v a byte at a time", b, whole, bytewise)
		}
	})
}

// TestScannerAgreesWithEncodingJSON runs the seeds in every build, not
// only under -fuzz, with errors of the expected kind.
func TestScannerAgreesWithEncodingJSON(t *testing.T) {
	for _, b := range jsonSeeds {
		err := scanAny(iotest.HalfReader(strings.NewReader(b)))
		if (err == nil) != json.Valid([]byte(b)) {
			t.Errorf("%.60q: scanner %v, encoding/json valid=%v", b, err, json.Valid([]byte(b)))
		}
		var syntax *syntaxError
		var shape *shapeError
		if err != nil && !errors.As(err, &syntax) && !errors.As(err, &shape) && err != io.ErrUnexpectedEOF {
			t.Errorf("%.60q: error %T %v", b, err, err)
		}
	}
}

// TestCheckListShapes: a document is accepted only with the shape Ansible
// reads, wherever the buffer boundaries fall.
func TestCheckListShapes(t *testing.T) {
	for _, tc := range []struct{ doc, want string }{
		{validList, ""},
		{`{"_meta":{"other":1,"hostvars":{"h":{"a":[1,{"b":null}]}}},"g":{"hosts":[],"other":[1]}}`, ""},
		{`{"\u005fmeta":{"host\u0076ars":{}}}`, ""}, // escaped keys are the same keys
		{`{"_meta":{"hostvars":{"a\"b":[]}}}`, `the vars of host "a\"b" are a list, not an object`},
		{`{"_meta":{"hostvars":{}},"g":{"hosts":["a",1]}}`, `the hosts of group "g" are not a list of names`},
		{`{"_meta":{"hostvars":{}},"g":{"vars":"x"}}`, `the vars of group "g" are not an object`},
		{`{"_meta":{"hostvars":{}},"g":true}`, `group "g" is a boolean, not an object`},
		{`{"_meta":{"hostvars":[]}}`, `_meta.hostvars is a list, not an object`},
		{`{"_meta":"x"}`, `_meta is a string, not an object`},
		{`"x"`, `the document is a string, not an object`},
		{`{"_meta":{"hostvars":{}}} {}`, `more than one JSON value`},
		{`{"_meta":{"hostvars":{}}} ]`, `invalid character ']' after top-level value`},
	} {
		for _, r := range []io.Reader{strings.NewReader(tc.doc), iotest.OneByteReader(strings.NewReader(tc.doc))} {
			err := checkList(newScanner(r))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.want {
				t.Errorf("%s: %q, want %q", tc.doc, got, tc.want)
			}
		}
	}
}
