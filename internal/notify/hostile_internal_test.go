package notify

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// hostilePeer answers a client on a pipe with what send writes, whatever
// it is asked, and reads what the client writes until it goes.
func hostilePeer(t *testing.T, send func(net.Conn)) net.Conn {
	t.Helper()
	client, server := net.Pipe()
	t.Cleanup(func() { client.Close() })
	server.SetDeadline(time.Now().Add(10 * time.Second))
	go send(server)
	go func() { // what the client writes, until it goes
		defer server.Close()
		r := bufio.NewReader(server)
		for {
			if _, err := r.ReadString('\n'); err != nil {
				return
			}
		}
	}()
	client.SetDeadline(time.Now().Add(10 * time.Second))
	return client
}

// endless writes chunks of x without a line end until the peer goes.
func endless(c net.Conn) {
	chunk := []byte(strings.Repeat("x", 64<<10))
	for {
		if _, err := c.Write(chunk); err != nil {
			return
		}
	}
}

// TestIRCHostileServer: a line without end is an error after
// ircMaxReply bytes, not memory filled; a numeric without parameters is
// an error, not a panic.
func TestIRCHostileServer(t *testing.T) {
	conn := hostilePeer(t, endless)
	sess := &ircSession{conn: conn, r: bufio.NewReaderSize(conn, ircMaxReply)}
	if err := sess.register("roster", ""); err == nil || !strings.Contains(err.Error(), "longer than") {
		t.Fatalf("register against an endless line = %v, want a line too long", err)
	}

	conn = hostilePeer(t, func(c net.Conn) { c.Write([]byte(":srv 001 roster :hi\r\n:srv 475\r\n:srv 999\r\n")) })
	sess = &ircSession{conn: conn, r: bufio.NewReaderSize(conn, ircMaxReply)}
	if err := sess.register("roster", ""); err != nil {
		t.Fatal(err)
	}
	err := sess.join("#ops", "")
	if ie, ok := err.(*ircError); !ok || ie.code != 475 || !ie.permanent {
		t.Fatalf("join answered by a bare 475 = %v, want the permanent 475", err)
	}
}

// TestSMTPHostileServer: a reply without end ends the session after
// smtpMaxRead bytes.
func TestSMTPHostileServer(t *testing.T) {
	conn := hostilePeer(t, func(c net.Conn) {
		c.Write([]byte("220-"))
		endless(c)
	})
	s := &smtpSender{timeout: 5 * time.Second}
	cfg := &roster.EmailSettings{Host: "mail.test", Port: 25, Security: roster.EmailNone, From: "a@example.test", To: []string{"b@example.test"}}
	err := s.session(conn, cfg, "", &Event{ID: "x", Event: roster.EventSyncFailed})
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("session against an endless reply = %v, want the read bound", err)
	}
}

// TestIRCFallbackTooLong: a taken nick whose fallback the server refuses
// as too long is worth retrying (the nick may be free later), not a
// permanent fault of irc.nick.
func TestIRCFallbackTooLong(t *testing.T) {
	conn := hostilePeer(t, func(c net.Conn) {
		c.Write([]byte(":srv 433 * roster123 :Nickname already in use\r\n:srv 432 * roster123_ :Nickname too long, max. 9 characters\r\n"))
	})
	sess := &ircSession{conn: conn, r: bufio.NewReaderSize(conn, ircMaxReply)}
	err := sess.register("roster123", "")
	if ie, ok := err.(*ircError); !ok || ie.code != 432 || ie.permanent || !strings.Contains(ie.msg, "in use") {
		t.Fatalf("register = %#v, want a retryable 432 that says the nick is in use", err)
	}
}
