package broker

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
)

// Wrapping token lifetimes.
const (
	DefaultWrapTTL = 60 * time.Second
	MaxWrapTTL     = 10 * time.Minute
)

// Issued is a credential handed to its grantee: all fields, or a wrapping
// token holding them.
type Issued struct {
	Credential *roster.Credential
	Fields     map[string]roster.Secret // nil when wrapped
	Wrapped    *roster.WrappedSecret
}

// authorize finds the credential (unless the caller found it: known) and
// inventory of a request and checks that actor holds a grant for them. A
// refusal is audited.
func (b *Broker) authorize(ctx context.Context, actor Actor, action, credRef string, known *roster.Credential, invRef string) (*roster.Credential, *roster.Inventory, error) {
	c := known
	if c == nil {
		var err error
		if c, err = b.store.Credential(ctx, credRef); err != nil {
			return nil, nil, err
		}
	}
	deny := func(inventoryID, reason string) error {
		b.audit(ctx, actor, action, roster.AuditDenied, c, inventoryID, reason, nil)
		return roster.Errorf(roster.EFORBIDDEN, "%s", reason)
	}
	inv, err := b.store.Inventory(ctx, invRef)
	if roster.ErrorCode(err) == roster.ENOTFOUND {
		// Refused in the words of a refused grant: a caller must not learn
		// which inventories exist from the answer.
		b.audit(ctx, actor, action, roster.AuditDenied, c, "", fmt.Sprintf("no inventory %q", clipRef(invRef)), nil)
		return nil, nil, roster.Errorf(roster.EFORBIDDEN, "token %q holds no grant of credential %q for inventory %q", actor.Name, c.Name, clipRef(invRef))
	} else if err != nil {
		return nil, nil, err
	}
	if actor.MayUse != nil {
		ok, err := actor.MayUse(inv.ID)
		if err != nil {
			return nil, nil, err
		}
		if !ok {
			return nil, nil, deny(inv.ID, fmt.Sprintf("%s has no role binding of runner or admin for inventory %q", actor.Name, clipRef(invRef)))
		}
	}
	if actor.Token == nil {
		return nil, nil, deny(inv.ID, fmt.Sprintf("%s holds no grant: credentials are used with a token, which holds grants", actor.Name))
	}
	if r := actor.Token.Role; r != roster.RoleRunner && r != roster.RoleAdmin {
		return nil, nil, deny(inv.ID, fmt.Sprintf("a token with role %q does not use credentials", r))
	}
	held, err := b.holdsGrant(ctx, actor, c, inv)
	if err != nil {
		return nil, nil, err
	}
	if !held {
		return nil, nil, deny(inv.ID, fmt.Sprintf("token %q holds no grant of credential %q for inventory %q", actor.Name, c.Name, clipRef(invRef)))
	}
	return c, inv, nil
}

// holdsGrant reports whether actor holds a grant of c for inv: among the
// grants the caller read already, or else in the store.
func (b *Broker) holdsGrant(ctx context.Context, actor Actor, c *roster.Credential, inv *roster.Inventory) (bool, error) {
	if actor.Grants != nil {
		return slices.ContainsFunc(actor.Grants, func(g *roster.Grant) bool {
			return g.TokenID == actor.Token.ID && g.CredentialID == c.ID && g.InventoryID == inv.ID
		}), nil
	}
	grants, err := b.store.Grants(ctx, roster.GrantFilter{TokenID: actor.Token.ID, CredentialID: c.ID, InventoryID: inv.ID})
	return len(grants) > 0, err
}

// maxRefInReason bounds the caller's text an audit record quotes: the
// records of a flood are bounded in number (roster.AuditLimits), and this
// bounds their size.
const maxRefInReason = 128

// clipRef shortens a reference the caller chose for an audit reason.
func clipRef(ref string) string {
	if len(ref) <= maxRefInReason {
		return ref
	}
	return strings.ToValidUTF8(ref[:maxRefInReason], "") + "…"
}

// IssueRequest is a request for a credential's fields.
type IssueRequest struct {
	Credential string // id or name
	// Found is the credential as the caller found it in the store for
	// this request (nil: the broker finds Credential).
	Found     *roster.Credential
	Inventory string
	Wrap      bool          // hand a wrapping token instead of the fields
	WrapTTL   time.Duration // zero: DefaultWrapTTL
}

// Issue hands a credential's fields (or a wrapping token holding them) to
// a token granted its use for an inventory. The audit record is written
// before anything is returned: no record, no secret.
func (b *Broker) Issue(ctx context.Context, actor Actor, req IssueRequest) (_ *Issued, err error) {
	failed := false // on Roster's side: see observeIssuance
	defer func() { b.observeIssuance(KindIssue, err, failed) }()
	wrap, wrapTTL := req.Wrap, req.WrapTTL
	c, inv, err := b.authorize(ctx, actor, "credential.issue", req.Credential, req.Found, req.Inventory)
	if err != nil {
		return nil, err
	}
	if c.Type == roster.CredentialSSHCertificate {
		return nil, roster.Invalid(roster.FieldError{Field: "credential", Message: "an ssh_certificate credential signs keys: use .../ssh/sign"})
	}
	if wrap {
		if wrapTTL == 0 {
			wrapTTL = DefaultWrapTTL
		}
		if wrapTTL < time.Second || wrapTTL > MaxWrapTTL {
			return nil, roster.Invalid(roster.FieldError{Field: "wrap_ttl", Message: fmt.Sprintf("must be between 1s and %s", MaxWrapTTL)})
		}
	}
	fields, info, err := b.fieldsOf(ctx, c)
	if err != nil {
		b.audit(ctx, actor, "credential.issue", roster.AuditFailed, c, inv.ID, roster.ErrorMessage(err), nil)
		failed = true
		return nil, err
	}
	out := &Issued{Credential: c}
	details := map[string]string{"version": fmt.Sprint(c.Version), "backend": b.backend.Kind(), "request_id": info.RequestID, "wrapped": fmt.Sprint(wrap)}
	if wrap {
		w, err := b.backend.Wrap(ctx, fields, wrapTTL)
		if err != nil {
			b.audit(ctx, actor, "credential.issue", roster.AuditFailed, c, inv.ID, roster.ErrorMessage(err), details)
			failed = true
			return nil, b.backendError("wrap the credential", err)
		}
		out.Wrapped = w
		details["wrap_ttl"] = wrapTTL.String()
		details["wrap_accessor"] = w.Accessor
	} else {
		out.Fields = fields
	}
	if err := b.mustAudit(ctx, actor, "credential.issue", roster.AuditAllowed, c, inv.ID, "", details); err != nil {
		b.log.Error("refusing an issuance whose audit record could not be written", "credential", c.Name, "err", err)
		failed = true
		return nil, roster.Errorf(roster.EUNAVAILABLE, "the issuance cannot be audited, so it is refused")
	}
	return out, nil
}

// SignRequest is a runner's request for an SSH certificate.
type SignRequest struct {
	Credential string // id or name
	// Found is the credential as the caller found it in the store for
	// this request (nil: the broker finds Credential).
	Found      *roster.Credential
	Inventory  string
	PublicKey  string
	Principals []string      // empty: every principal the credential allows
	TTL        time.Duration // zero: the credential's lifetime
}

// Signed is an issued certificate with the user it logs in as.
type Signed struct {
	*roster.SSHCertificate
	Username string
}

// SignSSHKey signs a runner's public key with an ssh_certificate
// credential's CA, within the credential's policy: the runner may ask for
// fewer principals and a shorter lifetime, never more.
func (b *Broker) SignSSHKey(ctx context.Context, actor Actor, req SignRequest) (_ *Signed, err error) {
	failed := false // on Roster's side: see observeIssuance
	defer func() { b.observeIssuance(KindSSHSign, err, failed) }()
	c, inv, err := b.authorize(ctx, actor, "credential.ssh_sign", req.Credential, req.Found, req.Inventory)
	if err != nil {
		return nil, err
	}
	if c.Type != roster.CredentialSSHCertificate {
		return nil, roster.Invalid(roster.FieldError{Field: "credential", Message: fmt.Sprintf("a %s credential does not sign keys: use .../issue", c.Type)})
	}
	var errs roster.FieldErrors
	pub, _, _, _, err := ssh.ParseAuthorizedKey([]byte(req.PublicKey))
	if err != nil {
		errs.Add("public_key", "is not an OpenSSH public key")
	} else if _, isCert := pub.(*ssh.Certificate); isCert {
		errs.Add("public_key", "is a certificate, not a public key")
	}
	allowed := principals(c.Fields)
	want := req.Principals
	if len(want) == 0 {
		want = allowed
	}
	for i, p := range want {
		if !slices.Contains(allowed, p) {
			errs.Add(fmt.Sprintf("principals[%d]", i), "%q is not among the credential's principals (%s)", p, strings.Join(allowed, ", "))
		}
	}
	limit := certTTL(c.Fields)
	ttl := req.TTL
	switch {
	case ttl == 0:
		ttl = limit
	case ttl < 0 || ttl > limit:
		errs.Add("ttl", "must be positive and at most the credential's %s", limit)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	keyID := fmt.Sprintf("roster:%s:%s", actor.Name, inv.Name)
	cert, err := b.backend.SignSSHKey(ctx, roster.SSHSignRequest{Role: c.Fields["role"], PublicKey: req.PublicKey, Principals: want, TTL: ttl, KeyID: keyID})
	if err != nil {
		b.audit(ctx, actor, "credential.ssh_sign", roster.AuditFailed, c, inv.ID, roster.ErrorMessage(err), nil)
		failed = true
		return nil, b.backendError("sign the key", err)
	}
	details := map[string]string{
		"serial": cert.Serial, "principals": strings.Join(cert.Principals, ","), "ttl": ttl.String(),
		"valid_before": cert.ValidBefore.UTC().Format(time.RFC3339), "key_id": keyID, "request_id": cert.RequestID,
		"backend": b.backend.Kind(), "public_key_fingerprint": ssh.FingerprintSHA256(pub),
	}
	if err := b.mustAudit(ctx, actor, "credential.ssh_sign", roster.AuditAllowed, c, inv.ID, "", details); err != nil {
		b.log.Error("refusing a certificate whose audit record could not be written", "credential", c.Name, "err", err)
		failed = true
		return nil, roster.Errorf(roster.EUNAVAILABLE, "the issuance cannot be audited, so it is refused")
	}
	return &Signed{SSHCertificate: cert, Username: c.Fields["username"]}, nil
}

// CAPublicKey returns the public key sshd must trust for an
// ssh_certificate credential.
func (b *Broker) CAPublicKey(ctx context.Context, credRef string) (string, error) {
	c, err := b.store.Credential(ctx, credRef)
	if err != nil {
		return "", err
	}
	if c.Type != roster.CredentialSSHCertificate {
		return "", roster.Invalid(roster.FieldError{Field: "credential", Message: "only ssh_certificate credentials have a CA"})
	}
	key, err := b.backend.SSHCAPublicKey(ctx, c.Fields["role"])
	if err != nil {
		return "", b.backendError("read the CA public key", err)
	}
	return key, nil
}

// ForSource obtains a source's credential for one sync, as Roster itself;
// the use is audited like an issuance.
func (b *Broker) ForSource(ctx context.Context, src *roster.Source) (roster.CredentialType, map[string]roster.Secret, error) {
	c, err := b.store.Credential(ctx, src.CredentialID)
	if err != nil {
		return "", nil, err
	}
	details := map[string]string{"source": src.Name, "source_id": src.ID, "version": fmt.Sprint(c.Version), "backend": b.backend.Kind()}
	fields, info, err := b.fieldsOf(ctx, c)
	if err != nil {
		b.audit(ctx, Syncer, "credential.use", roster.AuditFailed, c, src.InventoryID, roster.ErrorMessage(err), details)
		return "", nil, &roster.Error{Code: roster.ErrorCode(err), Message: fmt.Sprintf("credential %q: %s", c.Name, roster.ErrorMessage(err))}
	}
	details["request_id"] = info.RequestID
	if err := b.mustAudit(ctx, Syncer, "credential.use", roster.AuditAllowed, c, src.InventoryID, "", details); err != nil {
		return "", nil, roster.Errorf(roster.EUNAVAILABLE, "the use of credential %q cannot be audited, so it is refused", c.Name)
	}
	return c.Type, fields, nil
}
