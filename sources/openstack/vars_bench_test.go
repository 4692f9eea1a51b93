package openstack

import "testing"

// BenchmarkServerVars measures the translation of one page of servers
// (admin, 2.96) into host vars and legacy groups.
func BenchmarkServerVars(b *testing.B) {
	page, err := decodeServerPage(simPages(b)[7])
	if err != nil {
		b.Fatal(err)
	}
	vc := &varsContext{cloud: "sim", region: "RegionOne", opts: &Options{}}
	b.ReportAllocs()
	for b.Loop() {
		for _, s := range page.Servers {
			serverVars(s, vc)
			legacyGroups(s, vc)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(page.Servers)), "ns/server")
}
