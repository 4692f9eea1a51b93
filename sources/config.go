package sources

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources/construct"
)

// Decode decodes a provider's options (a JSON-compatible map) into the
// struct pointed to by into, rejecting unknown options: every unknown key
// is its own field error, with the closest known option when one is close
// enough to be a likely typo. Errors are EINVALID with fields named as in
// the map ("regions[1]").
func Decode(config map[string]any, into any) error {
	var errs roster.FieldErrors
	known := OptionNames(into)
	var unknown []string
	for k := range config {
		// encoding/json matches names without regard to case; so does this.
		if !slices.ContainsFunc(known, func(n string) bool { return strings.EqualFold(n, k) }) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		candidates := append(slices.Clone(known), construct.Keys()...)
		slices.Sort(candidates)
		config = maps.Clone(config)
		for _, k := range unknown {
			delete(config, k)
			errs = append(errs, unknownOption(k, candidates))
		}
	}
	raw, err := json.Marshal(config)
	if err != nil {
		errs = append(errs, roster.FieldError{Message: "options are not JSON-compatible: " + err.Error()})
		return errs.Err()
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(into); err != nil {
		errs.Merge("", decodeError(err, into))
	}
	return errs.Err()
}

// unknownOption is the field error of an unknown option: a suggestion when
// a known option is a likely typo of it, else the list of known options.
func unknownOption(name string, known []string) roster.FieldError {
	if s := Suggest(name, known); s != "" {
		return roster.FieldError{Field: name, Message: fmt.Sprintf("unknown option; did you mean %q?", s)}
	}
	return roster.FieldError{Field: name, Message: "unknown option; known options are " + strings.Join(known, ", ")}
}

// Suggest returns the candidate closest to name by edit distance
// (Levenshtein, case-insensitive, '-' and '_' alike) when it is close
// enough to be a likely typo: within a third of name's length in edits (at
// least one edit is always allowed). Ties go to the first candidate in
// order. "" when none is close enough.
func Suggest(name string, candidates []string) string {
	norm := func(s string) string { return strings.ReplaceAll(strings.ToLower(s), "-", "_") }
	n := norm(name)
	limit := max(1, len([]rune(n))/3)
	best, bestDist := "", limit+1
	for _, c := range candidates {
		if d := editDistance(n, norm(c)); d < bestDist {
			best, bestDist = c, d
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(rb)]
}

func decodeError(err error, into any) error {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return roster.Invalid(roster.FieldError{
			Field:   jsonPathToField(typeErr.Field),
			Message: fmt.Sprintf("must be %s, not %s", describeType(typeErr.Type), typeErr.Value),
		})
	}
	const unknown = "json: unknown field "
	if msg := err.Error(); strings.HasPrefix(msg, unknown) {
		name := strings.Trim(strings.TrimPrefix(msg, unknown), `"`)
		return roster.Invalid(roster.FieldError{
			Field:   name,
			Message: "unknown option; known options are " + strings.Join(OptionNames(into), ", "),
		})
	}
	return roster.Invalid(roster.FieldError{Message: err.Error()})
}

// jsonPathToField turns encoding/json's "a.b.0.c" into "a.b[0].c".
func jsonPathToField(p string) string {
	parts := strings.Split(p, ".")
	var b strings.Builder
	for i, part := range parts {
		if part != "" && strings.Trim(part, "0123456789") == "" {
			b.WriteString("[" + part + "]")
			continue
		}
		if i > 0 {
			b.WriteByte('.')
		}
		b.WriteString(part)
	}
	return b.String()
}

func describeType(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int64, reflect.Int32, reflect.Uint, reflect.Uint64, reflect.Uint32:
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "a list"
	case reflect.Map, reflect.Struct:
		return "an object"
	}
	return t.String()
}

// OptionNames lists the JSON names of the fields of the struct v points to.
func OptionNames(v any) []string {
	t := reflect.TypeOf(v)
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	var names []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

// StringList is an option that takes a list of strings or, as Ansible
// plugins allow, a single string.
type StringList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *StringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = StringList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return &json.UnmarshalTypeError{Value: jsonKind(b), Type: reflect.TypeFor[[]string]()}
	}
	*l = many
	return nil
}

func jsonKind(b []byte) string {
	switch b = bytes.TrimSpace(b); {
	case len(b) == 0:
		return "nothing"
	case b[0] == '{':
		return "object"
	case b[0] == '[':
		return "array with non-string items"
	case b[0] == '"':
		return "string"
	case b[0] == 't' || b[0] == 'f':
		return "bool"
	case b[0] == 'n':
		return "null"
	}
	return "number"
}
