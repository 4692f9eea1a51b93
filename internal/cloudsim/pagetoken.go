package cloudsim

import (
	"encoding/base64"
	"encoding/binary"
)

// PageToken is a simulator's opaque page token (EC2's NextToken, ARM's
// $skiptoken): the page number, where to resume (the first item with a
// sequence number above LastSeq), a hash of the query, and the scope it
// lists, so a token is only good for the list it came from. Resuming by
// position rather than offset keeps pagination exact when the fleet
// changes between pages: nothing is listed twice, and what is neither
// added nor removed meanwhile is listed once.
type PageToken struct {
	Page    int
	LastSeq uint64
	Query   uint64
	Scope   string
}

// Encode renders t as URL-safe base64.
func (t PageToken) Encode() string {
	b := make([]byte, 0, 24+len(t.Scope))
	b = append(b, 1) // version
	b = binary.AppendUvarint(b, uint64(t.Page))
	b = binary.AppendUvarint(b, t.LastSeq)
	b = binary.BigEndian.AppendUint64(b, t.Query)
	b = append(b, t.Scope...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodePageToken reads what Encode wrote; ok is false for anything else.
func DecodePageToken(s string) (t PageToken, ok bool) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) < 1 || b[0] != 1 {
		return PageToken{}, false
	}
	b = b[1:]
	page, n := binary.Uvarint(b)
	if n <= 0 || page < 1 || page > 1<<30 {
		return PageToken{}, false
	}
	b = b[n:]
	last, n := binary.Uvarint(b)
	if n <= 0 {
		return PageToken{}, false
	}
	b = b[n:]
	if len(b) < 8 {
		return PageToken{}, false
	}
	return PageToken{Page: int(page), LastSeq: last, Query: binary.BigEndian.Uint64(b), Scope: string(b[8:])}, true
}
