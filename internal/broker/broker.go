// Package broker is Roster's credential broker: it keeps credentials'
// metadata in the store and their secret fields in a secret backend (Vault,
// or the local sealed store), hands a runner exactly the credential it holds
// a grant for, signs runners' SSH keys, and audits every issuance, refusal
// and change. A secret is held in memory for one call only.
package broker

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// Broker brokers credentials.
type Broker struct {
	store    roster.Store
	backend  roster.SecretBackend
	log      *slog.Logger
	prefix   string
	now      func() time.Time
	observer IssuanceObserver // nil: none
}

// Option configures a Broker.
type Option func(*Broker)

// New returns a broker over store and backend.
func New(store roster.Store, backend roster.SecretBackend, log *slog.Logger, opts ...Option) *Broker {
	b := &Broker{store: store, backend: backend, log: log, prefix: "credentials/", now: time.Now}
	for _, o := range opts {
		o(b)
	}
	return b
}

// Backend returns the secret backend's kind ("vault" or "local").
func (b *Broker) Backend() string { return b.backend.Kind() }

// Health reports whether the secret backend can serve.
func (b *Broker) Health(ctx context.Context) error { return b.backend.Health(ctx) }

// Actor is who asks: a token, or Roster itself (a sync).
type Actor struct {
	Token *roster.Token // nil for Roster itself
	Name  string        // the token's name, or "syncer"
	// Grants, when not nil, are all the token's grants as the caller read
	// them already in this request (the API reads a runner's to know what
	// it may see): the broker checks a grant among them instead of asking
	// the store again. Nil: the broker reads the grant it needs.
	Grants []*roster.Grant
	// MayUse, when not nil, decides whether the actor's role lets it use a
	// credential for an inventory (a user's: its role bindings say); nil,
	// the token's role must be runner or admin. A grant is needed either
	// way.
	MayUse func(inventoryID string) (bool, error)
	// Person is what the audit log keeps of the user behind the actor
	// (actor_user, actor_via, actor_method); nil for a service token.
	Person map[string]string
}

// TokenActor returns the actor of an API token.
func TokenActor(t *roster.Token) Actor { return Actor{Token: t, Name: t.Name} }

// Syncer is Roster itself, obtaining a source's credential for a sync.
var Syncer = Actor{Name: "syncer"}

func (a Actor) id() string {
	if a.Token == nil {
		return ""
	}
	return a.Token.ID
}

// CredentialInput is a new credential, every field (secret ones included)
// in Fields.
type CredentialInput struct {
	Name        string
	Type        roster.CredentialType
	Description string
	Fields      map[string]roster.Secret
}

// Create validates and stores a new credential.
func (b *Broker) Create(ctx context.Context, actor Actor, in CredentialInput) (*roster.Credential, error) {
	var errs roster.FieldErrors
	if fe := roster.ValidateName("name", in.Name); fe != nil {
		errs = append(errs, *fe)
	}
	schema, ok := roster.SchemaOf(in.Type)
	if !ok {
		errs.Add("type", "unknown credential type %q", in.Type)
		return nil, errs.Err()
	}
	plain, secrets := split(schema, in.Fields, &errs)
	checkRequired(schema, plain, secrets, nil, &errs)
	errs.Merge("", validateType(in.Type, plain, secrets))
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if _, err := b.store.Credential(ctx, in.Name); err == nil {
		return nil, roster.Errorf(roster.ECONFLICT, "a credential named %q already exists", in.Name)
	}
	c := &roster.Credential{
		ID:          newID(),
		Name:        in.Name,
		Type:        in.Type,
		Description: in.Description,
		Fields:      plain,
		SecretsSet:  slices.Sorted(maps.Keys(secrets)),
	}
	c.Path = b.prefix + c.ID
	if len(secrets) > 0 {
		version, err := b.backend.PutSecrets(ctx, c.Path, secrets, 0)
		if err != nil {
			return nil, b.backendError("store the secret fields", err)
		}
		c.Version = version
	}
	if err := b.store.CreateCredential(ctx, c); err != nil {
		// Do not leave secrets behind that nothing refers to.
		if len(secrets) > 0 {
			if derr := b.backend.DeleteSecrets(context.WithoutCancel(ctx), c.Path); derr != nil {
				b.log.Warn("removing the secrets of a credential that could not be created failed", "path", c.Path, "err", derr)
			}
		}
		return nil, err
	}
	b.audit(ctx, actor, "credential.create", roster.AuditAllowed, c, "", "", map[string]string{"type": string(c.Type), "secret_fields": strings.Join(c.SecretsSet, ",")})
	return c, nil
}

// Update changes a credential. Secret fields given replace the stored ones
// (check-and-set against the version read); others keep their value. Only
// admins may change guarded fields (where a secret is sent, what a
// certificate allows).
func (b *Broker) Update(ctx context.Context, actor Actor, ref string, name, description *string, fields map[string]roster.Secret) (*roster.Credential, error) {
	c, err := b.store.Credential(ctx, ref)
	if err != nil {
		return nil, err
	}
	schema, _ := roster.SchemaOf(c.Type)
	var errs roster.FieldErrors
	if name != nil {
		if fe := roster.ValidateName("name", *name); fe != nil {
			errs = append(errs, *fe)
		} else if other, err := b.store.Credential(ctx, *name); err == nil && other.ID != c.ID {
			return nil, roster.Errorf(roster.ECONFLICT, "a credential named %q already exists", *name)
		}
	}
	plainUpd, secretUpd := split(schema, fields, &errs)
	plain := maps.Clone(c.Fields)
	for k, v := range plainUpd {
		if v == "" {
			delete(plain, k)
		} else {
			plain[k] = v
		}
	}
	checkRequired(schema, plain, secretUpd, c.SecretsSet, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	if err := guard(actor, schema, c.Fields, plain); err != nil {
		b.audit(ctx, actor, "credential.update", roster.AuditDenied, c, "", roster.ErrorMessage(err), nil)
		return nil, err
	}
	upd := roster.CredentialUpdate{Name: name, Description: description, Fields: plain}
	if len(secretUpd) > 0 {
		current, info, err := b.secretsOf(ctx, c)
		if err != nil {
			return nil, err
		}
		maps.Copy(current, secretUpd)
		if err := validateType(c.Type, plain, current); err != nil {
			return nil, err
		}
		version, err := b.backend.PutSecrets(ctx, c.Path, current, info.Version)
		if err != nil {
			return nil, b.backendError("store the secret fields", err)
		}
		upd.Version = &version
		upd.SecretsSet = slices.Sorted(maps.Keys(current))
	} else if err := validateType(c.Type, plain, nil); err != nil {
		return nil, err
	}
	changed := strings.Join(slices.Sorted(maps.Keys(fields)), ",")
	updated, err := b.store.UpdateCredential(ctx, c.ID, upd)
	if err != nil {
		if upd.Version != nil {
			// The backend holds the new secret now; say so, or the next
			// reader of the audit log cannot explain it.
			b.audit(ctx, actor, "credential.update", roster.AuditFailed, c, "", "the secret fields were replaced but the metadata was not: "+roster.ErrorMessage(err),
				map[string]string{"fields": changed, "version": fmt.Sprint(*upd.Version)})
		}
		return nil, err
	}
	b.audit(ctx, actor, "credential.update", roster.AuditAllowed, updated, "", "", map[string]string{"fields": changed, "version": fmt.Sprint(updated.Version)})
	return updated, nil
}

// guard refuses non-admin tokens a change of guarded fields. Roster
// itself (no token: the demo pointing its credentials at this run's
// simulators) may make it.
func guard(actor Actor, schema roster.CredentialSchema, before, after map[string]string) error {
	if actor.Token == nil || actor.Token.Role == roster.RoleAdmin {
		return nil
	}
	var fields []roster.FieldError
	for _, f := range schema.Fields {
		if f.Guarded && before[f.Name] != after[f.Name] {
			fields = append(fields, roster.FieldError{Field: "fields." + f.Name, Message: "only an admin may change this field of an existing credential"})
		}
	}
	if len(fields) == 0 {
		return nil
	}
	return &roster.Error{Code: roster.EFORBIDDEN, Message: "this change needs an admin token", Fields: fields}
}

// secretsOf reads a credential's secret fields (none when it has none).
func (b *Broker) secretsOf(ctx context.Context, c *roster.Credential) (roster.SecretFields, roster.BackendInfo, error) {
	if c.Version == 0 {
		return roster.SecretFields{}, roster.BackendInfo{}, nil
	}
	secrets, info, err := b.backend.GetSecrets(ctx, c.Path)
	if err != nil {
		return nil, info, b.backendError("read the secret fields", err)
	}
	return secrets, info, nil
}

// fieldsOf returns every field of a credential, secret ones included.
func (b *Broker) fieldsOf(ctx context.Context, c *roster.Credential) (map[string]roster.Secret, roster.BackendInfo, error) {
	secrets, info, err := b.secretsOf(ctx, c)
	if err != nil {
		return nil, info, err
	}
	fields := make(map[string]roster.Secret, len(c.Fields)+len(secrets))
	for k, v := range c.Fields {
		fields[k] = roster.Secret(v)
	}
	maps.Copy(fields, secrets)
	return fields, info, nil
}

// Delete removes a credential: its metadata and grants first (a credential
// a source uses stays: the store refuses), then every version of its
// secret fields.
func (b *Broker) Delete(ctx context.Context, actor Actor, ref string) error {
	c, err := b.store.Credential(ctx, ref)
	if err != nil {
		return err
	}
	if err := b.store.DeleteCredential(ctx, c.ID); err != nil {
		return err
	}
	b.audit(ctx, actor, "credential.delete", roster.AuditAllowed, c, "", "", nil)
	if c.Version > 0 {
		if err := b.backend.DeleteSecrets(context.WithoutCancel(ctx), c.Path); err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
			// Nothing refers to them any more; an operator can remove them.
			b.log.Error("deleting the secret fields of a deleted credential failed; remove them from the backend", "path", c.Path, "err", err)
		}
	}
	return nil
}

// backendError turns a backend failure into what a caller may see (see
// roster.SecretBackendError).
func (b *Broker) backendError(doing string, err error) error {
	return roster.SecretBackendError(b.log, doing, err)
}

// audit records an event; when the record cannot be written the failure is
// logged (callers that must refuse in that case use mustAudit).
func (b *Broker) audit(ctx context.Context, actor Actor, action string, outcome roster.AuditOutcome, c *roster.Credential, inventoryID, reason string, details map[string]string) {
	if err := b.mustAudit(ctx, actor, action, outcome, c, inventoryID, reason, details); err != nil {
		b.log.Error("writing an audit record failed", "action", action, "err", err)
	}
}

func (b *Broker) mustAudit(ctx context.Context, actor Actor, action string, outcome roster.AuditOutcome, c *roster.Credential, inventoryID, reason string, details map[string]string) error {
	e := &roster.AuditEvent{
		Actor:       actor.Name,
		ActorID:     actor.id(),
		Action:      action,
		Outcome:     outcome,
		TargetType:  "credential",
		TargetID:    c.ID,
		TargetName:  c.Name,
		InventoryID: inventoryID,
		Reason:      reason,
		Details:     details,
	}
	if actor.Person != nil {
		e.Details = maps.Clone(details)
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		maps.Copy(e.Details, actor.Person)
	}
	return b.store.AppendAudit(context.WithoutCancel(ctx), e)
}
