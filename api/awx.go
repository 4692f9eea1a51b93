package api

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// AWX's read API (README: "From AWX"), for AWX's clients: the
// awx.awx.controller inventory plugin, and AWX's "Red Hat Ansible
// Automation Platform" inventory source, which runs that plugin. They
// read an inventory with
//
//	GET /api/v2/inventories/{id}/script/?hostvars=1&towervars=1&all=1
//
// authenticated by Authorization: Bearer <token> (the credential's OAuth
// token), or by username and password, which the collection first trades
// for a token at POST /api/v2/tokens/ with basic auth.
//
// These routes are not in openapi.yaml: their contract is AWX's (its
// shapes, its {"detail": "..."} errors, its basic auth, its query flags
// that any non-empty value turns on), checked against the real plugin,
// not Roster's. They answer from the same rendered documents, scopes and
// admission as /api/v1.

// awxPrefix starts the paths of AWX's API.
const awxPrefix = "/api/v2/"

// The routes of AWX's API, as the mux names them.
const (
	awxPingRoute   = "GET /api/v2/ping/{$}"
	awxConfigRoute = "GET /api/v2/config/{$}"
	awxMeRoute     = "GET /api/v2/me/{$}"
	awxScriptRoute = "GET /api/v2/inventories/{inventory}/script/{$}"
	awxTokensRoute = "POST /api/v2/tokens/{$}"
)

// awxProductName is what Roster says it is in X-API-Product-Name, where
// AWX says "AWX": the collection warns that it is not talking to AWX,
// which is true.
const awxProductName = "Roster"

// awxCaller is who an AWX request authenticated as: the token, and the
// value it presented (POST /api/v2/tokens/ answers with it).
type awxCaller struct {
	tok   *roster.Token
	value roster.Secret
}

type awxHandler func(w http.ResponseWriter, r *http.Request, c awxCaller) error

// mountAWX adds AWX's routes to mux.
func (s *Server) mountAWX(mux *http.ServeMux) {
	mux.Handle(awxPingRoute, s.awxRoute(false, s.awxPing))
	mux.Handle(awxConfigRoute, s.awxRoute(true, s.awxConfig))
	mux.Handle(awxMeRoute, s.awxRoute(true, s.awxMe))
	mux.Handle(awxScriptRoute, s.awxRoute(true, s.awxScript))
	mux.Handle(awxTokensRoute, s.awxRoute(true, s.awxToken))
}

// serveAWX answers the requests under awxPrefix from mux, and the rest
// with next: AWX's routes authenticate as AWX does and answer AWX's
// errors, outside /api/v1's authentication and OpenAPI validation.
func (s *Server) serveAWX(mux *http.ServeMux, next http.Handler) http.Handler {
	awx := joinListFields(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pattern := mux.Handler(r); pattern == "" {
			s.awxHeaders(w)
			if allow := allowedMethods(mux, r); len(allow) > 0 {
				w.Header().Set("Allow", strings.Join(allow, ", "))
				s.writeAWXError(w, r, roster.Errorf(roster.EMETHOD, "method %q not allowed", r.Method))
				return
			}
			s.writeAWXError(w, r, roster.Errorf(roster.ENOTFOUND, "not found: Roster serves these of AWX's endpoints: "+
				"/api/v2/ping/, /api/v2/config/, /api/v2/me/, /api/v2/inventories/{id}/script/ and POST /api/v2/tokens/"))
			return
		}
		mux.ServeHTTP(w, r)
	}))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, awxPrefix) {
			awx.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// awxRoute serves one of AWX's routes: authenticated, unless public, as
// AWX authenticates; errors in AWX's shape.
func (s *Server) awxRoute(authenticated bool, h awxHandler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.awxHeaders(w)
		var c awxCaller
		if authenticated {
			var err error
			if c, err = s.awxAuthenticate(r); err != nil {
				s.writeAWXError(w, r, err)
				return
			}
			if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
				info.token = c.tok.Name
			}
			cl, err := s.callerOf(r.Context(), c.tok)
			if err != nil {
				s.writeAWXError(w, r, err)
				return
			}
			r = r.WithContext(withCaller(r.Context(), cl))
		}
		if err := h(w, r, c); err != nil {
			s.writeAWXError(w, r, err)
		}
	})
}

// awxHeaders sets what AWX's answers say of the server: the collection
// reads the product and its version from every first answer.
func (s *Server) awxHeaders(w http.ResponseWriter) {
	w.Header().Set("X-API-Product-Name", awxProductName)
	if v := awxVersion(s.version); v != "" {
		w.Header().Set("X-API-Product-Version", v)
	}
}

// releaseVersion matches a version with at least a major and a minor
// number ("1.4.0", "v1.4.0-rc.1").
var releaseVersion = regexp.MustCompile(`^v?\d+\.\d+`)

// awxVersion is Roster's version as X-API-Product-Version, or "" for a
// development build ("devel", "devel-0123abcd"): the collection (21.x)
// takes the first two parts of any version that is not AWX's, and fails
// on a version of one part. Without the header it warns that the server
// did not say its version, which is true of a development build.
func awxVersion(v string) string {
	if releaseVersion.MatchString(v) {
		return v
	}
	return ""
}

// errNoCredentials is the answer to an AWX request without credentials.
var errNoCredentials = roster.Errorf(roster.EUNAUTHORIZED,
	"authentication credentials were not provided: send Authorization: Bearer <Roster API token>, "+
		"or basic auth with a Roster API token as the password (a person's own token from roster login too; not the person's password)")

// errBadBasic is the answer to basic auth whose password is no valid
// token: as errBadToken, it does not say whether the value looks like a
// token.
var errBadBasic = roster.Errorf(roster.EUNAUTHORIZED,
	"the password is not a valid Roster API token (unknown or revoked): "+
		"basic auth takes an API token as the password, with any username (a person signs in with roster login for a token; AWX's API takes no person's password)")

// awxAuthenticate finds the token of an AWX request: a bearer token, as
// AWX takes an OAuth token, or the password of basic auth, as AWX takes a
// user's. The password is a token, a service token or a person's own
// (roster login), never a person's password, whatever the username, so that AWX's credential form (username and password)
// and the collection's token exchange work with a token.
func (s *Server) awxAuthenticate(r *http.Request) (awxCaller, error) {
	h := r.Header.Get("Authorization")
	scheme, value, _ := strings.Cut(strings.TrimSpace(h), " ")
	value = strings.TrimSpace(value)
	switch {
	case h == "":
		return awxCaller{}, errNoCredentials
	case strings.EqualFold(scheme, "Basic"):
		_, password, ok := r.BasicAuth()
		if !ok {
			return awxCaller{}, roster.Errorf(roster.EUNAUTHORIZED, "the basic credentials are malformed (not base64 of username:password)")
		}
		tok, err := s.tokenByValue(r.Context(), password)
		if errors.Is(err, errBadToken) {
			err = errBadBasic
		}
		return awxCaller{tok: tok, value: roster.Secret(password)}, err
	case strings.EqualFold(scheme, "Bearer") && value != "":
		tok, err := s.tokenByValue(r.Context(), value)
		return awxCaller{tok: tok, value: roster.Secret(value)}, err
	}
	return awxCaller{}, roster.Errorf(roster.EUNAUTHORIZED,
		"the Authorization header must be Bearer <Roster API token>, or basic auth with a Roster API token as the password")
}

// writeAWXError answers err as AWX's API does, {"detail": "..."}: its
// clients print the detail. Internal errors are logged and answered with
// a generic message, as writeProblem does.
func (s *Server) writeAWXError(w http.ResponseWriter, r *http.Request, err error) {
	code, status, err := prepareErrorAnswer(w, r, s.log, err)
	detail := roster.ErrorMessage(err)
	if code == roster.EINTERNAL || detail == "" {
		detail = http.StatusText(status)
	}
	for _, f := range roster.ErrorFields(err) {
		detail += "; " + f.Field + ": " + f.Message
	}
	writeAWXJSON(w, status, map[string]string{"detail": detail})
}

func writeAWXJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	return json.NewEncoder(w).Encode(v)
}

// awxPing answers GET /api/v2/ping/, public as AWX's is: the version and
// the node answering. Roster has no registry of its nodes nor instance
// groups: the node reports itself, and no instance group.
func (s *Server) awxPing(w http.ResponseWriter, _ *http.Request, _ awxCaller) error {
	type instance struct {
		Node      string    `json:"node"`
		Heartbeat time.Time `json:"heartbeat"`
		Version   string    `json:"version"`
	}
	return writeAWXJSON(w, http.StatusOK, struct {
		Version        string     `json:"version"`
		ActiveNode     string     `json:"active_node"`
		Instances      []instance `json:"instances"`
		InstanceGroups []any      `json:"instance_groups"`
	}{s.version, s.node, []instance{{s.node, s.now().UTC(), s.version}}, []any{}})
}

// awxConfig answers GET /api/v2/config/: what the plugin's
// include_metadata reads (license_info.license_type, version,
// ansible_version). Roster runs no Ansible: no ansible_version, which the
// plugin reports as "unknown".
func (s *Server) awxConfig(w http.ResponseWriter, _ *http.Request, _ awxCaller) error {
	return writeAWXJSON(w, http.StatusOK, map[string]any{
		"version":      s.version,
		"license_info": map[string]string{"license_type": "open"},
		"time_zone":    "UTC",
		"eula":         "",
	})
}

// awxMe answers GET /api/v2/me/: AWX's page of one user, here the token
// (Roster's only principal), named as it is.
func (s *Server) awxMe(w http.ResponseWriter, _ *http.Request, c awxCaller) error {
	tok := c.tok
	unlimited := !tok.Scoped()
	user := map[string]any{
		"id":                tok.ID,
		"type":              "user",
		"username":          tok.Name,
		"first_name":        "",
		"last_name":         "",
		"email":             "",
		"is_superuser":      tok.Role == roster.RoleAdmin && unlimited,
		"is_system_auditor": tok.Role == roster.RoleAuditor && unlimited,
		"created":           tok.CreatedAt.UTC(),
		"last_login":        tok.LastUsedAt,
		"external_account":  nil,
		"auth":              []any{},
	}
	return writeAWXJSON(w, http.StatusOK, map[string]any{"count": 1, "next": nil, "previous": nil, "results": []any{user}})
}

// awxToken answers POST /api/v2/tokens/, where the collection trades a
// username and password for an OAuth token: Roster makes no token, and
// answers with the one the request authenticated with (the password), so
// that the collection goes on with it as a bearer token. Nothing is
// created, so a read-only token may ask too. The body (description,
// scope) is not read.
func (s *Server) awxToken(w http.ResponseWriter, _ *http.Request, c awxCaller) error {
	w.Header().Set("Cache-Control", "no-store")
	scope := "write"
	if c.tok.ReadOnly {
		scope = "read"
	}
	return writeAWXJSON(w, http.StatusCreated, map[string]any{
		"id":            c.tok.ID,
		"type":          "o_auth2_access_token",
		"token":         c.value.Reveal(),
		"refresh_token": nil,
		"application":   nil,
		"scope":         scope,
		"expires":       c.tok.ExpiresAt,
		"description":   "the Roster API token this request authenticated with: Roster makes no new token here",
	})
}

// AWXScript says what an AWX inventory script document holds: the query
// of GET /api/v2/inventories/{id}/script/.
type AWXScript struct {
	// HostVars: every host's vars, in _meta.hostvars (hostvars=1).
	HostVars bool
	// TowerVars: with HostVars, each host's remote_tower_enabled ("true"
	// or "false", a string as in AWX) and remote_tower_id (the host's id)
	// among its vars (towervars=1).
	TowerVars bool
	// All: disabled hosts too (all=1).
	All bool
}

// kind names the document of a script query.
func (q AWXScript) kind() string {
	k := "awx-script"
	if q.HostVars {
		k += "-hostvars"
	}
	if q.TowerVars {
		k += "-towervars"
	}
	if q.All {
		k += "-all"
	}
	return k
}

// awxFlag reads one of the script's flags as AWX does: its last value
// (Django's QueryDict.get), on when not empty ("0" and "false" too).
func awxFlag(q map[string][]string, name string) bool {
	v := q[name]
	return len(v) > 0 && v[len(v)-1] != ""
}

// awxScript answers GET /api/v2/inventories/{id}/script/: the inventory
// (by Roster's name or id) as AWX's inventory script document, rendered
// once per generation and query like Ansible's; with ?host=NAME, that
// host's vars. It reads as Ansible's document does: a launch, which first
// syncs sources older than their update_cache_timeout.
func (s *Server) awxScript(w http.ResponseWriter, r *http.Request, _ awxCaller) error {
	ctx := r.Context()
	q := r.URL.Query()
	if q.Get("subset") != "" {
		return roster.Invalid(roster.FieldError{Field: "subset", Message: "slices of an inventory (AWX's job slicing) are not served by Roster"})
	}
	inv, err := s.inventory(ctx, r.PathValue("inventory"))
	if err != nil {
		return err
	}
	opts := AWXScript{HostVars: awxFlag(q, "hostvars"), TowerVars: awxFlag(q, "towervars"), All: awxFlag(q, "all")}
	f, err := s.fresh(ctx, inv.ID, nil, nil, true)
	if err != nil {
		return err
	}
	if host := q.Get("host"); host != "" {
		resp, err := s.ansibleHost(ctx, inv, host, opts.All)
		if err != nil {
			return err
		}
		f.set(w.Header())
		return resp.VisitGetAnsibleInventoryResponse(w)
	}
	if inv, err = s.afterSyncs(ctx, inv, f); err != nil {
		return err
	}
	neg := negotiation{offerGzip: true}
	if v := r.Header.Get("If-None-Match"); v != "" {
		neg.ifNoneMatch = &v
	}
	if v := r.Header.Get("Accept-Encoding"); v != "" {
		neg.acceptsGzip = acceptsGzip(&v)
	}
	view, err := s.hostsOf(ctx, inv)
	if err != nil {
		return err
	}
	answer, err := s.document(ctx, inv, f, view.docKey(inv, opts.kind()), "", neg,
		s.renderNamed(inv, func(ctx context.Context, w *bufio.Writer, names HostNaming) (int64, error) {
			return WriteAWXScript(ctx, w, view, inv.ID, opts, names)
		}))
	if err != nil {
		return err
	}
	return answer.write(w)
}

// WriteAWXScript writes an inventory as AWX's inventory script document
// (awx/main/models/inventory.py, Inventory.get_script_data): "all" with
// the hosts in no group, every group's name as its children (empty groups
// too) and the "all" group's vars; each group that has hosts, children or
// vars, with them; and with opts.HostVars, _meta.hostvars. Hosts are named
// and combined as in Ansible's document (WriteAnsibleInventory), whose
// "ungrouped" group AWX does not have. It returns the inventory
// generation it wrote; write errors are left in w, for its Flush.
func WriteAWXScript(ctx context.Context, w *bufio.Writer, store roster.HostStore, inventoryID string, opts AWXScript, naming HostNaming) (int64, error) {
	w.WriteByte('{')
	if opts.HostVars {
		w.WriteString(`"_meta":{"hostvars":{`)
	}
	first := true
	walked, generation, err := walkNamed(ctx, store, inventoryID, opts.All, naming, func(h namedHost) error {
		if !opts.HostVars {
			return nil
		}
		vars := h.vars
		if len(vars) == 0 {
			vars = json.RawMessage("{}")
		}
		if opts.TowerVars {
			var err error
			if vars, err = withTowerVars(vars, h.enabled, h.id); err != nil {
				return err
			}
		}
		if !first {
			w.WriteByte(',')
		}
		first = false
		writeString(w, h.name)
		w.WriteByte(':')
		w.Write(vars)
		return nil
	})
	if err != nil {
		return 0, err
	}
	if opts.HostVars {
		w.WriteString(`}},`)
	}
	names, _ := walked.groupNames()
	for _, n := range names {
		hosts := walked.members[n]
		var children []string
		var vars json.RawMessage
		if g := walked.groups[n]; g != nil {
			children = g.Children
			if !emptyObject(g.Vars) {
				vars = g.Vars
			}
		}
		if len(hosts) == 0 && len(children) == 0 && vars == nil {
			continue // AWX lists it among all's children only
		}
		writeString(w, n)
		w.WriteString(`:{`)
		sep := ""
		if len(hosts) > 0 {
			w.WriteString(`"hosts":`)
			writeStrings(w, hosts)
			sep = ","
		}
		if len(children) > 0 {
			w.WriteString(sep + `"children":`)
			writeStrings(w, children)
			sep = ","
		}
		if vars != nil {
			w.WriteString(sep + `"vars":`)
			w.Write(vars)
		}
		w.WriteString(`},`)
	}
	w.WriteString(`"all":{"hosts":`)
	writeStrings(w, walked.ungrouped)
	if len(names) > 0 {
		w.WriteString(`,"children":`)
		writeStrings(w, names)
	}
	if g := walked.groups["all"]; g != nil && !emptyObject(g.Vars) {
		w.WriteString(`,"vars":`)
		w.Write(g.Vars)
	}
	w.WriteString("}}\n")
	return generation, nil
}

// emptyObject reports whether vars hold no var.
func emptyObject(vars json.RawMessage) bool {
	v := bytes.TrimSpace(vars)
	return len(v) == 0 || string(v) == "null" || (len(v) >= 2 && v[0] == '{' && len(bytes.TrimSpace(v[1:len(v)-1])) == 0)
}

// withTowerVars returns the JSON object vars with AWX's towervars set, as
// AWX sets them over a host's own vars: remote_tower_enabled, the string
// "true" or "false", and remote_tower_id, the host's id.
func withTowerVars(vars json.RawMessage, enabled bool, id int64) (json.RawMessage, error) {
	tower := `"remote_tower_enabled":"` + strconv.FormatBool(enabled) + `","remote_tower_id":` + strconv.FormatInt(id, 10)
	if bytes.Contains(vars, []byte(`"remote_tower_`)) {
		// The host has vars of those names (or deeper values that look
		// so): replaced, not repeated.
		var m map[string]json.RawMessage
		if err := json.Unmarshal(vars, &m); err != nil {
			return nil, fmt.Errorf("host vars: %w", err)
		}
		if m == nil {
			m = map[string]json.RawMessage{}
		}
		m["remote_tower_enabled"] = json.RawMessage(`"` + strconv.FormatBool(enabled) + `"`)
		m["remote_tower_id"] = json.RawMessage(strconv.FormatInt(id, 10))
		return json.Marshal(m)
	}
	v := bytes.TrimSpace(vars)
	out := make([]byte, 0, len(v)+len(tower)+2)
	if emptyObject(v) {
		return append(append(append(out, '{'), tower...), '}'), nil
	}
	out = append(out, v[:len(v)-1]...) // without its closing brace
	return append(append(append(out, ','), tower...), '}'), nil
}
