package construct

import (
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// TestParserPanicIsASyntaxError: text on which gonja's lexer panics (found
// by FuzzConfig through a gcp source's compose) is refused as a syntax
// error naming the option, in expressions and parent_group templates.
func TestParserPanicIsASyntaxError(t *testing.T) {
	for _, src := range []string{"0.日", "1.\uFFFD", "x + 12.😀"} {
		_, err := Parse(map[string]any{
			"compose":      map[string]any{"v": src},
			"keyed_groups": []any{map[string]any{"key": "tags", "parent_group": "{{ " + src + " }}"}},
		})
		fields := roster.ErrorFields(err)
		if roster.ErrorCode(err) != roster.EINVALID || len(fields) != 2 ||
			fields[0].Field != "compose.v" || fields[1].Field != "keyed_groups[0].parent_group" {
			t.Fatalf("%q: %v", src, err)
		}
		for _, fe := range fields {
			if !strings.HasPrefix(fe.Message, "syntax error") {
				t.Errorf("%q: %s: %s", src, fe.Field, fe.Message)
			}
		}
	}
}
