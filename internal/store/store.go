// Package store persists Roster's domain in SQL databases: SQLite (the
// embedded default) and PostgreSQL (several processes on one database).
// Both pass the conformance suite in storetest.
package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/rosterhq/roster"
)

// newID returns a time-ordered unique id, so that ordering by id is
// ordering by creation.
func newID() string { return uuid.Must(uuid.NewV7()).String() }

// micros is the stored form of a time.
func micros(t time.Time) int64 { return t.UnixMicro() }

func fromMicros(us int64) time.Time { return time.UnixMicro(us).UTC() }

func nullMicros(t *time.Time) any {
	if t == nil {
		return nil
	}
	return t.UnixMicro()
}

// durationMicros is the stored form of a duration (negative durations are
// markers, such as roster.DefaultJitter, and keep their sign).
func durationMicros(d time.Duration) int64 {
	if d < 0 {
		return -1
	}
	return d.Microseconds()
}

func fromDurationMicros(us int64) time.Duration {
	if us < 0 {
		return roster.DefaultJitter
	}
	return time.Duration(us) * time.Microsecond
}

// nullJSON is the stored form of optional JSON: NULL when absent or null.
func nullJSON(b json.RawMessage) any {
	if len(b) == 0 || string(b) == "null" {
		return nil
	}
	return string(b)
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("store: encode %T: %v", v, err))
	}
	return string(b)
}

// hostCursor is the position after the last host of a page.
type hostCursor struct {
	Name string `json:"n"`
	ID   int64  `json:"i"`
}

func encodeCursor(v any) string {
	return base64.RawURLEncoding.EncodeToString([]byte(mustJSON(v)))
}

func decodeCursor(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return &roster.Error{Code: roster.EINVALID, Message: "invalid cursor", Fields: []roster.FieldError{{Field: "cursor", Message: "not a cursor returned by a previous page"}}}
	}
	return nil
}

// pageLimit bounds the page size a caller may ask for.
func pageLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// globPattern turns a host-name filter ('*' matches any run) into a GLOB
// pattern, escaping GLOB's other metacharacters.
func globPattern(s string) string {
	r := strings.NewReplacer("[", "[[]", "?", "[?]")
	return r.Replace(s)
}

func notFound(what, id string) error {
	return roster.Errorf(roster.ENOTFOUND, "%s %q not found", what, id)
}

// legacyLease is how long a run started without a lease is held (by a
// version before leases, in a cluster being upgraded): past the longest
// timeout (2 hours) of those versions.
const legacyLease = 3 * time.Hour

func nullInt(n int) any {
	if n == 0 {
		return nil
	}
	return n
}
