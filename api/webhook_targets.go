package api

import (
	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/notify"
)

// targetIn splits a target's type settings into what the store keeps and
// the secrets the backend keeps, starting from base (the stored settings,
// for an update). A secret given empty is kept in the map: for an update
// it removes the stored one; Create ignores it.
func targetIn(username *string, irc *WebhookIRC, email *WebhookEmail, pd *WebhookPagerDuty, base roster.WebhookConfig) (roster.WebhookConfig, roster.SecretFields) {
	cfg := base
	secrets := roster.SecretFields{}
	secret := func(name string, v *string) {
		if v != nil {
			secrets[name] = roster.Secret(*v)
		}
	}
	if username != nil {
		cfg.Username = *username
	}
	if irc != nil {
		cfg.IRC = &roster.IRCSettings{
			Server: deref(irc.Server), TLS: irc.Tls == nil || *irc.Tls, TLSServerName: deref(irc.TlsServerName),
			Nick: deref(irc.Nick), Channel: deref(irc.Channel), Notice: irc.Notice != nil && *irc.Notice,
		}
		secret(notify.FieldServerPassword, irc.ServerPassword)
		secret(notify.FieldNickServPassword, irc.NickservPassword)
		secret(notify.FieldChannelKey, irc.ChannelKey)
	}
	if email != nil {
		cfg.Email = &roster.EmailSettings{
			Host: deref(email.Host), Port: derefInt(email.Port), TLSServerName: deref(email.TlsServerName),
			From: deref(email.From), Username: deref(email.Username), SubjectPrefix: deref(email.SubjectPrefix),
		}
		if email.Security != nil {
			cfg.Email.Security = roster.EmailSecurity(*email.Security)
		}
		if email.To != nil {
			cfg.Email.To = *email.To
		}
		secret(notify.FieldPassword, email.Password)
	}
	if pd != nil {
		cfg.PagerDuty = &roster.PagerDutySettings{URL: deref(pd.Url)}
		if pd.SeverityFailed != nil {
			cfg.PagerDuty.SeverityFailed = string(*pd.SeverityFailed)
		}
		if pd.SeverityPartial != nil {
			cfg.PagerDuty.SeverityPartial = string(*pd.SeverityPartial)
		}
		secret(notify.FieldRoutingKey, pd.RoutingKey)
	}
	return cfg, secrets
}

// targetOut shows a target's settings, never its secrets.
func targetOut(c roster.WebhookConfig, out *Webhook) {
	out.Username = optional(c.Username)
	if len(c.SecretsSet) > 0 {
		out.SecretsSet = ptr(c.SecretsSet)
	}
	if i := c.IRC; i != nil {
		out.Irc = &WebhookIRC{
			Server: ptr(i.Server), Tls: ptr(i.TLS), TlsServerName: optional(i.TLSServerName),
			Nick: ptr(i.Nick), Channel: ptr(i.Channel), Notice: ptr(i.Notice),
		}
	}
	if e := c.Email; e != nil {
		out.Email = &WebhookEmail{
			Host: ptr(e.Host), Port: ptr(e.Port), Security: ptr(WebhookEmailSecurity(e.Security)), TlsServerName: optional(e.TLSServerName),
			From: ptr(e.From), To: ptr(e.To), Username: optional(e.Username), SubjectPrefix: optional(e.SubjectPrefix),
		}
	}
	if p := c.PagerDuty; p != nil {
		out.Pagerduty = &WebhookPagerDuty{
			Url: optional(p.URL), SeverityFailed: ptr(WebhookPagerDutySeverityFailed(p.SeverityFailed)),
			SeverityPartial: ptr(WebhookPagerDutySeverityPartial(p.SeverityPartial)),
		}
	}
}
