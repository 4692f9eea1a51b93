package notify

import (
	"context"
	"log/slog"
	"maps"
	"slices"

	"github.com/rosterhq/roster"
)

// Service creates, changes and deletes webhooks: their secrets in the
// backend, the rest in the store.
type Service struct {
	store   Store
	backend roster.SecretBackend
	log     *slog.Logger
	// worker sends test events (UseWorker).
	worker *Worker
}

// NewService returns a service over store and backend.
func NewService(store Store, backend roster.SecretBackend, log *slog.Logger) *Service {
	return &Service{store: store, backend: backend, log: loggerOr(log)}
}

// WebhookInput is a new webhook.
type WebhookInput struct {
	Name string
	// Exactly one of InventoryID (id or name: every source of the
	// inventory) and SourceID (one source).
	InventoryID string
	SourceID    string
	// Type defaults to the type of Format, and that to webhook.
	Type roster.WebhookType
	// Format is Type's older name (generic is webhook).
	Format roster.WebhookFormat
	// Config holds the type's settings that are not secret.
	Config roster.WebhookConfig
	Events []roster.WebhookEvent
	// URL is the endpoint of the webhook and chat types.
	URL roster.Secret
	// SigningSecret, for generic webhooks, signs each request
	// (Roster-Signature); empty for none.
	SigningSecret roster.Secret
	// Secrets are the type's other secrets (FieldRoutingKey,
	// FieldNickServPassword, ...); empty values are ignored.
	Secrets roster.SecretFields
	// AllowInsecure allows a plain http URL to a host other than the
	// loopback, or IRC without TLS.
	AllowInsecure bool
	// Disabled creates the webhook switched off.
	Disabled bool
}

// pagerDutyEvents are a PagerDuty target's events unless others are given:
// a failure triggers an alert and the next success resolves it.
var pagerDutyEvents = []roster.WebhookEvent{roster.EventSyncFailed, roster.EventSyncPartial, roster.EventSyncSucceeded}

// typeOf resolves a type and its older alias, format.
func typeOf(t roster.WebhookType, f roster.WebhookFormat, errs *roster.FieldErrors) roster.WebhookType {
	switch {
	case f == "":
		return orDefault(t, roster.TypeWebhook)
	case t == "" && !roster.TypeOf(f).Valid():
		errs.Add("format", "unknown format %q (formats: generic, slack; or give type: %s)", f, roster.JoinTypes())
		return roster.TypeWebhook
	case t == "":
		return roster.TypeOf(f)
	case roster.TypeOf(f) != t:
		errs.Add("format", "is the older name of type and disagrees with it (%q is type %q): give only type", f, roster.TypeOf(f))
	}
	return t
}

// Create validates and stores a new webhook.
func (s *Service) Create(ctx context.Context, in WebhookInput) (*roster.Webhook, error) {
	var errs roster.FieldErrors
	if fe := roster.ValidateName("name", in.Name); fe != nil {
		errs = append(errs, *fe)
	}
	if (in.InventoryID == "") == (in.SourceID == "") {
		errs.Add("inventory", "give exactly one of inventory (every source of the inventory) and source (one source)")
	}
	typ := typeOf(in.Type, in.Format, &errs)
	if typ == roster.TypePagerDuty && len(in.Events) == 0 {
		in.Events = pagerDutyEvents
	}
	errs = append(errs, roster.ValidateWebhookEvents("events", in.Events)...)
	secrets := roster.SecretFields{}
	for k, v := range in.Secrets {
		if v != "" {
			secrets[k] = v
		}
	}
	if in.URL != "" || typ.UsesURL() {
		secrets[fieldURL] = in.URL
	}
	if in.SigningSecret != "" {
		secrets[fieldSigningSecret] = in.SigningSecret
	}
	cfg := in.Config
	cfg.SecretsSet = secretNames(secrets)
	redacted := checkTarget(typ, &cfg, secrets, in.AllowInsecure, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	w := &roster.Webhook{
		ID:               newID(),
		Name:             in.Name,
		SourceID:         in.SourceID,
		Type:             typ,
		Config:           cfg,
		Events:           in.Events,
		Enabled:          !in.Disabled,
		AllowInsecure:    in.AllowInsecure,
		URLRedacted:      redacted,
		HasSigningSecret: in.SigningSecret != "",
	}
	if in.InventoryID != "" {
		inv, err := s.store.Inventory(ctx, in.InventoryID)
		if err != nil {
			return nil, err
		}
		w.InventoryID = inv.ID
	} else {
		src, err := s.store.Source(ctx, in.SourceID)
		if err != nil {
			return nil, err
		}
		w.InventoryID = src.InventoryID
	}
	w.SecretPath = SecretPrefix + w.ID
	version, err := s.backend.PutSecrets(ctx, w.SecretPath, secrets, 0)
	if err != nil {
		return nil, s.backendError("store the webhook's secrets", err)
	}
	w.SecretVersion = version
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		// Leave no secret behind that nothing refers to.
		s.deleteSecrets(ctx, w, "removing the secrets of a webhook that could not be created failed")
		return nil, err
	}
	s.log.Info("webhook created", "webhook", w.ID, "name", w.Name, "type", w.Type, "inventory", w.InventoryID, "source", w.SourceID, "target", w.URLRedacted)
	return w, nil
}

// checkSigningSecret records what is wrong with a signing secret, never
// quoting it.
func checkSigningSecret(t roster.WebhookType, secret roster.Secret, errs *roster.FieldErrors) {
	switch n := len(secret.Reveal()); {
	case n == 0:
	case t != roster.TypeWebhook:
		errs.Add("signing_secret", "only generic webhooks are signed")
	case n < minSigningSecretLen:
		errs.Add("signing_secret", "must be at least %d characters", minSigningSecretLen)
	case n > maxSigningSecretLen:
		errs.Add("signing_secret", "must be at most %d characters", maxSigningSecretLen)
	}
}

// WebhookChange changes a webhook; nil leaves a part as is.
type WebhookChange struct {
	Name *string
	// Type may change only between the webhook and chat types (they all
	// keep a URL); another change is a new target.
	Type          *roster.WebhookType
	Format        *roster.WebhookFormat
	Config        *roster.WebhookConfig
	Events        []roster.WebhookEvent
	Enabled       *bool
	AllowInsecure *bool
	URL           *roster.Secret
	// SigningSecret replaces the signing secret; an empty one removes it.
	SigningSecret *roster.Secret
	// Secrets replace the type's other secrets; an empty value removes one.
	Secrets roster.SecretFields
}

// Update changes a webhook. New secrets replace the stored ones in the
// backend (check-and-set against the version read).
func (s *Service) Update(ctx context.Context, id string, ch WebhookChange) (*roster.Webhook, error) {
	w, err := s.store.Webhook(ctx, id)
	if err != nil {
		return nil, err
	}
	var errs roster.FieldErrors
	if ch.Name != nil {
		if fe := roster.ValidateName("name", *ch.Name); fe != nil {
			errs = append(errs, *fe)
		}
	}
	typ := w.Type
	if ch.Type != nil || ch.Format != nil {
		typ = typeOf(deref(ch.Type), deref(ch.Format), &errs)
		if typ != w.Type && !(typ.UsesURL() && w.Type.UsesURL()) {
			errs.Add("type", "cannot change from %s to %s: delete the target and create it again", w.Type, typ)
		}
	}
	if ch.Events != nil {
		errs = append(errs, roster.ValidateWebhookEvents("events", ch.Events)...)
	}
	insecure := w.AllowInsecure
	if ch.AllowInsecure != nil {
		insecure = *ch.AllowInsecure
	}
	upd := roster.WebhookUpdate{Name: ch.Name, Events: ch.Events, Enabled: ch.Enabled, AllowInsecure: ch.AllowInsecure}
	if typ != w.Type {
		upd.Type = &typ
	}

	// The target must be checked again when a setting or secret changes,
	// or when the permission it was checked against is withdrawn; the
	// signing secret when it or the type changes.
	needSecrets := ch.URL != nil || ch.SigningSecret != nil || ch.Config != nil || len(ch.Secrets) > 0 ||
		(ch.AllowInsecure != nil && !insecure && w.AllowInsecure) ||
		(typ != roster.TypeWebhook && w.HasSigningSecret)
	if !needSecrets {
		if err := errs.Err(); err != nil {
			return nil, err
		}
		return s.store.UpdateWebhook(ctx, w.ID, upd)
	}
	current, info, err := s.backend.GetSecrets(ctx, w.SecretPath)
	if err != nil {
		return nil, s.backendError("read the webhook's secrets", err)
	}
	next := maps.Clone(current)
	set := func(name string, v *roster.Secret) {
		switch {
		case v == nil:
		case *v == "":
			delete(next, name)
		default:
			next[name] = *v
		}
	}
	set(fieldURL, ch.URL)
	set(fieldSigningSecret, ch.SigningSecret)
	for name, v := range ch.Secrets {
		set(name, &v)
	}
	cfg := w.Config
	if ch.Config != nil {
		cfg = *ch.Config
	}
	cfg.SecretsSet = secretNames(next)
	var check roster.FieldErrors
	redacted := checkTarget(typ, &cfg, next, insecure, &check)
	for _, fe := range check {
		switch {
		case fe.Field == "url" && ch.URL == nil && current[fieldURL] != "" && !insecure:
			fe = roster.FieldError{Field: "allow_insecure", Message: "the webhook's URL is plain http to a host other than the loopback: give an https url too"}
		case fe.Field == "signing_secret" && ch.SigningSecret == nil && typ != roster.TypeWebhook:
			fe.Message = "only generic webhooks are signed: remove the signing secret (an empty signing_secret) to change the format"
		}
		errs = append(errs, fe)
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	signed := next[fieldSigningSecret] != ""
	upd.URLRedacted, upd.HasSigningSecret, upd.Config = &redacted, &signed, &cfg
	if !maps.Equal(next, current) {
		version, err := s.backend.PutSecrets(ctx, w.SecretPath, next, info.Version)
		if err != nil {
			return nil, s.backendError("store the webhook's secrets", err)
		}
		upd.SecretVersion = &version
	}
	updated, err := s.store.UpdateWebhook(ctx, w.ID, upd)
	if err != nil {
		if upd.SecretVersion != nil {
			s.log.Error("a webhook's secrets were replaced but its record was not", "webhook", w.ID, "version", *upd.SecretVersion, "err", err)
		}
		return nil, err
	}
	return updated, nil
}

// secretNames lists the type's secrets in fields (not the URL and signing
// secret, which have their own indicators), sorted.
func secretNames(fields roster.SecretFields) []string {
	var out []string
	for name := range fields {
		if name != fieldURL && name != fieldSigningSecret {
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

// Webhook returns a webhook.
func (s *Service) Webhook(ctx context.Context, id string) (*roster.Webhook, error) {
	return s.store.Webhook(ctx, id)
}

// Webhooks lists webhooks.
func (s *Service) Webhooks(ctx context.Context, f roster.WebhookFilter) ([]*roster.Webhook, error) {
	return s.store.Webhooks(ctx, f)
}

// Deliveries lists a page of the delivery log, newest first.
func (s *Service) Deliveries(ctx context.Context, f roster.DeliveryFilter) ([]*roster.WebhookDelivery, string, error) {
	return s.store.WebhookDeliveries(ctx, f)
}

// Delete removes a webhook: its record and delivery log first (deliveries
// still queued find nothing and stop), then its secrets.
func (s *Service) Delete(ctx context.Context, id string) error {
	w, err := s.store.Webhook(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.DeleteWebhook(ctx, w.ID); err != nil {
		return err
	}
	s.deleteSecrets(ctx, w, "deleting the secrets of a deleted webhook failed; remove them from the backend")
	s.log.Info("webhook deleted", "webhook", w.ID, "name", w.Name)
	return nil
}

// Purge deletes every webhook of a source (f.SourceID) or of an inventory
// (f.InventoryID), secrets included. Call it before deleting the source or
// inventory: the store's cascade would remove the records but leave the
// secrets in the backend with nothing referring to them.
func (s *Service) Purge(ctx context.Context, f roster.WebhookFilter) (int, error) {
	if f.InventoryID == "" && f.SourceID == "" {
		return 0, roster.Errorf(roster.EINVALID, "purge needs an inventory or a source")
	}
	hooks, err := s.store.Webhooks(ctx, f)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range hooks {
		err := s.store.DeleteWebhook(ctx, w.ID)
		if roster.ErrorCode(err) == roster.ENOTFOUND {
			continue
		}
		if err != nil {
			return n, err
		}
		s.deleteSecrets(ctx, w, "deleting the secrets of a deleted webhook failed; remove them from the backend")
		n++
	}
	return n, nil
}

func (s *Service) deleteSecrets(ctx context.Context, w *roster.Webhook, msg string) {
	err := s.backend.DeleteSecrets(context.WithoutCancel(ctx), w.SecretPath)
	if err != nil && roster.ErrorCode(err) != roster.ENOTFOUND {
		s.log.Error(msg, "webhook", w.ID, "path", w.SecretPath, "err", err)
	}
}

// backendError turns a backend failure into what a caller may see (see
// roster.SecretBackendError).
func (s *Service) backendError(doing string, err error) error {
	return roster.SecretBackendError(s.log, doing, err)
}

// webhookSecrets reads a target's secrets.
func webhookSecrets(ctx context.Context, backend roster.SecretBackend, w *roster.Webhook) (roster.SecretFields, error) {
	fields, _, err := backend.GetSecrets(ctx, w.SecretPath)
	if err != nil {
		return nil, err
	}
	if w.Type.UsesURL() {
		if _, ok := fields[fieldURL]; !ok {
			return nil, roster.Errorf(roster.ENOTFOUND, "the webhook's URL is missing from the secret backend")
		}
	}
	return fields, nil
}
