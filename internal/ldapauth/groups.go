package ldapauth

import (
	"slices"
	"strings"

	"github.com/go-ldap/ldap/v3"
)

// groupWalk collects a user's groups breadth first: level 1 the direct
// groups, each next level their parents, up to max_depth levels. A group is
// visited once (cycles end), and at most max_groups are: a directory cannot
// make a sign-in hold unbounded memory.
type groupWalk struct {
	c     *conn
	seen  map[string]bool // normalized DNs
	names map[string]bool
}

// groups returns the names of the groups of user (an entry read with
// memberOf in the memberOf mode), sorted, without duplicates.
func (c *conn) groups(user *ldap.Entry, username string) ([]string, error) {
	w := &groupWalk{c: c, seen: map[string]bool{}, names: map[string]bool{}}
	var err error
	if c.d.cfg.Membership == MembershipSearch {
		err = w.bySearch(user.DN, username)
	} else {
		err = w.byMemberOf(user)
	}
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(w.names))
	for n := range w.names {
		out = append(out, n)
	}
	slices.Sort(out)
	return out, nil
}

func (w *groupWalk) maxDepth() int {
	if !*w.c.d.cfg.Nested {
		return 1
	}
	return w.c.d.cfg.MaxDepth
}

// visit marks dn seen and reports whether it is new; more groups than
// max_groups is an error.
func (w *groupWalk) visit(dn string) (bool, error) {
	k := dnKey(dn)
	if w.seen[k] {
		return false, nil
	}
	if len(w.seen) >= w.c.d.cfg.MaxGroups {
		return false, w.tooMany()
	}
	w.seen[k] = true
	return true, nil
}

func (w *groupWalk) tooMany() error {
	return w.c.d.misconfigured("the user is in more than %d groups (max_groups); sign-in refused rather than with some of them", w.c.d.cfg.MaxGroups)
}

func (w *groupWalk) name(e *ldap.Entry) {
	if n := e.GetEqualFoldAttributeValue(w.c.d.cfg.GroupNameAttribute); n != "" {
		w.names[n] = true
	}
}

// memberOf returns the entry's memberOf values. Active Directory hands out
// a long list in ranges ("memberOf;range=0-1499"): one is more groups than
// a sign-in takes.
func (w *groupWalk) memberOf(e *ldap.Entry) ([]string, error) {
	for _, a := range e.Attributes {
		if strings.HasPrefix(strings.ToLower(a.Name), "memberof;range=") {
			return nil, w.tooMany()
		}
	}
	return e.GetEqualFoldAttributeValues("memberOf"), nil
}

// inScope reports whether a group counts: under group_base when one is set.
func (w *groupWalk) inScope(dn string) bool {
	base := w.c.d.groupBase
	if base == nil {
		return true
	}
	p, err := ldap.ParseDN(dn)
	return err == nil && (base.EqualFold(p) || base.AncestorOfFold(p))
}

// byMemberOf follows memberOf: the user's, then each group's own.
func (w *groupWalk) byMemberOf(user *ldap.Entry) error {
	cfg := w.c.d.cfg
	// enqueue adds to *into the groups of dns that count and are new.
	enqueue := func(dns []string, into *[]string) error {
		for _, dn := range dns {
			if !w.inScope(dn) {
				continue
			}
			if ok, err := w.visit(dn); err != nil {
				return err
			} else if ok {
				*into = append(*into, dn)
			}
		}
		return nil
	}
	direct, err := w.memberOf(user)
	if err != nil {
		return err
	}
	var frontier []string
	if err := enqueue(direct, &frontier); err != nil {
		return err
	}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []string
		for _, dn := range frontier {
			res, err := w.c.l.Search(ldap.NewSearchRequest(dn, ldap.ScopeBaseObject, ldap.NeverDerefAliases,
				1, w.c.timeLimit(), false, "(objectClass=*)", []string{cfg.GroupNameAttribute, "memberOf"}, nil))
			if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
				continue // a stale memberOf value: no such group, no membership
			}
			if err != nil {
				return w.c.d.failed(w.c.ctx, "reading the group "+quote(dn)+" failed", err)
			}
			for _, g := range res.Entries {
				w.name(g)
				if depth >= w.maxDepth() {
					continue
				}
				parents, err := w.memberOf(g)
				if err != nil {
					return err
				}
				if err := enqueue(parents, &next); err != nil {
					return err
				}
			}
		}
		frontier = next
	}
	return nil
}

// bySearch finds the groups whose member is the user with group_filter,
// then the groups whose member is each of those.
func (w *groupWalk) bySearch(userDN, username string) error {
	cfg := w.c.d.cfg
	// search returns the new groups whose member is member.
	search := func(member string) ([]*ldap.Entry, error) {
		filter := strings.NewReplacer("{dn}", ldap.EscapeFilter(member), "{username}", ldap.EscapeFilter(username)).
			Replace(cfg.GroupFilter)
		res, err := w.c.l.Search(ldap.NewSearchRequest(cfg.GroupBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
			cfg.MaxGroups+1, w.c.timeLimit(), false, filter, []string{cfg.GroupNameAttribute}, nil))
		switch {
		case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
			return nil, w.tooMany()
		case err != nil:
			return nil, w.c.d.failed(w.c.ctx, "searching for the groups of "+quote(member)+" failed", err)
		}
		var found []*ldap.Entry
		for _, g := range res.Entries {
			if ok, err := w.visit(g.DN); err != nil {
				return nil, err
			} else if ok {
				found = append(found, g)
			}
		}
		return found, nil
	}
	frontier, err := search(userDN)
	if err != nil {
		return err
	}
	for depth := 1; len(frontier) > 0; depth++ {
		var next []*ldap.Entry
		for _, g := range frontier {
			w.name(g)
			if depth >= w.maxDepth() {
				continue
			}
			parents, err := search(g.DN)
			if err != nil {
				return err
			}
			next = append(next, parents...)
		}
		frontier = next
	}
	return nil
}

// dnKey normalizes a DN for the seen set: attribute types and values in
// lower case, multi-valued RDNs in a fixed order. A DN that does not parse
// is kept as it is, in lower case.
func dnKey(dn string) string {
	p, err := ldap.ParseDN(dn)
	if err != nil {
		return strings.ToLower(dn)
	}
	rdns := make([]string, len(p.RDNs))
	for i, r := range p.RDNs {
		avas := make([]string, len(r.Attributes))
		for j, a := range r.Attributes {
			avas[j] = strings.ToLower(a.Type) + "=" + ldap.EscapeDN(strings.ToLower(a.Value))
		}
		slices.Sort(avas)
		rdns[i] = strings.Join(avas, "+")
	}
	return strings.Join(rdns, ",")
}

func quote(s string) string { return `"` + s + `"` }
