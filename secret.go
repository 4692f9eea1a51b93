package roster

import "log/slog"

// Secret is a string that must never be printed: API tokens, cloud keys,
// passwords. Every formatting path (fmt verbs, slog, JSON) yields a
// placeholder; the value is reached only through Reveal, which makes each
// use of it visible in review.
type Secret string

const redacted = "[redacted]"

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String implements fmt.Stringer.
func (s Secret) String() string { return redacted }

// GoString implements fmt.GoStringer, so %#v is redacted too.
func (s Secret) GoString() string { return redacted }

// LogValue implements slog.LogValuer.
func (s Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON implements json.Marshaler.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText implements encoding.TextMarshaler (used by YAML and map keys).
func (s Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }
