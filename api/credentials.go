package api

import (
	"context"
	"slices"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/broker"
)

// actor is the broker's actor of the request's caller. A user's may use a
// credential for an inventory where an acting view of role runner or admin
// sees it, and its grants are its token's (a session holds none).
func (s *Server) actor(ctx context.Context) broker.Actor {
	c := callerFrom(ctx)
	if c.user == nil {
		return broker.TokenActor(c.tok)
	}
	a := broker.Actor{Token: c.tok, Name: c.name(), Person: c.person()}
	a.MayUse = func(inventoryID string) (bool, error) {
		return s.actsAs(ctx, inventoryID, false, roster.RoleRunner, roster.RoleAdmin)
	}
	return a
}

// issuer is the actor of an issuance, with the grants of a runner read
// once for the request (credentialFor read them already): the broker checks
// its grant among them instead of asking the store again.
func (s *Server) issuer(ctx context.Context) broker.Actor {
	a := s.actor(ctx)
	if c, err := s.visible(ctx); err == nil && c.grants != nil {
		a.Grants = c.grants
	}
	return a
}

func credentialOut(c *roster.Credential, backend string) Credential {
	return Credential{
		Id:          c.ID,
		Name:        c.Name,
		Type:        CredentialType(c.Type),
		Description: c.Description,
		Fields:      nonNilMap(c.Fields),
		SecretsSet:  nonNil(c.SecretsSet),
		Version:     c.Version,
		Backend:     CredentialBackend(backend),
		CreatedAt:   c.CreatedAt,
		UpdatedAt:   c.UpdatedAt,
	}
}

func nonNilMap(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

func secrets(m map[string]string) map[string]roster.Secret {
	out := make(map[string]roster.Secret, len(m))
	for k, v := range m {
		out[k] = roster.Secret(v)
	}
	return out
}

// ListCredentialTypes implements StrictServerInterface.
func (s *Server) ListCredentialTypes(context.Context, ListCredentialTypesRequestObject) (ListCredentialTypesResponseObject, error) {
	var out ListCredentialTypes200JSONResponse
	for _, schema := range roster.CredentialSchemas() {
		item := struct {
			Description string `json:"description"`
			Fields      []struct {
				Description *string `json:"description,omitempty"`
				Name        string  `json:"name"`
				Required    bool    `json:"required"`
				Secret      bool    `json:"secret"`
			} `json:"fields"`
			Type CredentialType `json:"type"`
		}{Description: schema.Description, Type: CredentialType(schema.Type)}
		for _, f := range schema.Fields {
			item.Fields = append(item.Fields, struct {
				Description *string `json:"description,omitempty"`
				Name        string  `json:"name"`
				Required    bool    `json:"required"`
				Secret      bool    `json:"secret"`
			}{Description: optional(f.Description), Name: f.Name, Required: f.Required, Secret: f.Secret})
		}
		out.Items = append(out.Items, item)
	}
	return out, nil
}

// ListCredentials implements StrictServerInterface. A runner sees the
// credentials it holds a grant for.
func (s *Server) ListCredentials(ctx context.Context, _ ListCredentialsRequestObject) (ListCredentialsResponseObject, error) {
	creds, err := s.store.Credentials(ctx)
	if err != nil {
		return nil, err
	}
	if creds, err = visibleOnly(ctx, creds, func(ctx context.Context, c *roster.Credential) (bool, error) { return s.seesCredential(ctx, c.ID) }); err != nil {
		return nil, err
	}
	out := ListCredentials200JSONResponse{Items: make([]Credential, len(creds))}
	for i, c := range creds {
		out.Items[i] = credentialOut(c, s.broker.Backend())
	}
	return out, nil
}

// GetCredential implements StrictServerInterface.
func (s *Server) GetCredential(ctx context.Context, req GetCredentialRequestObject) (GetCredentialResponseObject, error) {
	c, err := s.credentialFor(ctx, "credential.read", req.Credential)
	if err != nil {
		return nil, err
	}
	return GetCredential200JSONResponse(credentialOut(c, s.broker.Backend())), nil
}

// CreateCredential implements StrictServerInterface.
func (s *Server) CreateCredential(ctx context.Context, req CreateCredentialRequestObject) (CreateCredentialResponseObject, error) {
	c, err := s.broker.Create(ctx, s.actor(ctx), broker.CredentialInput{
		Name:        req.Body.Name,
		Type:        roster.CredentialType(req.Body.Type),
		Description: deref(req.Body.Description),
		Fields:      secrets(req.Body.Fields),
	})
	if err != nil {
		return nil, err
	}
	return CreateCredential201JSONResponse(credentialOut(c, s.broker.Backend())), nil
}

// UpdateCredential implements StrictServerInterface.
func (s *Server) UpdateCredential(ctx context.Context, req UpdateCredentialRequestObject) (UpdateCredentialResponseObject, error) {
	var fields map[string]roster.Secret
	if req.Body.Fields != nil {
		fields = secrets(*req.Body.Fields)
	}
	c, err := s.broker.Update(ctx, s.actor(ctx), req.Credential, req.Body.Name, req.Body.Description, fields)
	if err != nil {
		return nil, err
	}
	return UpdateCredential200JSONResponse(credentialOut(c, s.broker.Backend())), nil
}

// DeleteCredential implements StrictServerInterface.
func (s *Server) DeleteCredential(ctx context.Context, req DeleteCredentialRequestObject) (DeleteCredentialResponseObject, error) {
	if err := s.broker.Delete(ctx, s.actor(ctx), req.Credential); err != nil {
		return nil, err
	}
	return DeleteCredential204Response{}, nil
}

// IssueCredential implements StrictServerInterface.
func (s *Server) IssueCredential(ctx context.Context, req IssueCredentialRequestObject) (IssueCredentialResponseObject, error) {
	var wrapTTL time.Duration
	if req.Body.WrapTtl != nil {
		d, err := time.ParseDuration(*req.Body.WrapTtl)
		if err != nil {
			return nil, roster.Invalid(roster.FieldError{Field: "wrap_ttl", Message: "must be a duration such as 60s"})
		}
		wrapTTL = d
	}
	wrap := req.Body.Wrap != nil && *req.Body.Wrap
	c, err := s.credentialFor(ctx, "credential.issue", req.Credential)
	if err != nil {
		return nil, err
	}
	issued, err := s.broker.Issue(ctx, s.issuer(ctx), broker.IssueRequest{Credential: req.Credential, Found: c, Inventory: req.Body.Inventory, Wrap: wrap, WrapTTL: wrapTTL})
	if err != nil {
		return nil, err
	}
	body := IssuedCredential{Credential: issued.Credential.Name, Type: CredentialType(issued.Credential.Type), Version: issued.Credential.Version}
	if w := issued.Wrapped; w != nil {
		body.Wrap = &struct {
			Accessor     string    `json:"accessor"`
			CreationTime time.Time `json:"creation_time"`
			Token        string    `json:"token"`
			TtlSeconds   int       `json:"ttl_seconds"`
		}{Accessor: w.Accessor, CreationTime: w.CreatedAt, Token: w.Token.Reveal(), TtlSeconds: int(w.TTL.Seconds())}
	} else {
		fields := make(map[string]string, len(issued.Fields))
		for k, v := range issued.Fields {
			fields[k] = v.Reveal() // to the grantee, in this response only
		}
		body.Fields = &fields
	}
	noStore := "no-store"
	return IssueCredential200JSONResponse{Body: body, Headers: IssueCredential200ResponseHeaders{CacheControl: &noStore}}, nil
}

// SignSSHKey implements StrictServerInterface.
func (s *Server) SignSSHKey(ctx context.Context, req SignSSHKeyRequestObject) (SignSSHKeyResponseObject, error) {
	sr := broker.SignRequest{Credential: req.Credential, Inventory: req.Body.Inventory, PublicKey: req.Body.PublicKey}
	if req.Body.Principals != nil {
		sr.Principals = *req.Body.Principals
	}
	if req.Body.Ttl != nil {
		d, err := time.ParseDuration(*req.Body.Ttl)
		if err != nil {
			return nil, roster.Invalid(roster.FieldError{Field: "ttl", Message: "must be a duration such as 10m"})
		}
		sr.TTL = d
	}
	c, err := s.credentialFor(ctx, "credential.ssh_sign", req.Credential)
	if err != nil {
		return nil, err
	}
	sr.Found = c
	cert, err := s.broker.SignSSHKey(ctx, s.issuer(ctx), sr)
	if err != nil {
		return nil, err
	}
	return SignSSHKey200JSONResponse{
		Certificate: cert.Certificate,
		Serial:      cert.Serial,
		Principals:  nonNil(cert.Principals),
		ValidBefore: cert.ValidBefore,
		Username:    cert.Username,
	}, nil
}

// GetSSHCA implements StrictServerInterface.
func (s *Server) GetSSHCA(ctx context.Context, req GetSSHCARequestObject) (GetSSHCAResponseObject, error) {
	if _, err := s.credentialFor(ctx, "credential.read", req.Credential); err != nil {
		return nil, err
	}
	key, err := s.broker.CAPublicKey(ctx, req.Credential)
	if err != nil {
		return nil, err
	}
	return GetSSHCA200JSONResponse{PublicKey: key}, nil
}

// ---- grants

func grantOut(g *roster.Grant) Grant {
	return Grant{Id: g.ID, TokenId: g.TokenID, CredentialId: g.CredentialID, InventoryId: g.InventoryID, CreatedAt: g.CreatedAt}
}

// ListGrants implements StrictServerInterface.
func (s *Server) ListGrants(ctx context.Context, req ListGrantsRequestObject) (ListGrantsResponseObject, error) {
	var f roster.GrantFilter
	if p := req.Params.Token; p != nil {
		t, err := s.token(ctx, *p)
		if err != nil {
			return nil, err
		}
		f.TokenID = t.ID
	}
	if p := req.Params.Credential; p != nil {
		c, err := s.credential(ctx, *p)
		if err != nil {
			return nil, err
		}
		f.CredentialID = c.ID
	}
	if p := req.Params.Inventory; p != nil {
		inv, err := s.inventory(ctx, *p)
		if err != nil {
			return nil, err
		}
		f.InventoryID = inv.ID
	}
	grants, err := s.store.Grants(ctx, f)
	if err != nil {
		return nil, err
	}
	out := ListGrants200JSONResponse{Items: make([]Grant, len(grants))}
	for i, g := range grants {
		out.Items[i] = grantOut(g)
	}
	return out, nil
}

// CreateGrant implements StrictServerInterface.
func (s *Server) CreateGrant(ctx context.Context, req CreateGrantRequestObject) (CreateGrantResponseObject, error) {
	var errs roster.FieldErrors
	tok, err := s.token(ctx, req.Body.Token)
	if err != nil {
		errs.Add("token", "%s", roster.ErrorMessage(err))
	}
	cred, err := s.credential(ctx, req.Body.Credential)
	if err != nil {
		errs.Add("credential", "%s", roster.ErrorMessage(err))
	}
	inv, err := s.inventory(ctx, req.Body.Inventory)
	if err != nil {
		errs.Add("inventory", "%s", roster.ErrorMessage(err))
	} else if tok != nil && tok.Inventories != nil && !slices.Contains(tok.Inventories, inv.ID) {
		// It would grant nothing: the token sees no other inventory.
		errs.Add("inventory", "token %q is limited to other inventories", tok.Name)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	g := &roster.Grant{TokenID: tok.ID, CredentialID: cred.ID, InventoryID: inv.ID}
	if err := s.store.CreateGrant(ctx, g); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "grant.create", "grant", g.ID, tok.Name+" → "+cred.Name, inv.ID, map[string]string{"token": tok.Name, "credential": cred.Name, "inventory": inv.Name})
	return CreateGrant201JSONResponse(grantOut(g)), nil
}

// DeleteGrant implements StrictServerInterface.
func (s *Server) DeleteGrant(ctx context.Context, req DeleteGrantRequestObject) (DeleteGrantResponseObject, error) {
	// What the grant was is recorded: the audit log outlives it.
	g, err := s.grant(ctx, req.Grant)
	if err != nil {
		return nil, err
	}
	if err := s.store.DeleteGrant(ctx, g.ID); err != nil {
		return nil, err
	}
	s.auditChange(ctx, "grant.delete", "grant", g.ID, "", g.InventoryID, map[string]string{"token_id": g.TokenID, "credential_id": g.CredentialID})
	return DeleteGrant204Response{}, nil
}

// ---- audit

// ListAuditEvents implements StrictServerInterface.
func (s *Server) ListAuditEvents(ctx context.Context, req ListAuditEventsRequestObject) (ListAuditEventsResponseObject, error) {
	p := req.Params
	events, next, err := s.store.AuditEvents(ctx, roster.AuditFilter{
		Actor: deref(p.Actor), Action: deref(p.Action), TargetID: deref(p.Target), After: deref(p.Cursor), Limit: derefInt(p.Limit),
	})
	if err != nil {
		return nil, err
	}
	out := ListAuditEvents200JSONResponse{Items: make([]AuditEvent, len(events)), NextCursor: optional(next)}
	for i, e := range events {
		d := nonNilMap(e.Details)
		out.Items[i] = AuditEvent{
			Id: e.ID, Time: e.Time, LastTime: e.LastTime, Count: e.Count, Actor: e.Actor, Action: e.Action, Outcome: AuditEventOutcome(e.Outcome),
			TargetType: e.TargetType, TargetId: e.TargetID, TargetName: optional(e.TargetName),
			InventoryId: optional(e.InventoryID), Reason: optional(e.Reason), Details: &d,
		}
	}
	return out, nil
}

// auditChange records a configuration change made through the API.
func (s *Server) auditChange(ctx context.Context, action, targetType, id, name, inventoryID string, details map[string]string) {
	s.audit(ctx, &roster.AuditEvent{Action: action, Outcome: roster.AuditAllowed,
		TargetType: targetType, TargetID: id, TargetName: name, InventoryID: inventoryID, Details: details})
}

// audit records e as done by the request's token. What it records has
// happened already; a failure to record it is logged loudly.
func (s *Server) audit(ctx context.Context, e *roster.AuditEvent) {
	c := callerFrom(ctx)
	e.Actor, e.ActorID = c.name(), c.tokenID()
	if p := c.person(); p != nil {
		if e.Details == nil {
			e.Details = map[string]string{}
		}
		for k, v := range p {
			e.Details[k] = v
		}
	}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("writing an audit record failed", "action", e.Action, "target", e.TargetID, "err", err)
	}
}
