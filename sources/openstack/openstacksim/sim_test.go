package openstacksim_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/pagination"

	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// start serves a simulator on an httptest server and returns its base URL.
func start(t *testing.T, opts openstacksim.Options) (*openstacksim.Server, string) {
	t.Helper()
	srv := openstacksim.New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// login authenticates as user to project with the real gophercloud client.
func login(t *testing.T, authURL, user, password, project string) *gophercloud.ProviderClient {
	t.Helper()
	pc, err := loginErr(t.Context(), authURL, user, password, project)
	if err != nil {
		t.Fatal(err)
	}
	return pc
}

func loginErr(ctx context.Context, authURL, user, password, project string) (*gophercloud.ProviderClient, error) {
	return openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: authURL, Username: user, Password: password, DomainName: "Default",
		TenantName: project, AllowReauth: true,
	})
}

func demo(t *testing.T, base string) *gophercloud.ProviderClient {
	return login(t, openstacksim.AuthURL(base), openstacksim.DefaultUser, openstacksim.DefaultPassword, "demo")
}

func computeClient(t testing.TB, pc *gophercloud.ProviderClient, region, microversion string) *gophercloud.ServiceClient {
	t.Helper()
	c, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{Region: region})
	if err != nil {
		t.Fatal(err)
	}
	c.Microversion = microversion
	return c
}

// list pages through servers/detail and returns the ids in order and the
// number of pages.
func list(t *testing.T, c *gophercloud.ServiceClient, opts servers.ListOpts) ([]string, int) {
	t.Helper()
	var ids []string
	pages := 0
	err := servers.List(c, opts).EachPage(t.Context(), func(_ context.Context, p pagination.Page) (bool, error) {
		pages++
		list, err := servers.ExtractServers(p)
		for _, s := range list {
			ids = append(ids, s.ID)
		}
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return ids, pages
}

// raw GETs a compute path and returns the status and decoded body.
func raw(t *testing.T, c *gophercloud.ServiceClient, path string) (int, http.Header, map[string]any) {
	t.Helper()
	resp, err := c.Get(t.Context(), c.ServiceURL(path), nil, &gophercloud.RequestOpts{OkCodes: []int{200}, KeepResponseBody: true})
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		var body map[string]any
		_ = json.Unmarshal(ue.Body, &body)
		return ue.Actual, ue.ResponseHeader, body
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, body
}

// expected lists, newest first, the ids of the servers of a region (and
// project, unless "").
func expected(fleet *openstacksim.Fleet, region, project string) []string {
	var ids []string
	for _, s := range fleet.Servers() {
		if s.Region == region && (project == "" || s.Project == project) {
			ids = append(ids, s.ID)
		}
	}
	slices.Reverse(ids)
	return ids
}

func status(err error) int {
	var ue gophercloud.ErrUnexpectedResponseCode
	if errors.As(err, &ue) {
		return ue.Actual
	}
	return 0
}

func TestKeystoneIssuesScopedTokensWithACatalog(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 1, Size: 10, Regions: []string{"RegionOne", "RegionTwo", "RegionThree"}})
	for _, authURL := range []string{openstacksim.AuthURL(base), base + openstacksim.IdentityPath} {
		pc := login(t, authURL, openstacksim.DefaultUser, openstacksim.DefaultPassword, "ops")
		res := pc.GetAuthResult().(tokens.CreateResult)
		project, err := res.ExtractProject()
		if err != nil || project.Name != "ops" {
			t.Fatalf("token project = %+v, %v", project, err)
		}
		catalog, err := res.ExtractServiceCatalog()
		if err != nil {
			t.Fatal(err)
		}
		var computeRegions []string
		for _, e := range catalog.Entries {
			for _, ep := range e.Endpoints {
				if e.Type == "compute" && ep.Interface == "public" {
					computeRegions = append(computeRegions, ep.Region)
				}
			}
		}
		if !slices.Equal(computeRegions, []string{"RegionOne", "RegionTwo", "RegionThree"}) {
			t.Fatalf("compute regions in the catalog = %v", computeRegions)
		}
		if _, err := openstack.NewImageV2(pc, gophercloud.EndpointOpts{Region: "RegionTwo", Availability: gophercloud.AvailabilityInternal}); err != nil {
			t.Fatalf("internal image endpoint: %v", err)
		}
	}
	if got := srv.Stats().TokensIssued; got != 2 {
		t.Fatalf("tokens issued = %d, want 2", got)
	}

	_, err := loginErr(t.Context(), openstacksim.AuthURL(base), openstacksim.DefaultUser, "wrong", "demo")
	if status(err) != http.StatusUnauthorized {
		t.Fatalf("wrong password: %v, want 401", err)
	}
	_, err = loginErr(t.Context(), openstacksim.AuthURL(base), openstacksim.DefaultUser, openstacksim.DefaultPassword, "nope")
	if status(err) != http.StatusUnauthorized {
		t.Fatalf("unknown project: %v, want 401", err)
	}
	if got := srv.Stats().AuthFailures; got != 2 {
		t.Fatalf("auth failures = %d, want 2", got)
	}
	// By project id, and without a scope (the user's first project).
	id, _ := srv.Fleet().ProjectID("ops")
	pc, err := openstack.AuthenticatedClient(t.Context(), gophercloud.AuthOptions{
		IdentityEndpoint: openstacksim.AuthURL(base), Username: openstacksim.AdminUser, Password: openstacksim.AdminPassword,
		DomainID: "default", TenantID: id,
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := pc.GetAuthResult().(tokens.CreateResult).ExtractProject(); p.ID != id {
		t.Fatalf("scoped by id to %+v", p)
	}
	pc, err = openstack.AuthenticatedClient(t.Context(), gophercloud.AuthOptions{
		IdentityEndpoint: openstacksim.AuthURL(base), Username: openstacksim.DefaultUser, Password: openstacksim.DefaultPassword, DomainName: "Default",
	})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := pc.GetAuthResult().(tokens.CreateResult).ExtractProject(); p.Name != "demo" {
		t.Fatalf("unscoped request got project %+v, want the default project demo", p)
	}
}

func TestApplicationCredentials(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 1, Size: 10})
	id, ok := srv.AppCredentialID(openstacksim.DefaultAppCredentialName)
	if !ok {
		t.Fatal("no default application credential")
	}
	for _, ao := range []gophercloud.AuthOptions{
		{ApplicationCredentialID: id, ApplicationCredentialSecret: openstacksim.DefaultAppCredentialSecret},
		{ApplicationCredentialName: openstacksim.DefaultAppCredentialName, Username: openstacksim.DefaultUser, DomainName: "Default",
			ApplicationCredentialSecret: openstacksim.DefaultAppCredentialSecret},
	} {
		ao.IdentityEndpoint = openstacksim.AuthURL(base)
		pc, err := openstack.AuthenticatedClient(t.Context(), ao)
		if err != nil {
			t.Fatal(err)
		}
		res := pc.GetAuthResult().(tokens.CreateResult)
		if p, _ := res.ExtractProject(); p.Name != "demo" {
			t.Fatalf("application credential scoped to %+v", p)
		}
		if ids, _ := list(t, computeClient(t, pc, "RegionOne", ""), servers.ListOpts{}); len(ids) == 0 {
			t.Fatal("no servers through an application credential")
		}
	}
	_, err := openstack.AuthenticatedClient(t.Context(), gophercloud.AuthOptions{IdentityEndpoint: openstacksim.AuthURL(base),
		ApplicationCredentialID: id, ApplicationCredentialSecret: "wrong"})
	if status(err) != http.StatusUnauthorized {
		t.Fatalf("wrong secret: %v", err)
	}
	// Asking for a scope with an application credential is refused, as
	// Keystone does.
	body := `{"auth":{"identity":{"methods":["application_credential"],"application_credential":{"id":"` + id + `","secret":"` +
		openstacksim.DefaultAppCredentialSecret + `"}},"scope":{"project":{"name":"demo","domain":{"name":"Default"}}}}}`
	resp, err := http.Post(openstacksim.AuthURL(base)+"/auth/tokens", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	msg, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.Contains(string(msg), "cannot request a scope") {
		t.Fatalf("scoped application credential: %d %s", resp.StatusCode, msg)
	}
}

func TestServersPaginateEveryServerOnce(t *testing.T) {
	regions := []string{"RegionOne", "RegionTwo"}
	srv, base := start(t, openstacksim.Options{Seed: 7, Size: 700, Regions: regions})
	fleet := srv.Fleet()
	for _, project := range []string{"demo", "ops"} {
		pc := login(t, openstacksim.AuthURL(base), openstacksim.DefaultUser, openstacksim.DefaultPassword, project)
		for _, region := range regions {
			c := computeClient(t, pc, region, "2.96")
			want := expected(fleet, region, project)
			got, pages := list(t, c, servers.ListOpts{Limit: 37})
			if !slices.Equal(got, want) {
				t.Fatalf("%s/%s: listed %d servers, want %d newest first", region, project, len(got), len(want))
			}
			// A full last page is followed by an empty one, as in Nova.
			if wantPages := len(want)/37 + 1; pages != wantPages && !(len(want)%37 != 0 && pages == wantPages) {
				t.Fatalf("%s/%s: %d pages for %d servers", region, project, pages, len(want))
			}
			if got, pages := list(t, c, servers.ListOpts{}); !slices.Equal(got, want) || pages != 1 {
				t.Fatalf("%s/%s without limit: %d servers in %d pages", region, project, len(got), pages)
			}
		}
	}
	// MaxLimit caps the page size.
	srv2, base2 := start(t, openstacksim.Options{Seed: 7, Size: 120, Regions: []string{"RegionOne"}, Projects: []string{"demo"}, MaxLimit: 50})
	c := computeClient(t, demo(t, base2), "RegionOne", "")
	got, pages := list(t, c, servers.ListOpts{Limit: 500})
	if len(got) != 120 || pages != 3 {
		t.Fatalf("max limit 50: %d servers in %d pages", len(got), pages)
	}
	if n := srv2.Stats().Calls(openstacksim.OpServers, "RegionOne"); n != 3 {
		t.Fatalf("servers calls = %d, want 3", n)
	}
	code, _, body := raw(t, c, "servers/detail?marker=00000000-0000-4000-8000-000000000000")
	if code != http.StatusBadRequest || !strings.Contains(body["badRequest"].(map[string]any)["message"].(string), "marker") {
		t.Fatalf("unknown marker: %d %v", code, body)
	}
}

func TestAllTenantsIsForAdmins(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 2, Size: 200})
	admin := login(t, openstacksim.AuthURL(base), openstacksim.AdminUser, openstacksim.AdminPassword, "demo")
	got, _ := list(t, computeClient(t, admin, "RegionOne", "2.96"), servers.ListOpts{AllTenants: true, Limit: 30})
	if want := expected(srv.Fleet(), "RegionOne", ""); !slices.Equal(got, want) {
		t.Fatalf("all tenants: %d servers, want %d", len(got), len(want))
	}
	err := servers.List(computeClient(t, demo(t, base), "RegionOne", ""), servers.ListOpts{AllTenants: true}).EachPage(t.Context(),
		func(context.Context, pagination.Page) (bool, error) { return true, nil })
	if status(err) != http.StatusForbidden {
		t.Fatalf("all_tenants as a member: %v, want 403", err)
	}
}

func TestMicroversionsShapeServers(t *testing.T) {
	_, base := start(t, openstacksim.Options{Seed: 3, Size: 40})
	first := func(body map[string]any) map[string]any { return body["servers"].([]any)[0].(map[string]any) }

	c := computeClient(t, demo(t, base), "RegionOne", "")
	code, hdr, body := raw(t, c, "servers/detail")
	s := first(body)
	if code != 200 || hdr.Get("X-OpenStack-Nova-API-Version") != "2.1" {
		t.Fatalf("no microversion: %d %v", code, hdr)
	}
	fl := s["flavor"].(map[string]any)
	if fl["id"] == nil || fl["original_name"] != nil {
		t.Fatalf("2.1 flavor = %v", fl)
	}
	for _, k := range []string{"tags", "description", "locked", "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hostname"} {
		if _, ok := s[k]; ok {
			t.Fatalf("2.1 has %s", k)
		}
	}

	c.Microversion = "2.47"
	_, hdr, body = raw(t, c, "servers/detail")
	s = first(body)
	if fl := s["flavor"].(map[string]any); fl["original_name"] == nil || fl["id"] != nil || hdr.Get("OpenStack-API-Version") != "compute 2.47" {
		t.Fatalf("2.47 flavor = %v (%v)", fl, hdr)
	}
	for _, k := range []string{"tags", "description", "locked"} {
		if _, ok := s[k]; !ok {
			t.Fatalf("2.47 lacks %s", k)
		}
	}

	c.Microversion = "latest"
	_, hdr, body = raw(t, c, "servers/detail")
	if hdr.Get("X-OpenStack-Nova-API-Version") != openstacksim.DefaultMaxMicroversion {
		t.Fatalf("latest = %s", hdr.Get("X-OpenStack-Nova-API-Version"))
	}
	if _, ok := first(body)["OS-EXT-SRV-ATTR:hostname"]; !ok {
		t.Fatal("2.90+ hides the hostname from a member")
	}
	if _, ok := first(body)["OS-EXT-SRV-ATTR:host"]; ok {
		t.Fatal("a member sees the compute host")
	}

	admin := computeClient(t, login(t, openstacksim.AuthURL(base), openstacksim.AdminUser, openstacksim.AdminPassword, "demo"), "RegionOne", "2.96")
	_, _, body = raw(t, admin, "servers/detail")
	for _, k := range []string{"OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:user_data", "host_status", "OS-EXT-SRV-ATTR:instance_name"} {
		if _, ok := first(body)[k]; !ok {
			t.Fatalf("an admin does not see %s", k)
		}
	}

	c.Microversion = "2.97"
	if code, _, _ := raw(t, c, "servers/detail"); code != http.StatusNotAcceptable {
		t.Fatalf("2.97 answered %d, want 406", code)
	}
	c.Microversion = "2.x"
	if code, _, _ := raw(t, c, "servers/detail"); code != http.StatusBadRequest {
		t.Fatalf("2.x answered %d, want 400", code)
	}

	// Older clouds: the version document says so.
	_, old := start(t, openstacksim.Options{Seed: 3, Size: 5, MaxMicroversion: "2.40"})
	c = computeClient(t, demo(t, old), "RegionOne", "2.47")
	if code, _, _ := raw(t, c, "servers/detail"); code != http.StatusNotAcceptable {
		t.Fatalf("2.47 on a 2.40 cloud answered %d", code)
	}
}

func TestServerFilters(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 4, Size: 400, Regions: []string{"RegionOne"}})
	fleet := srv.Fleet()
	c := computeClient(t, demo(t, base), "RegionOne", "2.96")
	match := func(keep func(openstacksim.ServerInfo) bool) []string {
		var ids []string
		for _, s := range fleet.Servers() {
			if s.Project == "demo" && keep(s) {
				ids = append(ids, s.ID)
			}
		}
		slices.Reverse(ids)
		return ids
	}
	for name, tc := range map[string]struct {
		opts servers.ListOpts
		keep func(openstacksim.ServerInfo) bool
	}{
		"name regex": {servers.ListOpts{Name: "^web-00[0-4]"}, func(s openstacksim.ServerInfo) bool { return strings.HasPrefix(s.Name, "web-00") && s.Name[6] <= '4' }},
		"status":     {servers.ListOpts{Status: "SHUTOFF"}, func(s openstacksim.ServerInfo) bool { return s.Status == "SHUTOFF" }},
		"tags": {servers.ListOpts{Tags: "prod,backup"}, func(s openstacksim.ServerInfo) bool {
			return slices.Contains(s.Tags, "prod") && slices.Contains(s.Tags, "backup")
		}},
		"not-tags-any": {servers.ListOpts{NotTagsAny: "prod,dev"}, func(s openstacksim.ServerInfo) bool {
			return !slices.Contains(s.Tags, "prod") && !slices.Contains(s.Tags, "dev")
		}},
		"flavor": {servers.ListOpts{Flavor: "3"}, func(s openstacksim.ServerInfo) bool { return s.FlavorID == "3" }},
	} {
		got, _ := list(t, c, tc.opts)
		if want := match(tc.keep); len(want) == 0 || !slices.Equal(got, want) {
			t.Fatalf("%s: got %d servers, want %d", name, len(got), len(want))
		}
	}
	if code, _, body := raw(t, c, "servers/detail?status=RUNNING"); code != http.StatusBadRequest || !strings.Contains(body["badRequest"].(map[string]any)["message"].(string), "Invalid status") {
		t.Fatalf("bad status at 2.96: %d %v", code, body)
	}
	if code, _, _ := raw(t, c, "servers/detail?bogus=1"); code != http.StatusBadRequest {
		t.Fatalf("unknown parameter at 2.96 answered %d, want 400", code)
	}
	old := computeClient(t, demo(t, base), "RegionOne", "2.1")
	if code, _, body := raw(t, old, "servers/detail?status=RUNNING&bogus=1"); code != 200 || len(body["servers"].([]any)) != 0 {
		t.Fatalf("bad status at 2.1: %d, %d servers", code, len(body["servers"].([]any)))
	}
	// A member's admin-only filter is ignored; an admin's applies.
	one := match(func(openstacksim.ServerInfo) bool { return true })[0]
	if _, _, body := raw(t, c, "servers/detail?uuid="+one); len(body["servers"].([]any)) < 2 {
		t.Fatal("a member's uuid filter was applied")
	}
	admin := computeClient(t, login(t, openstacksim.AuthURL(base), openstacksim.AdminUser, openstacksim.AdminPassword, "demo"), "RegionOne", "2.96")
	if _, _, body := raw(t, admin, "servers/detail?uuid="+one); len(body["servers"].([]any)) != 1 {
		t.Fatal("an admin's uuid filter was ignored")
	}
}

func TestTokensExpireAndClientsReauthenticate(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 5, Size: 300, Regions: []string{"RegionOne"}, Projects: []string{"demo"}})
	pc := demo(t, base)
	c := computeClient(t, pc, "RegionOne", "2.96")
	srv.ExpireTokens()
	if ids, _ := list(t, c, servers.ListOpts{Limit: 100}); len(ids) != 300 {
		t.Fatalf("listed %d after expiry", len(ids))
	}
	st := srv.Stats()
	if st.TokensIssued != 2 || st.Expired != 1 || st.Rejected != 1 {
		t.Fatalf("after ExpireTokens: %+v", st)
	}

	// A token good for two requests expires mid-pagination, repeatedly.
	srv.ResetStats()
	srv.SetFaults(openstacksim.Faults{ExpireTokensAfter: 2})
	ids, pages := list(t, c, servers.ListOpts{Limit: 40})
	if len(ids) != 300 || pages != 8 {
		t.Fatalf("listed %d in %d pages", len(ids), pages)
	}
	if st := srv.Stats(); st.Expired < 3 || st.TokensIssued != st.Expired {
		t.Fatalf("mid-pagination expiry: %+v", st)
	}

	// No token at all.
	resp, err := http.Get(base + "/compute/RegionOne/v2.1/servers/detail")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Keystone uri=") {
		t.Fatalf("no token: %d %v", resp.StatusCode, resp.Header)
	}
}

func TestFaults(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 6, Size: 30, Regions: []string{"RegionOne", "RegionTwo"}})
	c := computeClient(t, demo(t, base), "RegionOne", "2.96")

	srv.SetFaults(openstacksim.Faults{ThrottleEvery: 1, RetryAfter: 7 * time.Second, Ops: []string{openstacksim.OpServers}})
	code, hdr, body := raw(t, c, "servers/detail")
	ol, _ := body["overLimit"].(map[string]any)
	if code != http.StatusRequestEntityTooLarge || hdr.Get("Retry-After") != "7" || ol["retryAfter"] != "7" {
		t.Fatalf("over limit: %d %v %v", code, hdr, body)
	}
	srv.SetFaults(openstacksim.Faults{ThrottleEvery: 1, ThrottleStatus: 429, Ops: []string{openstacksim.OpServers}})
	if code, hdr, _ := raw(t, c, "servers/detail"); code != http.StatusTooManyRequests || hdr.Get("Retry-After") != "1" {
		t.Fatalf("429: %d %v", code, hdr)
	}
	srv.SetFaults(openstacksim.Faults{ErrorEvery: 2})
	codes := []int{}
	for range 4 {
		code, _, _ := raw(t, c, "servers/detail")
		codes = append(codes, code)
	}
	if !slices.Equal(codes, []int{200, 503, 200, 503}) {
		t.Fatalf("error every 2: %v", codes)
	}
	srv.SetFaults(openstacksim.Faults{DenyScopes: []string{"RegionTwo"}})
	if code, _, _ := raw(t, computeClient(t, demo(t, base), "RegionTwo", ""), "servers/detail"); code != http.StatusServiceUnavailable {
		t.Fatalf("down region answered %d", code)
	}
	if code, _, _ := raw(t, c, "servers/detail"); code != 200 {
		t.Fatalf("healthy region answered %d", code)
	}
	srv.SetFaults(openstacksim.Faults{FailAfterPage: 1})
	c2 := computeClient(t, demo(t, base), "RegionOne", "2.96")
	err := servers.List(c2, servers.ListOpts{Limit: 3}).EachPage(t.Context(), func(context.Context, pagination.Page) (bool, error) { return true, nil })
	if status(err) != http.StatusInternalServerError {
		t.Fatalf("second page: %v, want 500", err)
	}
	srv.SetFaults(openstacksim.Faults{Latency: 30 * time.Millisecond, Ops: []string{openstacksim.OpServers}})
	began := time.Now()
	raw(t, c, "servers/detail")
	if time.Since(began) < 30*time.Millisecond {
		t.Fatal("no latency")
	}
	st := srv.Stats()
	if st.InjectedStatus[413] != 1 || st.InjectedStatus[429] != 1 || st.InjectedStatus[503] != 3 || st.InjectedStatus[500] != 1 {
		t.Fatalf("injected = %v", st.InjectedStatus)
	}
}

func TestImagesAndFlavors(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 8, Size: 5})
	all := srv.Fleet().Images("RegionOne")
	for _, tc := range []struct {
		user, password string
		want           int
	}{
		{openstacksim.DefaultUser, openstacksim.DefaultPassword, len(all) - 1}, // not ops' private image
		{openstacksim.AdminUser, openstacksim.AdminPassword, len(all)},
	} {
		pc := login(t, openstacksim.AuthURL(base), tc.user, tc.password, "demo")
		ic, err := openstack.NewImageV2(pc, gophercloud.EndpointOpts{Region: "RegionOne"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		pages := 0
		err = images.List(ic, images.ListOpts{Limit: 3}).EachPage(t.Context(), func(_ context.Context, p pagination.Page) (bool, error) {
			pages++
			list, err := images.ExtractImages(p)
			for _, img := range list {
				names = append(names, img.Name)
			}
			return true, err
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(names) != tc.want || pages != (tc.want+2)/3 || slices.Contains(names, "ops-golden-image") != (tc.user == openstacksim.AdminUser) {
			t.Fatalf("%s sees %v in %d pages", tc.user, names, pages)
		}
	}
	c := computeClient(t, demo(t, base), "RegionOne", "2.61")
	var got []flavors.Flavor
	err := flavors.ListDetail(c, flavors.ListOpts{Limit: 2}).EachPage(t.Context(), func(_ context.Context, p pagination.Page) (bool, error) {
		list, err := flavors.ExtractFlavors(p)
		got = append(got, list...)
		return true, err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := openstacksim.Flavors()
	if len(got) != len(want) || got[5].Name != "c1.medium" || got[5].Swap != 1024 || got[6].ExtraSpecs["resources:VGPU"] != "1" {
		t.Fatalf("flavors = %+v", got)
	}
}

func TestFleetIsDeterministicAndRealistic(t *testing.T) {
	regions := []string{"RegionOne", "RegionTwo", "RegionThree"}
	a, b := openstacksim.NewFleet(42, 6000, regions, nil), openstacksim.NewFleet(42, 6000, regions, nil)
	sa, sb := a.Servers(), b.Servers()
	if len(sa) != 6000 {
		t.Fatalf("size %d", len(sa))
	}
	for i := range sa {
		x, y := sa[i], sb[i]
		if x.ID != y.ID || x.Name != y.Name || !slices.Equal(x.Addresses, y.Addresses) || x.Status != y.Status || !x.Created.Equal(y.Created) {
			t.Fatalf("fleets differ at %d: %+v vs %+v", i, x, y)
		}
	}
	if c := openstacksim.NewFleet(43, 10, regions, nil).Servers(); c[0].ID == sa[0].ID {
		t.Fatal("another seed gives the same fleet")
	}
	count := map[string]int{}
	names := map[string]map[string]bool{} // name → scopes
	addrs := map[string]bool{}
	for _, s := range sa {
		count[s.Status]++
		count["region "+s.Region]++
		scope := s.Region + "/" + s.Project
		if names[s.Name] == nil {
			names[s.Name] = map[string]bool{}
		}
		if names[s.Name][scope] {
			count["duplicate in scope"]++
		}
		names[s.Name][scope] = true
		switch {
		case s.ImageID == "":
			count["boot from volume"]++
		case s.ImageName == "":
			count["deleted image"]++
		}
		if len(s.Addresses) == 0 {
			count["no address"]++
		}
		if s.FloatingIP() != "" {
			count["floating"]++
		}
		for _, ad := range s.Addresses {
			if _, err := netip.ParseAddr(ad.Addr); err != nil || (ad.Version == 6) != strings.Contains(ad.Addr, ":") {
				t.Fatalf("address %+v", ad)
			}
			key := ad.Addr
			if ad.Type == "fixed" && ad.Network != "public" {
				key = s.Region + s.Project + ad.Addr
			}
			if addrs[key] {
				t.Fatalf("address %s used twice", key)
			}
			addrs[key] = true
		}
	}
	frac := func(k string) float64 { return float64(count[k]) / float64(len(sa)) }
	if r := frac("ACTIVE"); r < 0.82 || r > 0.88 {
		t.Errorf("ACTIVE = %.3f", r)
	}
	for _, k := range []string{"SHUTOFF", "ERROR", "BUILD", "PAUSED", "SUSPENDED", "SHELVED_OFFLOADED", "duplicate in scope",
		"boot from volume", "deleted image", "no address", "floating", "region RegionThree"} {
		if count[k] == 0 {
			t.Errorf("no %s", k)
		}
	}
	crossScope := 0
	for _, scopes := range names {
		if len(scopes) > 1 {
			crossScope++
		}
	}
	if crossScope == 0 {
		t.Error("no name shared across scopes")
	}
	if count["region RegionOne"] <= count["region RegionThree"] {
		t.Errorf("regions not weighted: %v", count)
	}
}

func TestMutations(t *testing.T) {
	srv, base := start(t, openstacksim.Options{Seed: 9, Size: 60, Regions: []string{"RegionOne"}, Projects: []string{"demo"}})
	fleet := srv.Fleet()
	c := computeClient(t, demo(t, base), "RegionOne", "2.96")
	all := fleet.Servers()
	a, b, d := all[10], all[20], all[30]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fleet.Rename(a.ID, "renamed-1"))
	must(fleet.SetStatus(a.ID, "SHUTOFF"))
	must(fleet.SetMetadata(a.ID, "group", "special"))
	must(fleet.SetFloatingIP(a.ID, "203.0.113.9"))
	must(fleet.Delete(b.ID))
	added, err := fleet.Add(openstacksim.ServerSpec{Name: "new-1", Metadata: map[string]string{"env": "dev"}, BootFromVolume: true,
		Addresses: []openstacksim.Address{{Network: "private", Addr: "10.9.9.9", Version: 4, Type: "fixed"}}})
	must(err)
	if err := fleet.Rename("nope", "x"); !errors.Is(err, openstacksim.ErrNoServer) {
		t.Fatalf("rename of an unknown server: %v", err)
	}
	if _, err := fleet.Add(openstacksim.ServerSpec{Region: "Mars"}); err == nil {
		t.Fatal("Add in an unknown region succeeded")
	}

	pc := servers.List(c, servers.ListOpts{})
	pages, err := pc.AllPages(t.Context())
	must(err)
	list, err := servers.ExtractServers(pages)
	must(err)
	if list[0].ID != added.ID || list[0].Name != "new-1" || list[0].Image != nil && len(list[0].Image) > 0 {
		t.Fatalf("added server not listed first: %+v", list[0])
	}
	byID := map[string]servers.Server{}
	for _, s := range list {
		byID[s.ID] = s
	}
	if _, ok := byID[b.ID]; ok {
		t.Fatal("deleted server listed")
	}
	got := byID[a.ID]
	if got.Name != "renamed-1" || got.Status != "SHUTOFF" || got.Metadata["group"] != "special" || !got.Updated.After(got.Created) {
		t.Fatalf("mutated server = %+v", got)
	}
	if info, _ := fleet.Server(a.ID); info.FloatingIP() != "203.0.113.9" {
		t.Fatalf("floating ip = %q", info.FloatingIP())
	}
	// A deleted server still works as a marker.
	code, _, body := raw(t, c, "servers/detail?marker="+b.ID)
	if code != 200 || len(body["servers"].([]any)) == 0 {
		t.Fatalf("deleted marker: %d", code)
	}
	_ = d
}

func TestStart(t *testing.T) {
	srv := openstacksim.New(openstacksim.Options{Seed: 1, Size: 20, Regions: []string{"RegionOne"}, Projects: []string{"demo"}})
	base, stop, err := srv.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ids, _ := list(t, computeClient(t, demo(t, base), "RegionOne", ""), servers.ListOpts{Limit: 5})
	if len(ids) != 20 {
		t.Fatalf("listed %d", len(ids))
	}
	stop()
	stop()
	if _, err := loginErr(t.Context(), openstacksim.AuthURL(base), openstacksim.DefaultUser, openstacksim.DefaultPassword, "demo"); err == nil {
		t.Fatal("the server still answers after stop")
	}
}
