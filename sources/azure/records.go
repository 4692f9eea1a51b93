package azure

import (
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/compute/armcompute/v8"
	"github.com/Azure/azure-sdk-for-go/sdk/resourcemanager/network/armnetwork/v9"
)

// Each list page is turned into records as soon as it is decoded: a
// record keeps what the host vars need, so the SDK's object graphs (tens
// of allocations per VM) die young and a subscription of ten thousand VMs
// does not keep them all alive until the join.

// vmRecord is what the host vars need of a VM, whether a standalone VM or
// a scale-set instance (two SDK types with the same profiles).
type vmRecord struct {
	id, name, typ, location string
	vmID, provisioning      string
	licenseType             string
	computerName            any // string, or nil without an osProfile
	size, plan, created     any // string or nil
	osSystem                string
	tags                    map[string]any
	zones                   any // []any or nil
	image, osDisk           map[string]any
	dataDisks               []any
	nics                    []nicRef
	power                   string         // scale-set instances: from their instance view
	vmss                    map[string]any // {id, name} of a uniform scale set, else empty
}

// nicRef is one entry of a VM's networkProfile.
type nicRef struct {
	id      string
	primary bool
}

// nicRecord is what the host vars need of a network interface.
type nicRecord struct {
	id, name, mac, nsgID string
	ipConfigs            []ipConfigRecord
}

type ipConfigRecord struct {
	primary    bool
	privateIP  string // IPv4 only
	subnetID   string
	publicIPID string
}

// publicIPRecord is what the host vars need of a public IP address.
type publicIPRecord struct {
	name, address, fqdn string // address: IPv4 only, "" while unallocated
}

func vmFromSDK(v *armcompute.VirtualMachine) *vmRecord {
	r := &vmRecord{id: deref(v.ID), name: deref(v.Name), typ: deref(v.Type), location: deref(v.Location), vmss: map[string]any{}}
	r.tags, r.zones, r.plan = tagsVar(v.Tags), zonesVar(v.Zones), planVar(v.Plan)
	if p := v.Properties; p != nil {
		r.profiles(p.VMID, p.ProvisioningState, p.LicenseType, p.TimeCreated, p.HardwareProfile, p.OSProfile, p.StorageProfile, p.NetworkProfile)
	} else {
		r.profiles(nil, nil, nil, nil, nil, nil, nil, nil)
	}
	return r
}

func scaleSetVMFromSDK(v *armcompute.VirtualMachineScaleSetVM, set *armcompute.VirtualMachineScaleSet) *vmRecord {
	r := &vmRecord{id: deref(v.ID), name: deref(v.Name), typ: deref(v.Type), location: deref(v.Location), power: "unknown",
		vmss: map[string]any{"id": deref(set.ID), "name": deref(set.Name)}}
	r.tags, r.zones, r.plan = tagsVar(v.Tags), zonesVar(v.Zones), planVar(v.Plan)
	if p := v.Properties; p != nil {
		r.profiles(p.VMID, p.ProvisioningState, p.LicenseType, p.TimeCreated, p.HardwareProfile, p.OSProfile, p.StorageProfile, p.NetworkProfile)
		if p.InstanceView != nil {
			r.power = powerFromStatuses(p.InstanceView.Statuses)
		}
	} else {
		r.profiles(nil, nil, nil, nil, nil, nil, nil, nil)
	}
	if r.size == nil && v.SKU != nil && v.SKU.Name != nil {
		r.size = *v.SKU.Name // a scale-set instance's size is its SKU
	}
	return r
}

// profiles fills what the VM's properties give.
func (r *vmRecord) profiles(vmID, provisioning, license *string, created *time.Time, hw *armcompute.HardwareProfile,
	os *armcompute.OSProfile, sp *armcompute.StorageProfile, np *armcompute.NetworkProfile) {
	r.vmID, r.provisioning, r.licenseType = deref(vmID), deref(provisioning), deref(license)
	if created != nil {
		r.created = azureTime(*created)
	}
	if hw != nil && hw.VMSize != nil {
		r.size = string(*hw.VMSize)
	}
	if os != nil && os.ComputerName != nil {
		r.computerName = *os.ComputerName
	}
	r.osSystem = osSystem(os, sp)
	r.image, r.osDisk, r.dataDisks = storageVars(sp)
	if np != nil {
		refs := make([]*armcompute.NetworkInterfaceReference, 0, len(np.NetworkInterfaces))
		for _, ref := range np.NetworkInterfaces {
			if ref != nil && ref.ID != nil {
				refs = append(refs, ref)
			}
		}
		for _, ref := range refs {
			// A VM with one NIC often leaves primary unset: it is the
			// primary one, as the plugin reasons.
			primary := len(refs) == 1
			if ref.Properties != nil && ref.Properties.Primary != nil {
				primary = *ref.Properties.Primary
			}
			r.nics = append(r.nics, nicRef{id: *ref.ID, primary: primary})
		}
	}
}

func nicFromSDK(n *armnetwork.Interface) *nicRecord {
	r := &nicRecord{id: deref(n.ID), name: deref(n.Name)}
	p := n.Properties
	if p == nil {
		return r
	}
	r.mac = deref(p.MacAddress)
	if p.NetworkSecurityGroup != nil {
		r.nsgID = deref(p.NetworkSecurityGroup.ID)
	}
	for _, c := range p.IPConfigurations {
		if c == nil || c.Properties == nil {
			continue
		}
		cp := c.Properties
		ipc := ipConfigRecord{primary: deref(cp.Primary)}
		if cp.PrivateIPAddressVersion == nil || *cp.PrivateIPAddressVersion != armnetwork.IPVersionIPv6 {
			ipc.privateIP = deref(cp.PrivateIPAddress)
		}
		if cp.Subnet != nil {
			ipc.subnetID = deref(cp.Subnet.ID)
		}
		if cp.PublicIPAddress != nil {
			ipc.publicIPID = deref(cp.PublicIPAddress.ID)
		}
		r.ipConfigs = append(r.ipConfigs, ipc)
	}
	return r
}

func publicIPFromSDK(ip *armnetwork.PublicIPAddress) *publicIPRecord {
	r := &publicIPRecord{name: deref(ip.Name)}
	if p := ip.Properties; p != nil {
		if p.PublicIPAddressVersion == nil || *p.PublicIPAddressVersion == armnetwork.IPVersionIPv4 {
			r.address = deref(p.IPAddress)
		}
		if p.DNSSettings != nil {
			r.fqdn = deref(p.DNSSettings.Fqdn)
		}
	}
	return r
}

// powerState reads PowerState/<state> from an instance view, "unknown"
// when it has none (as the plugin does).
func powerState(iv *armcompute.VirtualMachineInstanceView) string {
	if iv == nil {
		return "unknown"
	}
	return powerFromStatuses(iv.Statuses)
}

func powerFromStatuses(statuses []*armcompute.InstanceViewStatus) string {
	for _, s := range statuses {
		if s == nil {
			continue
		}
		if state, ok := strings.CutPrefix(deref(s.Code), "PowerState/"); ok {
			return state
		}
	}
	return "unknown"
}

func tagsVar(tags map[string]*string) map[string]any {
	out := make(map[string]any, len(tags))
	for k, v := range tags {
		out[k] = deref(v)
	}
	return out
}

func zonesVar(zones []*string) any {
	if zones == nil {
		return nil
	}
	list := make([]any, 0, len(zones))
	for _, z := range zones {
		list = append(list, deref(z))
	}
	return list
}

// planVar is the marketplace plan's name. (The plugin reads plan from
// properties, where ARM never puts it, so it always says None; this is
// what it means to say.)
func planVar(p *armcompute.Plan) any {
	if p == nil || p.Name == nil {
		return nil
	}
	return *p.Name
}

// storageVars returns image, os_disk and data_disks.
func storageVars(sp *armcompute.StorageProfile) (image, osDisk map[string]any, dataDisks []any) {
	image, osDisk, dataDisks = map[string]any{}, map[string]any{}, []any{}
	if sp == nil {
		return
	}
	if ref := sp.ImageReference; ref != nil {
		switch {
		case ref.Publisher != nil && *ref.Publisher != "":
			image = map[string]any{"sku": ptrVar(ref.SKU), "publisher": *ref.Publisher, "version": ptrVar(ref.Version), "offer": ptrVar(ref.Offer)}
		case ref.ID != nil && *ref.ID != "":
			image = map[string]any{"id": *ref.ID}
		}
	}
	if d := sp.OSDisk; d != nil {
		var osType, id any
		if d.OSType != nil {
			osType = strings.ToLower(string(*d.OSType))
		}
		if d.ManagedDisk != nil {
			id = ptrVar(d.ManagedDisk.ID)
		}
		osDisk = map[string]any{"name": ptrVar(d.Name), "operating_system_type": osType, "id": id}
	}
	for _, d := range sp.DataDisks {
		if d == nil {
			continue
		}
		var lun, id any
		if d.Lun != nil {
			lun = int64(*d.Lun)
		}
		if d.ManagedDisk != nil {
			id = ptrVar(d.ManagedDisk.ID)
		}
		dataDisks = append(dataDisks, map[string]any{"name": ptrVar(d.Name), "lun": lun, "id": id})
	}
	return
}

// osSystem is the plugin's os_profile.system: from the OS profile's
// configuration, else from the OS disk's type.
func osSystem(os *armcompute.OSProfile, sp *armcompute.StorageProfile) string {
	if os != nil {
		switch {
		case os.WindowsConfiguration != nil:
			return "windows"
		case os.LinuxConfiguration != nil:
			return "linux"
		}
		return "unknown"
	}
	if sp != nil && sp.OSDisk != nil && sp.OSDisk.OSType != nil {
		switch *sp.OSDisk.OSType {
		case armcompute.OperatingSystemTypesLinux:
			return "linux"
		case armcompute.OperatingSystemTypesWindows:
			return "windows"
		}
	}
	return "unknown"
}
