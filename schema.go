package roster

import "fmt"

// SchemaNewerError says a database holds a schema this binary does not
// know: a newer roster upgraded it (or one built from another branch). A
// node refuses to start on it rather than run queries against tables it
// does not understand; migrations only go forward.
type SchemaNewerError struct {
	Database string // where, without a password
	Part     string // "store" or "job queue (River)"
	Have     int    // the database's newest unknown version
	Known    int    // the newest version this binary knows
}

func (e *SchemaNewerError) Error() string {
	if e.Have < e.Known {
		return fmt.Sprintf("database %s has %s schema version %d, which this roster binary does not know (it knows %s schema versions up to %d, not %d): "+
			"a roster built from other sources applied it; run a build that has it on this node; nothing was changed",
			e.Database, e.Part, e.Have, e.Part, e.Known, e.Have)
	}
	return fmt.Sprintf("database %s has %s schema version %d, newer than this roster binary (it knows %s schema versions up to %d): "+
		"a newer roster upgraded it; run that version or a newer one on this node (`roster version` prints a binary's schema versions); nothing was changed",
		e.Database, e.Part, e.Have, e.Part, e.Known)
}

// Unwrap gives the error its code, EUNAVAILABLE, for ErrorCode.
func (e *SchemaNewerError) Unwrap() error { return &Error{Code: EUNAVAILABLE, Message: e.Error()} }

// CheckSchema returns a *SchemaNewerError when applied holds a version
// outside known (the versions a binary embeds), nil otherwise.
func CheckSchema(database, part string, applied, known []int) error {
	isKnown := make(map[int]bool, len(known))
	newest := 0
	for _, v := range known {
		isKnown[v] = true
		newest = max(newest, v)
	}
	unknown := 0
	for _, v := range applied {
		if !isKnown[v] {
			unknown = max(unknown, v)
		}
	}
	if unknown == 0 {
		return nil
	}
	return &SchemaNewerError{Database: database, Part: part, Have: unknown, Known: newest}
}
