package azuresim_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/rosterhq/roster/sources/azure/azuresim"
)

// TestV1TokenEndpoint: ADAL, which older azure_rm clients use, asks the
// Azure AD v1.0 endpoint (/{tenant}/oauth2/token) for a token for a
// resource; the answer's numbers are strings. The token opens ARM.
func TestV1TokenEndpoint(t *testing.T) {
	sim, base := start(t, azuresim.Options{Seed: 1, Size: 3})
	post := func(form url.Values) (int, map[string]any) {
		t.Helper()
		resp, err := sim.Client().PostForm(base+"/"+sim.TenantID()+"/oauth2/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, body
	}
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {sim.ClientID()}, "client_secret": {sim.ClientSecret()},
		"resource": {"https://management.core.windows.net/"}}
	status, body := post(form)
	tok, _ := body["access_token"].(string)
	if status != 200 || tok == "" || body["resource"] != "https://management.core.windows.net/" {
		t.Fatalf("v1 token: %d %v", status, body)
	}
	for _, k := range []string{"expires_in", "expires_on", "not_before"} {
		if s, ok := body[k].(string); !ok || s == "" {
			t.Fatalf("v1 token: %s = %#v, want a number as a string", k, body[k])
		} else if _, err := strconv.ParseInt(s, 10, 64); err != nil {
			t.Fatalf("v1 token: %s = %q", k, s)
		}
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet,
		base+"/subscriptions/"+azuresim.DefaultSubscriptions[0]+"/providers/Microsoft.Compute/virtualMachines?api-version=2024-07-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("ARM with a v1 token: %d", resp.StatusCode)
	}

	bad := url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("resource", "https://vault.azure.net")
	if status, body := post(bad); status != 400 || !strings.Contains(body["error"].(string), "invalid_scope") {
		t.Fatalf("v1 token for another resource: %d %v", status, body)
	}
	bad.Del("resource")
	if status, body := post(bad); status != 400 || !strings.Contains(body["error_description"].(string), "'resource'") {
		t.Fatalf("v1 token without a resource: %d %v", status, body)
	}
	bad = url.Values{}
	for k, v := range form {
		bad[k] = v
	}
	bad.Set("client_secret", "wrong")
	if status, _ := post(bad); status != 401 {
		t.Fatalf("v1 token with a wrong secret: %d", status)
	}
}
