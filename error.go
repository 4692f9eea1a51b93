package roster

import (
	"errors"
	"fmt"
	"strings"
)

// Error codes. Every error that reaches an API client or a CLI user carries
// one of these; anything else is reported as EINTERNAL with a generic message.
const (
	EINVALID      = "invalid"
	ENOTFOUND     = "not_found"
	ECONFLICT     = "conflict"
	EUNAUTHORIZED = "unauthorized"
	EFORBIDDEN    = "forbidden"
	ETOOLARGE     = "too_large"
	// EMEDIATYPE: a request body of a type the operation does not take.
	EMEDIATYPE   = "unsupported_media_type"
	EMETHOD      = "method_not_allowed"
	ETOOMANY     = "too_many_requests"
	EUNAVAILABLE = "unavailable"
	// EFULL: a disk Roster writes to (the database's, the rendered
	// documents') is full.
	EFULL     = "storage_full"
	EINTERNAL = "internal"
)

// Error is an application error: a code, a message fit for the user, and for
// EINVALID the offending fields.
type Error struct {
	Code    string
	Message string
	Fields  []FieldError
}

// FieldError names one invalid field of a request, as a path into the request
// body such as "config.regions[1]".
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *Error) Error() string {
	if len(e.Fields) == 0 {
		return e.Message
	}
	var b strings.Builder
	b.WriteString(e.Message)
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(": ")
		b.WriteString(f.Message)
	}
	return b.String()
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Invalid returns an EINVALID error listing the given field errors. It
// returns nil when there are none, so callers can collect and return.
func Invalid(fields ...FieldError) error {
	if len(fields) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid input", Fields: fields}
}

// ErrorCode returns the code of the first *Error in err's chain, "" for nil
// and EINTERNAL for anything else.
func ErrorCode(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EINTERNAL
}

// ErrorMessage returns the user-facing message of err. Errors that are not
// *Error are internal: their text may hold details meant for logs only, so a
// generic message is returned instead.
func ErrorMessage(err error) string {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "internal error"
}

// ErrorFields returns the field errors of an EINVALID error.
func ErrorFields(err error) []FieldError {
	var e *Error
	if errors.As(err, &e) {
		return e.Fields
	}
	return nil
}

// FieldErrors accumulates field errors under a path prefix while a request
// is validated.
type FieldErrors []FieldError

// Add records a field error.
func (fe *FieldErrors) Add(field, format string, args ...any) {
	*fe = append(*fe, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// Merge records the field errors of err under prefix (e.g. "config") and
// returns false, or returns true when err is nil. Errors without fields are
// recorded against prefix itself.
func (fe *FieldErrors) Merge(prefix string, err error) bool {
	if err == nil {
		return true
	}
	fields := ErrorFields(err)
	if len(fields) == 0 {
		fe.Add(prefix, "%s", ErrorMessage(err))
		return false
	}
	for _, f := range fields {
		name := f.Field
		switch {
		case prefix == "":
		case name == "":
			name = prefix
		case strings.HasPrefix(name, "["):
			name = prefix + name
		default:
			name = prefix + "." + name
		}
		*fe = append(*fe, FieldError{Field: name, Message: f.Message})
	}
	return false
}

// Err returns the accumulated errors as an EINVALID *Error, or nil.
func (fe FieldErrors) Err() error { return Invalid(fe...) }
