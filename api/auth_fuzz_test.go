package api_test

import (
	"bytes"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
)

// authRequests are requests that need a token: reads and writes, a known
// route and an unknown one (authentication comes before routing).
var authRequests = []struct{ method, path, body string }{
	{"GET", "/api/v1/inventories", ""},
	{"POST", "/api/v1/tokens", `{"name": "x", "role": "admin"}`},
	{"DELETE", "/api/v1/inventories/fz", ""},
	{"GET", "/api/v1/no-such-endpoint", ""},
}

// FuzzAuthorizationHeader sends any Authorization header but the valid
// token's, and checks that the answer is always 401 with a problem document
// and one of a few fixed bodies: so the answer never echoes what was sent,
// and cannot tell a malformed token (wrong length, padding, odd bytes) from
// a wrong one. A header naming the Bearer scheme with any value gets
// exactly the answer of a well-formed, unknown token.
//
// Headers reach the handler as sent (no net/http server in between to
// refuse control characters), which is what a proxy could pass on.
func FuzzAuthorizationHeader(f *testing.F) {
	fs := newFuzzServer(f)
	wrong, _ := roster.NewTokenValue()
	for i, s := range []string{
		"", " ", "Bearer", "Bearer ", "Bearer  ", "bearer " + wrong.Reveal(), "BEARER " + wrong.Reveal(),
		"Bearer " + wrong.Reveal(), "Bearer " + wrong.Reveal() + "=", "Bearer " + wrong.Reveal() + "==",
		"Bearer " + wrong.Reveal()[:10], "Bearer " + wrong.Reveal() + wrong.Reveal(), "Bearer " + fs.admin[:len(fs.admin)-1],
		"Bearer " + fs.admin[1:], "Bearer " + strings.ToUpper(fs.admin), "Bearer\t" + wrong.Reveal(), "Basic YWRtaW46YWRtaW4=",
		"Token " + wrong.Reveal(), "Bearer " + roster.TokenPrefix, "Bearer \x00", "Bearer \xff\xfe", "Bearer a b c",
		"Bearer " + strings.Repeat("A", 10000), "Bearer Bearer " + wrong.Reveal(), "Bearer \r\nX-Injected: 1",
	} {
		// One request each: authentication comes before routing, and
		// the fuzzer moves headers between requests.
		f.Add(uint8(i%len(authRequests)), s)
	}

	// The answers to compare with: no header, a header that is not
	// Bearer, and a well-formed token nobody holds.
	reference := func(header string) fuzzResponse {
		f.Helper()
		r := fs.serve(authRequest(0, header, header != ""))
		if r.status != http.StatusUnauthorized {
			f.Fatalf("Authorization %q → %d, want 401", header, r.status)
		}
		return r
	}
	unknown := reference("Bearer " + wrong.Reveal())
	allowed := [][]byte{reference("").body, reference("Basic YWRtaW46YWRtaW4=").body, unknown.body}
	if r := fs.serve(authRequest(0, "Bearer "+fs.admin, true)); r.status != http.StatusOK {
		f.Fatalf("the valid token → %d %s", r.status, r.body)
	}

	f.Fuzz(func(t *testing.T, which uint8, header string) {
		if strings.Contains(header, fs.admin) {
			return // the valid token, however wrapped: its answers are another test's
		}
		i := int(which) % len(authRequests)
		r := fs.serve(authRequest(i, header, true))
		what := fmt.Sprintf("%s %s with Authorization %q", authRequests[i].method, authRequests[i].path, truncate(header))
		if r.status != http.StatusUnauthorized {
			t.Fatalf("%s → %d, want 401; body %.300q", what, r.status, r.body)
		}
		checkProblem(t, what, r)
		if r.header.Get("WWW-Authenticate") == "" {
			t.Fatalf("%s → 401 without WWW-Authenticate", what)
		}
		if !slices.ContainsFunc(allowed, func(b []byte) bool { return bytes.Equal(b, r.body) }) {
			t.Fatalf("%s → 401 with a body of its own: %q", what, r.body)
		}
		if scheme, value, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Bearer") && value != "" {
			if !bytes.Equal(r.body, unknown.body) || !maps.EqualFunc(r.header, unknown.header, slices.Equal) {
				t.Fatalf("%s → %v %q; an unknown token gets %v %q", what, r.header, r.body, unknown.header, unknown.body)
			}
		}
	})
}

// authRequest is authRequests[i] with the Authorization header set to
// header (when set is true, even to "").
func authRequest(i int, header string, set bool) *http.Request {
	a := authRequests[i]
	var req *http.Request
	if a.body != "" {
		req = httptest.NewRequest(a.method, a.path, strings.NewReader(a.body))
		req.Header.Set("Content-Type", "application/json")
	} else {
		req = httptest.NewRequest(a.method, a.path, nil)
	}
	if set {
		req.Header["Authorization"] = []string{header}
	}
	return req
}

func truncate(s string) string {
	if len(s) > 80 {
		return strings.ToValidUTF8(s[:80], "?") + "…"
	}
	return s
}
