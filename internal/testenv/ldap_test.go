package testenv_test

import (
	"crypto/tls"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestLDAP signs in the way Roster will, with go-ldap against slapd: a service
// bind over StartTLS or LDAPS, a user search, a bind as the user, and the
// user's groups from memberOf, nested groups included.
func TestLDAP(t *testing.T) {
	start := time.Now()
	s := testenv.LDAP(t)
	t.Logf("slapd at %s and %s ready in %s", s.URL, s.LDAPSURL, time.Since(start).Round(time.Millisecond))

	alice := s.AddUser(t, "alice", "alice-password")
	bob := s.AddUser(t, "bob", "bob-password")
	dba := s.AddGroup(t, "dba", alice)
	ops := s.AddGroup(t, "ops", dba) // ops ⊃ dba ∋ alice
	devs := s.AddGroup(t, "devs", bob)

	// Each way in: StartTLS on ldap://, and ldaps://.
	connect := map[string]func(t *testing.T, cfg *tls.Config) (*ldap.Conn, error){
		"starttls": func(t *testing.T, cfg *tls.Config) (*ldap.Conn, error) {
			c, err := ldap.DialURL(s.URL)
			if err != nil {
				return nil, err
			}
			if err := c.StartTLS(cfg); err != nil {
				c.Close()
				return nil, err
			}
			return c, nil
		},
		"ldaps": func(t *testing.T, cfg *tls.Config) (*ldap.Conn, error) {
			return ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(cfg))
		},
	}
	for _, way := range []string{"starttls", "ldaps"} {
		t.Run(way, func(t *testing.T) {
			c, err := connect[way](t, s.TLSConfig())
			if err != nil {
				t.Fatalf("connect: %v", err)
			}
			defer c.Close()
			if _, ok := c.TLSConnectionState(); !ok {
				t.Fatal("the connection is not TLS")
			}
			if err := c.Bind(s.ServiceDN, s.ServicePassword); err != nil {
				t.Fatalf("service bind: %v", err)
			}
			res, err := c.Search(ldap.NewSearchRequest(s.PeopleDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 10, false,
				"(&(objectClass=inetOrgPerson)(uid="+ldap.EscapeFilter("alice")+"))",
				[]string{"uid", "mail", "memberOf", "entryUUID"}, nil))
			if err != nil {
				t.Fatalf("user search: %v", err)
			}
			if len(res.Entries) != 1 || res.Entries[0].DN != alice {
				t.Fatalf("user search found %d entries, want %s", len(res.Entries), alice)
			}
			e := res.Entries[0]
			if e.GetAttributeValue("mail") != "alice@example.test" || e.GetAttributeValue("entryUUID") == "" {
				t.Errorf("alice: mail %q entryUUID %q", e.GetAttributeValue("mail"), e.GetAttributeValue("entryUUID"))
			}
			if got := e.GetAttributeValues("memberOf"); !slices.Equal(got, []string{dba}) {
				t.Errorf("alice's memberOf = %q, want [%s] (direct groups only)", got, dba)
			}
			// Nesting: the group's own memberOf names its parent.
			res, err = c.Search(ldap.NewSearchRequest(dba, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 10, false,
				"(objectClass=groupOfNames)", []string{"memberOf"}, nil))
			if err != nil {
				t.Fatalf("read %s: %v", dba, err)
			}
			if got := res.Entries[0].GetAttributeValues("memberOf"); !slices.Equal(got, []string{ops}) {
				t.Errorf("dba's memberOf = %q, want [%s]", got, ops)
			}
			// Groups by search, for directories without memberOf.
			res, err = c.Search(ldap.NewSearchRequest(s.GroupsDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 10, false,
				"(&(objectClass=groupOfNames)(member="+ldap.EscapeFilter(bob)+"))", []string{"cn"}, nil))
			if err != nil || len(res.Entries) != 1 || res.Entries[0].DN != devs {
				t.Errorf("groups naming bob: %v %v, want %s", res, err, devs)
			}

			// The user's bind, right and wrong.
			if err := c.Bind(alice, "alice-password"); err != nil {
				t.Fatalf("bind as alice: %v", err)
			}
			err = c.Bind(alice, "not-alice-password")
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Fatalf("bind with a wrong password: %v, want invalid credentials (49)", err)
			}
			err = c.Bind("uid=nobody,"+s.PeopleDN, "x")
			if !ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials) {
				t.Fatalf("bind as an unknown user: %v, want invalid credentials (49)", err)
			}
		})
	}

	t.Run("untrusted CA", func(t *testing.T) {
		for way, dial := range connect {
			c, err := dial(t, &tls.Config{ServerName: "127.0.0.1"}) // the system's CAs only
			if err == nil {
				c.Close()
				t.Errorf("%s: a client that does not trust the test CA connected", way)
			}
		}
	})

	t.Run("anonymous sees nothing", func(t *testing.T) {
		c, err := ldap.DialURL(s.URL)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		res, err := c.Search(ldap.NewSearchRequest(s.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, 0, 0, false,
			"(uid=*)", []string{"uid"}, nil))
		if err == nil && len(res.Entries) > 0 {
			t.Fatalf("an anonymous search found %d entries", len(res.Entries))
		}
	})

	t.Run("membership changes while running", func(t *testing.T) {
		carol := s.AddUser(t, "carol", "carol-password")
		s.AddMember(t, dba, carol)
		if got := memberOf(t, s, carol); !slices.Equal(got, []string{dba}) {
			t.Fatalf("carol's memberOf after AddMember = %q, want [%s]", got, dba)
		}
		s.RemoveMember(t, dba, carol)
		if got := memberOf(t, s, carol); len(got) != 0 {
			t.Fatalf("carol's memberOf after RemoveMember = %q, want none", got)
		}
		// refint: a deleted user leaves the groups that named it.
		s.AddMember(t, devs, carol)
		s.Delete(t, carol)
		if got := members(t, s, devs); !slices.Equal(got, []string{bob}) {
			t.Fatalf("devs' members after deleting carol = %q, want [%s]", got, bob)
		}
	})

	t.Run("directory down", func(t *testing.T) {
		s.Stop()
		_, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(s.TLSConfig()))
		var le *ldap.Error
		if !errors.As(err, &le) || le.ResultCode != ldap.ErrorNetwork {
			t.Fatalf("dial a stopped slapd: %v, want a network error (code %d)", err, ldap.ErrorNetwork)
		}
	})
}

func memberOf(t *testing.T, s *testenv.LDAPServer, dn string) []string {
	t.Helper()
	return readAttr(t, s, dn, "memberOf")
}

func members(t *testing.T, s *testenv.LDAPServer, dn string) []string {
	t.Helper()
	return readAttr(t, s, dn, "member")
}

func readAttr(t *testing.T, s *testenv.LDAPServer, dn, attr string) []string {
	t.Helper()
	c, err := ldap.DialURL(s.LDAPSURL, ldap.DialWithTLSConfig(s.TLSConfig()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := c.Bind(s.ServiceDN, s.ServicePassword); err != nil {
		t.Fatal(err)
	}
	res, err := c.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases, 0, 10, false,
		"(objectClass=*)", []string{attr}, nil))
	if err != nil {
		t.Fatalf("read %s of %s: %v", attr, dn, err)
	}
	return res.Entries[0].GetAttributeValues(attr)
}
