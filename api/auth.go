package api

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rosterhq/roster"
)

// authenticate resolves the bearer token of /api/ requests; every other
// path (health checks) is public, and so are provisioning callbacks, whose
// key in the path is their credential (checked by the handler).
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/api/") || strings.HasPrefix(r.URL.Path, callbackPrefix) {
			next.ServeHTTP(w, r)
			return
		}
		r = s.withClient(r)
		if signInPath(r.URL.Path) {
			// Signing in takes no credential but the password; a
			// browser's cross-origin post may not sign it in as
			// someone else (login CSRF).
			if err := s.crossOrigin.Check(r); err != nil {
				writeProblem(w, r, s.log, roster.Errorf(roster.EFORBIDDEN, "a cross-origin request may not sign in"))
				return
			}
			next.ServeHTTP(w, r)
			return
		}
		if r.Header.Get("Authorization") == "" {
			c, ok, err := s.sessionOf(r)
			if ok {
				if err == nil {
					err = s.checkCSRF(r, c)
				}
				if err != nil {
					writeProblem(w, r, s.log, err)
					return
				}
				if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
					info.user = c.user.Name
				}
				next.ServeHTTP(w, r.WithContext(withCaller(r.Context(), c)))
				return
			}
		}
		tok, err := s.tokenOf(r)
		if err != nil {
			writeProblem(w, r, s.log, err)
			return
		}
		c, err := s.callerOf(r.Context(), tok)
		if err != nil {
			writeProblem(w, r, s.log, err)
			return
		}
		if info, ok := r.Context().Value(requestInfoKey{}).(*requestInfo); ok {
			info.token = tok.Name
			if c.user != nil {
				info.user = c.user.Name
			}
		}
		next.ServeHTTP(w, r.WithContext(withCaller(r.Context(), c)))
	})
}

var errBadToken = roster.Errorf(roster.EUNAUTHORIZED, "the API token is not valid (unknown or revoked)")

func (s *Server) tokenOf(r *http.Request) (*roster.Token, error) {
	h := r.Header.Get("Authorization")
	scheme, value, ok := strings.Cut(h, " ")
	if h == "" {
		return nil, roster.Errorf(roster.EUNAUTHORIZED, "an API token is required: send Authorization: Bearer <token>")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || value == "" {
		return nil, roster.Errorf(roster.EUNAUTHORIZED, "the Authorization header must be: Bearer <token>")
	}
	return s.tokenByValue(r.Context(), strings.TrimSpace(value))
}

// tokenByValue finds the token whose value is value, however the request
// carried it: an unknown, malformed, revoked or expired one is 401.
func (s *Server) tokenByValue(ctx context.Context, value string) (*roster.Token, error) {
	// A value that cannot be a token is refused as an unknown one is, and
	// without a query: the answer says nothing of how a token looks.
	if !roster.WellFormedToken(value) {
		return nil, errBadToken
	}
	tok, err := s.store.TokenByHash(ctx, roster.HashToken(roster.Secret(value)))
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		return nil, errBadToken
	} else if err != nil {
		return nil, err
	}
	now := s.now()
	if tok.Expired(now) {
		return nil, roster.Errorf(roster.EUNAUTHORIZED, "the API token expired at %s", tok.ExpiresAt.Format(time.RFC3339))
	}
	s.touch(tok, now)
	return tok, nil
}

// touch records a token's use at most once a minute: a write per request
// would serialise every read behind the database's one writer.
func (s *Server) touch(tok *roster.Token, now time.Time) {
	if !s.touched.due(tok.ID, now) {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.store.TouchToken(ctx, tok.ID, now); err != nil {
			s.log.Warn("recording token use failed", "token", tok.Name, "err", err)
		}
	}()
}

var (
	readers  = []roster.Role{roster.RoleAdmin, roster.RoleOperator, roster.RoleAuditor, roster.RoleRunner}
	auditors = []roster.Role{roster.RoleAdmin, roster.RoleOperator, roster.RoleAuditor}
	writers  = []roster.Role{roster.RoleAdmin, roster.RoleOperator}
	admins   = []roster.Role{roster.RoleAdmin}
	// peopleReaders may read users, teams and role bindings.
	peopleReaders = []roster.Role{roster.RoleAdmin, roster.RoleAuditor}
)

// allowed says which roles may call each operation. An operation missing
// here is refused to everyone (a test checks every operation is listed).
var allowed = map[string][]roster.Role{
	"GetHealth": nil, "GetReady": nil,

	// Signing in takes no token; anyone signed in may see who it is and
	// sign out (anyCaller).
	"Login": nil, "CreateLoginToken": nil, "GetMe": readers, "Logout": readers,
	"ListSignInProviders": nil, "StartOIDCSignIn": nil, "FinishOIDCSignIn": nil, "StartDeviceSignIn": nil, "FinishDeviceSignIn": nil,

	"ListInventories": readers, "GetInventory": readers,
	"CreateInventory": writers, "UpdateInventory": writers, "DeleteInventory": writers,

	"ListSources": auditors, "GetSource": auditors, "ListNameConflicts": auditors,
	"CreateSource": writers, "UpdateSource": writers, "DeleteSource": writers,

	"ListSyncRuns": auditors, "GetSyncRun": auditors, "TriggerSync": writers,
	// A host's history is the syncs' record, read as their runs are
	// (Ansible's runners need none of it).
	"ListSyncRunChanges": auditors, "GetHostHistory": auditors,
	"CreateCallbackKey": writers, "DeleteCallbackKey": writers,
	// The callback key is the credential: checked by the handler.
	"SourceCallback":  nil,
	"GetPrometheusSD": readers,

	// A webhook makes Roster call a URL of its maker's choosing.
	"ListWebhooks": auditors, "GetWebhook": auditors, "ListWebhookDeliveries": auditors,
	"CreateWebhook": admins, "UpdateWebhook": admins, "DeleteWebhook": admins, "TestWebhook": admins,
	// An event sink receives every audit record: only admins see or
	// change where they go.
	"ListEventSinks": admins, "CreateEventSink": admins, "GetEventSink": admins, "UpdateEventSink": admins,
	"DeleteEventSink": admins, "TestEventSink": admins, "GetEventSinkStatus": admins,

	"ListHosts": readers, "GetHost": readers, "ListGroups": readers, "GetAnsibleInventory": readers,
	"SetGroupVars": writers,

	"ListTokens": admins, "CreateToken": admins, "DeleteToken": admins,

	// People are managed by admins; auditors read them, as they read the
	// audit log that names them.
	"ListUsers": peopleReaders, "GetUser": peopleReaders,
	"CreateUser": admins, "UpdateUser": admins, "DeleteUser": admins,
	"ListTeams": peopleReaders, "GetTeam": peopleReaders, "ListTeamMembers": peopleReaders,
	"CreateTeam": admins, "UpdateTeam": admins, "DeleteTeam": admins, "AddTeamMember": admins, "RemoveTeamMember": admins,
	"ListRoleBindings": peopleReaders, "CreateRoleBinding": admins, "DeleteRoleBinding": admins,

	// Runners see the credentials they hold grants for (checked in the
	// handlers); issuing and signing need a grant, checked by the broker.
	"ListCredentialTypes": readers, "ListCredentials": readers, "GetCredential": readers,
	"CreateCredential": writers, "UpdateCredential": writers, "DeleteCredential": writers,
	"IssueCredential": readers, "SignSSHKey": readers, "GetSSHCA": readers,
	"ListGrants": auditors, "CreateGrant": admins, "DeleteGrant": admins,
	"ListAuditEvents": {roster.RoleAdmin, roster.RoleAuditor},
}

var public = map[string]bool{"GetHealth": true, "GetReady": true, "SourceCallback": true, "Login": true, "CreateLoginToken": true,
	"ListSignInProviders": true, "StartOIDCSignIn": true, "FinishOIDCSignIn": true, "StartDeviceSignIn": true, "FinishDeviceSignIn": true}

// anyCaller are the operations every authenticated caller may call,
// whatever its role or bindings: about itself.
var anyCaller = map[string]bool{"GetMe": true, "Logout": true}

// global are the operations on what belongs to no inventory: a token
// limited to inventories may not do them (it sees no token, and no
// credential but, for a runner, those granted to it).
var global = map[string]bool{
	"ListTokens": true, "CreateToken": true, "DeleteToken": true,
	"ListUsers": true, "CreateUser": true, "GetUser": true, "UpdateUser": true, "DeleteUser": true,
	"ListTeams": true, "CreateTeam": true, "GetTeam": true, "UpdateTeam": true, "DeleteTeam": true,
	"ListTeamMembers": true, "AddTeamMember": true, "RemoveTeamMember": true,
	"ListRoleBindings": true, "CreateRoleBinding": true, "DeleteRoleBinding": true,
	"CreateCredential": true, "UpdateCredential": true, "DeleteCredential": true,
	"ListGrants": true, "CreateGrant": true, "DeleteGrant": true,
	"ListEventSinks": true, "CreateEventSink": true, "GetEventSink": true, "UpdateEventSink": true,
	"DeleteEventSink": true, "TestEventSink": true, "GetEventSinkStatus": true,
	"ListAuditEvents": true,
}

// authorize decides whether a token may call an operation at all: its
// role, whether it is read-only, whether it is limited to inventories.
func authorize(operationID string, tok *roster.Token) error {
	if public[operationID] {
		return nil
	}
	if tok == nil {
		return roster.Errorf(roster.EUNAUTHORIZED, "an API token is required")
	}
	switch {
	case !slices.Contains(allowed[operationID], tok.Role):
		return roster.Errorf(roster.EFORBIDDEN, "a token with role %q may not do this", tok.Role)
	case tok.ReadOnly && !readOperations()[operationID]:
		return roster.Errorf(roster.EFORBIDDEN, "token %q is read-only", tok.Name)
	case tok.Inventories != nil && global[operationID]:
		return roster.Errorf(roster.EFORBIDDEN, "token %q is limited to inventories: tokens, people, role bindings, credentials, grants, event sinks and the audit log are not theirs to manage or read", tok.Name)
	}
	return nil
}

// authorizeRequest is authorize for a request whose path parameters are
// known: a caller refused something it may not see gets 404, as for what
// does not exist.
//
// A user acts with the views that allow the operation (caller.go): what
// its path names must be theirs. What they do not see but another of the
// user's views does is refused with 403, not hidden.
func (s *Server) authorizeRequest(ctx context.Context, operationID string, params map[string]string) error {
	err := authorizeCaller(ctx, operationID)
	if roster.ErrorCode(err) == roster.EFORBIDDEN {
		if verr := s.checkVisible(ctx, params); verr != nil {
			return verr
		}
	}
	c := callerFrom(ctx)
	if err != nil || c == nil || c.user == nil || len(params) == 0 {
		return err
	}
	verr := s.checkVisible(ctx, params)
	if roster.ErrorCode(verr) != roster.ENOTFOUND {
		return verr
	}
	c.mu.Lock()
	c.full = true
	c.mu.Unlock()
	ferr := s.checkVisible(ctx, params)
	c.mu.Lock()
	c.full = false
	c.mu.Unlock()
	if ferr == nil {
		return roster.Errorf(roster.EFORBIDDEN, "user %q may not do this here: no role binding of the user or of its teams allows it on what the path names", c.user.Name)
	}
	return verr
}

// readOperations are the operations that change nothing: those read with
// GET.
var readOperations = sync.OnceValue(func() map[string]bool {
	out := map[string]bool{}
	spec, err := GetSwagger()
	if err != nil {
		panic(err) // the embedded spec is checked by every test
	}
	for _, item := range spec.Paths.Map() {
		if op := item.Get; op != nil {
			out[operationName(op.OperationID)] = true
		}
	}
	return out
})

// OperationHasRoles reports whether the authorization table lists an
// operation (by its generated method name), for tests.
func OperationHasRoles(operationID string) bool {
	_, ok := allowed[operationID]
	return ok
}
