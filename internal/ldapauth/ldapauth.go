// Package ldapauth signs people in against an LDAP directory or Active
// Directory: a service account finds the person's entry, a bind as that
// entry checks the password, and the person's groups, nested ones
// included, are read from memberOf or found by searching.
//
// Every failure refuses the sign-in. A wrong password, an unknown user and
// a name that matches several entries are one and the same error
// (ErrInvalidCredentials), so answers do not tell which names exist; a
// directory that cannot be reached or that misbehaves is EUNAVAILABLE, with
// a message naming it. Passwords travel as roster.Secret, are revealed only
// to the bind and never appear in errors. Limiting attempts is the caller's
// business.
package ldapauth

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/rosterhq/roster"
)

// ErrInvalidCredentials is the answer to a wrong password, an unknown user,
// a user name matching several entries, and an empty password: EUNAUTHORIZED,
// one message for all. Test with errors.Is.
var ErrInvalidCredentials error = &roster.Error{Code: roster.EUNAUTHORIZED, Message: "invalid user name or password"}

// maxUsernameBytes bounds the name typed; longer ones match no one.
const maxUsernameBytes = 256

// Directory signs people in against one directory. It is safe for
// concurrent use; each sign-in has a connection of its own.
type Directory struct {
	cfg       Config // defaults applied
	addr      string // host:port
	ldaps     bool
	tls       *tls.Config
	groupBase *ldap.DN // nil: any group counts (memberOf mode)
	timeout   time.Duration
}

// New checks cfg, reads its CA file and returns the directory. It does not
// connect: a directory that is down fails sign-ins, not Roster's start.
func New(cfg Config) (*Directory, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, err // Validate parsed it
	}
	d := &Directory{cfg: cfg, ldaps: u.Scheme == "ldaps", timeout: time.Duration(cfg.Timeout)}
	port := u.Port()
	if port == "" {
		port = "389"
		if d.ldaps {
			port = "636"
		}
	}
	d.addr = net.JoinHostPort(u.Hostname(), port)
	d.tls = &tls.Config{ServerName: u.Hostname(), MinVersion: tls.VersionTLS12}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, roster.Invalid(roster.FieldError{Field: "ca_file", Message: fmt.Sprintf("cannot be read: %v", err)})
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, roster.Invalid(roster.FieldError{Field: "ca_file", Message: fmt.Sprintf("%s holds no PEM certificate", cfg.CAFile)})
		}
		d.tls.RootCAs = pool
	}
	if cfg.GroupBase != "" && cfg.Membership == MembershipMemberOf {
		if d.groupBase, err = ldap.ParseDN(cfg.GroupBase); err != nil {
			return nil, err // Validate parsed it
		}
	}
	return d, nil
}

// Name is the directory's name in Roster's config.
func (d *Directory) Name() string { return d.cfg.Name }

// Authenticate checks username and password against the directory and
// returns who they are, with their groups. The whole exchange is bounded by
// the configured timeout. A refusal is ErrInvalidCredentials; a directory
// that cannot answer gives EUNAVAILABLE; a ctx cancelled by the caller
// gives its cause.
func (d *Directory) Authenticate(ctx context.Context, username string, password roster.Secret) (*roster.ExternalIdentity, error) {
	// An empty password would be an unauthenticated bind, which many
	// servers answer with success: never send one.
	if password == "" || username == "" || len(username) > maxUsernameBytes {
		return nil, ErrInvalidCredentials
	}
	actx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	id, err := d.authenticate(actx, username, password)
	if err != nil && ctx.Err() != nil && roster.ErrorCode(err) == roster.EUNAVAILABLE {
		return nil, fmt.Errorf("directory %q: sign-in abandoned: %w", d.cfg.Name, context.Cause(ctx))
	}
	return id, err
}

func (d *Directory) authenticate(ctx context.Context, username string, password roster.Secret) (*roster.ExternalIdentity, error) {
	c, err := d.dial(ctx)
	if err != nil {
		return nil, err
	}
	defer c.close()

	if err := c.serviceBind(); err != nil {
		return nil, err
	}
	user, err := c.findUser(username)
	if err != nil {
		return nil, err
	}
	if err := c.userBind(user.DN, password); err != nil {
		return nil, err
	}
	// Back to the service account, which may read what the user may not.
	if err := c.serviceBind(); err != nil {
		return nil, err
	}

	id := &roster.ExternalIdentity{
		Source:      roster.UserLDAP,
		Provider:    d.cfg.Name,
		Username:    strings.ToLower(pickUsername(user.GetEqualFoldAttributeValues(d.cfg.UsernameAttribute), username)),
		DisplayName: user.GetEqualFoldAttributeValue(d.cfg.DisplayNameAttribute),
		Email:       user.GetEqualFoldAttributeValue(d.cfg.EmailAttribute),
	}
	if id.Subject, err = d.subject(user); err != nil {
		return nil, err
	}
	if id.Username == "" {
		return nil, d.misconfigured("the entry of %q has no %s (username_attribute)", username, d.cfg.UsernameAttribute)
	}
	if id.Groups, err = c.groups(user, username); err != nil {
		return nil, err
	}
	return id, nil
}

// pickUsername chooses among the values of a multi-valued username
// attribute (uid may have several) the one typed, else the first.
func pickUsername(values []string, typed string) string {
	for _, v := range values {
		if strings.EqualFold(v, typed) {
			return v
		}
	}
	if len(values) > 0 {
		return values[0]
	}
	return ""
}

// subject returns the entry's stable id: id_attribute's value, a binary
// objectGUID rendered as a UUID.
func (d *Directory) subject(user *ldap.Entry) (string, error) {
	if strings.EqualFold(d.cfg.IDAttribute, "objectGUID") {
		raw := user.GetEqualFoldRawAttributeValue(d.cfg.IDAttribute)
		if len(raw) == 0 {
			return "", d.misconfigured("the entry %q has no %s (id_attribute)", user.DN, d.cfg.IDAttribute)
		}
		s, err := formatGUID(raw)
		if err != nil {
			return "", d.misconfigured("the entry %q: %s: %v", user.DN, d.cfg.IDAttribute, err)
		}
		return s, nil
	}
	s := user.GetEqualFoldAttributeValue(d.cfg.IDAttribute)
	if s == "" {
		return "", d.misconfigured("the entry %q has no %s (id_attribute)", user.DN, d.cfg.IDAttribute)
	}
	return s, nil
}

// formatGUID renders an Active Directory objectGUID (16 bytes, its first
// three fields little-endian) as a canonical lower-case UUID string.
func formatGUID(b []byte) (string, error) {
	if len(b) != 16 {
		return "", fmt.Errorf("a GUID has 16 bytes, not %d", len(b))
	}
	return fmt.Sprintf("%02x%02x%02x%02x-%02x%02x-%02x%02x-%x-%x",
		b[3], b[2], b[1], b[0], b[5], b[4], b[7], b[6], b[8:10], b[10:16]), nil
}

// where names the directory in messages.
func (d *Directory) where() string {
	return fmt.Sprintf("directory %q at %s", d.cfg.Name, d.cfg.URL)
}

// misconfigured reports a directory whose answers do not fit the config.
func (d *Directory) misconfigured(format string, args ...any) error {
	return roster.Errorf(roster.EUNAVAILABLE, "%s: %s", d.where(), fmt.Sprintf(format, args...))
}

// failed reports an operation the directory did not complete.
func (d *Directory) failed(ctx context.Context, what string, err error) error {
	if expired(ctx) {
		return roster.Errorf(roster.EUNAVAILABLE, "%s: no answer within %s (%s)", d.where(), d.timeout, what)
	}
	return roster.Errorf(roster.EUNAVAILABLE, "%s: %s: %s", d.where(), what, describe(err))
}

// expired reports whether ctx is done or past its deadline: the socket's
// deadline, the same, can fire before ctx's timer.
func expired(ctx context.Context) bool {
	deadline, ok := ctx.Deadline()
	return ctx.Err() != nil || ok && !time.Now().Before(deadline)
}

// describe renders an error of go-ldap without its "LDAP Result Code 200
// "Network Error":" noise. None holds a password: binds' errors carry the
// server's diagnostic message, never the request.
func describe(err error) string {
	var le *ldap.Error
	if !errors.As(err, &le) {
		return err.Error()
	}
	if le.ResultCode == ldap.ErrorNetwork && le.Err != nil {
		return le.Err.Error()
	}
	s := fmt.Sprintf("LDAP result %d (%s)", le.ResultCode, ldap.LDAPResultCodeMap[le.ResultCode])
	if le.Err != nil && le.Err.Error() != "" {
		s += ": " + le.Err.Error()
	}
	return s
}

// directoryTrouble lists result codes that say the directory, not the
// person, is in trouble: busy, unavailable, out of time, other.
var directoryTrouble = []uint16{
	ldap.LDAPResultTimeLimitExceeded, ldap.LDAPResultAdminLimitExceeded,
	ldap.LDAPResultBusy, ldap.LDAPResultUnavailable, ldap.LDAPResultOther,
}

// conn is one sign-in's connection.
type conn struct {
	d    *Directory
	ctx  context.Context
	l    *ldap.Conn
	stop func() bool // stops the cancellation hook
}

// dial connects, TLS from the start or by StartTLS, within ctx: its deadline
// is the socket's, and its cancellation cuts every read and write short.
func (d *Directory) dial(ctx context.Context) (*conn, error) {
	var nd net.Dialer
	raw, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		if expired(ctx) {
			return nil, d.failed(ctx, "connecting", err)
		}
		return nil, roster.Errorf(roster.EUNAVAILABLE, "directory %q cannot be reached at %s: %v", d.cfg.Name, d.cfg.URL, err)
	}
	if deadline, ok := ctx.Deadline(); ok {
		_ = raw.SetDeadline(deadline)
	}
	stop := context.AfterFunc(ctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })

	var l *ldap.Conn
	if d.ldaps {
		tc := tls.Client(raw, d.tls.Clone())
		if err := tc.HandshakeContext(ctx); err != nil {
			stop()
			_ = raw.Close()
			return nil, d.failed(ctx, "TLS handshake failed", err)
		}
		l = ldap.NewConn(tc, true)
	} else {
		l = ldap.NewConn(raw, false)
	}
	l.Start()
	l.SetTimeout(d.timeout)
	c := &conn{d: d, ctx: ctx, l: l, stop: stop}
	if d.cfg.StartTLS {
		if err := l.StartTLS(d.tls.Clone()); err != nil {
			c.close()
			return nil, d.failed(ctx, "StartTLS failed", err)
		}
	}
	return c, nil
}

func (c *conn) close() {
	c.stop()
	_ = c.l.Close()
}

// serviceBind binds as the service account.
func (c *conn) serviceBind() error {
	if err := c.l.Bind(c.d.cfg.BindDN, c.d.cfg.BindPassword.Reveal()); err != nil {
		return c.d.failed(c.ctx, fmt.Sprintf("the service account %q could not bind", c.d.cfg.BindDN), err)
	}
	return nil
}

// userBind checks the password with a bind as the user's entry.
func (c *conn) userBind(dn string, password roster.Secret) error {
	if password == "" || dn == "" { // unauthenticated or anonymous bind: never
		return ErrInvalidCredentials
	}
	err := c.l.Bind(dn, password.Reveal())
	var le *ldap.Error
	switch {
	case err == nil:
		return nil
	case expired(c.ctx) || !errors.As(err, &le) || le.ResultCode >= ldap.ErrorNetwork ||
		ldap.IsErrorAnyOf(err, directoryTrouble...):
		return c.d.failed(c.ctx, "the bind to check the password failed", err)
	default:
		// 49 invalidCredentials, and whatever else refuses this person
		// (account locked, password expired, ...): the same answer.
		return ErrInvalidCredentials
	}
}

// timeLimit is the searches' server-side time limit, in whole seconds.
func (c *conn) timeLimit() int {
	return int((c.d.timeout + time.Second - 1) / time.Second)
}

// findUser returns the one entry the user filter matches for username.
func (c *conn) findUser(username string) (*ldap.Entry, error) {
	cfg := c.d.cfg
	attrs := []string{cfg.UsernameAttribute, cfg.DisplayNameAttribute, cfg.EmailAttribute, cfg.IDAttribute}
	if cfg.Membership == MembershipMemberOf {
		attrs = append(attrs, "memberOf")
	}
	filter := strings.ReplaceAll(cfg.UserFilter, "{username}", ldap.EscapeFilter(username))
	res, err := c.l.Search(ldap.NewSearchRequest(cfg.UserBase, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, c.timeLimit(), false, filter, attrs, nil))
	switch {
	case ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded):
		return nil, ErrInvalidCredentials // more than one entry
	case err != nil:
		return nil, c.d.failed(c.ctx, "searching for the user failed", err)
	case len(res.Entries) != 1:
		return nil, ErrInvalidCredentials
	}
	return res.Entries[0], nil
}
