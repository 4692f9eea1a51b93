package ansibleinv

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
)

// The document is checked in one pass over its bytes, as it arrives:
// the whole of it is JSON (what Ansible's json.loads takes) and it has
// the shape Ansible's script plugin reads. No value is built: a host's
// vars are only scanned, so the check runs near the speed of memory
// rather than encoding/json's (which scanned each value twice).

// shapeError is valid JSON that is not the document Ansible expects.
type shapeError struct{ msg string }

func (e *shapeError) Error() string { return e.msg }

func notInventory(format string, a ...any) error {
	return &shapeError{msg: fmt.Sprintf(format, a...)}
}

// syntaxError is a document that is not JSON; offset counts the bytes
// read up to the bad one, as encoding/json's SyntaxError does.
type syntaxError struct {
	msg    string
	offset int64
}

func (e *syntaxError) Error() string { return e.msg }

// maxDepth bounds nesting, as encoding/json does.
const maxDepth = 10000

// scanner reads a document from r through a buffer of its own.
type scanner struct {
	r     io.Reader
	buf   []byte
	i     int   // the next byte of buf
	off   int64 // the offset of buf[0] in the document
	err   error // r's error once buf is used up
	depth int
	key   []byte // the last object key read (unescaped), reused
}

func newScanner(r io.Reader) *scanner {
	return &scanner{r: r, buf: make([]byte, 0, 256<<10)}
}

// fill reads more of the document, reporting whether there is any.
func (s *scanner) fill() bool {
	if s.err != nil {
		return false
	}
	s.off += int64(len(s.buf))
	s.buf, s.i = s.buf[:0], 0
	// Fill half the buffer at least: the body comes in small reads, and
	// fewer, larger ones cost less downstream (the spool's writes).
	for len(s.buf) < cap(s.buf)/2 {
		n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
		s.buf = s.buf[:len(s.buf)+n]
		if err != nil {
			s.err = err
			break
		}
	}
	return len(s.buf) > 0
}

// cut is the error for a document that ends inside a value.
func (s *scanner) cut() error {
	if s.err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return s.err
}

// next returns the next byte, consumed.
func (s *scanner) next() (byte, error) {
	if s.i == len(s.buf) && !s.fill() {
		return 0, s.cut()
	}
	c := s.buf[s.i]
	s.i++
	return c, nil
}

// nonSpace returns the next byte that is not white space, consumed.
func (s *scanner) nonSpace() (byte, error) {
	for {
		for s.i < len(s.buf) {
			c := s.buf[s.i]
			s.i++
			if c > ' ' || (c != ' ' && c != '\t' && c != '\n' && c != '\r') {
				return c, nil
			}
		}
		if !s.fill() {
			return 0, s.cut()
		}
	}
}

func (s *scanner) invalid(c byte, context string) error {
	return &syntaxError{msg: "invalid character " + quoteChar(c) + " " + context, offset: s.off + int64(s.i)}
}

// quoteChar formats c as encoding/json's messages do.
func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	q := strconv.Quote(string(rune(c)))
	return "'" + q[1:len(q)-1] + "'"
}

// checkList reads a --list document: an object whose _meta.hostvars maps
// host names to objects, and whose other members are groups, objects
// whose hosts and children are lists of names and whose vars are an
// object. Roster always sends _meta.hostvars; a document without it
// (`{}`, `{"error": ...}`) would give Ansible no hosts, silently.
func checkList(s *scanner) error {
	meta := false
	c, err := s.first()
	if err != nil {
		return err
	}
	if c != '{' {
		return s.notObject(c, "the document is %s, not an object")
	}
	err = s.object(func(c byte) error {
		if string(s.key) == "_meta" {
			meta = true
			return s.meta(c)
		}
		return s.group(c, string(s.key))
	})
	if err == nil && !meta {
		err = notInventory("it has no _meta.hostvars")
	}
	if err == nil {
		err = s.end()
	}
	return err
}

// checkHostVars reads a --host document: one object.
func checkHostVars(s *scanner) error {
	c, err := s.first()
	if err != nil {
		return err
	}
	if c != '{' {
		return s.notObject(c, "it is %s, not an object")
	}
	if err := s.value(c); err != nil {
		return err
	}
	return s.end()
}

// first returns the first byte of the document: io.EOF when it has none.
func (s *scanner) first() (byte, error) {
	c, err := s.nonSpace()
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return c, err
}

// notObject checks the value starting with c (which is not '{') is JSON,
// then says what it is instead of an object.
func (s *scanner) notObject(c byte, format string) error {
	if err := s.value(c); err != nil {
		return err
	}
	return notInventory(format, describeRaw(c))
}

// end makes sure nothing follows the document.
func (s *scanner) end() error {
	c, err := s.nonSpace()
	switch {
	case err == io.ErrUnexpectedEOF:
		return nil
	case err != nil:
		return err
	case c == '{' || c == '[' || c == '"' || c == '-' || (c >= '0' && c <= '9') || c == 't' || c == 'f' || c == 'n':
		return notInventory("more than one JSON value")
	}
	return s.invalid(c, "after top-level value")
}

func (s *scanner) meta(c byte) error {
	if c != '{' {
		return s.notObject(c, "_meta is %s, not an object")
	}
	hostvars := false
	err := s.object(func(c byte) error {
		if string(s.key) != "hostvars" {
			return s.value(c)
		}
		hostvars = true
		if c != '{' {
			return s.notObject(c, "_meta.hostvars is %s, not an object")
		}
		return s.object(func(c byte) error {
			if c != '{' {
				return notInventory("the vars of host %q are %s, not an object", s.key, describeRaw(c))
			}
			return s.value(c)
		})
	})
	if err == nil && !hostvars {
		err = notInventory("it has no _meta.hostvars")
	}
	return err
}

func (s *scanner) group(c byte, name string) error {
	if c != '{' {
		return s.notObject(c, "group "+strconv.Quote(name)+" is %s, not an object")
	}
	return s.object(func(c byte) error {
		switch k := string(s.key); k {
		case "hosts", "children":
			if c != '[' {
				if err := s.value(c); err != nil {
					return err
				}
				return notInventory("the %s of group %q are not a list of names", k, name)
			}
			return s.array(func(c byte) error {
				if c != '"' {
					return notInventory("the %s of group %q are not a list of names", k, name)
				}
				return s.str(false)
			})
		case "vars":
			if c != '{' {
				if err := s.value(c); err != nil {
					return err
				}
				return notInventory("the vars of group %q are not an object", name)
			}
		}
		return s.value(c)
	})
}

// object reads the members of an object whose '{' was read, calling
// member with the first byte of each value (consumed), s.key holding the
// member's key; member reads the rest of the value.
func (s *scanner) object(member func(c byte) error) error {
	return s.sequence('}', "after object key:value pair", func(c byte) error {
		if c != '"' {
			return s.invalid(c, "looking for beginning of object key string")
		}
		if err := s.str(true); err != nil {
			return err
		}
		c, err := s.nonSpace()
		if err != nil {
			return err
		}
		if c != ':' {
			return s.invalid(c, "after object key")
		}
		if c, err = s.nonSpace(); err != nil {
			return err
		}
		return member(c)
	})
}

// array reads the elements of an array whose '[' was read, calling elem
// with the first byte of each (consumed).
func (s *scanner) array(elem func(c byte) error) error {
	return s.sequence(']', "after array element", elem)
}

// sequence reads the comma-separated entries of an object or array whose
// opening byte was read, up to close, calling entry with the first byte of
// each (consumed); after names an entry in the error for a bad separator.
func (s *scanner) sequence(close byte, after string, entry func(c byte) error) error {
	if s.depth++; s.depth > maxDepth {
		return &syntaxError{msg: "exceeded max depth", offset: s.off + int64(s.i)}
	}
	defer func() { s.depth-- }()
	c, err := s.nonSpace()
	if err != nil {
		return err
	}
	if c == close {
		return nil
	}
	for {
		if err := entry(c); err != nil {
			return err
		}
		if c, err = s.nonSpace(); err != nil {
			return err
		}
		switch c {
		case close:
			return nil
		case ',':
		default:
			return s.invalid(c, after)
		}
		if c, err = s.nonSpace(); err != nil {
			return err
		}
	}
}

// value reads one value whose first byte, c, was read.
func (s *scanner) value(c byte) error {
	switch {
	case c == '{':
		return s.object(s.value)
	case c == '[':
		return s.array(s.value)
	case c == '"':
		return s.str(false)
	case c == '-' || (c >= '0' && c <= '9'):
		return s.number(c)
	case c == 't':
		return s.literal("rue")
	case c == 'f':
		return s.literal("alse")
	case c == 'n':
		return s.literal("ull")
	}
	return s.invalid(c, "looking for beginning of value")
}

func (s *scanner) literal(rest string) error {
	for i := 0; i < len(rest); i++ {
		c, err := s.next()
		if err != nil {
			return err
		}
		if c != rest[i] {
			word := map[byte]string{'r': "true", 'a': "false", 'u': "null"}[rest[0]]
			return s.invalid(c, fmt.Sprintf("in literal %s (expecting %s)", word, quoteChar(rest[i])))
		}
	}
	return nil
}

// number reads a number whose first byte, c, was read.
func (s *scanner) number(c byte) error {
	var err error
	digits := func() (int, error) { // reads digits, returning how many
		n := 0
		for {
			if s.i == len(s.buf) && !s.fill() {
				if s.err == io.EOF {
					return n, nil // the number may end the document
				}
				return n, s.err
			}
			if d := s.buf[s.i]; d < '0' || d > '9' {
				return n, nil
			}
			s.i++
			n++
		}
	}
	need := func() error { // one digit at least
		if s.i == len(s.buf) && !s.fill() {
			return s.cut()
		}
		if d := s.buf[s.i]; d < '0' || d > '9' {
			s.i++
			return s.invalid(d, "in numeric literal")
		}
		_, err := digits()
		return err
	}
	if c == '-' {
		if c, err = s.next(); err != nil {
			return err
		}
		if c < '0' || c > '9' {
			return s.invalid(c, "in numeric literal")
		}
	}
	if c != '0' {
		if _, err := digits(); err != nil {
			return err
		}
	}
	peek := func() (byte, bool) {
		if s.i == len(s.buf) && !s.fill() {
			return 0, false
		}
		return s.buf[s.i], true
	}
	if d, ok := peek(); ok && d == '.' {
		s.i++
		if err := need(); err != nil {
			return err
		}
	}
	if d, ok := peek(); ok && (d == 'e' || d == 'E') {
		s.i++
		if d, ok := peek(); ok && (d == '+' || d == '-') {
			s.i++
		}
		if err := need(); err != nil {
			return err
		}
	}
	if s.err != nil && s.err != io.EOF {
		return s.err
	}
	return nil
}

// SWAR masks: a word with every byte set to a value.
const (
	ones      = 0x0101010101010101
	highs     = 0x8080808080808080
	quotes    = '"' * ones
	backslash = '\\' * ones
	controls  = 0x20 * ones
)

// str reads a string whose '"' was read; with key, its text is left in
// s.key.
func (s *scanner) str(key bool) error {
	if key {
		s.key = s.key[:0]
	}
	escaped := false
	for {
		b := s.buf
		i := s.i
		// Eight bytes at a time while none is a quote, a backslash or a
		// control character.
		for ; i+8 <= len(b); i += 8 {
			x := binary.LittleEndian.Uint64(b[i:])
			q, bs := x^quotes, x^backslash
			if ((q-ones)&^q|(bs-ones)&^bs|(x-controls)&^x)&highs != 0 {
				break
			}
		}
		for ; i < len(b); i++ {
			c := b[i]
			if c == '"' || c == '\\' || c < 0x20 {
				break
			}
		}
		if key {
			s.key = append(s.key, b[s.i:i]...)
		}
		s.i = i
		if i == len(b) {
			if !s.fill() {
				return s.cut()
			}
			continue
		}
		c := b[i]
		s.i++
		switch {
		case c == '"':
			if key && escaped {
				return s.unescapeKey()
			}
			return nil
		case c < 0x20:
			return s.invalid(c, "in string literal")
		}
		// A backslash: an escape.
		escaped = true
		if key {
			s.key = append(s.key, c)
		}
		e, err := s.next()
		if err != nil {
			return err
		}
		if key {
			s.key = append(s.key, e)
		}
		switch e {
		case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
		case 'u':
			for range 4 {
				h, err := s.next()
				if err != nil {
					return err
				}
				if !('0' <= h && h <= '9' || 'a' <= h && h <= 'f' || 'A' <= h && h <= 'F') {
					return s.invalid(h, "in \\u hexadecimal character escape")
				}
				if key {
					s.key = append(s.key, h)
				}
			}
		default:
			return s.invalid(e, "in string escape code")
		}
	}
}

// unescapeKey turns the key read, with escapes, into its text.
func (s *scanner) unescapeKey() error {
	quoted := make([]byte, 0, len(s.key)+2)
	quoted = append(append(append(quoted, '"'), s.key...), '"')
	var text string
	if err := json.Unmarshal(quoted, &text); err != nil {
		return &syntaxError{msg: err.Error(), offset: s.off + int64(s.i)}
	}
	s.key = append(s.key[:0], text...)
	return nil
}

func describeRaw(first byte) string {
	switch first {
	case '{':
		return "an object"
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
