package api

import (
	"bytes"
	"encoding/json"
	"maps"

	"github.com/rosterhq/roster"
)

// PATCH bodies are JSON merge patches (RFC 7396): a member left out keeps
// its value, null removes it (returns a field to its default), an object
// merges into the object it patches, member by member and as deep as it
// goes, and anything else (a list, a string, ...) replaces the old value.

// mergePatch returns target patched by patch. Neither is changed: the
// objects on the patched paths are copies, the rest is shared.
func mergePatch(target, patch map[string]any) map[string]any {
	out := make(map[string]any, len(target)+len(patch))
	maps.Copy(out, target)
	for k, v := range patch {
		switch v := v.(type) {
		case nil:
			delete(out, k)
		case map[string]any:
			old, _ := out[k].(map[string]any)
			out[k] = mergePatch(old, v)
		default:
			out[k] = v
		}
	}
	return out
}

// patchMembers reads a merge patch's top-level members, each as its raw
// JSON (the text null for null): the fields of a resource are patched
// one by one, each with its own meaning of null.
func patchMembers(raw []byte) (map[string]json.RawMessage, error) {
	var members map[string]json.RawMessage
	if err := json.Unmarshal(raw, &members); err != nil || members == nil {
		return nil, roster.Invalid(roster.FieldError{Field: "body", Message: "must be a JSON object: a merge patch (RFC 7396) of the fields to change"})
	}
	return members, nil
}

func isNull(raw json.RawMessage) bool { return bytes.Equal(bytes.TrimSpace(raw), []byte("null")) }

// patchField decodes member name of a merge patch into a new *T: nil when
// the patch leaves it out, ifNull when it is null.
func patchField[T any](errs *roster.FieldErrors, members map[string]json.RawMessage, name string, ifNull T) *T {
	raw, ok := members[name]
	switch {
	case !ok:
		return nil
	case isNull(raw):
		return &ifNull
	}
	v := new(T)
	if err := json.Unmarshal(raw, v); err != nil {
		errs.Add(name, "cannot be parsed: %s", decodeReason(err))
		return nil
	}
	return v
}

// sourceChange is an UpdateSource body read as a merge patch of the
// source: each field nil when left as is, its new value else (null made
// the field's default, as the API's empty string for text fields), and
// Config the merged configuration.
type sourceChange struct {
	Name               *string
	Config             *map[string]any
	OnMissing          *string
	Credential         *string
	Schedule           *string
	ScheduleJitter     *string
	Timeout            *string
	UpdateCacheTimeout *int
}

func sourceChangeIn(raw []byte, src *roster.Source) (sourceChange, roster.FieldErrors) {
	var c sourceChange
	var errs roster.FieldErrors
	members, err := patchMembers(raw)
	if err != nil {
		return c, roster.ErrorFields(err)
	}
	if raw, ok := members["name"]; ok && isNull(raw) {
		errs.Add("name", "cannot be removed: a source has a name")
	} else {
		c.Name = patchField(&errs, members, "name", "")
	}
	if cfg := patchField[map[string]any](&errs, members, "config", nil); cfg != nil {
		merged := map[string]any{} // null: every option removed
		if *cfg != nil {
			merged = mergePatch(src.Config, *cfg)
		}
		c.Config = &merged
	}
	c.OnMissing = patchField(&errs, members, "on_missing", string(roster.OnMissingRemove))
	c.Credential = patchField(&errs, members, "credential", "")
	c.Schedule = patchField(&errs, members, "schedule", "")
	c.ScheduleJitter = patchField(&errs, members, "schedule_jitter", "")
	c.Timeout = patchField(&errs, members, "timeout", "")
	c.UpdateCacheTimeout = patchField(&errs, members, "update_cache_timeout", 0)
	return c, errs
}
