package gitops

import (
	"encoding/json"
	"reflect"
	"slices"
)

// The settings of the per-type maps as the server fills them in, so that
// a document that leaves a default out matches what the server shows.
func (c WebhookIRC) normal() WebhookIRC {
	c.ServerPassword, c.NickServPassword, c.ChannelKey = nil, nil, nil
	if c.TLS == nil {
		c.TLS = new(bool)
		*c.TLS = true
	}
	return c
}

func (c WebhookEmail) normal() WebhookEmail {
	c.Password = nil
	if c.Security == "" {
		c.Security = "starttls"
	}
	if c.Port == 0 {
		c.Port = map[string]int{"starttls": 587, "tls": 465, "none": 25}[c.Security]
	}
	return c
}

func (c WebhookPagerDuty) normal() WebhookPagerDuty {
	c.RoutingKey = nil
	if c.SeverityFailed == "" {
		c.SeverityFailed = "error"
	}
	if c.SeverityPartial == "" {
		c.SeverityPartial = "warning"
	}
	return c
}

// settings is the per-type map of w as the API takes it, without secrets,
// by its key (irc, email, pagerduty); nil for the other types.
func (w *Webhook) settings() (string, any) {
	switch {
	case w.IRC != nil:
		return "irc", w.IRC.normal()
	case w.Email != nil:
		return "email", w.Email.normal()
	case w.PagerDuty != nil:
		return "pagerduty", w.PagerDuty.normal()
	}
	return "", nil
}

// settings is the current target's per-type map, as settings gives it.
func (a *apiWebhook) settings() any {
	switch {
	case a.IRC != nil:
		return a.IRC.normal()
	case a.Email != nil:
		return a.Email.normal()
	case a.PagerDuty != nil:
		return a.PagerDuty.normal()
	}
	return nil
}

// settingsBody is a per-type map with its secrets, as a request body
// takes it.
func settingsBody(settings any, secrets map[string]string) map[string]any {
	out := map[string]any{}
	if b, err := json.Marshal(settings); err == nil {
		json.Unmarshal(b, &out)
	}
	for k, v := range secrets {
		out[k] = v
	}
	return out
}

// sameSettings compares the non-secret per-type settings.
func sameSettings(want, have any) bool { return reflect.DeepEqual(want, have) }

// secretsChanged lists the secrets an update must send: those declared
// but not stored (or all declared with update), and "" for those stored
// but no longer declared.
func secretsChanged(declared map[string]*Value, stored []string, update bool) (send []string, remove []string) {
	for name := range declared {
		if update || !slices.Contains(stored, name) {
			send = append(send, name)
		}
	}
	for _, name := range stored {
		if _, ok := declared[name]; !ok {
			remove = append(remove, name)
		}
	}
	slices.Sort(send)
	slices.Sort(remove)
	return send, remove
}
