package azuresim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// armAudiences are the Resource Manager audiences the token endpoint
// issues tokens for (besides the server's own URL): Azure public cloud's,
// with and without the trailing slash.
var armAudiences = []string{
	"https://management.core.windows.net/",
	"https://management.azure.com/",
}

// serveIdentity answers the Microsoft identity platform's endpoints that a
// confidential client (azidentity's ClientSecretCredential, MSAL) uses:
//
//	GET  /common/discovery/instance                        instance discovery
//	GET  /{tenant}/v2.0/.well-known/openid-configuration   tenant discovery
//	POST /{tenant}/oauth2/v2.0/token                       client credentials
//	POST /{tenant}/oauth2/token                            the same, v1 (ADAL: resource, not scope)
func (s *Server) serveIdentity(q *request, segs []string) {
	switch {
	case len(segs) == 3 && strings.EqualFold(segs[0], "common") && strings.EqualFold(segs[1], "discovery") && strings.EqualFold(segs[2], "instance"):
		if !q.identityMethod(http.MethodGet) || !q.admitIdentity(OpInstanceDiscovery) {
			return
		}
		s.instanceDiscovery(q)
	case len(segs) == 4 && strings.EqualFold(segs[1], "v2.0") && segs[2] == ".well-known" && segs[3] == "openid-configuration":
		if !q.identityMethod(http.MethodGet) || !s.knownTenant(q, segs[0]) || !q.admitIdentity(OpOpenIDConfiguration) {
			return
		}
		s.openIDConfiguration(q, segs[0])
	case len(segs) == 4 && strings.EqualFold(segs[1], "oauth2") && strings.EqualFold(segs[2], "v2.0") && strings.EqualFold(segs[3], "token"):
		if !q.identityMethod(http.MethodPost) || !s.knownTenant(q, segs[0]) {
			return
		}
		s.token(q, false)
	case len(segs) == 3 && strings.EqualFold(segs[1], "oauth2") && strings.EqualFold(segs[2], "token"):
		if !q.identityMethod(http.MethodPost) || !s.knownTenant(q, segs[0]) {
			return
		}
		s.token(q, true)
	default:
		s.inj.Reject("")
		q.oauthError(http.StatusNotFound, "invalid_request", 90002, "The requested path is not an endpoint of this simulator.")
	}
}

func (q *request) identityMethod(m string) bool {
	if q.R.Method == m {
		return true
	}
	q.s.inj.Reject("")
	q.oauthError(http.StatusMethodNotAllowed, "invalid_request", 90056, "The request must use "+m+".")
	return false
}

// admitIdentity counts an identity request and answers an injected fault
// (latency, throttling, errors apply only when Faults.Ops names the
// operation).
func (q *request) admitIdentity(op string) bool {
	q.op = op
	f, ok := answers.Admit(q.R.Context(), q.s.inj, Call{Op: op})
	if !ok {
		return false
	}
	if f != nil {
		if f.retryAfter > 0 {
			q.W.Header().Set("Retry-After", retrySeconds(f.retryAfter))
		}
		q.oauthError(f.status, "temporarily_unavailable", 90033, f.message)
		return false
	}
	return true
}

func (s *Server) knownTenant(q *request, tenant string) bool {
	if strings.EqualFold(tenant, s.tenant) {
		return true
	}
	s.inj.Reject("")
	q.oauthError(http.StatusBadRequest, "invalid_request", 90002,
		"Tenant '"+tenant+"' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.")
	return false
}

// base is the scheme and host this request reached the server at.
func (q *request) base() string { return "https://" + q.R.Host }

func (s *Server) instanceDiscovery(q *request) {
	host := q.R.Host
	w := getW()
	defer putW(w)
	w.obj()
	w.str("tenant_discovery_endpoint", q.base()+"/"+s.tenant+"/v2.0/.well-known/openid-configuration")
	w.str("api-version", "1.1")
	w.key("metadata")
	w.arr()
	w.obj()
	w.str("preferred_network", host)
	w.str("preferred_cache", host)
	w.strings("aliases", []string{host})
	w.endObj()
	w.endArr()
	w.endObj()
	q.ok(w.b)
}

func (s *Server) openIDConfiguration(q *request, tenant string) {
	base := q.base() + "/" + tenant
	w := getW()
	defer putW(w)
	w.obj()
	w.str("token_endpoint", base+"/oauth2/v2.0/token")
	w.strings("token_endpoint_auth_methods_supported", []string{"client_secret_post", "private_key_jwt", "client_secret_basic"})
	w.str("jwks_uri", q.base()+"/"+tenant+"/discovery/v2.0/keys")
	w.strings("response_modes_supported", []string{"query", "fragment", "form_post"})
	w.strings("subject_types_supported", []string{"pairwise"})
	w.strings("id_token_signing_alg_values_supported", []string{"RS256"})
	w.strings("response_types_supported", []string{"code", "id_token", "code id_token", "id_token token"})
	w.strings("scopes_supported", []string{"openid", "profile", "email", "offline_access"})
	w.str("issuer", base+"/v2.0")
	w.flag("request_uri_parameter_supported", false)
	w.str("authorization_endpoint", base+"/oauth2/v2.0/authorize")
	w.str("device_authorization_endpoint", base+"/oauth2/v2.0/devicecode")
	w.str("end_session_endpoint", base+"/oauth2/v2.0/logout")
	w.str("tenant_region_scope", "WW")
	w.str("cloud_instance_name", "microsoftonline.com")
	w.endObj()
	q.ok(w.b)
}

// token answers the client-credentials grant: it checks the client id and
// secret (constant-time), the grant type and that the scope is a Resource
// Manager audience's /.default, and issues an opaque access token.
// token answers a client-credentials grant. v1 is the Azure AD v1.0
// endpoint ADAL (and so azure_rm's older clients) uses: the resource is
// named by "resource" rather than a "/.default" scope, and the answer's
// numbers are strings, with the resource and an expires_on.
func (s *Server) token(q *request, v1 bool) {
	r := q.R
	r.Body = http.MaxBytesReader(q.W, r.Body, 64<<10)
	if err := r.ParseForm(); err != nil {
		s.inj.Reject("")
		q.oauthError(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	}
	form := r.PostForm
	client, secret := form.Get("client_id"), form.Get("client_secret")
	if u, p, ok := r.BasicAuth(); ok {
		client, secret = u, p
	}
	grant, scope := form.Get("grant_type"), form.Get("scope")
	if v1 {
		scope = form.Get("resource")
		if scope != "" {
			scope = strings.TrimSuffix(scope, "/") + "/.default"
		}
	}
	switch {
	case grant == "":
		s.inj.Reject("")
		q.oauthError(http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'grant_type'.")
		return
	case grant != "client_credentials":
		s.inj.Reject("")
		q.oauthError(http.StatusBadRequest, "unsupported_grant_type", 70003, "The app requested an unsupported grant type '"+grant+"'.")
		return
	case !strings.EqualFold(client, s.client):
		s.inj.Reject("")
		q.oauthError(http.StatusBadRequest, "unauthorized_client", 700016,
			"Application with identifier '"+client+"' was not found in the directory '"+s.tenant+"'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant.")
		return
	case form.Get("client_assertion") != "":
		s.inj.Reject("")
		q.oauthError(http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation: this simulator accepts client secrets only.")
		return
	case subtle.ConstantTimeCompare([]byte(secret), []byte(s.secret)) != 1:
		s.inj.Reject("")
		q.oauthError(http.StatusUnauthorized, "invalid_client", 7000215,
			"Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '"+s.client+"'.")
		return
	case scope == "" && v1:
		s.inj.Reject("")
		q.oauthError(http.StatusBadRequest, "invalid_request", 50001, "The request body must contain the following parameter: 'resource'.")
		return
	case scope == "":
		s.inj.Reject("")
		q.oauthError(http.StatusBadRequest, "invalid_request", 90014, "The required field 'scope' is missing from the credential. Ensure that you have all the necessary parameters for the login request.")
		return
	}
	// MSAL adds the OpenID scopes; the identity platform ignores them for
	// client credentials. One resource's /.default must remain.
	var resources []string
	for _, sc := range strings.Fields(scope) {
		switch sc {
		case "openid", "offline_access", "profile", "email":
		default:
			resources = append(resources, sc)
		}
	}
	resource, ok := "", len(resources) == 1
	if ok {
		resource, ok = strings.CutSuffix(resources[0], "/.default")
	}
	if !ok || !s.knownAudience(q, resource) {
		s.inj.Reject("")
		q.oauthError(http.StatusBadRequest, "invalid_scope", 1002012,
			"The provided value for scope "+scope+" is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).")
		return
	}
	if !q.admitIdentity(OpToken) {
		return
	}
	tok := newToken()
	s.mu.Lock()
	now := time.Now()
	for k, t := range s.tokens { // forget tokens long expired
		if now.Sub(t.expires) > time.Hour {
			delete(s.tokens, k)
		}
	}
	s.tokens[tok] = issuedToken{expires: now.Add(s.lifetime)}
	s.mu.Unlock()
	s.inj.Count(func(st *Stats) { st.TokensIssued++ })
	secs := int(s.lifetime / time.Second)
	w := getW()
	defer putW(w)
	w.obj()
	w.str("token_type", "Bearer")
	if v1 {
		w.str("expires_in", strconv.Itoa(secs))
		w.str("ext_expires_in", strconv.Itoa(secs))
		w.str("expires_on", strconv.FormatInt(now.Add(s.lifetime).Unix(), 10))
		w.str("not_before", strconv.FormatInt(now.Unix(), 10))
		w.str("resource", form.Get("resource"))
	} else {
		w.num("expires_in", secs)
		w.num("ext_expires_in", secs)
	}
	w.str("access_token", tok)
	w.endObj()
	q.W.Header().Set("Cache-Control", "no-store, no-cache")
	q.ok(w.b)
}

func (s *Server) knownAudience(q *request, resource string) bool {
	for _, a := range armAudiences {
		if resource == a || resource+"/" == a {
			return true
		}
	}
	return strings.TrimSuffix(resource, "/") == q.base()
}

// newToken returns an opaque bearer token shaped like a JWT (three
// base64url parts), so log scrubbers that look for JWTs recognise it.
func newToken() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "eyJ0eXAiOiJKV1QiLCJhbGciOiJub25lIn0." + base64.RawURLEncoding.EncodeToString(b[:24]) + "." + base64.RawURLEncoding.EncodeToString(b[24:])
}

// checkToken validates an ARM request's bearer token; it answers the 401
// itself and returns false when the token is missing, unknown or expired.
func (s *Server) checkToken(q *request) bool {
	h := q.R.Header.Get("Authorization")
	if h == "" {
		q.reject(http.StatusUnauthorized, "AuthenticationFailed", "Authentication failed. The 'Authorization' header is missing.")
		return false
	}
	tok, ok := strings.CutPrefix(h, "Bearer ")
	if !ok {
		q.reject(http.StatusUnauthorized, "AuthenticationFailedInvalidHeader",
			"Authentication failed. The 'Authorization' header is provided in an invalid format.")
		return false
	}
	s.mu.Lock()
	t, known := s.tokens[tok]
	s.mu.Unlock()
	switch {
	case !known:
		q.reject(http.StatusUnauthorized, "InvalidAuthenticationToken", "The access token is invalid.")
		return false
	case time.Now().After(t.expires):
		now := time.Now().UTC().Format("01/02/2006 15:04:05")
		q.reject(http.StatusUnauthorized, "ExpiredAuthenticationToken",
			"The access token expiry UTC time '"+t.expires.UTC().Format("01/02/2006 15:04:05")+"' is earlier than current UTC time '"+now+"'.")
		return false
	}
	return true
}

// oauthError answers the identity platform's error body.
func (q *request) oauthError(status int, code string, aadsts int, description string) {
	now := time.Now().UTC()
	w := getW()
	defer putW(w)
	w.obj()
	w.str("error", code)
	w.str("error_description", "AADSTS"+strconv.Itoa(aadsts)+": "+description+" Trace ID: "+q.id+" Correlation ID: "+q.id+" Timestamp: "+now.Format("2006-01-02 15:04:05Z"))
	w.key("error_codes")
	w.arr()
	w.int(aadsts)
	w.endArr()
	w.str("timestamp", now.Format("2006-01-02 15:04:05Z"))
	w.str("trace_id", q.id)
	w.str("correlation_id", q.id)
	w.endObj()
	q.write(status, w.b, code)
}
