package ldapauth

import (
	"context"
	"errors"
	"fmt"
	"net"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/pkitest"
	"github.com/rosterhq/roster/internal/testenv"
)

// distinctive is a password no message could hold by chance.
const distinctive = "Zq9-distinctive-pässwörd-7731"

// config is a directory on srv over StartTLS, as a deployment would have it.
func config(srv *testenv.LDAPServer) Config {
	return Config{
		Name:         "corp",
		URL:          srv.URL,
		StartTLS:     true,
		CAFile:       srv.CAFile,
		BindDN:       srv.ServiceDN,
		BindPassword: roster.Secret(srv.ServicePassword),
		UserBase:     srv.PeopleDN,
		GroupBase:    srv.GroupsDN,
	}
}

func newDirectory(t *testing.T, cfg Config) *Directory {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return d
}

// checkNoPassword fails the test if err shows a password, however printed.
func checkNoPassword(t *testing.T, err error, passwords ...string) {
	t.Helper()
	out := fmt.Sprintf("%v|%+v|%#v|%s|%s", err, err, err, roster.ErrorMessage(err), err)
	for _, p := range passwords {
		if p != "" && strings.Contains(out, p) {
			t.Errorf("the error shows a password: %s", out)
		}
	}
}

func wantUnavailable(t *testing.T, err error, parts ...string) {
	t.Helper()
	if roster.ErrorCode(err) != roster.EUNAVAILABLE {
		t.Fatalf("err = %v (code %q), want EUNAVAILABLE", err, roster.ErrorCode(err))
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("err = %q, want it to say %q", err, p)
		}
	}
}

func wantInvalid(t *testing.T, err error) {
	t.Helper()
	if !errors.Is(err, ErrInvalidCredentials) || roster.ErrorCode(err) != roster.EUNAUTHORIZED ||
		err.Error() != "invalid user name or password" {
		t.Fatalf("err = %v (code %q), want ErrInvalidCredentials", err, roster.ErrorCode(err))
	}
}

var uuidPattern = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)

// TestNewCAFile refuses a CA file that cannot be read or holds no
// certificate, before any sign-in.
func TestNewCAFile(t *testing.T) {
	c := validConfig()
	c.CAFile = t.TempDir() + "/missing.pem"
	if _, err := New(c); roster.ErrorCode(err) != roster.EINVALID || roster.ErrorFields(err)[0].Field != "ca_file" {
		t.Errorf("New with a missing CA file = %v, want EINVALID on ca_file", err)
	}
}

// TestFormatGUID renders Active Directory's objectGUID, whose first three
// fields are little-endian, as the UUID AD tools show.
func TestFormatGUID(t *testing.T) {
	got, err := formatGUID([]byte{0x04, 0x03, 0x02, 0x01, 0x06, 0x05, 0x08, 0x07, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10})
	if want := "01020304-0506-0708-090a-0b0c0d0e0f10"; got != want || err != nil {
		t.Errorf("formatGUID = %q, %v; want %q", got, err, want)
	}
	if _, err := formatGUID([]byte("short")); err == nil {
		t.Error("formatGUID of 5 bytes: no error")
	}
}

// TestAuthenticate signs in over StartTLS and over LDAPS, with the test CA,
// and checks the identity the directory vouches for.
func TestAuthenticate(t *testing.T) {
	srv := testenv.LDAP(t)
	alice := srv.AddUser(t, "alice", "alice-password")
	dba := srv.AddGroup(t, "dba", alice)
	srv.AddGroup(t, "ops", dba)
	srv.AddUser(t, "Dave", "dave-password")

	for _, way := range []string{"starttls", "ldaps"} {
		t.Run(way, func(t *testing.T) {
			cfg := config(srv)
			if way == "ldaps" {
				cfg.URL, cfg.StartTLS = srv.LDAPSURL, false
			}
			d := newDirectory(t, cfg)
			id, err := d.Authenticate(t.Context(), "alice", "alice-password")
			if err != nil {
				t.Fatalf("Authenticate: %v", err)
			}
			if id.Source != roster.UserLDAP || id.Provider != "corp" || id.Username != "alice" ||
				id.DisplayName != "alice" || id.Email != "alice@example.test" || !uuidPattern.MatchString(id.Subject) ||
				!slices.Equal(id.Groups, []string{"dba", "ops"}) {
				t.Errorf("identity = %+v", id)
			}
			// The name as typed, in another case: the same person, the
			// directory's name for them, folded.
			again, err := d.Authenticate(t.Context(), "ALICE", "alice-password")
			if err != nil || again.Subject != id.Subject || again.Username != "alice" {
				t.Errorf("as ALICE: %+v, %v; want subject %s, username alice", again, err, id.Subject)
			}
			dave, err := d.Authenticate(t.Context(), "dave", "dave-password")
			if err != nil || dave.Username != "dave" || dave.Subject == id.Subject || len(dave.Groups) != 0 {
				t.Errorf("dave (uid Dave): %+v, %v", dave, err)
			}
		})
	}
	// Each of the 18 binds (service, user, service again; 3 sign-ins each
	// way) went over TLS: slapd logs its security strength factor.
	var binds []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		binds = simpleBinds(srv.Logs(), srv.AdminDN)
		if len(binds) >= 18 || time.Now().After(deadline) {
			break
		}
	}
	if len(binds) != 18 {
		t.Errorf("slapd logged %d binds, want 18:\n%s", len(binds), strings.Join(binds, "\n"))
	}
	for _, b := range binds {
		if plainBind.MatchString(b) {
			t.Errorf("a bind without TLS: %s", b)
		}
	}
}

var plainBind = regexp.MustCompile(` ssf=0(\s|$)`)

// simpleBinds returns the lines of slapd's log that record a simple bind,
// but the administrator's (the test's helpers).
func simpleBinds(logs, admin string) []string {
	var out []string
	for line := range strings.Lines(logs) {
		if strings.Contains(line, " mech=SIMPLE ") && !strings.Contains(line, `dn="`+admin+`"`) {
			out = append(out, strings.TrimSpace(line))
		}
	}
	return out
}

// TestUntrustedServer refuses a server whose certificate a CA other than
// the configured one signed, before any password is sent.
func TestUntrustedServer(t *testing.T) {
	srv := testenv.LDAP(t)
	srv.AddUser(t, "alice", distinctive)
	other := pkitest.NewCA(t, t.TempDir(), "other")
	for _, way := range []string{"starttls", "ldaps"} {
		t.Run(way, func(t *testing.T) {
			cfg := config(srv)
			cfg.CAFile = other.File
			if way == "ldaps" {
				cfg.URL, cfg.StartTLS = srv.LDAPSURL, false
			}
			_, err := newDirectory(t, cfg).Authenticate(t.Context(), "alice", distinctive)
			wantUnavailable(t, err, `directory "corp"`, cfg.URL, "certificate")
			checkNoPassword(t, err, distinctive, srv.ServicePassword)
		})
	}
}

// TestGroups reads nested groups, both ways (memberOf and search give the
// same answers), ends cycles, honours max_depth, nested: false, max_groups
// and group_base.
func TestGroups(t *testing.T) {
	srv := testenv.LDAP(t)
	// ops ⊃ dba ∋ alice
	alice := srv.AddUser(t, "alice", "pw-alice")
	dba := srv.AddGroup(t, "dba", alice)
	srv.AddGroup(t, "ops", dba)
	// a ⊃ b ⊃ a, carol in a
	carol := srv.AddUser(t, "carol", "pw-carol")
	a := srv.AddGroup(t, "a", carol)
	b := srv.AddGroup(t, "b", a)
	srv.AddMember(t, a, b)
	// g3 ⊃ g2 ⊃ g1 ∋ dave
	dave := srv.AddUser(t, "dave", "pw-dave")
	g1 := srv.AddGroup(t, "g1", dave)
	g2 := srv.AddGroup(t, "g2", g1)
	srv.AddGroup(t, "g3", g2)
	// eve in three groups
	eve := srv.AddUser(t, "eve", "pw-eve")
	for _, g := range []string{"x1", "x2", "x3"} {
		srv.AddGroup(t, g, eve)
	}
	// frank in a group outside group_base too
	frank := srv.AddUser(t, "frank", "pw-frank")
	srv.AddGroup(t, "staff", frank)
	srv.Add(t, "cn=outside,"+srv.PeopleDN, map[string][]string{"objectClass": {"groupOfNames"}, "cn": {"outside"}, "member": {frank}})
	// grace in none
	srv.AddUser(t, "grace", "pw-grace")

	no := false
	for _, tc := range []struct {
		name   string
		user   string
		change func(*Config)
		want   []string // nil: too many groups
	}{
		{"nested", "alice", nil, []string{"dba", "ops"}},
		{"not nested", "alice", func(c *Config) { c.Nested = &no }, []string{"dba"}},
		{"cycle", "carol", nil, []string{"a", "b"}},
		{"cycle at depth 1", "carol", func(c *Config) { c.MaxDepth = 1 }, []string{"a"}},
		// Walked without a seen set, the cycle would visit more than 2.
		{"cycle visited once", "carol", func(c *Config) { c.MaxDepth, c.MaxGroups = 64, 2 }, []string{"a", "b"}},
		{"deep", "dave", nil, []string{"g1", "g2", "g3"}},
		{"max_depth 2", "dave", func(c *Config) { c.MaxDepth = 2 }, []string{"g1", "g2"}},
		{"max_depth 3", "dave", func(c *Config) { c.MaxDepth = 3 }, []string{"g1", "g2", "g3"}},
		{"within max_groups", "eve", func(c *Config) { c.MaxGroups = 3 }, []string{"x1", "x2", "x3"}},
		{"beyond max_groups", "eve", func(c *Config) { c.MaxGroups = 2 }, nil},
		{"nesting beyond max_groups", "dave", func(c *Config) { c.MaxGroups = 2 }, nil},
		{"group_base", "frank", nil, []string{"staff"}},
		{"no groups", "grace", nil, []string{}},
	} {
		for _, mode := range []string{MembershipMemberOf, MembershipSearch} {
			t.Run(tc.name+"/"+mode, func(t *testing.T) {
				cfg := config(srv)
				cfg.Membership = mode
				if tc.change != nil {
					tc.change(&cfg)
				}
				id, err := newDirectory(t, cfg).Authenticate(t.Context(), tc.user, roster.Secret("pw-"+tc.user))
				if tc.want == nil {
					wantUnavailable(t, err, `directory "corp"`, "max_groups")
					return
				}
				if err != nil {
					t.Fatalf("Authenticate: %v", err)
				}
				if !slices.Equal(id.Groups, tc.want) {
					t.Errorf("groups = %q, want %q", id.Groups, tc.want)
				}
			})
		}
	}

	// Without group_base, memberOf counts every group the directory lists.
	cfg := config(srv)
	cfg.GroupBase = ""
	id, err := newDirectory(t, cfg).Authenticate(t.Context(), "frank", "pw-frank")
	if err != nil || !slices.Equal(id.Groups, []string{"outside", "staff"}) {
		t.Errorf("frank without group_base: %+v, %v", id, err)
	}
}

// TestRefusals gives one answer to a wrong password, an unknown user, a
// name that matches two entries and a name that tries to widen the filter.
func TestRefusals(t *testing.T) {
	srv := testenv.LDAP(t)
	srv.AddUser(t, "alice", distinctive)
	srv.AddUser(t, "twin", "twin-password")
	srv.Add(t, "uid=twin,"+srv.GroupsDN, map[string][]string{
		"objectClass": {"inetOrgPerson"}, "uid": {"twin"}, "cn": {"twin"}, "sn": {"twin"}, "userPassword": {"twin-password"},
	})
	d := newDirectory(t, config(srv))

	_, wrong := d.Authenticate(t.Context(), "alice", "not-"+distinctive)
	wantInvalid(t, wrong)
	_, unknown := d.Authenticate(t.Context(), "mallory", distinctive)
	wantInvalid(t, unknown)
	if wrong.Error() != unknown.Error() || roster.ErrorMessage(wrong) != roster.ErrorMessage(unknown) {
		t.Errorf("wrong password: %q; unknown user: %q; want the same", wrong, unknown)
	}
	checkNoPassword(t, wrong, distinctive)

	// Under the people only, twin is one entry; from the base, two.
	if _, err := d.Authenticate(t.Context(), "twin", "twin-password"); err != nil {
		t.Fatalf("twin under ou=people: %v", err)
	}
	cfg := config(srv)
	cfg.UserBase = srv.BaseDN
	_, err := newDirectory(t, cfg).Authenticate(t.Context(), "twin", "twin-password")
	wantInvalid(t, err)

	// Filter injection: escaped, each is a name nobody has. Unescaped,
	// each would match alice, whose password is given.
	for _, name := range []string{"*", "al*", "*)(uid=*", "alice)(|(uid=*", "alice)(objectClass=*", `alice\2a`, "alice\x00"} {
		_, err := d.Authenticate(t.Context(), name, distinctive)
		if !errors.Is(err, ErrInvalidCredentials) {
			t.Errorf("user name %q: %v, want ErrInvalidCredentials", name, err)
		}
	}
}

// TestEmptyPassword refuses an empty password without asking the directory:
// the directory is not even running.
func TestEmptyPassword(t *testing.T) {
	srv := testenv.LDAP(t)
	srv.AddUser(t, "alice", "alice-password")
	d := newDirectory(t, config(srv))
	srv.Stop()
	for _, name := range []string{"alice", ""} {
		_, err := d.Authenticate(t.Context(), name, "")
		wantInvalid(t, err)
	}
	// The directory being down is what any other sign-in meets.
	_, err := d.Authenticate(t.Context(), "alice", "alice-password")
	wantUnavailable(t, err)
}

// TestDirectoryDown reports a directory that cannot be reached, or refuses
// the service account, by name and URL, without any password.
func TestDirectoryDown(t *testing.T) {
	srv := testenv.LDAP(t)
	srv.AddUser(t, "alice", distinctive)

	t.Run("service account refused", func(t *testing.T) {
		cfg := config(srv)
		cfg.BindPassword = "service-" + distinctive
		_, err := newDirectory(t, cfg).Authenticate(t.Context(), "alice", distinctive)
		wantUnavailable(t, err, `directory "corp"`, srv.URL, srv.ServiceDN, "49")
		checkNoPassword(t, err, distinctive, srv.ServicePassword)
	})

	t.Run("stopped", func(t *testing.T) {
		d := newDirectory(t, config(srv))
		if _, err := d.Authenticate(t.Context(), "alice", distinctive); err != nil {
			t.Fatalf("before stopping: %v", err)
		}
		srv.Stop()
		for _, url := range []string{srv.URL, srv.LDAPSURL} {
			cfg := config(srv)
			cfg.URL, cfg.StartTLS = url, strings.HasPrefix(url, "ldap:")
			_, err := newDirectory(t, cfg).Authenticate(t.Context(), "alice", distinctive)
			wantUnavailable(t, err, `directory "corp" cannot be reached at `+url)
			checkNoPassword(t, err, distinctive, srv.ServicePassword)
		}
	})
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()
	return ln.Addr().String()
}

// TestTimeout gives up on a directory that does not answer, within the
// configured timeout, and on a caller that goes away.
func TestTimeout(t *testing.T) {
	addr := silentServer(t)
	for _, url := range []string{"ldap://" + addr, "ldaps://" + addr} {
		cfg := validConfig()
		cfg.URL, cfg.Timeout = url, Duration(300*time.Millisecond)
		d := newDirectory(t, cfg)
		start := time.Now()
		_, err := d.Authenticate(t.Context(), "alice", distinctive)
		wantUnavailable(t, err, `directory "corp" at `+url, "no answer within 300ms")
		checkNoPassword(t, err, distinctive)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("%s: gave up after %s, want about 300ms", url, took)
		}
	}

	cfg := validConfig()
	cfg.URL = "ldap://" + addr
	ctx, cancel := context.WithCancel(t.Context())
	time.AfterFunc(200*time.Millisecond, cancel)
	_, err := newDirectory(t, cfg).Authenticate(ctx, "alice", distinctive)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled: %v, want context.Canceled", err)
	}
}
