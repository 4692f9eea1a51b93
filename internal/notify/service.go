package notify

import (
	"context"
	"errors"
	"log/slog"
	"maps"
	"net/url"

	"github.com/rosterhq/roster"
)

// Service creates, changes and deletes webhooks: their secrets in the
// backend, the rest in the store.
type Service struct {
	store   Store
	backend roster.SecretBackend
	log     *slog.Logger
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
	// Format defaults to generic.
	Format roster.WebhookFormat
	Events []roster.WebhookEvent
	URL    roster.Secret
	// SigningSecret, for generic webhooks, signs each request
	// (Roster-Signature); empty for none.
	SigningSecret roster.Secret
	// AllowInsecure allows a plain http URL to a host other than the
	// loopback.
	AllowInsecure bool
	// Disabled creates the webhook switched off.
	Disabled bool
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
	format := orDefault(in.Format, roster.WebhookGeneric)
	if !format.Valid() {
		errs.Add("format", "unknown format %q (formats: generic, slack)", format)
	}
	errs = append(errs, roster.ValidateWebhookEvents("events", in.Events)...)
	u, fe := roster.ParseWebhookURL("url", in.URL.Reveal(), in.AllowInsecure)
	if fe != nil {
		errs = append(errs, *fe)
	}
	checkSigningSecret(format, in.SigningSecret, &errs)
	if err := errs.Err(); err != nil {
		return nil, err
	}
	w := &roster.Webhook{
		ID:               newID(),
		Name:             in.Name,
		SourceID:         in.SourceID,
		Format:           format,
		Events:           in.Events,
		Enabled:          !in.Disabled,
		AllowInsecure:    in.AllowInsecure,
		URLRedacted:      roster.RedactURL(u),
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
	secrets := roster.SecretFields{fieldURL: in.URL}
	if in.SigningSecret != "" {
		secrets[fieldSigningSecret] = in.SigningSecret
	}
	version, err := s.backend.PutSecrets(ctx, w.SecretPath, secrets, 0)
	if err != nil {
		return nil, s.backendError("store the webhook's URL", err)
	}
	w.SecretVersion = version
	if err := s.store.CreateWebhook(ctx, w); err != nil {
		// Leave no secret behind that nothing refers to.
		s.deleteSecrets(ctx, w, "removing the secrets of a webhook that could not be created failed")
		return nil, err
	}
	s.log.Info("webhook created", "webhook", w.ID, "name", w.Name, "inventory", w.InventoryID, "source", w.SourceID, "url", w.URLRedacted)
	return w, nil
}

// checkSigningSecret records what is wrong with a signing secret, never
// quoting it.
func checkSigningSecret(format roster.WebhookFormat, secret roster.Secret, errs *roster.FieldErrors) {
	switch n := len(secret.Reveal()); {
	case n == 0:
	case format != roster.WebhookGeneric:
		errs.Add("signing_secret", "only generic webhooks are signed")
	case n < minSigningSecretLen:
		errs.Add("signing_secret", "must be at least %d characters", minSigningSecretLen)
	case n > maxSigningSecretLen:
		errs.Add("signing_secret", "must be at most %d characters", maxSigningSecretLen)
	}
}

// WebhookChange changes a webhook; nil leaves a part as is.
type WebhookChange struct {
	Name          *string
	Format        *roster.WebhookFormat
	Events        []roster.WebhookEvent
	Enabled       *bool
	AllowInsecure *bool
	URL           *roster.Secret
	// SigningSecret replaces the signing secret; an empty one removes it.
	SigningSecret *roster.Secret
}

// Update changes a webhook. A new URL or signing secret replaces the
// stored one in the backend (check-and-set against the version read).
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
	format := w.Format
	if ch.Format != nil {
		if format = *ch.Format; !format.Valid() {
			errs.Add("format", "unknown format %q (formats: generic, slack)", format)
		}
	}
	if ch.Events != nil {
		errs = append(errs, roster.ValidateWebhookEvents("events", ch.Events)...)
	}
	insecure := w.AllowInsecure
	if ch.AllowInsecure != nil {
		insecure = *ch.AllowInsecure
	}
	upd := roster.WebhookUpdate{Name: ch.Name, Format: ch.Format, Events: ch.Events, Enabled: ch.Enabled, AllowInsecure: ch.AllowInsecure}

	// The URL must be checked again when it changes, or when the
	// permission it was checked against is withdrawn; the signing secret
	// when it or the format changes.
	needSecrets := ch.URL != nil || ch.SigningSecret != nil ||
		(ch.AllowInsecure != nil && !insecure && w.AllowInsecure) ||
		(format != roster.WebhookGeneric && w.HasSigningSecret)
	if !needSecrets {
		if err := errs.Err(); err != nil {
			return nil, err
		}
		return s.store.UpdateWebhook(ctx, w.ID, upd)
	}
	current, info, err := s.backend.GetSecrets(ctx, w.SecretPath)
	if err != nil {
		return nil, s.backendError("read the webhook's URL", err)
	}
	next := maps.Clone(current)
	if ch.URL != nil {
		next[fieldURL] = *ch.URL
	}
	if ch.SigningSecret != nil {
		if *ch.SigningSecret == "" {
			delete(next, fieldSigningSecret)
		} else {
			next[fieldSigningSecret] = *ch.SigningSecret
		}
	}
	u, fe := roster.ParseWebhookURL("url", next[fieldURL].Reveal(), insecure)
	if fe != nil {
		if ch.URL == nil {
			fe = &roster.FieldError{Field: "allow_insecure", Message: "the webhook's URL is plain http to a host other than the loopback: give an https url too"}
		}
		errs = append(errs, *fe)
	}
	if sig, ok := next[fieldSigningSecret]; ok {
		if ch.SigningSecret == nil && format != roster.WebhookGeneric {
			errs.Add("signing_secret", "only generic webhooks are signed: remove the signing secret (an empty signing_secret) to change the format")
		} else {
			checkSigningSecret(format, sig, &errs)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	redacted, signed := roster.RedactURL(u), next[fieldSigningSecret] != ""
	upd.URLRedacted, upd.HasSigningSecret = &redacted, &signed
	if ch.URL != nil || ch.SigningSecret != nil {
		version, err := s.backend.PutSecrets(ctx, w.SecretPath, next, info.Version)
		if err != nil {
			return nil, s.backendError("store the webhook's URL", err)
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

// backendError turns a backend failure into what a caller may see (as the
// broker does): the backend's own secret-free roster errors keep their
// code; anything else is logged and reported generically.
func (s *Service) backendError(doing string, err error) error {
	var re *roster.Error
	if errors.As(err, &re) {
		switch re.Code {
		case roster.EUNAVAILABLE, roster.ECONFLICT, roster.EINVALID, roster.ENOTFOUND:
			return &roster.Error{Code: re.Code, Message: "cannot " + doing + ": " + re.Message, Fields: re.Fields}
		}
	}
	s.log.Error("secret backend failed", "doing", doing, "err", err)
	return roster.Errorf(roster.EUNAVAILABLE, "cannot %s: the secret backend failed", doing)
}

// webhookSecrets reads a webhook's URL and signing secret.
func webhookSecrets(ctx context.Context, backend roster.SecretBackend, w *roster.Webhook) (*url.URL, roster.Secret, error) {
	fields, _, err := backend.GetSecrets(ctx, w.SecretPath)
	if err != nil {
		return nil, "", err
	}
	raw, ok := fields[fieldURL]
	if !ok {
		return nil, "", roster.Errorf(roster.ENOTFOUND, "the webhook's URL is missing from the secret backend")
	}
	u, fe := roster.ParseWebhookURL("url", raw.Reveal(), w.AllowInsecure)
	if fe != nil {
		return nil, "", roster.Invalid(*fe)
	}
	return u, fields[fieldSigningSecret], nil
}
