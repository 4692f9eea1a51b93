package testenv

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rosterhq/roster/internal/pkitest"
)

// process is a server child process: own process group, output in a log file.
type process struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	logFile *os.File
	done    chan struct{} // closed when the process has exited
	waitErr error
	stopSig syscall.Signal // graceful stop signal
	once    sync.Once
}

// startProcess starts cmd with its output appended to logPath. deathSig is what the
// kernel sends the child if the test binary dies first.
func startProcess(name string, cmd *exec.Cmd, logPath string, stopSig, deathSig syscall.Signal) (*process, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	cmd.Stdout = f
	cmd.Stderr = f
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	setDeathSignal(cmd.SysProcAttr, deathSig)
	if err := cmd.Start(); err != nil {
		f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &process{name: name, cmd: cmd, logPath: logPath, logFile: f, done: make(chan struct{}), stopSig: stopSig}
	go func() {
		p.waitErr = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

func (p *process) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// stop sends the graceful signal to the process group, then SIGKILL after grace.
func (p *process) stop(grace time.Duration) {
	p.once.Do(func() {
		pgid := p.cmd.Process.Pid
		if !p.exited() {
			_ = syscall.Kill(-pgid, p.stopSig)
			select {
			case <-p.done:
			case <-time.After(grace):
				_ = syscall.Kill(-pgid, syscall.SIGKILL)
				<-p.done
			}
		}
		// Leftovers in the group (children of the server) go too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		p.logFile.Close()
	})
}

// ready waits until probe succeeds, the process exits, or timeout
// passes; when it does not succeed it stops the process and returns an
// error with the process's last output.
func (p *process) ready(timeout time.Duration, probe func() error) error {
	err := p.poll(timeout, 100*time.Millisecond, probe)
	if err == nil {
		return nil
	}
	logs := p.logs(8 << 10)
	p.stop(2 * time.Second)
	return fmt.Errorf("%s did not start: %w\n%s", p.name, err, logs)
}

// poll calls probe every interval until it succeeds, the process exits,
// or timeout passes; the error says which, with probe's last error.
func (p *process) poll(timeout, interval time.Duration, probe func() error) error {
	deadline := time.Now().Add(timeout)
	for {
		if p.exited() {
			return fmt.Errorf("%s exited: %v", p.name, p.waitErr)
		}
		err := probe()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s: %w", timeout, err)
		}
		time.Sleep(interval)
	}
}

// startOnFreePort starts a server on a free 127.0.0.1 port (with
// pairPorts, the port after it is free too), up to three times: start
// starts its process for the attempt (with a log of the attempt's own) and
// ready waits until it serves. A server that does not become ready is
// stopped (grace is its time for a graceful stop) and, if its log says its
// port was taken in the meantime, started again on another port; otherwise
// the error names bin and holds the server's last output.
func startOnFreePort(bin string, pairPorts bool, grace time.Duration,
	start func(attempt, port int) (*process, error), ready func() error) error {
	var lastErr error
	for attempt := 1; attempt <= 3; attempt++ {
		port, err := freePort(pairPorts)
		if err != nil {
			return err
		}
		proc, err := start(attempt, port)
		if err != nil {
			return err
		}
		if err = ready(); err == nil {
			return nil
		}
		proc.stop(grace)
		lastErr = fmt.Errorf("%s (%s) did not start: %v\n%s", proc.name, bin, err, proc.logs(16<<10))
		if !addrInUse(proc.logs(64 << 10)) {
			break
		}
	}
	return lastErr
}

// ownedServer is a server a test started.
type ownedServer interface {
	Stop()
	process() *process
}

// own ties a server start's outcome to the calling test: an error fails
// the test, or skips it when the server is not installed (see Need); a
// started server is stopped when the test ends and its output goes into
// the test log if the test failed.
func own(t testing.TB, what string, s ownedServer, err error) {
	t.Helper()
	check(t, err)
	t.Cleanup(s.Stop)
	dumpLogOnFailure(t, what, s.process()) // runs before Stop
}

// startTLSForTest starts a server of the calling test that serves TLS
// with a certificate for 127.0.0.1 from a CA of its own, in the test's
// temporary directory, and owns it (see own).
func startTLSForTest[S ownedServer](t testing.TB, name string, start func(dir, caFile string, pair pkitest.Pair) (S, error)) S {
	t.Helper()
	dir := t.TempDir()
	ca := pkitest.NewCA(t, dir, name+"-test")
	s, err := start(dir, ca.File, ca.Server(t, dir, name, "127.0.0.1"))
	own(t, name, s, err)
	return s
}

// logs returns the process's output so far (its last maxBytes bytes).
func (p *process) logs(maxBytes int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return fmt.Sprintf("(cannot read %s: %v)", p.logPath, err)
	}
	if len(b) > maxBytes {
		b = b[len(b)-maxBytes:]
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			b = b[i+1:]
		}
		return "...\n" + string(b)
	}
	return string(b)
}

// dumpLogOnFailure writes the process's output into the test log if the test fails.
func dumpLogOnFailure(t testing.TB, what string, p *process) {
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("testenv: %s output (%s):\n%s", what, p.logPath, p.logs(64<<10))
		}
	})
}

// findBinary finds a server's binary: the file $envVar names, else
// debianPath (where Debian's packages put it), else the first of onPath on
// PATH. packages names the Debian packages to install, for the error.
func findBinary(envVar, debianPath, packages string, onPath ...string) (string, error) {
	if bin := os.Getenv(envVar); bin != "" {
		if !isExecutable(bin) {
			return "", fmt.Errorf("%s=%s is not an executable file", envVar, bin)
		}
		return bin, nil
	}
	if isExecutable(debianPath) {
		return debianPath, nil
	}
	for _, name := range onPath {
		if p, err := exec.LookPath(name); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no %s: install Debian's %s or set %s", filepath.Base(debianPath), packages, envVar)
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago; with pair, the
// port after it was free too (Vault's cluster listener takes API port + 1).
func freePort(pair bool) (int, error) {
	var lastErr error
	for range 50 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		port := l.Addr().(*net.TCPAddr).Port
		if !pair {
			l.Close()
			return port, nil
		}
		if port >= 65535 {
			l.Close()
			continue
		}
		l2, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", port+1))
		l.Close()
		if err != nil {
			lastErr = err
			continue
		}
		l2.Close()
		return port, nil
	}
	return 0, fmt.Errorf("no free port pair on 127.0.0.1: %v", lastErr)
}

// childEnv returns the environment minus variables whose names start with one of the
// prefixes, plus extra.
func childEnv(dropPrefixes []string, extra ...string) []string {
	var env []string
outer:
	for _, kv := range os.Environ() {
		for _, p := range dropPrefixes {
			if strings.HasPrefix(kv, p) {
				continue outer
			}
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// isExecutable reports whether path is a regular file with an execute bit.
func isExecutable(path string) bool {
	fi, err := os.Stat(path)
	return err == nil && fi.Mode().IsRegular() && fi.Mode().Perm()&0o111 != 0
}

// addrInUse reports whether a server's log says its port was taken.
func addrInUse(log string) bool {
	return strings.Contains(log, "address already in use") ||
		strings.Contains(log, "Address already in use")
}
