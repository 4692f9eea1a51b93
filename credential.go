package roster

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"time"
)

// CredentialType names a kind of credential; each has a schema of fields.
type CredentialType string

const (
	CredentialSSHKey         CredentialType = "ssh_key"
	CredentialSSHCertificate CredentialType = "ssh_certificate"
	CredentialPassword       CredentialType = "password"
	CredentialToken          CredentialType = "token"
	CredentialAWS            CredentialType = "aws"
	CredentialGCP            CredentialType = "gcp"
	CredentialAzure          CredentialType = "azure"
	CredentialOpenStack      CredentialType = "openstack"
)

// FieldSpec describes one field of a credential type. Secret fields are
// write-only: they live in the secret backend, never in Roster's database,
// and no read returns them.
type FieldSpec struct {
	Name     string
	Secret   bool
	Required bool
	// Guarded fields decide where a credential's secret is sent (a
	// Keystone URL) or what it lets a runner do (an SSH certificate's
	// principals and lifetime): only admins may change them on an
	// existing credential.
	Guarded     bool
	Description string
}

// CredentialSchema is the shape of a credential type.
type CredentialSchema struct {
	Type        CredentialType
	Description string
	Fields      []FieldSpec
}

// Field returns the spec of a field.
func (s CredentialSchema) Field(name string) (FieldSpec, bool) {
	i := slices.IndexFunc(s.Fields, func(f FieldSpec) bool { return f.Name == name })
	if i < 0 {
		return FieldSpec{}, false
	}
	return s.Fields[i], true
}

var credentialSchemas = []CredentialSchema{
	{CredentialSSHKey, "An SSH private key and the user it logs in as.", []FieldSpec{
		{Name: "username", Required: true, Description: "remote user"},
		{Name: "private_key", Secret: true, Required: true, Description: "OpenSSH or PEM private key"},
		{Name: "passphrase", Secret: true, Description: "the key's passphrase, if it has one"},
	}},
	{CredentialSSHCertificate, "A certificate authority that signs runners' own public keys (Vault's SSH secrets engine role, or the local CA).", []FieldSpec{
		{Name: "username", Required: true, Guarded: true, Description: "remote user, and the default principal"},
		{Name: "role", Guarded: true, Description: "the SSH secrets engine role that signs (Vault backend)"},
		{Name: "principals", Guarded: true, Description: "comma-separated principals a certificate may carry (default: username)"},
		{Name: "ttl", Guarded: true, Description: "longest certificate lifetime, e.g. 30m (default 30m)"},
	}},
	{CredentialPassword, "A user name and password.", []FieldSpec{
		{Name: "username", Required: true},
		{Name: "password", Secret: true, Required: true},
	}},
	{CredentialToken, "An opaque API token.", []FieldSpec{
		{Name: "token", Secret: true, Required: true},
	}},
	{CredentialAWS, "AWS keys or a role, for aws sources.", []FieldSpec{
		{Name: "access_key_id", Description: "access key id (with secret_access_key)"},
		{Name: "secret_access_key", Secret: true},
		{Name: "session_token", Secret: true},
		{Name: "role_arn", Description: "a role to assume with these keys (or the default chain)"},
	}},
	{CredentialGCP, "A service account key, for gcp sources.", []FieldSpec{
		{Name: "service_account_json", Secret: true, Required: true, Description: "the key file's JSON"},
	}},
	{CredentialAzure, "A service principal with a client secret, for azure sources.", []FieldSpec{
		{Name: "tenant_id", Required: true},
		{Name: "client_id", Required: true},
		{Name: "client_secret", Secret: true, Required: true},
		{Name: "subscription_id"},
	}},
	{CredentialOpenStack, "Keystone v3 credentials, for openstack sources.", []FieldSpec{
		{Name: "auth_url", Required: true, Guarded: true, Description: "Keystone's URL; the secrets are sent there"},
		{Name: "username"},
		{Name: "password", Secret: true},
		{Name: "user_domain_name"},
		{Name: "project_name"},
		{Name: "project_id"},
		{Name: "project_domain_name"},
		{Name: "region_name"},
		{Name: "application_credential_id"},
		{Name: "application_credential_secret", Secret: true},
	}},
}

// CredentialSchemas lists every credential type's schema.
func CredentialSchemas() []CredentialSchema { return slices.Clone(credentialSchemas) }

// SchemaOf returns the schema of a credential type.
func SchemaOf(t CredentialType) (CredentialSchema, bool) {
	i := slices.IndexFunc(credentialSchemas, func(s CredentialSchema) bool { return s.Type == t })
	if i < 0 {
		return CredentialSchema{}, false
	}
	return credentialSchemas[i], true
}

// Credential is a credential's metadata: everything but its secret fields.
type Credential struct {
	ID          string
	Name        string
	Type        CredentialType
	Description string
	// Fields holds the non-secret fields.
	Fields map[string]string
	// SecretsSet names the secret fields that hold a value.
	SecretsSet []string
	// Path is where the backend keeps the secret fields.
	Path string
	// Version is the backend's version of the secret fields.
	Version   int
	CreatedAt time.Time
	UpdatedAt time.Time
}

// SecretFields are a credential's secret values, held in memory for one
// request or one sync run only.
type SecretFields map[string]Secret

// CredentialUpdate changes a credential; nil leaves a part as is. Secret
// fields not given keep their stored value.
type CredentialUpdate struct {
	Name        *string
	Description *string
	Fields      map[string]string
	SecretsSet  []string
	Version     *int
}

// CredentialStore persists credential metadata.
type CredentialStore interface {
	CreateCredential(ctx context.Context, c *Credential) error
	// Credential finds a credential by id or name.
	Credential(ctx context.Context, idOrName string) (*Credential, error)
	Credentials(ctx context.Context) ([]*Credential, error)
	UpdateCredential(ctx context.Context, id string, upd CredentialUpdate) (*Credential, error)
	DeleteCredential(ctx context.Context, id string) error
}

// Grant lets one token use one credential for one inventory.
type Grant struct {
	ID           string
	TokenID      string
	CredentialID string
	InventoryID  string
	CreatedAt    time.Time
}

// GrantFilter selects grants; empty fields match all.
type GrantFilter struct {
	TokenID      string
	CredentialID string
	InventoryID  string
}

// GrantStore persists grants.
type GrantStore interface {
	CreateGrant(ctx context.Context, g *Grant) error
	Grants(ctx context.Context, f GrantFilter) ([]*Grant, error)
	DeleteGrant(ctx context.Context, id string) error
}

// AuditOutcome says how an audited action ended.
type AuditOutcome string

const (
	AuditAllowed AuditOutcome = "allowed"
	AuditDenied  AuditOutcome = "denied"
	AuditFailed  AuditOutcome = "failed"
)

// AuditEvent records who did what to which credential, inventory or source.
// It never holds a secret.
type AuditEvent struct {
	ID    string
	Time  time.Time
	Actor string // token name, or "syncer" for a sync's own credential use
	// ActorID is the token id ("" for Roster itself).
	ActorID     string
	Action      string // e.g. credential.issue, credential.ssh_sign, source.update
	Outcome     AuditOutcome
	TargetType  string // credential, inventory, source, token, grant
	TargetID    string
	TargetName  string
	InventoryID string
	Reason      string            // why it was denied or failed
	Details     map[string]string // ttl, principals, serial, vault request/lease id, wrapped
	// Count is how many events the record stands for: 1, but for a
	// refusal or failure repeated identically within an aggregation
	// window (see Aggregable), which is one record counting them; Time is
	// then the first of them, LastTime the last.
	Count    int64
	LastTime time.Time
}

// Aggregable reports whether identical repeats of e may share one record.
// Refusals and failures may: a token retrying a denied request thousands
// of times says one thing thousands of times, and each repeat written out
// would let anyone holding a token grow the audit log at will. What was
// allowed (an issuance, a signature, a change) never is: every one is a
// record of its own.
func (e *AuditEvent) Aggregable() bool { return e.Outcome != AuditAllowed }

// AuditLimits bound what refusals and failures write to the audit log.
// Within one Window (aligned to the clock, so every node of a cluster
// agrees) identical aggregable events of one caller are one record; a
// caller has at most PerCaller such records per window, and its further
// distinct ones are counted in one summary record per action and outcome.
// A caller therefore writes at most PerCaller + a few records of
// refusals and failures per window, however many requests it sends.
type AuditLimits struct {
	Window    time.Duration
	PerCaller int
}

// The default audit limits: an hour's window keeps a record's first and
// last time informative while a flood costs a caller about 50 records an
// hour, whose refusals a legitimate runner never comes near.
const (
	DefaultAuditWindow    = time.Hour
	DefaultAuditPerCaller = 50
)

// WithDefaults fills the zero limits with the defaults.
func (l AuditLimits) WithDefaults() AuditLimits {
	if l.Window <= 0 {
		l.Window = DefaultAuditWindow
	}
	if l.PerCaller <= 0 {
		l.PerCaller = DefaultAuditPerCaller
	}
	return l
}

// AuditRetention is how long audit records are kept; zero keeps them
// forever. Refusals and failures may be kept for less than what was
// allowed: the record of an issuance is what an investigation needs for
// as long as the credential may be in use, while refusals matter mostly
// while they are fresh, and are what a flood is made of.
type AuditRetention struct {
	Allowed  time.Duration
	Failures time.Duration
}

// Purge returns what retention removes at now.
func (r AuditRetention) Purge(now time.Time) AuditPurge {
	var p AuditPurge
	if r.Allowed > 0 {
		p.AllowedBefore = now.Add(-r.Allowed)
	}
	if r.Failures > 0 {
		p.FailuresBefore = now.Add(-r.Failures)
	}
	return p
}

// AuditPurge selects the audit records to remove: those of allowed events
// that happened before AllowedBefore, and those of refusals and failures
// last seen before FailuresBefore. A zero time removes none of its kind.
type AuditPurge struct {
	AllowedBefore  time.Time
	FailuresBefore time.Time
}

// AuditFilter selects audit events, newest first.
type AuditFilter struct {
	Actor    string
	Action   string
	TargetID string
	After    string
	Limit    int
}

// AuditStore persists the audit log.
type AuditStore interface {
	// AppendAudit records e, setting its ID, Time (when zero), Count and
	// LastTime. An aggregable event is folded into the record of an
	// identical one within the store's AuditLimits, whose ID it takes.
	AppendAudit(ctx context.Context, e *AuditEvent) error
	AuditEvents(ctx context.Context, f AuditFilter) ([]*AuditEvent, string, error)
	// PurgeAudit removes the records p selects, in small batches so that
	// writers of new records are not held up, and says how many it
	// removed. Any number of processes may purge at once.
	PurgeAudit(ctx context.Context, p AuditPurge) (int64, error)
}

// SecretBackend keeps credentials' secret fields and signs SSH keys: HashiCorp
// Vault in production, a local encrypted store for one-machine starts. When
// the backend cannot serve (Vault sealed, unreachable, token revoked) its
// methods fail with EUNAVAILABLE, quickly.
type SecretBackend interface {
	// Kind is "vault" or "local".
	Kind() string
	// PutSecrets writes the secret fields of the credential at path,
	// replacing the previous ones, if the stored version is still cas (0:
	// nothing may be stored yet). It returns the new version.
	PutSecrets(ctx context.Context, path string, fields SecretFields, cas int) (int, error)
	// GetSecrets reads the secret fields at path.
	GetSecrets(ctx context.Context, path string) (SecretFields, BackendInfo, error)
	// DeleteSecrets removes every version of the secret fields at path.
	DeleteSecrets(ctx context.Context, path string) error
	// SignSSHKey signs a public key.
	SignSSHKey(ctx context.Context, req SSHSignRequest) (*SSHCertificate, error)
	// SSHCAPublicKey returns the CA public key that sshd should trust for role.
	SSHCAPublicKey(ctx context.Context, role string) (string, error)
	// Wrap stores data for one unwrap within ttl and returns the wrapping
	// token. Backends without response wrapping return EINVALID.
	Wrap(ctx context.Context, data map[string]Secret, ttl time.Duration) (*WrappedSecret, error)
	// Health reports whether the backend can serve now.
	Health(ctx context.Context) error
}

// SecretBackendError turns a SecretBackend failure while doing something
// into what a caller may see: the backend's own roster errors, whose
// messages hold no secret, keep their code (unavailable, conflict,
// invalid, not found) after "cannot <doing>: "; anything else is logged
// to log and reported as an unavailable backend.
func SecretBackendError(log *slog.Logger, doing string, err error) error {
	switch ErrorCode(err) {
	case EUNAVAILABLE, ECONFLICT, EINVALID, ENOTFOUND:
		var re *Error
		errors.As(err, &re)
		return &Error{Code: re.Code, Message: "cannot " + doing + ": " + re.Message, Fields: re.Fields}
	}
	log.Error("secret backend failed", "doing", doing, "err", err)
	return Errorf(EUNAVAILABLE, "cannot %s: the secret backend failed", doing)
}

// BackendInfo is what a backend says about a read, for the audit log.
type BackendInfo struct {
	Version   int
	RequestID string
}

// SSHSignRequest asks for a certificate.
type SSHSignRequest struct {
	Role       string // Vault SSH role; ignored by the local CA
	PublicKey  string // authorized_keys format
	Principals []string
	TTL        time.Duration
	KeyID      string // recorded in the certificate, for sshd's logs
}

// SSHCertificate is a signed OpenSSH user certificate.
type SSHCertificate struct {
	Certificate string // authorized_keys format ("ssh-ed25519-cert-v01@openssh.com AAAA...")
	Serial      string
	Principals  []string
	ValidBefore time.Time
	RequestID   string
}

// WrappedSecret is a single-use wrapping token.
type WrappedSecret struct {
	Token     Secret
	TTL       time.Duration
	Accessor  string
	CreatedAt time.Time
}

// SecretBlobStore keeps the local secret backend's sealed (encrypted)
// secret fields in Roster's database.
type SecretBlobStore interface {
	// PutSecretBlob stores blob at path if the stored version is still cas
	// (0: nothing stored yet), else ECONFLICT; it returns the new version.
	PutSecretBlob(ctx context.Context, path string, blob []byte, cas int) (int, error)
	// SecretBlob returns the blob at path and its version (ENOTFOUND when none).
	SecretBlob(ctx context.Context, path string) ([]byte, int, error)
	// DeleteSecretBlob removes the blob at path (ENOTFOUND when none).
	DeleteSecretBlob(ctx context.Context, path string) error
}
