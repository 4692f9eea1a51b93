package notify

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// SignatureHeader carries the signature of a generic webhook that has a
// signing secret:
//
//	Roster-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where the HMAC, keyed with the signing secret, is of the string
// "<t>.<request body>" (t exactly as in the header, a dot, the raw body
// bytes). t is the time of the attempt, so a retry carries a fresh one.
//
// To verify, a receiver recomputes the HMAC over the raw body as received
// (before any JSON decoding), compares it in constant time with each v1
// value (more than one may come, e.g. while a secret is being rotated),
// and rejects a t too far from its clock (five minutes is usual) to
// refuse replays. The event's "id" then drops duplicate deliveries.
// VerifySignature does all of this.
const SignatureHeader = "Roster-Signature"

// Signature errors.
var (
	ErrNoSignature       = errors.New("no Roster-Signature header, or one without t and v1")
	ErrSignatureMismatch = errors.New("the signature does not match the body")
	ErrSignatureExpired  = errors.New("the signature's timestamp is outside the tolerance")
)

// Sign returns the Roster-Signature header value for body sent at t.
func Sign(secret roster.Secret, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret roster.Secret, ts string, body []byte) []byte {
	m := hmac.New(sha256.New, []byte(secret.Reveal()))
	m.Write([]byte(ts))
	m.Write([]byte{'.'})
	m.Write(body)
	return m.Sum(nil)
}

// VerifySignature checks a Roster-Signature header against the raw body:
// one of its v1 values must be the HMAC of "t.body" (compared in constant
// time), and with a positive tolerance t must be within it of now.
func VerifySignature(secret roster.Secret, header string, body []byte, now time.Time, tolerance time.Duration) error {
	var ts string
	var sigs [][]byte
	for part := range strings.SplitSeq(header, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok {
			continue
		}
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil {
				sigs = append(sigs, b)
			}
		}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return ErrNoSignature
	}
	want := mac(secret, ts, body)
	ok := false
	for _, s := range sigs {
		if hmac.Equal(s, want) {
			ok = true
		}
	}
	if !ok {
		return ErrSignatureMismatch
	}
	if tolerance > 0 {
		if d := now.Sub(time.Unix(sec, 0)); d > tolerance || d < -tolerance {
			return ErrSignatureExpired
		}
	}
	return nil
}
