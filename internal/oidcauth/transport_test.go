package oidcauth

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestLimitedBody(t *testing.T) {
	for _, tc := range []struct {
		size    int
		tooLong bool
	}{{0, false}, {99, false}, {100, false}, {101, true}, {10000, true}} {
		b := &limitedBody{rc: io.NopCloser(bytes.NewReader(bytes.Repeat([]byte("x"), tc.size))), left: 100, max: 100}
		got, err := io.ReadAll(b)
		var tl errTooLarge
		if tc.tooLong != errors.As(err, &tl) || len(got) > 100 {
			t.Errorf("%d bytes under a limit of 100: read %d, %v", tc.size, len(got), err)
		}
		if !tc.tooLong && len(got) != tc.size {
			t.Errorf("%d bytes: read %d", tc.size, len(got))
		}
		if tc.tooLong && !strings.Contains(err.Error(), "larger than 100 bytes") {
			t.Errorf("error %q", err)
		}
	}
}
