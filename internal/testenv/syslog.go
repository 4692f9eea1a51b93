package testenv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/pkitest"
)

// RsyslogdBinEnv names the environment variable that points at rsyslogd.
const RsyslogdBinEnv = "ROSTER_RSYSLOGD_BIN"

const (
	rsyslogStartTimeout = 20 * time.Second
	// Debian's rsyslog package: the input and output modules; the gtls
	// network stream driver comes with rsyslog-gnutls.
	rsyslogModuleDir = "/usr/lib/x86_64-linux-gnu/rsyslog"
)

// SyslogServer is a running rsyslogd of the test's own, unprivileged, on
// free ports of 127.0.0.1: RFC 5424 over TCP (TCPAddr), TLS (TLSAddr, a
// certificate for 127.0.0.1 from CAFile's CA, no client certificate asked)
// and UDP (UDPAddr). Every message it receives is written to one file, one
// line each: "PROTOCOL-VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID
// STRUCTURED-DATA MSG", where rsyslog writes a control character in MSG as
// #ooo (a line feed: #012).
type SyslogServer struct {
	TCPAddr string
	TLSAddr string
	UDPAddr string
	CAFile  string
	// CAPEM is the CA's certificate, as a sink's tls_ca takes it.
	CAPEM string
	Bin   string

	dir     string
	conf    string
	out     string
	proc    *process
	started int
}

// RsyslogdBinary finds rsyslogd: $ROSTER_RSYSLOGD_BIN, else /usr/sbin/rsyslogd
// (Debian package rsyslog); the TLS input also needs rsyslog-gnutls.
func RsyslogdBinary() (string, error) {
	bin, err := findBinary(RsyslogdBinEnv, "/usr/sbin/rsyslogd", "rsyslog and rsyslog-gnutls packages")
	if err != nil {
		return "", err
	}
	for _, m := range []string{"imtcp.so", "imudp.so", "lmnsd_gtls.so"} {
		if _, err := os.Stat(filepath.Join(rsyslogModuleDir, m)); err != nil {
			return "", fmt.Errorf("rsyslogd is %s but %s is missing (Debian's rsyslog and rsyslog-gnutls have it)",
				bin, filepath.Join(rsyslogModuleDir, m))
		}
	}
	return bin, nil
}

// Syslog starts rsyslogd for the calling test and stops it when the test
// ends. It Needs rsyslogd (see RsyslogdBinary). Its own log is written into
// the test log if the test fails.
func Syslog(t testing.TB) *SyslogServer {
	t.Helper()
	bin, err := RsyslogdBinary()
	Need(t, "rsyslogd (Debian packages rsyslog, rsyslog-gnutls)", err)
	dir := t.TempDir()
	ca := pkitest.NewCA(t, dir, "syslog-test")
	pair := ca.Server(t, dir, "rsyslog", "127.0.0.1")
	caPEM, err := os.ReadFile(ca.File)
	check(t, err)
	s := &SyslogServer{Bin: bin, dir: dir, CAFile: ca.File, CAPEM: string(caPEM), out: filepath.Join(dir, "out.log")}
	check(t, s.configure(pair))
	check(t, s.Start())
	t.Cleanup(s.Stop)
	t.Cleanup(func() {
		if t.Failed() && s.proc != nil {
			t.Logf("testenv: rsyslogd output (%s):\n%s", s.proc.logPath, s.proc.logs(64<<10))
		}
	})
	return s
}

// configure picks the ports and writes the configuration.
func (s *SyslogServer) configure(pair pkitest.Pair) error {
	ports := make([]int, 3)
	for i := range ports {
		p, err := freePort(false)
		if err != nil {
			return err
		}
		ports[i] = p
	}
	s.TCPAddr = "127.0.0.1:" + strconv.Itoa(ports[0])
	s.TLSAddr = "127.0.0.1:" + strconv.Itoa(ports[1])
	s.UDPAddr = "127.0.0.1:" + strconv.Itoa(ports[2])
	work := filepath.Join(s.dir, "work")
	if err := os.Mkdir(work, 0o700); err != nil {
		return err
	}
	s.conf = filepath.Join(s.dir, "rsyslog.conf")
	conf := `global(workDirectory="` + work + `"
	DefaultNetstreamDriverCAFile="` + s.CAFile + `"
	DefaultNetstreamDriverCertFile="` + pair.Cert + `"
	DefaultNetstreamDriverKeyFile="` + pair.Key + `"
	maxMessageSize="16k")
module(load="imtcp" maxSessions="100")
module(load="imudp")
template(name="fields" type="string"
	string="%protocol-version% %timereported:::date-rfc3339% %hostname% %app-name% %procid% %msgid% %structured-data% %msg%\n")
ruleset(name="out") {
	action(type="omfile" file="` + s.out + `" template="fields")
}
input(type="imtcp" address="127.0.0.1" port="` + strconv.Itoa(ports[0]) + `" ruleset="out")
input(type="imtcp" address="127.0.0.1" port="` + strconv.Itoa(ports[1]) + `" ruleset="out"
	streamDriver.name="gtls" streamDriver.mode="1" streamDriver.authMode="anon")
input(type="imudp" address="127.0.0.1" port="` + strconv.Itoa(ports[2]) + `" ruleset="out")
`
	return os.WriteFile(s.conf, []byte(conf), 0o600)
}

// Start starts rsyslogd (again, after Stop) on the same ports and file.
func (s *SyslogServer) Start() error {
	if s.proc != nil && !s.proc.exited() {
		return nil
	}
	s.started++
	// -n: foreground, a child of the test; -i: a pid file of its own
	// (the default is /var/run's); -M: the module directory.
	cmd := exec.Command(s.Bin, "-n", "-f", s.conf, "-i", filepath.Join(s.dir, "rsyslogd.pid"), "-M", rsyslogModuleDir)
	cmd.Dir = s.dir
	cmd.Env = childEnv(nil)
	var err error
	s.proc, err = startProcess("rsyslogd", cmd, filepath.Join(s.dir, fmt.Sprintf("rsyslogd-%d.log", s.started)),
		syscall.SIGTERM, syscall.SIGKILL)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(rsyslogStartTimeout)
	for _, addr := range []string{s.TCPAddr, s.TLSAddr} {
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if s.proc.exited() || time.Now().After(deadline) {
				return fmt.Errorf("rsyslogd (%s) did not listen on %s: %v\n%s", s.Bin, addr, err, s.proc.logs(16<<10))
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return nil
}

// Stop stops rsyslogd; its output file stays.
func (s *SyslogServer) Stop() {
	if s.proc != nil {
		s.proc.stop(5 * time.Second)
	}
}

// Lines returns the messages written so far, one per line.
func (s *SyslogServer) Lines(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(s.out)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	check(t, err)
	var out []string
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

// WaitLine waits up to timeout for a line containing substr and returns it.
func (s *SyslogServer) WaitLine(t testing.TB, substr string, timeout time.Duration) string {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, l := range s.Lines(t) {
			if strings.Contains(l, substr) {
				return l
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("testenv: rsyslogd wrote no line containing %q within %v; it wrote:\n%s", substr, timeout,
				strings.Join(s.Lines(t), "\n"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
