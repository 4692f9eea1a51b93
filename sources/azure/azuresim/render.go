package azuresim

import (
	"strconv"
	"sync"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// jw writes JSON by appending to a byte slice: ARM pages of a thousand
// VMs are rendered without reflection or intermediate maps.
type jw struct {
	b        []byte
	comma    bool   // the next value in the current container needs a comma
	afterKey bool   // a key was just written: its value needs no comma
	stack    []bool // the enclosing containers' comma state
}

var jwPool = sync.Pool{New: func() any { return &jw{b: make([]byte, 0, 64<<10)} }}

func getW() *jw {
	w := jwPool.Get().(*jw)
	w.b, w.comma, w.afterKey, w.stack = w.b[:0], false, false, w.stack[:0]
	return w
}

func putW(w *jw) {
	if cap(w.b) > 16<<20 {
		return // let an outsized buffer go
	}
	jwPool.Put(w)
}

func (w *jw) sep() {
	if w.afterKey {
		w.afterKey = false
		return
	}
	if w.comma {
		w.b = append(w.b, ',')
	}
	w.comma = true
}

func (w *jw) open(c byte) {
	w.sep()
	w.b = append(w.b, c)
	w.stack = append(w.stack, w.comma)
	w.comma = false
}

func (w *jw) close(c byte) {
	w.b = append(w.b, c)
	w.comma = w.stack[len(w.stack)-1]
	w.stack = w.stack[:len(w.stack)-1]
}

func (w *jw) obj()    { w.open('{') }
func (w *jw) endObj() { w.close('}') }
func (w *jw) arr()    { w.open('[') }
func (w *jw) endArr() { w.close(']') }

func (w *jw) key(k string) {
	w.sep()
	w.b = cloudsim.JSON.Append(w.b, k)
	w.b = append(w.b, ':')
	w.afterKey = true
}

// value writers, for array items or after key.
func (w *jw) string(s string) { w.sep(); w.b = cloudsim.JSON.Append(w.b, s) }
func (w *jw) int(n int)       { w.sep(); w.b = strconv.AppendInt(w.b, int64(n), 10) }
func (w *jw) bool(v bool)     { w.sep(); w.b = strconv.AppendBool(w.b, v) }

// field writers.

// member opens object member k.
func (w *jw) member(k string) { w.key(k); w.obj() }

// resource opens a resource's object with its name and id.
func (w *jw) resource(name, id string) {
	w.obj()
	w.str("name", name)
	w.str("id", id)
}

func (w *jw) str(k, v string) { w.key(k); w.string(v) }

func (w *jw) strOpt(k, v string) {
	if v != "" {
		w.str(k, v)
	}
}

func (w *jw) num(k string, n int)   { w.key(k); w.int(n) }
func (w *jw) flag(k string, v bool) { w.key(k); w.bool(v) }

// ref writes k: {"id": id}, ARM's SubResource.
func (w *jw) ref(k, id string) {
	w.key(k)
	w.obj()
	w.str("id", id)
	w.endObj()
}

func (w *jw) tags(tags []Tag) {
	if len(tags) == 0 {
		return
	}
	w.member("tags")
	for _, t := range tags {
		w.str(t.Key, t.Value)
	}
	w.endObj()
}

func (w *jw) strings(k string, list []string) {
	if len(list) == 0 {
		return
	}
	w.key(k)
	w.arr()
	for _, s := range list {
		w.string(s)
	}
	w.endArr()
}

// vmStatuses writes the instance view's statuses: provisioning state, then
// power state.
func (w *jw) vmStatuses(v *vm) {
	w.key("statuses")
	w.arr()
	w.obj()
	prov := lower(v.provisioning)
	w.str("code", "ProvisioningState/"+prov)
	if v.provisioning == "Failed" {
		w.str("level", "Error")
		w.str("displayStatus", "Provisioning failed")
	} else {
		w.str("level", "Info")
		w.str("displayStatus", "Provisioning "+prov)
		w.str("time", v.createdStr)
	}
	w.endObj()
	w.obj()
	w.str("code", "PowerState/"+v.power)
	w.str("level", "Info")
	w.str("displayStatus", powerDisplay[v.power])
	w.endObj()
	w.endArr()
}

// instanceView writes a VM's instance view object (the body of
// .../instanceView, and properties.instanceView of a scale-set instance
// listed with $expand=instanceView).
func (w *jw) instanceView(v *vm) {
	w.obj()
	if v.ss != nil {
		w.num("platformUpdateDomain", 0)
		w.num("platformFaultDomain", 0)
	}
	if v.power == "running" {
		w.strOpt("computerName", v.computerName)
		if v.img.osType == "Windows" {
			w.str("osName", "Windows Server 2022 Datacenter Azure Edition")
			w.str("osVersion", "10.0.20348.2527")
		} else if v.img.publisher != "" {
			w.str("osName", lower(v.img.publisher))
			w.str("osVersion", v.img.exact)
		}
	}
	w.str("hyperVGeneration", "V2")
	w.vmStatuses(v)
	w.endObj()
}

// vmModel writes a VM (standalone or scale-set instance) as the compute
// list operations return it. statusOnly gives the statusOnly=true shape:
// identity and run-time status, no model.
func (w *jw) vmModel(v *vm, statusOnly, expand bool) {
	w.resource(v.name, v.id())
	w.str("type", v.typ())
	w.str("location", v.location)
	if statusOnly {
		w.member("properties")
		w.str("vmId", v.vmID)
		w.member("instanceView")
		w.vmStatuses(v)
		w.endObj()
		w.endObj()
		w.endObj()
		return
	}
	w.tags(v.tags)
	w.strings("zones", v.zones)
	if v.ss != nil {
		w.str("instanceId", v.instanceID)
		w.member("sku")
		w.str("name", v.size)
		w.str("tier", "Standard")
		w.endObj()
	}
	if v.plan != nil {
		w.member("plan")
		w.str("name", v.plan.name)
		w.str("publisher", v.plan.publisher)
		w.str("product", v.plan.product)
		w.endObj()
	}
	w.member("properties")
	if v.ss != nil {
		w.flag("latestModelApplied", true)
		w.str("modelDefinitionApplied", "VirtualMachineScaleSet")
	}
	w.str("vmId", v.vmID)
	if expand {
		w.key("instanceView")
		w.instanceView(v)
	}
	if v.ss == nil {
		w.member("hardwareProfile")
		w.str("vmSize", v.size)
		w.endObj()
	}
	if v.flex != nil {
		w.ref("virtualMachineScaleSet", v.flex.id())
	}
	w.storageProfile(v)
	if v.hasOSProfile {
		w.member("osProfile")
		w.str("computerName", v.computerName)
		w.str("adminUsername", v.adminUser)
		config, flags, patchMode := "linuxConfiguration", []string{"disablePasswordAuthentication", "provisionVMAgent"}, "ImageDefault"
		if v.img.osType == "Windows" {
			config, flags, patchMode = "windowsConfiguration", []string{"provisionVMAgent", "enableAutomaticUpdates"}, "AutomaticByOS"
		}
		w.member(config)
		for _, f := range flags {
			w.flag(f, true)
		}
		w.member("patchSettings")
		w.str("patchMode", patchMode)
		w.str("assessmentMode", "ImageDefault")
		w.endObj()
		w.endObj()
		w.key("secrets")
		w.arr()
		w.endArr()
		w.flag("allowExtensionOperations", true)
		w.flag("requireGuestProvisionSignal", true)
		w.endObj()
	}
	w.member("networkProfile")
	w.key("networkInterfaces")
	w.arr()
	for _, n := range v.nics {
		w.obj()
		w.str("id", n.refID())
		if v.primaryFlag {
			w.member("properties")
			w.flag("primary", n.primary)
			w.endObj()
		}
		w.endObj()
	}
	w.endArr()
	w.endObj()
	w.member("diagnosticsProfile")
	w.member("bootDiagnostics")
	w.flag("enabled", true)
	w.endObj()
	w.endObj()
	w.strOpt("licenseType", v.licenseType)
	w.str("provisioningState", v.provisioning)
	w.str("timeCreated", v.createdStr)
	w.endObj()
	w.endObj()
}

func (w *jw) storageProfile(v *vm) {
	w.member("storageProfile")
	w.member("imageReference")
	if v.img.id != "" {
		w.str("id", v.img.id)
	} else {
		w.str("publisher", v.img.publisher)
		w.str("offer", v.img.offer)
		w.str("sku", v.img.sku)
		w.str("version", v.img.version)
		w.str("exactVersion", v.img.exact)
	}
	w.endObj()
	w.member("osDisk")
	w.str("osType", v.img.osType)
	w.str("name", v.osDisk.name)
	w.str("createOption", "FromImage")
	w.str("caching", "ReadWrite")
	w.member("managedDisk")
	w.str("storageAccountType", v.osDisk.account)
	w.str("id", v.osDisk.id)
	w.endObj()
	w.str("deleteOption", "Delete")
	w.num("diskSizeGB", v.osDisk.sizeGB)
	w.endObj()
	w.key("dataDisks")
	w.arr()
	for _, d := range v.dataDisks {
		w.obj()
		w.num("lun", d.lun)
		w.str("name", d.name)
		w.str("createOption", "Attach")
		w.str("caching", "None")
		w.member("managedDisk")
		w.str("storageAccountType", d.account)
		w.str("id", d.id)
		w.endObj()
		w.str("deleteOption", "Detach")
		w.num("diskSizeGB", d.sizeGB)
		w.flag("toBeDetached", false)
		w.endObj()
	}
	w.endArr()
	w.str("diskControllerType", "SCSI")
	w.endObj()
}

// nicModel writes a network interface as the network list operations
// return it.
func (w *jw) nicModel(n *nic) {
	id := n.id()
	w.resource(n.name, id)
	w.str("etag", `W/"`+n.guid+`"`)
	w.str("type", "Microsoft.Network/networkInterfaces")
	w.str("location", n.location)
	w.member("properties")
	w.str("provisioningState", "Succeeded")
	w.str("resourceGuid", n.guid)
	w.key("ipConfigurations")
	w.arr()
	for _, c := range n.ipConfigs {
		w.resource(c.name, id+"/ipConfigurations/"+c.name)
		w.str("etag", `W/"`+n.guid+`"`)
		w.str("type", "Microsoft.Network/networkInterfaces/ipConfigurations")
		w.member("properties")
		w.str("provisioningState", "Succeeded")
		w.str("privateIPAddress", c.privateIP)
		w.str("privateIPAllocationMethod", "Dynamic")
		if c.pip != nil {
			w.ref("publicIPAddress", c.pip.id())
		}
		w.ref("subnet", c.subnetID)
		w.flag("primary", c.primary)
		w.str("privateIPAddressVersion", "IPv4")
		w.endObj()
		w.endObj()
	}
	w.endArr()
	if n.vm == nil || n.vm.allocated() {
		w.str("macAddress", n.mac)
	}
	w.flag("enableAcceleratedNetworking", n.accelerated)
	w.flag("enableIPForwarding", false)
	if n.nsgID != "" {
		w.ref("networkSecurityGroup", n.nsgID)
	}
	w.flag("primary", n.primary)
	if n.vm != nil {
		w.ref("virtualMachine", n.vm.id())
	}
	w.str("nicType", "Standard")
	w.endObj()
	w.endObj()
}

// pipModel writes a public IP address as the network list operations
// return it.
func (w *jw) pipModel(p *pip) {
	w.resource(p.name, p.id())
	w.str("etag", `W/"`+p.guid+`"`)
	w.str("location", p.location)
	w.strings("zones", p.zones)
	w.member("properties")
	w.str("provisioningState", "Succeeded")
	w.str("resourceGuid", p.guid)
	w.strOpt("ipAddress", p.ipAddress())
	w.str("publicIPAddressVersion", "IPv4")
	if p.ip.Static {
		w.str("publicIPAllocationMethod", "Static")
	} else {
		w.str("publicIPAllocationMethod", "Dynamic")
	}
	w.num("idleTimeoutInMinutes", 4)
	if p.label != "" {
		w.member("dnsSettings")
		w.str("domainNameLabel", p.label)
		w.str("fqdn", p.fqdn())
		w.endObj()
	}
	w.key("ipTags")
	w.arr()
	w.endArr()
	if p.nic != nil {
		w.ref("ipConfiguration", p.nic.id()+"/ipConfigurations/"+p.ipc.name)
	}
	w.endObj()
	w.str("type", "Microsoft.Network/publicIPAddresses")
	w.member("sku")
	if p.ip.Static {
		w.str("name", "Standard")
	} else {
		w.str("name", "Basic")
	}
	w.str("tier", "Regional")
	w.endObj()
	w.endObj()
}

func (w *jw) scaleSetModel(ss *scaleSet) {
	w.resource(ss.name, ss.id())
	w.str("type", "Microsoft.Compute/virtualMachineScaleSets")
	w.str("location", ss.location)
	w.tags(ss.tags)
	if !ss.flexible {
		w.member("sku")
		w.str("name", ss.size)
		w.str("tier", "Standard")
		w.num("capacity", len(ss.instances))
		w.endObj()
	}
	w.member("properties")
	if ss.flexible {
		w.str("orchestrationMode", "Flexible")
		w.num("platformFaultDomainCount", 1)
	} else {
		w.str("orchestrationMode", "Uniform")
		w.flag("singlePlacementGroup", false)
		w.member("upgradePolicy")
		w.str("mode", "Manual")
		w.endObj()
		w.flag("overprovision", true)
		w.member("virtualMachineProfile")
		w.member("osProfile")
		w.str("computerNamePrefix", ss.prefix)
		w.str("adminUsername", "azureuser")
		w.endObj()
		w.endObj()
	}
	w.str("provisioningState", "Succeeded")
	w.str("uniqueId", ss.guid)
	w.str("timeCreated", ss.createdStr)
	w.endObj()
	w.endObj()
}

func lower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
