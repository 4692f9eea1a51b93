package testenv

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/pkitest"
)

// NgircdBinEnv names the environment variable that points at ngircd.
const NgircdBinEnv = "ROSTER_NGIRCD_BIN"

// NgircdBinary finds ngircd: $ROSTER_NGIRCD_BIN, else /usr/sbin/ngircd
// (Debian package ngircd), else ngircd on PATH.
func NgircdBinary() (string, error) {
	return findBinary(NgircdBinEnv, "/usr/sbin/ngircd", "ngircd package", "ngircd")
}

// IRCServer is a running ngircd on 127.0.0.1 with a plain and a TLS port.
// Nicks are at most 9 characters (ngircd's default NICKLEN). ngircd has no
// services: FakeNickServ plays NickServ.
type IRCServer struct {
	Addr    string // 127.0.0.1:port, plain
	TLSAddr string // 127.0.0.1:port, TLS with a certificate for 127.0.0.1
	CAFile  string
	proc    *process
}

// IRC starts ngircd for the calling test and stops it when the test ends.
// It Needs ngircd (see NgircdBinary).
func IRC(t testing.TB) *IRCServer {
	t.Helper()
	return startTLSForTest(t, "ngircd", startIRC)
}

func startIRC(dir, caFile string, pair pkitest.Pair) (*IRCServer, error) {
	bin, err := NgircdBinary()
	if err != nil {
		return nil, unavailable("ngircd (Debian package ngircd)", "%v", err)
	}
	plain, err := freePort(false)
	if err != nil {
		return nil, err
	}
	secure, err := freePort(false)
	if err != nil {
		return nil, err
	}
	// Absolute paths (ngircd resolves them again on REHASH); no PidFile: as
	// root ngircd drops to nobody and could not write one in the temp dir.
	conf := filepath.Join(dir, "ngircd.conf")
	text := fmt.Sprintf(`[Global]
	Name = irc.roster.test
	Info = Roster test IRC server
	Listen = 127.0.0.1
	Ports = %d
	MotdPhrase = "roster test"
[Limits]
	PingTimeout = 120
	PongTimeout = 20
	MaxConnectionsIP = 0
[Options]
	PAM = no
	Ident = no
	DNS = no
[SSL]
	CertFile = %s
	KeyFile = %s
	Ports = %d
`, plain, pair.Cert, pair.Key, secure)
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return nil, err
	}
	// As root, ngircd reads its key and then runs as nobody.
	for _, f := range []string{dir, pair.Key, pair.Cert} {
		os.Chmod(f, 0o755)
	}
	proc, err := startProcess("ngircd", exec.Command(bin, "-n", "-f", conf), filepath.Join(dir, "ngircd.log"), syscall.SIGTERM, syscall.SIGKILL)
	if err != nil {
		return nil, err
	}
	s := &IRCServer{Addr: "127.0.0.1:" + strconv.Itoa(plain), TLSAddr: "127.0.0.1:" + strconv.Itoa(secure), CAFile: caFile, proc: proc}
	// Ready when a client registers (001).
	err = proc.ready(20*time.Second, func() error {
		c, err := s.connect("probe", 5*time.Second)
		if err == nil {
			c.Close()
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// Stop stops the server (a test of an outage may call it early).
func (s *IRCServer) Stop() { s.proc.stop(5 * time.Second) }

func (s *IRCServer) process() *process { return s.proc }

// IRCClient is a test's own client on the server: it reads what others
// send to it or to its channels.
type IRCClient struct {
	Nick  string
	conn  net.Conn
	lines chan string
	mu    sync.Mutex
}

// connect registers nick and starts reading lines.
func (s *IRCServer) connect(nick string, timeout time.Duration) (*IRCClient, error) {
	conn, err := net.DialTimeout("tcp", s.Addr, timeout)
	if err != nil {
		return nil, err
	}
	c := &IRCClient{Nick: nick, conn: conn, lines: make(chan string, 1000)}
	fmt.Fprintf(conn, "NICK %s\r\nUSER %s 0 * :test client\r\n", nick, nick)
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(timeout))
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			conn.Close()
			return nil, err
		}
		f := strings.Fields(line)
		if len(f) > 1 && f[0] == "PING" {
			c.Send("PONG " + f[1])
		}
		if len(f) > 1 && f[1] == "001" {
			break
		}
		if len(f) > 1 && f[1] >= "400" && f[1] < "600" && len(f[1]) == 3 {
			conn.Close()
			return nil, fmt.Errorf("registering %s: %s", nick, strings.TrimSpace(line))
		}
	}
	conn.SetReadDeadline(time.Time{})
	go c.read(r)
	return c, nil
}

func (c *IRCClient) read(r *bufio.Reader) {
	defer close(c.lines)
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		if rest, ok := strings.CutPrefix(line, "PING "); ok {
			c.Send("PONG " + rest)
			continue
		}
		select {
		case c.lines <- line:
		default: // a test that reads nothing does not block the reader
		}
	}
}

// Send writes one raw line.
func (c *IRCClient) Send(line string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.conn, "%s\r\n", line)
}

// Close quits.
func (c *IRCClient) Close() {
	c.Send("QUIT")
	c.conn.Close()
}

// Client registers a test client named nick (the test's end closes it).
func (s *IRCServer) Client(t testing.TB, nick string) *IRCClient {
	t.Helper()
	c, err := s.connect(nick, 10*time.Second)
	if err != nil {
		t.Fatalf("testenv: irc client %s: %v", nick, err)
	}
	t.Cleanup(c.Close)
	return c
}

// Join registers a client named nick that joins channel (with key, if
// any) and waits until it is in.
func (s *IRCServer) Join(t testing.TB, nick, channel, key string) *IRCClient {
	t.Helper()
	c := s.Client(t, nick)
	c.Send(strings.TrimSpace("JOIN " + channel + " " + key))
	c.WaitLine(t, " 366 ", 10*time.Second)
	return c
}

// WaitLine returns the first line containing substr, or fails the test.
func (c *IRCClient) WaitLine(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case line, ok := <-c.lines:
			if !ok {
				t.Fatalf("testenv: irc client %s: the connection closed before a line with %q", c.Nick, substr)
			}
			if strings.Contains(line, substr) {
				return line
			}
		case <-timer.C:
			t.Fatalf("testenv: irc client %s: no line with %q within %s", c.Nick, substr, timeout)
		}
	}
}

// FakeNickServ takes the nick NickServ (ngircd has no services) and
// answers every IDENTIFY with a NOTICE. It returns the IDENTIFY lines it
// got, as "<from nick> <password>".
func (s *IRCServer) FakeNickServ(t testing.TB) <-chan string {
	t.Helper()
	c := s.Client(t, "NickServ")
	out := make(chan string, 10)
	go func() {
		for line := range c.lines {
			// :roster!~roster@127.0.0.1 PRIVMSG NickServ :IDENTIFY pw
			from, rest, ok := strings.Cut(strings.TrimPrefix(line, ":"), " PRIVMSG NickServ :IDENTIFY ")
			if !ok {
				continue
			}
			nick, _, _ := strings.Cut(from, "!")
			c.Send("NOTICE " + nick + " :You are now identified")
			select {
			case out <- nick + " " + rest:
			default:
			}
		}
	}()
	return out
}
