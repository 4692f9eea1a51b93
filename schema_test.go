package roster

import (
	"errors"
	"strings"
	"testing"
)

func TestCheckSchema(t *testing.T) {
	known := []int{1, 2, 3, 5}
	for _, c := range []struct {
		name    string
		applied []int
		want    string // "" for no error
	}{
		{"empty database", nil, ""},
		{"older", []int{1, 2}, ""},
		{"same, with the gap", []int{1, 2, 3, 5}, ""},
		{"newer", []int{1, 2, 3, 5, 6, 7}, "has store schema version 7, newer than this roster binary (it knows store schema versions up to 5)"},
		// A version in a gap: applied by a binary built from another
		// branch; this binary would never apply its own 4.
		{"unknown in a gap", []int{1, 2, 3, 4}, "has store schema version 4, which this roster binary does not know (it knows store schema versions up to 5, not 4)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckSchema("db", "store", c.applied, known)
			if c.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			var newer *SchemaNewerError
			if !errors.As(err, &newer) || !strings.Contains(err.Error(), c.want) || !strings.HasPrefix(err.Error(), "database db ") {
				t.Fatalf("got %v, want %q", err, c.want)
			}
			if ErrorCode(err) != EUNAVAILABLE {
				t.Errorf("code %q, want %q", ErrorCode(err), EUNAVAILABLE)
			}
		})
	}
}
