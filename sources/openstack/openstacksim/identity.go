package openstacksim

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"time"
)

// The simulator's well-known credentials. They open nothing but the
// simulator; the demo and tests use them.
const (
	DefaultUser                = "demo"
	DefaultPassword            = "roster-sim-password"
	AdminUser                  = "admin"
	AdminPassword              = "roster-sim-admin-password"
	DefaultAppCredentialName   = "roster-sync"
	DefaultAppCredentialSecret = "roster-sim-app-credential-secret"
)

// User is a Keystone user of the Default domain.
type User struct {
	Name     string
	Password string
	// Admin gives the user the admin role on its projects: it may list
	// every project's servers (all_tenants) and sees admin-only fields.
	Admin bool
	// Projects the user is a member of; nil = every project.
	Projects []string
}

// AppCredential is a Keystone application credential: it authenticates as
// its user, scoped to its project, with the user's roles there.
type AppCredential struct {
	Name    string
	Secret  string
	User    string // user name
	Project string // project name; "" = the first project
}

// DefaultUsers are "demo" (a member of every project) and "admin" (an
// admin of every project).
func DefaultUsers() []User {
	return []User{
		{Name: DefaultUser, Password: DefaultPassword},
		{Name: AdminUser, Password: AdminPassword, Admin: true},
	}
}

// DefaultAppCredentials is one credential of the demo user on the first
// project.
func DefaultAppCredentials() []AppCredential {
	return []AppCredential{{Name: DefaultAppCredentialName, Secret: DefaultAppCredentialSecret, User: DefaultUser}}
}

type userRec struct {
	id, name, password string
	admin              bool
	projects           map[string]bool // project id → member; nil = every project
}

type appCredRec struct {
	id, name, secret string
	user             *userRec
	project          *project
}

type token struct {
	user    *userRec
	project *project
	admin   bool
	expires time.Time
	issued  time.Time
	methods []string
	app     *appCredRec
	uses    int
}

func (s *Server) initIdentity(users []User, apps []AppCredential) {
	s.users, s.usersID = map[string]*userRec{}, map[string]*userRec{}
	for _, u := range users {
		rec := &userRec{id: stableID(s.seed, "user", u.Name), name: u.Name, password: u.Password, admin: u.Admin}
		if u.Projects != nil {
			rec.projects = map[string]bool{}
			for _, p := range u.Projects {
				if id, ok := s.fleet.ProjectID(p); ok {
					rec.projects[id] = true
				}
			}
		}
		s.users[u.Name] = rec
		s.usersID[rec.id] = rec
	}
	for _, a := range apps {
		u := s.users[a.User]
		p := s.fleet.projects[0]
		if a.Project != "" {
			p = s.fleet.byProj[a.Project]
		}
		if u == nil || p == nil {
			continue
		}
		s.appCreds = append(s.appCreds, &appCredRec{id: stableID(s.seed, "application_credential", a.Name), name: a.Name, secret: a.Secret, user: u, project: p})
	}
}

// AppCredentialID returns the id of an application credential by name.
func (s *Server) AppCredentialID(name string) (string, bool) {
	for _, a := range s.appCreds {
		if a.name == name {
			return a.id, true
		}
	}
	return "", false
}

// UserID returns the id of a user by name.
func (s *Server) UserID(name string) (string, bool) {
	u, ok := s.users[name]
	if !ok {
		return "", false
	}
	return u.id, true
}

// ExpireTokens expires every token issued so far: the next request with
// one is refused with 401 and the client must authenticate again.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	past := time.Now().Add(-time.Second)
	for _, t := range s.tokens {
		t.expires = past
	}
}

func (s *Server) identity(q *request, rest string) {
	switch {
	case rest == "" || rest == "/":
		if q.admit(OpVersions, q.keystoneError) {
			q.writeJSON(http.StatusMultipleChoices, s.keystoneVersions(q, true))
		}
	case rest == "/v3" || rest == "/v3/":
		if q.admit(OpVersions, q.keystoneError) {
			q.writeJSON(http.StatusOK, s.keystoneVersions(q, false))
		}
	case rest == "/v3/auth/tokens" && q.R.Method == http.MethodPost:
		if q.admit(OpAuth, q.keystoneError) {
			s.issueToken(q)
		}
	case rest == "/v3/auth/tokens":
		q.keystoneError(http.StatusMethodNotAllowed, "The method is not allowed for the requested URL.")
	default:
		q.keystoneError(http.StatusNotFound, "The resource could not be found.")
	}
}

func (s *Server) keystoneVersions(q *request, all bool) []byte {
	return versionDoc(all, q.base+IdentityPath+"/v3/", "application/vnd.openstack.identity-v3+json", func(w *jw) {
		w.str("id", "v3.14")
		w.str("status", "stable")
		w.str("updated", "2020-04-07T00:00:00Z")
	}, "versions", "values")
}

// keystoneError answers in Keystone's error format.
func (q *request) keystoneError(status int, msg string) {
	if status == http.StatusUnauthorized {
		q.W.Header().Set("WWW-Authenticate", `Keystone uri="`+q.base+IdentityPath+`"`)
	}
	q.plainError(status, msg)
}

// The parts of POST /v3/auth/tokens the simulator reads.
type authRequest struct {
	Auth struct {
		Identity struct {
			Methods  []string `json:"methods"`
			Password *struct {
				User userRef `json:"user"`
			} `json:"password"`
			ApplicationCredential *struct {
				ID     string   `json:"id"`
				Name   string   `json:"name"`
				Secret string   `json:"secret"`
				User   *userRef `json:"user"`
			} `json:"application_credential"`
		} `json:"identity"`
		Scope json.RawMessage `json:"scope"`
	} `json:"auth"`
}

type userRef struct {
	ID       string     `json:"id"`
	Name     string     `json:"name"`
	Password string     `json:"password"`
	Domain   *domainRef `json:"domain"`
}

type domainRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

func (d *domainRef) isDefault() bool {
	return d != nil && (d.ID == DefaultDomainID || d.Name == DefaultDomainName) && !(d.ID != "" && d.Name != "")
}

type scopeRef struct {
	Project *struct {
		ID     string     `json:"id"`
		Name   string     `json:"name"`
		Domain *domainRef `json:"domain"`
	} `json:"project"`
	Domain *domainRef      `json:"domain"`
	System json.RawMessage `json:"system"`
}

const needAuth = "The request you have made requires authentication."

// issueToken answers POST /v3/auth/tokens.
func (s *Server) issueToken(q *request) {
	var req authRequest
	body, err := io.ReadAll(http.MaxBytesReader(q.W, q.R.Body, 64<<10))
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		q.keystoneError(http.StatusBadRequest, "Expecting to find auth in request body. The server could not comply with the request since it is either malformed or otherwise incorrect.")
		return
	}
	id := &req.Auth.Identity
	var (
		user *userRec
		app  *appCredRec
	)
	switch {
	case len(id.Methods) != 1:
		q.keystoneError(http.StatusBadRequest, "Exactly one of the methods password or application_credential is simulated.")
		return
	case id.Methods[0] == "password" && id.Password != nil:
		user = s.checkPassword(id.Password.User)
	case id.Methods[0] == "application_credential" && id.ApplicationCredential != nil:
		ac := id.ApplicationCredential
		app = s.checkAppCredential(ac.ID, ac.Name, ac.Secret, ac.User)
		if app != nil {
			user = app.user
		}
	default:
		q.keystoneError(http.StatusBadRequest, "Expecting to find "+firstOr(id.Methods, "methods")+" in identity. The server could not comply with the request since it is either malformed or otherwise incorrect.")
		return
	}
	if user == nil {
		s.inj.Count(func(st *Stats) { st.AuthFailures++ })
		q.keystoneError(http.StatusUnauthorized, needAuth)
		return
	}
	var proj *project
	if app != nil {
		if len(req.Auth.Scope) > 0 && string(req.Auth.Scope) != "null" {
			s.inj.Count(func(st *Stats) { st.AuthFailures++ })
			q.keystoneError(http.StatusUnauthorized, "Application credentials cannot request a scope.")
			return
		}
		proj = app.project
	} else {
		var ok bool
		if proj, ok = s.scopeProject(q, user, req.Auth.Scope); !ok {
			return
		}
	}
	if !user.memberOf(proj) {
		s.inj.Count(func(st *Stats) { st.AuthFailures++ })
		q.keystoneError(http.StatusUnauthorized, "User "+user.id+" has no access to project "+proj.id+".")
		return
	}
	now := time.Now().UTC()
	t := &token{user: user, project: proj, admin: user.admin, issued: now, expires: now.Add(s.ttl), methods: id.Methods, app: app}
	tokenID := newTokenID()
	s.mu.Lock()
	s.tokens[tokenID] = t
	s.mu.Unlock()
	s.inj.Count(func(st *Stats) { st.TokensIssued++ })
	q.W.Header().Set("X-Subject-Token", tokenID)
	q.writeJSON(http.StatusCreated, s.renderToken(q, t, q.R.URL.Query().Has("nocatalog")))
}

func (s *Server) checkPassword(ref userRef) *userRec {
	var u *userRec
	switch {
	case ref.ID != "":
		u = s.usersID[ref.ID]
	case ref.Name != "" && ref.Domain.isDefault():
		u = s.users[ref.Name]
	}
	if u == nil || subtle.ConstantTimeCompare([]byte(u.password), []byte(ref.Password)) != 1 {
		return nil
	}
	return u
}

func (s *Server) checkAppCredential(id, name, secret string, user *userRef) *appCredRec {
	for _, a := range s.appCreds {
		match := id != "" && a.id == id
		if id == "" && name != "" && a.name == name && user != nil {
			match = user.ID == a.user.id || (user.Name == a.user.name && user.Domain.isDefault())
		}
		if match && subtle.ConstantTimeCompare([]byte(a.secret), []byte(secret)) == 1 {
			return a
		}
	}
	return nil
}

// scopeProject resolves the requested scope to a project. Without a scope
// the user's default project (the first one it is a member of) is used,
// as Keystone does for a user with a default_project_id.
func (s *Server) scopeProject(q *request, u *userRec, raw json.RawMessage) (*project, bool) {
	if len(raw) == 0 || string(raw) == "null" || string(raw) == `"unscoped"` {
		for _, p := range s.fleet.projects {
			if u.memberOf(p) {
				return p, true
			}
		}
		q.keystoneError(http.StatusUnauthorized, needAuth)
		return nil, false
	}
	var sc scopeRef
	if err := json.Unmarshal(raw, &sc); err != nil || sc.Project == nil {
		q.keystoneError(http.StatusBadRequest, "Only project scopes are simulated.")
		return nil, false
	}
	var p *project
	switch {
	case sc.Project.ID != "":
		for _, x := range s.fleet.projects {
			if x.id == sc.Project.ID {
				p = x
			}
		}
	case sc.Project.Name != "" && sc.Project.Domain.isDefault():
		p = s.fleet.byProj[sc.Project.Name]
	default:
		q.keystoneError(http.StatusBadRequest, "Expecting to find domain in project. The server could not comply with the request since it is either malformed or otherwise incorrect.")
		return nil, false
	}
	if p == nil {
		s.inj.Count(func(st *Stats) { st.AuthFailures++ })
		q.keystoneError(http.StatusUnauthorized, needAuth)
		return nil, false
	}
	return p, true
}

func (u *userRec) memberOf(p *project) bool { return u.projects == nil || u.projects[p.id] }

// domainObj opens object k of a user or project of the default domain,
// with its id and name; the caller closes it.
func (w *jw) domainObj(k, id, name string) {
	w.obj(k)
	w.named("domain", DefaultDomainID, DefaultDomainName)
	w.endObj()
	w.str("id", id)
	w.str("name", name)
}

func (s *Server) renderToken(q *request, t *token, noCatalog bool) []byte {
	w := getW()
	defer putW(w)
	w.obj("")
	w.obj("token")
	w.strs("methods", t.methods)
	w.domainObj("user", t.user.id, t.user.name)
	w.null("password_expires_at")
	w.endObj()
	w.strs("audit_ids", []string{base64.RawURLEncoding.EncodeToString(randomBytes())})
	w.str("expires_at", t.expires.Format("2006-01-02T15:04:05.000000Z"))
	w.str("issued_at", t.issued.Format("2006-01-02T15:04:05.000000Z"))
	w.domainObj("project", t.project.id, t.project.name)
	w.endObj()
	w.bool("is_domain", false)
	if t.app != nil {
		w.named("application_credential", t.app.id, t.app.name)
		w.bool("restricted", true)
		w.endObj()
	}
	w.arr("roles")
	for _, r := range t.roles() {
		w.named("", stableID(s.seed, "role", r), r)
		w.endObj()
	}
	w.endArr()
	if !noCatalog {
		s.renderCatalog(w, q.base)
	}
	w.endObj()
	w.endObj()
	return append([]byte(nil), w.b...)
}

func (t *token) roles() []string {
	if t.admin {
		return []string{"admin", "member", "reader"}
	}
	return []string{"member", "reader"}
}

// renderCatalog writes the service catalog: Keystone in the first region,
// and a public and an internal Nova and Glance endpoint in every region.
func (s *Server) renderCatalog(w *jw, base string) {
	regions := s.fleet.Regions()
	type service struct{ typ, name, path, suffix string }
	services := []service{
		{"identity", "keystone", IdentityPath, "/v3"},
		{"compute", "nova", computePath, "/v2.1"},
		{"image", "glance", imagePath, ""},
	}
	w.arr("catalog")
	for _, svc := range services {
		w.obj("")
		w.arr("endpoints")
		for i, region := range regions {
			if svc.typ == "identity" && i > 0 {
				break
			}
			url := base + svc.path + svc.suffix
			if svc.typ != "identity" {
				url = base + svc.path + region + svc.suffix
			}
			for _, iface := range []string{"public", "internal"} {
				w.obj("")
				w.str("id", stableID(s.seed, "endpoint", svc.typ+"/"+region+"/"+iface))
				w.str("interface", iface)
				w.str("region_id", region)
				w.str("region", region)
				w.str("url", url)
				w.endObj()
			}
		}
		w.endArr()
		w.str("id", stableID(s.seed, "service", svc.typ))
		w.str("type", svc.typ)
		w.str("name", svc.name)
		w.endObj()
	}
	w.endArr()
}

// authorize checks the X-Auth-Token of a service request, answering 401
// itself when it is missing, unknown or expired.
func (s *Server) authorize(q *request) (*token, bool) {
	id := q.R.Header.Get("X-Auth-Token")
	limit := s.inj.Faults().ExpireTokensAfter
	s.mu.Lock()
	t := s.tokens[id]
	expired := false
	if t != nil {
		switch {
		case time.Now().After(t.expires):
			expired = true
		case limit > 0 && t.uses >= limit:
			expired = true
			t.expires = time.Now().Add(-time.Second)
		default:
			t.uses++
		}
	}
	s.mu.Unlock()
	if t == nil || expired {
		s.inj.Count(func(st *Stats) {
			st.Rejected++
			if expired {
				st.Expired++
			}
		})
		q.keystoneError(http.StatusUnauthorized, needAuth)
		return nil, false
	}
	return t, true
}

func newTokenID() string {
	b := make([]byte, 96)
	_, _ = rand.Read(b)
	return "gAAAAA" + base64.RawURLEncoding.EncodeToString(b)
}

func randomBytes() []byte {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return b
}

func firstOr(s []string, def string) string {
	if len(s) > 0 && !slices.Contains([]string{"", "token"}, s[0]) {
		return s[0]
	}
	return def
}

// CloudConfig is a clouds.yaml cloud entry (without its password) for
// user on project of a simulator served at base: what a Roster source's
// clouds option or a clouds.yaml file takes. The password is
// DefaultPassword or AdminPassword.
func CloudConfig(base, user, project string) map[string]any {
	return map[string]any{
		"auth": map[string]any{
			"auth_url":            AuthURL(base),
			"username":            user,
			"user_domain_name":    DefaultDomainName,
			"project_name":        project,
			"project_domain_name": DefaultDomainName,
		},
		"identity_api_version": 3,
	}
}
