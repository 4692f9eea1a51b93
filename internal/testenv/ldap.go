package testenv

import (
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rosterhq/roster/internal/pkitest"
)

// SlapdBinEnv names the environment variable that points at an OpenLDAP slapd.
const SlapdBinEnv = "ROSTER_SLAPD_BIN"

const (
	slapdStartTimeout = 20 * time.Second
	// Debian's slapd package: loadable modules and the schema LDIF files.
	slapdModuleDir = "/usr/lib/ldap"
	slapdSchemaDir = "/etc/ldap/schema"
)

// LDAPServer is a running OpenLDAP slapd with a directory of the test's own: base
// DN dc=example,dc=test with ou=people and ou=groups, the memberOf overlay (a
// user's and a group's memberOf name the groupOfNames whose member they are, so
// nesting shows: a group's own memberOf names its parents) and the refint overlay
// (deleting or renaming an entry updates the groups naming it). It listens on
// 127.0.0.1 only: ldap:// (StartTLS offered) and ldaps://, with a certificate for
// 127.0.0.1 from a CA of its own. Anonymous clients may bind and read the root
// DSE, nothing else; bound users read everything but passwords.
type LDAPServer struct {
	URL      string // ldap://127.0.0.1:PORT
	LDAPSURL string // ldaps://127.0.0.1:PORT
	CAFile   string // the CA that signed the server's certificate (PEM)

	BaseDN   string // dc=example,dc=test
	PeopleDN string // ou=people,dc=example,dc=test
	GroupsDN string // ou=groups,dc=example,dc=test

	// The directory's administrator (the database's rootDN): the helpers use it.
	AdminDN       string
	AdminPassword string
	// A service account that may search the directory, as an application's
	// search (service) bind does: cn=service,dc=example,dc=test.
	ServiceDN       string
	ServicePassword string

	Bin string

	dir  string
	proc *process
	ca   *x509.CertPool
}

// SlapdBinary finds slapd: $ROSTER_SLAPD_BIN, else /usr/sbin/slapd (Debian package
// slapd), else slapd on PATH. The server also needs Debian's module directory
// (/usr/lib/ldap: back_mdb, memberof, refint) and schema files (/etc/ldap/schema).
func SlapdBinary() (string, error) {
	bin, err := findBinary(SlapdBinEnv, "/usr/sbin/slapd", "slapd package", "slapd")
	if err != nil {
		return "", err
	}
	for _, f := range []string{
		filepath.Join(slapdModuleDir, "back_mdb.so"),
		filepath.Join(slapdModuleDir, "memberof.so"),
		filepath.Join(slapdModuleDir, "refint.so"),
		filepath.Join(slapdSchemaDir, "inetorgperson.ldif"),
	} {
		if _, err := os.Stat(f); err != nil {
			return "", fmt.Errorf("slapd is %s but %s is missing (Debian's slapd package has it)", bin, f)
		}
	}
	return bin, nil
}

// LDAP starts slapd for the calling test and stops it when the test ends. It
// Needs slapd (see SlapdBinary). Its output is written into the test log if the
// test fails.
func LDAP(t testing.TB) *LDAPServer {
	t.Helper()
	s := startTLSForTest(t, "slapd", startLDAP)
	if err := s.addBase(); err != nil {
		t.Fatalf("testenv: slapd: %v", err)
	}
	return s
}

func startLDAP(dir, caFile string, pair pkitest.Pair) (*LDAPServer, error) {
	bin, err := SlapdBinary()
	if err != nil {
		return nil, unavailable("slapd (Debian package slapd)", "%v", err)
	}
	caPEM, err := os.ReadFile(caFile)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(caPEM) {
		return nil, fmt.Errorf("no certificate in %s", caFile)
	}
	s := &LDAPServer{
		CAFile:          caFile,
		BaseDN:          "dc=example,dc=test",
		PeopleDN:        "ou=people,dc=example,dc=test",
		GroupsDN:        "ou=groups,dc=example,dc=test",
		AdminDN:         "cn=admin,dc=example,dc=test",
		AdminPassword:   "admin-" + rand.Text(),
		ServiceDN:       "cn=service,dc=example,dc=test",
		ServicePassword: "service-" + rand.Text(),
		Bin:             bin,
		dir:             dir,
		ca:              pool,
	}

	// cn=config, loaded offline; the data is added online, through the overlays.
	confDir := filepath.Join(dir, "slapd.d")
	dataDir := filepath.Join(dir, "data")
	for _, d := range []string{confDir, dataDir} {
		if err := os.Mkdir(d, 0o700); err != nil {
			return nil, err
		}
	}
	ldif := filepath.Join(dir, "config.ldif")
	if err := os.WriteFile(ldif, []byte(s.configLDIF(dir, dataDir, pair)), 0o600); err != nil {
		return nil, err
	}
	add := exec.Command(bin, "-Tadd", "-n0", "-F", confDir, "-l", ldif)
	add.Dir = dir
	add.Env = childEnv([]string{"LDAP"})
	if out, err := add.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("slapadd of cn=config (%s -Tadd) failed: %v\n%s", bin, err, out)
	}

	err = startOnFreePort(bin, true, 5*time.Second, func(attempt, port int) (*process, error) {
		s.URL = "ldap://127.0.0.1:" + strconv.Itoa(port)
		s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(port+1)
		// -d keeps slapd in the foreground (a child of the test, its log on
		// stderr); 256 logs connections and operations with their results.
		cmd := exec.Command(bin, "-F", confDir, "-h", s.URL+"/ "+s.LDAPSURL+"/", "-d", "256")
		cmd.Dir = dir
		cmd.Env = childEnv([]string{"LDAP"})
		var err error
		s.proc, err = startProcess("slapd", cmd, filepath.Join(dir, fmt.Sprintf("slapd-%d.log", attempt)),
			syscall.SIGTERM, syscall.SIGKILL)
		return s.proc, err
	}, func() error { return s.proc.poll(slapdStartTimeout, 50*time.Millisecond, s.rootDSE) })
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *LDAPServer) configLDIF(dir, dataDir string, pair pkitest.Pair) string {
	return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ` + filepath.Join(dir, "slapd.pid") + `
olcArgsFile: ` + filepath.Join(dir, "slapd.args") + `
olcTLSCACertificateFile: ` + s.CAFile + `
olcTLSCertificateFile: ` + pair.Cert + `
olcTLSCertificateKeyFile: ` + pair.Key + `

dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: ` + slapdModuleDir + `
olcModuleLoad: back_mdb
olcModuleLoad: memberof
olcModuleLoad: refint

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://` + filepath.Join(slapdSchemaDir, "core.ldif") + `

include: file://` + filepath.Join(slapdSchemaDir, "cosine.ldif") + `

include: file://` + filepath.Join(slapdSchemaDir, "inetorgperson.ldif") + `

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcPasswordHash: {SSHA}

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: ` + s.BaseDN + `
olcRootDN: ` + s.AdminDN + `
olcRootPW: ` + s.AdminPassword + `
olcDbDirectory: ` + dataDir + `
olcDbMaxSize: 104857600
olcDbIndex: objectClass eq
olcDbIndex: uid eq
olcDbIndex: member eq
olcAccess: {0}to attrs=userPassword by self write by anonymous auth by * none
olcAccess: {1}to * by users read by * none

dn: olcOverlay={0}memberof,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcMemberOf
olcOverlay: {0}memberof
olcMemberOfGroupOC: groupOfNames
olcMemberOfMemberAD: member
olcMemberOfMemberOfAD: memberOf
olcMemberOfRefInt: TRUE

dn: olcOverlay={1}refint,olcDatabase={1}mdb,cn=config
objectClass: olcOverlayConfig
objectClass: olcRefintConfig
olcOverlay: {1}refint
olcRefintAttribute: member
olcRefintAttribute: memberOf
`
}

// rootDSE reads the root DSE anonymously: slapd is ready when it answers.
func (s *LDAPServer) rootDSE() error {
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(dialer()))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(2 * time.Second)
	_, err = c.Search(ldap.NewSearchRequest("", ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"namingContexts"}, nil))
	return err
}

// addBase adds the base entry, ou=people, ou=groups and the service account.
func (s *LDAPServer) addBase() error {
	return s.admin(func(c *ldap.Conn) error {
		for _, e := range []struct {
			dn    string
			attrs map[string][]string
		}{
			{s.BaseDN, map[string][]string{"objectClass": {"dcObject", "organization"}, "dc": {"example"}, "o": {"Example"}}},
			{s.PeopleDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"people"}}},
			{s.GroupsDN, map[string][]string{"objectClass": {"organizationalUnit"}, "ou": {"groups"}}},
			{s.ServiceDN, map[string][]string{"objectClass": {"organizationalRole", "simpleSecurityObject"},
				"cn": {"service"}, "userPassword": {s.ServicePassword}}},
		} {
			if err := c.Add(addRequest(e.dn, e.attrs)); err != nil {
				return fmt.Errorf("add %s: %w", e.dn, err)
			}
		}
		return nil
	})
}

// admin runs f on a connection bound as the administrator.
func (s *LDAPServer) admin(f func(*ldap.Conn) error) error {
	c, err := ldap.DialURL(s.URL, ldap.DialWithDialer(dialer()))
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetTimeout(10 * time.Second)
	if err := c.Bind(s.AdminDN, s.AdminPassword); err != nil {
		return fmt.Errorf("bind as %s: %w", s.AdminDN, err)
	}
	return f(c)
}

func (s *LDAPServer) adminT(t testing.TB, what string, f func(*ldap.Conn) error) {
	t.Helper()
	if err := s.admin(f); err != nil {
		t.Fatalf("testenv: slapd: %s: %v", what, err)
	}
}

func addRequest(dn string, attrs map[string][]string) *ldap.AddRequest {
	req := ldap.NewAddRequest(dn, nil)
	for name, vals := range attrs {
		req.Attribute(name, vals)
	}
	return req
}

// TLSConfig trusts the server's CA, for StartTLS and ldaps://.
func (s *LDAPServer) TLSConfig() *tls.Config {
	return &tls.Config{RootCAs: s.ca, ServerName: "127.0.0.1", MinVersion: tls.VersionTLS12}
}

// AddUser adds an inetOrgPerson uid=UID under PeopleDN with password (stored
// salted-hashed, set with the password modify operation as an administrator
// would) and returns its DN. cn and sn are the uid, mail is UID@example.test.
func (s *LDAPServer) AddUser(t testing.TB, uid, password string) string {
	t.Helper()
	dn := "uid=" + ldap.EscapeDN(uid) + "," + s.PeopleDN
	s.adminT(t, "add user "+uid, func(c *ldap.Conn) error {
		if err := c.Add(addRequest(dn, map[string][]string{
			"objectClass": {"inetOrgPerson"}, "uid": {uid}, "cn": {uid}, "sn": {uid},
			"mail": {uid + "@example.test"},
		})); err != nil {
			return err
		}
		_, err := c.PasswordModify(ldap.NewPasswordModifyRequest(dn, "", password))
		return err
	})
	return dn
}

// AddGroup adds a groupOfNames cn=CN under GroupsDN with members (DNs of users or
// of other groups, for nesting) and returns its DN. A groupOfNames needs a
// member: add the group after its first member.
func (s *LDAPServer) AddGroup(t testing.TB, cn string, members ...string) string {
	t.Helper()
	if len(members) == 0 {
		t.Fatalf("testenv: slapd: group %s needs a member (groupOfNames requires one)", cn)
	}
	dn := "cn=" + ldap.EscapeDN(cn) + "," + s.GroupsDN
	s.adminT(t, "add group "+cn, func(c *ldap.Conn) error {
		return c.Add(addRequest(dn, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {cn}, "member": members}))
	})
	return dn
}

// AddMember adds member (a user's or group's DN) to the group groupDN.
func (s *LDAPServer) AddMember(t testing.TB, groupDN, member string) {
	t.Helper()
	s.adminT(t, "add "+member+" to "+groupDN, func(c *ldap.Conn) error {
		req := ldap.NewModifyRequest(groupDN, nil)
		req.Add("member", []string{member})
		return c.Modify(req)
	})
}

// RemoveMember removes member from the group groupDN.
func (s *LDAPServer) RemoveMember(t testing.TB, groupDN, member string) {
	t.Helper()
	s.adminT(t, "remove "+member+" from "+groupDN, func(c *ldap.Conn) error {
		req := ldap.NewModifyRequest(groupDN, nil)
		req.Delete("member", []string{member})
		return c.Modify(req)
	})
}

// Add adds any entry (attribute name -> values), as the administrator.
func (s *LDAPServer) Add(t testing.TB, dn string, attrs map[string][]string) {
	t.Helper()
	s.adminT(t, "add "+dn, func(c *ldap.Conn) error { return c.Add(addRequest(dn, attrs)) })
}

// Delete deletes the entry dn (refint removes it from the groups naming it).
func (s *LDAPServer) Delete(t testing.TB, dn string) {
	t.Helper()
	s.adminT(t, "delete "+dn, func(c *ldap.Conn) error { return c.Del(ldap.NewDelRequest(dn, nil)) })
}

// Stop stops slapd (idempotent): a test can take the directory away mid-test.
// LDAP(t) calls it at cleanup.
func (s *LDAPServer) Stop() { s.proc.stop(5 * time.Second) }

func (s *LDAPServer) process() *process { return s.proc }

// Logs returns slapd's recent output.
func (s *LDAPServer) Logs() string { return s.proc.logs(64 << 10) }

func dialer() *net.Dialer { return &net.Dialer{Timeout: 5 * time.Second} }
