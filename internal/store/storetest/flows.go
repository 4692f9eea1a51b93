package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/rosterhq/roster"
)

// testExternalUsers: an external user is found by the identity it is
// linked to, and no two users link the same identity.
func testExternalUsers(t *testing.T, s roster.Store) {
	ctx := t.Context()
	bob := &roster.User{Name: "bob", Source: roster.UserOIDC, Provider: "corp", ExternalID: "https://idp.example/|bob"}
	must(t, s.CreateUser(ctx, bob))
	got, err := s.UserByExternalID(ctx, "corp", "https://idp.example/|bob")
	must(t, err)
	if got.ID != bob.ID || got.Provider != "corp" || got.ExternalID != "https://idp.example/|bob" {
		t.Fatalf("UserByExternalID = %+v", got)
	}
	_, err = s.UserByExternalID(ctx, "other", "https://idp.example/|bob")
	wantCode(t, err, roster.ENOTFOUND)
	_, err = s.UserByExternalID(ctx, "", "")
	wantCode(t, err, roster.ENOTFOUND)
	// Two local users, both unlinked: "" is no identity.
	newUser(t, s, "carol")
	newUser(t, s, "dave")
	wantCode(t, s.CreateUser(ctx, &roster.User{Name: "bob2", Source: roster.UserOIDC, Provider: "corp", ExternalID: "https://idp.example/|bob"}), roster.ECONFLICT)

	// An external user made ahead of its first sign-in is linked then.
	erin := &roster.User{Name: "erin", Source: roster.UserLDAP}
	must(t, s.CreateUser(ctx, erin))
	p, id := "dir", "entry-uuid-erin"
	u, err := s.UpdateUser(ctx, erin.ID, roster.UserUpdate{Provider: &p, ExternalID: &id})
	must(t, err)
	if u.Provider != p || u.ExternalID != id {
		t.Fatalf("UpdateUser linked %+v", u)
	}
	got, err = s.UserByExternalID(ctx, p, id)
	must(t, err)
	if got.ID != erin.ID {
		t.Fatalf("UserByExternalID after linking = %+v", got)
	}
	other := "https://idp.example/|bob"
	corp := "corp"
	_, err = s.UpdateUser(ctx, erin.ID, roster.UserUpdate{Provider: &corp, ExternalID: &other})
	wantCode(t, err, roster.ECONFLICT)
	// Linked once: a second link, to an identity nobody has, is refused too.
	fresh := "entry-uuid-someone-else"
	_, err = s.UpdateUser(ctx, erin.ID, roster.UserUpdate{Provider: &p, ExternalID: &fresh})
	wantCode(t, err, roster.ECONFLICT)
	got, err = s.UserByExternalID(ctx, p, id)
	must(t, err)
	if got.ID != erin.ID {
		t.Fatalf("a refused link changed the user: %+v", got)
	}
}

// testSignInFlows: a flow is found until it expires, a device flow is
// decided once, and ending a flow succeeds for one caller only.
func testSignInFlows(t *testing.T, s roster.Store) {
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Microsecond)
	alice := newUser(t, s, "alice")
	oidc := &roster.SignInFlow{ID: roster.HashToken("state-1"), Kind: roster.FlowOIDC, Provider: "corp", Data: `{"nonce":"n"}`,
		Status: roster.FlowPending, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	must(t, s.CreateSignInFlow(ctx, oidc))
	got, err := s.SignInFlow(ctx, oidc.ID, now)
	must(t, err)
	if got.Kind != roster.FlowOIDC || got.Provider != "corp" || got.Data != `{"nonce":"n"}` || got.Status != roster.FlowPending || got.UserCode != "" || got.UserID != "" ||
		!got.CreatedAt.Equal(now) || !got.ExpiresAt.Equal(now.Add(10*time.Minute)) {
		t.Fatalf("SignInFlow = %+v", got)
	}
	_, err = s.SignInFlow(ctx, oidc.ID, now.Add(10*time.Minute))
	wantCode(t, err, roster.ENOTFOUND)

	device := &roster.SignInFlow{ID: roster.HashToken("device-1"), Kind: roster.FlowDevice, Provider: "corp", UserCode: "ABCD-EFGH",
		Status: roster.FlowPending, CreatedAt: now, ExpiresAt: now.Add(10 * time.Minute)}
	must(t, s.CreateSignInFlow(ctx, device))
	wantCode(t, s.CreateSignInFlow(ctx, &roster.SignInFlow{ID: roster.HashToken("device-2"), Kind: roster.FlowDevice, UserCode: "ABCD-EFGH",
		Status: roster.FlowPending, CreatedAt: now, ExpiresAt: now.Add(time.Minute)}), roster.ECONFLICT)
	got, err = s.SignInFlowByUserCode(ctx, "ABCD-EFGH", now)
	must(t, err)
	if got.ID != device.ID {
		t.Fatalf("SignInFlowByUserCode = %+v", got)
	}
	must(t, s.DecideSignInFlow(ctx, device.ID, roster.FlowApproved, alice.ID))
	wantCode(t, s.DecideSignInFlow(ctx, device.ID, roster.FlowDenied, ""), roster.ECONFLICT)
	_, err = s.SignInFlowByUserCode(ctx, "ABCD-EFGH", now)
	wantCode(t, err, roster.ENOTFOUND) // decided: no longer pending
	got, err = s.SignInFlow(ctx, device.ID, now)
	must(t, err)
	if got.Status != roster.FlowApproved || got.UserID != alice.ID {
		t.Fatalf("decided flow = %+v", got)
	}

	// Of callers ending one flow at once, exactly one succeeds.
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok := 0
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.DeleteSignInFlow(ctx, oidc.ID); err == nil {
				mu.Lock()
				ok++
				mu.Unlock()
			} else if roster.ErrorCode(err) != roster.ENOTFOUND {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	if ok != 1 {
		t.Fatalf("%d callers ended the same flow", ok)
	}

	// Expired flows are purged; a user's approved flow goes with the user.
	n, err := s.DeleteExpiredSignInFlows(ctx, now.Add(11*time.Minute))
	must(t, err)
	if n != 1 {
		t.Fatalf("DeleteExpiredSignInFlows deleted %d, want 1", n)
	}
	again := &roster.SignInFlow{ID: roster.HashToken("device-3"), Kind: roster.FlowDevice, UserCode: "WXYZ-1234", Status: roster.FlowPending, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, s.CreateSignInFlow(ctx, again))
	must(t, s.DecideSignInFlow(ctx, again.ID, roster.FlowApproved, alice.ID))
	must(t, s.DeleteUser(ctx, alice.ID))
	_, err = s.SignInFlow(ctx, again.ID, now)
	wantCode(t, err, roster.ENOTFOUND)
}
