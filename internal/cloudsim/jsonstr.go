package cloudsim

import "unicode/utf8"

// JSONStrings appends strings as JSON string literals, the way a cloud's
// front end escapes them: quotes, backslashes and control characters
// always (\n, \r, \t, else \u00XX), invalid UTF-8 as U+FFFD, and the ASCII
// characters it was made with as \u00XX too. The simulators write their
// JSON by hand, for speed on large fleets, and share this part of it.
type JSONStrings struct {
	plain [utf8.RuneSelf]bool
}

// JSON escapes only what JSON requires (Azure Resource Manager, OpenStack).
var JSON = NewJSONStrings("")

// NewJSONStrings returns an escaper that also escapes the ASCII characters
// of also (Google's front ends escape <>&=').
func NewJSONStrings(also string) *JSONStrings {
	e := &JSONStrings{}
	for c := 0x20; c < utf8.RuneSelf; c++ {
		e.plain[c] = c != '"' && c != '\\'
	}
	for i := 0; i < len(also); i++ {
		if also[i] < utf8.RuneSelf {
			e.plain[also[i]] = false
		}
	}
	return e
}

const hexDigits = "0123456789abcdef"

// Append appends s as a quoted JSON string.
func (e *JSONStrings) Append(b []byte, s string) []byte {
	b = append(b, '"')
	b = e.AppendBody(b, s)
	return append(b, '"')
}

// AppendBody appends s escaped for a JSON string, without the quotes.
func (e *JSONStrings) AppendBody(b []byte, s string) []byte {
	i := 0
	for i < len(s) && s[i] < utf8.RuneSelf && e.plain[s[i]] {
		i++
	}
	if i == len(s) {
		return append(b, s...)
	}
	start := 0
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			if e.plain[c] {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(b, s[start:i]...)
			b = append(b, `\ufffd`...)
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(b, s[start:]...)
}
