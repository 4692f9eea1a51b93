package testenv

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
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

// MailpitBinEnv names the environment variable that points at a prebuilt
// Mailpit. Without it Mailpit is built from the nested tool module
// internal/testenv/mailpit (its own go.mod, so Mailpit's dependencies never
// enter Roster's), offline from the module cache, once per test binary.
const MailpitBinEnv = "ROSTER_MAILPIT_BIN"

const mailpitWhat = "Mailpit (internal/testenv/mailpit, built with go build)"

// MailpitBinary returns Mailpit's path, building it when needed (about 90 s
// cold on 2 cores; cached in the user cache after).
func MailpitBinary() (string, error) {
	if p := os.Getenv(MailpitBinEnv); p != "" {
		if !isExecutable(p) {
			return "", unavailable(mailpitWhat, "%s=%s is not an executable file", MailpitBinEnv, p)
		}
		return p, nil
	}
	mailpitBuild.once.Do(func() {
		mailpitBuild.path, mailpitBuild.err = buildTool(mailpitWhat, "mailpit", filepath.Join("internal", "testenv", "mailpit"), ".", MailpitBinEnv)
	})
	return mailpitBuild.path, mailpitBuild.err
}

var mailpitBuild struct {
	once sync.Once
	path string
	err  error
}

// SMTPSecurity is what the test server demands.
type SMTPSecurity int

const (
	// SMTPStartTLS offers STARTTLS and requires it before anything else.
	SMTPStartTLS SMTPSecurity = iota
	// SMTPImplicitTLS speaks TLS from the first byte.
	SMTPImplicitTLS
	// SMTPPlain offers no TLS at all.
	SMTPPlain
)

// SMTPOptions configures SMTP.
type SMTPOptions struct {
	Security SMTPSecurity
	// Users may AUTH (user → password); none: no authentication asked.
	Users map[string]string
}

// MailServer is a running Mailpit: SMTP on Addr, its API on APIURL.
type MailServer struct {
	Addr   string // 127.0.0.1:port
	Host   string // 127.0.0.1
	Port   int
	APIURL string
	// CAFile signed the SMTP certificate (for 127.0.0.1).
	CAFile string
	proc   *process
}

// SMTP starts Mailpit for the calling test and stops it when the test
// ends. It Needs Mailpit (see MailpitBinary).
func SMTP(t testing.TB, opts SMTPOptions) *MailServer {
	t.Helper()
	return startTLSForTest(t, "mailpit", func(dir, caFile string, pair pkitest.Pair) (*MailServer, error) {
		return startSMTP(dir, caFile, pair, opts)
	})
}

func startSMTP(dir, caFile string, pair pkitest.Pair, opts SMTPOptions) (*MailServer, error) {
	bin, err := MailpitBinary()
	if err != nil {
		return nil, err
	}
	smtpPort, err := freePort(false)
	if err != nil {
		return nil, err
	}
	apiPort, err := freePort(false)
	if err != nil {
		return nil, err
	}
	args := []string{
		"-s", "127.0.0.1:" + strconv.Itoa(smtpPort), "-l", "127.0.0.1:" + strconv.Itoa(apiPort),
		"-d", filepath.Join(dir, "mailpit.db"), "--smtp-disable-rdns", "--disable-version-check",
	}
	switch opts.Security {
	case SMTPStartTLS:
		args = append(args, "--smtp-tls-cert", pair.Cert, "--smtp-tls-key", pair.Key, "--smtp-require-starttls")
	case SMTPImplicitTLS:
		args = append(args, "--smtp-tls-cert", pair.Cert, "--smtp-tls-key", pair.Key, "--smtp-require-tls")
	}
	if len(opts.Users) > 0 {
		var lines []string
		for u, p := range opts.Users {
			lines = append(lines, u+":"+p)
		}
		auth := filepath.Join(dir, "smtp-users")
		if err := os.WriteFile(auth, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
			return nil, err
		}
		args = append(args, "--smtp-auth-file", auth)
	}
	proc, err := startProcess("mailpit", exec.Command(bin, args...), filepath.Join(dir, "mailpit.log"), syscall.SIGTERM, syscall.SIGKILL)
	if err != nil {
		return nil, err
	}
	s := &MailServer{
		Addr: "127.0.0.1:" + strconv.Itoa(smtpPort), Host: "127.0.0.1", Port: smtpPort,
		APIURL: "http://127.0.0.1:" + strconv.Itoa(apiPort), CAFile: caFile, proc: proc,
	}
	// Ready when the API answers and the SMTP port takes connections.
	err = proc.ready(30*time.Second, func() error {
		var info struct{ Version string }
		if err := s.getJSON("/api/v1/info", &info); err != nil {
			return err
		}
		c, err := net.DialTimeout("tcp", s.Addr, time.Second)
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

func (s *MailServer) getJSON(path string, v any) error {
	resp, err := http.Get(s.APIURL + path)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// Stop stops the server.
func (s *MailServer) Stop() { s.proc.stop(5 * time.Second) }

func (s *MailServer) process() *process { return s.proc }

// Mail is a message Mailpit received.
type Mail struct {
	ID, MessageID, Subject string
	From                   struct{ Address string }
	To                     []struct{ Address string }
	// Text is the plain-text body; Headers every header.
	Text    string
	Headers map[string][]string
}

// Messages lists what arrived, newest first, bodies included.
func (s *MailServer) Messages(t testing.TB) []*Mail {
	t.Helper()
	var list struct{ Messages []*Mail }
	if err := s.getJSON("/api/v1/messages", &list); err != nil {
		t.Fatalf("testenv: mailpit: %v", err)
	}
	for _, m := range list.Messages {
		if err := s.getJSON("/api/v1/message/"+url.PathEscape(m.ID), m); err != nil {
			t.Fatalf("testenv: mailpit: %v", err)
		}
		if err := s.getJSON("/api/v1/message/"+url.PathEscape(m.ID)+"/headers", &m.Headers); err != nil {
			t.Fatalf("testenv: mailpit: %v", err)
		}
	}
	return list.Messages
}

// WaitMessage returns the first message whose subject contains subject.
func (s *MailServer) WaitMessage(t testing.TB, subject string, timeout time.Duration) *Mail {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, m := range s.Messages(t) {
			if strings.Contains(m.Subject, subject) {
				return m
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: mailpit: no message with %q in its subject within %s", subject, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
