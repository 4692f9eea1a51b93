// Package sourcestest holds what the providers' tests share.
package sourcestest

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
)

// maxValidate bounds one validation of a source's config. Validation
// parses, it never calls out: it takes microseconds, and a second is far
// beyond any machine's noise.
const maxValidate = time.Second

// FuzzConfig fuzzes a driver's options as the API hands them over: a JSON
// object decoded into a map, validated by a registry of the driver (which
// strips a pasted plugin key, renames aliases and hands the constructed
// options to the construct step). It checks that validation
//
//   - never panics and ends within maxValidate;
//   - refuses with EINVALID only, every field error naming an option
//     ("config.<option>...") or the config as a whole ("config": an
//     option whose name is empty, say) and saying why;
//   - leaves the config it was given as it was (the API stores it);
//   - answers the same config the same way twice (no map order leaks
//     into which error is reported).
//
// seeds are JSON objects; seed files (testdata/options/*.json) may be
// added with AddFiles.
func FuzzConfig(f *testing.F, d sources.Driver, seeds ...string) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	reg := sources.NewRegistry(d)
	f.Fuzz(func(t *testing.T, data []byte) {
		var config map[string]any
		if json.Unmarshal(data, &config) != nil || config == nil {
			return // the API refuses these before any provider sees them
		}
		before, err := json.Marshal(config)
		if err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		err = reg.Validate(d.Name(), config)
		if took := time.Since(start); took > maxValidate {
			t.Fatalf("validating took %s (limit %s): %s", took, maxValidate, data)
		}
		if after, _ := json.Marshal(config); !bytes.Equal(after, before) {
			t.Fatalf("validating changed the config:\nbefore %s\nafter  %s", before, after)
		}
		if err == nil {
			if again := reg.Validate(d.Name(), config); again != nil {
				t.Fatalf("valid once, then refused: %v", again)
			}
			return
		}
		if code := roster.ErrorCode(err); code != roster.EINVALID {
			t.Fatalf("refused with %s, want %s: %v", code, roster.EINVALID, err)
		}
		fields := roster.ErrorFields(err)
		if len(fields) == 0 {
			t.Fatalf("refused without naming a field: %v", err)
		}
		for _, fe := range fields {
			if fe.Field != "config" && !strings.HasPrefix(fe.Field, "config.") && !strings.HasPrefix(fe.Field, "config[") {
				t.Fatalf("field error %q: %q does not name an option", fe.Field, fe.Message)
			}
			if strings.TrimSpace(fe.Message) == "" {
				t.Fatalf("field error %q says nothing", fe.Field)
			}
		}
		if again := reg.Validate(d.Name(), config); again == nil || again.Error() != err.Error() {
			t.Fatalf("the same config answered twice differently:\n%v\n%v", err, again)
		}
	})
}

// AddFiles adds the files matching pattern (JSON objects) to f's seeds.
func AddFiles(f *testing.F, pattern string) {
	f.Helper()
	paths, err := filepath.Glob(pattern)
	if err != nil {
		f.Fatal(err)
	}
	if len(paths) == 0 {
		f.Fatalf("no seed files match %s", pattern)
	}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}
