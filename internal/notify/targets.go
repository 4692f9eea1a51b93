package notify

import (
	"net"
	"net/mail"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/rosterhq/roster"
)

// Secret fields of the types other than webhook and chat, in the backend
// beside url and signing_secret.
const (
	FieldRoutingKey       = "routing_key"       // pagerduty
	FieldServerPassword   = "server_password"   // irc: PASS
	FieldNickServPassword = "nickserv_password" // irc: IDENTIFY
	FieldChannelKey       = "channel_key"       // irc: JOIN key
	FieldPassword         = "password"          // email: SMTP AUTH
)

// secretFields lists the secrets each type may hold.
var secretFields = map[roster.WebhookType][]string{
	roster.TypeWebhook:    {fieldURL, fieldSigningSecret},
	roster.TypeSlack:      {fieldURL},
	roster.TypeMattermost: {fieldURL},
	roster.TypeRocketChat: {fieldURL},
	roster.TypeTeams:      {fieldURL},
	roster.TypePagerDuty:  {FieldRoutingKey},
	roster.TypeIRC:        {FieldServerPassword, FieldNickServPassword, FieldChannelKey},
	roster.TypeEmail:      {FieldPassword},
}

// maxSecretLen bounds a password, key or routing key.
const maxSecretLen = 256

// Bounds of the settings a user controls.
const (
	maxHostLen      = 253
	maxUsernameLen  = 64
	maxRecipients   = 20
	maxAddressLen   = 254
	maxSubjectLen   = 64
	maxIRCNickLen   = 30
	defaultSMTPPort = 587
)

var (
	ircNick    = regexp.MustCompile(`^[A-Za-z\[\]\\` + "`" + `_^{|}][A-Za-z0-9\[\]\\` + "`" + `_^{|}-]*$`)
	ircChannel = regexp.MustCompile(`^[#&][^\s,\x07]{1,49}$`)
	pdSeverity = []string{"critical", "error", "warning", "info"}
)

// secretField names a secret in field errors: the type's settings object
// for the types that have one ("irc.nickserv_password"), else the field.
func secretField(t roster.WebhookType, name string) string {
	if t.UsesURL() {
		return name
	}
	return string(t) + "." + name
}

// checkTarget checks a target's type, settings and secrets, fills in the
// defaults of cfg, and returns its display form. Field errors never quote
// a secret.
func checkTarget(t roster.WebhookType, cfg *roster.WebhookConfig, secrets roster.SecretFields, insecure bool, errs *roster.FieldErrors) string {
	if !t.Valid() {
		errs.Add("type", "unknown type %q (types: %s)", t, roster.JoinTypes())
		return ""
	}
	for name, v := range secrets {
		switch {
		case name == fieldSigningSecret && t != roster.TypeWebhook:
			// checkSigningSecret says so.
		case !slices.Contains(secretFields[t], name):
			errs.Add(secretField(t, name), "is not a setting of a %s target", t)
		case len(v.Reveal()) > maxSecretLen && name != fieldURL:
			errs.Add(secretField(t, name), "must be at most %d characters", maxSecretLen)
		case strings.ContainsAny(v.Reveal(), "\r\n\x00"):
			errs.Add(secretField(t, name), "must not contain line breaks")
		}
	}
	for name, present := range map[string]bool{"irc": cfg.IRC != nil, "email": cfg.Email != nil, "pagerduty": cfg.PagerDuty != nil} {
		if present && name != string(t) {
			errs.Add(name, "is only for a target of type %s", name)
		}
	}
	if cfg.Username != "" && t != roster.TypeMattermost && t != roster.TypeRocketChat {
		errs.Add("username", "is only for mattermost and rocketchat targets")
	}
	if len(cfg.Username) > maxUsernameLen {
		errs.Add("username", "must be at most %d characters", maxUsernameLen)
	}
	checkSigningSecret(t, secrets[fieldSigningSecret], errs)
	switch t {
	case roster.TypeIRC:
		return checkIRC(cfg, secrets, insecure, errs)
	case roster.TypeEmail:
		return checkEmail(cfg, secrets, errs)
	case roster.TypePagerDuty:
		return checkPagerDuty(cfg, secrets, insecure, errs)
	}
	u, fe := roster.ParseWebhookURL("url", secrets[fieldURL].Reveal(), insecure)
	if fe != nil {
		errs.Add(fe.Field, "%s", fe.Message)
		return ""
	}
	return roster.RedactURL(u)
}

func checkIRC(cfg *roster.WebhookConfig, secrets roster.SecretFields, insecure bool, errs *roster.FieldErrors) string {
	c := cfg.IRC
	if c == nil {
		errs.Add("irc", "is required for an irc target (server, nick, channel)")
		return ""
	}
	host := checkHostPort("irc.server", c.Server, errs)
	if !c.TLS && !insecure && host != "" && !roster.IsLoopbackHost(host) {
		errs.Add("irc.tls", "is required to a server other than the loopback (or set allow_insecure)")
	}
	if len(c.TLSServerName) > maxHostLen {
		errs.Add("irc.tls_server_name", "must be at most %d characters", maxHostLen)
	}
	switch {
	case c.Nick == "":
		errs.Add("irc.nick", "is required")
	case len(c.Nick) > maxIRCNickLen:
		errs.Add("irc.nick", "must be at most %d characters (many servers allow only 9)", maxIRCNickLen)
	case !ircNick.MatchString(c.Nick):
		errs.Add("irc.nick", "must start with a letter or one of []\\`_^{|} and hold only those, digits and -")
	}
	if !ircChannel.MatchString(c.Channel) {
		errs.Add("irc.channel", "must be #name or &name (at most 50 characters, no spaces, commas or ^G)")
	}
	if k := secrets[FieldChannelKey].Reveal(); strings.ContainsAny(k, " ,") {
		errs.Add("irc.channel_key", "must not contain spaces or commas")
	}
	scheme := "ircs"
	if !c.TLS {
		scheme = "irc"
	}
	return scheme + "://" + c.Server + "/" + c.Channel
}

func checkEmail(cfg *roster.WebhookConfig, secrets roster.SecretFields, errs *roster.FieldErrors) string {
	c := cfg.Email
	if c == nil {
		errs.Add("email", "is required for an email target (host, from, to)")
		return ""
	}
	c.Security = orDefault(c.Security, roster.EmailSTARTTLS)
	switch c.Security {
	case roster.EmailSTARTTLS:
		c.Port = orDefault(c.Port, defaultSMTPPort)
	case roster.EmailTLS:
		c.Port = orDefault(c.Port, 465)
	case roster.EmailNone:
		c.Port = orDefault(c.Port, 25)
		if secrets[FieldPassword] != "" {
			// net/smtp would send the password in clear to the loopback.
			errs.Add("email.security", "none sends in clear: Roster never sends a password without TLS (use starttls or tls)")
		}
	default:
		errs.Add("email.security", "must be starttls, tls or none")
		c.Port = orDefault(c.Port, defaultSMTPPort)
	}
	switch {
	case c.Host == "":
		errs.Add("email.host", "is required")
	case len(c.Host) > maxHostLen || strings.ContainsAny(c.Host, " /:\r\n"):
		errs.Add("email.host", "must be a host name or address (the port goes in email.port)")
	}
	if c.Port < 1 || c.Port > 65535 {
		errs.Add("email.port", "must be 1 to 65535")
	}
	if len(c.TLSServerName) > maxHostLen {
		errs.Add("email.tls_server_name", "must be at most %d characters", maxHostLen)
	}
	checkAddress("email.from", c.From, errs)
	if len(c.To) == 0 || len(c.To) > maxRecipients {
		errs.Add("email.to", "give 1 to %d recipients", maxRecipients)
	}
	for i, to := range c.To {
		checkAddress("email.to["+strconv.Itoa(i)+"]", to, errs)
	}
	if (c.Username == "") != (secrets[FieldPassword] == "") {
		errs.Add("email.username", "and email.password go together (both for SMTP AUTH, or neither)")
	}
	if len(c.Username) > maxUsernameLen*4 || strings.ContainsAny(c.Username, "\r\n") {
		errs.Add("email.username", "must be one line of at most %d characters", maxUsernameLen*4)
	}
	if len(c.SubjectPrefix) > maxSubjectLen || strings.ContainsAny(c.SubjectPrefix, "\r\n") {
		errs.Add("email.subject_prefix", "must be one line of at most %d characters", maxSubjectLen)
	}
	n := "recipients"
	if len(c.To) == 1 {
		n = "recipient"
	}
	return "smtp+" + string(c.Security) + "://" + net.JoinHostPort(c.Host, strconv.Itoa(c.Port)) + " → " + strconv.Itoa(len(c.To)) + " " + n
}

func checkPagerDuty(cfg *roster.WebhookConfig, secrets roster.SecretFields, insecure bool, errs *roster.FieldErrors) string {
	if cfg.PagerDuty == nil {
		cfg.PagerDuty = &roster.PagerDutySettings{}
	}
	c := cfg.PagerDuty
	c.SeverityFailed = orDefault(c.SeverityFailed, "error")
	c.SeverityPartial = orDefault(c.SeverityPartial, "warning")
	for field, v := range map[string]string{"pagerduty.severity_failed": c.SeverityFailed, "pagerduty.severity_partial": c.SeverityPartial} {
		if !slices.Contains(pdSeverity, v) {
			errs.Add(field, "must be one of %s", strings.Join(pdSeverity, ", "))
		}
	}
	switch key := secrets[FieldRoutingKey].Reveal(); {
	case key == "":
		errs.Add("pagerduty.routing_key", "is required (the integration key of a PagerDuty Events API v2 service)")
	case strings.ContainsAny(key, " \t/?#"):
		errs.Add("pagerduty.routing_key", "must be an Events API v2 integration key (letters and digits)")
	}
	display := "pagerduty events v2"
	if c.URL == "" {
		return display
	}
	u, fe := roster.ParseWebhookURL("pagerduty.url", c.URL, insecure)
	if fe != nil {
		errs.Add(fe.Field, "%s", fe.Message)
		return display
	}
	// Not a secret (the key goes in the body), but only the host is shown.
	return display + " at " + roster.RedactURL(u)
}

// checkHostPort checks host:port and returns the host.
func checkHostPort(field, hostport string, errs *roster.FieldErrors) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil || host == "" || len(host) > maxHostLen {
		errs.Add(field, "must be host:port, e.g. irc.example.org:6697")
		return ""
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		errs.Add(field, "has a port that is not 1 to 65535")
	}
	return host
}

func checkAddress(field, addr string, errs *roster.FieldErrors) {
	a, err := mail.ParseAddress(addr)
	switch {
	case addr == "":
		errs.Add(field, "is required")
	case len(addr) > maxAddressLen || err != nil || a.Address != addr:
		errs.Add(field, "must be a bare email address (user@example.org)")
	}
}
