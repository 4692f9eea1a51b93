package api_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// A caller kind: a role, and the limits of its token.
type callerKind struct {
	name     string
	role     roster.Role
	scope    []string // inventory names; nil: not limited
	readOnly bool
	// granted: the token holds grants of the "seen" world's credentials
	// for the "seen" inventory.
	granted bool
	// bind, when set, makes the caller a user's token (of role tokenRole,
	// admin if ""), the user bound as it says with role bindRole (role if
	// ""): "server" at server scope, "inventories" on each inventory of
	// scope, "team" through a team bound at server scope, "disabled" as
	// server but the user disabled. role and scope are then what the
	// caller should act as.
	bind                string
	bindRole, tokenRole roster.Role
	// session: the user signs in with a password and calls with its
	// session's cookie and CSRF token, not a token.
	session bool
}

func (k callerKind) scoped() bool { return k.scope != nil || k.role == roster.RoleRunner }

func (k callerKind) seesInventory(name string) bool {
	return !k.scoped() || slices.Contains(k.scope, name) || (k.role == roster.RoleRunner && k.granted && name == "seen")
}

func (k callerKind) seesCredential(name string) bool {
	if k.role == roster.RoleRunner {
		return k.granted && strings.HasPrefix(name, "seen-")
	}
	return !k.scoped()
}

// authzCall is one request of the matrix and what it names.
type authzCall struct {
	op           string
	method, path string
	body         any
	inventory    string // the inventory what the path names belongs to
	credential   string // the credential the path names
	token        bool   // the path names a token, a user, a team or a role binding
	// useGrant: the call needs a grant of credential for inventory.
	useGrant bool
}

// Who may call each operation, written from the README's roles table, not
// from the code's.
var mayCall = map[string][]roster.Role{}

func init() {
	all := []roster.Role{roster.RoleAdmin, roster.RoleOperator, roster.RoleAuditor, roster.RoleRunner}
	seeAll := []roster.Role{roster.RoleAdmin, roster.RoleOperator, roster.RoleAuditor}
	change := []roster.Role{roster.RoleAdmin, roster.RoleOperator}
	admin := []roster.Role{roster.RoleAdmin}
	audit := []roster.Role{roster.RoleAdmin, roster.RoleAuditor} // the audit log, and people
	for roles, ops := range map[*[]roster.Role][]string{
		&all:    {"GetMe", "ListInventories", "GetInventory", "ListHosts", "GetHost", "ListGroups", "GetAnsibleInventory", "GetPrometheusSD", "ListCredentialTypes", "ListCredentials", "GetCredential", "GetSSHCA", "IssueCredential", "SignSSHKey"},
		&seeAll: {"ListSources", "GetSource", "ListNameConflicts", "ListSyncRuns", "GetSyncRun", "ListSyncRunChanges", "GetHostHistory", "ListWebhooks", "GetWebhook", "ListWebhookDeliveries", "ListGrants"},
		&change: {"CreateInventory", "UpdateInventory", "DeleteInventory", "CreateSource", "UpdateSource", "DeleteSource", "TriggerSync", "CreateCallbackKey", "DeleteCallbackKey", "SetGroupVars", "CreateCredential", "UpdateCredential", "DeleteCredential"},
		&admin: {"ListEventSinks", "CreateEventSink", "GetEventSink", "UpdateEventSink", "DeleteEventSink", "TestEventSink", "GetEventSinkStatus",
			"CreateWebhook", "UpdateWebhook", "DeleteWebhook", "TestWebhook", "ListTokens", "CreateToken", "DeleteToken", "CreateGrant", "DeleteGrant",
			"CreateUser", "UpdateUser", "DeleteUser", "CreateTeam", "UpdateTeam", "DeleteTeam", "AddTeamMember", "RemoveTeamMember",
			"CreateRoleBinding", "DeleteRoleBinding"},
		&audit: {"ListAuditEvents", "ListUsers", "GetUser", "ListTeams", "GetTeam", "ListTeamMembers", "ListRoleBindings"},
	} {
		for _, op := range ops {
			mayCall[op] = *roles
		}
	}
}

// Operations on what belongs to no inventory, which a token limited to
// inventories may not do.
var globalOps = []string{"ListEventSinks", "CreateEventSink", "GetEventSink", "UpdateEventSink", "DeleteEventSink", "TestEventSink", "GetEventSinkStatus",
	"ListTokens", "CreateToken", "DeleteToken", "ListUsers", "CreateUser", "GetUser", "UpdateUser", "DeleteUser",
	"ListTeams", "CreateTeam", "GetTeam", "UpdateTeam", "DeleteTeam", "ListTeamMembers", "AddTeamMember", "RemoveTeamMember",
	"ListRoleBindings", "CreateRoleBinding", "DeleteRoleBinding", "CreateCredential", "UpdateCredential", "DeleteCredential", "ListGrants", "CreateGrant", "DeleteGrant", "ListAuditEvents"}

func (k callerKind) want(c authzCall) int {
	if k.bind == "disabled" {
		return http.StatusUnauthorized
	}
	visible := true
	switch {
	case c.token:
		visible = !k.scoped()
	case c.credential != "":
		visible = k.seesCredential(c.credential)
	case c.inventory != "":
		visible = k.seesInventory(c.inventory)
	}
	allowed := slices.Contains(mayCall[c.op], k.role) &&
		(!k.readOnly || c.method == http.MethodGet) &&
		!(k.scope != nil && slices.Contains(globalOps, c.op))
	if c.useGrant {
		allowed = allowed && k.granted && c.inventory == "seen" && (k.role == roster.RoleRunner || k.role == roster.RoleAdmin)
	}
	switch {
	case !visible:
		return http.StatusNotFound
	case !allowed:
		return http.StatusForbidden
	}
	return http.StatusOK // any 2xx
}

// world is an inventory and one of everything in it, made by the admin.
type world struct {
	inv, src, run, hook, host, ca, pw string
	hostName                          string
}

func (f *fixture) world(name string) world {
	f.t.Helper()
	w := world{inv: name, ca: name + "-ca", pw: name + "-pw"}
	wantStatus(f.t, f.do("POST", "/api/v1/inventories", f.admin, map[string]any{"name": name, "prometheus_sd": map[string]any{"port": 9100}}), http.StatusCreated)
	w.src = f.source(name, "ec2", f.awsConfig(nil)).Id
	w.run = f.syncAndWait(w.src).Id
	var hosts api.HostList
	f.do("GET", "/api/v1/inventories/"+name+"/hosts?limit=1", f.admin, nil).json(f.t, &hosts)
	if len(hosts.Items) == 0 {
		f.t.Fatal("the sync brought no host")
	}
	w.host, w.hostName = fmt.Sprint(hosts.Items[0].Id), hosts.Items[0].Name
	f.credentials(w.ca, w.pw)
	r := f.do("POST", "/api/v1/webhooks", f.admin, map[string]any{"name": name + "-hook", "inventory": name, "events": []string{"sync.failed"}, "url": "http://127.0.0.1:9/hook"})
	wantStatus(f.t, r, http.StatusCreated)
	var hook api.Webhook
	r.json(f.t, &hook)
	w.hook = hook.Id
	return w
}

// credentials makes an SSH CA and a password credential.
func (f *fixture) credentials(ca, pw string) {
	f.t.Helper()
	wantStatus(f.t, f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": ca, "type": "ssh_certificate",
		"fields": map[string]string{"username": "deploy"}}), http.StatusCreated)
	wantStatus(f.t, f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": pw, "type": "password",
		"fields": map[string]string{"username": "deploy", "password": "hunter2"}}), http.StatusCreated)
}

func (f *fixture) grant(token, credential, inventory string) string {
	f.t.Helper()
	r := f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": token, "credential": credential, "inventory": inventory})
	wantStatus(f.t, r, http.StatusCreated)
	var g api.Grant
	r.json(f.t, &g)
	return g.Id
}

// userToken makes the user of a user caller kind, binds it, and returns a
// token of the user's, made through the API.
// userSession makes a local user with a password, bound as k says, and
// signs it in.
func (f *fixture) userSession(k callerKind, name string) session {
	f.t.Helper()
	const pw = "the matrix user's password"
	wantStatus(f.t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "password": pw}), http.StatusCreated)
	f.bindUser(k, name)
	_, ss := f.loginWith(map[string]any{"name": name, "password": pw})
	return ss
}

// bindUser gives the user name the bindings k says.
func (f *fixture) bindUser(k callerKind, name string) {
	f.t.Helper()
	role := k.bindRole
	if role == "" {
		role = k.role
	}
	bind := func(subject string, body map[string]any) {
		body[subject], body["role"] = name, role
		wantStatus(f.t, f.do("POST", "/api/v1/role-bindings", f.admin, body), http.StatusCreated)
	}
	switch k.bind {
	case "server", "disabled":
		bind("user", map[string]any{"scope": "server"})
	case "inventories":
		for _, inv := range k.scope {
			bind("user", map[string]any{"scope": "inventory", "target": inv})
		}
	case "team":
		wantStatus(f.t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": name}), http.StatusCreated)
		wantStatus(f.t, f.do("POST", "/api/v1/teams/"+name+"/members", f.admin, map[string]any{"user": name}), http.StatusOK)
		bind("team", map[string]any{"scope": "server"})
	default:
		f.t.Fatalf("bind %q", k.bind)
	}
}

func (f *fixture) userToken(k callerKind, name string) string {
	f.t.Helper()
	wantStatus(f.t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "source": "oidc"}), http.StatusCreated)
	f.bindUser(k, name)
	tokenRole := k.tokenRole
	if tokenRole == "" {
		tokenRole = roster.RoleAdmin
	}
	r := f.do("POST", "/api/v1/tokens", f.admin, map[string]any{"name": name, "role": tokenRole, "user": name})
	wantStatus(f.t, r, http.StatusCreated)
	var created api.TokenCreated
	r.json(f.t, &created)
	if created.UserId == nil {
		f.t.Fatalf("a user's token has no user_id: %s", r.body)
	}
	if k.bind == "disabled" {
		wantStatus(f.t, f.do("PATCH", "/api/v1/users/"+name, f.admin, map[string]any{"disabled": true}), http.StatusOK)
	}
	return created.Value
}

// TestAuthorizationMatrix calls every operation of the API as every kind
// of caller, on what the caller may see and on what it may not: 404 for
// the invisible (as for the absent), 403 for the visible but forbidden,
// 2xx otherwise.
func TestAuthorizationMatrix(t *testing.T) {
	kinds := []callerKind{
		{name: "admin", role: roster.RoleAdmin, granted: true},
		{name: "operator", role: roster.RoleOperator},
		{name: "auditor", role: roster.RoleAuditor},
		{name: "runner", role: roster.RoleRunner, granted: true},
		{name: "runner-ungranted", role: roster.RoleRunner},
		{name: "admin-limited", role: roster.RoleAdmin, scope: []string{"seen", "spare"}, granted: true},
		{name: "operator-limited", role: roster.RoleOperator, scope: []string{"seen", "spare"}},
		{name: "auditor-limited", role: roster.RoleAuditor, scope: []string{"seen", "spare"}},
		{name: "runner-limited", role: roster.RoleRunner, scope: []string{"seen", "spare"}, granted: true},
		{name: "admin-read-only", role: roster.RoleAdmin, readOnly: true, granted: true},
		{name: "runner-read-only", role: roster.RoleRunner, scope: []string{"seen", "spare"}, readOnly: true, granted: true},

		// Users, through tokens of their own.
		{name: "user-admin", role: roster.RoleAdmin, bind: "server", granted: true},
		{name: "user-operator", role: roster.RoleOperator, bind: "server"},
		{name: "user-auditor", role: roster.RoleAuditor, bind: "server"},
		{name: "user-admin-inventories", role: roster.RoleAdmin, scope: []string{"seen", "spare"}, bind: "inventories", granted: true},
		{name: "user-operator-inventories", role: roster.RoleOperator, scope: []string{"seen", "spare"}, bind: "inventories"},
		{name: "user-runner-inventories", role: roster.RoleRunner, scope: []string{"seen", "spare"}, bind: "inventories", tokenRole: roster.RoleRunner, granted: true},
		{name: "user-operator-team", role: roster.RoleOperator, bind: "team"},
		{name: "user-auditor-team", role: roster.RoleAuditor, bind: "team"},
		// An admin's token made auditor does what an auditor does.
		{name: "user-admin-auditor-token", role: roster.RoleAuditor, bind: "server", bindRole: roster.RoleAdmin, tokenRole: roster.RoleAuditor},
		// A runner's token made admin does what a runner does.
		{name: "user-runner-admin-token", role: roster.RoleRunner, scope: []string{"seen", "spare"}, bind: "inventories", granted: true},
		{name: "user-disabled", role: roster.RoleAdmin, bind: "disabled"},
		// People signed in with a password, calling with the session's
		// cookie and CSRF token; a session holds no grants.
		{name: "session-admin", role: roster.RoleAdmin, bind: "server", session: true},
		{name: "session-operator-team", role: roster.RoleOperator, bind: "team", session: true},
		{name: "session-auditor-inventories", role: roster.RoleAuditor, scope: []string{"seen", "spare"}, bind: "inventories", session: true},
	}
	pub := publicKey(t)
	covered := map[string]bool{}
	for _, k := range kinds {
		t.Run(k.name, func(t *testing.T) {
			f := newFixture(t)
			worlds := map[string]world{"seen": f.world("seen"), "unseen": f.world("unseen")}
			f.inventory("spare")
			me := "k-" + k.name
			var tok string
			var ss session
			if k.session {
				ss = f.userSession(k, me)
			} else if k.bind == "" {
				tok = f.scopedToken(&roster.Token{Name: me, Role: k.role, Inventories: slices.Clone(k.scope), ReadOnly: k.readOnly})
			} else {
				tok = f.userToken(k, me)
			}
			if k.granted {
				f.grant(me, "seen-ca", "seen")
				f.grant(me, "seen-pw", "seen")
			}
			n := 0
			unique := func(prefix string) string { n++; return fmt.Sprintf("%s-%d", prefix, n) }
			var calls []authzCall
			add := func(c authzCall) { calls = append(calls, c) }
			// What names nothing in its path, once.
			add(authzCall{op: "GetMe", method: "GET", path: "/api/v1/me"})
			add(authzCall{op: "ListInventories", method: "GET", path: "/api/v1/inventories"})
			add(authzCall{op: "CreateInventory", method: "POST", path: "/api/v1/inventories", body: map[string]any{"name": unique("inv")}})
			add(authzCall{op: "ListCredentialTypes", method: "GET", path: "/api/v1/credential-types"})
			add(authzCall{op: "ListCredentials", method: "GET", path: "/api/v1/credentials"})
			add(authzCall{op: "CreateCredential", method: "POST", path: "/api/v1/credentials", body: map[string]any{"name": unique("cred"), "type": "token", "fields": map[string]string{"token": "x"}}})
			add(authzCall{op: "ListWebhooks", method: "GET", path: "/api/v1/webhooks"})
			add(authzCall{op: "CreateWebhook", method: "POST", path: "/api/v1/webhooks",
				body: map[string]any{"name": unique("hook"), "inventory": "seen", "events": []string{"sync.failed"}, "url": "http://127.0.0.1:9/x"}})
			add(authzCall{op: "ListTokens", method: "GET", path: "/api/v1/tokens"})
			add(authzCall{op: "CreateToken", method: "POST", path: "/api/v1/tokens", body: map[string]any{"name": unique("tok"), "role": "runner"}})
			add(authzCall{op: "ListGrants", method: "GET", path: "/api/v1/grants"})
			add(authzCall{op: "ListUsers", method: "GET", path: "/api/v1/users"})
			add(authzCall{op: "CreateUser", method: "POST", path: "/api/v1/users", body: map[string]any{"name": unique("user"), "source": "oidc"}})
			{
				name := unique("user")
				wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "source": "oidc"}), http.StatusCreated)
				add(authzCall{op: "GetUser", method: "GET", path: "/api/v1/users/" + name, token: true})
				add(authzCall{op: "UpdateUser", method: "PATCH", path: "/api/v1/users/" + name, body: map[string]any{"disabled": true}, token: true})
			}
			add(authzCall{op: "ListTeams", method: "GET", path: "/api/v1/teams"})
			add(authzCall{op: "CreateTeam", method: "POST", path: "/api/v1/teams", body: map[string]any{"name": unique("team")}})
			{
				team, joiner, leaver := unique("team"), unique("user"), unique("user")
				wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": team}), http.StatusCreated)
				for _, u := range []string{joiner, leaver} {
					wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": u, "source": "oidc"}), http.StatusCreated)
				}
				wantStatus(t, f.do("POST", "/api/v1/teams/"+team+"/members", f.admin, map[string]any{"user": leaver}), http.StatusOK)
				add(authzCall{op: "GetTeam", method: "GET", path: "/api/v1/teams/" + team, token: true})
				add(authzCall{op: "UpdateTeam", method: "PATCH", path: "/api/v1/teams/" + team, body: map[string]any{"description": "x"}, token: true})
				add(authzCall{op: "ListTeamMembers", method: "GET", path: "/api/v1/teams/" + team + "/members", token: true})
				add(authzCall{op: "AddTeamMember", method: "POST", path: "/api/v1/teams/" + team + "/members", body: map[string]any{"user": joiner}, token: true})
				add(authzCall{op: "RemoveTeamMember", method: "DELETE", path: "/api/v1/teams/" + team + "/members/" + leaver, token: true})
			}
			add(authzCall{op: "ListRoleBindings", method: "GET", path: "/api/v1/role-bindings"})
			{
				name := unique("user")
				wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": name, "source": "oidc"}), http.StatusCreated)
				add(authzCall{op: "CreateRoleBinding", method: "POST", path: "/api/v1/role-bindings", body: map[string]any{"user": name, "role": "auditor", "scope": "server"}})
			}
			add(authzCall{op: "ListAuditEvents", method: "GET", path: "/api/v1/audit"})
			{
				name := unique("grantee")
				f.token(name, roster.RoleRunner)
				add(authzCall{op: "CreateGrant", method: "POST", path: "/api/v1/grants", body: map[string]string{"token": name, "credential": "seen-pw", "inventory": "seen"}})
			}
			for _, wn := range []string{"seen", "unseen"} {
				w := worlds[wn]
				inv := "/api/v1/inventories/" + w.inv
				for _, c := range []authzCall{
					{op: "GetInventory", method: "GET", path: inv},
					{op: "UpdateInventory", method: "PATCH", path: inv, body: map[string]any{"description": "x"}},
					{op: "ListSources", method: "GET", path: inv + "/sources"},
					{op: "ListNameConflicts", method: "GET", path: inv + "/name-conflicts"},
					{op: "CreateSource", method: "POST", path: inv + "/sources", body: map[string]any{"name": unique("src"), "provider": "aws", "config": map[string]any{"regions": []string{"us-east-1"}}}},
					{op: "ListHosts", method: "GET", path: inv + "/hosts"},
					{op: "GetHost", method: "GET", path: inv + "/hosts/" + w.host},
					{op: "ListGroups", method: "GET", path: inv + "/groups"},
					{op: "SetGroupVars", method: "PUT", path: inv + "/groups/web/vars", body: map[string]any{"x": 1}},
					{op: "GetAnsibleInventory", method: "GET", path: inv + "/ansible"},
					{op: "GetPrometheusSD", method: "GET", path: inv + "/prometheus-sd"},
					{op: "GetSource", method: "GET", path: "/api/v1/sources/" + w.src},
					{op: "UpdateSource", method: "PATCH", path: "/api/v1/sources/" + w.src, body: map[string]any{"on_missing": "disable"}},
					{op: "TriggerSync", method: "POST", path: "/api/v1/sources/" + w.src + "/syncs"},
					{op: "ListSyncRuns", method: "GET", path: "/api/v1/sources/" + w.src + "/syncs"},
					{op: "CreateCallbackKey", method: "POST", path: "/api/v1/sources/" + w.src + "/callback-key"},
					{op: "GetSyncRun", method: "GET", path: "/api/v1/syncs/" + w.run},
					{op: "ListSyncRunChanges", method: "GET", path: "/api/v1/syncs/" + w.run + "/changes"},
					{op: "GetHostHistory", method: "GET", path: inv + "/hosts/" + w.hostName + "/history"},
					{op: "GetWebhook", method: "GET", path: "/api/v1/webhooks/" + w.hook},
					{op: "UpdateWebhook", method: "PATCH", path: "/api/v1/webhooks/" + w.hook, body: map[string]any{"enabled": false}},
					{op: "ListWebhookDeliveries", method: "GET", path: "/api/v1/webhooks/" + w.hook + "/deliveries"},
					{op: "TestWebhook", method: "POST", path: "/api/v1/webhooks/" + w.hook + "/test"},
				} {
					c.inventory = wn
					add(c)
				}
				for _, c := range []authzCall{
					{op: "GetCredential", method: "GET", path: "/api/v1/credentials/" + w.pw, credential: w.pw},
					{op: "UpdateCredential", method: "PATCH", path: "/api/v1/credentials/" + w.pw, credential: w.pw, body: map[string]any{"description": "x"}},
					{op: "GetSSHCA", method: "GET", path: "/api/v1/credentials/" + w.ca + "/ssh/ca", credential: w.ca},
					{op: "IssueCredential", method: "POST", path: "/api/v1/credentials/" + w.pw + "/issue", credential: w.pw, body: map[string]any{"inventory": w.inv}, useGrant: true, inventory: wn},
					{op: "SignSSHKey", method: "POST", path: "/api/v1/credentials/" + w.ca + "/ssh/sign", credential: w.ca, body: map[string]any{"inventory": w.inv, "public_key": pub}, useGrant: true, inventory: wn},
				} {
					add(c)
				}
			}
			// Deletions, each of something made for it.
			for _, wn := range []string{"seen", "unseen"} {
				w := worlds[wn]
				victim := unique("del")
				if wn == "seen" {
					victim = "spare"
				} else {
					f.inventory(victim)
				}
				invOf := wn
				if wn == "seen" {
					invOf = "spare"
				}
				add(authzCall{op: "DeleteInventory", method: "DELETE", path: "/api/v1/inventories/" + victim, inventory: invOf})
				add(authzCall{op: "DeleteSource", method: "DELETE", path: "/api/v1/sources/" + f.source(w.inv, unique("src"), f.awsConfig(nil)).Id, inventory: wn})
				wantStatus(t, f.do("POST", "/api/v1/sources/"+w.src+"/callback-key", f.admin, nil), http.StatusCreated)
				add(authzCall{op: "DeleteCallbackKey", method: "DELETE", path: "/api/v1/sources/" + w.src + "/callback-key", inventory: wn})
				r := f.do("POST", "/api/v1/webhooks", f.admin, map[string]any{"name": unique("hook"), "inventory": w.inv, "events": []string{"sync.failed"}, "url": "http://127.0.0.1:9/x"})
				wantStatus(t, r, http.StatusCreated)
				var hook api.Webhook
				r.json(t, &hook)
				add(authzCall{op: "DeleteWebhook", method: "DELETE", path: "/api/v1/webhooks/" + hook.Id, inventory: wn})
				grantee := unique("grantee")
				f.token(grantee, roster.RoleRunner)
				add(authzCall{op: "DeleteGrant", method: "DELETE", path: "/api/v1/grants/" + f.grant(grantee, w.pw, w.inv), inventory: wn})
				ca, pw := unique(wn+"-ca"), unique(wn+"-pw")
				f.credentials(ca, pw)
				if k.granted && wn == "seen" {
					f.grant(me, pw, "seen")
				}
				add(authzCall{op: "DeleteCredential", method: "DELETE", path: "/api/v1/credentials/" + pw, credential: pw})
			}
			victim := unique("tok")
			f.token(victim, roster.RoleRunner)
			add(authzCall{op: "DeleteToken", method: "DELETE", path: "/api/v1/tokens/" + victim, token: true})
			{
				sinkBody := func(name string) map[string]any {
					return map[string]any{"name": name, "type": "http_json", "url": "http://127.0.0.1:9/x", "streams": []string{"audit"}}
				}
				add(authzCall{op: "ListEventSinks", method: "GET", path: "/api/v1/event-sinks"})
				add(authzCall{op: "CreateEventSink", method: "POST", path: "/api/v1/event-sinks", body: sinkBody(unique("sink"))})
				sink := unique("sink")
				wantStatus(t, f.do("POST", "/api/v1/event-sinks", f.admin, sinkBody(sink)), http.StatusCreated)
				add(authzCall{op: "GetEventSink", method: "GET", path: "/api/v1/event-sinks/" + sink})
				add(authzCall{op: "GetEventSinkStatus", method: "GET", path: "/api/v1/event-sinks/" + sink + "/status"})
				add(authzCall{op: "TestEventSink", method: "POST", path: "/api/v1/event-sinks/" + sink + "/test"})
				add(authzCall{op: "UpdateEventSink", method: "PATCH", path: "/api/v1/event-sinks/" + sink, body: map[string]any{"enabled": false}})
				add(authzCall{op: "DeleteEventSink", method: "DELETE", path: "/api/v1/event-sinks/" + sink})
			}
			victim = unique("user")
			wantStatus(t, f.do("POST", "/api/v1/users", f.admin, map[string]any{"name": victim, "source": "oidc"}), http.StatusCreated)
			add(authzCall{op: "DeleteUser", method: "DELETE", path: "/api/v1/users/" + victim, token: true})
			victim = unique("team")
			wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": victim}), http.StatusCreated)
			add(authzCall{op: "DeleteTeam", method: "DELETE", path: "/api/v1/teams/" + victim, token: true})
			{
				team := unique("team")
				wantStatus(t, f.do("POST", "/api/v1/teams", f.admin, map[string]any{"name": team}), http.StatusCreated)
				r := f.do("POST", "/api/v1/role-bindings", f.admin, map[string]any{"team": team, "role": "operator", "scope": "inventory", "target": "seen"})
				wantStatus(t, r, http.StatusCreated)
				var b api.RoleBinding
				r.json(t, &b)
				add(authzCall{op: "DeleteRoleBinding", method: "DELETE", path: "/api/v1/role-bindings/" + b.Id, token: true})
			}

			for _, c := range calls {
				covered[c.op] = true
				var r response
				if k.session {
					r = f.as(ss, c.method, c.path, c.body, true, nil)
				} else {
					r = f.do(c.method, c.path, tok, c.body)
				}
				want := k.want(c)
				ok := r.status == want || (want == http.StatusOK && r.status >= 200 && r.status < 300)
				if !ok {
					t.Errorf("%s %s %s: %d, want %d: %s", c.op, c.method, c.path, r.status, want, r.body)
				}
			}
		})
	}
	// Every operation of the API is in the matrix, but those that take no
	// token, and signing out, which only a session does (TestSessions).
	spec, err := api.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			name := strings.ToUpper(op.OperationID[:1]) + op.OperationID[1:]
			if !covered[name] && !slices.Contains([]string{"GetHealth", "GetReady", "SourceCallback", "Login", "CreateLoginToken", "Logout", "ListSignInProviders", "StartOIDCSignIn", "FinishOIDCSignIn", "StartDeviceSignIn", "FinishDeviceSignIn"}, name) {
				t.Errorf("operation %s is not in the authorization matrix", name)
			}
		}
	}
}

// An invisible resource answers exactly as an absent one: same status,
// same problem, but for the name asked about.
func TestInvisibleAnswersAsAbsent(t *testing.T) {
	f := newFixture(t)
	f.world("unseen")
	f.inventory("seen")
	runner := f.scopedToken(&roster.Token{Name: "runner", Role: roster.RoleRunner, Inventories: []string{"seen"}})
	for _, path := range []string{"/api/v1/inventories/%s/ansible", "/api/v1/inventories/%s", "/api/v1/credentials/%s-pw", "/api/v1/inventories/%s/hosts"} {
		hiddenR := f.do("GET", fmt.Sprintf(path, "unseen"), runner, nil)
		absentR := f.do("GET", fmt.Sprintf(path, "absent"), runner, nil)
		if hiddenR.status != http.StatusNotFound || absentR.status != http.StatusNotFound {
			t.Fatalf("%s: hidden %d, absent %d; want 404 for both", path, hiddenR.status, absentR.status)
		}
		if h, a := strings.ReplaceAll(string(hiddenR.body), "unseen", "X"), strings.ReplaceAll(string(absentR.body), "absent", "X"); h != a {
			t.Errorf("%s: hidden answers %s, absent %s", path, h, a)
		}
	}
	// Refused credential use says the same of an inventory that does not
	// exist and of one the runner may not use.
	f.credentials("c-ca", "c-pw")
	f.grant("runner", "c-pw", "seen")
	hiddenR := f.do("POST", "/api/v1/credentials/c-pw/issue", runner, map[string]any{"inventory": "unseen"})
	absentR := f.do("POST", "/api/v1/credentials/c-pw/issue", runner, map[string]any{"inventory": "absent"})
	if h, a := strings.ReplaceAll(string(hiddenR.body), "unseen", "X"), strings.ReplaceAll(string(absentR.body), "absent", "X"); hiddenR.status != absentR.status || h != a {
		t.Errorf("issue for a hidden inventory: %d %s; for an absent one: %d %s", hiddenR.status, h, absentR.status, a)
	}
}

// A read-only token's reads start no sync, however stale the data: it
// changes nothing. The same read by a runner that may write starts one.
func TestReadOnlyReadsStartNoSync(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	src := f.source("prod", "ec2", f.awsConfig(nil))
	ro := f.scopedToken(&roster.Token{Name: "ro", Role: roster.RoleRunner, Inventories: []string{"prod"}, ReadOnly: true})
	rw := f.scopedToken(&roster.Token{Name: "rw", Role: roster.RoleRunner, Inventories: []string{"prod"}})
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/ansible?max_age=0&stale=serve", ro, nil), http.StatusOK)
	if runs := f.runs(src.Id); len(runs) != 0 {
		t.Fatalf("a read-only read started %d syncs", len(runs))
	}
	wantStatus(t, f.do("GET", "/api/v1/inventories/prod/ansible?max_age=0&stale=serve", rw, nil), http.StatusOK)
	if runs := f.runs(src.Id); len(runs) != 1 {
		t.Fatalf("a runner's stale read started %d syncs, want 1", len(runs))
	}
}

// What a body names is looked up as the caller sees it too: a limited
// admin's webhook on an inventory it may not see is refused as one on an
// inventory that does not exist, and nothing is made; a grant for an
// inventory outside the grantee's limits, which would grant nothing, is
// refused naming the field.
func TestBodiesNameOnlyWhatTheCallerSees(t *testing.T) {
	f := newFixture(t)
	f.inventory("seen")
	f.inventory("unseen")
	admin := f.scopedToken(&roster.Token{Name: "team-admin", Role: roster.RoleAdmin, Inventories: []string{"seen"}})
	answers := map[string]string{}
	for _, inv := range []string{"unseen", "absent"} {
		r := f.do("POST", "/api/v1/webhooks", admin, map[string]any{"name": "w", "inventory": inv, "events": []string{"sync.failed"}, "url": "http://127.0.0.1:9/x"})
		wantField(t, r, "inventory")
		answers[inv] = strings.ReplaceAll(string(r.body), inv, "X")
	}
	if answers["unseen"] != answers["absent"] {
		t.Fatalf("a hidden inventory is refused as %s, an absent one as %s", answers["unseen"], answers["absent"])
	}
	var hooks api.WebhookList
	f.do("GET", "/api/v1/webhooks", f.admin, nil).json(t, &hooks)
	if len(hooks.Items) != 0 {
		t.Fatalf("refused webhooks were made: %+v", hooks.Items)
	}
	wantStatus(t, f.do("POST", "/api/v1/webhooks", admin, map[string]any{"name": "mine", "inventory": "seen", "events": []string{"sync.failed"}, "url": "http://127.0.0.1:9/x"}), http.StatusCreated)

	f.scopedToken(&roster.Token{Name: "ci", Role: roster.RoleRunner, Inventories: []string{"seen"}})
	f.credentials("ca", "pw")
	wantField(t, f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": "ci", "credential": "pw", "inventory": "unseen"}), "inventory")
	wantStatus(t, f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": "ci", "credential": "pw", "inventory": "seen"}), http.StatusCreated)
}
