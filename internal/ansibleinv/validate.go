package ansibleinv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// shapeError is valid JSON that is not the document Ansible expects.
type shapeError struct{ msg string }

func (e *shapeError) Error() string { return e.msg }

func notInventory(format string, a ...any) error {
	return &shapeError{msg: fmt.Sprintf(format, a...)}
}

// checkList reads a --list document from dec without holding more than
// one host's vars or one group at a time: an object whose _meta.hostvars
// maps host names to objects, and whose other members are groups,
// objects whose hosts and children are lists of names and whose vars are
// an object. Roster always sends _meta.hostvars; a document without it
// (`{}`, `{"error": ...}`) would give Ansible no hosts, silently.
func checkList(dec *json.Decoder) error {
	meta := false
	err := members(dec, "the document", func(name string) error {
		if name == "_meta" {
			meta = true
			return checkMeta(dec)
		}
		return checkGroup(dec, name)
	})
	if err == nil && !meta {
		err = notInventory("it has no _meta.hostvars")
	}
	return err
}

func checkMeta(dec *json.Decoder) error {
	hostvars := false
	err := members(dec, "_meta", func(name string) error {
		if name != "hostvars" {
			return dec.Decode(&json.RawMessage{})
		}
		hostvars = true
		return members(dec, "_meta.hostvars", func(host string) error {
			kind, err := readObject(dec)
			if err == nil && kind != "" {
				err = notInventory("the vars of host %q are %s, not an object", host, kind)
			}
			return err
		})
	})
	if err == nil && !hostvars {
		err = notInventory("it has no _meta.hostvars")
	}
	return err
}

func checkGroup(dec *json.Decoder, name string) error {
	var g map[string]json.RawMessage
	if err := dec.Decode(&g); err != nil {
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &typeErr) {
			return notInventory("group %q is a %s, not an object", name, typeErr.Value)
		}
		return err
	}
	if g == nil {
		return notInventory("group %q is null, not an object", name)
	}
	for _, k := range []string{"hosts", "children"} {
		raw, ok := g[k]
		if !ok {
			continue
		}
		var names []string
		if raw[0] != '[' || json.Unmarshal(raw, &names) != nil {
			return notInventory("the %s of group %q are not a list of names", k, name)
		}
	}
	if raw, ok := g["vars"]; ok && raw[0] != '{' {
		return notInventory("the vars of group %q are not an object", name)
	}
	return nil
}

// checkHostVars reads a --host document: one object.
func checkHostVars(dec *json.Decoder) error {
	kind, err := readObject(dec)
	if err == nil && kind != "" {
		return notInventory("it is %s, not an object", kind)
	}
	return err
}

// checkEnd makes sure nothing follows the document.
func checkEnd(dec *json.Decoder) error {
	_, err := dec.Token()
	switch {
	case err == io.EOF:
		return nil
	case err == nil:
		return notInventory("more than one JSON value")
	}
	return err
}

// members reads an object, calling member with each key while the
// decoder is at its value, which member must read.
func members(dec *json.Decoder, what string, member func(key string) error) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != json.Delim('{') {
		return notInventory("%s is %s, not an object", what, describeToken(tok))
	}
	for dec.More() {
		key, err := dec.Token()
		if err != nil {
			return err
		}
		if err := member(key.(string)); err != nil { // the decoder gives only strings as keys
			return err
		}
	}
	_, err = dec.Token() // }
	return err
}

// readObject reads one value and returns what it is if not an object
// ("a list"), else "".
func readObject(dec *json.Decoder) (string, error) {
	var v json.RawMessage
	if err := dec.Decode(&v); err != nil {
		return "", err
	}
	if v[0] != '{' {
		return describeRaw(v[0]), nil
	}
	return "", nil
}

func describeToken(tok json.Token) string {
	switch t := tok.(type) {
	case json.Delim:
		return describeRaw(byte(t))
	case string:
		return "a string"
	case float64:
		return "a number"
	case bool:
		return "a boolean"
	}
	return "null"
}

func describeRaw(first byte) string {
	switch first {
	case '[':
		return "a list"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
