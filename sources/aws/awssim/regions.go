package awssim

import (
	"slices"
	"strings"
)

// DefaultRegions are the regions the simulator reports as enabled when
// Options.Regions is empty, and the regions a fleet spreads over by default.
// All of them are "opt-in-not-required" in the real service.
var DefaultRegions = []string{
	"us-east-1", "us-east-2", "us-west-1", "us-west-2",
	"eu-west-1", "eu-west-2", "eu-west-3", "eu-central-1", "eu-north-1",
	"ap-south-1", "ap-northeast-1", "ap-northeast-2", "ap-southeast-1", "ap-southeast-2",
	"ca-central-1", "sa-east-1",
}

// optInRegions are real opt-in regions the simulated account has not opted
// into. DescribeRegions lists them only with AllRegions=true (optInStatus
// "not-opted-in"), and requests signed for them fail with AuthFailure, which
// is what EC2 answers for a region the account has not enabled.
var optInRegions = []string{"af-south-1", "ap-east-1", "eu-south-1", "me-south-1"}

// zoneLetters gives the availability zone suffixes of regions whose zones are
// not simply a, b, c, so the simulated zones look like an account's real ones.
var zoneLetters = map[string]string{
	"us-west-1":      "bc",
	"ap-northeast-1": "acd",
	"ca-central-1":   "abd",
}

// zone is one availability zone of a region.
type zone struct {
	name string // us-east-1a
	id   string // use1-az1
}

// regionZones returns the availability zones of a region.
func regionZones(region string) []zone {
	letters, ok := zoneLetters[region]
	if !ok {
		letters = "abc"
	}
	prefix := zoneIDPrefix(region)
	zones := make([]zone, 0, len(letters))
	for i, l := range letters {
		zones = append(zones, zone{
			name: region + string(l),
			id:   prefix + "-az" + itoa(i+1),
		})
	}
	return zones
}

// zoneIDPrefix abbreviates a region name the way AWS zone ids do:
// us-east-1 → use1, ap-northeast-1 → apne1, eu-central-1 → euc1.
func zoneIDPrefix(region string) string {
	parts := strings.Split(region, "-")
	var b strings.Builder
	for i, p := range parts {
		if i == 0 || i == len(parts)-1 {
			b.WriteString(p)
			continue
		}
		switch p {
		case "northeast", "southeast", "northwest", "southwest":
			b.WriteByte(p[0])
			b.WriteByte(p[5])
		default:
			if p != "" {
				b.WriteByte(p[0])
			}
		}
	}
	return b.String()
}

// privateDNSSuffix is the domain of an instance's private DNS name.
func privateDNSSuffix(region string) string {
	if region == "us-east-1" {
		return "ec2.internal"
	}
	return region + ".compute.internal"
}

// publicDNSSuffix is the domain of an instance's public DNS name.
func publicDNSSuffix(region string) string {
	if region == "us-east-1" {
		return "compute-1.amazonaws.com"
	}
	return region + ".compute.amazonaws.com"
}

// regionCatalog is what the server knows about regions: the enabled ones (in
// DescribeRegions order) and the opt-in ones it reports but refuses.
type regionCatalog struct {
	enabled []string
	isOn    map[string]bool
	optIn   []string
}

func newRegionCatalog(fleetRegions []string) *regionCatalog {
	c := &regionCatalog{isOn: map[string]bool{}}
	for _, r := range slices.Concat(DefaultRegions, fleetRegions) {
		if r != "" && !c.isOn[r] {
			c.isOn[r] = true
			c.enabled = append(c.enabled, r)
		}
	}
	for _, r := range optInRegions {
		if !c.isOn[r] {
			c.optIn = append(c.optIn, r)
		}
	}
	return c
}
