package ui

import "time"

// The views of the administration pages: credentials, access (grants,
// runners, tokens), people (users, teams, role bindings), webhooks and
// the audit stream. None of them has a field for a secret value but
// TokenCreated.Value, shown once.

// Credentials is the credentials page.
type Credentials struct {
	Page
	Message string
	Items   []Credential
	// Types are the credential types a new credential may be of; empty
	// when the person may not create credentials.
	Types []CredentialType
}

// Credential is a credential's metadata: never a secret value.
type Credential struct {
	Name, Type, Description, Backend string
	Version                          int
	Updated                          *time.Time
	Fields                           []CredentialField
	// CanChange: the person may update and delete it.
	CanChange bool
}

// SecretsSet lists the secret fields that hold a value.
func (c Credential) SecretsSet() []string {
	var out []string
	for _, f := range c.Fields {
		if f.Secret && f.Set {
			out = append(out, f.Name)
		}
	}
	return out
}

// CredentialField is a field of a credential's type, with the credential's
// value when it is not secret, and only whether it is set when it is.
type CredentialField struct {
	Name, Description string
	Secret, Required  bool
	// Set: a secret field holds a value; Value: a plain field's value.
	Set   bool
	Value string
	// Multiline: the value is a pasted file (a key's JSON): a text area.
	Multiline bool
}

// CredentialType is a type a credential may be of.
type CredentialType struct {
	Type, Description string
	Fields            []CredentialField
}

// CredentialPage shows one credential with its update form, or, when New,
// the form that creates a credential of Type.
type CredentialPage struct {
	Page
	New        bool
	Type       CredentialType
	Credential Credential
}

// Access is the access page: grants, runners and tokens.
type Access struct {
	Page
	// Messages say what the person may not see.
	Messages []string
	// ShowTokens, ShowGrants: the person may list them.
	ShowTokens, ShowGrants bool
	Tokens                 []Token
	Grants                 []Grant
	Runners                []Runner
	// CanCreateToken, CanRevoke, CanGrant: the person may do so.
	CanCreateToken, CanRevoke, CanGrant bool
	// Roles a new token may have.
	Roles []string
}

// Token is a token's metadata: never its value.
type Token struct {
	Name, Role, Owner string
	ReadOnly          bool
	// Limited counts the inventories it is limited to (-1: none).
	Limited                      int
	Created, LastUsed, ExpiresAt *time.Time
}

// Grant lets a runner token get a credential for an inventory.
type Grant struct {
	ID, Token, Credential, Inventory string
	Created                          *time.Time
}

// Runner is a runner token and the credentials it holds grants for.
type Runner struct {
	Name        string
	Credentials []string
	LastUsed    *time.Time
}

// TokenCreated is the page that shows a new token's value, once.
type TokenCreated struct {
	Page
	Name, Role string
	ExpiresAt  *time.Time
	Value      string
}

// People is the people page.
type People struct {
	Page
	Messages       []string
	ShowUsers      bool
	Users          []User
	ShowTeams      bool
	Teams          []Team
	ShowBindings   bool
	Bindings       []Binding
	CanCreateUser  bool
	CanChangeUsers bool
	CanCreateTeam  bool
	// CanChangeTeams: the person may add and remove members.
	CanChangeTeams bool
}

// User is a user, without any password.
type User struct {
	Name, DisplayName, Email, Source string
	Disabled, HasPassword            bool
	LastSignIn                       *time.Time
}

// Team is a team and its members' names.
type Team struct {
	Name, Description string
	Members           []string
}

// Binding is a role binding: a subject's role over a scope.
type Binding struct {
	Subject, SubjectKind, Role, Scope, Target string
}

// Webhooks is the webhooks page.
type Webhooks struct {
	Page
	Message string
	Items   []Webhook
}

// Webhook is a webhook's metadata: its URL only as scheme://host/….
type Webhook struct {
	// ID names the webhook in its page's path (the API's webhooks are
	// found by id).
	ID                           string
	Name, Inventory, Source, URL string
	// Format is the target's type (webhook, slack, irc, ...).
	Format  string
	Events  []string
	Enabled bool
}

// WebhookPage is one webhook's recent deliveries, a page at a time.
type WebhookPage struct {
	Page
	Webhook    Webhook
	Deliveries []Delivery
	// Next is the path of the next page ("" on the last).
	Next string
}

// Delivery is one delivery attempt of a webhook.
type Delivery struct {
	Time                *time.Time
	Event, Outcome, Run string
	Error               string
	Attempt, Status     int
	DurationMs          int64
}

// Audit is the audit stream, newest first, filtered.
type Audit struct {
	Page
	Filter AuditFilter
	Events []AuditEvent
	// Next is the path of the next (older) page ("" on the last).
	Next string
	// Message says why the page may hold fewer events than asked.
	Message string
}

// AuditFilter is the audit page's GET form, as sent.
type AuditFilter struct {
	Actor, Action, Target, Since, Until string
	Limit                               int
}

// AuditEvent is one record of the audit stream.
type AuditEvent struct {
	Time, LastTime                                 *time.Time
	Count                                          int64
	Actor, Action, Outcome, TargetType, TargetName string
	Target, Reason                                 string
}
