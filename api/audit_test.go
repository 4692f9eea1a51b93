package api_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/api"
)

// auditLog lists every audit record matching query, newest first.
func (f *fixture) auditLog(query url.Values) []api.AuditEvent {
	f.t.Helper()
	var out []api.AuditEvent
	query.Set("limit", "500")
	for {
		var page api.AuditEventList
		r := f.do("GET", "/api/v1/audit?"+query.Encode(), f.admin, nil)
		wantStatus(f.t, r, http.StatusOK)
		r.json(f.t, &page)
		out = append(out, page.Items...)
		if page.NextCursor == nil {
			return out
		}
		query.Set("cursor", *page.NextCursor)
	}
}

// TestAuditFloodIsBounded: a token sending 10,000 refused requests, most
// of them identical, some guessing a new inventory name each time, leaves
// a bounded number of audit records that count every request; the
// issuances of another token before and after the flood are each listed.
func TestAuditFloodIsBounded(t *testing.T) {
	f := newFixture(t)
	f.inventory("prod")
	wantStatus(t, f.do("POST", "/api/v1/credentials", f.admin, map[string]any{"name": "db", "type": "password",
		"fields": map[string]string{"username": "app", "password": secret("flood")}}), http.StatusCreated)
	runner := f.token("runner", roster.RoleRunner)
	wantStatus(t, f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": "runner", "credential": "db", "inventory": "prod"}), http.StatusCreated)
	// The flooder holds a grant of the credential for another inventory:
	// it sees the credential, so its requests reach the broker's refusals
	// (without it, every request would be the one 404 of a hidden
	// credential).
	f.inventory("stage")
	flood := f.token("flood", roster.RoleRunner)
	wantStatus(t, f.do("POST", "/api/v1/grants", f.admin, map[string]string{"token": "flood", "credential": "db", "inventory": "stage"}), http.StatusCreated)

	issue := func() {
		t.Helper()
		wantStatus(t, f.do("POST", "/api/v1/credentials/db/issue", runner, map[string]any{"inventory": "prod"}), http.StatusOK)
	}
	issue()
	start := time.Now()
	const requests, guesses, workers = 10_000, 2_000, 4
	var sent, refused atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := sent.Add(1) - 1
				if i >= requests || t.Failed() {
					return
				}
				inv := "prod"
				if i < guesses {
					// A guess as long as the body allows: stored clipped.
					inv = fmt.Sprintf("guess-%d-%s", i, strings.Repeat("x", 4<<10))
				}
				status, err := post(t, f.url+"/api/v1/credentials/db/issue", flood, map[string]any{"inventory": inv})
				switch {
				case err != nil:
					t.Error(err)
				case status != http.StatusForbidden:
					t.Errorf("a refused issue answered %d", status)
				default:
					refused.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	issue()
	if t.Failed() {
		return
	}

	records := f.auditLog(url.Values{"actor": {"flood"}})
	var counted int64
	for _, e := range records {
		if e.Outcome != api.AuditEventOutcomeDenied || e.Action != "credential.issue" || e.Count < 1 || e.LastTime.Before(e.Time) {
			t.Fatalf("flood record %+v", e)
		}
		counted += e.Count
		if e.Reason != nil && len(*e.Reason) > 1024 {
			t.Fatalf("a refusal record quotes %d bytes of the request", len(*e.Reason))
		}
	}
	// A window is an hour of the clock: the flood may straddle two.
	windows := int(time.Now().Truncate(time.Hour).Sub(start.Truncate(time.Hour))/time.Hour) + 1
	bound := windows * (roster.DefaultAuditPerCaller + 1)
	t.Logf("%d refused requests in %s left %d audit records (bound %d)", refused.Load(), elapsed.Round(time.Millisecond), len(records), bound)
	if len(records) > bound || counted != requests {
		t.Fatalf("%d records counting %d refusals, want at most %d counting %d", len(records), counted, bound, requests)
	}

	issued := f.auditLog(url.Values{"actor": {"runner"}, "action": {"credential.issue"}})
	if len(issued) != 2 || issued[0].Id == issued[1].Id {
		t.Fatalf("the runner's issuances: %+v, want 2 records", issued)
	}
	for _, e := range issued {
		if e.Outcome != api.AuditEventOutcomeAllowed || e.Count != 1 || !e.LastTime.Equal(e.Time) {
			t.Fatalf("issuance record %+v", e)
		}
	}
}

// post sends a JSON body with a token and returns the status; the flood
// skips the fixture's response validation, which would dominate its time.
func post(t *testing.T, u, token string, body any) (int, error) {
	raw, _ := json.Marshal(body)
	req, err := http.NewRequestWithContext(t.Context(), "POST", u, bytes.NewReader(raw))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}
