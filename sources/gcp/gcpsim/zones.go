package gcpsim

import (
	"slices"
	"strings"
)

// catalogRegions are real Compute Engine regions and their zones. Every
// zone of the catalog is visible to every project: an aggregated list
// names each one, with a NO_RESULTS_ON_PAGE warning where a page holds no
// instance of it, as the real API does.
var catalogRegions = []struct {
	region string
	zones  string
}{
	{"asia-east1", "abc"},
	{"asia-northeast1", "abc"},
	{"asia-south1", "abc"},
	{"asia-southeast1", "abc"},
	{"australia-southeast1", "abc"},
	{"europe-north1", "abc"},
	{"europe-west1", "bcd"},
	{"europe-west2", "abc"},
	{"europe-west3", "abc"},
	{"europe-west4", "abc"},
	{"me-central1", "abc"},
	{"northamerica-northeast1", "abc"},
	{"southamerica-east1", "abc"},
	{"us-central1", "abcf"},
	{"us-east1", "bcd"},
	{"us-east4", "abc"},
	{"us-west1", "abc"},
	{"us-west2", "abc"},
}

// DefaultZones are the zones a fleet spreads over when Options.Zones is
// empty.
var DefaultZones = []string{
	"us-central1-a", "us-central1-b", "us-central1-c", "us-east1-b", "us-east1-c",
	"europe-west1-b", "europe-west1-d", "asia-southeast1-a",
}

// DefaultProjects are the projects a fleet spreads over when
// Options.Projects is empty.
var DefaultProjects = []string{"roster-prod", "roster-staging", "roster-dev"}

// zoneInfo is one zone of the catalog.
type zoneInfo struct {
	name   string
	region string
	index  int // position in the catalog (the order aggregated lists use)
	rIndex int // position of the region
	key    string
}

// zoneCatalog holds every zone, sorted by name, plus any zone a fleet was
// created with that the built-in list lacks.
type zoneCatalog struct {
	list   []*zoneInfo
	byName map[string]*zoneInfo
}

func newZoneCatalog(extra []string) *zoneCatalog {
	names := []string{}
	for _, r := range catalogRegions {
		for _, z := range r.zones {
			names = append(names, r.region+"-"+string(z))
		}
	}
	for _, z := range extra {
		if !slices.Contains(names, z) {
			names = append(names, z)
		}
	}
	slices.Sort(names)
	c := &zoneCatalog{byName: map[string]*zoneInfo{}}
	regions := map[string]int{}
	for i, n := range names {
		region := zoneRegion(n)
		ri, ok := regions[region]
		if !ok {
			ri = len(regions)
			regions[region] = ri
		}
		z := &zoneInfo{name: n, region: region, index: i, rIndex: ri, key: "zones/" + n}
		c.list = append(c.list, z)
		c.byName[n] = z
	}
	return c
}

// zoneRegion is the region of a zone: the name without its last dash
// part (us-central1-a → us-central1).
func zoneRegion(zone string) string {
	if i := strings.LastIndexByte(zone, '-'); i > 0 {
		return zone[:i]
	}
	return zone
}
