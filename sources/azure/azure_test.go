package azure_test

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"

	"github.com/rosterhq/roster"
	"github.com/rosterhq/roster/sources"
	"github.com/rosterhq/roster/sources/azure"
	"github.com/rosterhq/roster/sources/azure/azuresim"
)

var subs = azuresim.DefaultSubscriptions

// pluginKeys are the host vars the azure_rm plugin emits for every VM.
var pluginKeys = []string{
	"id", "name", "location", "resource_group", "tags", "powerstate", "provisioning_state", "vmid",
	"computer_name", "availability_zone", "resource_type", "os_profile", "vmss", "virtual_machine_size",
	"plan", "default_inventory_hostname", "creation_time", "license_type", "image", "os_disk", "data_disks",
	"network_interface", "network_interface_id", "mac_address", "security_group_id", "security_group",
	"public_ipv4_address", "public_ipv4_addresses", "public_ip_address", "public_dns_hostnames",
	"private_ipv4_addresses", "subnet",
}

func TestScopesAreTheSubscriptions(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 1, Size: 5})
	p := open(t, simDriver(sim), simConfig(url, subs, nil))
	scopes, err := p.Scopes(t.Context())
	if err != nil || !slices.Equal(scopes, subs) {
		t.Fatalf("scopes %v %v", scopes, err)
	}
	if sim.Stats().Total() != 0 {
		t.Fatal("Open or Scopes made requests")
	}
}

// TestHostFiltersLeaveOutVMsAsThePluginDoes runs exclude, default and
// include_host_filters against the simulator's fleet.
func TestHostFiltersLeaveOutVMsAsThePluginDoes(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 2, Size: 120, PageSize: 40})
	sub := subs[0]
	fleet := fleetBy(sim, sub, false)
	loc := fleet[sortedKeys(fleet)[0]].Location
	for _, tc := range []struct {
		name   string
		extra  map[string]any
		wanted func(azuresim.VMInfo) bool
	}{
		{"default filters given", map[string]any{"default_host_filters": []any{`powerstate != "running"`, `provisioning_state != "succeeded"`}},
			func(v azuresim.VMInfo) bool {
				return v.PowerState == "running" && strings.EqualFold(v.ProvisioningState, "succeeded")
			}},
		{"exclude by location", map[string]any{"exclude_host_filters": []any{"location in ['" + loc + "']"}},
			func(v azuresim.VMInfo) bool { return v.Location != loc }},
		{"include by power, exclude by os", map[string]any{"include_host_filters": []any{"powerstate == 'running'"}, "exclude_host_filters": []any{"os_profile.system == 'windows'"}},
			func(v azuresim.VMInfo) bool { return v.PowerState == "running" && v.OSType != "Windows" }},
		{"an undefined var is false", map[string]any{"exclude_host_filters": []any{"no_such_var == 1"}},
			func(azuresim.VMInfo) bool { return true }},
		{"empty include keeps none", map[string]any{"include_host_filters": []any{}},
			func(azuresim.VMInfo) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			insts := collect(t, open(t, simDriver(sim), simConfig(url, subs, tc.extra)), sub)
			got := map[string]bool{}
			for _, inst := range insts {
				got[inst.ExternalID] = true
			}
			n := 0
			for id, v := range fleet {
				if tc.wanted(v) != got[id] {
					t.Errorf("%s (%s, %s, %s): kept %v", v.Name, v.PowerState, v.Location, v.OSType, got[id])
				}
				if tc.wanted(v) {
					n++
				}
			}
			if len(got) != n {
				t.Fatalf("kept %d VMs, want %d", len(got), n)
			}
			if strings.Contains(tc.name, "filter") || strings.Contains(tc.name, " by ") {
				if n == 0 || n == len(fleet) {
					t.Fatalf("the fleet does not test this filter: it keeps %d of %d VMs", n, len(fleet))
				}
			}
		})
	}
}

func TestHostVarsHaveThePluginsShape(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 2, Size: 240, PageSize: 40})
	p := open(t, simDriver(sim), simConfig(url, subs, nil))
	sub := subs[0]
	insts := collect(t, p, sub)
	want := fleetBy(sim, sub, false)
	if len(insts) != len(want) {
		t.Fatalf("collected %d VMs, the subscription has %d", len(insts), len(want))
	}
	seen := map[string]bool{}
	var deallocated, withPublic, twoNICs, noOSProfile, windows int
	for _, inst := range insts {
		info, ok := want[inst.ExternalID]
		if !ok || seen[inst.ExternalID] {
			t.Fatalf("unknown or repeated external id %s", inst.ExternalID)
		}
		seen[inst.ExternalID] = true
		v := inst.Vars
		for _, k := range pluginKeys {
			if _, ok := v[k]; !ok {
				t.Fatalf("%s: host var %q missing (have %v)", info.Name, k, sortedKeys(v))
			}
		}
		if _, err := json.Marshal(v); err != nil {
			t.Fatalf("vars are not plain JSON: %v", err)
		}
		if v["id"] != info.ID || v["name"] != info.Name || v["vmid"] != info.VMID || v["location"] != info.Location ||
			v["resource_group"] != strings.ToLower(info.ResourceGroup) || v["virtual_machine_size"] != info.Size ||
			v["resource_type"] != "Microsoft.Compute/virtualMachines" {
			t.Fatalf("%s: identity vars %v", info.Name, v)
		}
		if v["powerstate"] != info.PowerState || v["provisioning_state"] != strings.ToLower(info.ProvisioningState) ||
			inst.Enabled != (info.PowerState == "running" && info.ProvisioningState == "Succeeded") {
			t.Fatalf("%s: powerstate %v provisioning %v enabled %v; VM %s %s", info.Name, v["powerstate"], v["provisioning_state"], inst.Enabled, info.PowerState, info.ProvisioningState)
		}
		sum := sha1.Sum([]byte(info.ID))
		dih := info.Name + "_" + hex.EncodeToString(sum[:])[:4]
		if v["default_inventory_hostname"] != dih || !slices.Equal(inst.Hostnames, []string{dih}) {
			t.Fatalf("%s: default_inventory_hostname %v hostnames %v, want %s", info.Name, v["default_inventory_hostname"], inst.Hostnames, dih)
		}
		if !slices.Equal(strs(v["private_ipv4_addresses"]), info.PrivateIPs) ||
			!slices.Equal(slots(v["public_ipv4_address"]), info.PublicIPSlots) ||
			!slices.Equal(slots(v["public_ipv4_addresses"]), info.PublicIPSlots) ||
			!slices.Equal(allocated(v["public_ipv4_address"]), info.PublicIPs) ||
			!slices.Equal(strs(v["public_dns_hostnames"]), info.FQDNs) {
			t.Fatalf("%s: addresses private %v public %v dns %v, want %v %v %v", info.Name,
				v["private_ipv4_addresses"], v["public_ipv4_address"], v["public_dns_hostnames"], info.PrivateIPs, info.PublicIPs, info.FQDNs)
		}
		if got := strs(v["network_interface_id"]); !slices.Equal(got, info.NICs) {
			t.Fatalf("%s: NICs %v, want %v (primary first)", info.Name, got, info.NICs)
		}
		wantAddr := ""
		if len(info.PublicIPs) > 0 {
			wantAddr = info.PublicIPs[0]
		} else if len(info.PrivateIPs) > 0 {
			wantAddr = info.PrivateIPs[0]
		}
		if inst.Address != wantAddr {
			t.Fatalf("%s: address %s, want %s", info.Name, inst.Address, wantAddr)
		}
		// The plugin sets ansible_host on the host, outside the vars its
		// expressions see.
		if _, ok := v["ansible_host"]; ok {
			t.Fatalf("%s: ansible_host among the vars hostnames and compose see", info.Name)
		}
		// The first public IP, even one not allocated (None), else the
		// first private address.
		var wantHost any = wantAddr
		if len(info.PublicIPSlots) > 0 && info.PublicIPSlots[0] == "" {
			wantHost = nil
		}
		if got := inst.DefaultVars["ansible_host"]; got != wantHost {
			t.Fatalf("%s: ansible_host %v, want %v", info.Name, got, wantHost)
		}
		tags := v["tags"].(map[string]any)
		if len(tags) != len(info.Tags) {
			t.Fatalf("%s: tags %v, want %v", info.Name, tags, info.Tags)
		}
		for _, tag := range info.Tags {
			if tags[tag.Key] != tag.Value {
				t.Fatalf("%s: tag %s = %v, want %s", info.Name, tag.Key, tags[tag.Key], tag.Value)
			}
		}
		system := v["os_profile"].(map[string]any)["system"]
		if system != strings.ToLower(info.OSType) {
			t.Fatalf("%s: os_profile.system %v, OS %s", info.Name, system, info.OSType)
		}
		if (v["computer_name"] == nil) != (info.ComputerName == "") {
			t.Fatalf("%s: computer_name %v, want %q", info.Name, v["computer_name"], info.ComputerName)
		}
		if ct := v["creation_time"].(string); ct != info.Created.UTC().Format("2006-01-02T15:04:05.0000000+00:00") {
			t.Fatalf("%s: creation_time %s", info.Name, ct)
		}
		if len(inst.Groups) != 0 {
			t.Fatalf("the plugin puts hosts in no group of its own: %v", inst.Groups)
		}
		macs := v["mac_address"].([]any)
		if info.PowerState == "deallocated" {
			deallocated++
			if inst.Enabled || macs[0] != nil {
				t.Fatalf("deallocated %s: enabled %v mac %v", info.Name, inst.Enabled, macs)
			}
		}
		if len(info.PublicIPs) > 0 {
			withPublic++
		}
		if len(info.NICs) > 1 {
			twoNICs++
		}
		if info.ComputerName == "" {
			noOSProfile++
		}
		if info.OSType == "Windows" {
			windows++
		}
	}
	if deallocated == 0 || withPublic == 0 || twoNICs == 0 || noOSProfile == 0 || windows == 0 {
		t.Fatalf("the fleet lacks a case: deallocated %d public %d two NICs %d no osProfile %d windows %d", deallocated, withPublic, twoNICs, noOSProfile, windows)
	}
}

// TestRequestsDoNotGrowWithVMs: a subscription costs a few list pages,
// never a request per VM (the plugin makes at least three per VM).
func TestRequestsDoNotGrowWithVMs(t *testing.T) {
	const size, page = 900, 100
	sim, url := startSim(t, azuresim.Options{Seed: 3, Size: size, PageSize: page, Subscriptions: subs[:1]})
	p := open(t, simDriver(sim), simConfig(url, subs[:1], nil))
	insts := collect(t, p, subs[0])
	if len(insts) != size {
		t.Fatalf("collected %d", len(insts))
	}
	nics, ips := 0, 0
	for _, v := range sim.Fleet().VMs() {
		nics += len(v.NICs)
	}
	for _, inst := range insts {
		ips += len(inst.Vars["public_ip_address"].([]any))
	}
	pages := func(n int) int { return (n + page - 1) / page }
	s := sim.Stats()
	for op, want := range map[string]int{
		azuresim.OpVMListAll:       pages(size),
		azuresim.OpVMListAllStatus: pages(size),
		azuresim.OpNICListAll:      pages(nics),
		azuresim.OpPublicIPListAll: pages(ips),
	} {
		if n := s.Calls(op, ""); n != want {
			t.Fatalf("%s: %d requests, want %d", op, n, want)
		}
	}
	if n := s.Calls(azuresim.OpNICGet, "") + s.Calls(azuresim.OpPublicIPGet, "") + s.Calls(azuresim.OpVMInstanceView, ""); n != 0 {
		t.Fatalf("%d single gets for a fleet that did not change", n)
	}
	// The token and OpenID configuration, then the lists.
	if want := 2 + 2*pages(size) + pages(nics) + pages(ips); s.Total() != want {
		t.Fatalf("%d requests for %d VMs, want %d (%v)", s.Total(), size, want, s.Requests)
	}
}

func TestResourceGroupsAreListedAndJoinedAcrossGroups(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 4, Size: 400, Subscriptions: subs[:2]})
	var groups []string // groups of the first subscription only
	for _, g := range sim.Fleet().ResourceGroups(subs[0]) {
		if !slices.Contains(sim.Fleet().ResourceGroups(subs[1]), g) && len(groups) < 2 {
			groups = append(groups, g)
		}
	}
	if len(groups) < 2 {
		t.Fatalf("the subscriptions share their groups: %v %v", sim.Fleet().ResourceGroups(subs[0]), sim.Fleet().ResourceGroups(subs[1]))
	}
	// The second subscription has neither group: it must not fail.
	p := open(t, simDriver(sim), simConfig(url, subs[:2], map[string]any{"include_vm_resource_groups": toAny(append(groups, "missing-everywhere"))}))
	insts := collect(t, p, subs[0])
	want := 0
	crossGroup := 0
	for _, v := range fleetBy(sim, subs[0], false) {
		if slices.Contains(groups, v.ResourceGroup) {
			want++
		}
	}
	for _, inst := range insts {
		info, _ := sim.Fleet().VM(inst.ExternalID)
		if !slices.Contains(groups, info.ResourceGroup) {
			t.Fatalf("VM of group %s listed", info.ResourceGroup)
		}
		if !slices.Equal(strs(inst.Vars["private_ipv4_addresses"]), info.PrivateIPs) || !slices.Equal(allocated(inst.Vars["public_ipv4_address"]), info.PublicIPs) {
			t.Fatalf("%s: network not joined: %v %v", info.Name, inst.Vars["private_ipv4_addresses"], inst.Vars["public_ipv4_address"])
		}
		if strings.Contains(info.NICs[0], "/rg-network-") {
			crossGroup++
		}
	}
	if len(insts) != want || crossGroup == 0 {
		t.Fatalf("collected %d of %d; %d with a NIC in another group", len(insts), want, crossGroup)
	}
	s := sim.Stats()
	if s.Calls(azuresim.OpNICListAll, "")+s.Calls(azuresim.OpPublicIPListAll, "")+s.Calls(azuresim.OpVMListAll, "") != 0 {
		t.Fatalf("listed whole subscriptions for two groups: %v", s.Requests)
	}
	if s.Calls(azuresim.OpVMList, subs[0]) != 3 || s.Calls(azuresim.OpNICList, subs[0]) == 0 || s.Calls(azuresim.OpPublicIPList, subs[0]) == 0 {
		t.Fatalf("per-group lists: %v", s.Requests)
	}
	if other := collect(t, p, subs[1]); len(other) != 0 {
		t.Fatalf("the second subscription has none of the groups, yet %d VMs", len(other))
	}
}

func TestScaleSetInstances(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 5, Size: 120, ScaleSets: 15, Subscriptions: subs[:1]})
	sub := subs[0]
	without := collect(t, open(t, simDriver(sim), simConfig(url, subs[:1], nil)), sub)
	if len(without) != len(fleetBy(sim, sub, false)) {
		t.Fatalf("without include_vmss: %d VMs, want the %d standalone ones", len(without), len(fleetBy(sim, sub, false)))
	}
	with := collect(t, open(t, simDriver(sim), simConfig(url, subs[:1], map[string]any{"include_vmss": true})), sub)
	all := fleetBy(sim, sub, true)
	if len(with) != len(all) {
		t.Fatalf("with include_vmss: %d, want %d", len(with), len(all))
	}
	flexMembers, instances := 0, 0
	for _, inst := range with {
		info := all[inst.ExternalID]
		vmss := inst.Vars["vmss"].(map[string]any)
		switch {
		case info.ScaleSet != "":
			instances++
			if vmss["name"] != info.ScaleSet || !strings.HasSuffix(vmss["id"].(string), "/"+info.ScaleSet) ||
				inst.Vars["resource_type"] != "Microsoft.Compute/virtualMachineScaleSets/virtualMachines" ||
				inst.Vars["virtual_machine_size"] != info.Size || inst.Vars["powerstate"] != info.PowerState ||
				inst.Vars["computer_name"] != info.ComputerName {
				t.Fatalf("instance %s vars %v", info.Name, inst.Vars)
			}
			if !slices.Equal(strs(inst.Vars["private_ipv4_addresses"]), info.PrivateIPs) || !slices.Equal(allocated(inst.Vars["public_ipv4_address"]), info.PublicIPs) {
				t.Fatalf("instance %s: %v %v, want %v %v", info.Name, inst.Vars["private_ipv4_addresses"], inst.Vars["public_ipv4_address"], info.PrivateIPs, info.PublicIPs)
			}
		case info.FlexScaleSet != "":
			flexMembers++
			if len(vmss) != 0 {
				t.Fatalf("a flexible member is listed as a VM, with vmss {} as the plugin does: %v", vmss)
			}
		}
	}
	if instances == 0 || flexMembers == 0 {
		t.Fatalf("%d instances, %d flexible members: the test proves little", instances, flexMembers)
	}
	// Only the named groups' scale sets.
	set := sim.Fleet().ScaleSets()[0]
	only := collect(t, open(t, simDriver(sim), simConfig(url, subs[:1], map[string]any{"include_vmss_resource_groups": []any{set.ResourceGroup}})), sub)
	for _, inst := range only {
		if info := all[inst.ExternalID]; info.ScaleSet != "" && info.ResourceGroup != set.ResourceGroup {
			t.Fatalf("instance of group %s listed", info.ResourceGroup)
		}
	}
}

func TestHostnamesAreJinjaExpressions(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 6, Size: 150, Subscriptions: subs[:1]})
	p := open(t, simDriver(sim), simConfig(url, subs[:1], map[string]any{
		"hostnames":        []any{"tags.vm_name", `default_inventory_hostname + ".domain.tld"`, "(computer_name or '') | upper", "default"},
		"plain_host_names": true,
	}))
	withTag := 0
	for _, inst := range collect(t, p, subs[0]) {
		info, _ := sim.Fleet().VM(inst.ExternalID)
		tag, _ := info.Tag("vm_name")
		upper := strings.ToUpper(info.ComputerName)
		want := []string{tag, info.Name + ".domain.tld", upper, info.Name}
		if !slices.Equal(inst.Hostnames, want) {
			t.Fatalf("%s: hostnames %q, want %q", info.Name, inst.Hostnames, want)
		}
		if tag != "" {
			withTag++
		}
	}
	if withTag == 0 {
		t.Fatal("no VM has a vm_name tag: the test proves little")
	}
}

func TestThrottlingAndServerErrorsAreRetried(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 7, Size: 200, PageSize: 20, Subscriptions: subs[:1],
		Faults: azuresim.Faults{ThrottleEvery: 4, RetryAfter: 2 * time.Millisecond, ErrorEvery: 9}})
	insts := collect(t, open(t, simDriver(sim), simConfig(url, subs[:1], nil)), subs[0])
	if len(insts) != 200 {
		t.Fatalf("collected %d of 200", len(insts))
	}
	s := sim.Stats()
	if s.InjectedCodes["SubscriptionRequestsThrottled"] == 0 || s.InjectedCodes["InternalServerError"] == 0 {
		t.Fatalf("injected %v: the test proves nothing", s.InjectedCodes)
	}
}

func TestCollectIsAllOrNothing(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 8, Size: 300, PageSize: 50, Subscriptions: subs[:1]})
	p := open(t, simDriver(sim), simConfig(url, subs[:1], nil))
	sim.SetFaults(azuresim.Faults{FailAfterPage: 2, Ops: []string{azuresim.OpNICListAll}})
	insts, err := p.Collect(t.Context(), subs[0])
	if err == nil || insts != nil {
		t.Fatalf("a failing later page gave %d instances, %v", len(insts), err)
	}
	if !strings.HasPrefix(err.Error(), "list network interfaces: InternalServerError (HTTP 500): ") {
		t.Fatalf("error %q does not say what failed", err)
	}
}

func TestForbiddenSubscriptionFailsAlone(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 9, Size: 90, Faults: azuresim.Faults{DenyScopes: subs[1:2]}})
	p := open(t, simDriver(sim), simConfig(url, subs, nil))
	outcomes := map[string]sources.Outcome{}
	var mu sync.Mutex
	sources.CollectScopes(t.Context(), p, subs, 0, func(o sources.Outcome) {
		mu.Lock()
		outcomes[o.Scope] = o
		mu.Unlock()
	})
	bad := outcomes[subs[1]]
	if bad.Err == nil || bad.Instances != nil || !strings.Contains(bad.Err.Error(), "AuthorizationFailed (HTTP 403)") {
		t.Fatalf("forbidden subscription: %d instances, %v", len(bad.Instances), bad.Err)
	}
	for _, s := range []string{subs[0], subs[2]} {
		if o := outcomes[s]; o.Err != nil || len(o.Instances) != len(fleetBy(sim, s, false)) {
			t.Fatalf("%s: %d instances, %v", s, len(o.Instances), o.Err)
		}
	}
}

// gateTransport holds the full VM list until the status, NIC and public
// IP lists have answered, then runs hook (which adds VMs) and lets it go:
// the added VMs are in the VM list only, as when created between lists.
type gateTransport struct {
	base    http.RoundTripper
	hook    func()
	mu      sync.Mutex
	done    map[string]bool
	release chan struct{}
	once    sync.Once
}

func (g *gateTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	kind := ""
	path := strings.ToLower(r.URL.Path)
	switch {
	case strings.HasSuffix(path, "/virtualmachines") && r.URL.Query().Get("statusOnly") == "true":
		kind = "status"
	case strings.HasSuffix(path, "/virtualmachines"):
		select {
		case <-g.release:
		case <-r.Context().Done():
			return nil, r.Context().Err()
		}
	case strings.HasSuffix(path, "/networkinterfaces"):
		kind = "nics"
	case strings.HasSuffix(path, "/publicipaddresses"):
		kind = "ips"
	}
	resp, err := g.base.RoundTrip(r)
	if kind != "" && err == nil {
		g.mu.Lock()
		g.done[kind] = true
		all := len(g.done) == 3
		g.mu.Unlock()
		if all {
			g.once.Do(func() { g.hook(); close(g.release) })
		}
	}
	return resp, err
}

func TestWhatTheListsMissedIsFetchedOneByOne(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 10, Size: 30, Subscriptions: subs[:1]})
	var added []azuresim.VMInfo
	gate := &gateTransport{base: sim.Transport(), done: map[string]bool{}, release: make(chan struct{}), hook: func() {
		for range 12 {
			v, err := sim.Fleet().Add(subs[0], "rg-late", nil)
			if err != nil {
				t.Error(err) // not on the test's goroutine: no Fatal
				return
			}
			added = append(added, v)
		}
	}}
	d := simDriver(sim)
	d.HTTPClient = &http.Client{Transport: gate}
	insts := collect(t, open(t, d, simConfig(url, subs[:1], nil)), subs[0])
	if len(insts) != 42 {
		t.Fatalf("collected %d, want 30 + 12 late VMs", len(insts))
	}
	byID := map[string]sources.Instance{}
	for _, inst := range insts {
		byID[inst.ExternalID] = inst
	}
	publics := 0
	for _, v := range added {
		inst, ok := byID[v.VMID]
		if !ok || inst.Vars["powerstate"] != "running" || !inst.Enabled {
			t.Fatalf("late VM %s: %+v", v.Name, inst)
		}
		if !slices.Equal(strs(inst.Vars["private_ipv4_addresses"]), v.PrivateIPs) || !slices.Equal(allocated(inst.Vars["public_ipv4_address"]), v.PublicIPs) {
			t.Fatalf("late VM %s: network %v %v, want %v %v", v.Name, inst.Vars["private_ipv4_addresses"], inst.Vars["public_ipv4_address"], v.PrivateIPs, v.PublicIPs)
		}
		publics += len(v.PublicIPs)
	}
	s := sim.Stats()
	nics := 0
	for _, v := range added {
		nics += len(v.NICs)
	}
	if s.Calls(azuresim.OpVMInstanceView, "") != 12 || s.Calls(azuresim.OpNICGet, "") != nics || s.Calls(azuresim.OpPublicIPGet, "") == 0 || publics == 0 {
		t.Fatalf("single gets: %v (public IPs %d)", s.Requests, publics)
	}
}

// TestSecretsNeverLeak: neither the client secret nor an access token
// appears in errors, logs or host vars, whether the secret is right or not.
func TestSecretsNeverLeak(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 11, Size: 20, Subscriptions: subs[:1]})
	var logs bytes.Buffer
	log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))

	wrong := simDriver(sim)
	wrong.ClientSecret = &azure.ClientSecret{TenantID: sim.TenantID(), ClientID: sim.ClientID(), Secret: secretValue}
	p, err := wrong.Open(t.Context(), simConfig(url, subs[:1], nil), nil, log)
	must(t, err)
	_, err = p.Collect(t.Context(), subs[0])
	if err == nil || !strings.Contains(err.Error(), "AADSTS7000215") {
		t.Fatalf("wrong secret: %v", err)
	}
	leak := func(what string, s string) {
		t.Helper()
		if strings.Contains(s, secretValue) || strings.Contains(s, sim.ClientSecret()) || strings.Contains(s, "eyJ0eXAiOiJKV1Qi") {
			t.Fatalf("%s carries a secret or a token: %s", what, s)
		}
	}
	leak("the error", fmt.Sprintf("%v %+v", err, err))
	leak("the driver", fmt.Sprintf("%v %+v %#v", wrong, wrong, *wrong.ClientSecret))

	p, err = simDriver(sim).Open(t.Context(), simConfig(url, subs[:1], nil), nil, log)
	must(t, err)
	insts, err := p.Collect(t.Context(), subs[0])
	must(t, err)
	vars, _ := json.Marshal(insts)
	leak("host vars", string(vars))
	leak("logs", logs.String())
	if sim.Stats().TokensIssued == 0 {
		t.Fatal("no token was issued: the test proves nothing")
	}
}

func TestInjectedCredential(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 12, Size: 10, Subscriptions: subs[:1]})
	// A credential from elsewhere (the demo's, a broker's) is used as is.
	cred := &countingCredential{}
	d := simDriver(sim)
	d.ClientSecret = nil
	d.Credential = cred
	p := open(t, d, simConfig(url, subs[:1], nil))
	_, err := p.Collect(t.Context(), subs[0])
	if err == nil || !strings.Contains(err.Error(), "InvalidAuthenticationToken (HTTP 401)") || cred.calls() == 0 {
		t.Fatalf("a made-up token: %v after %d GetToken calls", err, cred.calls())
	}
}

func TestStoppedVMKeepsItsHostWithoutAPublicAddress(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 13, Size: 200, Subscriptions: subs[:1]})
	p := open(t, simDriver(sim), simConfig(url, subs[:1], nil))
	var target azuresim.VMInfo
	for _, v := range fleetBy(sim, subs[0], false) {
		if v.PowerState == "running" && len(v.PublicIPs) > 0 && len(v.NICs) == 1 {
			target = v
			break
		}
	}
	if target.VMID == "" {
		t.Fatal("no running VM with a public IP")
	}
	must(t, sim.Fleet().SetPowerState(target.VMID, "deallocated"))
	after, _ := sim.Fleet().VM(target.VMID)
	for _, inst := range collect(t, p, subs[0]) {
		if inst.ExternalID != target.VMID {
			continue
		}
		if inst.Enabled || inst.Vars["powerstate"] != "deallocated" || !slices.Equal(allocated(inst.Vars["public_ipv4_address"]), after.PublicIPs) {
			t.Fatalf("deallocated VM: enabled %v vars %v", inst.Enabled, inst.Vars)
		}
		if len(after.PublicIPs) == 0 {
			if inst.Address != after.PrivateIPs[0] {
				t.Fatalf("address %s, want the private %s once the dynamic IP is released", inst.Address, after.PrivateIPs[0])
			}
			// The plugin's lists keep the released IP as None, and its
			// ansible_host is that None.
			if l := inst.Vars["public_ipv4_address"].([]any); len(l) != 1 || l[0] != nil {
				t.Fatalf("public_ipv4_address %v, want [None]", l)
			}
			if h, ok := inst.DefaultVars["ansible_host"]; !ok || h != nil {
				t.Fatalf("ansible_host %v (set %v), want None", h, ok)
			}
		}
		return
	}
	t.Fatal("the deallocated VM was not collected")
}

// countingCredential hands out a token the server never issued.
type countingCredential struct {
	mu sync.Mutex
	n  int
}

func (c *countingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n++
	return azcore.AccessToken{Token: "made-up", ExpiresOn: time.Now().Add(time.Hour)}, nil
}

func (c *countingCredential) calls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n
}

// TestBrokerCredential: a source's azure credential from the broker is the
// service principal a sync authenticates as (ahead of the Driver's and the
// environment's), and its subscription_id the scope when the source lists
// none.
func TestBrokerCredential(t *testing.T) {
	sim, url := startSim(t, azuresim.Options{Seed: 14, Size: 30})
	d := simDriver(sim)
	d.ClientSecret = &azure.ClientSecret{TenantID: sim.TenantID(), ClientID: sim.ClientID(), Secret: "not-the-secret"}
	broker := &sources.Credential{Type: roster.CredentialAzure, Fields: map[string]roster.Secret{
		"tenant_id":       roster.Secret(sim.TenantID()),
		"client_id":       roster.Secret(sim.ClientID()),
		"client_secret":   roster.Secret(sim.ClientSecret()),
		"subscription_id": roster.Secret(subs[2]),
	}}
	cfg := map[string]any{"authority_host": url, "arm_endpoint": url}
	p, err := d.Open(t.Context(), cfg, broker, discard())
	must(t, err)
	scopes, _ := p.Scopes(t.Context())
	if !slices.Equal(scopes, subs[2:3]) {
		t.Fatalf("scopes %v, want the credential's subscription", scopes)
	}
	if got := collect(t, p, subs[2]); len(got) != len(fleetBy(sim, subs[2], false)) {
		t.Fatalf("collected %d through the broker's credential", len(got))
	}

	incomplete := &sources.Credential{Type: roster.CredentialAzure, Fields: map[string]roster.Secret{"tenant_id": "t", "client_secret": secretValue}}
	_, err = d.Open(t.Context(), simConfig(url, subs, nil), incomplete, discard())
	if err == nil || !strings.Contains(err.Error(), "client_id") || strings.Contains(err.Error(), secretValue) {
		t.Fatalf("incomplete credential: %v", err)
	}
	_, err = d.Open(t.Context(), cfg, &sources.Credential{Type: roster.CredentialAWS}, discard())
	if roster.ErrorCode(err) != roster.EINVALID {
		t.Fatalf("an aws credential: %v", err)
	}
}
