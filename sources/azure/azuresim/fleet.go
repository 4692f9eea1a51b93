package azuresim

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// DefaultSubscriptions are the subscriptions a fleet spreads over when
// Options.Subscriptions is empty.
var DefaultSubscriptions = []string{
	"6d2b3c1e-0f4a-4e8b-9a6c-1b2d3e4f5a01",
	"6d2b3c1e-0f4a-4e8b-9a6c-1b2d3e4f5a02",
	"6d2b3c1e-0f4a-4e8b-9a6c-1b2d3e4f5a03",
}

// ErrNoVM is returned by Fleet mutations for an unknown vmId.
var ErrNoVM = errors.New("azuresim: no such virtual machine")

// Power states a VM can be in, as the PowerState/... status codes name them.
var PowerStates = []string{"running", "starting", "stopping", "stopped", "deallocating", "deallocated"}

var powerDisplay = map[string]string{
	"running":      "VM running",
	"starting":     "VM starting",
	"stopping":     "VM stopping",
	"stopped":      "VM stopped",
	"deallocating": "VM deallocating",
	"deallocated":  "VM deallocated",
}

// Tag is one Azure resource tag.
type Tag = cloudsim.Tag

// VMInfo is a snapshot of one simulated virtual machine (a standalone VM
// or a scale-set instance), for tests that compute what a sync should
// produce.
type VMInfo struct {
	// ID is the resource id as the compute API returns it (the resource
	// group upper-cased, as ARM's compute provider does).
	ID                string
	VMID              string
	Subscription      string
	ResourceGroup     string // as created (lower-case)
	Name              string
	Location          string
	Size              string
	ComputerName      string // "" when the VM has no osProfile
	OSType            string // Linux or Windows
	PowerState        string // running, stopped, deallocated, ...
	ProvisioningState string // Succeeded, Failed, Updating
	Zones             []string
	// ScaleSet names the uniform scale set of an instance ("" otherwise);
	// FlexScaleSet the flexible scale set a standalone VM belongs to.
	ScaleSet     string
	FlexScaleSet string
	InstanceID   string // scale-set instance id
	// NICs are the VM's network interface ids, primary first.
	NICs []string
	// PrivateIPs, PublicIPs and FQDNs follow the azure_rm plugin's order:
	// the primary NIC first and, within a NIC, the primary IP
	// configuration first. PublicIPs holds allocated addresses only;
	// PublicIPSlots has an entry per attached public IP, "" for one not
	// allocated (a dynamic IP of a deallocated VM).
	PrivateIPs    []string
	PublicIPs     []string
	PublicIPSlots []string
	FQDNs         []string
	Tags          []Tag // in the order the API returns them
	Created       time.Time
}

// Tag returns the value of tag key and whether the VM has it.
func (v VMInfo) Tag(key string) (string, bool) { return cloudsim.LookupTag(v.Tags, key) }

type tagger = cloudsim.Tagger[vm]

// Fleet is a deterministic set of simulated Azure virtual machines, with
// their network interfaces, public IP addresses and scale sets, spread over
// subscriptions. It is safe for concurrent use; mutations are seen by the
// next request. SetTag(vmID, key, value) and DeleteTag(vmID, key), from
// cloudsim.Tagger, edit a VM's tags.
type Fleet struct {
	core   *cloudsim.Core[string, vm] // by vmId
	tagger                            // SetTag, DeleteTag
	seq    uint64
	order  []string // subscription ids, in creation order
	subs   map[string]*subscription
	names  cloudsim.Namer // per name stem, for unique names
}

// subscription holds one subscription's resources, each list ordered by
// creation (seq), which is the order the list operations return them in.
type subscription struct {
	id        string
	index     int
	locations []string
	groups    []string // resource groups, lower-case
	netGroup  string   // the shared networking resource group
	vms       []*vm    // standalone VMs
	nics      []*nic   // standalone NICs
	pips      []*pip   // standalone public IPs
	scaleSets []*scaleSet
	res       *rand.Rand
}

type image struct {
	publisher, offer, sku, version, exact string
	id                                    string // custom image: the gallery image version id
	osType                                string
}

type disk struct {
	name, id, account string
	lun, sizeGB       int
}

type plan struct{ name, publisher, product string }

// vm is a standalone VM or a scale-set instance.
type vm struct {
	seq          uint64
	sub          *subscription
	rg           string // lower-case, as created
	name         string
	vmID         string
	location     string
	size         string
	computerName string
	hasOSProfile bool
	adminUser    string
	img          image
	osDisk       disk
	dataDisks    []disk
	zones        []string
	tags         []Tag
	power        string
	provisioning string
	created      time.Time
	createdStr   string
	licenseType  string
	plan         *plan
	nics         []*nic // in networkProfile order
	primaryFlag  bool   // whether networkProfile refs carry properties.primary
	flex         *scaleSet
	ss           *scaleSet // uniform scale set of an instance
	instanceID   string
}

// id is the resource id as the compute provider returns it: the resource
// group upper-cased.
func (v *vm) id() string {
	if v.ss != nil {
		return v.ss.id() + "/virtualMachines/" + v.instanceID
	}
	return "/subscriptions/" + v.sub.id + "/resourceGroups/" + strings.ToUpper(v.rg) + "/providers/Microsoft.Compute/virtualMachines/" + v.name
}

func (v *vm) typ() string {
	if v.ss != nil {
		return "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
	}
	return "Microsoft.Compute/virtualMachines"
}

// allocated reports whether the VM holds its dynamic resources (dynamic
// public IPs, MAC addresses): not once deallocated.
func (v *vm) allocated() bool { return v.power != "deallocated" && v.power != "deallocating" }

type ipConfig struct {
	name      string
	privateIP string
	subnetID  string
	primary   bool
	pip       *pip
}

type nic struct {
	seq         uint64
	sub         *subscription
	rg          string
	name        string
	location    string
	mac         string
	nsgID       string
	guid        string
	accelerated bool
	primary     bool
	vm          *vm
	ipConfigs   []*ipConfig
}

func (n *nic) id() string {
	if n.vm != nil && n.vm.ss != nil {
		return n.vm.id() + "/networkInterfaces/" + n.name
	}
	return "/subscriptions/" + n.sub.id + "/resourceGroups/" + n.rg + "/providers/Microsoft.Network/networkInterfaces/" + n.name
}

// refID is how the VM's networkProfile refers to the NIC: compute
// upper-cases the resource group.
func (n *nic) refID() string {
	if n.vm != nil && n.vm.ss != nil {
		return n.id()
	}
	return "/subscriptions/" + n.sub.id + "/resourceGroups/" + strings.ToUpper(n.rg) + "/providers/Microsoft.Network/networkInterfaces/" + n.name
}

type pip struct {
	seq      uint64
	sub      *subscription
	rg       string
	name     string
	location string
	ip       cloudsim.PublicIP // a dynamic one is released while its VM is deallocated
	label    string            // DNS label; "" = none
	guid     string
	zones    []string
	nic      *nic
	ipc      *ipConfig
}

func (p *pip) id() string {
	if p.nic != nil && p.nic.vm != nil && p.nic.vm.ss != nil {
		return p.nic.id() + "/ipConfigurations/" + p.ipc.name + "/publicIPAddresses/" + p.name
	}
	return "/subscriptions/" + p.sub.id + "/resourceGroups/" + p.rg + "/providers/Microsoft.Network/publicIPAddresses/" + p.name
}

// ipAddress is the address the public IP shows now: a dynamic address is
// released while its VM is deallocated.
func (p *pip) ipAddress() string {
	return p.ip.Shown(p.nic == nil || p.nic.vm == nil || p.nic.vm.allocated())
}

func (p *pip) fqdn() string {
	if p.label == "" {
		return ""
	}
	return p.label + "." + p.location + ".cloudapp.azure.com"
}

type scaleSet struct {
	seq        uint64
	sub        *subscription
	rg         string
	name       string
	location   string
	flexible   bool
	size       string
	prefix     string // computerNamePrefix
	guid       string
	img        image
	tags       []Tag
	publicIP   bool
	created    time.Time
	createdStr string
	instances  []*vm // uniform only
	nextID     int
}

func (s *scaleSet) id() string {
	return "/subscriptions/" + s.sub.id + "/resourceGroups/" + strings.ToUpper(s.rg) + "/providers/Microsoft.Compute/virtualMachineScaleSets/" + s.name
}

// NewFleet generates size standalone VMs and scaleSets scale sets over
// subscriptions (DefaultSubscriptions when empty). The same arguments
// always give the same fleet.
func NewFleet(seed int64, size, scaleSets int, subscriptions []string) *Fleet {
	if len(subscriptions) == 0 {
		subscriptions = DefaultSubscriptions
	}
	f := &Fleet{
		subs:  map[string]*subscription{},
		core:  cloudsim.NewCore[string, vm](seed, ErrNoVM),
		names: cloudsim.Namer{},
	}
	for _, id := range subscriptions {
		key := strings.ToLower(id)
		if _, dup := f.subs[key]; dup {
			continue
		}
		f.newSubscription(key)
	}
	f.tagger = cloudsim.NewTagger(f.core, (*vm).tagList)
	f.generate(size, scaleSets)
	return f
}

var (
	locationSets = [][]string{
		{"eastus", "westus2"}, {"westeurope", "northeurope"}, {"southeastasia", "australiaeast"},
		{"uksouth", "ukwest"}, {"centralus", "eastus2"}, {"japaneast", "koreacentral"},
	}
	apps = []string{"web", "api", "data", "batch", "identity", "search"} // of resource groups
	// profile is what VMs and scale sets are for: no batch role; the team
	// is drawn with the tags.
	profile = cloudsim.Profile{
		Roles: []string{"web", "api", "worker", "db", "cache", "queue", "bastion", "search", "monitor"},
		Envs:  []string{"prod", "prod", "prod", "staging", "dev"},
	}
	sizes = []string{
		"Standard_B2s", "Standard_B2ms", "Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5",
		"Standard_E4s_v5", "Standard_F4s_v2", "Standard_D2as_v5", "Standard_D4ds_v5", "Standard_B1ms",
	}
	linuxImages = []image{
		{publisher: "Canonical", offer: "0001-com-ubuntu-server-jammy", sku: "22_04-lts-gen2", version: "latest", exact: "22.04.202405140", osType: "Linux"},
		{publisher: "Canonical", offer: "ubuntu-24_04-lts", sku: "server", version: "latest", exact: "24.04.202409120", osType: "Linux"},
		{publisher: "RedHat", offer: "RHEL", sku: "9-lvm-gen2", version: "latest", exact: "9.4.2024061815", osType: "Linux"},
		{publisher: "Debian", offer: "debian-12", sku: "12-gen2", version: "0.20240701.1788", exact: "0.20240701.1788", osType: "Linux"},
	}
	windowsImage = image{publisher: "MicrosoftWindowsServer", offer: "WindowsServer", sku: "2022-datacenter-azure-edition", version: "latest", exact: "20348.2527.240606", osType: "Windows"}
	// extraTags follow Env, Role and Team on some VMs.
	extraTags = []cloudsim.Extra{
		{Chance: 0.3, Key: "vm_name", Value: func(_ *rand.Rand, m cloudsim.Machine) string {
			return strings.ReplaceAll(m.Name, "-", "") + ".example.net"
		}},
		{Chance: 0.2, Key: "sometag", Value: cloudsim.OneOf([]string{"blue", "green", "canary"})},
		{Chance: 0.1, Key: "Cost Center", Value: cloudsim.OneOf(cloudsim.CostCenters)},
		{Chance: 0.03, Key: "Owner", Value: cloudsim.OneOf(cloudsim.Owners)},
	}
	// initialPower and instancePower are the power states of generated
	// standalone VMs and scale-set instances; initialProvisioning their
	// provisioning states.
	initialPower        = cloudsim.NewOdds([]string{"running", "deallocated", "stopped", "starting", "stopping", "deallocating"}, 0.78, 0.90, 0.95, 0.97, 0.98)
	instancePower       = cloudsim.NewOdds([]string{"running", "deallocated", "stopped"}, 0.85, 0.95)
	initialProvisioning = cloudsim.NewOdds([]string{"Failed", "Updating", "Succeeded"}, 0.015, 0.03)
)

func (f *Fleet) newSubscription(id string) *subscription {
	s := &subscription{id: id, index: len(f.order), res: cloudsim.ScopeStream(f.core.Seed, id)}
	s.locations = locationSets[s.index%len(locationSets)]
	for _, app := range apps {
		env := cloudsim.Pick(s.res, profile.Envs)
		s.groups = append(s.groups, "rg-"+app+"-"+env)
	}
	s.groups = cloudsim.Uniq(s.groups)
	s.netGroup = "rg-network-" + s.locations[0]
	f.order = append(f.order, id)
	f.subs[id] = s
	return s
}

// generate creates the standalone VMs (the first round-robin over the
// subscriptions, the rest favouring the first ones), then the scale sets.
func (f *Fleet) generate(size, scaleSets int) {
	r := cloudsim.Stream(f.core.Seed, cloudsim.FleetStream)
	spread := cloudsim.NewSpread(len(f.order), 0.1)
	pickSub := func(n int) *subscription { return f.subs[f.order[spread.Nth(r, n)]] }
	for n := range size {
		s := pickSub(n)
		f.addVM(r, s, s.groups[r.IntN(len(s.groups))], nil, true)
	}
	for n := range scaleSets {
		f.addScaleSet(r, pickSub(n))
	}
}

func (f *Fleet) nextSeq() uint64 {
	f.seq++
	return f.seq
}

// uniqueName returns stem-NNNN, counting per stem over the whole fleet,
// except that about 1% of names repeat an earlier one (in another
// resource group or subscription), as real estates do.
func (f *Fleet) uniqueName(r *rand.Rand, stem string) string {
	n := f.names.Bump(stem)
	if n > 10 && r.Float64() < 0.01 {
		n = 1 + r.IntN(n-1)
	}
	return cloudsim.Name(stem, n)
}

func (f *Fleet) newVMID(r *rand.Rand) string {
	return f.core.Fresh(func() string { return guid(r) })
}

// addVM creates a standalone VM in resource group rg with one or two
// NICs (and their public IPs). tags, when non-nil, replace generated tags;
// initial VMs get a random power and provisioning state, added ones run.
func (f *Fleet) addVM(r *rand.Rand, s *subscription, rg string, tags []Tag, initial bool) *vm {
	m := profile.Machine(r)
	role, env := m.Role, m.Env
	v := &vm{
		seq:          f.nextSeq(),
		sub:          s,
		rg:           rg,
		vmID:         f.newVMID(r),
		location:     s.locations[0],
		size:         sizes[r.IntN(len(sizes))],
		hasOSProfile: r.Float64() >= 0.04,
		adminUser:    "azureuser",
		power:        "running",
		provisioning: "Succeeded",
	}
	if r.Float64() < 0.2 {
		v.location = s.locations[1]
	}
	v.name = f.uniqueName(r, role+"-"+env)
	m.Name = v.name
	switch p := r.Float64(); {
	case p < 0.08:
		v.img = windowsImage
		v.adminUser = "rosteradmin"
		if r.Float64() < 0.5 {
			v.licenseType = "Windows_Server"
		}
	case p < 0.13:
		v.img = image{id: "/subscriptions/" + s.id + "/resourceGroups/rg-images/providers/Microsoft.Compute/galleries/roster_gallery/images/base-" + role + "/versions/1." + strconv.Itoa(r.IntN(9)) + ".0", osType: "Linux"}
	default:
		v.img = linuxImages[r.IntN(len(linuxImages))]
	}
	if v.hasOSProfile {
		v.computerName = v.name
		if v.img.osType == "Windows" && len(v.computerName) > 15 {
			v.computerName = v.computerName[:15]
		}
	}
	if r.Float64() < 0.03 {
		v.plan = &plan{name: "cis-ubuntu2204-l1", publisher: "center-for-internet-security-inc", product: "cis-ubuntu-linux-2204-l1"}
	}
	if r.Float64() < 0.4 {
		v.zones = []string{strconv.Itoa(1 + r.IntN(3))}
	}
	upper := strings.ToUpper(rg)
	v.osDisk = disk{name: v.name + "_OsDisk_1_" + hex32(r), account: cloudsim.Pick(r, []string{"Premium_LRS", "StandardSSD_LRS"}), sizeGB: 30}
	if v.img.osType == "Windows" {
		v.osDisk.sizeGB = 127
	}
	v.osDisk.id = "/subscriptions/" + s.id + "/resourceGroups/" + upper + "/providers/Microsoft.Compute/disks/" + v.osDisk.name
	for lun := range r.IntN(3) {
		d := disk{name: fmt.Sprintf("%s-data%d", v.name, lun), lun: lun, account: "Premium_LRS", sizeGB: 128 << r.IntN(3)}
		d.id = "/subscriptions/" + s.id + "/resourceGroups/" + upper + "/providers/Microsoft.Compute/disks/" + d.name
		v.dataDisks = append(v.dataDisks, d)
	}
	if tags != nil {
		v.tags = slices.Clone(tags)
	} else {
		v.tags = generateTags(r, m)
	}
	v.created = cloudsim.Epoch.Add(-cloudsim.Age(r, cloudsim.TwoYears))
	v.createdStr = azureTime(v.created)
	if initial {
		v.power = initialPower.Draw(r)
		v.provisioning = initialProvisioning.Draw(r)
	}

	// Network: one NIC, or two (about 12%); the primary one is sometimes
	// listed second, and single NICs often carry no primary flag.
	count := 1
	if r.Float64() < 0.12 {
		count = 2
	}
	v.primaryFlag = count > 1 || r.Float64() < 0.5
	nicRG := rg
	if r.Float64() < 0.15 {
		nicRG = s.netGroup // NICs in a shared networking resource group
	}
	for k := range count {
		n := f.newNIC(r, s, nicRG, v, role, k == 0)
		if k > 0 {
			n.name = v.name + "-nic" + strconv.Itoa(k+1)
		}
		v.nics = append(v.nics, n)
	}
	if count > 1 && r.Float64() < 0.3 {
		slices.Reverse(v.nics) // the primary NIC is not always first
	}
	s.vms = append(s.vms, v)
	f.core.Put(v.vmID, v)
	return v
}

// newNIC creates a standalone NIC for v with one IP configuration (or two,
// about 10%), a public IP on the primary one for about 45% of VMs.
func (f *Fleet) newNIC(r *rand.Rand, s *subscription, rg string, v *vm, role string, primary bool) *nic {
	n := &nic{
		seq:         f.nextSeq(),
		sub:         s,
		rg:          rg,
		name:        v.name + "-nic",
		location:    v.location,
		mac:         mac(r),
		guid:        guid(r),
		accelerated: r.Float64() < 0.6,
		primary:     primary,
		vm:          v,
	}
	switch p := r.Float64(); {
	case p < 0.4:
		n.nsgID = "/subscriptions/" + s.id + "/resourceGroups/" + rg + "/providers/Microsoft.Network/networkSecurityGroups/" + v.name + "-nsg"
	case p < 0.7:
		n.nsgID = "/subscriptions/" + s.id + "/resourceGroups/" + s.netGroup + "/providers/Microsoft.Network/networkSecurityGroups/nsg-" + role
	}
	subnet := "/subscriptions/" + s.id + "/resourceGroups/" + s.netGroup + "/providers/Microsoft.Network/virtualNetworks/vnet-" + v.location + "/subnets/snet-" + role
	ipcs := 1
	if r.Float64() < 0.1 {
		ipcs = 2
	}
	for k := range ipcs {
		ipc := &ipConfig{name: "ipconfig" + strconv.Itoa(k+1), privateIP: privateIP(r, s, v.location), subnetID: subnet, primary: k == 0}
		if k == 0 && primary && r.Float64() < 0.45 {
			p := f.newPIP(r, s, rg, v.name+"-ip", v.location, n, ipc)
			p.ip.Static = r.Float64() < 0.6
			if r.Float64() < 0.5 {
				p.label = strings.ToLower(v.name) + "-" + cloudsim.ID(r, cloudsim.LowerAlnum, 4)
			}
			ipc.pip = p
		}
		n.ipConfigs = append(n.ipConfigs, ipc)
	}
	if ipcs > 1 && r.Float64() < 0.5 {
		slices.Reverse(n.ipConfigs) // the primary configuration is not always first
	}
	s.nics = append(s.nics, n)
	return n
}

func (f *Fleet) newPIP(r *rand.Rand, s *subscription, rg, name, location string, n *nic, ipc *ipConfig) *pip {
	p := &pip{
		seq:      f.nextSeq(),
		sub:      s,
		rg:       rg,
		name:     name,
		location: location,
		ip:       cloudsim.PublicIP{Addr: publicIP(r, s)},
		guid:     guid(r),
		nic:      n,
		ipc:      ipc,
	}
	if n.vm == nil || n.vm.ss == nil {
		s.pips = append(s.pips, p)
	}
	return p
}

// addScaleSet creates a scale set: about a quarter flexible (some of the
// subscription's standalone VMs become its members), the rest uniform
// with 2 to 8 instances of their own.
func (f *Fleet) addScaleSet(r *rand.Rand, s *subscription) {
	m := profile.Machine(r)
	role, env := m.Role, m.Env
	ss := &scaleSet{
		seq:      f.nextSeq(),
		sub:      s,
		rg:       s.groups[r.IntN(len(s.groups))],
		location: s.locations[0],
		flexible: r.Float64() < 0.25,
		size:     sizes[r.IntN(len(sizes))],
		guid:     guid(r),
		img:      linuxImages[r.IntN(len(linuxImages))],
		publicIP: r.Float64() < 0.3,
		tags:     []Tag{{Key: "Env", Value: env}, {Key: "Role", Value: role}},
	}
	ss.name = f.uniqueName(r, "vmss-"+role+"-"+env)
	ss.prefix = strings.ReplaceAll(ss.name[len("vmss-"):], "-", "")
	if len(ss.prefix) > 9 {
		ss.prefix = ss.prefix[:9]
	}
	ss.created = cloudsim.Epoch.Add(-cloudsim.Age(r, cloudsim.TwoYears/2))
	ss.createdStr = azureTime(ss.created)
	s.scaleSets = append(s.scaleSets, ss)
	if ss.flexible {
		for _, v := range s.vms {
			if v.flex == nil && v.rg == ss.rg && r.Float64() < 0.3 {
				v.flex = ss
			}
		}
		return
	}
	for range 2 + r.IntN(7) {
		f.addInstance(r, ss, true)
	}
}

// addInstance adds an instance to a uniform scale set.
func (f *Fleet) addInstance(r *rand.Rand, ss *scaleSet, initial bool) *vm {
	s := ss.sub
	id := ss.nextID
	ss.nextID += 1 + r.IntN(2) // instance ids have gaps, as after scale-in
	v := &vm{
		seq:          f.nextSeq(),
		sub:          s,
		rg:           ss.rg,
		vmID:         f.newVMID(r),
		location:     ss.location,
		size:         ss.size,
		hasOSProfile: true,
		adminUser:    "azureuser",
		img:          ss.img,
		power:        "running",
		provisioning: "Succeeded",
		ss:           ss,
		instanceID:   strconv.Itoa(id),
		tags:         slices.Clone(ss.tags),
		primaryFlag:  true,
	}
	v.name = ss.name + "_" + v.instanceID
	v.computerName = ss.prefix + fmt.Sprintf("%06s", strings.ToUpper(strconv.FormatInt(int64(id), 36)))
	v.osDisk = disk{name: ss.name + "_" + v.instanceID + "_OsDisk_1_" + hex32(r), account: "Premium_LRS", sizeGB: 30}
	v.osDisk.id = "/subscriptions/" + s.id + "/resourceGroups/" + strings.ToUpper(ss.rg) + "/providers/Microsoft.Compute/disks/" + v.osDisk.name
	v.created = ss.created.Add(time.Duration(id) * time.Minute)
	v.createdStr = azureTime(v.created)
	if initial {
		v.power = instancePower.Draw(r)
	}
	n := &nic{
		seq:      f.nextSeq(),
		sub:      s,
		rg:       ss.rg,
		name:     ss.name + "-nic",
		location: ss.location,
		mac:      mac(r),
		guid:     guid(r),
		primary:  true,
		vm:       v,
	}
	ipc := &ipConfig{
		name:      ss.name + "-ipconfig",
		privateIP: privateIP(r, s, ss.location),
		subnetID:  "/subscriptions/" + s.id + "/resourceGroups/" + s.netGroup + "/providers/Microsoft.Network/virtualNetworks/vnet-" + ss.location + "/subnets/snet-vmss",
		primary:   true,
	}
	if ss.publicIP {
		ipc.pip = f.newPIP(r, s, ss.rg, ss.name+"-pip", ss.location, n, ipc)
	}
	n.ipConfigs = []*ipConfig{ipc}
	v.nics = []*nic{n}
	ss.instances = append(ss.instances, v)
	f.core.Put(v.vmID, v)
	return v
}

func generateTags(r *rand.Rand, m cloudsim.Machine) []Tag {
	if r.Float64() < 0.03 {
		return nil // no tags at all
	}
	m.Team = cloudsim.Pick(r, cloudsim.Teams)
	tags := []Tag{{Key: "Env", Value: m.Env}, {Key: "Role", Value: m.Role}, {Key: "Team", Value: m.Team}}
	return cloudsim.AppendExtras(r, tags, m, extraTags)
}

// Subscriptions returns the fleet's subscription ids, in creation order.
func (f *Fleet) Subscriptions() []string {
	f.core.RLock()
	defer f.core.RUnlock()
	return slices.Clone(f.order)
}

// ResourceGroups returns the resource groups of a subscription that hold
// VMs (the shared networking group excluded).
func (f *Fleet) ResourceGroups(subscription string) []string {
	f.core.RLock()
	defer f.core.RUnlock()
	s := f.subs[strings.ToLower(subscription)]
	if s == nil {
		return nil
	}
	return slices.Clone(s.groups)
}

// Len returns the number of VMs, scale-set instances included.
func (f *Fleet) Len() int { return f.core.Len() }

// VMs returns every VM: per subscription (in Subscriptions order) the
// standalone VMs in list order, then the instances of each uniform scale
// set.
func (f *Fleet) VMs() []VMInfo { return cloudsim.Collect(f.core, f.all, (*vm).info) }

// all yields every VM, subscription by subscription: the standalone ones,
// then the instances of each uniform scale set.
func (f *Fleet) all(yield func(*vm) bool) {
	for _, id := range f.order {
		s := f.subs[id]
		lists := [][]*vm{s.vms}
		for _, ss := range s.scaleSets {
			lists = append(lists, ss.instances)
		}
		for _, list := range lists {
			for _, v := range list {
				if !yield(v) {
					return
				}
			}
		}
	}
}

// VM returns one VM by vmId.
func (f *Fleet) VM(vmID string) (VMInfo, bool) { return cloudsim.Snapshot(f.core, vmID, (*vm).info) }

// orderedNICs returns the NICs in the plugin's order: primary first.
func (v *vm) orderedNICs() []*nic {
	out := slices.Clone(v.nics)
	slices.SortStableFunc(out, func(a, b *nic) int { return boolRank(a.primary) - boolRank(b.primary) })
	return out
}

func (n *nic) orderedIPConfigs() []*ipConfig {
	out := slices.Clone(n.ipConfigs)
	slices.SortStableFunc(out, func(a, b *ipConfig) int { return boolRank(a.primary) - boolRank(b.primary) })
	return out
}

func boolRank(b bool) int {
	if b {
		return 0
	}
	return 1
}

func (v *vm) info() VMInfo {
	i := VMInfo{
		ID:                v.id(),
		VMID:              v.vmID,
		Subscription:      v.sub.id,
		ResourceGroup:     v.rg,
		Name:              v.name,
		Location:          v.location,
		Size:              v.size,
		ComputerName:      v.computerName,
		OSType:            v.img.osType,
		PowerState:        v.power,
		ProvisioningState: v.provisioning,
		Zones:             slices.Clone(v.zones),
		InstanceID:        v.instanceID,
		Tags:              slices.Clone(v.tags),
		Created:           v.created,
	}
	if !v.hasOSProfile {
		i.ComputerName = ""
	}
	if v.ss != nil {
		i.ScaleSet = v.ss.name
	}
	if v.flex != nil {
		i.FlexScaleSet = v.flex.name
	}
	for _, n := range v.orderedNICs() {
		i.NICs = append(i.NICs, n.id())
		for _, c := range n.orderedIPConfigs() {
			i.PrivateIPs = append(i.PrivateIPs, c.privateIP)
			if c.pip == nil {
				continue
			}
			a := c.pip.ipAddress()
			i.PublicIPSlots = append(i.PublicIPSlots, a)
			if a != "" {
				i.PublicIPs = append(i.PublicIPs, a)
			}
			if d := c.pip.fqdn(); d != "" {
				i.FQDNs = append(i.FQDNs, d)
			}
		}
	}
	return i
}

// SetPowerState moves a VM to a power state (running, starting, stopping,
// stopped, deallocating, deallocated). A deallocated VM releases its
// dynamic public IPs and its NICs' MAC addresses; running again, it gets
// them back.
func (f *Fleet) SetPowerState(vmID, state string) error {
	if _, ok := powerDisplay[state]; !ok {
		return fmt.Errorf("azuresim: unknown power state %q", state)
	}
	return f.core.Mutate(vmID, func(v *vm) error {
		v.power = state
		return nil
	})
}

// SetProvisioningState sets a VM's provisioning state (Succeeded, Failed,
// Updating, ...).
func (f *Fleet) SetProvisioningState(vmID, state string) error {
	return f.core.Mutate(vmID, func(v *vm) error {
		v.provisioning = state
		return nil
	})
}

func (v *vm) tagList() *[]Tag { return &v.tags }

// Remove deletes a VM with its NICs and public IPs (deleteOption Delete),
// or a scale-set instance.
func (f *Fleet) Remove(vmID string) error {
	return f.core.Mutate(vmID, func(v *vm) error {
		f.core.Delete(vmID)
		if v.ss != nil {
			v.ss.instances = slices.DeleteFunc(v.ss.instances, func(x *vm) bool { return x == v })
			return nil
		}
		s := v.sub
		s.vms = slices.DeleteFunc(s.vms, func(x *vm) bool { return x == v })
		s.nics = slices.DeleteFunc(s.nics, func(n *nic) bool { return n.vm == v })
		s.pips = slices.DeleteFunc(s.pips, func(p *pip) bool { return p.nic != nil && p.nic.vm == v })
		return nil
	})
}

// Add creates a running standalone VM in a subscription's resource group
// (a new group is created when needed); tags, when non-nil, are its tags
// in map-key order, otherwise tags are generated. It is listed after every
// existing VM of the subscription.
func (f *Fleet) Add(subscription, resourceGroup string, tags map[string]string) (VMInfo, error) {
	f.core.Lock()
	defer f.core.Unlock()
	s := f.subs[strings.ToLower(subscription)]
	if s == nil {
		return VMInfo{}, fmt.Errorf("azuresim: subscription %q is not served", subscription)
	}
	rg := strings.ToLower(resourceGroup)
	if rg == "" {
		rg = s.groups[0]
	}
	if !slices.Contains(s.groups, rg) {
		s.groups = append(s.groups, rg)
	}
	return f.addVM(f.core.Added, s, rg, cloudsim.TagsOf(tags), false).info(), nil
}

// AddScaleSetInstance adds a running instance to the uniform scale set
// named name in subscription.
func (f *Fleet) AddScaleSetInstance(subscription, name string) (VMInfo, error) {
	f.core.Lock()
	defer f.core.Unlock()
	s := f.subs[strings.ToLower(subscription)]
	if s == nil {
		return VMInfo{}, fmt.Errorf("azuresim: subscription %q is not served", subscription)
	}
	for _, ss := range s.scaleSets {
		if strings.EqualFold(ss.name, name) && !ss.flexible {
			return f.addInstance(f.core.Added, ss, false).info(), nil
		}
	}
	return VMInfo{}, fmt.Errorf("azuresim: no uniform scale set %q in %s", name, subscription)
}

// ScaleSetInfo describes one scale set.
type ScaleSetInfo struct {
	ID, Name, Subscription, ResourceGroup string
	Flexible                              bool
	Instances                             int // uniform: its instances; flexible: its member VMs
}

// ScaleSets returns every scale set, per subscription in creation order.
func (f *Fleet) ScaleSets() []ScaleSetInfo {
	f.core.RLock()
	defer f.core.RUnlock()
	var out []ScaleSetInfo
	for _, id := range f.order {
		s := f.subs[id]
		for _, ss := range s.scaleSets {
			n := len(ss.instances)
			if ss.flexible {
				n = 0
				for _, v := range s.vms {
					if v.flex == ss {
						n++
					}
				}
			}
			out = append(out, ScaleSetInfo{ID: ss.id(), Name: ss.name, Subscription: s.id, ResourceGroup: ss.rg, Flexible: ss.flexible, Instances: n})
		}
	}
	return out
}

// helpers

// guid draws a version 4 GUID from two r.Uint64().
func guid(r *rand.Rand) string {
	a, b := r.Uint64(), r.Uint64()
	return cloudsim.FormatUUID(binary.BigEndian.AppendUint64(binary.BigEndian.AppendUint64(nil, a), b))
}

func hex32(r *rand.Rand) string {
	a := cloudsim.Hex64(r)
	return a + cloudsim.Hex64(r)
}

// mac formats like Azure: upper-case hex pairs joined by dashes, in
// Microsoft's 00-0D-3A prefix.
func mac(r *rand.Rand) string {
	return strings.ToUpper(strings.ReplaceAll(cloudsim.MAC(r, "00:0d:3a"), ":", "-"))
}

func privateIP(r *rand.Rand, s *subscription, location string) string {
	second := 10 + s.index%200
	if location != s.locations[0] {
		second += 100
	}
	return fmt.Sprintf("10.%d.%d.%d", second%256, r.IntN(256), 4+r.IntN(250))
}

// publicIP hands out an address that looks like an Azure range; unique
// enough for tests (a 22-bit space per subscription).
func publicIP(r *rand.Rand, s *subscription) string {
	pools := []int{20, 40, 52, 104, 137, 168}
	x := r.Uint32()
	return fmt.Sprintf("%d.%d.%d.%d", pools[s.index%len(pools)], 64+int(x>>24&63), int(x>>16&255), 1+int(x&255)%254)
}

// azureTime formats like ARM: seven fractional digits and an explicit
// +00:00 offset.
func azureTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.0000000-07:00")
}
