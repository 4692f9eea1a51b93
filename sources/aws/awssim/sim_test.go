package awssim_test

import (
	"encoding/xml"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/credentials/stscreds"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	"github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/rosterhq/roster/sources/aws/awssim"
)

const (
	testKey    = "AKIASIMULATOR00001"
	testSecret = "not-a-secret"
)

// start serves a simulator on an httptest server.
func start(t *testing.T, opts awssim.Options) (*awssim.Server, string) {
	t.Helper()
	srv := awssim.New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(ts.Close)
	return srv, ts.URL
}

// config is what a caller builds: static keys, a region, the standard
// retryer (with short backoffs so tests stay fast). The HTTP client is
// shielded from the SDK's request-body race (see ClientTransport) so request
// counts are exact.
func config(region string, creds aws.CredentialsProvider, maxAttempts int) aws.Config {
	return aws.Config{
		Region:      region,
		Credentials: creds,
		HTTPClient:  &http.Client{Transport: awssim.ClientTransport(nil)},
		Retryer: func() aws.Retryer {
			return retry.NewStandard(func(o *retry.StandardOptions) {
				o.MaxBackoff = 2 * time.Millisecond
				if maxAttempts > 0 {
					o.MaxAttempts = maxAttempts
				}
			})
		},
	}
}

func static(key string) aws.CredentialsProvider {
	return credentials.NewStaticCredentialsProvider(key, testSecret, "")
}

func ec2Client(endpoint, region string) *ec2.Client {
	return ec2ClientWith(endpoint, config(region, static(testKey), 0))
}

func ec2ClientWith(endpoint string, cfg aws.Config) *ec2.Client {
	return ec2.NewFromConfig(cfg, func(o *ec2.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

func stsClient(endpoint, region, key string) *sts.Client {
	return sts.NewFromConfig(config(region, static(key), 0), func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) })
}

// apiError asserts err is an API error with code and returns it.
func apiError(t *testing.T, err error, code string) smithy.APIError {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("error %v is not a smithy.APIError", err)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("error code = %q (%v), want %q", ae.ErrorCode(), err, code)
	}
	return ae
}

// listAll pages through DescribeInstances and returns every instance and
// the number of pages.
func listAll(t *testing.T, c *ec2.Client, in *ec2.DescribeInstancesInput, limit int32) ([]types.Instance, int) {
	t.Helper()
	if in == nil {
		in = &ec2.DescribeInstancesInput{}
	}
	p := ec2.NewDescribeInstancesPaginator(c, in, func(o *ec2.DescribeInstancesPaginatorOptions) { o.Limit = limit })
	var out []types.Instance
	pages := 0
	for p.HasMorePages() {
		page, err := p.NextPage(t.Context())
		if err != nil {
			t.Fatalf("page %d: %v", pages+1, err)
		}
		pages++
		for _, r := range page.Reservations {
			out = append(out, r.Instances...)
		}
	}
	return out, pages
}

func ids(list []types.Instance) []string {
	out := make([]string, len(list))
	for i, in := range list {
		out[i] = aws.ToString(in.InstanceId)
	}
	return out
}

func infoIDs(list []awssim.InstanceInfo, keep func(awssim.InstanceInfo) bool) []string {
	var out []string
	for _, in := range list {
		if keep == nil || keep(in) {
			out = append(out, in.ID)
		}
	}
	return out
}

func inRegion(region string) func(awssim.InstanceInfo) bool {
	return func(i awssim.InstanceInfo) bool { return i.Region == region }
}

func sameSet(t *testing.T, what string, got, want []string) {
	t.Helper()
	g, w := slices.Clone(got), slices.Clone(want)
	slices.Sort(g)
	slices.Sort(w)
	if !slices.Equal(g, w) {
		t.Fatalf("%s: got %d ids, want %d (first got %v, first want %v)", what, len(g), len(w), head(g), head(w))
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

func TestDescribeRegions(t *testing.T) {
	_, endpoint := start(t, awssim.Options{Seed: 1, Size: 10, Regions: []string{"us-east-1", "ap-south-2"}})
	c := ec2Client(endpoint, "us-east-1")
	names := func(out *ec2.DescribeRegionsOutput) []string {
		var s []string
		for _, r := range out.Regions {
			s = append(s, aws.ToString(r.RegionName))
		}
		return s
	}

	out, err := c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if want := append(slices.Clone(awssim.DefaultRegions), "ap-south-2"); !slices.Equal(names(out), want) {
		t.Fatalf("regions = %v, want %v", names(out), want)
	}
	r := out.Regions[0]
	if aws.ToString(r.Endpoint) != "ec2.us-east-1.amazonaws.com" || aws.ToString(r.OptInStatus) != "opt-in-not-required" {
		t.Fatalf("region[0] = %+v", r)
	}

	out, err = c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{
		AllRegions: aws.Bool(true),
		Filters:    []types.Filter{{Name: aws.String("opt-in-status"), Values: []string{"not-opted-in"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out); len(got) != 4 || !slices.Contains(got, "ap-east-1") {
		t.Fatalf("not-opted-in regions = %v", got)
	}

	out, err = c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{
		Filters: []types.Filter{{Name: aws.String("region-name"), Values: []string{"eu-*", "sa-east-?"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out); len(got) != 6 || got[5] != "sa-east-1" {
		t.Fatalf("eu-* or sa-east-? = %v", got)
	}

	out, err = c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{RegionNames: []string{"eu-west-1", "us-west-2"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := names(out); !slices.Equal(got, []string{"eu-west-1", "us-west-2"}) {
		t.Fatalf("RegionNames = %v", got)
	}

	_, err = c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{RegionNames: []string{"us-nowhere-1"}})
	if ae := apiError(t, err, "InvalidParameterValue"); ae.ErrorMessage() != "Invalid region: [us-nowhere-1]" {
		t.Fatalf("message = %q", ae.ErrorMessage())
	}
	_, err = c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{Filters: []types.Filter{{Name: aws.String("zone-name"), Values: []string{"x"}}}})
	apiError(t, err, "InvalidParameterValue")
}

func TestDescribeAvailabilityZones(t *testing.T) {
	_, endpoint := start(t, awssim.Options{Seed: 1, Size: 10})
	for _, tc := range []struct {
		region string
		zones  []string
		ids    []string
	}{
		{"us-east-1", []string{"us-east-1a", "us-east-1b", "us-east-1c"}, []string{"use1-az1", "use1-az2", "use1-az3"}},
		{"us-west-1", []string{"us-west-1b", "us-west-1c"}, []string{"usw1-az1", "usw1-az2"}},
		{"ap-northeast-1", []string{"ap-northeast-1a", "ap-northeast-1c", "ap-northeast-1d"}, []string{"apne1-az1", "apne1-az2", "apne1-az3"}},
	} {
		out, err := ec2Client(endpoint, tc.region).DescribeAvailabilityZones(t.Context(), &ec2.DescribeAvailabilityZonesInput{})
		if err != nil {
			t.Fatal(err)
		}
		var zones, zoneIDs []string
		for _, z := range out.AvailabilityZones {
			zones = append(zones, aws.ToString(z.ZoneName))
			zoneIDs = append(zoneIDs, aws.ToString(z.ZoneId))
			if aws.ToString(z.RegionName) != tc.region || z.State != types.AvailabilityZoneStateAvailable ||
				aws.ToString(z.ZoneType) != "availability-zone" || z.OptInStatus != types.AvailabilityZoneOptInStatusOptInNotRequired {
				t.Fatalf("zone %+v", z)
			}
		}
		if !slices.Equal(zones, tc.zones) || !slices.Equal(zoneIDs, tc.ids) {
			t.Fatalf("%s zones = %v %v", tc.region, zones, zoneIDs)
		}
	}
	c := ec2Client(endpoint, "eu-west-1")
	out, err := c.DescribeAvailabilityZones(t.Context(), &ec2.DescribeAvailabilityZonesInput{
		Filters: []types.Filter{{Name: aws.String("zone-name"), Values: []string{"*b", "*c"}}},
	})
	if err != nil || len(out.AvailabilityZones) != 2 {
		t.Fatalf("filtered zones: %v, %v", out, err)
	}
	_, err = c.DescribeAvailabilityZones(t.Context(), &ec2.DescribeAvailabilityZonesInput{ZoneNames: []string{"eu-west-1z"}})
	apiError(t, err, "InvalidParameterValue")
}

func TestDescribeInstancesPaginatesEveryInstanceOnce(t *testing.T) {
	regions := []string{"us-east-1", "eu-west-1", "ap-southeast-2"}
	srv, endpoint := start(t, awssim.Options{Seed: 7, Size: 2500, Regions: regions})
	all := srv.Fleet().Instances()
	if len(all) != 2500 {
		t.Fatalf("fleet has %d instances", len(all))
	}
	for _, region := range regions {
		want := infoIDs(all, inRegion(region))
		// The SDK's own HTTP client here (retries absorb the rare
		// request-body race the settle delay leaves; see ClientTransport).
		cfg := config(region, static(testKey), 0)
		cfg.HTTPClient = nil
		got, pages := listAll(t, ec2ClientWith(endpoint, cfg), nil, 97)
		gotIDs := ids(got)
		seen := map[string]bool{}
		for _, id := range gotIDs {
			if seen[id] {
				t.Fatalf("%s: %s listed twice", region, id)
			}
			seen[id] = true
		}
		sameSet(t, region, gotIDs, want)
		if wantPages := (len(want) + 96) / 97; pages != wantPages {
			t.Fatalf("%s: %d pages, want %d", region, pages, wantPages)
		}
		// Unpaginated: everything in one response.
		got, pages = listAll(t, ec2Client(endpoint, region), nil, 0)
		if pages != 1 || len(got) != len(want) {
			t.Fatalf("%s unpaginated: %d pages, %d instances", region, pages, len(got))
		}
	}
	// A region the fleet does not populate is empty but valid.
	got, _ := listAll(t, ec2Client(endpoint, "sa-east-1"), nil, 5)
	if len(got) != 0 {
		t.Fatalf("sa-east-1 has %d instances", len(got))
	}
}

func TestDescribeInstancesFields(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 3, Size: 400, Regions: []string{"us-east-1", "eu-central-1"}})
	fleet := srv.Fleet()
	var running, stopped, dead awssim.InstanceInfo
	for _, in := range fleet.Instances() {
		switch {
		case in.Region != "eu-central-1":
		case in.State == "running" && in.PublicIP != "" && running.ID == "":
			running = in
		case in.State == "stopped" && stopped.ID == "":
			stopped = in
		case in.State == "terminated" && dead.ID == "":
			dead = in
		}
	}
	if running.ID == "" || stopped.ID == "" || dead.ID == "" {
		t.Fatal("fleet lacks a running, stopped or terminated instance in eu-central-1")
	}
	// A tag value that needs escaping must round-trip exactly.
	odd := "R&D / 42 <\"x\"> 'é' \r\n\ttab"
	if err := fleet.SetTag(running.ID, "Cost Center", odd); err != nil {
		t.Fatal(err)
	}
	running, _ = fleet.Instance(running.ID)

	c := ec2Client(endpoint, "eu-central-1")
	out, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{running.ID, stopped.ID, dead.ID}})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]types.Instance{}
	for _, r := range out.Reservations {
		if aws.ToString(r.OwnerId) != awssim.DefaultAccountID || !strings.HasPrefix(aws.ToString(r.ReservationId), "r-") {
			t.Fatalf("reservation %+v", r)
		}
		for _, in := range r.Instances {
			got[aws.ToString(in.InstanceId)] = in
		}
	}

	in := got[running.ID]
	eq := func(what, got, want string) {
		t.Helper()
		if got != want {
			t.Errorf("%s = %q, want %q", what, got, want)
		}
	}
	eq("state", string(in.State.Name), "running")
	if aws.ToInt32(in.State.Code) != 16 {
		t.Errorf("state code = %d", aws.ToInt32(in.State.Code))
	}
	eq("az", aws.ToString(in.Placement.AvailabilityZone), running.AvailabilityZone)
	eq("tenancy", string(in.Placement.Tenancy), "default")
	eq("type", string(in.InstanceType), running.InstanceType)
	eq("image", aws.ToString(in.ImageId), running.ImageID)
	eq("arch", string(in.Architecture), running.Architecture)
	eq("vpc", aws.ToString(in.VpcId), running.VPCID)
	eq("subnet", aws.ToString(in.SubnetId), running.SubnetID)
	eq("private ip", aws.ToString(in.PrivateIpAddress), running.PrivateIP)
	eq("private dns", aws.ToString(in.PrivateDnsName), running.PrivateDNS)
	eq("public ip", aws.ToString(in.PublicIpAddress), running.PublicIP)
	eq("public dns", aws.ToString(in.PublicDnsName), running.PublicDNS)
	if !strings.HasSuffix(running.PublicDNS, ".eu-central-1.compute.amazonaws.com") ||
		!strings.HasSuffix(running.PrivateDNS, ".eu-central-1.compute.internal") {
		t.Errorf("dns names %q %q", running.PublicDNS, running.PrivateDNS)
	}
	if !aws.ToTime(in.LaunchTime).Equal(running.LaunchTime) || running.LaunchTime.IsZero() {
		t.Errorf("launch time = %v, want %v", in.LaunchTime, running.LaunchTime)
	}
	var tags []awssim.Tag
	for _, tg := range in.Tags {
		tags = append(tags, awssim.Tag{Key: aws.ToString(tg.Key), Value: aws.ToString(tg.Value)})
	}
	if !slices.Equal(tags, running.Tags) {
		t.Errorf("tags = %q, want %q", tags, running.Tags)
	}
	if v, _ := running.Tag("Cost Center"); v != odd {
		t.Errorf("escaped tag = %q", v)
	}
	if len(in.SecurityGroups) == 0 || !strings.HasPrefix(aws.ToString(in.SecurityGroups[0].GroupId), "sg-") || aws.ToString(in.SecurityGroups[0].GroupName) == "" {
		t.Errorf("security groups = %+v", in.SecurityGroups)
	}
	if len(in.NetworkInterfaces) != 1 {
		t.Fatalf("network interfaces = %+v", in.NetworkInterfaces)
	}
	ni := in.NetworkInterfaces[0]
	eq("eni private ip", aws.ToString(ni.PrivateIpAddress), running.PrivateIP)
	eq("eni public ip", aws.ToString(ni.Association.PublicIp), running.PublicIP)
	eq("eni public dns", aws.ToString(ni.Association.PublicDnsName), running.PublicDNS)
	eq("eni private dns", aws.ToString(ni.PrivateDnsName), running.PrivateDNS)
	eq("eni status", string(ni.Status), "in-use")
	if aws.ToInt32(ni.Attachment.DeviceIndex) != 0 || ni.Attachment.Status != types.AttachmentStatusAttached ||
		!strings.HasPrefix(aws.ToString(ni.NetworkInterfaceId), "eni-") || len(strings.Split(aws.ToString(ni.MacAddress), ":")) != 6 {
		t.Errorf("eni = %+v", ni)
	}
	if len(in.BlockDeviceMappings) != 1 || aws.ToString(in.BlockDeviceMappings[0].DeviceName) != aws.ToString(in.RootDeviceName) ||
		!strings.HasPrefix(aws.ToString(in.BlockDeviceMappings[0].Ebs.VolumeId), "vol-") ||
		in.BlockDeviceMappings[0].Ebs.Status != types.AttachmentStatusAttached || !aws.ToBool(in.BlockDeviceMappings[0].Ebs.DeleteOnTermination) {
		t.Errorf("block devices = %+v", in.BlockDeviceMappings)
	}
	eq("root device type", string(in.RootDeviceType), "ebs")
	eq("hypervisor", string(in.Hypervisor), "xen")
	eq("virtualization", string(in.VirtualizationType), "hvm")
	eq("monitoring", string(in.Monitoring.State)[:4], "disa"[:4*boolInt(in.Monitoring.State == types.MonitoringStateDisabled)]+"enab"[:4*boolInt(in.Monitoring.State == types.MonitoringStateEnabled)])
	if in.CpuOptions == nil || aws.ToInt32(in.CpuOptions.CoreCount) < 1 || aws.ToInt32(in.CpuOptions.ThreadsPerCore) < 1 {
		t.Errorf("cpu options = %+v", in.CpuOptions)
	}
	if in.MetadataOptions == nil || in.MetadataOptions.HttpEndpoint != types.InstanceMetadataEndpointStateEnabled || in.MetadataOptions.HttpTokens == "" {
		t.Errorf("metadata options = %+v", in.MetadataOptions)
	}
	if in.EnaSupport == nil || in.EbsOptimized == nil || in.SourceDestCheck == nil || aws.ToString(in.PlatformDetails) == "" || in.CurrentInstanceBootMode == "" {
		t.Errorf("ena/ebs/sdc/platform/boot = %v %v %v %v %v", in.EnaSupport, in.EbsOptimized, in.SourceDestCheck, in.PlatformDetails, in.CurrentInstanceBootMode)
	}
	if in.StateReason != nil || aws.ToString(in.StateTransitionReason) != "" {
		t.Errorf("running instance has a state reason: %+v", in.StateReason)
	}

	in = got[stopped.ID]
	eq("stopped state", string(in.State.Name), "stopped")
	if in.PublicIpAddress != nil || aws.ToString(in.PublicDnsName) != "" || in.NetworkInterfaces[0].Association != nil {
		t.Errorf("stopped instance has a public address: %v %v", in.PublicIpAddress, in.PublicDnsName)
	}
	eq("stopped private ip", aws.ToString(in.PrivateIpAddress), stopped.PrivateIP)
	if in.StateReason == nil || aws.ToString(in.StateReason.Code) != "Client.UserInitiatedShutdown" || !strings.HasPrefix(aws.ToString(in.StateTransitionReason), "User initiated (") {
		t.Errorf("stopped reason = %+v %q", in.StateReason, aws.ToString(in.StateTransitionReason))
	}

	in = got[dead.ID]
	eq("terminated state", string(in.State.Name), "terminated")
	if in.PrivateIpAddress != nil || len(in.NetworkInterfaces) != 0 || len(in.BlockDeviceMappings) != 0 || in.VpcId != nil {
		t.Errorf("terminated instance keeps resources: %+v", in)
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func TestDescribeInstancesFilters(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 11, Size: 1500, Regions: []string{"us-east-1"}})
	all := srv.Fleet().Instances()
	c := ec2Client(endpoint, "us-east-1")
	tag := func(i awssim.InstanceInfo, k string) string { v, _ := i.Tag(k); return v }
	hasTag := func(i awssim.InstanceInfo, k string) bool { _, ok := i.Tag(k); return ok }
	f := func(name string, values ...string) types.Filter {
		return types.Filter{Name: aws.String(name), Values: values}
	}
	first := all[0]
	for _, tc := range []struct {
		name    string
		filters []types.Filter
		want    func(awssim.InstanceInfo) bool
	}{
		{"tag", []types.Filter{f("tag:Env", "prod")}, func(i awssim.InstanceInfo) bool { return tag(i, "Env") == "prod" }},
		{"state OR", []types.Filter{f("instance-state-name", "stopped", "pending")}, func(i awssim.InstanceInfo) bool { return i.State == "stopped" || i.State == "pending" }},
		{"state code", []types.Filter{f("instance-state-code", "80")}, func(i awssim.InstanceInfo) bool { return i.State == "stopped" }},
		{"star", []types.Filter{f("tag:Name", "web-00*")}, func(i awssim.InstanceInfo) bool { return strings.HasPrefix(tag(i, "Name"), "web-00") }},
		{"question mark", []types.Filter{f("tag:Name", "db-000?")}, func(i awssim.InstanceInfo) bool {
			n := tag(i, "Name")
			return len(n) == 7 && strings.HasPrefix(n, "db-000")
		}},
		{"AND", []types.Filter{f("tag:Env", "prod"), f("instance-state-name", "running"), f("instance-type", "t3.*", "m5.*")}, func(i awssim.InstanceInfo) bool {
			return tag(i, "Env") == "prod" && i.State == "running" && (strings.HasPrefix(i.InstanceType, "t3.") || strings.HasPrefix(i.InstanceType, "m5."))
		}},
		{"tag-key", []types.Filter{f("tag-key", "Application")}, func(i awssim.InstanceInfo) bool { return hasTag(i, "Application") }},
		{"tag-value with punctuation", []types.Filter{f("tag-value", "R&D / 42")}, func(i awssim.InstanceInfo) bool { return tag(i, "Cost Center") == "R&D / 42" }},
		{"tag with space in key", []types.Filter{f("tag:Cost Center", "*&*")}, func(i awssim.InstanceInfo) bool { return strings.Contains(tag(i, "Cost Center"), "&") }},
		{"architecture", []types.Filter{f("architecture", "arm64")}, func(i awssim.InstanceInfo) bool { return i.Architecture == "arm64" }},
		{"availability-zone", []types.Filter{f("availability-zone", "us-east-1b")}, func(i awssim.InstanceInfo) bool { return i.AvailabilityZone == "us-east-1b" }},
		{"ip-address", []types.Filter{f("ip-address", "*")}, func(i awssim.InstanceInfo) bool { return i.PublicIP != "" }},
		{"dns-name", []types.Filter{f("dns-name", "*.compute-1.amazonaws.com")}, func(i awssim.InstanceInfo) bool { return i.PublicDNS != "" }},
		{"private-ip-address", []types.Filter{f("private-ip-address", "10.0.1.*")}, func(i awssim.InstanceInfo) bool { return strings.HasPrefix(i.PrivateIP, "10.0.1.") }},
		{"eni address", []types.Filter{f("network-interface.addresses.private-ip-address", first.PrivateIP)}, func(i awssim.InstanceInfo) bool { return i.PrivateIP == first.PrivateIP && i.PrivateIP != "" }},
		{"private-dns-name", []types.Filter{f("private-dns-name", "ip-10-0-0-1?.ec2.internal")}, func(i awssim.InstanceInfo) bool {
			return strings.HasPrefix(i.PrivateDNS, "ip-10-0-0-1") && len(i.PrivateDNS) == len("ip-10-0-0-10.ec2.internal")
		}},
		{"platform", []types.Filter{f("platform", "windows")}, func(i awssim.InstanceInfo) bool { return i.Platform == "windows" }},
		{"vpc-id", []types.Filter{f("vpc-id", first.VPCID)}, func(i awssim.InstanceInfo) bool { return i.VPCID == first.VPCID && i.VPCID != "" }},
		{"subnet-id", []types.Filter{f("subnet-id", first.SubnetID)}, func(i awssim.InstanceInfo) bool { return i.SubnetID == first.SubnetID && i.SubnetID != "" }},
		{"image-id", []types.Filter{f("image-id", first.ImageID)}, func(i awssim.InstanceInfo) bool { return i.ImageID == first.ImageID }},
		{"instance-id", []types.Filter{f("instance-id", all[1].ID, all[2].ID)}, func(i awssim.InstanceInfo) bool { return i.ID == all[1].ID || i.ID == all[2].ID }},
		{"reservation-id", []types.Filter{f("reservation-id", first.ReservationID)}, func(i awssim.InstanceInfo) bool { return i.ReservationID == first.ReservationID }},
		{"owner-id", []types.Filter{f("owner-id", awssim.DefaultAccountID)}, func(awssim.InstanceInfo) bool { return true }},
		{"root-device-type AND hypervisor", []types.Filter{f("root-device-type", "ebs"), f("hypervisor", "xen")}, func(awssim.InstanceInfo) bool { return true }},
		{"no match", []types.Filter{f("tag:Env", "Prod")}, func(awssim.InstanceInfo) bool { return false }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want := infoIDs(all, tc.want)
			if len(want) == 0 && tc.name != "no match" {
				t.Fatal("test expects no instance: the filter proves nothing")
			}
			got, _ := listAll(t, c, &ec2.DescribeInstancesInput{Filters: tc.filters}, 300)
			sameSet(t, tc.name, ids(got), want)
		})
	}

	// Group filters: check against what the SDK parsed.
	got, _ := listAll(t, c, &ec2.DescribeInstancesInput{Filters: []types.Filter{f("group-name", "web")}}, 1000)
	if len(got) == 0 {
		t.Fatal("no instance in group web")
	}
	gid := ""
	for _, in := range got {
		i := slices.IndexFunc(in.SecurityGroups, func(g types.GroupIdentifier) bool { return aws.ToString(g.GroupName) == "web" })
		if i < 0 {
			t.Fatalf("%s is not in group web: %+v", aws.ToString(in.InstanceId), in.SecurityGroups)
		}
		gid = aws.ToString(in.SecurityGroups[i].GroupId)
	}
	byID, _ := listAll(t, c, &ec2.DescribeInstancesInput{Filters: []types.Filter{f("instance.group-id", gid)}}, 1000)
	if len(byID) != len(got) {
		t.Fatalf("instance.group-id %s: %d instances, group-name web: %d", gid, len(byID), len(got))
	}

	_, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{Filters: []types.Filter{f("tag:Env", "prod"), f("flavour", "x")}})
	if ae := apiError(t, err, "InvalidParameterValue"); ae.ErrorMessage() != "The filter 'flavour' is invalid" {
		t.Fatalf("message = %q", ae.ErrorMessage())
	}
}

func TestDescribeInstancesParameters(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 5, Size: 60, Regions: []string{"us-east-1", "us-west-2"}})
	c := ec2Client(endpoint, "us-east-1")
	east := infoIDs(srv.Fleet().Instances(), inRegion("us-east-1"))
	west := infoIDs(srv.Fleet().Instances(), inRegion("us-west-2"))

	out, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{east[3], east[1], east[1]}})
	if err != nil {
		t.Fatal(err)
	}
	var got []types.Instance
	for _, r := range out.Reservations {
		got = append(got, r.Instances...)
	}
	sameSet(t, "InstanceIds", ids(got), []string{east[1], east[3]})

	for _, tc := range []struct {
		name string
		in   *ec2.DescribeInstancesInput
		code string
		msg  string
	}{
		{"other region's id", &ec2.DescribeInstancesInput{InstanceIds: []string{east[0], west[0]}}, "InvalidInstanceID.NotFound", "The instance ID '" + west[0] + "' does not exist"},
		{"two unknown ids", &ec2.DescribeInstancesInput{InstanceIds: []string{"i-0123456789abcdef0", "i-0123456789abcdef1"}}, "InvalidInstanceID.NotFound", "The instance IDs 'i-0123456789abcdef0, i-0123456789abcdef1' do not exist"},
		{"malformed id", &ec2.DescribeInstancesInput{InstanceIds: []string{"web-1"}}, "InvalidInstanceID.Malformed", `Invalid id: "web-1"`},
		{"ids with MaxResults", &ec2.DescribeInstancesInput{InstanceIds: []string{east[0]}, MaxResults: aws.Int32(10)}, "InvalidParameterCombination", "The parameter instancesSet cannot be used with the parameter maxResults"},
		{"MaxResults too small", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(4)}, "InvalidParameterValue", "Value ( 4 ) for parameter maxResults is invalid. Expecting a value greater than 5."},
		{"MaxResults too large", &ec2.DescribeInstancesInput{MaxResults: aws.Int32(1001)}, "InvalidParameterValue", ""},
		{"bad token", &ec2.DescribeInstancesInput{NextToken: aws.String("bm90LWEtdG9rZW4")}, "InvalidPaginationToken", ""},
		{"dry run", &ec2.DescribeInstancesInput{DryRun: aws.Bool(true)}, "DryRunOperation", "Request would have succeeded, but DryRun flag is set."},
	} {
		_, err := c.DescribeInstances(t.Context(), tc.in)
		ae := apiError(t, err, tc.code)
		if tc.msg != "" && ae.ErrorMessage() != tc.msg {
			t.Errorf("%s: message = %q, want %q", tc.name, ae.ErrorMessage(), tc.msg)
		}
	}

	// A token is bound to its region and filters.
	page, err := c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5)})
	if err != nil || page.NextToken == nil {
		t.Fatalf("first page: %v, token %v", err, page.NextToken)
	}
	_, err = ec2Client(endpoint, "us-west-2").DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), NextToken: page.NextToken})
	apiError(t, err, "InvalidPaginationToken")
	_, err = c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{MaxResults: aws.Int32(5), NextToken: page.NextToken,
		Filters: []types.Filter{{Name: aws.String("instance-state-name"), Values: []string{"running"}}}})
	apiError(t, err, "InvalidPaginationToken")
}

// rawPost sends a form the way the SDK does, with an optional Authorization
// header, and decodes an error body.
func rawPost(t *testing.T, endpoint, auth string, form url.Values) (int, string, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, endpoint, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		XMLName   xml.Name
		EC2Code   string `xml:"Errors>Error>Code"`
		STSCode   string `xml:"Error>Code"`
		STSType   string `xml:"Error>Type"`
		RequestID string `xml:"RequestID"`
		RequestId string `xml:"RequestId"`
	}
	if err := xml.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("decode: %v", err)
	}
	switch body.XMLName.Local {
	case "Response":
		if body.RequestID == "" {
			t.Errorf("EC2 error without RequestID")
		}
		return resp.StatusCode, body.XMLName.Local, body.EC2Code
	case "ErrorResponse":
		if body.RequestId == "" || body.STSType != "Sender" {
			t.Errorf("STS error without RequestId or Type Sender: %+v", body)
		}
		return resp.StatusCode, body.XMLName.Local, body.STSCode
	}
	return resp.StatusCode, body.XMLName.Local, ""
}

func fakeAuth(key, region, service string) string {
	return "AWS4-HMAC-SHA256 Credential=" + key + "/20250601/" + region + "/" + service + "/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + strings.Repeat("0a", 32)
}

func TestAuthentication(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 1, Size: 10, AccessKeys: []string{testKey}})
	ec2Form := url.Values{"Action": {"DescribeRegions"}, "Version": {"2016-11-15"}}
	stsForm := url.Values{"Action": {"GetCallerIdentity"}, "Version": {"2011-06-15"}}
	for _, tc := range []struct {
		name, auth string
		form       url.Values
		status     int
		root, code string
	}{
		{"ec2 unsigned", "", ec2Form, 401, "Response", "AuthFailure"},
		{"ec2 not sigv4", "Bearer abc", ec2Form, 401, "Response", "AuthFailure"},
		{"ec2 bad scope", "AWS4-HMAC-SHA256 Credential=" + testKey + "/2025/us-east-1/ec2, SignedHeaders=host, Signature=00", ec2Form, 401, "Response", "AuthFailure"},
		{"ec2 signed", fakeAuth(testKey, "us-east-1", "ec2"), url.Values{"Action": {"RunInstances"}, "Version": {"2016-11-15"}}, 400, "Response", "InvalidAction"},
		{"ec2 unknown key", fakeAuth("AKIAOTHER", "us-east-1", "ec2"), ec2Form, 401, "Response", "AuthFailure"},
		{"ec2 opt-in region", fakeAuth(testKey, "ap-east-1", "ec2"), ec2Form, 401, "Response", "AuthFailure"},
		{"ec2 unknown region", fakeAuth(testKey, "xx-nowhere-1", "ec2"), ec2Form, 401, "Response", "AuthFailure"},
		{"sts unsigned", "", stsForm, 403, "ErrorResponse", "MissingAuthenticationToken"},
		{"sts unknown key", fakeAuth("AKIAOTHER", "us-east-1", "sts"), stsForm, 403, "ErrorResponse", "InvalidClientTokenId"},
		{"sts unknown action", fakeAuth(testKey, "us-east-1", "sts"), url.Values{"Action": {"GetSessionToken"}, "Version": {"2011-06-15"}}, 400, "ErrorResponse", "InvalidAction"},
		{"ec2 action on sts scope", fakeAuth(testKey, "us-east-1", "sts"), ec2Form, 400, "ErrorResponse", "InvalidAction"},
	} {
		status, root, code := rawPost(t, endpoint, tc.auth, tc.form)
		if status != tc.status || root != tc.root || code != tc.code {
			t.Errorf("%s: %d %s %s, want %d %s %s", tc.name, status, root, code, tc.status, tc.root, tc.code)
		}
	}
	if n := srv.Stats().Rejected; n != 11 {
		t.Errorf("rejected = %d, want 11", n)
	}

	// A signed GET query works too.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, endpoint+"/?Action=DescribeRegions&Version=2016-11-15", nil)
	req.Header.Set("Authorization", fakeAuth(testKey, "eu-west-1", "ec2"))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("GET: %d", resp.StatusCode)
	}

	// Through the SDK: a wrong key and a disabled region surface AuthFailure.
	_, err = ec2ClientWith(endpoint, config("us-east-1", static("AKIAWRONG"), 0)).DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{})
	if ae := apiError(t, err, "AuthFailure"); ae.ErrorMessage() != "AWS was not able to validate the provided access credentials" {
		t.Fatalf("message = %q", ae.ErrorMessage())
	}
	_, err = ec2Client(endpoint, "me-south-1").DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{})
	apiError(t, err, "AuthFailure")
	_, err = stsClient(endpoint, "us-east-1", "AKIAWRONG").GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	apiError(t, err, "InvalidClientTokenId")
}

func TestThrottlingIsRetried(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 1, Size: 10, Faults: awssim.Faults{ThrottleEvery: 2}})
	c := ec2Client(endpoint, "us-east-1")
	for range 5 {
		if _, err := c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	// Requests 2, 4, 6, 8 were throttled and each retried once.
	st := srv.Stats()
	if st.Calls("DescribeRegions", "us-east-1") != 9 || st.InjectedCodes["RequestLimitExceeded"] != 4 || st.Faulted("", "") != 4 {
		t.Fatalf("stats = %+v", st)
	}

	// Every request throttled: the SDK gives up after its 3 attempts.
	srv.SetFaults(awssim.Faults{ThrottleEvery: 1})
	srv.ResetStats()
	_, err := c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{})
	apiError(t, err, "RequestLimitExceeded")
	var exhausted *retry.MaxAttemptsError
	if !errors.As(err, &exhausted) {
		t.Errorf("error %v is not a MaxAttemptsError", err)
	}
	if n := srv.Stats().Calls("", ""); n != 3 {
		t.Fatalf("attempts = %d, want 3", n)
	}

	// Faults can be lifted at runtime.
	srv.SetFaults(awssim.Faults{})
	if _, err := c.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{}); err != nil {
		t.Fatal(err)
	}

	// A throttle rate (seeded) is survivable with enough attempts.
	srv.SetFaults(awssim.Faults{ThrottleRate: 0.3, Ops: []string{"DescribeInstances"}})
	srv.ResetStats()
	patient := ec2ClientWith(endpoint, config("us-east-1", static(testKey), 10))
	for range 10 {
		if _, err := patient.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{}); err != nil {
			t.Fatal(err)
		}
		if _, err := patient.DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{}); err != nil {
			t.Fatal(err)
		}
	}
	st = srv.Stats()
	if st.Faulted("DescribeInstances", "") == 0 || st.Faulted("DescribeRegions", "") != 0 {
		t.Fatalf("rate faults = %+v", st.Injected)
	}
}

func TestServerErrorsAreRetried(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 1, Size: 10, Faults: awssim.Faults{ErrorEvery: 2}})
	c := ec2Client(endpoint, "us-west-2")
	for range 5 {
		if _, err := c.DescribeAvailabilityZones(t.Context(), &ec2.DescribeAvailabilityZonesInput{}); err != nil {
			t.Fatal(err)
		}
	}
	st := srv.Stats()
	if st.InjectedCodes["InternalError"] != 2 || st.InjectedCodes["Unavailable"] != 2 || st.Calls("DescribeAvailabilityZones", "us-west-2") != 9 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestFailingRegion(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 1, Size: 100, Regions: []string{"us-east-1", "eu-west-1"},
		Faults: awssim.Faults{DenyScopes: []string{"eu-west-1"}}})
	_, err := ec2Client(endpoint, "eu-west-1").DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{})
	apiError(t, err, "UnauthorizedOperation")
	if n := srv.Stats().Calls("DescribeInstances", "eu-west-1"); n != 1 {
		t.Fatalf("eu-west-1 attempts = %d, want 1 (403 is not retried)", n)
	}
	if _, err := ec2Client(endpoint, "us-east-1").DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	if _, err := stsClient(endpoint, "eu-west-1", testKey).GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{}); err != nil {
		t.Fatalf("STS in a failing region: %v", err)
	}
}

func TestFailAfterPage(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 2, Size: 400, Regions: []string{"us-east-1"}, Faults: awssim.Faults{FailAfterPage: 2}})
	p := ec2.NewDescribeInstancesPaginator(ec2Client(endpoint, "us-east-1"), &ec2.DescribeInstancesInput{},
		func(o *ec2.DescribeInstancesPaginatorOptions) { o.Limit = 50 })
	pages := 0
	var err error
	for p.HasMorePages() {
		if _, err = p.NextPage(t.Context()); err != nil {
			break
		}
		pages++
	}
	if pages != 2 {
		t.Fatalf("%d pages succeeded, want 2 (%v)", pages, err)
	}
	apiError(t, err, "InternalError")
	if st := srv.Stats(); st.Faulted("DescribeInstances", "us-east-1") != 3 || st.Calls("DescribeInstances", "us-east-1") != 5 {
		t.Fatalf("stats = %+v", st)
	}
	// Unpaginated requests have a single page and succeed.
	if _, err := ec2Client(endpoint, "us-east-1").DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
}

func TestLatency(t *testing.T) {
	_, endpoint := start(t, awssim.Options{Seed: 1, Size: 1, Faults: awssim.Faults{Latency: 40 * time.Millisecond, Ops: []string{"DescribeRegions"}}})
	began := time.Now()
	if _, err := ec2Client(endpoint, "us-east-1").DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(began); d < 40*time.Millisecond {
		t.Fatalf("answered in %v, want at least 40ms", d)
	}
}

func TestAssumeRole(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 1, Size: 50, Regions: []string{"us-east-1"}, AccessKeys: []string{testKey}})
	stsc := stsClient(endpoint, "us-east-1", testKey)
	const role = "arn:aws:iam::210987654321:role/roster-reader"
	out, err := stsc.AssumeRole(t.Context(), &sts.AssumeRoleInput{
		RoleArn: aws.String(role), RoleSessionName: aws.String("roster-sync"),
		ExternalId: aws.String("ext-42"), DurationSeconds: aws.Int32(900),
	})
	if err != nil {
		t.Fatal(err)
	}
	cr := out.Credentials
	if !strings.HasPrefix(aws.ToString(cr.AccessKeyId), "ASIA") || aws.ToString(cr.SecretAccessKey) == "" || aws.ToString(cr.SessionToken) == "" {
		t.Fatalf("credentials = %+v", cr)
	}
	if d := time.Until(aws.ToTime(cr.Expiration)); d < 14*time.Minute || d > 16*time.Minute {
		t.Fatalf("expires in %v", d)
	}
	if aws.ToString(out.AssumedRoleUser.Arn) != "arn:aws:sts::210987654321:assumed-role/roster-reader/roster-sync" {
		t.Fatalf("assumed role user = %+v", out.AssumedRoleUser)
	}
	calls := srv.AssumeRoleCalls()
	if len(calls) != 1 || calls[0].RoleARN != role || calls[0].RoleSessionName != "roster-sync" || calls[0].ExternalID != "ext-42" ||
		calls[0].DurationSeconds != 900 || calls[0].CallerAccessKeyID != testKey || calls[0].IssuedAccessKeyID != aws.ToString(cr.AccessKeyId) {
		t.Fatalf("calls = %+v", calls)
	}

	id, err := stsc.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != awssim.DefaultAccountID {
		t.Fatalf("caller identity: %+v, %v", id, err)
	}

	// The credential chain a syncer uses: AssumeRole, then EC2 with the
	// temporary keys (accepted although AccessKeys is restricted).
	provider := stscreds.NewAssumeRoleProvider(stsc, role, func(o *stscreds.AssumeRoleOptions) { o.RoleSessionName = "chain" })
	cfg := config("us-east-1", aws.NewCredentialsCache(provider), 0)
	if _, err := ec2ClientWith(endpoint, cfg).DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{}); err != nil {
		t.Fatal(err)
	}
	if calls := srv.AssumeRoleCalls(); len(calls) != 2 || calls[1].RoleSessionName != "chain" {
		t.Fatalf("calls = %+v", calls)
	}
	assumed := sts.NewFromConfig(cfg, func(o *sts.Options) { o.BaseEndpoint = aws.String(endpoint) })
	id, err = assumed.GetCallerIdentity(t.Context(), &sts.GetCallerIdentityInput{})
	if err != nil || aws.ToString(id.Account) != "210987654321" || aws.ToString(id.Arn) != "arn:aws:sts::210987654321:assumed-role/roster-reader/chain" {
		t.Fatalf("assumed identity: %+v, %v", id, err)
	}

	_, err = stsc.AssumeRole(t.Context(), &sts.AssumeRoleInput{RoleArn: aws.String("arn:aws:iam::12:role/x-too-short"), RoleSessionName: aws.String("s1")})
	apiError(t, err, "ValidationError")
}

func TestMutations(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 9, Size: 300, Regions: []string{"us-east-1", "eu-west-2"}})
	fleet := srv.Fleet()
	c := ec2Client(endpoint, "us-east-1")
	var public []awssim.InstanceInfo
	for _, in := range fleet.Instances() {
		if in.Region == "us-east-1" && in.State == "running" && in.PublicIP != "" {
			public = append(public, in)
		}
	}
	a, b, d, e := public[0], public[1], public[2], public[3]
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(fleet.Terminate(a.ID))
	must(fleet.Remove(b.ID))
	must(fleet.SetTag(d.ID, "Name", "renamed-1"))
	must(fleet.SetState(e.ID, "stopped"))
	added, err := fleet.Add("us-east-1", map[string]string{"Name": "new-1", "Env": "dev"})
	must(err)
	if _, err := fleet.Add("mars-north-1", nil); err == nil {
		t.Fatal("Add in an unserved region succeeded")
	}
	if err := fleet.SetTag("i-0000000000000000f", "Name", "x"); !errors.Is(err, awssim.ErrNoInstance) {
		t.Fatalf("SetTag on unknown id: %v", err)
	}

	got, _ := listAll(t, c, nil, 25)
	byID := map[string]types.Instance{}
	for _, in := range got {
		byID[aws.ToString(in.InstanceId)] = in
	}
	if _, ok := byID[b.ID]; ok {
		t.Fatal("removed instance is listed")
	}
	if in := byID[a.ID]; in.State.Name != types.InstanceStateNameTerminated || in.PublicIpAddress != nil || in.PrivateIpAddress != nil {
		t.Fatalf("terminated: %+v", in)
	}
	if in := byID[d.ID]; aws.ToString(in.Tags[0].Value) != "renamed-1" {
		t.Fatalf("renamed: %+v", in.Tags)
	}
	if in := byID[e.ID]; in.State.Name != types.InstanceStateNameStopped || in.PublicIpAddress != nil {
		t.Fatalf("stopped: %+v", in)
	}
	if last := got[len(got)-1]; aws.ToString(last.InstanceId) != added.ID || aws.ToString(last.Tags[0].Value) != "new-1" || len(last.Tags) != 2 ||
		last.State.Name != types.InstanceStateNameRunning {
		t.Fatalf("added instance not listed last: %+v", last)
	}
	must(fleet.SetState(e.ID, "running"))
	if in, _ := fleet.Instance(e.ID); in.PublicIP != e.PublicIP {
		t.Fatalf("restarted instance has public ip %q, want %q", in.PublicIP, e.PublicIP)
	}
	_, err = c.DescribeInstances(t.Context(), &ec2.DescribeInstancesInput{InstanceIds: []string{b.ID}})
	apiError(t, err, "InvalidInstanceID.NotFound")
}

// Mutating the fleet while a pagination runs must never repeat an instance
// or fail the pagination.
func TestMutationsDuringPagination(t *testing.T) {
	srv, endpoint := start(t, awssim.Options{Seed: 4, Size: 1200, Regions: []string{"us-east-1"}})
	fleet := srv.Fleet()
	victims := infoIDs(fleet.Instances(), nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i, id := range victims[:300] {
			switch i % 3 {
			case 0:
				_ = fleet.SetTag(id, "Name", "churn")
			case 1:
				_ = fleet.Remove(id)
			case 2:
				_, _ = fleet.Add("us-east-1", nil)
			}
		}
	}()
	got, _ := listAll(t, ec2Client(endpoint, "us-east-1"), nil, 40)
	<-done
	seen := map[string]bool{}
	for _, id := range ids(got) {
		if seen[id] {
			t.Fatalf("%s listed twice", id)
		}
		seen[id] = true
	}
}

func TestFleetIsDeterministicAndRealistic(t *testing.T) {
	a, b := awssim.NewFleet(42, 6000, nil), awssim.NewFleet(42, 6000, nil)
	ia, ib := a.Instances(), b.Instances()
	if len(ia) != 6000 || len(ib) != 6000 {
		t.Fatalf("sizes %d %d", len(ia), len(ib))
	}
	for i := range ia {
		if ia[i].ID != ib[i].ID || ia[i].PrivateIP != ib[i].PrivateIP || !slices.Equal(ia[i].Tags, ib[i].Tags) || ia[i].State != ib[i].State {
			t.Fatalf("fleets differ at %d: %+v vs %+v", i, ia[i], ib[i])
		}
	}
	if c := awssim.NewFleet(43, 10, nil).Instances(); c[0].ID == ia[0].ID {
		t.Fatal("a different seed gives the same fleet")
	}

	states := map[string]int{}
	regions := map[string]int{}
	zones := map[string]map[string]bool{}
	namesByRegion := map[string]map[string]bool{}
	privateIPs, publicIPs := map[string]bool{}, map[string]bool{}
	runningPublic, noName, costCenter := 0, 0, 0
	for _, in := range ia {
		states[in.State]++
		regions[in.Region]++
		if zones[in.Region] == nil {
			zones[in.Region] = map[string]bool{}
		}
		zones[in.Region][in.AvailabilityZone] = true
		if !strings.HasPrefix(in.ID, "i-") || len(in.ID) != 19 || strings.Trim(in.ID[2:], "0123456789abcdef") != "" {
			t.Fatalf("instance id %q", in.ID)
		}
		if in.State == "running" && in.PublicIP != "" {
			runningPublic++
		}
		if in.State == "stopped" && in.PublicIP != "" {
			t.Fatalf("stopped instance with a public ip: %+v", in)
		}
		if in.PrivateIP != "" {
			if privateIPs[in.PrivateIP] {
				t.Fatalf("private ip %s used twice", in.PrivateIP)
			}
			privateIPs[in.PrivateIP] = true
		}
		if in.PublicIP != "" {
			if publicIPs[in.PublicIP] {
				t.Fatalf("public ip %s used twice", in.PublicIP)
			}
			publicIPs[in.PublicIP] = true
		}
		if in.Name == "" {
			noName++
		} else {
			if namesByRegion[in.Name] == nil {
				namesByRegion[in.Name] = map[string]bool{}
			}
			namesByRegion[in.Name][in.Region] = true
		}
		if _, ok := in.Tag("Cost Center"); ok {
			costCenter++
		}
	}
	frac := func(n int) float64 { return float64(n) / float64(len(ia)) }
	if r := frac(states["running"]); r < 0.77 || r > 0.83 {
		t.Errorf("running = %.3f", r)
	}
	if r := frac(states["stopped"]); r < 0.12 || r > 0.18 {
		t.Errorf("stopped = %.3f", r)
	}
	for _, s := range []string{"pending", "stopping", "shutting-down", "terminated"} {
		if states[s] == 0 || frac(states[s]) > 0.03 {
			t.Errorf("%s = %d", s, states[s])
		}
	}
	if r := float64(runningPublic) / float64(states["running"]); r < 0.55 || r > 0.65 {
		t.Errorf("running with public ip = %.3f", r)
	}
	if len(regions) != len(awssim.DefaultRegions) {
		t.Errorf("instances in %d regions", len(regions))
	}
	for r, zs := range zones {
		if len(zs) < 2 || len(zs) > 3 {
			t.Errorf("%s uses %d zones", r, len(zs))
		}
	}
	dups := 0
	for _, rs := range namesByRegion {
		if len(rs) > 1 {
			dups++
		}
	}
	if noName == 0 || dups == 0 || costCenter == 0 {
		t.Errorf("no-name %d, cross-region duplicate names %d, cost center tags %d", noName, dups, costCenter)
	}
}

func TestStart(t *testing.T) {
	srv := awssim.New(awssim.Options{Seed: 1, Size: 20, Regions: []string{"eu-north-1"}})
	endpoint, stop, err := srv.Start(t.Context(), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := listAll(t, ec2Client(endpoint, "eu-north-1"), nil, 5)
	if len(got) != 20 {
		t.Fatalf("listed %d instances", len(got))
	}
	stop()
	stop() // idempotent
	if _, err := ec2ClientWith(endpoint, config("eu-north-1", static(testKey), 1)).DescribeRegions(t.Context(), &ec2.DescribeRegionsInput{}); err == nil {
		t.Fatal("server still answers after stop")
	}
}
