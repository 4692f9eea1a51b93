package notify

import (
	"bufio"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// TestSMTPNeverAuthsInClear plays a server on the loopback's name that
// offers AUTH but no STARTTLS: net/smtp's PlainAuth would send the password
// in clear to "127.0.0.1", so Roster must refuse before it does.
func TestSMTPNeverAuthsInClear(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	got := make(chan string, 100)
	go func() {
		defer server.Close()
		defer close(got)
		server.SetDeadline(time.Now().Add(5 * time.Second))
		r := bufio.NewReader(server)
		server.Write([]byte("220 mail.test ESMTP\r\n"))
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			got <- strings.TrimSpace(line)
			switch cmd := strings.ToUpper(strings.Fields(line + " x")[0]); cmd {
			case "EHLO":
				server.Write([]byte("250-mail.test\r\n250-AUTH PLAIN LOGIN\r\n250 8BITMIME\r\n"))
			case "QUIT":
				server.Write([]byte("221 bye\r\n"))
				return
			default:
				server.Write([]byte("250 ok\r\n"))
			}
		}
	}()
	s := &smtpSender{timeout: 5 * time.Second}
	cfg := &roster.EmailSettings{Host: "127.0.0.1", Port: 25, Security: roster.EmailNone, From: "a@example.test", To: []string{"b@example.test"}, Username: "roster"}
	err := s.session(client, cfg, "PASSWORD-IN-CLEAR", &Event{ID: "x", Event: roster.EventSyncFailed})
	if err != errNoTLSAuth {
		t.Fatalf("session = %v, want the refusal to AUTH without TLS", err)
	}
	a := smtpAttempt(err, time.Second, nil)
	if a.res != permanent || !strings.Contains(a.msg, "without TLS") {
		t.Errorf("attempt = %+v, want permanent", a)
	}
	client.Close()
	for line := range got {
		if strings.HasPrefix(strings.ToUpper(line), "AUTH") || strings.Contains(line, "PASSWORD") {
			t.Fatalf("the server got %q", line)
		}
	}
}
