package azuresim_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"reflect"
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

// TestBatch: azure_rm fetches instance views and network resources
// through ARM's /batch; each batched GET answers as it would alone.
func TestBatch(t *testing.T) {
	sim, base := start(t, azuresim.Options{Seed: 1, Size: 5, ScaleSets: 1})
	status, body := func() (int, map[string]any) {
		resp, err := sim.Client().PostForm(base+"/"+sim.TenantID()+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
			"client_id": {sim.ClientID()}, "client_secret": {sim.ClientSecret()}, "resource": {"https://management.azure.com/"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b map[string]any
		json.NewDecoder(resp.Body).Decode(&b)
		return resp.StatusCode, b
	}()
	if status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	auth := "Bearer " + body["access_token"].(string)
	do := func(method, path, payload string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), method, base+path, strings.NewReader(payload))
		req.Header.Set("Authorization", auth)
		req.Header.Set("Content-Type", "application/json")
		resp, err := sim.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	sub := azuresim.DefaultSubscriptions[0]
	list := "/subscriptions/" + sub + "/providers/Microsoft.Network/networkInterfaces?api-version=2024-05-01"
	code, direct := do(http.MethodGet, list, "")
	if code != 200 {
		t.Fatalf("direct list: %d %s", code, direct)
	}
	reqs := []map[string]string{
		{"name": "a", "httpMethod": "GET", "url": "https://management.azure.com" + list},
		{"name": "b", "httpMethod": "GET", "url": "https://management.azure.com/subscriptions/" + sub + "/resourceGroups/nope/providers/Microsoft.Network/networkInterfaces/x?api-version=2024-05-01"},
		{"name": "c", "httpMethod": "DELETE", "url": "https://management.azure.com" + list},
	}
	payload, _ := json.Marshal(map[string]any{"requests": reqs})
	code, got := do(http.MethodPost, "/batch?api-version=2015-11-01", string(payload))
	if code != 200 {
		t.Fatalf("batch: %d %s", code, got)
	}
	var out struct {
		Responses []struct {
			Name    string          `json:"name"`
			Status  int             `json:"httpStatusCode"`
			Content json.RawMessage `json:"content"`
		} `json:"responses"`
	}
	if err := json.Unmarshal(got, &out); err != nil {
		t.Fatal(err)
	}
	if len(out.Responses) != 3 || out.Responses[0].Name != "a" || out.Responses[0].Status != 200 ||
		out.Responses[1].Status != 404 || out.Responses[2].Status != 400 {
		t.Fatalf("batch answers: %s", got)
	}
	var a, b any
	json.Unmarshal(direct, &a)
	json.Unmarshal(out.Responses[0].Content, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("a batched list differs from the same list alone:\n%s\n%s", direct, out.Responses[0].Content)
	}
	if code, _ := do(http.MethodPost, "/batch?api-version=2015-11-01", `{"requests":`); code != 400 {
		t.Fatalf("a broken batch body: %d", code)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, base+"/batch?api-version=2015-11-01", strings.NewReader(string(payload)))
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Fatalf("a batch without a token: %d", resp.StatusCode)
	}
}

// TestScaleSetInstanceRoutes: azure_rm reads a uniform scale set's
// instances' instance views and network interfaces one instance at a
// time, on routes ARM serves under the instance.
func TestScaleSetInstanceRoutes(t *testing.T) {
	sim, base := start(t, azuresim.Options{Seed: 3, Size: 6, ScaleSets: 2})
	resp, err := sim.Client().PostForm(base+"/"+sim.TenantID()+"/oauth2/token", url.Values{"grant_type": {"client_credentials"},
		"client_id": {sim.ClientID()}, "client_secret": {sim.ClientSecret()}, "resource": {"https://management.azure.com/"}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	get := func(path string, out any) int {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, base+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok.AccessToken)
		resp, err := sim.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if out != nil {
			json.NewDecoder(resp.Body).Decode(out)
		}
		return resp.StatusCode
	}
	type ided struct {
		ID         string `json:"id"`
		InstanceID string `json:"instanceId"`
	}
	var sets struct{ Value []ided }
	found := false
	for _, sub := range azuresim.DefaultSubscriptions {
		if get("/subscriptions/"+sub+"/providers/Microsoft.Compute/virtualMachineScaleSets?api-version=2024-07-01", &sets) != 200 {
			t.Fatal("list scale sets")
		}
		for _, ss := range sets.Value {
			var vms struct{ Value []ided }
			if get(ss.ID+"/virtualMachines?api-version=2024-07-01", &vms) != 200 {
				continue // a flexible scale set lists no instances
			}
			for _, v := range vms.Value {
				found = true
				var view struct {
					Statuses []struct{ Code string } `json:"statuses"`
				}
				if code := get(v.ID+"/instanceView?api-version=2024-07-01", &view); code != 200 || len(view.Statuses) == 0 {
					t.Fatalf("instance view of %s: %d %+v", v.ID, code, view)
				}
				var nics struct{ Value []ided }
				if code := get(v.ID+"/networkInterfaces?api-version=2024-05-01", &nics); code != 200 || len(nics.Value) == 0 ||
					!strings.HasPrefix(strings.ToLower(nics.Value[0].ID), strings.ToLower(v.ID)+"/networkinterfaces/") {
					t.Fatalf("network interfaces of %s: %d %+v", v.ID, code, nics)
				}
			}
			if get(ss.ID+"/virtualMachines/no-such-instance/instanceView?api-version=2024-07-01", nil) != 404 {
				t.Fatal("the instance view of an instance that does not exist")
			}
		}
	}
	if !found {
		t.Fatal("the fleet has no uniform scale-set instance: the case proves nothing")
	}
}
