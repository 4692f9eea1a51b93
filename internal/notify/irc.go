package notify

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// ircSender posts to an IRC channel over one short connection per
// delivery: PASS, NICK (nick_, nick__ when taken), USER, wait for 001,
// IDENTIFY to NickServ, JOIN, PRIVMSG (or NOTICE), QUIT. Sync events come
// about once a minute at most, so staying connected would buy nothing.
type ircSender struct {
	tls     *tls.Config
	timeout time.Duration
}

// Limits of what is sent: a few lines, each well inside IRC's 512 bytes.
const (
	ircMaxLines    = 3
	ircMaxLineLen  = 400
	ircNickServMax = 5 * time.Second
	ircMaxReply    = 4 << 10
)

// ircError is a failure with the numeric that caused it.
type ircError struct {
	code      int
	permanent bool
	msg       string
}

func (e *ircError) Error() string { return e.msg }

func (s *ircSender) send(ctx context.Context, d *delivery) attempt {
	c := d.hook.Config.IRC
	if c == nil {
		return attempt{res: permanent, msg: "the target has no IRC settings"}
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	conn, err := s.dial(ctx, c)
	if err != nil {
		return attempt{res: retryable, msg: "irc: " + describe(err, s.timeout, d.scrub)}
	}
	defer conn.Close()
	defer bindConn(ctx, conn)()
	sess := &ircSession{conn: conn, r: bufio.NewReaderSize(conn, ircMaxReply)}
	err = sess.deliver(c, d.secrets, d.event.message())
	var ie *ircError
	switch {
	case err == nil:
		return attempt{res: delivered}
	case errors.As(err, &ie) && ie.permanent:
		return attempt{code: ie.code, res: permanent, msg: short(d.scrub.clean("irc: " + ie.msg))}
	case errors.As(err, &ie):
		return attempt{code: ie.code, res: retryable, msg: short(d.scrub.clean("irc: " + ie.msg))}
	}
	return attempt{res: retryable, msg: "irc: " + describe(err, s.timeout, d.scrub)}
}

func (s *ircSender) dial(ctx context.Context, c *roster.IRCSettings) (net.Conn, error) {
	if !c.TLS {
		var dialer net.Dialer
		return dialer.DialContext(ctx, "tcp", c.Server)
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if s.tls != nil {
		cfg = s.tls.Clone()
	}
	host, _, _ := net.SplitHostPort(c.Server)
	cfg.ServerName = orDefault(c.TLSServerName, host)
	dialer := tls.Dialer{Config: cfg}
	return dialer.DialContext(ctx, "tcp", c.Server)
}

// ircSession is one connection's conversation.
type ircSession struct {
	conn net.Conn
	r    *bufio.Reader
	nick string
}

// ircLine is a parsed server line.
type ircLine struct {
	prefix  string
	command string
	params  []string
}

func (l ircLine) last() string {
	if len(l.params) == 0 {
		return ""
	}
	return l.params[len(l.params)-1]
}

func parseIRC(raw string) ircLine {
	var l ircLine
	raw = strings.TrimRight(raw, "\r\n")
	if strings.HasPrefix(raw, ":") {
		l.prefix, raw, _ = strings.Cut(raw[1:], " ")
	}
	for raw != "" {
		if strings.HasPrefix(raw, ":") {
			l.params = append(l.params, raw[1:])
			break
		}
		var p string
		p, raw, _ = strings.Cut(raw, " ")
		if l.command == "" {
			l.command = strings.ToUpper(p)
		} else if p != "" {
			l.params = append(l.params, p)
		}
	}
	return l
}

// text is a numeric's parameters after the target (the client's nick),
// if it has any.
func (l ircLine) text() string {
	if len(l.params) < 2 {
		return ""
	}
	return strings.Join(l.params[1:], " ")
}

func (s *ircSession) write(format string, args ...any) error {
	_, err := fmt.Fprintf(s.conn, format+"\r\n", args...)
	return err
}

// read returns the next line that is not a PING (which it answers). A
// line longer than ircMaxReply is an error: a server that never ends one
// does not fill memory.
func (s *ircSession) read() (ircLine, error) {
	for {
		raw, err := s.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			return ircLine{}, fmt.Errorf("the server sent a line longer than %d bytes", ircMaxReply)
		}
		if err != nil {
			return ircLine{}, err
		}
		l := parseIRC(string(raw))
		if l.command == "PING" {
			if err := s.write("PONG :%s", l.last()); err != nil {
				return l, err
			}
			continue
		}
		return l, nil
	}
}

func (s *ircSession) deliver(c *roster.IRCSettings, secrets roster.SecretFields, m *message) error {
	if err := s.register(c.Nick, secrets[FieldServerPassword]); err != nil {
		return err
	}
	if pw := secrets[FieldNickServPassword]; pw != "" {
		if err := s.identify(pw); err != nil {
			return err
		}
	}
	if err := s.join(c.Channel, secrets[FieldChannelKey]); err != nil {
		return err
	}
	verb := "PRIVMSG"
	if c.Notice {
		verb = "NOTICE"
	}
	for _, line := range ircLines(m) {
		if err := s.write("%s %s :%s", verb, c.Channel, line); err != nil {
			return err
		}
	}
	// QUIT and wait for the server to close (or ERROR), so the message is
	// handled before the connection goes: some servers drop what is
	// unread when a client vanishes. The lines are written: what goes
	// wrong from here is not worth sending them again.
	if err := s.write("QUIT :Roster notification sent"); err != nil {
		return nil
	}
	for {
		l, err := s.read()
		if err != nil || l.command == "ERROR" {
			return nil
		}
		if numericError(l) != nil {
			return nil
		}
	}
}

// register sends PASS, NICK and USER and waits for 001, trying nick_ and
// nick__ when the nick is taken.
func (s *ircSession) register(nick string, pass roster.Secret) error {
	if pass != "" {
		if err := s.write("PASS %s", pass.Reveal()); err != nil {
			return err
		}
	}
	s.nick = nick
	if err := s.write("NICK %s", nick); err != nil {
		return err
	}
	if err := s.write("USER roster 0 * :Roster notifications"); err != nil {
		return err
	}
	for tries := 0; ; {
		l, err := s.read()
		if err != nil {
			return err
		}
		switch l.command {
		case "001":
			return nil
		case "433", "436":
			if tries++; tries > 2 {
				return &ircError{code: 433, msg: fmt.Sprintf("nick %q and two fallbacks are in use", nick)}
			}
			s.nick += "_"
			if err := s.write("NICK %s", s.nick); err != nil {
				return err
			}
		case "432":
			if s.nick != nick {
				// The nick is taken and the server refuses the fallback
				// (too long by a character): the nick may be free later.
				return &ircError{code: 432, msg: fmt.Sprintf("nick %q is in use and the server refuses the fallback %q: %s", nick, s.nick, l.last())}
			}
			return &ircError{code: 432, permanent: true, msg: fmt.Sprintf("the server refuses nick %q: %s (check irc.nick against the server's NICKLEN)", nick, l.last())}
		case "464", "465":
			n, _ := strconv.Atoi(l.command)
			return &ircError{code: n, permanent: true, msg: "the server refused the connection (" + l.command + "): " + l.last()}
		case "ERROR":
			return &ircError{msg: "the server closed the connection: " + l.last()}
		}
	}
}

// identify tells NickServ the password and waits a little for its NOTICE;
// many networks answer nothing useful, so silence is not a failure.
func (s *ircSession) identify(pw roster.Secret) error {
	if err := s.write("PRIVMSG NickServ :IDENTIFY %s", pw.Reveal()); err != nil {
		return err
	}
	deadline, _ := s.conn.(interface{ SetReadDeadline(time.Time) error })
	deadline.SetReadDeadline(time.Now().Add(ircNickServMax))
	defer deadline.SetReadDeadline(time.Time{})
	for {
		l, err := s.read()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return nil
		}
		if err != nil {
			return err
		}
		if l.command == "NOTICE" && strings.HasPrefix(strings.ToLower(l.prefix), "nickserv!") {
			return nil
		}
	}
}

// join joins the channel and waits for the end of its names list (366).
func (s *ircSession) join(channel string, key roster.Secret) error {
	cmd := "JOIN " + channel
	if key != "" {
		cmd += " " + key.Reveal()
	}
	if err := s.write("%s", cmd); err != nil {
		return err
	}
	for {
		l, err := s.read()
		if err != nil {
			return err
		}
		if l.command == "366" {
			return nil
		}
		if err := numericError(l); err != nil {
			return err
		}
	}
}

// numericError turns the error numerics that matter into errors: 47x (ban,
// key, invite-only, full) and 403/405 are permanent.
func numericError(l ircLine) error {
	n, err := strconv.Atoi(l.command)
	if err != nil || n < 400 || n >= 600 {
		return nil
	}
	switch {
	case n >= 471 && n <= 477, n == 403, n == 405, n == 404:
		return &ircError{code: n, permanent: true, msg: fmt.Sprintf("the server refused (%d): %s", n, l.text())}
	case n == 421:
		return nil
	}
	return &ircError{code: n, msg: fmt.Sprintf("the server answered %d: %s", n, l.text())}
}

// ircLines is the message in at most ircMaxLines lines of at most
// ircMaxLineLen bytes, without line breaks.
func ircLines(m *message) []string {
	clean := func(s string) string { return strings.Join(strings.Fields(s), " ") }
	lines := []string{"Roster: " + clean(m.Title) + ": " + clean(m.Detail)}
	var where []string
	for _, f := range m.Fields {
		if f[0] == "Failed scope" {
			where = append(where, clean(f[1]))
		}
	}
	if len(where) > 0 {
		lines = append(lines, "Failed scopes: "+strings.Join(where, "; "))
	}
	if m.Link != "" {
		lines = append(lines, m.Link)
	}
	for i, l := range lines {
		lines[i] = truncateBytes(l, ircMaxLineLen)
	}
	return lines[:min(len(lines), ircMaxLines)]
}

// truncateBytes cuts s to at most n bytes on a rune boundary.
func truncateBytes(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n]
}
