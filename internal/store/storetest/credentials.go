package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

func newCredential(t *testing.T, s roster.Store, name string) *roster.Credential {
	t.Helper()
	c := &roster.Credential{Name: name, Type: roster.CredentialPassword, Fields: map[string]string{"username": "deploy"},
		SecretsSet: []string{"password"}, Path: "roster/credentials/" + name, Version: 1}
	must(t, s.CreateCredential(t.Context(), c))
	return c
}

func testCredentials(t *testing.T, s roster.Store) {
	ctx := t.Context()
	c := newCredential(t, s, "deploy")
	wantCode(t, s.CreateCredential(ctx, &roster.Credential{Name: "deploy", Type: roster.CredentialToken}), roster.ECONFLICT)
	for _, ref := range []string{c.ID, "deploy"} {
		got, err := s.Credential(ctx, ref)
		must(t, err)
		if got.Fields["username"] != "deploy" || !slices.Equal(got.SecretsSet, []string{"password"}) || got.Version != 1 || got.Path != c.Path {
			t.Fatalf("Credential(%q) = %+v", ref, got)
		}
	}
	v := 2
	upd, err := s.UpdateCredential(ctx, c.ID, roster.CredentialUpdate{Fields: map[string]string{"username": "root"}, Version: &v})
	must(t, err)
	if upd.Fields["username"] != "root" || upd.Version != 2 || !slices.Equal(upd.SecretsSet, []string{"password"}) {
		t.Fatalf("updated = %+v", upd)
	}
	newCredential(t, s, "other")
	list, err := s.Credentials(ctx)
	must(t, err)
	if len(list) != 2 || list[0].Name != "deploy" {
		t.Fatalf("Credentials = %d", len(list))
	}
	// A source syncing with the credential keeps it from being deleted.
	src := &roster.Source{InventoryID: newInventory(t, s, "prod").ID, Name: "ec2", Provider: "aws", OnMissing: roster.OnMissingRemove, CredentialID: c.ID}
	must(t, s.CreateSource(ctx, src))
	got, err := s.Source(ctx, src.ID)
	must(t, err)
	if got.CredentialID != c.ID {
		t.Fatalf("source credential = %q", got.CredentialID)
	}
	wantCode(t, s.DeleteCredential(ctx, c.ID), roster.ECONFLICT)
	missing := "missing"
	_, err = s.UpdateSource(ctx, src.ID, roster.SourceUpdate{CredentialID: &missing})
	wantCode(t, err, roster.ENOTFOUND)
	none := ""
	_, err = s.UpdateSource(ctx, src.ID, roster.SourceUpdate{CredentialID: &none})
	must(t, err)
	must(t, s.DeleteCredential(ctx, c.ID))
	_, err = s.Credential(ctx, c.ID)
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, s.DeleteCredential(ctx, c.ID), roster.ENOTFOUND)
}

func testGrants(t *testing.T, s roster.Store) {
	ctx := t.Context()
	inv := newInventory(t, s, "prod")
	cred := newCredential(t, s, "deploy")
	_, hash := roster.NewTokenValue()
	tok := &roster.Token{Name: "runner", Role: roster.RoleRunner}
	must(t, s.CreateToken(ctx, tok, hash))
	g := &roster.Grant{TokenID: tok.ID, CredentialID: cred.ID, InventoryID: inv.ID}
	must(t, s.CreateGrant(ctx, g))
	wantCode(t, s.CreateGrant(ctx, &roster.Grant{TokenID: tok.ID, CredentialID: cred.ID, InventoryID: inv.ID}), roster.ECONFLICT)
	wantCode(t, s.CreateGrant(ctx, &roster.Grant{TokenID: "missing", CredentialID: cred.ID, InventoryID: inv.ID}), roster.ENOTFOUND)
	got, err := s.Grants(ctx, roster.GrantFilter{TokenID: tok.ID, CredentialID: cred.ID, InventoryID: inv.ID})
	must(t, err)
	if len(got) != 1 || got[0].ID != g.ID {
		t.Fatalf("Grants = %+v", got)
	}
	got, err = s.Grants(ctx, roster.GrantFilter{InventoryID: "elsewhere"})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("grants of another inventory = %+v", got)
	}
	// Revoking the token removes its grants.
	must(t, s.DeleteToken(ctx, tok.ID))
	got, err = s.Grants(ctx, roster.GrantFilter{CredentialID: cred.ID})
	must(t, err)
	if len(got) != 0 {
		t.Fatalf("a revoked token keeps grants: %+v", got)
	}
	wantCode(t, s.DeleteGrant(ctx, g.ID), roster.ENOTFOUND)
}

func testAudit(t *testing.T, s roster.Store) {
	ctx := t.Context()
	for i, action := range []string{"credential.create", "credential.issue", "credential.issue", "credential.ssh_sign", "source.update"} {
		e := &roster.AuditEvent{Actor: "runner", ActorID: "t1", Action: action, Outcome: roster.AuditAllowed, TargetType: "credential", TargetID: "c1",
			Details: map[string]string{"n": string(rune('0' + i))}}
		if i == 2 {
			e.Outcome, e.Reason = roster.AuditDenied, "no grant"
		}
		must(t, s.AppendAudit(ctx, e))
		if e.ID == "" || e.Time.IsZero() || e.Count != 1 || !e.LastTime.Equal(e.Time) {
			t.Fatalf("appended event lacks id, time or count: %+v", e)
		}
	}
	page, next, err := s.AuditEvents(ctx, roster.AuditFilter{Limit: 3})
	must(t, err)
	if len(page) != 3 || next == "" || page[0].Action != "source.update" {
		t.Fatalf("first page = %d events, next %q", len(page), next)
	}
	rest, next, err := s.AuditEvents(ctx, roster.AuditFilter{Limit: 3, After: next})
	must(t, err)
	if len(rest) != 2 || next != "" || rest[1].Details["n"] != "0" {
		t.Fatalf("second page = %+v", rest)
	}
	issued, _, err := s.AuditEvents(ctx, roster.AuditFilter{Action: "credential.issue"})
	must(t, err)
	if len(issued) != 2 || issued[0].Outcome != roster.AuditDenied || issued[0].Reason != "no grant" {
		t.Fatalf("issue events = %+v", issued)
	}
}

func testSecretBlobs(t *testing.T, s roster.Store) {
	ctx := t.Context()
	v, err := s.PutSecretBlob(ctx, "c/1", []byte("sealed-1"), 0)
	must(t, err)
	if v != 1 {
		t.Fatalf("first version = %d", v)
	}
	_, err = s.PutSecretBlob(ctx, "c/1", []byte("late"), 0)
	wantCode(t, err, roster.ECONFLICT)
	v, err = s.PutSecretBlob(ctx, "c/1", []byte("sealed-2"), 1)
	must(t, err)
	blob, got, err := s.SecretBlob(ctx, "c/1")
	must(t, err)
	if v != 2 || got != 2 || string(blob) != "sealed-2" {
		t.Fatalf("blob %q version %d/%d", blob, v, got)
	}
	must(t, s.DeleteSecretBlob(ctx, "c/1"))
	_, _, err = s.SecretBlob(ctx, "c/1")
	wantCode(t, err, roster.ENOTFOUND)
	wantCode(t, s.DeleteSecretBlob(ctx, "c/1"), roster.ENOTFOUND)
}

// auditLimited is a store whose audit limits a test sets; both stores are.
type auditLimited interface {
	SetAuditLimits(roster.AuditLimits)
}

func setAuditLimits(t *testing.T, s roster.Store, l roster.AuditLimits) {
	t.Helper()
	ls, ok := s.(auditLimited)
	if !ok {
		t.Fatalf("%T cannot be given audit limits", s)
	}
	ls.SetAuditLimits(l)
}

// auditRecords lists every audit record, newest first.
func auditRecords(t *testing.T, s roster.Store, f roster.AuditFilter) []*roster.AuditEvent {
	t.Helper()
	var out []*roster.AuditEvent
	for {
		f.Limit = 500
		page, next, err := s.AuditEvents(t.Context(), f)
		must(t, err)
		out = append(out, page...)
		if next == "" {
			return out
		}
		f.After = next
	}
}

// testAuditAggregatesRefusals: identical refusals of a caller within a
// window are one record counting them; a caller's distinct refusals beyond
// the limit are counted on one summary record; issuances are never
// folded, whatever surrounds them.
func testAuditAggregatesRefusals(t *testing.T, s roster.Store) {
	ctx := t.Context()
	setAuditLimits(t, s, roster.AuditLimits{Window: time.Hour, PerCaller: 3})
	t0 := time.Date(2030, 1, 1, 10, 1, 0, 0, time.UTC)
	issue := func(at time.Time) *roster.AuditEvent {
		e := &roster.AuditEvent{Time: at, Actor: "runner", ActorID: "t1", Action: "credential.issue", Outcome: roster.AuditAllowed,
			TargetType: "credential", TargetID: "c1", TargetName: "db", InventoryID: "i1", Details: map[string]string{"version": "1"}}
		must(t, s.AppendAudit(ctx, e))
		return e
	}
	deny := func(at time.Time, actorID, reason string) *roster.AuditEvent {
		e := &roster.AuditEvent{Time: at, Actor: "runner-" + actorID, ActorID: actorID, Action: "credential.issue", Outcome: roster.AuditDenied,
			TargetType: "credential", TargetID: "c2", TargetName: "root", InventoryID: "i1", Reason: reason}
		must(t, s.AppendAudit(ctx, e))
		return e
	}
	before := issue(t0)
	first := deny(t0, "t1", "no grant")
	for i := 1; i < 1000; i++ {
		e := deny(t0.Add(time.Duration(i)*time.Millisecond), "t1", "no grant")
		if e.ID != first.ID || e.Count != int64(i+1) {
			t.Fatalf("repeat %d: record %s count %d, want record %s count %d", i, e.ID, e.Count, first.ID, i+1)
		}
	}
	// Two more distinct refusals reach the limit of 3; the ten after them
	// are counted on one summary record.
	for i := range 12 {
		deny(t0.Add(2*time.Second), "t1", fmt.Sprintf("no inventory %q", fmt.Sprint("guess-", i)))
	}
	// Another caller has limits of its own; the next window starts anew.
	other := deny(t0.Add(3*time.Second), "t2", "no grant")
	next := deny(t0.Add(time.Hour), "t1", "no grant")
	after := issue(t0.Add(time.Hour))
	again := issue(t0.Add(time.Hour)) // identical, and still a record of its own

	all := auditRecords(t, s, roster.AuditFilter{})
	if len(all) != 1+3+1+1+1+2 {
		for _, e := range all {
			t.Logf("%s %s %s %q ×%d", e.Time, e.Actor, e.Outcome, e.Reason, e.Count)
		}
		t.Fatalf("%d records, want 9", len(all))
	}
	byID := map[string]*roster.AuditEvent{}
	var summaries []*roster.AuditEvent
	for _, e := range all {
		byID[e.ID] = e
		if e.Details["suppressed"] == "true" {
			summaries = append(summaries, e)
		}
	}
	if got := byID[first.ID]; got == nil || got.Count != 1000 || !got.Time.Equal(t0) || !got.LastTime.Equal(t0.Add(999*time.Millisecond)) || got.Reason != "no grant" {
		t.Fatalf("the aggregated refusal = %+v, want 1000 from %s to %s", got, t0, t0.Add(999*time.Millisecond))
	}
	if len(summaries) != 1 || summaries[0].Count != 10 || summaries[0].ActorID != "t1" || summaries[0].Action != "credential.issue" ||
		summaries[0].Outcome != roster.AuditDenied || summaries[0].TargetID != "" {
		t.Fatalf("summaries = %+v, want one of t1's 10 suppressed refusals", summaries)
	}
	for _, e := range []*roster.AuditEvent{other, next} {
		if got := byID[e.ID]; got == nil || got.Count != 1 || e.ID == first.ID {
			t.Fatalf("record %+v: want a record of its own, count 1", got)
		}
	}
	for _, e := range []*roster.AuditEvent{before, after, again} {
		got := byID[e.ID]
		if got == nil || got.Count != 1 || !got.LastTime.Equal(got.Time) || got.Outcome != roster.AuditAllowed || got.Details["version"] != "1" {
			t.Fatalf("issuance %s: %+v, want its own record", e.ID, got)
		}
	}
	if after.ID == again.ID {
		t.Fatal("two identical issuances share a record")
	}
}

// testAuditBoundUnderConcurrency: writers racing (connections of one
// process here, processes of a cluster in production) neither lose a
// count nor exceed a caller's limit.
func testAuditBoundUnderConcurrency(t *testing.T, s roster.Store) {
	ctx := t.Context()
	const limit, writers, each = 5, 8, 40
	setAuditLimits(t, s, roster.AuditLimits{Window: time.Hour, PerCaller: limit})
	t0 := time.Date(2030, 1, 1, 10, 0, 0, 0, time.UTC)
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				reason := "no grant"
				if i%2 == 1 {
					reason = fmt.Sprintf("no inventory %q", fmt.Sprint(w, "-", i))
				}
				e := &roster.AuditEvent{Time: t0.Add(time.Duration(i) * time.Millisecond), Actor: "flood", ActorID: "t9", Action: "credential.issue",
					Outcome: roster.AuditDenied, TargetType: "credential", TargetID: "c1", Reason: reason}
				if err := s.AppendAudit(ctx, e); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all := auditRecords(t, s, roster.AuditFilter{Actor: "flood"})
	var total int64
	for _, e := range all {
		total += e.Count
	}
	if len(all) > limit+1 || total != writers*each {
		t.Fatalf("%d records counting %d events, want at most %d records counting %d", len(all), total, limit+1, writers*each)
	}
}

// testAuditPurge: retention removes what is older than its kind's
// retention, and nothing younger; an issuance outlives the refusals of the
// same age when refusals are kept for less.
func testAuditPurge(t *testing.T, s roster.Store) {
	ctx := t.Context()
	setAuditLimits(t, s, roster.AuditLimits{Window: time.Hour, PerCaller: 10000})
	now := time.Date(2030, 6, 1, 12, 0, 0, 0, time.UTC)
	day := 24 * time.Hour
	add := func(age time.Duration, outcome roster.AuditOutcome, reason string) *roster.AuditEvent {
		e := &roster.AuditEvent{Time: now.Add(-age), Actor: "runner", ActorID: "t1", Action: "credential.issue", Outcome: outcome,
			TargetType: "credential", TargetID: "c1", Reason: reason}
		must(t, s.AppendAudit(ctx, e))
		return e
	}
	add(400*day, roster.AuditAllowed, "")
	keptIssue := add(364*day, roster.AuditAllowed, "")
	sameAgeIssue := add(100*day, roster.AuditAllowed, "")
	add(100*day, roster.AuditDenied, "no grant")
	add(91*day, roster.AuditFailed, "vault is sealed")
	keptRefusal := add(89*day, roster.AuditDenied, "no grant")
	// More old refusals than one purge batch removes.
	const flood = 2100
	for i := range flood {
		add(200*day, roster.AuditDenied, fmt.Sprint("guess ", i))
	}
	r := roster.AuditRetention{Allowed: 365 * day, Failures: 90 * day}
	n, err := s.PurgeAudit(ctx, r.Purge(now))
	must(t, err)
	if n != 3+flood {
		t.Fatalf("purged %d records, want %d", n, 3+flood)
	}
	left := auditRecords(t, s, roster.AuditFilter{})
	var ids []string
	for _, e := range left {
		ids = append(ids, e.ID)
	}
	slices.Sort(ids)
	want := []string{keptIssue.ID, sameAgeIssue.ID, keptRefusal.ID}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("after the purge: %v, want %v", ids, want)
	}
	// Purging is idempotent, and zero retention keeps everything.
	for _, p := range []roster.AuditPurge{r.Purge(now), roster.AuditRetention{}.Purge(now)} {
		n, err := s.PurgeAudit(ctx, p)
		must(t, err)
		if n != 0 {
			t.Fatalf("purge %+v again removed %d", p, n)
		}
	}
}
