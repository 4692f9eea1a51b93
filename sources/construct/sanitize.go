package construct

import (
	"unicode"
	"unicode/utf8"
)

// SafeGroupName sanitises a group name the way ansible-core's
// to_safe_group_name(name, force=True) does: every match of the Python
// regular expression ^[\d\W]|[^\w] is replaced by "_". Python matches str
// patterns with Unicode semantics, so \w is any letter (L*), any number
// (Nd, Nl, No) or "_", and \d any decimal digit (Nd): "café" stays as it
// is, "2web" becomes "_web" and "a-b.c" becomes "a_b_c". An empty name
// stays empty.
func SafeGroupName(name string) string {
	if isSafe(name) {
		return name
	}
	var buf [128]byte
	return string(appendSafe(buf[:0], name, true))
}

// safeJoin is SafeGroupName of the concatenated parts, with at most one
// allocation.
func safeJoin(parts ...string) string {
	var buf [128]byte
	out := buf[:0]
	only, nonEmpty := "", 0
	for _, p := range parts {
		if p != "" {
			only, nonEmpty = p, nonEmpty+1
		}
		out = appendSafe(out, p, len(out) == 0)
	}
	if nonEmpty == 1 && string(out) == only {
		return only // clean already: no copy
	}
	return string(out)
}

func isSafe(name string) bool {
	for i, r := range name {
		if !isWordRune(r) || (i == 0 && unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}

// appendSafe appends s to dst with every character that is not \w, and a
// leading digit when first is set, replaced by "_". An invalid byte
// decodes as U+FFFD, which is not \w.
func appendSafe(dst []byte, s string, first bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case first && i == 0 && '0' <= c && c <= '9':
				dst = append(dst, '_')
			case isWordRune(rune(c)):
				dst = append(dst, c)
			default:
				dst = append(dst, '_')
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case first && i == 0 && unicode.IsDigit(r), !isWordRune(r):
			dst = append(dst, '_')
		default:
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return dst
}

// isWordRune is Python 3's \w for str patterns.
func isWordRune(r rune) bool {
	if r < utf8.RuneSelf {
		return r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z') || ('0' <= r && r <= '9')
	}
	return unicode.IsLetter(r) || unicode.IsNumber(r)
}
