package forward

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster"
)

// sdID names Roster's structured data element. 32473 is the enterprise
// number RFC 5612 sets aside for documentation, used until Roster has one
// of its own.
const sdID = "roster@32473"

// maxSyslogMessage is rsyslog's default maxMessageSize: a longer message
// would be cut by the receiver, so it is not sent.
const maxSyslogMessage = 8 << 10

// Syslog severities (RFC 5424 §6.2.1).
const (
	sevErr     = 3
	sevWarning = 4
	sevNotice  = 5
	sevInfo    = 6
	sevDebug   = 7
)

// syslogTransport writes RFC 5424 messages: over TCP and TLS each framed by
// octet counting (RFC 6587 §3.4.1), over UDP one per datagram. It keeps one
// connection and dials again after an error.
type syslogTransport struct {
	network  string // tcp, tls, udp
	address  string
	facility int
	appName  string
	hostname string
	tls      *tls.Config
	conn     net.Conn
}

func newSyslog(s *roster.EventSink, node string) (*syslogTransport, error) {
	c := s.Config
	t := &syslogTransport{network: c.Transport, address: c.Address, facility: roster.SyslogFacility(c.Facility),
		appName: c.AppName, hostname: syslogName(node, 255)}
	if t.network == "" {
		t.network = "tcp"
	}
	if t.appName == "" {
		t.appName = "roster"
	}
	if t.network == "tls" {
		t.tls = &tls.Config{MinVersion: tls.VersionTLS12, ServerName: c.TLSServerName}
		if t.tls.ServerName == "" {
			t.tls.ServerName, _, _ = net.SplitHostPort(c.Address)
		}
		if c.TLSCA != "" {
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM([]byte(c.TLSCA)) {
				return nil, roster.Invalid(roster.FieldError{Field: "tls_ca", Message: "holds no PEM certificate"})
			}
			t.tls.RootCAs = pool
		}
	}
	return t, nil
}

func (t *syslogTransport) dial(ctx context.Context) error {
	d := &net.Dialer{Timeout: 10 * time.Second}
	var err error
	switch t.network {
	case "tls":
		t.conn, err = (&tls.Dialer{NetDialer: d, Config: t.tls}).DialContext(ctx, "tcp", t.address)
	default:
		t.conn, err = d.DialContext(ctx, t.network, t.address)
	}
	if err != nil {
		return fmt.Errorf("connect to syslog %s://%s: %w", t.network, t.address, err)
	}
	return nil
}

func (t *syslogTransport) send(ctx context.Context, batch []*Event) (int, error) {
	var buf []byte
	var frames [][]byte
	rejected := 0
	for _, e := range batch {
		m := t.message(e)
		if len(m) > maxSyslogMessage {
			rejected++
			continue
		}
		if t.network == "udp" {
			frames = append(frames, m)
			continue
		}
		buf = strconv.AppendInt(buf, int64(len(m)), 10)
		buf = append(buf, ' ')
		buf = append(buf, m...)
	}
	if buf != nil {
		frames = append(frames, buf)
	}
	if len(frames) == 0 {
		return rejected, nil
	}
	if t.conn == nil {
		if err := t.dial(ctx); err != nil {
			return rejected, err
		}
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(10 * time.Second)
	}
	_ = t.conn.SetWriteDeadline(deadline)
	// A cancel (the runner stopping) ends a write blocked on a full
	// socket buffer at once, not at the deadline.
	conn := t.conn
	defer context.AfterFunc(ctx, func() { _ = conn.SetWriteDeadline(time.Now()) })()
	for i, f := range frames {
		if _, err := t.conn.Write(f); err != nil {
			t.close()
			err = fmt.Errorf("write to syslog %s://%s: %w", t.network, t.address, err)
			if t.network == "udp" { // no retry: this datagram and the rest are lost
				return rejected + len(frames) - i, permanent(err)
			}
			return rejected, err
		}
	}
	if t.network != "udp" {
		// A peer that closed the connection shows it only on a later
		// write; a read with a past deadline finds it now, so the batch
		// is sent again rather than lost.
		if err := peerClosed(t.conn); err != nil {
			t.close()
			return rejected, fmt.Errorf("syslog %s://%s closed the connection: %w", t.network, t.address, err)
		}
	}
	return rejected, nil
}

// peerClosed reports an EOF or error waiting on conn (syslog receivers
// never write).
func peerClosed(conn net.Conn) error {
	_ = conn.SetReadDeadline(time.Now().Add(time.Millisecond))
	var b [1]byte
	_, err := conn.Read(b[:])
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return nil
	}
	if err == nil {
		return nil
	}
	return err
}

func (t *syslogTransport) close() {
	if t.conn != nil {
		t.conn.Close()
		t.conn = nil
	}
}

// message is the RFC 5424 message of e:
// <PRI>1 TIMESTAMP HOSTNAME APP-NAME PROCID MSGID [roster@32473 …] JSON
func (t *syslogTransport) message(e *Event) []byte {
	var b strings.Builder
	b.WriteString("<")
	b.WriteString(strconv.Itoa(t.facility*8 + severity(e)))
	b.WriteString(">1 ")
	b.WriteString(e.Time.UTC().Format("2006-01-02T15:04:05.000000Z"))
	b.WriteByte(' ')
	b.WriteString(orNil(t.hostname))
	b.WriteByte(' ')
	b.WriteString(t.appName)
	b.WriteByte(' ')
	b.WriteString(strconv.Itoa(os.Getpid()))
	b.WriteByte(' ')
	b.WriteString(syslogName(e.Type, 32))
	b.WriteByte(' ')
	writeSD(&b, sdParams(e))
	b.WriteByte(' ')
	b.Write(e.JSON())
	return []byte(b.String())
}

func orNil(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// syslogName is s as an RFC 5424 header field: printable US-ASCII without
// spaces, at most n bytes.
func syslogName(s string, n int) string {
	b := []byte(s)
	for i, c := range b {
		if c <= ' ' || c > '~' {
			b[i] = '_'
		}
	}
	if len(b) > n {
		b = b[:n]
	}
	return string(b)
}

type sdParam struct{ name, value string }

// sdParams are the key fields of e, so a receiver can filter without
// parsing the JSON.
func sdParams(e *Event) []sdParam {
	var p []sdParam
	add := func(name, value string) {
		if value != "" {
			p = append(p, sdParam{name, value})
		}
	}
	add("id", e.ID)
	switch {
	case e.Audit != nil:
		add("action", e.Audit.Action)
		add("outcome", e.Audit.Outcome)
		add("actor", e.Audit.Actor)
		add("target_type", e.Audit.TargetType)
		add("target_id", e.Audit.TargetID)
		add("reason", e.Audit.Reason)
	case e.Sync != nil:
		add("run_id", e.Sync.RunID)
		add("source_id", e.Sync.SourceID)
		add("status", e.Sync.Status)
	case e.Log != nil:
		add("level", e.Log.Level)
		add("component", e.Log.Component)
	}
	return p
}

// writeSD writes one SD-ELEMENT; in a PARAM-VALUE '"', '\' and ']' are
// escaped with a backslash (RFC 5424 §6.3.3), and line breaks become
// spaces, so a message stays one line for receivers that split on them.
func writeSD(b *strings.Builder, params []sdParam) {
	b.WriteString("[" + sdID)
	r := strings.NewReplacer(`"`, `\"`, `\`, `\\`, `]`, `\]`, "\n", " ", "\r", " ")
	for _, p := range params {
		b.WriteString(" " + p.name + `="`)
		b.WriteString(r.Replace(p.value))
		b.WriteString(`"`)
	}
	b.WriteString("]")
}

// severity of e: failures and refusals stand out from the rest.
func severity(e *Event) int {
	switch {
	case e.Audit != nil && e.Audit.Outcome == string(roster.AuditAllowed):
		return sevInfo
	case e.Audit != nil:
		return sevNotice
	case e.Sync != nil && (e.Sync.Status == string(roster.SyncFailed)):
		return sevErr
	case e.Sync != nil && e.Sync.Status == string(roster.SyncPartial):
		return sevWarning
	case e.Log != nil:
		switch e.Log.Level {
		case "ERROR":
			return sevErr
		case "WARN":
			return sevWarning
		case "DEBUG":
			return sevDebug
		}
	}
	return sevInfo
}
