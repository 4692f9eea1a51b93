package openstack

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// The methods below let encoding/json decode a servers page into the same
// types as decodeServerPage, as the reference decode_test.go compares it
// with.

// UnmarshalJSON reads {"net": [{...}], ...} in document order.
func (a *addresses) UnmarshalJSON(b []byte) error {
	*a = nil
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		return nil
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return errors.New("addresses: not an object")
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		name, _ := t.(string)
		var list []address
		if err := dec.Decode(&list); err != nil {
			return fmt.Errorf("addresses of %q: %w", name, err)
		}
		*a = append(*a, networkAddresses{network: name, addrs: list})
	}
	_, err := dec.Token()
	if errors.Is(err, io.EOF) {
		err = nil
	}
	return err
}

// UnmarshalJSON reads {"id": ..., "links": [...]}, "" or null.
func (r *imageRef) UnmarshalJSON(b []byte) error {
	*r = imageRef{}
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' {
		var s *string
		err := json.Unmarshal(b, &s)
		if s != nil {
			r.Kind = imageString
		}
		return err
	}
	var v struct {
		ID    string `json:"id"`
		Links []link `json:"links"`
	}
	err := json.Unmarshal(b, &v)
	r.Kind, r.ID, r.Links = imageObject, v.ID, v.Links
	return err
}
