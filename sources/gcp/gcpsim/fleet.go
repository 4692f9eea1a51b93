package gcpsim

import (
	"encoding/base64"
	"errors"
	"fmt"
	"math/rand/v2"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// ErrNoInstance is returned by Fleet mutations for an unknown instance id.
var ErrNoInstance = errors.New("gcpsim: no such instance")

// pacific is the offset Compute Engine's timestamps carry (it prints them
// in US Pacific time; the simulator does not model daylight saving).
var pacific = time.FixedZone("PDT", -7*3600)

// Instance statuses, as the API spells them.
var statuses = []string{"PROVISIONING", "STAGING", "RUNNING", "STOPPING", "SUSPENDING", "SUSPENDED", "REPAIRING", "TERMINATED"}

// SharedVPCHost is the project whose network some instances of the other
// projects attach to (a Shared VPC), so network URLs name another project.
const SharedVPCHost = "roster-net-host"

// Label is one instance label or metadata item.
type Label = cloudsim.Tag

// InstanceInfo is a snapshot of one simulated instance, for tests that
// compute what a sync should produce.
type InstanceInfo struct {
	ID          string // the uint64 id, in decimal
	Name        string
	Project     string
	Zone        string // us-central1-a
	Region      string // us-central1
	MachineType string // e2-medium
	Status      string // RUNNING, TERMINATED, ...
	Hostname    string // the custom hostname; "" when the instance has none
	PrivateIP   string // networkInterfaces[0].networkIP
	PublicIP    string // the natIP it shows now; "" when none
	Network     string // network name
	NetProject  string // project of the network (SharedVPCHost for Shared VPC)
	Subnetwork  string // subnetwork name
	Image       string // boot image name (what retrieve_image_info resolves)
	Labels      map[string]string
	Tags        []string  // network tags
	Metadata    []Label   // metadata items, in API order
	Spot        bool      // scheduling.provisioningModel SPOT
	Created     time.Time // creationTimestamp
}

// instance is the simulator's record of one instance; the strings the
// renderer needs are kept ready so that rendering is appends.
type instance struct {
	id          uint64
	idStr       string
	project     *projectSet
	zone        *zoneInfo
	name        string
	description string
	created     time.Time
	createdStr  string
	machineType string
	arch        string // X86_64 or ARM64
	status      string
	cpuPlatform string
	tags        []string
	tagsFP      string
	labels      []Label // sorted by key
	labelFP     string
	metadata    []Label
	metaFP      string
	hostname    string
	netProject  string
	network     string
	subnetwork  string
	networkIP   string
	ext         cloudsim.PublicIP // its access config's external address
	nicFP       string
	diskName    string
	diskSize    int
	image       *osImage
	saEmail     string
	saScopes    []string
	spot        bool
	lastStart   string
	lastStop    string
	fp          string
	protect     bool
	ipForward   bool
}

// natIP is the external address the access config carries now: an
// ephemeral one is released when the instance stops.
func (in *instance) natIP() string {
	return in.ext.Shown(in.status != "TERMINATED" && in.status != "SUSPENDED")
}

func (in *instance) labelMap() map[string]string {
	m := make(map[string]string, len(in.labels))
	for _, l := range in.labels {
		m[l.Key] = l.Value
	}
	return m
}

func (in *instance) info() InstanceInfo {
	i := InstanceInfo{
		ID:          in.idStr,
		Name:        in.name,
		Project:     in.project.name,
		Zone:        in.zone.name,
		Region:      in.zone.region,
		MachineType: in.machineType,
		Status:      in.status,
		Hostname:    in.hostname,
		PrivateIP:   in.networkIP,
		Network:     in.network,
		NetProject:  in.netProject,
		Subnetwork:  in.subnetwork,
		Image:       in.image.name,
		Labels:      in.labelMap(),
		Tags:        slices.Clone(in.tags),
		Metadata:    slices.Clone(in.metadata),
		Spot:        in.spot,
		Created:     in.created,
	}
	i.PublicIP = in.natIP()
	return i
}

// osImage is a public boot image.
type osImage struct {
	project, name, family, license string
	arch                           string
	windows                        bool
}

var images = []*osImage{
	{"debian-cloud", "debian-12-bookworm-v20250513", "debian-12", "debian-12-bookworm", "X86_64", false},
	{"debian-cloud", "debian-12-bookworm-arm64-v20250513", "debian-12-arm64", "debian-12-bookworm", "ARM64", false},
	{"ubuntu-os-cloud", "ubuntu-2204-jammy-v20250508", "ubuntu-2204-lts", "ubuntu-2204-lts", "X86_64", false},
	{"rocky-linux-cloud", "rocky-linux-9-v20250513", "rocky-linux-9", "rocky-linux-9", "X86_64", false},
	{"cos-cloud", "cos-117-18613-164-49", "cos-117-lts", "cos-pcid", "X86_64", false},
	{"windows-cloud", "windows-server-2022-dc-v20250515", "windows-2022", "windows-server-2022-dc", "X86_64", true},
}

var machineTypes = []struct {
	name, arch string
	cpus       []string
}{
	{"e2-micro", "X86_64", []string{"Intel Broadwell", "AMD Rome"}},
	{"e2-small", "X86_64", []string{"Intel Broadwell", "AMD Rome"}},
	{"e2-medium", "X86_64", []string{"Intel Broadwell", "AMD Rome"}},
	{"e2-medium", "X86_64", []string{"Intel Broadwell", "AMD Rome"}},
	{"e2-standard-2", "X86_64", []string{"Intel Broadwell", "Intel Skylake", "AMD Rome"}},
	{"e2-standard-4", "X86_64", []string{"Intel Broadwell", "Intel Skylake"}},
	{"n2-standard-2", "X86_64", []string{"Intel Cascade Lake", "Intel Ice Lake"}},
	{"n2-standard-4", "X86_64", []string{"Intel Cascade Lake", "Intel Ice Lake"}},
	{"n2-highmem-4", "X86_64", []string{"Intel Ice Lake"}},
	{"n2d-standard-2", "X86_64", []string{"AMD Milan"}},
	{"c2-standard-8", "X86_64", []string{"Intel Cascade Lake"}},
	{"t2d-standard-2", "X86_64", []string{"AMD Milan"}},
	{"t2a-standard-1", "ARM64", []string{"Ampere Altra"}},
	{"t2a-standard-2", "ARM64", []string{"Ampere Altra"}},
}

// profile is what Compute Engine instances are for.
var profile = cloudsim.Profile{Roles: cloudsim.Roles, Envs: cloudsim.EnvsByWeight, Teams: cloudsim.Teams}

var descriptions = []string{"", "", "", "", "", "", "Managed by Terraform", "Jörg's \"canary\" box <do not delete>", "migrated from on-prem\ttab & co"}

// extraLabels follow env, role and team on some instances.
var extraLabels = []cloudsim.Extra{
	{Chance: 0.3, Key: "app", Value: cloudsim.OneOf(cloudsim.Apps)},
	{Chance: 0.1, Key: "goog-ops-agent-policy", Value: cloudsim.Fixed("v2-x86-template-1-4-0")},
}

// metadataItems are the metadata some instances carry.
var metadataItems = []cloudsim.Extra{
	{Chance: 0.85, Key: "enable-oslogin", Value: cloudsim.Fixed("TRUE")},
	{Chance: 0.3, Key: "startup-script", Value: cloudsim.Fixed("#!/bin/bash\nset -e\napt-get update && apt-get install -y nginx\n")},
	{Chance: 0.03, Key: "owner", Value: cloudsim.OneOf(cloudsim.Owners)},
}

// initialStatuses are the statuses of generated instances.
var initialStatuses = cloudsim.NewOdds([]string{"RUNNING", "TERMINATED", "STAGING", "PROVISIONING", "STOPPING", "SUSPENDED", "REPAIRING"},
	0.80, 0.94, 0.955, 0.965, 0.975, 0.99)

// legacyScopes are the default scopes of an instance's service account in
// the console's "Allow default access" mode.
var legacyScopes = []string{
	"https://www.googleapis.com/auth/devstorage.read_only",
	"https://www.googleapis.com/auth/logging.write",
	"https://www.googleapis.com/auth/monitoring.write",
	"https://www.googleapis.com/auth/servicecontrol",
	"https://www.googleapis.com/auth/service.management.readonly",
	"https://www.googleapis.com/auth/trace.append",
}

// projectSet holds one project's instances, per zone of the catalog and,
// in each zone, sorted by name (the order the API lists them in).
type projectSet struct {
	name    string
	number  string
	index   int
	zones   [][]*instance  // by zoneInfo.index
	names   cloudsim.Namer // instance names, per role
	privCnt map[string]int // addresses handed out per region
}

func (p *projectSet) insert(in *instance) {
	list := p.zones[in.zone.index]
	i, _ := slices.BinarySearchFunc(list, in.name, func(x *instance, name string) int { return strings.Compare(x.name, name) })
	p.zones[in.zone.index] = slices.Insert(list, i, in)
}

func (p *projectSet) remove(in *instance) {
	list := p.zones[in.zone.index]
	i, ok := slices.BinarySearchFunc(list, in.name, func(x *instance, name string) int { return strings.Compare(x.name, name) })
	if ok {
		p.zones[in.zone.index] = slices.Delete(list, i, i+1)
	}
}

func (p *projectSet) named(zone *zoneInfo, name string) *instance {
	list := p.zones[zone.index]
	i, ok := slices.BinarySearchFunc(list, name, func(x *instance, name string) int { return strings.Compare(x.name, name) })
	if !ok {
		return nil
	}
	return list[i]
}

// Fleet is a deterministic set of simulated Compute Engine instances
// spread over projects and zones. It is safe for concurrent use;
// mutations are seen by the next request.
type Fleet struct {
	core     *cloudsim.Core[uint64, instance]
	catalog  *zoneCatalog
	zones    []*zoneInfo // the zones instances are generated in
	order    []string
	projects map[string]*projectSet
	ipCnt    int
}

var projectPattern = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)

// NewFleet generates size instances over projects (DefaultProjects when
// empty) and zones (DefaultZones when empty). The same arguments always
// give the same fleet. Zones must look like REGION-LETTER; zones outside
// the built-in catalog of real zones are added to it.
func NewFleet(seed int64, size int, projects, zones []string) (*Fleet, error) {
	projects, zones = cloudsim.Scopes(projects, DefaultProjects), cloudsim.Scopes(zones, DefaultZones)
	for _, p := range projects {
		if !projectPattern.MatchString(p) {
			return nil, fmt.Errorf("gcpsim: %q is not a project id (6-30 lower-case letters, digits and dashes)", p)
		}
	}
	for _, z := range zones {
		if zoneRegion(z) == z {
			return nil, fmt.Errorf("gcpsim: %q is not a zone name (like us-central1-a)", z)
		}
	}
	f := &Fleet{
		catalog:  newZoneCatalog(zones),
		projects: map[string]*projectSet{},
		core:     cloudsim.NewCore[uint64, instance](seed, ErrNoInstance),
	}
	for _, z := range zones {
		f.zones = append(f.zones, f.catalog.byName[z])
	}
	for _, p := range projects {
		f.addProject(p)
	}
	f.generate(size)
	return f, nil
}

func (f *Fleet) addProject(name string) *projectSet {
	p := &projectSet{
		name:    name,
		number:  strconv.FormatUint(100000000000+(cloudsim.HashString(name)^uint64(f.core.Seed))%899999999999, 10),
		index:   len(f.order),
		zones:   make([][]*instance, len(f.catalog.list)),
		names:   cloudsim.Namer{},
		privCnt: map[string]int{},
	}
	f.order = append(f.order, name)
	f.projects[name] = p
	return p
}

// generate creates size instances. The first go round-robin over the
// projects and zones so that each gets some; the rest favour the first
// projects and zones, like a real estate does.
func (f *Fleet) generate(size int) {
	r := cloudsim.Stream(f.core.Seed, cloudsim.FleetStream)
	pw := cloudsim.NewSpread(len(f.order), 0.3)
	zw := cloudsim.NewSpread(len(f.zones), 0.2)
	for n := range size {
		pi, zi := n%len(f.order), n%len(f.zones)
		if n >= max(len(f.order), len(f.zones)) {
			pi, zi = pw.Pick(r), zw.Pick(r)
		}
		f.newInstance(r, f.projects[f.order[pi]], f.zones[zi], nil, true)
	}
}

// newInstance generates one instance in project p and zone z. labels, when
// non-nil, replace the generated labels. initial instances get a random
// status and creation time; added ones are created running, now.
func (f *Fleet) newInstance(r *rand.Rand, p *projectSet, z *zoneInfo, labels map[string]string, initial bool) *instance {
	wl := profile.Machine(r)
	role, env := wl.Role, wl.Env
	mt := machineTypes[r.IntN(len(machineTypes))]
	var img *osImage
	for _, i := range r.Perm(len(images)) {
		if images[i].arch == mt.arch && (!images[i].windows || r.Float64() < 0.3) {
			img = images[i]
			break
		}
	}
	in := &instance{
		id:          f.newID(r),
		project:     p,
		zone:        z,
		name:        p.names.Next(role),
		description: cloudsim.Pick(r, descriptions),
		machineType: mt.name,
		arch:        mt.arch,
		cpuPlatform: cloudsim.Pick(r, mt.cpus),
		image:       img,
		diskSize:    cloudsim.Pick(r, []int{10, 10, 10, 20, 50, 100, 200}),
		saScopes:    []string{"https://www.googleapis.com/auth/cloud-platform"},
		protect:     env == "prod" && r.Float64() < 0.2,
		ipForward:   role == "bastion" && r.Float64() < 0.5,
		tagsFP:      fingerprint(r),
		labelFP:     fingerprint(r),
		metaFP:      fingerprint(r),
		nicFP:       fingerprint(r),
		fp:          fingerprint(r),
	}
	if img.windows {
		in.diskSize = 50
	}
	in.idStr = strconv.FormatUint(in.id, 10)
	in.diskName = in.name
	in.saEmail = p.number + "-compute@developer.gserviceaccount.com"
	if r.Float64() < 0.5 {
		in.saScopes = legacyScopes
	}
	in.spot = r.Float64() < 0.05
	switch role {
	case "web", "api":
		in.tags = []string{"http-server", "https-server"}
	case "bastion":
		in.tags = []string{"ssh"}
	case "db", "cache":
		in.tags = []string{"internal", role}
	default:
		if r.Float64() < 0.5 {
			in.tags = []string{role}
		}
	}
	if labels != nil {
		in.labels = cloudsim.TagsOf(labels)
	} else if r.Float64() >= 0.04 { // a few instances carry no labels at all
		in.labels = []Label{{Key: "env", Value: env}, {Key: "role", Value: role}, {Key: "team", Value: wl.Team}}
		in.labels = cloudsim.AppendExtras(r, in.labels, wl, extraLabels)
		slices.SortFunc(in.labels, func(a, b Label) int { return strings.Compare(a.Key, b.Key) })
	}
	in.metadata = cloudsim.AppendExtras(r, nil, wl, metadataItems)
	if r.Float64() < 0.15 {
		in.hostname = in.name + "." + env + ".internal.example.com"
	}
	// Network: the project's own default VPC, or a Shared VPC subnet.
	in.netProject, in.network, in.subnetwork = p.name, "default", "default"
	if p.index > 0 && r.Float64() < 0.2 {
		in.netProject, in.network, in.subnetwork = SharedVPCHost, "shared", "apps-"+z.region
	}
	c := p.privCnt[z.region+"/"+in.netProject]
	p.privCnt[z.region+"/"+in.netProject]++
	base := 128 + 2*z.rIndex
	if in.netProject == SharedVPCHost {
		base = 20 + 2*z.rIndex
	}
	in.networkIP = fmt.Sprintf("10.%d.%d.%d", (base+c/(254*256))%256, c/254%256, c%254+2)
	if r.Float64() < 0.7 {
		in.ext.Addr = f.publicAddress()
		in.ext.Static = r.Float64() < 0.1
	}

	created := cloudsim.Epoch.Add(-cloudsim.Age(r, cloudsim.TwoYears)).Truncate(time.Millisecond)
	status := "RUNNING"
	if initial {
		status = initialStatuses.Draw(r)
	} else {
		created = time.Now().Truncate(time.Millisecond)
	}
	in.created = created
	in.createdStr = formatTime(created)
	started := created.Add(7 * time.Second)
	if initial {
		started = created.Add(time.Duration(r.Int64N(int64(cloudsim.Epoch.Sub(created))/2 + 1))).Truncate(time.Millisecond)
	}
	in.lastStart = formatTime(started)
	in.setStatus(status, started.Add(time.Duration(r.Int64N(int64(48*time.Hour)))))
	p.insert(in)
	f.core.Put(in.id, in)
	return in
}

// setStatus moves the instance to status, stamping lastStop/lastStart.
func (in *instance) setStatus(status string, at time.Time) {
	prev := in.status
	in.status = status
	switch {
	case status == "TERMINATED" && prev != "TERMINATED":
		in.lastStop = formatTime(at.Truncate(time.Millisecond))
	case status == "RUNNING" && prev != "" && prev != "RUNNING":
		in.lastStart = formatTime(at.Truncate(time.Millisecond))
	}
}

// cpu is what cpuPlatform shows: a stopped instance has no host.
func (in *instance) cpu() string {
	if in.status == "TERMINATED" {
		return "Unknown CPU Platform"
	}
	return in.cpuPlatform
}

func (f *Fleet) newID(r *rand.Rand) uint64 {
	return f.core.Fresh(func() uint64 { return 1<<62 | r.Uint64()>>2 }) // 19 decimal digits, like real ids
}

// publicAddress hands out a unique external IPv4 address from ranges that
// look like Google's.
func (f *Fleet) publicAddress() string {
	pools := []int{34, 35, 104, 130}
	n, x := cloudsim.Scatter24(&f.ipCnt, 0, 0)
	return cloudsim.IPv4(pools[n>>24%len(pools)], x)
}

func formatTime(t time.Time) string {
	return t.In(pacific).Format("2006-01-02T15:04:05.000-07:00")
}

func fingerprint(r *rand.Rand) string {
	return base64.StdEncoding.EncodeToString(cloudsim.Bytes(r, 8))
}

// Projects returns the fleet's projects, in order.
func (f *Fleet) Projects() []string {
	f.core.RLock()
	defer f.core.RUnlock()
	return slices.Clone(f.order)
}

// Zones returns the zones the fleet was generated in.
func (f *Fleet) Zones() []string {
	f.core.RLock()
	defer f.core.RUnlock()
	out := make([]string, len(f.zones))
	for i, z := range f.zones {
		out[i] = z.name
	}
	return out
}

// Len returns the number of instances.
func (f *Fleet) Len() int { return f.core.Len() }

// Instances returns every instance, by project (in Projects order), then
// in the order an aggregated list returns them (zone, then name).
func (f *Fleet) Instances() []InstanceInfo {
	return cloudsim.Collect(f.core, f.all, (*instance).info)
}

// all yields every instance, project by project, zone by zone.
func (f *Fleet) all(yield func(*instance) bool) {
	for _, name := range f.order {
		for _, in := range slices.Concat(f.projects[name].zones...) {
			if !yield(in) {
				return
			}
		}
	}
}

// Instance returns one instance by id.
func (f *Fleet) Instance(id string) (InstanceInfo, bool) {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return InstanceInfo{}, false
	}
	return cloudsim.Snapshot(f.core, n, (*instance).info)
}

// mutate runs fn on instance id (decimal) under the write lock.
func (f *Fleet) mutate(id string, fn func(*instance) error) error {
	n, err := strconv.ParseUint(id, 10, 64)
	if err != nil {
		return fmt.Errorf("%w: %s", ErrNoInstance, id)
	}
	return f.core.Mutate(n, fn)
}

// SetStatus moves an instance to a status (RUNNING, TERMINATED, ...). A
// stopped instance loses its ephemeral external address; it gets it back
// when it runs again.
func (f *Fleet) SetStatus(id, status string) error {
	if !slices.Contains(statuses, status) {
		return fmt.Errorf("gcpsim: unknown instance status %q", status)
	}
	return f.mutate(id, func(in *instance) error {
		in.setStatus(status, time.Now())
		return nil
	})
}

// Rename renames an instance (instances.setName): its id stays.
func (f *Fleet) Rename(id, name string) error {
	return f.mutate(id, func(in *instance) error {
		if in.project.named(in.zone, name) != nil {
			return fmt.Errorf("gcpsim: %s already has an instance named %s", in.zone.name, name)
		}
		in.project.remove(in)
		in.name = name
		in.project.insert(in)
		return nil
	})
}

// SetLabel sets (adds or replaces) a label.
func (f *Fleet) SetLabel(id, key, value string) error {
	return f.mutate(id, func(in *instance) error {
		labels := slices.Clone(in.labels) // rendered pages may still hold the old slice
		i, ok := slices.BinarySearchFunc(labels, key, func(l Label, k string) int { return strings.Compare(l.Key, k) })
		if ok {
			labels[i].Value = value
		} else {
			labels = slices.Insert(labels, i, Label{Key: key, Value: value})
		}
		in.labels = labels
		return nil
	})
}

// DeleteLabel removes a label if the instance has it.
func (f *Fleet) DeleteLabel(id, key string) error {
	return f.mutate(id, func(in *instance) error {
		in.labels = slices.DeleteFunc(slices.Clone(in.labels), func(l Label) bool { return l.Key == key })
		return nil
	})
}

// Remove deletes an instance.
func (f *Fleet) Remove(id string) error {
	return f.mutate(id, func(in *instance) error {
		in.project.remove(in)
		f.core.Delete(in.id)
		return nil
	})
}

// Add creates a running instance in project and zone (one of the catalog's
// zones; a new project is created when needed). labels, when non-nil, are
// its labels; otherwise labels are generated.
func (f *Fleet) Add(project, zone string, labels map[string]string) (InstanceInfo, error) {
	f.core.Lock()
	defer f.core.Unlock()
	z := f.catalog.byName[zone]
	if z == nil {
		return InstanceInfo{}, fmt.Errorf("gcpsim: zone %q is not served", zone)
	}
	p := f.projects[project]
	if p == nil {
		if !projectPattern.MatchString(project) {
			return InstanceInfo{}, fmt.Errorf("gcpsim: %q is not a project id", project)
		}
		p = f.addProject(project)
	}
	return f.newInstance(f.core.Added, p, z, labels, false).info(), nil
}
