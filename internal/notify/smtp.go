package notify

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/smtp"
	"net/textproto"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// smtpSender sends one email per delivery with net/smtp: implicit TLS, or
// STARTTLS (required unless the target says security: none), AUTH PLAIN
// only over TLS, one message to every recipient.
type smtpSender struct {
	tls     *tls.Config
	timeout time.Duration
	// hostname is what Roster says in EHLO (default "localhost", as
	// net/smtp does).
	hostname string
}

// errNoTLSAuth is Roster's own refusal: net/smtp's PlainAuth sends the
// password in clear to a server named localhost or a loopback address.
var errNoTLSAuth = errors.New("refusing to send the SMTP password over a connection without TLS")

func (s *smtpSender) send(ctx context.Context, d *delivery) attempt {
	c := d.hook.Config.Email
	if c == nil {
		return attempt{res: permanent, msg: "the target has no email settings"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := s.dial(ctx, c)
	if err != nil {
		return attempt{res: retryable, msg: "smtp: " + describe(err, s.timeout, d.scrub)}
	}
	defer conn.Close()
	defer bindConn(ctx, conn)()
	err = s.session(conn, c, d.secrets[FieldPassword], d.event)
	return smtpAttempt(err, s.timeout, d.scrub)
}

func (s *smtpSender) tlsConfig(c *roster.EmailSettings) *tls.Config {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.tls != nil {
		cfg = s.tls.Clone()
	}
	cfg.ServerName = orDefault(c.TLSServerName, c.Host)
	return cfg
}

func (s *smtpSender) dial(ctx context.Context, c *roster.EmailSettings) (net.Conn, error) {
	addr := net.JoinHostPort(c.Host, strconv.Itoa(c.Port))
	if c.Security == roster.EmailTLS {
		dialer := tls.Dialer{Config: s.tlsConfig(c)}
		return dialer.DialContext(ctx, "tcp", addr)
	}
	var dialer net.Dialer
	return dialer.DialContext(ctx, "tcp", addr)
}

// session speaks SMTP over conn: EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA.
func (s *smtpSender) session(conn net.Conn, c *roster.EmailSettings, password roster.Secret, e *Event) error {
	_, isTLS := conn.(*tls.Conn)
	client, err := smtp.NewClient(&boundedConn{Conn: conn, left: smtpMaxRead}, c.Host)
	if err != nil {
		return err
	}
	defer client.Close()
	if err := client.Hello(orDefault(s.hostname, "localhost")); err != nil {
		return err
	}
	if c.Security == roster.EmailSTARTTLS {
		if ok, _ := client.Extension("STARTTLS"); !ok {
			return &smtpRefusal{msg: "the server offers no STARTTLS (security: starttls requires it)"}
		}
		if err := client.StartTLS(s.tlsConfig(c)); err != nil {
			return err
		}
		isTLS = true
	}
	if password != "" {
		if !isTLS {
			return errNoTLSAuth
		}
		if ok, _ := client.Extension("AUTH"); !ok {
			return &smtpRefusal{msg: "the server offers no AUTH, but the target has a password"}
		}
		if err := client.Auth(smtp.PlainAuth("", c.Username, password.Reveal(), c.Host)); err != nil {
			return err
		}
	}
	if err := client.Mail(c.From); err != nil {
		return err
	}
	for _, to := range c.To {
		if err := client.Rcpt(to); err != nil {
			return err
		}
	}
	wc, err := client.Data()
	if err != nil {
		return err
	}
	if _, err := wc.Write(emailMessage(c, e, time.Now())); err != nil {
		return err
	}
	if err := wc.Close(); err != nil {
		return err
	}
	// The server took the message: a failed QUIT is no reason to send it
	// again.
	_ = client.Quit()
	return nil
}

// smtpMaxRead bounds what one session reads from the server: replies are
// short lines (net/smtp bounds neither a line nor their number), so a
// server that sends without end ends its session, not the memory.
const smtpMaxRead = 1 << 20

// boundedConn is a connection that reads at most left bytes more.
type boundedConn struct {
	net.Conn
	left int64
}

func (c *boundedConn) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, fmt.Errorf("the SMTP server sent more than %d bytes of replies", smtpMaxRead)
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.Conn.Read(p)
	c.left -= int64(n)
	return n, err
}

// smtpRefusal is a permanent failure found by Roster, not by the server.
type smtpRefusal struct{ msg string }

func (e *smtpRefusal) Error() string { return e.msg }

// smtpAttempt classifies a session's end: reply 4xx and network errors
// retry; 5xx, Roster's own refusals and TLS failures are permanent.
func smtpAttempt(err error, timeout time.Duration, scrub scrubber) attempt {
	var (
		tp      *textproto.Error
		refusal *smtpRefusal
	)
	switch {
	case err == nil:
		return attempt{code: 250, res: delivered}
	case errors.Is(err, errNoTLSAuth):
		return attempt{res: permanent, msg: "smtp: " + err.Error()}
	case errors.As(err, &refusal):
		return attempt{res: permanent, msg: "smtp: " + refusal.msg}
	case errors.As(err, &tp):
		msg := short(scrub.clean(fmt.Sprintf("smtp: the server answered %d %s", tp.Code, tp.Msg)))
		if tp.Code >= 500 {
			return attempt{code: tp.Code, res: permanent, msg: msg}
		}
		return attempt{code: tp.Code, res: retryable, msg: msg}
	}
	return attempt{res: retryable, msg: "smtp: " + describe(err, timeout, scrub)}
}

// emailMessage is the whole message: headers (no CR or LF from a user can
// reach one) and a text/plain UTF-8 body with the run's link.
func emailMessage(c *roster.EmailSettings, e *Event, now time.Time) []byte {
	m := e.message()
	oneLine := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	subject := oneLine(orDefault(c.SubjectPrefix, "[Roster]") + " " + m.Title)
	var b strings.Builder
	header := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	header("From", c.From)
	header("To", strings.Join(c.To, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", "<"+e.ID+"@roster>")
	header("Auto-Submitted", "auto-generated")
	header("MIME-Version", "1.0")
	header("Content-Type", "text/plain; charset=utf-8")
	header("Content-Transfer-Encoding", "8bit")
	b.WriteString("\r\n")
	for line := range strings.SplitSeq(m.text(), "\n") {
		// A line of one "." would end DATA early in a lax server; the
		// client's dot-stuffing handles it, but CRLF must be ours.
		b.WriteString(line + "\r\n")
	}
	return []byte(b.String())
}
