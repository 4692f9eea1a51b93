package testenv

import (
	"bytes"
	"errors"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// PGBinEnv names the environment variable that points at a directory holding the
// PostgreSQL server binaries (initdb, postgres) and psql.
const PGBinEnv = "ROSTER_PG_BIN"

const pgStartTimeout = 30 * time.Second

// PostgresServer is a throwaway PostgreSQL cluster in a temporary directory: trust
// authentication for the superuser "postgres", listening on 127.0.0.1 on a free port
// (and on a Unix socket inside its directory), fsync off. The server runs as a
// direct child of the test process (postgres, not pg_ctl), so it is in the test's
// process group tree and dies with it.
type PostgresServer struct {
	DSN       string // postgres://postgres@127.0.0.1:PORT/postgres?sslmode=disable
	Host      string // 127.0.0.1
	Port      int
	BinDir    string // where initdb and postgres were found
	SocketDir string

	tools pgTools
	dir   string
	proc  *process
	dbSeq atomic.Int64
}

type pgTools struct {
	binDir   string
	initdb   string
	postgres string
	psql     string
}

// PostgresBinDir finds the PostgreSQL server binaries: $ROSTER_PG_BIN, else the
// highest /usr/lib/postgresql/<major>/bin (Debian), else the directory initdb on PATH
// resolves to.
func PostgresBinDir() (string, error) {
	t, err := findPGTools()
	return t.binDir, err
}

func findPGTools() (pgTools, error) {
	var dir string
	if d := os.Getenv(PGBinEnv); d != "" {
		if !isExecutable(filepath.Join(d, "initdb")) || !isExecutable(filepath.Join(d, "postgres")) {
			return pgTools{}, fmt.Errorf("%s=%s has no initdb and postgres", PGBinEnv, d)
		}
		dir = d
	}
	if dir == "" {
		dir = debianPGBinDir()
	}
	if dir == "" {
		if p, err := exec.LookPath("initdb"); err == nil {
			if r, err := filepath.EvalSymlinks(p); err == nil {
				p = r
			}
			dir = filepath.Dir(p)
		}
	}
	if dir == "" {
		return pgTools{}, errors.New("no initdb: set " + PGBinEnv + " or install Debian's postgresql package")
	}
	t := pgTools{binDir: dir}
	var missing []string
	for _, tool := range []struct {
		name string
		path *string
	}{{"initdb", &t.initdb}, {"postgres", &t.postgres}, {"psql", &t.psql}} {
		p := filepath.Join(dir, tool.name)
		if !isExecutable(p) {
			// Not beside initdb: PATH (on Debian /usr/bin/psql is a wrapper that works
			// with explicit connection options).
			var err error
			if p, err = exec.LookPath(tool.name); err != nil {
				missing = append(missing, tool.name)
				continue
			}
		}
		*tool.path = p
	}
	if len(missing) > 0 {
		return t, fmt.Errorf("%s not found in %s or on PATH", strings.Join(missing, ", "), dir)
	}
	return t, nil
}

func debianPGBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	type cand struct {
		dir string
		ver float64
	}
	var cands []cand
	for _, d := range dirs {
		v, err := strconv.ParseFloat(filepath.Base(filepath.Dir(d)), 64)
		if err != nil || !isExecutable(filepath.Join(d, "initdb")) || !isExecutable(filepath.Join(d, "postgres")) {
			continue
		}
		cands = append(cands, cand{d, v})
	}
	if len(cands) == 0 {
		return ""
	}
	sort.Slice(cands, func(i, j int) bool { return cands[i].ver > cands[j].ver })
	return cands[0].dir
}

// Postgres starts a PostgreSQL cluster for the calling test and removes it when the
// test ends. It Needs the server binaries (see PostgresBinDir).
func Postgres(t testing.TB) *PostgresServer {
	t.Helper()
	p, err := startPostgres()
	own(t, "postgres", p, err)
	return p
}

func startPostgres() (*PostgresServer, error) {
	const what = "PostgreSQL (Debian package postgresql)"
	tools, err := findPGTools()
	if err != nil {
		return nil, &unavailableError{what: what, err: err}
	}

	// initdb and postgres refuse to run as root: as root, run them as the postgres user
	// the Debian package creates.
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, unavailable(what, "running as root (which initdb refuses) and no 'postgres' user to run it as: %v", err)
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 != nil || err2 != nil {
			return nil, fmt.Errorf("postgres user has uid %q gid %q", u.Uid, u.Gid)
		}
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), NoSetGroups: true}
	}

	// Our own short directory, not t.TempDir(): the postgres user must be able to
	// reach it, and a Unix socket path must stay under ~107 bytes.
	dir, err := os.MkdirTemp("", "roster-pg-")
	if err != nil {
		return nil, err
	}
	p := &PostgresServer{Host: "127.0.0.1", BinDir: tools.binDir, tools: tools, dir: dir,
		SocketDir: filepath.Join(dir, "sock")}
	fail := func(err error) (*PostgresServer, error) {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.Mkdir(p.SocketDir, 0o700); err != nil {
		return fail(err)
	}
	if cred != nil {
		for _, d := range []string{dir, p.SocketDir} {
			if err := os.Chown(d, int(cred.Uid), int(cred.Gid)); err != nil {
				return fail(err)
			}
		}
	}
	serverEnv := childEnv([]string{"PG", "LC_ALL="}, "LC_ALL=C")

	data := filepath.Join(dir, "data")
	initdb := exec.Command(tools.initdb, "-D", data, "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--locale=C", "--no-sync", "--no-instructions")
	initdb.Dir = dir
	initdb.Env = serverEnv
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	if out, err := initdb.CombinedOutput(); err != nil {
		return fail(fmt.Errorf("initdb (%s) failed: %v\n%s", tools.initdb, err, out))
	}

	err = startOnFreePort(tools.postgres, false, 10*time.Second, func(attempt, port int) (*process, error) {
		p.Port = port
		p.DSN = p.DSNFor("postgres")
		cmd := exec.Command(tools.postgres, "-D", data, "-p", strconv.Itoa(port), "-k", p.SocketDir,
			"-c", "listen_addresses=127.0.0.1",
			"-c", "fsync=off",
			"-c", "synchronous_commit=off",
			"-c", "full_page_writes=off",
			"-c", "max_connections=200",
		)
		cmd.Dir = dir
		cmd.Env = serverEnv
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		// SIGINT: fast shutdown; SIGQUIT (if the test binary dies): immediate shutdown.
		var err error
		p.proc, err = startProcess("postgres", cmd, filepath.Join(dir, fmt.Sprintf("postgres-%d.log", attempt)),
			syscall.SIGINT, syscall.SIGQUIT)
		return p.proc, err
	}, func() error { return p.proc.poll(pgStartTimeout, 100*time.Millisecond, p.selectOne) })
	if err != nil {
		return fail(err)
	}
	return p, nil
}

// selectOne runs "select 1": the server is ready when it answers.
func (p *PostgresServer) selectOne() error {
	out, err := p.psql(p.DSN, "select 1")
	if err == nil && out != "1" {
		err = fmt.Errorf("select 1 answered %q", out)
	}
	return err
}

// DSNFor returns the URL of database db on this server.
func (p *PostgresServer) DSNFor(db string) string {
	u := url.URL{Scheme: "postgres", User: url.User("postgres"), Host: p.Host + ":" + strconv.Itoa(p.Port),
		Path: "/" + db, RawQuery: "sslmode=disable"}
	return u.String()
}

// psql runs one SQL command with psql against dsn and returns its trimmed,
// unaligned, tuples-only output.
func (p *PostgresServer) psql(dsn, sql string) (string, error) {
	cmd := exec.Command(p.tools.psql, "-X", "-q", "-v", "ON_ERROR_STOP=1", "-tA", "-d", dsn, "-c", sql)
	cmd.Env = childEnv([]string{"PG"}, "PGCONNECT_TIMEOUT=5")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return strings.TrimSpace(string(out)), fmt.Errorf("psql: %v: %s", err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// Psql runs sql with psql against dsn (e.g. p.DSN or a CreateDatabase result) and
// returns the output (unaligned, tuples only, trimmed). An error fails t.
func (p *PostgresServer) Psql(t testing.TB, dsn, sql string) string {
	t.Helper()
	out, err := p.psql(dsn, sql)
	if err != nil {
		t.Fatalf("testenv: %v", err)
	}
	return out
}

var nonIdent = regexp.MustCompile(`[^a-z0-9_]+`)

// CreateDatabase creates a fresh, empty database for the calling test and returns its
// DSN. The database is dropped when the test ends (connections still open then are
// terminated).
func (p *PostgresServer) CreateDatabase(t testing.TB) string {
	t.Helper()
	name := nonIdent.ReplaceAllString(strings.ToLower(t.Name()), "_")
	suffix := "_" + strconv.FormatInt(p.dbSeq.Add(1), 10)
	if max := 63 - len(suffix) - 2; len(name) > max {
		name = name[:max]
	}
	name = "t_" + name + suffix
	if _, err := p.psql(p.DSN, `CREATE DATABASE "`+name+`"`); err != nil {
		t.Fatalf("testenv: create database %s: %v", name, err)
	}
	t.Cleanup(func() {
		if p.proc.exited() {
			return
		}
		if _, err := p.psql(p.DSN, `DROP DATABASE IF EXISTS "`+name+`" WITH (FORCE)`); err != nil {
			t.Logf("testenv: drop database %s: %v", name, err)
		}
	})
	return p.DSNFor(name)
}

// Logs returns the server's recent output.
func (p *PostgresServer) Logs() string { return p.proc.logs(64 << 10) }

// Stop stops the server and removes its directory (idempotent). Postgres(t) calls it
// at cleanup; do not call it on a shared server.
func (p *PostgresServer) Stop() { p.stop() }

func (p *PostgresServer) process() *process { return p.proc }

func (p *PostgresServer) stop() {
	p.proc.stop(10 * time.Second)
	os.RemoveAll(p.dir)
}
