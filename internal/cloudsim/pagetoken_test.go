package cloudsim_test

import (
	"testing"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// TestPageToken: a token decodes to what was encoded, with or without a
// scope, and anything else is refused.
func TestPageToken(t *testing.T) {
	for _, want := range []cloudsim.PageToken{
		{Page: 1, LastSeq: 0, Query: 42},
		{Page: 7, LastSeq: 1 << 40, Query: ^uint64(0), Scope: "eu-west-1"},
	} {
		got, ok := cloudsim.DecodePageToken(want.Encode())
		if !ok || got != want {
			t.Fatalf("decode(encode(%+v)) = %+v, %v", want, got, ok)
		}
	}
	good := cloudsim.PageToken{Page: 2, LastSeq: 5, Query: 9}.Encode()
	for _, bad := range []string{"", "not base64!", good[:len(good)-2], cloudsim.PageToken{Page: 0, Query: 1}.Encode()} {
		if tok, ok := cloudsim.DecodePageToken(bad); ok {
			t.Errorf("%q decoded to %+v", bad, tok)
		}
	}
}
