package azuresim_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/arm"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"

	"github.com/rosterhq/roster/sources/azure/azuresim"
)

// start serves a simulator on an httptest TLS server.
func start(t *testing.T, opts azuresim.Options) (*azuresim.Server, string) {
	t.Helper()
	sim := azuresim.New(opts)
	ts := httptest.NewUnstartedServer(sim)
	ts.TLS = sim.TLSConfig()
	ts.StartTLS()
	t.Cleanup(ts.Close)
	return sim, ts.URL
}

func cloudFor(url string) cloud.Configuration {
	return cloud.Configuration{
		ActiveDirectoryAuthorityHost: url + "/",
		Services: map[cloud.ServiceName]cloud.ServiceConfiguration{
			cloud.ResourceManager: {Endpoint: url, Audience: "https://management.core.windows.net/"},
		},
	}
}

func clientOptions(sim *azuresim.Server, url string) policy.ClientOptions {
	return policy.ClientOptions{
		Cloud:     cloudFor(url),
		Transport: sim.Client(),
		Retry:     policy.RetryOptions{MaxRetries: 4, RetryDelay: time.Millisecond, MaxRetryDelay: 50 * time.Millisecond},
	}
}

func credential(t *testing.T, sim *azuresim.Server, url, secret string) azcore.TokenCredential {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(sim.TenantID(), sim.ClientID(), secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(sim, url), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	return cred
}

func factories(t *testing.T, sim *azuresim.Server, url, sub string) (*armcompute.ClientFactory, *armnetwork.ClientFactory) {
	t.Helper()
	cred := credential(t, sim, url, sim.ClientSecret())
	opts := &arm.ClientOptions{ClientOptions: clientOptions(sim, url), DisableRPRegistration: true}
	c, err := armcompute.NewClientFactory(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	n, err := armnetwork.NewClientFactory(sub, cred, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, n
}

func responseError(t *testing.T, err error, status int, code string) {
	t.Helper()
	var re *azcore.ResponseError
	if !errors.As(err, &re) {
		t.Fatalf("error %v is not an azcore.ResponseError", err)
	}
	if re.StatusCode != status || re.ErrorCode != code {
		t.Fatalf("error %d %s, want %d %s (%v)", re.StatusCode, re.ErrorCode, status, code, err)
	}
}

func listVMs(t *testing.T, c *armcompute.VirtualMachinesClient, opts *armcompute.VirtualMachinesClientListAllOptions) ([]*armcompute.VirtualMachine, int) {
	t.Helper()
	pager := c.NewListAllPager(opts)
	var out []*armcompute.VirtualMachine
	pages := 0
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		out = append(out, page.Value...)
	}
	return out, pages
}

func standalone(sim *azuresim.Server, sub string) []azuresim.VMInfo {
	var out []azuresim.VMInfo
	for _, v := range sim.Fleet().VMs() {
		if v.Subscription == sub && v.ScaleSet == "" {
			out = append(out, v)
		}
	}
	return out
}

func TestTokenEndpointVerifiesTheServicePrincipal(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 1, Size: 5})
	scope := policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}}

	tok, err := credential(t, sim, url, sim.ClientSecret()).GetToken(t.Context(), scope)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token == "" || time.Until(tok.ExpiresOn) < 50*time.Minute {
		t.Fatalf("token %+v", tok)
	}

	const wrong = "WRONG-SECRET-VALUE-42"
	_, err = credential(t, sim, url, wrong).GetToken(t.Context(), scope)
	var ae *azidentity.AuthenticationFailedError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v, want AuthenticationFailedError AADSTS7000215", err)
	}
	if strings.Contains(err.Error(), wrong) {
		t.Fatal("the error repeats the secret")
	}

	other, err := azidentity.NewClientSecretCredential("11111111-2222-3333-4444-555555555555", sim.ClientID(), sim.ClientSecret(),
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(sim, url), DisableInstanceDiscovery: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.GetToken(t.Context(), scope); err == nil || !strings.Contains(err.Error(), "AADSTS90002") {
		t.Fatalf("unknown tenant: %v, want AADSTS90002", err)
	}

	_, err = credential(t, sim, url, sim.ClientSecret()).GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://vault.azure.net/.default"}})
	if err == nil || !strings.Contains(err.Error(), "invalid_scope") {
		t.Fatalf("foreign audience: %v, want invalid_scope", err)
	}
	if s := sim.Stats(); s.TokensIssued != 1 || s.Rejected != 3 {
		t.Fatalf("stats %+v, want 1 token issued and 3 refusals", s)
	}
}

func TestInstanceDiscoveryWithoutDisabling(t *testing.T) {
	// With instance discovery on, MSAL asks the authority host itself only
	// when it is a known Microsoft host; the document is served anyway.
	sim, url := start(t, azuresim.Options{Seed: 1})
	resp, err := sim.Client().Get(url + "/common/discovery/instance?api-version=1.1&authorization_endpoint=" + url + "/" + sim.TenantID() + "/oauth2/v2.0/authorize")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		TenantDiscoveryEndpoint string `json:"tenant_discovery_endpoint"`
		Metadata                []struct {
			Aliases []string `json:"aliases"`
		} `json:"metadata"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
		t.Fatalf("%d %v", resp.StatusCode, err)
	}
	if !strings.HasSuffix(doc.TenantDiscoveryEndpoint, "/v2.0/.well-known/openid-configuration") || len(doc.Metadata) != 1 {
		t.Fatalf("discovery %+v", doc)
	}
}

func TestARMRefusesRequestsWithoutAValidTokenOrAPIVersion(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 1, Size: 3})
	sub := azuresim.DefaultSubscriptions[0]
	get := func(path, auth string) (int, string) {
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+path, nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := sim.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
			t.Fatalf("%s: not an ARM error body: %v", path, err)
		}
		return resp.StatusCode, body.Error.Code
	}
	vms := "/subscriptions/" + sub + "/providers/Microsoft.Compute/virtualMachines"
	if s, c := get(vms+"?api-version=2025-04-01", ""); s != 401 || c != "AuthenticationFailed" {
		t.Fatalf("no token: %d %s", s, c)
	}
	if s, c := get(vms+"?api-version=2025-04-01", "Bearer made-up"); s != 401 || c != "InvalidAuthenticationToken" {
		t.Fatalf("bad token: %d %s", s, c)
	}
	tok, err := credential(t, sim, url, sim.ClientSecret()).GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		t.Fatal(err)
	}
	bearer := "Bearer " + tok.Token
	if s, c := get(vms, bearer); s != 400 || c != "MissingApiVersionParameter" {
		t.Fatalf("no api-version: %d %s", s, c)
	}
	if s, c := get(vms+"?api-version=latest", bearer); s != 400 || c != "InvalidApiVersionParameter" {
		t.Fatalf("bad api-version: %d %s", s, c)
	}
	if s, c := get("/subscriptions/00000000-0000-0000-0000-000000000000/providers/Microsoft.Compute/virtualMachines?api-version=2025-04-01", bearer); s != 404 || c != "SubscriptionNotFound" {
		t.Fatalf("unknown subscription: %d %s", s, c)
	}
	if s, c := get("/subscriptions/"+sub+"/resourceGroups/nope/providers/Microsoft.Compute/virtualMachines?api-version=2025-04-01", bearer); s != 404 || c != "ResourceGroupNotFound" {
		t.Fatalf("unknown group: %d %s", s, c)
	}
	if s, c := get("/subscriptions/"+sub+"/providers/Microsoft.Storage/storageAccounts?api-version=2025-04-01", bearer); s != 404 || c != "InvalidResourceType" {
		t.Fatalf("unknown type: %d %s", s, c)
	}
	// Namespaces and types match case-insensitively, as in ARM.
	if s, _ := get(strings.ToLower(vms)+"?api-version=2025-04-01&$skiptoken=garbage", bearer); s != 400 {
		t.Fatalf("bad skiptoken: %d", s)
	}
	sim.ExpireTokens()
	if s, c := get(vms+"?api-version=2025-04-01", bearer); s != 401 || c != "ExpiredAuthenticationToken" {
		t.Fatalf("expired token: %d %s", s, c)
	}
}

func TestListPagesThroughNextLinks(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 2, Size: 120, PageSize: 25})
	sub := azuresim.DefaultSubscriptions[1]
	c, _ := factories(t, sim, url, sub)
	vms, pages := listVMs(t, c.NewVirtualMachinesClient(), nil)
	want := standalone(sim, sub)
	if len(vms) != len(want) || pages != (len(want)+24)/25 {
		t.Fatalf("listed %d VMs in %d pages; the subscription has %d", len(vms), pages, len(want))
	}
	for i, v := range vms {
		w := want[i]
		if *v.ID != w.ID || *v.Properties.VMID != w.VMID || string(*v.Properties.HardwareProfile.VMSize) != w.Size {
			t.Fatalf("VM %d = %s %s, want %s %s", i, *v.ID, *v.Properties.VMID, w.ID, w.VMID)
		}
		if !strings.Contains(w.ID, "/resourceGroups/"+strings.ToUpper(w.ResourceGroup)+"/") {
			t.Fatalf("compute ids carry the group upper-cased: %s", w.ID)
		}
		if v.Properties.InstanceView != nil {
			t.Fatal("a plain list carries an instance view")
		}
		if w.ComputerName != "" && *v.Properties.OSProfile.ComputerName != w.ComputerName {
			t.Fatalf("computer name %s, want %s", *v.Properties.OSProfile.ComputerName, w.ComputerName)
		}
	}
	if got := sim.Stats().Calls(azuresim.OpVMListAll, sub); got != pages {
		t.Fatalf("%d list requests for %d pages", got, pages)
	}
}

func TestPagingStaysExactWhileTheFleetChanges(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 3, Size: 60, PageSize: 10, Subscriptions: azuresim.DefaultSubscriptions[:1]})
	sub := azuresim.DefaultSubscriptions[0]
	c, _ := factories(t, sim, url, sub)
	pager := c.NewVirtualMachinesClient().NewListAllPager(nil)
	first, err := pager.NextPage(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, v := range first.Value {
		seen[*v.Properties.VMID] = true
	}
	// Remove one VM already listed and one not yet listed; add one.
	all := standalone(sim, sub)
	if err := sim.Fleet().Remove(all[0].VMID); err != nil {
		t.Fatal(err)
	}
	if err := sim.Fleet().Remove(all[30].VMID); err != nil {
		t.Fatal(err)
	}
	added, err := sim.Fleet().Add(sub, "", map[string]string{"Env": "new"})
	if err != nil {
		t.Fatal(err)
	}
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, v := range page.Value {
			id := *v.Properties.VMID
			if seen[id] {
				t.Fatalf("VM %s listed twice", id)
			}
			seen[id] = true
		}
	}
	if seen[all[30].VMID] || !seen[added.VMID] || len(seen) != len(all)+1-1 {
		t.Fatalf("saw %d VMs: removed listed %v, added listed %v", len(seen), seen[all[30].VMID], seen[added.VMID])
	}
}

func TestStatusOnlyListsPowerStatesWithoutTheModel(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 4, Size: 80})
	sub := azuresim.DefaultSubscriptions[0]
	c, _ := factories(t, sim, url, sub)
	vms, _ := listVMs(t, c.NewVirtualMachinesClient(), &armcompute.VirtualMachinesClientListAllOptions{StatusOnly: to("true")})
	want := map[string]azuresim.VMInfo{}
	for _, v := range standalone(sim, sub) {
		want[v.ID] = v
	}
	states := map[string]bool{}
	for _, v := range vms {
		w, ok := want[*v.ID]
		if !ok {
			t.Fatalf("unknown VM %s", *v.ID)
		}
		p := v.Properties
		if p.HardwareProfile != nil || p.StorageProfile != nil || v.Tags != nil || p.NetworkProfile != nil {
			t.Fatalf("statusOnly answered the model of %s", *v.Name)
		}
		if *p.VMID != w.VMID || len(p.InstanceView.Statuses) != 2 {
			t.Fatalf("status of %s: %+v", *v.Name, p.InstanceView)
		}
		if code := *p.InstanceView.Statuses[1].Code; code != "PowerState/"+w.PowerState {
			t.Fatalf("%s: %s, want PowerState/%s", *v.Name, code, w.PowerState)
		}
		states[w.PowerState] = true
	}
	if len(vms) != len(want) || !states["running"] || !states["deallocated"] {
		t.Fatalf("%d statuses for %d VMs, states %v", len(vms), len(want), states)
	}
	if sim.Stats().Calls(azuresim.OpVMListAllStatus, sub) != 1 {
		t.Fatalf("stats %+v", sim.Stats().Requests)
	}
}

func TestNetworkResourcesJoinTheirVMs(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 5, Size: 150, Subscriptions: azuresim.DefaultSubscriptions[:1]})
	sub := azuresim.DefaultSubscriptions[0]
	_, n := factories(t, sim, url, sub)
	nics := map[string]*armnetwork.Interface{}
	pager := n.NewInterfacesClient().NewListAllPager(nil)
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Value {
			nics[strings.ToLower(*x.ID)] = x
		}
	}
	ips := map[string]*armnetwork.PublicIPAddress{}
	ipPager := n.NewPublicIPAddressesClient().NewListAllPager(nil)
	for ipPager.More() {
		page, err := ipPager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range page.Value {
			ips[strings.ToLower(*x.ID)] = x
		}
	}
	shared, deallocatedDynamic := 0, 0
	for _, v := range standalone(sim, sub) {
		var private, public []string
		for _, id := range v.NICs {
			nic := nics[strings.ToLower(id)]
			if nic == nil {
				t.Fatalf("NIC %s of %s not listed", id, v.Name)
			}
			if !strings.EqualFold(*nic.Properties.VirtualMachine.ID, v.ID) {
				t.Fatalf("NIC %s points at %s, not %s", id, *nic.Properties.VirtualMachine.ID, v.ID)
			}
			if strings.Contains(id, "/rg-network-") {
				shared++
			}
			if (nic.Properties.MacAddress == nil) != (v.PowerState == "deallocated" || v.PowerState == "deallocating") {
				t.Fatalf("%s (%s) MAC %v", v.Name, v.PowerState, nic.Properties.MacAddress)
			}
			cfgs := slices.Clone(nic.Properties.IPConfigurations)
			slices.SortStableFunc(cfgs, func(a, b *armnetwork.InterfaceIPConfiguration) int {
				return rank(*a.Properties.Primary) - rank(*b.Properties.Primary)
			})
			for _, c := range cfgs {
				private = append(private, *c.Properties.PrivateIPAddress)
				if c.Properties.PublicIPAddress == nil {
					continue
				}
				ip := ips[strings.ToLower(*c.Properties.PublicIPAddress.ID)]
				if ip == nil {
					t.Fatalf("public IP %s not listed", *c.Properties.PublicIPAddress.ID)
				}
				if ip.Properties.IPAddress != nil {
					public = append(public, *ip.Properties.IPAddress)
				} else if *ip.Properties.PublicIPAllocationMethod == armnetwork.IPAllocationMethodDynamic {
					deallocatedDynamic++
				}
			}
		}
		if !slices.Equal(private, v.PrivateIPs) || !slices.Equal(public, v.PublicIPs) {
			t.Fatalf("%s: private %v public %v, want %v %v", v.Name, private, public, v.PrivateIPs, v.PublicIPs)
		}
	}
	if shared == 0 || deallocatedDynamic == 0 {
		t.Fatalf("the fleet has no NIC in the shared group (%d) or no released dynamic IP (%d): the test proves little", shared, deallocatedDynamic)
	}
	// A single NIC, by resource group and name.
	v := standalone(sim, sub)[0]
	rg, name := segment(v.NICs[0], "resourceGroups"), v.NICs[0][strings.LastIndex(v.NICs[0], "/")+1:]
	got, err := n.NewInterfacesClient().Get(t.Context(), strings.ToUpper(rg), name, nil)
	if err != nil || !strings.EqualFold(*got.ID, v.NICs[0]) {
		t.Fatalf("get NIC: %v %v", err, got.ID)
	}
	_, err = n.NewInterfacesClient().Get(t.Context(), rg, "no-such-nic", nil)
	responseError(t, err, 404, "ResourceNotFound")
}

func TestScaleSets(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 6, Size: 40, ScaleSets: 12, Subscriptions: azuresim.DefaultSubscriptions[:1]})
	sub := azuresim.DefaultSubscriptions[0]
	c, n := factories(t, sim, url, sub)
	pager := c.NewVirtualMachineScaleSetsClient().NewListAllPager(nil)
	var sets []*armcompute.VirtualMachineScaleSet
	for pager.More() {
		page, err := pager.NextPage(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		sets = append(sets, page.Value...)
	}
	infos := sim.Fleet().ScaleSets()
	if len(sets) != len(infos) {
		t.Fatalf("%d scale sets listed, fleet has %d", len(sets), len(infos))
	}
	flexible, instances, publicIPs := 0, 0, 0
	for i, s := range sets {
		info := infos[i]
		rg := segment(*s.ID, "resourceGroups")
		if *s.Properties.OrchestrationMode == armcompute.OrchestrationModeFlexible {
			flexible++
			_, err := c.NewVirtualMachineScaleSetVMsClient().NewListPager(rg, *s.Name, nil).NextPage(t.Context())
			responseError(t, err, 400, "OperationNotAllowed")
			continue
		}
		vmPager := c.NewVirtualMachineScaleSetVMsClient().NewListPager(rg, *s.Name, &armcompute.VirtualMachineScaleSetVMsClientListOptions{Expand: to("instanceView")})
		var vms []*armcompute.VirtualMachineScaleSetVM
		for vmPager.More() {
			page, err := vmPager.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			vms = append(vms, page.Value...)
		}
		if len(vms) != info.Instances || info.Instances < 2 {
			t.Fatalf("scale set %s: %d instances listed, fleet has %d", *s.Name, len(vms), info.Instances)
		}
		nicPager := n.NewInterfacesClient().NewListVirtualMachineScaleSetNetworkInterfacesPager(rg, *s.Name, nil)
		nics := map[string]bool{}
		for nicPager.More() {
			page, err := nicPager.NextPage(t.Context())
			if err != nil {
				t.Fatal(err)
			}
			for _, x := range page.Value {
				nics[strings.ToLower(*x.ID)] = true
			}
		}
		for _, v := range vms {
			instances++
			w, ok := sim.Fleet().VM(*v.Properties.VMID)
			if !ok || w.ScaleSet != *s.Name || *v.InstanceID != w.InstanceID || *v.SKU.Name != w.Size {
				t.Fatalf("instance %s: %+v", *v.ID, w)
			}
			if code := *v.Properties.InstanceView.Statuses[1].Code; code != "PowerState/"+w.PowerState {
				t.Fatalf("instance %s: %s, want %s", *v.Name, code, w.PowerState)
			}
			if !nics[strings.ToLower(*v.Properties.NetworkProfile.NetworkInterfaces[0].ID)] {
				t.Fatalf("instance %s: NIC not in the scale set's NIC list", *v.Name)
			}
			// One NIC and its public IP by id, as azure_rm GETs them.
			nicID := *v.Properties.NetworkProfile.NetworkInterfaces[0].ID
			nic, err := n.NewInterfacesClient().GetVirtualMachineScaleSetNetworkInterface(t.Context(), rg, *s.Name, *v.InstanceID, segment(nicID, "networkInterfaces"), nil)
			if err != nil || !strings.EqualFold(*nic.ID, nicID) {
				t.Fatalf("instance %s: get NIC %s: %v", *v.Name, nicID, err)
			}
			if ipc := nic.Properties.IPConfigurations[0]; ipc.Properties.PublicIPAddress != nil {
				pipID := *ipc.Properties.PublicIPAddress.ID
				pip, err := n.NewPublicIPAddressesClient().GetVirtualMachineScaleSetPublicIPAddress(t.Context(), rg, *s.Name, *v.InstanceID,
					*nic.Name, *ipc.Name, segment(pipID, "publicIPAddresses"), nil)
				if err != nil || !strings.EqualFold(*pip.ID, pipID) {
					t.Fatalf("instance %s: get public IP %s: %v", *v.Name, pipID, err)
				}
				publicIPs++
			}
		}
		ipPager := n.NewPublicIPAddressesClient().NewListVirtualMachineScaleSetPublicIPAddressesPager(rg, *s.Name, nil)
		for ipPager.More() {
			if _, err := ipPager.NextPage(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	if flexible == 0 || instances == 0 || publicIPs == 0 {
		t.Fatalf("%d flexible sets, %d uniform instances, %d public IPs: the test proves little", flexible, instances, publicIPs)
	}
}

func TestThrottlingIsRetriedAfterRetryAfter(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 7, Size: 50, PageSize: 5, Subscriptions: azuresim.DefaultSubscriptions[:1],
		Faults: azuresim.Faults{ThrottleEvery: 2, RetryAfter: 3 * time.Millisecond, ErrorEvery: 5}})
	sub := azuresim.DefaultSubscriptions[0]
	c, _ := factories(t, sim, url, sub)
	vms, _ := listVMs(t, c.NewVirtualMachinesClient(), nil)
	if len(vms) != len(standalone(sim, sub)) {
		t.Fatalf("listed %d VMs", len(vms))
	}
	s := sim.Stats()
	if s.InjectedCodes["SubscriptionRequestsThrottled"] == 0 || s.InjectedCodes["InternalServerError"]+s.InjectedCodes["ServiceUnavailable"] == 0 {
		t.Fatalf("no throttle or 5xx was injected: %+v", s.InjectedCodes)
	}
	// Identity requests are not faulted unless named.
	if s.Faulted(azuresim.OpToken, "") != 0 {
		t.Fatal("the token request was faulted")
	}
}

func TestThrottledAnswerCarriesRetryAfter(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 7, Size: 5, Faults: azuresim.Faults{ThrottleEvery: 1, RetryAfter: 1500 * time.Millisecond}})
	tok, err := credential(t, sim, url, sim.ClientSecret()).GetToken(t.Context(), policy.TokenRequestOptions{Scopes: []string{"https://management.core.windows.net//.default"}})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, url+"/subscriptions/"+azuresim.DefaultSubscriptions[0]+"/providers/Microsoft.Network/networkInterfaces?api-version=2025-05-01", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err := sim.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "2" || resp.Header.Get("x-ms-retry-after-ms") != "1500" ||
		!strings.Contains(string(body), `"code":"SubscriptionRequestsThrottled"`) {
		t.Fatalf("%d %v %s", resp.StatusCode, resp.Header, body)
	}
}

func TestFailingSubscriptionAnswers403AndIsNotRetried(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 8, Size: 30})
	bad, good := azuresim.DefaultSubscriptions[1], azuresim.DefaultSubscriptions[0]
	sim.SetFaults(azuresim.Faults{DenyScopes: []string{strings.ToUpper(bad)}})
	c, _ := factories(t, sim, url, bad)
	_, err := c.NewVirtualMachinesClient().NewListAllPager(nil).NextPage(t.Context())
	responseError(t, err, 403, "AuthorizationFailed")
	if n := sim.Stats().Calls(azuresim.OpVMListAll, bad); n != 1 {
		t.Fatalf("403 was retried: %d requests", n)
	}
	gc, _ := factories(t, sim, url, good)
	if vms, _ := listVMs(t, gc.NewVirtualMachinesClient(), nil); len(vms) == 0 {
		t.Fatal("the healthy subscription listed nothing")
	}
}

func TestFailAfterPage(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 9, Size: 40, PageSize: 5, Subscriptions: azuresim.DefaultSubscriptions[:1],
		Faults: azuresim.Faults{FailAfterPage: 2}})
	c, _ := factories(t, sim, url, azuresim.DefaultSubscriptions[0])
	pager := c.NewVirtualMachinesClient().NewListAllPager(nil)
	for range 2 {
		if _, err := pager.NextPage(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	_, err := pager.NextPage(t.Context())
	responseError(t, err, 500, "InternalServerError")
}

func TestLatencyHonoursCancellation(t *testing.T) {
	sim, url := start(t, azuresim.Options{Seed: 9, Size: 5, Faults: azuresim.Faults{Latency: time.Minute}})
	c, _ := factories(t, sim, url, azuresim.DefaultSubscriptions[0])
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	_, err := c.NewVirtualMachinesClient().NewListAllPager(nil).NextPage(ctx)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want the deadline", err)
	}
}

func TestStartServesHTTPSWithTheExportedCA(t *testing.T) {
	sim := azuresim.New(azuresim.Options{Seed: 1, Size: 2})
	url, stop, err := sim.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(sim.CACertificatePEM()) {
		t.Fatal("CACertificatePEM is not PEM")
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Get(url + "/" + sim.TenantID() + "/v2.0/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	err = json.NewDecoder(resp.Body).Decode(&doc)
	resp.Body.Close()
	if err != nil || doc["issuer"] != url+"/"+sim.TenantID()+"/v2.0" || doc["token_endpoint"] != url+"/"+sim.TenantID()+"/oauth2/v2.0/token" {
		t.Fatalf("openid configuration %v %v", doc, err)
	}
	if _, err := http.Get(url + "/"); err == nil {
		t.Fatal("a client without the CA trusted the server")
	}
	stop()
	if _, err := client.Get(url + "/"); err == nil {
		t.Fatal("served after stop")
	}
}

func TestFleetIsDeterministic(t *testing.T) {
	a := azuresim.NewFleet(42, 300, 10, nil).VMs()
	b := azuresim.NewFleet(42, 300, 10, nil).VMs()
	if !reflect.DeepEqual(a, b) {
		t.Fatal("two fleets of one seed differ")
	}
	c := azuresim.NewFleet(43, 300, 10, nil).VMs()
	if reflect.DeepEqual(a, c) {
		t.Fatal("the seed changes nothing")
	}
	ids := map[string]bool{}
	for _, v := range a {
		if ids[v.VMID] {
			t.Fatalf("vmId %s twice", v.VMID)
		}
		ids[v.VMID] = true
	}
}

func TestFleetMutations(t *testing.T) {
	f := azuresim.NewFleet(1, 20, 4, nil)
	v := f.VMs()[0]
	if err := f.SetPowerState(v.VMID, "deallocated"); err != nil {
		t.Fatal(err)
	}
	if err := f.SetTag(v.VMID, "Env", "moved"); err != nil {
		t.Fatal(err)
	}
	got, _ := f.VM(v.VMID)
	if got.PowerState != "deallocated" || len(got.PublicIPs) > len(v.PublicIPs) {
		t.Fatalf("after deallocation %+v", got)
	}
	if env, _ := got.Tag("Env"); env != "moved" {
		t.Fatalf("tag %s", env)
	}
	if err := f.SetPowerState(v.VMID, "hibernating"); err == nil {
		t.Fatal("an unknown power state was accepted")
	}
	if err := f.Remove(v.VMID); err != nil {
		t.Fatal(err)
	}
	if _, ok := f.VM(v.VMID); ok || !errors.Is(f.Remove(v.VMID), azuresim.ErrNoVM) {
		t.Fatal("a removed VM is still there")
	}
	for _, s := range f.ScaleSets() {
		if s.Flexible {
			continue
		}
		added, err := f.AddScaleSetInstance(s.Subscription, s.Name)
		if err != nil || added.ScaleSet != s.Name || added.PowerState != "running" {
			t.Fatalf("add instance: %+v %v", added, err)
		}
		return
	}
	t.Fatal("no uniform scale set")
}

func segment(id, name string) string {
	parts := strings.Split(id, "/")
	for i := range len(parts) - 1 {
		if strings.EqualFold(parts[i], name) {
			return parts[i+1]
		}
	}
	return ""
}

func rank(b bool) int {
	if b {
		return 0
	}
	return 1
}

func to[T any](v T) *T { return &v }
