package awssim

import (
	"cmp"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// DefaultAccountID is the account that owns the simulated instances when
// Options.AccountID is empty.
const DefaultAccountID = "123456789012"

// ErrNoInstance is returned by Fleet mutations for an unknown instance id.
var ErrNoInstance = errors.New("awssim: no such instance")

// Instance states and their EC2 codes (the low byte of the real code).
var stateCodes = map[string]int{
	"pending":       0,
	"running":       16,
	"shutting-down": 32,
	"terminated":    48,
	"stopping":      64,
	"stopped":       80,
}

// Tag is one EC2 tag.
type Tag = cloudsim.Tag

// InstanceInfo is a snapshot of one simulated instance, for tests that
// compute what a sync should produce.
type InstanceInfo struct {
	ID               string
	ReservationID    string
	Region           string
	AvailabilityZone string
	InstanceType     string
	ImageID          string
	Architecture     string // x86_64 or arm64
	Platform         string // "windows" or ""
	State            string // pending, running, stopping, stopped, shutting-down, terminated
	Name             string // the Name tag's value; "" when the instance has none
	PrivateIP        string // "" once terminated
	PrivateDNS       string
	PublicIP         string // "" unless running (or stopping/shutting-down) with a public address
	PublicDNS        string
	VPCID            string
	SubnetID         string
	LaunchTime       time.Time
	Tags             []Tag // in the order the API returns them
}

// Tag returns the value of tag key and whether the instance has it.
func (i InstanceInfo) Tag(key string) (string, bool) { return cloudsim.LookupTag(i.Tags, key) }

// instance is the simulator's record of one instance. Every field is
// precomputed so rendering a page is only appends.
type instance struct {
	seq           uint64
	id            string
	reservationID string
	region        string
	az            string
	imageID       string
	instanceType  string
	arch          string
	platform      string // "windows" or ""
	keyName       string // "" = none
	launchTime    time.Time
	launchStr     string // launchTime as the API formats it
	launchIndex   int
	state         string
	stateCode     string
	reason        string // the legacy free-text reason
	reasonCode    string // stateReason code, "" = none
	reasonMsg     string

	vpcID      string
	subnetID   string
	privateIP  string
	privateDNS string
	public     cloudsim.PublicIP // released while the instance is not running
	publicDNS  string
	mac        string
	eniID      string
	attachID   string
	volumeID   string
	rootDevice string
	groups     []secGroup
	tags       []Tag

	lifecycle     string // "spot" or ""
	spotRequestID string
	monitoring    bool
	ebsOptimized  bool
	sourceDest    bool
	cores         int
	threads       int
	httpTokens    string
	hopLimit      int
	profileArn    string
	profileID     string
}

// publicIP is the public address the instance shows now: EC2 releases it
// when the instance stops.
func (in *instance) publicIP() string {
	return in.public.Shown(in.state == "running" || in.state == "stopping" || in.state == "shutting-down")
}

func (in *instance) hasPublic() bool { return in.publicIP() != "" }

func (in *instance) terminated() bool { return in.state == "terminated" }

func (in *instance) name() string {
	name, _ := cloudsim.LookupTag(in.tags, "Name")
	return name
}

func (in *instance) info() InstanceInfo {
	info := InstanceInfo{
		ID:               in.id,
		ReservationID:    in.reservationID,
		Region:           in.region,
		AvailabilityZone: in.az,
		InstanceType:     in.instanceType,
		ImageID:          in.imageID,
		Architecture:     in.arch,
		Platform:         in.platform,
		State:            in.state,
		Name:             in.name(),
		LaunchTime:       in.launchTime,
		Tags:             slices.Clone(in.tags),
	}
	if !in.terminated() {
		info.PrivateIP, info.PrivateDNS = in.privateIP, in.privateDNS
		info.VPCID, info.SubnetID = in.vpcID, in.subnetID
	}
	if in.hasPublic() {
		info.PublicIP, info.PublicDNS = in.publicIP(), in.publicDNS
	}
	return info
}

// setState moves the instance to state, with the reason EC2 gives for it.
func (in *instance) setState(state string, at time.Time) {
	in.state = state
	in.stateCode = strconv.Itoa(stateCodes[state])
	in.reason, in.reasonCode, in.reasonMsg = "", "", ""
	switch state {
	case "stopping", "stopped", "shutting-down", "terminated":
		in.reason = "User initiated (" + at.UTC().Format("2006-01-02 15:04:05") + " GMT)"
		in.reasonCode = "Client.UserInitiatedShutdown"
		in.reasonMsg = "Client.UserInitiatedShutdown: User initiated shutdown"
	}
}

type secGroup struct{ id, name string }

type image struct {
	id, arch, platform string
}

// regionSet holds one region's instances, ordered by seq, and the
// resources (VPCs, subnets, groups, images) they are placed in.
type regionSet struct {
	name    string
	index   int
	zones   []zone
	list    []*instance
	zoneCnt []int // addresses handed out per zone
	ipCnt   int   // public addresses handed out
	res     *rand.Rand
	vpcs    []string
	subnets map[[2]int]string
	groups  map[int][]secGroup
	images  []image
}

func (f *Fleet) newRegionSet(name string) *regionSet {
	rs := &regionSet{
		name:    name,
		index:   len(f.order),
		zones:   regionZones(name),
		res:     cloudsim.ScopeStream(f.core.Seed, name),
		subnets: map[[2]int]string{},
		groups:  map[int][]secGroup{},
	}
	rs.zoneCnt = make([]int, len(rs.zones))
	for _, spec := range []struct{ arch, platform string }{
		{"x86_64", ""}, {"x86_64", ""}, {"x86_64", ""}, {"arm64", ""}, {"arm64", ""}, {"x86_64", "windows"},
	} {
		rs.images = append(rs.images, image{id: "ami-0" + cloudsim.Hex64(rs.res), arch: spec.arch, platform: spec.platform})
	}
	f.order = append(f.order, name)
	f.regions[name] = rs
	return rs
}

func (rs *regionSet) vpc(v int) string {
	for len(rs.vpcs) <= v {
		rs.vpcs = append(rs.vpcs, "vpc-0"+cloudsim.Hex64(rs.res))
	}
	return rs.vpcs[v]
}

func (rs *regionSet) subnet(v, az int) string {
	k := [2]int{v, az}
	if s, ok := rs.subnets[k]; ok {
		return s
	}
	s := "subnet-0" + cloudsim.Hex64(rs.res)
	rs.subnets[k] = s
	return s
}

var groupNames = []string{"default", "web", "app-internal", "db-clients", "ssh-from-bastion", "monitoring", "launch-wizard-1"}

func (rs *regionSet) group(v int, name string) secGroup {
	gs, ok := rs.groups[v]
	if !ok {
		for _, n := range groupNames {
			gs = append(gs, secGroup{id: "sg-0" + cloudsim.Hex64(rs.res), name: n})
		}
		rs.groups[v] = gs
	}
	for _, g := range gs {
		if g.name == name {
			return g
		}
	}
	return gs[0]
}

// after returns the position of the first instance whose seq is greater
// than seq.
func (rs *regionSet) after(seq uint64) int {
	i, _ := slices.BinarySearchFunc(rs.list, seq+1, func(in *instance, target uint64) int {
		return cmp.Compare(in.seq, target)
	})
	return i
}

type tagger = cloudsim.Tagger[instance]

// Fleet is a deterministic set of simulated EC2 instances spread over
// regions. It is safe for concurrent use; mutations are seen by the next
// request. SetTag(id, key, value) and DeleteTag(id, key), from
// cloudsim.Tagger, edit an instance's tags; SetTag(id, "Name", x) renames.
type Fleet struct {
	core *cloudsim.Core[string, instance]
	// tagger: SetTag and DeleteTag.
	tagger

	account string
	order   []string // regions in creation order
	regions map[string]*regionSet
	seq     uint64
	names   cloudsim.Namer // Name tags, per role
}

// NewFleet generates size instances over regions (DefaultRegions when
// empty), in 2-3 availability zones each. The same (seed, size, regions)
// always gives the same fleet.
func NewFleet(seed int64, size int, regions []string) *Fleet {
	return newFleet(seed, size, regions, DefaultAccountID)
}

func newFleet(seed int64, size int, regions []string, account string) *Fleet {
	regions = cloudsim.Scopes(regions, DefaultRegions)
	f := &Fleet{
		account: account,
		regions: map[string]*regionSet{},
		core:    cloudsim.NewCore[string, instance](seed, ErrNoInstance),
		names:   cloudsim.Namer{},
	}
	for _, r := range regions {
		f.newRegionSet(r)
	}
	f.tagger = cloudsim.NewTagger(f.core, (*instance).tagList)
	f.generate(size, regions)
	return f
}

// generate creates size instances in reservations of 1-3 instances. The
// first reservations go round-robin so every region gets some; the rest
// favour the first regions, like a real estate does.
func (f *Fleet) generate(size int, regions []string) {
	r := cloudsim.Stream(f.core.Seed, cloudsim.FleetStream)
	spread := cloudsim.NewSpread(len(regions), 0.25)
	for n, made := 0, 0; made < size; n++ {
		region := regions[spread.Nth(r, n)]
		count := min(reservationSizes.Draw(r), size-made)
		f.addReservation(r, f.regions[region], count, nil, cloudsim.Epoch.Add(-cloudsim.Age(r, cloudsim.TwoYears).Truncate(time.Second)), true)
		made += count
	}
}

// reservationSizes: most launches are of one instance.
var reservationSizes = cloudsim.NewOdds([]int{3, 2, 1}, 0.05, 0.15)

// initialStates are the states of generated instances.
var initialStates = cloudsim.NewOdds([]string{"running", "stopped", "pending", "stopping", "shutting-down", "terminated"},
	0.80, 0.95, 0.965, 0.975, 0.985)

var instanceTypes = []struct {
	name           string
	arch           string
	cores, threads int
}{
	{"t3.micro", "x86_64", 1, 2}, {"t3.small", "x86_64", 1, 2}, {"t3.medium", "x86_64", 1, 2},
	{"t3.large", "x86_64", 1, 2}, {"m5.large", "x86_64", 1, 2}, {"m5.xlarge", "x86_64", 2, 2},
	{"m5.2xlarge", "x86_64", 4, 2}, {"m6i.large", "x86_64", 1, 2}, {"m6i.xlarge", "x86_64", 2, 2},
	{"c5.large", "x86_64", 1, 2}, {"c5.xlarge", "x86_64", 2, 2}, {"c6i.2xlarge", "x86_64", 4, 2},
	{"r5.large", "x86_64", 1, 2}, {"r6i.xlarge", "x86_64", 2, 2},
	{"t4g.small", "arm64", 2, 1}, {"t4g.medium", "arm64", 2, 1}, {"m6g.large", "arm64", 2, 1},
	{"c7g.xlarge", "arm64", 4, 1}, {"r7g.large", "arm64", 2, 1},
}

// profile is what EC2 instances are for.
var profile = cloudsim.Profile{Roles: cloudsim.Roles, Envs: cloudsim.EnvsByWeight, Teams: cloudsim.Teams}

// extraTags follow Name, Env, Role and Team on some instances.
var extraTags = []cloudsim.Extra{
	{Chance: 0.3, Key: "Application", Value: cloudsim.OneOf(cloudsim.Apps)},
	{Chance: 0.1, Key: "Cost Center", Value: cloudsim.OneOf(cloudsim.CostCenters)},
	{Chance: 0.1, Key: "aws:autoscaling:groupName", Value: func(_ *rand.Rand, w cloudsim.Machine) string { return w.Role + "-" + w.Env + "-asg" }},
	{Chance: 0.03, Key: "Owner", Value: cloudsim.OneOf(cloudsim.Owners)},
}

// addReservation creates count instances launched together in one region.
// tags, when non-nil, replaces the generated tags. initial instances get a
// random state; added ones start running.
func (f *Fleet) addReservation(r *rand.Rand, rs *regionSet, count int, tags []Tag, launch time.Time, initial bool) []*instance {
	reservation := "r-0" + cloudsim.Hex64(r)
	az := r.IntN(len(rs.zones))
	it := instanceTypes[r.IntN(len(instanceTypes))]
	platform := ""
	if it.arch == "x86_64" && r.Float64() < 0.06 {
		platform = "windows"
	}
	var img image
	for _, i := range r.Perm(len(rs.images)) {
		if rs.images[i].arch == it.arch && rs.images[i].platform == platform {
			img = rs.images[i]
			break
		}
	}
	wl := profile.Machine(r)
	role, env := wl.Role, wl.Env
	keyName := ""
	if r.Float64() < 0.9 {
		keyName = "ops-" + env
	}
	spot := platform == "" && r.Float64() < 0.05
	profileArn, profileID := "", ""
	if r.Float64() < 0.4 {
		profileArn = "arn:aws:iam::" + f.account + ":instance-profile/" + role + "-" + env
		profileID = "AIPA" + cloudsim.ID(r, upperAlnum, 17)
	}
	httpTokens, hop := "optional", 1
	if r.Float64() < 0.7 {
		httpTokens, hop = "required", 2
	}
	monitoring := r.Float64() < 0.1
	rootDevice := "/dev/xvda"
	if platform == "windows" {
		rootDevice = "/dev/sda1"
	}
	var made []*instance
	for k := range count {
		f.seq++
		in := &instance{
			seq:           f.seq,
			id:            f.newInstanceID(r),
			reservationID: reservation,
			region:        rs.name,
			az:            rs.zones[az].name,
			imageID:       img.id,
			instanceType:  it.name,
			arch:          it.arch,
			platform:      platform,
			keyName:       keyName,
			launchTime:    launch,
			launchStr:     launch.Format("2006-01-02T15:04:05.000Z"),
			launchIndex:   k,
			rootDevice:    rootDevice,
			eniID:         "eni-0" + cloudsim.Hex64(r),
			attachID:      "eni-attach-0" + cloudsim.Hex64(r),
			volumeID:      "vol-0" + cloudsim.Hex64(r),
			mac:           fmt.Sprintf("%02x:%02x:%02x:%02x:%02x:%02x", 0x02|r.IntN(4)<<2, r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256), r.IntN(256)),
			monitoring:    monitoring,
			ebsOptimized:  it.name[0] != 't',
			sourceDest:    role != "bastion" || r.Float64() < 0.5,
			cores:         it.cores,
			threads:       it.threads,
			httpTokens:    httpTokens,
			hopLimit:      hop,
			profileArn:    profileArn,
			profileID:     profileID,
		}
		if spot {
			in.lifecycle = "spot"
			in.spotRequestID = "sir-" + cloudsim.ID(r, cloudsim.LowerAlnum, 8)
		}
		// Private address: 10.<region*10+vpc>.<zone*64 + ...>, one /18 subnet per zone.
		c := rs.zoneCnt[az]
		rs.zoneCnt[az]++
		v, host := c/16000, c%16000+10
		octet2 := (rs.index*10 + v) % 256
		in.vpcID = rs.vpc(v)
		in.subnetID = rs.subnet(v, az)
		in.privateIP = fmt.Sprintf("10.%d.%d.%d", octet2, az*64+host/256, host%256)
		in.privateDNS = fmt.Sprintf("ip-10-%d-%d-%d.%s", octet2, az*64+host/256, host%256, privateDNSSuffix(rs.name))
		if r.Float64() < 0.6 {
			in.public.Addr = publicAddress(rs)
			in.publicDNS = "ec2-" + dashed(in.public.Addr) + "." + publicDNSSuffix(rs.name)
		}
		first := "app-internal"
		switch role {
		case "web", "api":
			first = "web"
		case "db", "cache":
			first = "db-clients"
		case "bastion":
			first = "launch-wizard-1"
		}
		in.groups = []secGroup{rs.group(v, first)}
		if r.Float64() < 0.5 {
			in.groups = append(in.groups, rs.group(v, cloudsim.Pick(r, []string{"ssh-from-bastion", "monitoring", "default"})))
		}
		if tags != nil {
			in.tags = slices.Clone(tags)
		} else {
			in.tags = f.generateTags(r, rs, wl)
		}
		state, at := "running", launch
		if initial {
			state = initialStates.Draw(r)
			at = launch.Add(time.Duration(r.Int64N(int64(cloudsim.Epoch.Sub(launch)) + 1)))
		}
		in.setState(state, at)
		rs.list = append(rs.list, in)
		f.core.Put(in.id, in)
		made = append(made, in)
	}
	return made
}

func (f *Fleet) generateTags(r *rand.Rand, rs *regionSet, wl cloudsim.Machine) []Tag {
	tags := make([]Tag, 0, 7)
	switch p := r.Float64(); {
	case p < 0.02:
		// No Name tag: the hostname falls back to another preference.
	case p < 0.03 && f.core.Count() > 0:
		// A name also used in another region (copied from an earlier instance).
		if other := f.someInstanceOutside(r, rs.name); other != nil && other.name() != "" {
			tags = append(tags, Tag{Key: "Name", Value: other.name()})
			break
		}
		fallthrough
	default:
		tags = append(tags, Tag{Key: "Name", Value: f.names.Next(wl.Role)})
	}
	tags = append(tags, Tag{Key: "Env", Value: wl.Env}, Tag{Key: "Role", Value: wl.Role}, Tag{Key: "Team", Value: wl.Team})
	return cloudsim.AppendExtras(r, tags, wl, extraTags)
}

func (f *Fleet) someInstanceOutside(r *rand.Rand, region string) *instance {
	for range 4 {
		rs := f.regions[f.order[r.IntN(len(f.order))]]
		if rs.name == region || len(rs.list) == 0 {
			continue
		}
		return rs.list[r.IntN(len(rs.list))]
	}
	return nil
}

func (f *Fleet) newInstanceID(r *rand.Rand) string {
	return f.core.Fresh(func() string { return "i-0" + cloudsim.Hex64(r) })
}

// publicAddress hands out a unique public IPv4 address from a pool that
// looks like an AWS range for the region.
func publicAddress(rs *regionSet) string {
	pools := []int{3, 13, 18, 34, 35, 44, 52, 54}
	_, x := cloudsim.Scatter24(&rs.ipCnt, uint32((rs.index/len(pools))&3), 2)
	return cloudsim.IPv4(pools[rs.index%len(pools)], x)
}

// Regions returns the regions the fleet has instances in (or was created
// with), in order.
func (f *Fleet) Regions() []string {
	f.core.RLock()
	defer f.core.RUnlock()
	return slices.Clone(f.order)
}

// Len returns the number of instances, terminated ones included.
func (f *Fleet) Len() int { return f.core.Len() }

// Instances returns every instance, terminated ones included, by region
// (in Regions order) and then in the order DescribeInstances lists them.
func (f *Fleet) Instances() []InstanceInfo {
	return cloudsim.Collect(f.core, f.all, (*instance).info)
}

// all yields every instance, region by region.
func (f *Fleet) all(yield func(*instance) bool) {
	for _, name := range f.order {
		for _, in := range f.regions[name].list {
			if !yield(in) {
				return
			}
		}
	}
}

// Instance returns one instance by id.
func (f *Fleet) Instance(id string) (InstanceInfo, bool) {
	return cloudsim.Snapshot(f.core, id, (*instance).info)
}

// SetState moves an instance to state (pending, running, stopping, stopped,
// shutting-down or terminated). A stopped or terminated instance has no
// public address; one that runs again gets its address back.
func (f *Fleet) SetState(id, state string) error {
	if _, ok := stateCodes[state]; !ok {
		return fmt.Errorf("awssim: unknown instance state %q", state)
	}
	return f.core.Mutate(id, func(in *instance) error {
		in.setState(state, time.Now())
		return nil
	})
}

// Terminate marks an instance terminated. Like EC2, it stays visible to
// DescribeInstances (state "terminated", no addresses) until Remove.
func (f *Fleet) Terminate(id string) error { return f.SetState(id, "terminated") }

// Remove deletes an instance, as EC2 does about an hour after termination.
func (f *Fleet) Remove(id string) error {
	return f.core.Mutate(id, func(in *instance) error {
		rs := f.regions[in.region]
		i := rs.after(in.seq - 1)
		rs.list = slices.Delete(rs.list, i, i+1)
		f.core.Delete(id)
		return nil
	})
}

func (in *instance) tagList() *[]Tag { return &in.tags }

// Add launches a new running instance in region (one of the fleet's
// regions or DefaultRegions). tags, when non-nil, are its tags (Name first,
// then the others by key); otherwise tags are generated. It is listed after
// every existing instance of its region.
func (f *Fleet) Add(region string, tags map[string]string) (InstanceInfo, error) {
	f.core.Lock()
	defer f.core.Unlock()
	rs, ok := f.regions[region]
	if !ok {
		if !slices.Contains(DefaultRegions, region) {
			return InstanceInfo{}, fmt.Errorf("awssim: region %q is not served", region)
		}
		rs = f.newRegionSet(region)
	}
	in := f.addReservation(f.core.Added, rs, 1, cloudsim.TagsOf(tags, "Name"), time.Now().UTC().Truncate(time.Second), false)[0]
	return in.info(), nil
}

const upperAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"

func dashed(ip string) string {
	b := []byte(ip)
	for i, c := range b {
		if c == '.' {
			b[i] = '-'
		}
	}
	return string(b)
}

func itoa(i int) string { return strconv.Itoa(i) }
