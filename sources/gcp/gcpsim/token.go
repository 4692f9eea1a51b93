package gcpsim

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// TokenPath is the path of the OAuth2 token endpoint on a Server.
const TokenPath = "/token"

const jwtBearerGrant = "urn:ietf:params:oauth:grant-type:jwt-bearer"

// tokenLifetime is how long an issued access token is valid, as Google's
// token endpoint answers (expires_in 3599).
const tokenLifetime = time.Hour

// computeScopes are the OAuth scopes that allow instances.list and
// instances.aggregatedList.
var computeScopes = map[string]bool{
	"https://www.googleapis.com/auth/compute":                  true,
	"https://www.googleapis.com/auth/compute.readonly":         true,
	"https://www.googleapis.com/auth/cloud-platform":           true,
	"https://www.googleapis.com/auth/cloud-platform.read-only": true,
}

// accessToken is what the server remembers of an issued token.
type accessToken struct {
	email   string
	scopes  []string
	compute bool // one of the scopes allows reading instances
	expires time.Time
}

// jwtHeader and jwtClaims are the parts of a JWT-bearer assertion the
// token endpoint checks (RFC 7523, as Google's endpoint reads them).
type jwtHeader struct {
	Alg string `json:"alg"`
	Typ string `json:"typ"`
	Kid string `json:"kid"`
}

type jwtClaims struct {
	Iss   string `json:"iss"`
	Scope string `json:"scope"`
	Aud   string `json:"aud"`
	Exp   int64  `json:"exp"`
	Iat   int64  `json:"iat"`
	Sub   string `json:"sub"`
}

// oauthError is a token endpoint error: status 400 (401 for a bad client)
// and {"error": code, "error_description": message}.
type oauthError struct {
	status      int
	code, descr string
}

func grantError(descr string) *oauthError {
	return &oauthError{http.StatusBadRequest, "invalid_grant", descr}
}

// token answers POST /token: the JWT-bearer grant of a service account.
// It verifies the assertion's RS256 signature with the public key of the
// account named by iss (and the key named by kid), its audience (this
// endpoint's URL), its lifetime (at most an hour, not expired, not issued
// in the future) and its scopes, and issues an opaque access token.
func (s *Server) token(w http.ResponseWriter, r *http.Request) {
	c := Call{Op: MethodToken}
	if r.Method != http.MethodPost {
		s.inj.Reject(c.Op)
		writeOAuthError(w, &oauthError{http.StatusMethodNotAllowed, "invalid_request", "The token endpoint accepts only POST."})
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.inj.Reject(c.Op)
		writeOAuthError(w, &oauthError{http.StatusBadRequest, "invalid_request", "The request body could not be parsed."})
		return
	}
	if g := r.PostForm.Get("grant_type"); g != jwtBearerGrant {
		s.inj.Reject(c.Op)
		writeOAuthError(w, &oauthError{http.StatusBadRequest, "unsupported_grant_type", "Invalid grant_type: " + g})
		return
	}
	f, ok := answers.Admit(r.Context(), s.inj, c)
	if !ok {
		return
	}
	if f != nil {
		x := cloudsim.NewExchange(w, r)
		writeComputeError(&x, f)
		return
	}
	tok, err := s.verifyAssertion(r, r.PostForm.Get("assertion"))
	if err != nil {
		s.inj.Reject(c.Op)
		writeOAuthError(w, err)
		return
	}
	value := newAccessToken()
	s.mu.Lock()
	s.tokens[value] = tok
	s.mu.Unlock()
	s.inj.Count(func(st *Stats) { st.TokensIssued++ })
	body, _ := json.Marshal(map[string]any{
		"access_token": value,
		"expires_in":   int(tokenLifetime/time.Second) - 1,
		"token_type":   "Bearer",
	})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache, no-store, max-age=0, must-revalidate")
	w.Write(body)
	s.log.Debug("gcpsim token issued", "account", tok.email, "scopes", tok.scopes)
}

func (s *Server) verifyAssertion(r *http.Request, assertion string) (*accessToken, *oauthError) {
	parts := strings.Split(assertion, ".")
	if len(parts) != 3 {
		return nil, grantError("Invalid JWT: the assertion is not a signed JWT.")
	}
	var h jwtHeader
	var c jwtClaims
	if !decodeSegment(parts[0], &h) || !decodeSegment(parts[1], &c) {
		return nil, grantError("Invalid JWT: the assertion could not be decoded.")
	}
	if h.Alg != "RS256" {
		return nil, grantError("Invalid JWT: the signing algorithm must be RS256.")
	}
	sa := s.accounts[c.Iss]
	if sa == nil {
		return nil, grantError("Invalid grant: account not found")
	}
	if h.Kid != "" && h.Kid != sa.KeyID {
		return nil, grantError("Invalid JWT Signature.")
	}
	// google-auth 1.x pads the signature segment; Google takes it.
	sig, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[2], "="))
	if err != nil {
		return nil, grantError("Invalid JWT Signature.")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&sa.key.PublicKey, crypto.SHA256, digest[:], sig) != nil {
		return nil, grantError("Invalid JWT Signature.")
	}
	if want := requestURL(r); c.Aud != want {
		return nil, grantError("Invalid JWT: Failed audience check. The right audience is " + want)
	}
	now := time.Now()
	switch {
	case c.Iat == 0 || c.Exp == 0,
		c.Exp-c.Iat > int64(tokenLifetime/time.Second),
		time.Unix(c.Iat, 0).After(now.Add(5 * time.Minute)):
		return nil, grantError("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	case !time.Unix(c.Exp, 0).After(now):
		return nil, grantError("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe. Check your iat and exp values in the JWT claim.")
	}
	scopes := strings.Fields(c.Scope)
	if len(scopes) == 0 {
		return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided."}
	}
	tok := &accessToken{email: sa.Email, scopes: scopes, expires: now.Add(tokenLifetime)}
	for _, sc := range scopes {
		if !strings.HasPrefix(sc, "https://www.googleapis.com/auth/") && sc != "email" && sc != "openid" && sc != "profile" {
			return nil, &oauthError{http.StatusBadRequest, "invalid_scope", "Invalid OAuth scope or ID token audience provided."}
		}
		tok.compute = tok.compute || computeScopes[sc]
	}
	return tok, nil
}

// requestURL is the URL the request was sent to, which a JWT's aud must
// name: http, as the simulator serves plain HTTP, unless a proxy said
// otherwise.
func requestURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https" {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path
}

func decodeSegment(seg string, into any) bool {
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(seg, "="))
	if err != nil {
		return false
	}
	return json.Unmarshal(b, into) == nil
}

func newAccessToken() string {
	var b [24]byte
	rand.Read(b[:])
	return "ya29.sim-" + hex.EncodeToString(b[:])
}

func writeOAuthError(w http.ResponseWriter, e *oauthError) {
	body, _ := json.Marshal(map[string]string{"error": e.code, "error_description": e.descr})
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.status)
	w.Write(body)
}

// authenticate finds the access token of a Compute request. It returns
// the token, or the error the API answers.
func (s *Server) authenticate(r *http.Request, method string) (*accessToken, *apiError) {
	h := r.Header.Get("Authorization")
	value, ok := strings.CutPrefix(h, "Bearer ")
	if !ok || value == "" {
		return nil, errUnauthenticated
	}
	s.mu.Lock()
	tok := s.tokens[value]
	s.mu.Unlock()
	if tok == nil || time.Now().After(tok.expires) {
		return nil, errInvalidCredentials
	}
	if !tok.compute {
		return nil, errInsufficientScopes(method)
	}
	return tok, nil
}
