package azure

import (
	"crypto/sha1"
	"encoding/hex"
	"encoding/json"
	"errors"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/runtime"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/rosterhq/roster/sources"
)

// instance turns a VM record and the fetched network resources into an
// Instance.
func (p *provider) instance(r *vmRecord, f *fetch) sources.Instance {
	vars, public, private := p.hostVars(r, f)
	address := ""
	if len(public) > 0 {
		address = public[0]
	} else if len(private) > 0 {
		address = private[0]
	}
	id := r.vmID
	if id == "" {
		id = strings.ToLower(r.id)
	}
	return sources.Instance{
		ExternalID:  id,
		Hostnames:   hostnames(p.opts.hostnames, vars),
		Address:     address,
		Enabled:     enabled(r),
		Vars:        vars,
		DefaultVars: map[string]any{"ansible_host": ansibleHost(vars)},
	}
}

// enabled is the opposite of the plugin's default_host_filters
// (powerstate != "running", provisioning_state != "succeeded"): what the
// plugin leaves out by default is a disabled host, left out of the
// Ansible inventory unless asked for.
func enabled(r *vmRecord) bool {
	return r.power == "running" && strings.EqualFold(r.provisioning, "succeeded")
}

// ansibleHost is the plugin's ansible_host: the first entry of
// public_ipv4_address, else of private_ipv4_addresses, else None. The
// plugin sets it on the host but not in the vars its hostnames, filters
// and compose see (groups and keyed_groups see it through the host's
// vars), and compose may override it. A public IP not
// allocated yet is a None entry of public_ipv4_address, so such a VM gets
// None, not its private address, as with the plugin.
func ansibleHost(vars map[string]any) any {
	for _, k := range []string{"public_ipv4_address", "private_ipv4_addresses"} {
		if l, _ := vars[k].([]any); len(l) > 0 {
			return l[0]
		}
	}
	return nil
}

// hostVars builds the azure_rm plugin's host vars. It also returns the
// public and private IPv4 addresses in the plugin's order, for the
// address.
func (p *provider) hostVars(r *vmRecord, f *fetch) (map[string]any, []string, []string) {
	var (
		nicNames, nicIDs, macs, sgIDs, sgNames []any
		publicAddrs, publicIPs, fqdns, private []any
		subnets                                []any
		publicList, privateList                []string
		lastPublicID, lastPublicName           string
	)
	type ordered struct {
		nic     *nicRecord
		primary bool
	}
	nics := make([]ordered, 0, len(r.nics))
	for _, ref := range r.nics {
		if n := f.nics[strings.ToLower(ref.id)]; n != nil {
			nics = append(nics, ordered{n, ref.primary})
		} // else gone meanwhile: the plugin's request for it would have failed
	}
	// The primary NIC first and, within a NIC, the primary IP
	// configuration first; otherwise in the order the API gives.
	slices.SortStableFunc(nics, func(a, b ordered) int { return rank(a.primary) - rank(b.primary) })
	for _, o := range nics {
		n := o.nic
		ipcs := n.ipConfigs
		if len(ipcs) > 1 {
			ipcs = slices.Clone(ipcs)
			slices.SortStableFunc(ipcs, func(a, b ipConfigRecord) int { return rank(a.primary) - rank(b.primary) })
		}
		for _, c := range ipcs {
			if c.subnetID != "" {
				subnets = append(subnets, map[string]any{"id": c.subnetID})
			}
			if c.privateIP != "" {
				private = append(private, c.privateIP)
				privateList = append(privateList, c.privateIP)
			}
			if c.publicIPID == "" {
				continue
			}
			ip := f.publicIPs[strings.ToLower(c.publicIPID)]
			if ip == nil {
				continue
			}
			// An address not allocated yet (a dynamic IP of a
			// deallocated VM) is a None entry, as in the plugin.
			addr := orNil(ip.address)
			publicAddrs = append(publicAddrs, addr)
			if ip.address != "" {
				publicList = append(publicList, ip.address)
			}
			publicIPs = append(publicIPs, map[string]any{"id": c.publicIPID, "name": ip.name, "ipv4_address": addr})
			if ip.fqdn != "" {
				fqdns = append(fqdns, ip.fqdn)
			}
			lastPublicID, lastPublicName = c.publicIPID, ip.name
		}
		macs = append(macs, orNil(n.mac))
		nicNames = append(nicNames, n.name)
		nicIDs = append(nicIDs, n.id)
		if n.nsgID != "" {
			sgIDs = append(sgIDs, n.nsgID)
			sgNames = append(sgNames, lastSegment(n.nsgID))
		}
	}
	license := r.licenseType
	if license == "" {
		license = "Unknown"
	}
	typ := r.typ
	if typ == "" {
		typ = "unknown"
	}
	vars := make(map[string]any, 40)
	vars["id"] = r.id
	vars["name"] = r.name
	vars["location"] = r.location
	vars["resource_group"] = strings.ToLower(resourceGroupOf(r.id))
	vars["tags"] = r.tags
	vars["powerstate"] = r.power
	vars["provisioning_state"] = strings.ToLower(r.provisioning)
	vars["vmid"] = r.vmID
	vars["computer_name"] = r.computerName
	vars["availability_zone"] = r.zones
	vars["resource_type"] = typ
	vars["os_profile"] = map[string]any{"system": r.osSystem}
	vars["vmss"] = r.vmss
	vars["virtual_machine_size"] = r.size
	vars["plan"] = r.plan
	vars["default_inventory_hostname"] = p.defaultHostname(r)
	vars["creation_time"] = r.created
	vars["license_type"] = license
	vars["image"] = r.image
	vars["os_disk"] = r.osDisk
	vars["data_disks"] = r.dataDisks
	vars["network_interface"] = emptyIfNil(nicNames)
	vars["network_interface_id"] = emptyIfNil(nicIDs)
	vars["mac_address"] = emptyIfNil(macs)
	vars["security_group_id"] = emptyIfNil(sgIDs)
	vars["security_group"] = emptyIfNil(sgNames)
	vars["public_ipv4_address"] = emptyIfNil(publicAddrs)
	vars["public_ipv4_addresses"] = slices.Clone(emptyIfNil(publicAddrs))
	vars["public_ip_address"] = emptyIfNil(publicIPs)
	vars["public_dns_hostnames"] = emptyIfNil(fqdns)
	vars["private_ipv4_addresses"] = emptyIfNil(private)
	vars["subnet"] = emptyIfNil(subnets)
	if lastPublicID != "" {
		vars["public_ip_id"], vars["public_ip_name"] = lastPublicID, lastPublicName
	}
	return vars, publicList, privateList
}

// defaultHostname is the plugin's default_inventory_hostname: the VM name
// and the first four hex digits of the SHA-1 of its resource id, or the
// name alone with plain_host_names.
func (p *provider) defaultHostname(r *vmRecord) string {
	if p.opts.PlainHostNames {
		return r.name
	}
	sum := sha1.Sum([]byte(r.id))
	return r.name + "_" + hex.EncodeToString(sum[:2])
}

// hostnames evaluates each preference against the host vars: "default" is
// default_inventory_hostname; an expression whose result is empty, false,
// None or an error gives "".
func hostnames(prefs []hostnameExpr, vars map[string]any) []string {
	out := make([]string, len(prefs))
	for i, h := range prefs {
		if h.expr == nil {
			out[i], _ = vars["default_inventory_hostname"].(string)
			continue
		}
		res, err := h.expr.Apply(vars)
		if err != nil {
			continue
		}
		out[i] = hostnameText(res.Vars[hostnameVar])
	}
	return out
}

// hostnameText is Python's to_text of a truthy scalar, "" otherwise.
func hostnameText(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case bool:
		if x {
			return "True"
		}
	case int:
		if x != 0 {
			return strconv.Itoa(x)
		}
	case int64:
		if x != 0 {
			return strconv.FormatInt(x, 10)
		}
	case float64:
		if x != 0 && !math.IsNaN(x) && !math.IsInf(x, 0) {
			s := strconv.FormatFloat(x, 'f', -1, 64)
			if !strings.ContainsAny(s, ".e") {
				s += ".0"
			}
			return s
		}
	}
	return ""
}

// azureTime formats like ARM (and so like the plugin, which passes ARM's
// string through): seven fractional digits and an explicit UTC offset.
func azureTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000-07:00")
}

// resourceGroupOf returns the resource group segment of a resource id
// ("" when it has none).
func resourceGroupOf(id string) string {
	rest := id
	for {
		i := strings.Index(rest, "/")
		if i < 0 {
			return ""
		}
		rest = rest[i+1:]
		seg, after, _ := strings.Cut(rest, "/")
		if strings.EqualFold(seg, "resourceGroups") {
			rg, _, _ := strings.Cut(after, "/")
			return rg
		}
	}
}

func lastSegment(id string) string {
	return id[strings.LastIndexByte(id, '/')+1:]
}

func rank(primary bool) int {
	if primary {
		return 0
	}
	return 1
}

func emptyIfNil(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

func orNil(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func ptrVar(s *string) any {
	if s == nil {
		return nil
	}
	return *s
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func to[T any](v T) *T { return &v }

func sortedValues(m map[string]string) []string {
	return slices.Sorted(maps.Values(m))
}

// explain shortens SDK errors to what an operator needs: the ARM error
// code, HTTP status and message, or the identity platform's error. The
// full error stays wrapped. Neither carries a secret or a token.
func explain(err error) error {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return &apiError{code: re.ErrorCode, status: re.StatusCode, msg: armMessage(re), err: err}
	}
	var ae *azidentity.AuthenticationFailedError
	if errors.As(err, &ae) {
		return &apiError{code: "AuthenticationFailed", msg: "the identity platform refused the service principal: " + identityMessage(ae), err: err}
	}
	return err
}

type apiError struct {
	code   string
	status int
	msg    string
	err    error
}

func (e *apiError) Error() string {
	if e.status > 0 {
		return e.code + " (HTTP " + strconv.Itoa(e.status) + "): " + e.msg
	}
	return e.code + ": " + e.msg
}

func (e *apiError) Unwrap() error { return e.err }

// armMessage reads error.message from an ARM error body.
func armMessage(re *azcore.ResponseError) string {
	if re.RawResponse == nil {
		return "no detail"
	}
	body, err := runtime.Payload(re.RawResponse)
	if err != nil {
		return "no detail"
	}
	var e struct {
		Error struct {
			Message string `json:"message"`
		} `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
		return "no detail"
	}
	return e.Error.Message
}

// identityMessage reads error_description from the token endpoint's
// answer, cut before its trace and correlation ids.
func identityMessage(ae *azidentity.AuthenticationFailedError) string {
	if ae.RawResponse == nil {
		return ae.Error()
	}
	body, err := runtime.Payload(ae.RawResponse)
	if err != nil {
		return "no detail"
	}
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) != nil || e.Description == "" {
		return strconv.Itoa(ae.RawResponse.StatusCode) + " " + e.Error
	}
	d, _, _ := strings.Cut(e.Description, " Trace ID:")
	d, _, _ = strings.Cut(d, "\r\n")
	return d
}
