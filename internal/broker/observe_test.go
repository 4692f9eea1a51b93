package broker_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
	"golang.org/x/crypto/ssh"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/internal/broker"
	"github.com/rosterhq/roster/internal/metrics"
	"github.com/rosterhq/roster/internal/store"
	"github.com/rosterhq/roster/vault"
)

// observed records what the broker reports.
type observed struct {
	mu     sync.Mutex
	events []string // "kind/result"
}

func (o *observed) ObserveIssuance(kind, result string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.events = append(o.events, kind+"/"+result)
}

func (o *observed) take() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	e := o.events
	o.events = nil
	return e
}

// faultStore is the real store with switches that make the audit log or the
// grant lookup fail, for the broker's failure paths.
type faultStore struct {
	roster.Store
	failAudit  atomic.Bool
	failGrants atomic.Bool
}

func (s *faultStore) AppendAudit(ctx context.Context, e *roster.AuditEvent) error {
	if s.failAudit.Load() {
		return errors.New("audit log unavailable")
	}
	return s.Store.AppendAudit(ctx, e)
}

func (s *faultStore) Grants(ctx context.Context, f roster.GrantFilter) ([]*roster.Grant, error) {
	if s.failGrants.Load() {
		return nil, errors.New("database is locked")
	}
	return s.Store.Grants(ctx, f)
}

type fixture struct {
	store   *faultStore
	backend *vault.Local
	broker  *broker.Broker
	seen    *observed
	admin   broker.Actor
	runner  broker.Actor // holds grants of "db" and "ca" for "prod"
	auditor broker.Actor
}

func newFixture(t *testing.T, observer broker.IssuanceObserver) *fixture {
	t.Helper()
	ctx := t.Context()
	st, err := store.OpenSQLite(ctx, filepath.Join(t.TempDir(), "roster.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	key, err := vault.GenerateLocalKey()
	if err != nil {
		t.Fatal(err)
	}
	backend, err := vault.NewLocal(st, key, vault.LocalOptions{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{store: &faultStore{Store: st}, backend: backend, seen: &observed{}}
	if observer == nil {
		observer = f.seen
	}
	f.broker = broker.New(f.store, backend, log, broker.WithIssuanceObserver(observer))
	token := func(name string, role roster.Role) broker.Actor {
		tok := &roster.Token{Name: name, Role: role}
		_, hash := roster.NewTokenValue()
		if err := st.CreateToken(ctx, tok, hash); err != nil {
			t.Fatal(err)
		}
		return broker.TokenActor(tok)
	}
	f.admin = token("admin", roster.RoleAdmin)
	f.runner = token("runner", roster.RoleRunner)
	f.auditor = token("auditor", roster.RoleAuditor)
	prod := &roster.Inventory{Name: "prod"}
	if err := st.CreateInventory(ctx, prod); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateInventory(ctx, &roster.Inventory{Name: "dev"}); err != nil {
		t.Fatal(err)
	}
	for _, in := range []broker.CredentialInput{
		{Name: "db", Type: roster.CredentialPassword, Fields: map[string]roster.Secret{"username": "app", "password": "pw-never-in-a-label"}},
		{Name: "ca", Type: roster.CredentialSSHCertificate, Fields: map[string]roster.Secret{"username": "deploy", "principals": "deploy,backup", "ttl": "20m"}},
	} {
		c, err := f.broker.Create(ctx, f.admin, in)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.CreateGrant(ctx, &roster.Grant{TokenID: f.runner.Token.ID, CredentialID: c.ID, InventoryID: prod.ID}); err != nil {
			t.Fatal(err)
		}
	}
	if got := f.seen.take(); len(got) != 0 {
		t.Fatalf("creating credentials was reported as issuances: %v", got)
	}
	return f
}

func ed25519Key(t *testing.T) string {
	t.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(k))
}

func rsa1024Key(t *testing.T) string {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return string(ssh.MarshalAuthorizedKey(k))
}

// TestIssuanceObserver walks every outcome path of Issue and SignSSHKey and
// checks that each call is reported exactly once, with the right result.
func TestIssuanceObserver(t *testing.T) {
	f := newFixture(t, nil)
	ctx := t.Context()
	pub := ed25519Key(t)
	weak := rsa1024Key(t)
	issue := func(actor broker.Actor, cred, inv string, wrap bool, ttl time.Duration) func() error {
		return func() error {
			_, err := f.broker.Issue(ctx, actor, broker.IssueRequest{Credential: cred, Inventory: inv, Wrap: wrap, WrapTTL: ttl})
			return err
		}
	}
	sign := func(actor broker.Actor, req broker.SignRequest) func() error {
		return func() error { _, err := f.broker.SignSSHKey(ctx, actor, req); return err }
	}
	for _, tc := range []struct {
		name   string
		call   func() error
		setup  func() (undo func())
		want   string
		status roster.AuditOutcome // the audit record the call leaves ("": none)
	}{
		{name: "issued", call: issue(f.runner, "db", "prod", false, 0), want: "issue/issued", status: roster.AuditAllowed},
		{name: "admin without a grant", call: issue(f.admin, "db", "prod", false, 0), want: "issue/denied", status: roster.AuditDenied},
		{name: "no grant for this inventory", call: issue(f.runner, "db", "dev", false, 0), want: "issue/denied", status: roster.AuditDenied},
		{name: "unknown inventory", call: issue(f.runner, "db", "nope", false, 0), want: "issue/denied", status: roster.AuditDenied},
		{name: "role that uses no credentials", call: issue(f.auditor, "db", "prod", false, 0), want: "issue/denied", status: roster.AuditDenied},
		{name: "no token", call: issue(broker.Syncer, "db", "prod", false, 0), want: "issue/denied", status: roster.AuditDenied},
		{name: "unknown credential", call: issue(f.runner, "nope", "prod", false, 0), want: "issue/denied"},
		{name: "ssh_certificate cannot be issued", call: issue(f.runner, "ca", "prod", false, 0), want: "issue/denied"},
		{name: "wrap ttl out of range", call: issue(f.runner, "db", "prod", true, time.Hour), want: "issue/denied"},
		{name: "backend cannot wrap", call: issue(f.runner, "db", "prod", true, time.Minute), want: "issue/error", status: roster.AuditFailed},
		{
			name: "secret gone from the backend", call: issue(f.runner, "db", "prod", false, 0), want: "issue/error", status: roster.AuditFailed,
			setup: func() func() {
				c, err := f.store.Credential(ctx, "db")
				if err != nil {
					t.Fatal(err)
				}
				secrets, _, err := f.backend.GetSecrets(ctx, c.Path)
				if err != nil {
					t.Fatal(err)
				}
				if err := f.backend.DeleteSecrets(ctx, c.Path); err != nil {
					t.Fatal(err)
				}
				return func() {
					if _, err := f.backend.PutSecrets(ctx, c.Path, secrets, 0); err != nil {
						t.Fatal(err)
					}
				}
			},
		},
		{name: "store fails", call: issue(f.runner, "db", "prod", false, 0), want: "issue/error", setup: toggle(&f.store.failGrants)},
		{name: "audit fails", call: issue(f.runner, "db", "prod", false, 0), want: "issue/error", setup: toggle(&f.store.failAudit)},

		{name: "signed", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: pub}), want: "ssh_sign/issued", status: roster.AuditAllowed},
		{name: "sign without a grant", call: sign(f.admin, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: pub}), want: "ssh_sign/denied", status: roster.AuditDenied},
		{name: "sign for another inventory", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "dev", PublicKey: pub}), want: "ssh_sign/denied", status: roster.AuditDenied},
		{name: "sign with a password credential", call: sign(f.runner, broker.SignRequest{Credential: "db", Inventory: "prod", PublicKey: pub}), want: "ssh_sign/denied"},
		{name: "not a public key", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: "ssh-ed25519 nonsense"}), want: "ssh_sign/denied"},
		{name: "principal beyond the policy", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: pub, Principals: []string{"root"}}), want: "ssh_sign/denied"},
		{name: "ttl beyond the policy", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: pub, TTL: time.Hour}), want: "ssh_sign/denied"},
		{name: "backend refuses a weak key", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: weak}), want: "ssh_sign/error", status: roster.AuditFailed},
		{name: "sign: store fails", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: pub}), want: "ssh_sign/error", setup: toggle(&f.store.failGrants)},
		{name: "sign: audit fails", call: sign(f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: pub}), want: "ssh_sign/error", setup: toggle(&f.store.failAudit)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := map[string]bool{}
			for _, e := range auditEvents(t, f) {
				before[e.ID] = true
			}
			if tc.setup != nil {
				undo := tc.setup()
				err := tc.call()
				undo()
				checkOutcome(t, err, tc.want)
			} else {
				checkOutcome(t, tc.call(), tc.want)
			}
			if got := f.seen.take(); len(got) != 1 || got[0] != tc.want {
				t.Fatalf("observed %v, want exactly [%s]", got, tc.want)
			}
			// Where the broker audits, the record agrees with the metric.
			var outcomes []roster.AuditOutcome
			for _, e := range auditEvents(t, f) {
				if !before[e.ID] {
					outcomes = append(outcomes, e.Outcome)
				}
			}
			if want := []roster.AuditOutcome{tc.status}; tc.status == "" && len(outcomes) != 0 || tc.status != "" && !slices.Equal(outcomes, want) {
				t.Fatalf("audit records %v, want %q", outcomes, tc.status)
			}
		})
	}

	// Uses that are not issuances to a caller are not reported.
	if _, err := f.broker.CAPublicKey(ctx, "ca"); err != nil {
		t.Fatal(err)
	}
	if got := f.seen.take(); len(got) != 0 {
		t.Fatalf("CAPublicKey reported %v", got)
	}
}

func toggle(b *atomic.Bool) func() func() {
	return func() func() {
		b.Store(true)
		return func() { b.Store(false) }
	}
}

func checkOutcome(t *testing.T, err error, want string) {
	t.Helper()
	if issued := strings.HasSuffix(want, "/issued"); issued != (err == nil) {
		t.Fatalf("err = %v, want %s", err, want)
	}
}

func auditEvents(t *testing.T, f *fixture) []*roster.AuditEvent {
	t.Helper()
	events, _, err := f.store.Store.AuditEvents(t.Context(), roster.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	return events
}

// TestIssuanceMetrics: the broker's reports reach
// roster_broker_issuances_total in internal/metrics, and a scrape shows
// them with nothing but the kind and the result as labels.
func TestIssuanceMetrics(t *testing.T) {
	m := metrics.New(metrics.Options{})
	f := newFixture(t, m)
	ctx := t.Context()
	for range 2 {
		if _, err := f.broker.Issue(ctx, f.runner, broker.IssueRequest{Credential: "db", Inventory: "prod"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.broker.Issue(ctx, f.admin, broker.IssueRequest{Credential: "db", Inventory: "prod"}); err == nil {
		t.Fatal("an admin without a grant got the credential")
	}
	if _, err := f.broker.SignSSHKey(ctx, f.runner, broker.SignRequest{Credential: "ca", Inventory: "prod", PublicKey: rsa1024Key(t)}); err == nil {
		t.Fatal("a weak key was signed")
	}
	srv := httptest.NewServer(m.Handler())
	t.Cleanup(srv.Close)
	const want = `
# HELP roster_broker_issuances_total Credential issuances (kind=issue) and SSH key signings (kind=ssh_sign), by result: issued, denied (refused to the caller) or error (Roster or its secret backend failed).
# TYPE roster_broker_issuances_total counter
roster_broker_issuances_total{kind="issue",result="denied"} 1
roster_broker_issuances_total{kind="issue",result="error"} 0
roster_broker_issuances_total{kind="issue",result="issued"} 2
roster_broker_issuances_total{kind="ssh_sign",result="denied"} 0
roster_broker_issuances_total{kind="ssh_sign",result="error"} 1
roster_broker_issuances_total{kind="ssh_sign",result="issued"} 0
`
	if err := testutil.ScrapeAndCompare(srv.URL+"/", strings.NewReader(want), "roster_broker_issuances_total"); err != nil {
		t.Fatal(err)
	}
}
