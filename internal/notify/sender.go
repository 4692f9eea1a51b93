package notify

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"time"

	"github.com/rosterhq/roster"
)

// eventTest is the synthetic event of "send test event".
const eventTest roster.WebhookEvent = "test"

// delivery is one event on its way to one target.
type delivery struct {
	hook    *roster.Webhook
	secrets roster.SecretFields
	event   *Event
	// prevFailed: the source's run before this one failed (PagerDuty
	// resolves only then).
	prevFailed bool
	scrub      scrubber
}

// attempt is how one try to deliver ended. msg is scrubbed of secrets.
type attempt struct {
	// code is the protocol's reply: HTTP status, SMTP reply code or IRC
	// numeric; 0 when none came.
	code       int
	res        result
	msg        string
	retryAfter time.Duration
}

// sender delivers to one kind of target. The Worker keeps retries,
// uniqueness and the delivery log; a sender only tries once.
type sender interface {
	send(ctx context.Context, d *delivery) attempt
}

type senderFunc func(ctx context.Context, d *delivery) attempt

func (f senderFunc) send(ctx context.Context, d *delivery) attempt { return f(ctx, d) }

// sender returns the sender of a type.
func (w *Worker) sender(t roster.WebhookType) sender {
	switch t {
	case roster.TypeIRC:
		return &ircSender{tls: w.opts.TLSConfig, timeout: w.opts.Timeout}
	case roster.TypeEmail:
		return &smtpSender{tls: w.opts.TLSConfig, timeout: w.opts.Timeout}
	case roster.TypePagerDuty:
		return senderFunc(w.sendPagerDuty)
	}
	return senderFunc(w.sendHTTP)
}

// newScrubberFor removes every secret of a target from text.
func newScrubberFor(hook *roster.Webhook, secrets roster.SecretFields) scrubber {
	var s scrubber
	for name, v := range secrets {
		if name == fieldURL {
			if u, fe := roster.ParseWebhookURL("url", v.Reveal(), true); fe == nil {
				s = append(s, newScrubber(u, "")...)
			}
		}
		s = append(s, newScrubber(nil, v.Reveal())...)
	}
	return s.sorted()
}

func (w *Worker) sendHTTP(ctx context.Context, d *delivery) attempt {
	body, err := d.event.Body(d.hook.Type, d.hook.Config)
	if err != nil {
		return attempt{res: permanent, msg: err.Error()}
	}
	return w.post(ctx, d, d.secrets[fieldURL].Reveal(), body)
}

func (w *Worker) sendPagerDuty(ctx context.Context, d *delivery) attempt {
	cfg := orDefault(d.hook.Config.PagerDuty, &roster.PagerDutySettings{})
	ev := d.event.pagerDuty(d.secrets[FieldRoutingKey], cfg, d.prevFailed)
	if ev == nil {
		return attempt{res: nothing, msg: "nothing to tell PagerDuty: no alert of this source is open"}
	}
	body, err := json.Marshal(ev)
	if err != nil {
		return attempt{res: permanent, msg: err.Error()}
	}
	target := orDefault(cfg.URL, roster.DefaultPagerDutyURL)
	a := w.post(ctx, d, target, body)
	if d.event.Event != eventTest || a.res != delivered {
		return a
	}
	// A test leaves no incident open: its alert is resolved at once.
	resolve, err := json.Marshal(&PagerDutyEvent{RoutingKey: ev.RoutingKey, DedupKey: ev.DedupKey, EventAction: "resolve"})
	if err != nil {
		return attempt{res: permanent, msg: err.Error()}
	}
	if r := w.post(ctx, d, target, resolve); r.res != delivered {
		r.msg = "the test alert was sent, but resolving it failed (resolve it in PagerDuty): " + r.msg
		return r
	}
	return a
}

// post sends body and classifies the answer: 2xx delivered; 408, 429, 5xx
// and network errors retry; anything else is permanent.
func (w *Worker) post(ctx context.Context, d *delivery, target string, body []byte) attempt {
	status, retryAfter, err := w.postJSON(ctx, target, d, body)
	switch {
	case err != nil:
		return attempt{res: retryable, msg: describe(err, w.opts.Timeout, d.scrub)}
	case status >= 200 && status < 300:
		return attempt{code: status, res: delivered}
	case status == http.StatusTooManyRequests || status == http.StatusRequestTimeout || status >= 500:
		return attempt{code: status, res: retryable, msg: statusError(status), retryAfter: retryAfter}
	case status >= 300 && status < 400:
		return attempt{code: status, res: permanent, msg: statusError(status) + ": redirects are not followed; give the final URL"}
	}
	return attempt{code: status, res: permanent, msg: statusError(status)}
}

// bindConn makes conn's reads and writes end when ctx does (its deadline,
// or a cancel); call what it returns when done with conn.
func bindConn(ctx context.Context, conn net.Conn) func() bool {
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	return context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
}

// protocolOf names the protocol whose reply codes a type's delivery log
// records.
func protocolOf(t roster.WebhookType) string {
	switch t {
	case roster.TypeIRC:
		return "irc"
	case roster.TypeEmail:
		return "smtp"
	}
	return "http"
}
