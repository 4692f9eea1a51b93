package openstacksim

import (
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// DefaultRegions are the regions a fleet spreads over when none are given.
var DefaultRegions = []string{"RegionOne", "RegionTwo"}

// DefaultProjects are the projects servers belong to when none are given.
var DefaultProjects = []string{"demo", "ops"}

// DefaultDomain is the only Keystone domain: users and projects live in it.
const (
	DefaultDomainID   = "default"
	DefaultDomainName = "Default"
)

// ErrNoServer is returned by fleet mutations given an unknown server id.
var ErrNoServer = errors.New("openstacksim: no such server")

// Statuses are the server statuses a generated fleet uses, with the
// vm_state, power_state and task_state Nova reports for each.
var statusStates = map[string]struct {
	vm    string
	power int
	task  string
}{
	"ACTIVE":            {"active", 1, ""},
	"SHUTOFF":           {"stopped", 4, ""},
	"ERROR":             {"error", 0, ""},
	"BUILD":             {"building", 0, "spawning"},
	"PAUSED":            {"paused", 3, ""},
	"SUSPENDED":         {"suspended", 7, ""},
	"SHELVED_OFFLOADED": {"shelved_offloaded", 4, ""},
}

// Flavor is a Nova flavor. Every region has the same flavors.
type Flavor struct {
	ID         string
	Name       string
	VCPUs      int
	RAM        int // MiB
	Disk       int // GiB
	Ephemeral  int // GiB
	Swap       int // MiB
	ExtraSpecs map[string]string
}

var flavors = []Flavor{
	{ID: "1", Name: "m1.tiny", VCPUs: 1, RAM: 512, Disk: 1},
	{ID: "2", Name: "m1.small", VCPUs: 1, RAM: 2048, Disk: 20},
	{ID: "3", Name: "m1.medium", VCPUs: 2, RAM: 4096, Disk: 40},
	{ID: "4", Name: "m1.large", VCPUs: 4, RAM: 8192, Disk: 80},
	{ID: "5", Name: "m1.xlarge", VCPUs: 8, RAM: 16384, Disk: 160},
	{ID: "c1", Name: "c1.medium", VCPUs: 4, RAM: 4096, Disk: 40, Swap: 1024, ExtraSpecs: map[string]string{"hw:cpu_policy": "dedicated"}},
	{ID: "0b5e2c3a-6a0d-4c3e-9f0e-5a1a7d1c2b9f", Name: "g1.large", VCPUs: 8, RAM: 32768, Disk: 100, Ephemeral: 50,
		ExtraSpecs: map[string]string{"resources:VGPU": "1", "trait:CUSTOM_GPU": "required"}},
}

// Flavors returns the flavors every region serves.
func Flavors() []Flavor {
	out := slices.Clone(flavors)
	for i := range out {
		out[i].ExtraSpecs = maps.Clone(out[i].ExtraSpecs)
	}
	return out
}

// Image is a Glance image of one region.
type Image struct {
	ID         string
	Name       string
	Region     string
	Owner      string // project id
	Visibility string // public or private
	MinDisk    int
	Size       int64
	Checksum   string
	created    string
}

var publicImages = []string{"cirros-0.6.2-x86_64-disk", "ubuntu-22.04", "ubuntu-24.04", "debian-12", "rocky-9", "windows-server-2022"}

// Address is one address of a server, as Nova lists it under a network.
type Address struct {
	Network string
	Addr    string
	Version int    // 4 or 6
	Type    string // fixed or floating
	MAC     string
}

// ServerInfo is what a test needs to know about a server.
type ServerInfo struct {
	ID               string
	Name             string
	Region           string
	Project          string // name
	ProjectID        string
	UserID           string
	Status           string
	AvailabilityZone string
	FlavorID         string
	FlavorName       string
	// ImageID is "" for a server booted from a volume. ImageName is ""
	// when the region's Glance does not have the image (deleted).
	ImageID   string
	ImageName string
	// Addresses in the order Nova lists them.
	Addresses []Address
	Metadata  map[string]string
	Tags      []string
	KeyName   string
	Created   time.Time
}

// FloatingIP returns the first floating address, or "".
func (s ServerInfo) FloatingIP() string {
	for _, a := range s.Addresses {
		if a.Type == "floating" {
			return a.Addr
		}
	}
	return ""
}

// FixedIP returns the first fixed address (IPv4 only when v4only), or "".
func (s ServerInfo) FixedIP(v4only bool) string {
	for _, a := range s.Addresses {
		if a.Type == "fixed" && (!v4only || a.Version == 4) {
			return a.Addr
		}
	}
	return ""
}

type network struct {
	name  string
	addrs []Address
}

type server struct {
	seq       uint64
	id, name  string
	region    *regionSet
	project   *project
	userID    string
	status    string
	az        string
	flavor    *Flavor
	imageID   string
	keyName   string
	created   time.Time
	updated   time.Time
	launched  time.Time
	nets      []network
	metadata  []cloudsim.Tag
	tags      []string
	secGroups []string
	volumes   []string
	host      string
	hostID    string
	instName  string
	resID     string
	hostname  string
	userData  string // base64, "" for none
	diskCfg   string
	cfgDrive  bool
	locked    bool
	descr     string
	hasDescr  bool
}

type project struct {
	index int
	name  string
	id    string
}

type regionSet struct {
	index   int
	name    string
	zones   []string
	list    []*server // by seq
	images  []*Image
	byImage map[string]*Image
	ipCnt   map[string]int // address pool → next host number
}

// Fleet is a deterministic set of simulated Nova servers spread over
// regions and projects. It is safe for concurrent use; mutations are seen
// by the next request.
type Fleet struct {
	core     *cloudsim.Core[string, server]
	regions  []*regionSet
	byRegion map[string]*regionSet
	projects []*project
	byProj   map[string]*project
	gone     map[string]uint64 // deleted server id → seq (Nova keeps deleted rows: a marker still works)
	seq      uint64
	clock    time.Time      // the time of the last mutation; advances a minute each
	names    cloudsim.Namer // per role
}

// NewFleet generates size servers over regions (DefaultRegions when empty)
// and projects (DefaultProjects when empty). The same arguments always
// give the same fleet.
func NewFleet(seed int64, size int, regions, projects []string) *Fleet {
	f := &Fleet{
		byRegion: map[string]*regionSet{},
		byProj:   map[string]*project{},
		core:     cloudsim.NewCore[string, server](seed, ErrNoServer),
		gone:     map[string]uint64{},
		names:    cloudsim.Namer{},
		clock:    cloudsim.Epoch,
	}
	for _, name := range cloudsim.Scopes(projects, DefaultProjects) {
		p := &project{index: len(f.projects), name: name, id: stableID(seed, "project", name)}
		f.projects = append(f.projects, p)
		f.byProj[name] = p
	}
	for _, name := range cloudsim.Scopes(regions, DefaultRegions) {
		f.newRegion(name)
	}
	f.generate(size)
	return f
}

func (f *Fleet) newRegion(name string) *regionSet {
	rs := &regionSet{index: len(f.regions), name: name, byImage: map[string]*Image{}, ipCnt: map[string]int{}}
	if rs.index == 0 {
		rs.zones = []string{"nova"}
	} else {
		base := strings.ToLower(name)
		rs.zones = []string{base + "-a", base + "-b"}
	}
	created := cloudsim.Epoch.AddDate(-2, 0, rs.index).Format("2006-01-02T15:04:05Z")
	for i, n := range publicImages {
		rs.addImage(&Image{ID: stableUUID(f.core.Seed, "image", name+"/"+n), Name: n, Region: name, Visibility: "public",
			Owner: stableID(f.core.Seed, "project", "admin"), MinDisk: 1 + i%3*9, Size: int64(12716032 + i*734003200), created: created})
	}
	for _, p := range f.projects {
		rs.addImage(&Image{ID: stableUUID(f.core.Seed, "image", name+"/"+p.name+"-golden"), Name: p.name + "-golden-image", Region: name,
			Visibility: "private", Owner: p.id, MinDisk: 20, Size: 2147483648, created: created})
	}
	f.regions = append(f.regions, rs)
	f.byRegion[name] = rs
	return rs
}

func (rs *regionSet) addImage(img *Image) {
	sum := sha256.Sum256([]byte(img.ID))
	img.Checksum = hex.EncodeToString(sum[:16])
	rs.images = append(rs.images, img)
	rs.byImage[img.ID] = img
}

var (
	// profile is what servers are for.
	profile = cloudsim.Profile{Roles: cloudsim.Roles, Envs: []string{"prod", "prod", "prod", "staging", "staging", "dev"}}
	teams   = []string{"platform", "payments", "search", "data", "identity"}
	// extraMetadata follows env and role on some servers.
	extraMetadata = []cloudsim.Extra{
		{Chance: 0.2, Key: "group", Value: func(_ *rand.Rand, m cloudsim.Machine) string { return m.Role + "-servers" }},
		{Chance: 0.1, Key: "groups", Value: func(r *rand.Rand, _ cloudsim.Machine) string { return cloudsim.Pick(r, teams) + ",monitored, backup" }},
		{Chance: 0.05, Key: "Cost Center", Value: cloudsim.OneOf([]string{"R&D / 42", "Ops & Infra", "Sales <EMEA>"})},
	}
	// initialStatuses are the statuses of generated servers.
	initialStatuses = cloudsim.NewOdds([]string{"ACTIVE", "SHUTOFF", "ERROR", "BUILD", "PAUSED", "SUSPENDED", "SHELVED_OFFLOADED"},
		0.85, 0.94, 0.96, 0.975, 0.985, 0.995)
)

// generate creates size servers. The first go round-robin over the
// regions so every region gets some; the rest favour the first regions.
func (f *Fleet) generate(size int) {
	r := cloudsim.Stream(f.core.Seed, 0x5e7) // its own stream, not FleetStream: a seed keeps the fleet it always gave
	spread := cloudsim.NewSpread(len(f.regions), 0.2)
	for n := range size {
		rs := f.regions[spread.Nth(r, n)]
		p := f.projects[n%len(f.projects)]
		if n >= len(f.projects) && r.Float64() < 0.35 {
			p = f.projects[r.IntN(len(f.projects))]
		}
		f.generateServer(r, rs, p)
	}
}

func (f *Fleet) generateServer(r *rand.Rand, rs *regionSet, p *project) *server {
	m := profile.Machine(r)
	role, env := m.Role, m.Env
	created := cloudsim.Epoch.Add(-cloudsim.Age(r, cloudsim.TwoYears)).Truncate(time.Second)
	s := &server{
		region:  rs,
		project: p,
		az:      rs.zones[r.IntN(len(rs.zones))],
		flavor:  &flavors[r.IntN(len(flavors))],
		created: created,
		diskCfg: cloudsim.Pick(r, []string{"MANUAL", "AUTO"}),
	}
	s.status = initialStatuses.Draw(r)
	switch p := r.Float64(); {
	case p < 0.08:
		// booted from a volume: no image
	case p < 0.11:
		s.imageID = stableUUID(f.core.Seed, "deleted-image", fmt.Sprint(r.Uint64()))
	case p < 0.2:
		s.imageID = rs.images[len(publicImages)+s.project.index].ID // the project's private image
	default:
		s.imageID = rs.images[r.IntN(len(publicImages))].ID
	}
	if r.Float64() < 0.9 {
		s.keyName = "ops-" + env
	}
	s.name = f.generateName(r, rs, p, role)
	s.metadata = cloudsim.AppendExtras(r, []cloudsim.Tag{{Key: "env", Value: env}, {Key: "role", Value: role}}, m, extraMetadata)
	s.tags = []string{env, role}
	if r.Float64() < 0.15 {
		s.tags = append(s.tags, "backup")
	}
	if r.Float64() < 0.1 {
		s.volumes = append(s.volumes, stableUUID(f.core.Seed, "volume", fmt.Sprint(r.Uint64())))
	}
	if s.imageID == "" {
		s.volumes = append([]string{stableUUID(f.core.Seed, "root-volume", fmt.Sprint(r.Uint64()))}, s.volumes...)
	}
	s.cfgDrive = r.Float64() < 0.1
	if r.Float64() < 0.2 {
		s.descr, s.hasDescr = role+" server for "+cloudsim.Pick(r, teams), true
	}
	s.locked = r.Float64() < 0.03
	if r.Float64() < 0.3 {
		// cloud-init user data, which may carry secrets: only admins see it.
		s.userData = base64.StdEncoding.EncodeToString([]byte("#cloud-config\nchpasswd:\n  list: |\n    root:sim-user-data-secret\n"))
	}
	f.finish(r, s, addressPlan{floating: r.Float64() < 0.5, ipv6: r.Float64() < 0.2, storage: r.Float64() < 0.1,
		provider: r.Float64() < 0.1, none: addresslessStatus(r, s.status)})
	return s
}

// addressPlan says which addresses a new server gets.
type addressPlan struct {
	floating, ipv6, storage, provider, none bool
	explicit                                []Address
	hasExplicit                             bool
}

// finish gives a new server its ids, host placement and addresses and
// adds it to the fleet.
func (f *Fleet) finish(r *rand.Rand, s *server, plan addressPlan) {
	f.seq++
	s.seq = f.seq
	s.id = f.newServerID(r)
	s.userID = stableID(f.core.Seed, "user", "demo")
	if s.status != "BUILD" {
		s.launched = s.created.Add(time.Duration(20+r.IntN(90)) * time.Second)
	}
	s.updated = s.created
	if d := cloudsim.Epoch.Sub(s.created); d > 0 {
		s.updated = s.created.Add(time.Duration(r.Int64N(int64(d)))).Truncate(time.Second)
	}
	if s.updated.Before(s.launched) {
		s.updated = s.launched.Truncate(time.Second)
	}
	rs := s.region
	if s.status != "SHELVED_OFFLOADED" && !(s.status == "BUILD" && plan.none) {
		s.host = fmt.Sprintf("compute-%d-%03d", rs.index, r.IntN(200))
		sum := sha256.Sum224([]byte(s.project.id + s.host))
		s.hostID = hex.EncodeToString(sum[:])
	}
	s.instName = fmt.Sprintf("instance-%08x", s.seq)
	s.resID = "r-" + cloudsim.ID(r, cloudsim.LowerAlnum, 8)
	s.hostname = hostnameOf(s.name)
	switch {
	case plan.hasExplicit:
		for _, a := range plan.explicit {
			if a.MAC == "" {
				a.MAC = newMAC(r)
			}
			s.addAddress(a)
		}
	case plan.none:
	default:
		mac := newMAC(r)
		if plan.provider {
			s.addAddress(Address{Network: "public", Addr: rs.nextIP("public", nil), Version: 4, Type: "fixed", MAC: mac})
		} else {
			s.addAddress(Address{Network: "private", Addr: rs.nextIP("private", s.project), Version: 4, Type: "fixed", MAC: mac})
			if plan.ipv6 {
				s.addAddress(Address{Network: "private", Addr: rs.nextIP("private6", s.project), Version: 6, Type: "fixed", MAC: mac})
			}
			if plan.floating {
				if ip := rs.nextIP("floating", nil); ip != "" {
					s.addAddress(Address{Network: "private", Addr: ip, Version: 4, Type: "floating", MAC: mac})
				}
			}
		}
		if plan.storage {
			s.addAddress(Address{Network: "storage", Addr: rs.nextIP("storage", s.project), Version: 4, Type: "fixed", MAC: newMAC(r)})
		}
	}
	if len(s.nets) > 0 {
		s.secGroups = []string{"default"}
		if strings.HasPrefix(s.name, "web") || strings.HasPrefix(s.name, "api") {
			s.secGroups = append(s.secGroups, "web")
		}
	}
	rs.list = append(rs.list, s)
	f.core.Put(s.id, s)
}

func (s *server) addAddress(a Address) {
	for i := range s.nets {
		if s.nets[i].name == a.Network {
			s.nets[i].addrs = append(s.nets[i].addrs, a)
			return
		}
	}
	s.nets = append(s.nets, network{name: a.Network, addrs: []Address{a}})
}

// addresslessStatus decides whether a server of status has no address
// yet: most servers still building, and some that failed to.
func addresslessStatus(r *rand.Rand, status string) bool {
	switch status {
	case "BUILD":
		return r.Float64() < 0.6
	case "ERROR":
		return r.Float64() < 0.5
	}
	return r.Float64() < 0.005
}

// generateName names servers role-NNNN; a few reuse a name already taken
// in the same region and project, or in another one, as real estates do.
func (f *Fleet) generateName(r *rand.Rand, rs *regionSet, p *project, role string) string {
	switch x := r.Float64(); {
	case x < 0.02 && len(rs.list) > 0:
		for range 8 {
			other := rs.list[r.IntN(len(rs.list))]
			if other.project == p {
				return other.name
			}
		}
	case x < 0.03 && f.core.Count() > 0:
		other := f.regions[r.IntN(len(f.regions))]
		if len(other.list) > 0 {
			if s := other.list[r.IntN(len(other.list))]; s.region != rs || s.project != p {
				return s.name
			}
		}
	}
	return f.names.Next(role)
}

// nextIP hands out the next address of a pool: fixed addresses per
// region and project, floating ones per region. It returns "" when the
// pool is exhausted.
func (rs *regionSet) nextIP(pool string, p *project) string {
	key := pool
	pi := 0
	if p != nil {
		key += "/" + p.name
		pi = p.index
	}
	n := rs.ipCnt[key]
	rs.ipCnt[key]++
	host := n + 10
	if host >= 65000 {
		return ""
	}
	hi, lo := host>>8, host&255
	switch pool {
	case "private":
		return fmt.Sprintf("10.%d.%d.%d", (rs.index*16+pi)%256, hi, lo)
	case "private6":
		return netip.AddrFrom16([16]byte{0xfd, 0, 0, byte(rs.index), 0, byte(pi), 14: byte(hi), 15: byte(lo)}).String()
	case "storage":
		return fmt.Sprintf("192.168.%d.%d", (rs.index*16+pi)%256, host%250+2)
	case "public":
		return fmt.Sprintf("100.%d.%d.%d", 64+rs.index%64, hi, lo)
	case "floating":
		return fmt.Sprintf("172.%d.%d.%d", 16+rs.index%16, hi, lo)
	}
	return ""
}

func (f *Fleet) newServerID(r *rand.Rand) string {
	return f.core.Fresh(func() string { return uuid(r) })
}

// ProjectID returns the id of a project of the fleet.
func (f *Fleet) ProjectID(name string) (string, bool) {
	f.core.RLock()
	defer f.core.RUnlock()
	p, ok := f.byProj[name]
	if !ok {
		return "", false
	}
	return p.id, true
}

// Projects returns the project names, in order.
func (f *Fleet) Projects() []string {
	return names(f, func() []*project { return f.projects }, func(p *project) string { return p.name })
}

// Regions returns the region names, in order.
func (f *Fleet) Regions() []string {
	return names(f, func() []*regionSet { return f.regions }, func(rs *regionSet) string { return rs.name })
}

// names lists the name of each of list(), under f's read lock.
func names[T any](f *Fleet, list func() []T, name func(T) string) []string {
	f.core.RLock()
	defer f.core.RUnlock()
	out := make([]string, len(list()))
	for i, x := range list() {
		out[i] = name(x)
	}
	return out
}

// Images returns the images of a region, public first.
func (f *Fleet) Images(region string) []Image {
	f.core.RLock()
	defer f.core.RUnlock()
	rs := f.byRegion[region]
	if rs == nil {
		return nil
	}
	out := make([]Image, len(rs.images))
	for i, img := range rs.images {
		out[i] = *img
	}
	return out
}

// Len returns the number of servers.
func (f *Fleet) Len() int { return f.core.Len() }

// Servers returns every server by region (in Regions order) and then in
// creation order (Nova lists the newest first).
func (f *Fleet) Servers() []ServerInfo { return cloudsim.Collect(f.core, f.all, (*server).info) }

// all yields every server, region by region.
func (f *Fleet) all(yield func(*server) bool) {
	for _, rs := range f.regions {
		for _, s := range rs.list {
			if !yield(s) {
				return
			}
		}
	}
}

// Server returns one server by id.
func (f *Fleet) Server(id string) (ServerInfo, bool) {
	return cloudsim.Snapshot(f.core, id, (*server).info)
}

func (s *server) info() ServerInfo {
	in := ServerInfo{
		ID: s.id, Name: s.name, Region: s.region.name, Project: s.project.name, ProjectID: s.project.id,
		UserID: s.userID, Status: s.status, AvailabilityZone: s.az, FlavorID: s.flavor.ID, FlavorName: s.flavor.Name,
		ImageID: s.imageID, KeyName: s.keyName, Created: s.created, Tags: slices.Clone(s.tags),
		Metadata: make(map[string]string, len(s.metadata)),
	}
	if img := s.region.byImage[s.imageID]; img != nil {
		in.ImageName = img.Name
	}
	for _, n := range s.nets {
		in.Addresses = append(in.Addresses, n.addrs...)
	}
	for _, m := range s.metadata {
		in.Metadata[m.Key] = m.Value
	}
	return in
}

// mutate runs fn on server id under the write lock, and stamps it
// updated.
func (f *Fleet) mutate(id string, fn func(*server) error) error {
	return f.core.Mutate(id, func(s *server) error {
		if err := fn(s); err != nil {
			return err
		}
		s.updated = f.tick()
		return nil
	})
}

// tick advances the fleet's clock: mutations and added servers get
// timestamps after the generated ones, the same on every run.
func (f *Fleet) tick() time.Time {
	f.clock = f.clock.Add(time.Minute)
	return f.clock
}

// SetStatus changes a server's status (ACTIVE, SHUTOFF, ERROR, BUILD,
// PAUSED, SUSPENDED or SHELVED_OFFLOADED), with the matching vm_state and
// power_state.
func (f *Fleet) SetStatus(id, status string) error {
	if _, ok := statusStates[status]; !ok {
		return fmt.Errorf("openstacksim: unknown server status %q", status)
	}
	return f.mutate(id, func(s *server) error {
		s.status = status
		return nil
	})
}

// Rename changes a server's name.
func (f *Fleet) Rename(id, name string) error {
	if name == "" || len(name) > 255 {
		return fmt.Errorf("openstacksim: a server name has 1 to 255 characters")
	}
	return f.mutate(id, func(s *server) error {
		s.name = name
		s.hostname = hostnameOf(name)
		return nil
	})
}

// SetMetadata sets (adds or replaces) a metadata item.
func (f *Fleet) SetMetadata(id, key, value string) error {
	return f.mutate(id, func(s *server) error {
		s.metadata = cloudsim.SetTag(s.metadata, key, value)
		return nil
	})
}

// DeleteMetadata removes a metadata item if the server has it.
func (f *Fleet) DeleteMetadata(id, key string) error {
	return f.mutate(id, func(s *server) error {
		s.metadata = cloudsim.DeleteTag(s.metadata, key)
		return nil
	})
}

// SetFloatingIP associates a floating address with the server's first
// network, replacing any it had; "" disassociates it.
func (f *Fleet) SetFloatingIP(id, addr string) error {
	return f.mutate(id, func(s *server) error {
		for i := range s.nets {
			s.nets[i].addrs = slices.DeleteFunc(s.nets[i].addrs, func(a Address) bool { return a.Type == "floating" })
		}
		if addr == "" {
			return nil
		}
		if len(s.nets) == 0 {
			return fmt.Errorf("openstacksim: server %s has no network to attach a floating address to", id)
		}
		n := &s.nets[0]
		mac := ""
		if len(n.addrs) > 0 {
			mac = n.addrs[0].MAC
		}
		n.addrs = append(n.addrs, Address{Network: n.name, Addr: addr, Version: 4, Type: "floating", MAC: mac})
		return nil
	})
}

// Delete removes a server. Like Nova, a deleted server's id still works as
// a pagination marker.
func (f *Fleet) Delete(id string) error {
	return f.core.Mutate(id, func(s *server) error {
		rs := s.region
		i, _ := slices.BinarySearchFunc(rs.list, s.seq, func(x *server, seq uint64) int { return cmp.Compare(x.seq, seq) })
		rs.list = slices.Delete(rs.list, i, i+1)
		f.core.Delete(id)
		f.gone[id] = s.seq
		return nil
	})
}

// ServerSpec describes a server to add. Zero fields get defaults.
type ServerSpec struct {
	Region  string // "" = the first region
	Project string // "" = the first project
	Name    string // "" = a generated role-NNNN name
	Status  string // "" = ACTIVE
	// AvailabilityZone "" = the region's first zone.
	AvailabilityZone string
	FlavorID         string // "" = "2" (m1.small)
	// ImageID "" = the region's first public image; BootFromVolume leaves
	// the server without an image.
	ImageID        string
	BootFromVolume bool
	// Addresses nil = one fixed IPv4 address on "private"; an empty slice
	// = none. Network, Addr, Version and Type are required; MAC is
	// generated when empty.
	Addresses []Address
	Metadata  map[string]string // applied in key order
	Tags      []string
	KeyName   string
}

// Add creates a server from spec. It is listed first (Nova lists the
// newest first).
func (f *Fleet) Add(spec ServerSpec) (ServerInfo, error) {
	f.core.Lock()
	defer f.core.Unlock()
	rs := f.regions[0]
	if spec.Region != "" {
		if rs = f.byRegion[spec.Region]; rs == nil {
			return ServerInfo{}, fmt.Errorf("openstacksim: region %q is not served", spec.Region)
		}
	}
	p := f.projects[0]
	if spec.Project != "" {
		if p = f.byProj[spec.Project]; p == nil {
			return ServerInfo{}, fmt.Errorf("openstacksim: project %q does not exist", spec.Project)
		}
	}
	status := spec.Status
	if status == "" {
		status = "ACTIVE"
	}
	if _, ok := statusStates[status]; !ok {
		return ServerInfo{}, fmt.Errorf("openstacksim: unknown server status %q", status)
	}
	flavorID := spec.FlavorID
	if flavorID == "" {
		flavorID = "2"
	}
	fl := flavorByID(flavorID)
	if fl == nil {
		return ServerInfo{}, fmt.Errorf("openstacksim: unknown flavor %q", flavorID)
	}
	r := f.core.Added
	s := &server{
		region: rs, project: p, status: status, az: spec.AvailabilityZone, flavor: fl,
		imageID: spec.ImageID, keyName: spec.KeyName, name: spec.Name, diskCfg: "MANUAL",
		created: f.tick(), tags: slices.Clone(spec.Tags),
	}
	if s.az == "" {
		s.az = rs.zones[0]
	}
	if s.imageID == "" && !spec.BootFromVolume {
		s.imageID = rs.images[0].ID
	}
	if spec.BootFromVolume {
		s.imageID = ""
		s.volumes = []string{uuid(r)}
	}
	if s.name == "" {
		s.name = f.generateName(r, rs, p, cloudsim.Pick(r, profile.Roles))
	}
	if s.tags == nil {
		s.tags = []string{}
	}
	if len(spec.Metadata) > 0 {
		s.metadata = cloudsim.TagsOf(spec.Metadata)
	}
	plan := addressPlan{}
	if spec.Addresses != nil {
		plan.hasExplicit, plan.explicit = true, spec.Addresses
	}
	for _, a := range spec.Addresses {
		if a.Network == "" || a.Addr == "" || (a.Version != 4 && a.Version != 6) || (a.Type != "fixed" && a.Type != "floating") {
			return ServerInfo{}, fmt.Errorf("openstacksim: address %+v needs a network, an address, version 4 or 6 and type fixed or floating", a)
		}
	}
	f.finish(r, s, plan)
	return s.info(), nil
}

func flavorByID(id string) *Flavor {
	for i := range flavors {
		if flavors[i].ID == id {
			return &flavors[i]
		}
	}
	return nil
}

// hostnameOf is the hostname Nova derives from a display name.
func hostnameOf(name string) string {
	b := make([]byte, 0, len(name))
	for _, c := range []byte(strings.ToLower(name)) {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-':
			b = append(b, c)
		case c == ' ' || c == '_' || c == '.':
			b = append(b, '-')
		}
	}
	if s := strings.Trim(string(b), "-"); s != "" {
		return s
	}
	return "server"
}

// stableID derives a Keystone-style id (32 hex digits) from the seed, a
// kind and a name, so that ids survive a restart with the same options.
func stableID(seed int64, kind, name string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%s", seed, kind, name)))
	return hex.EncodeToString(sum[:16])
}

// stableUUID is stableID formatted as a version 4 UUID.
func stableUUID(seed int64, kind, name string) string {
	sum := sha256.Sum256([]byte(fmt.Sprintf("%d\x00%s\x00%s", seed, kind, name)))
	return cloudsim.FormatUUID(sum[:16])
}

func uuid(r *rand.Rand) string { return cloudsim.FormatUUID(cloudsim.Bytes(r, 16)) }

// newMAC draws an address in the prefix Nova gives its ports.
func newMAC(r *rand.Rand) string { return cloudsim.MAC(r, "fa:16:3e") }
