package openstacksim_test

import (
	"io"
	"testing"

	"github.com/gophercloud/gophercloud/v2"

	"github.com/rosterhq/roster/sources/openstack/openstacksim"
)

// BenchmarkServersPage measures a 1000-server page of servers/detail (an
// admin at 2.96, the largest form) end to end through gophercloud, the
// body read but not decoded: the simulator's share of a sync.
func BenchmarkServersPage(b *testing.B) {
	srv := openstacksim.New(openstacksim.Options{Seed: 1, Size: 1000, Regions: []string{"RegionOne"}, Projects: []string{"demo"}})
	base, stop, err := srv.Start(b.Context(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	pc, err := loginErr(b.Context(), openstacksim.AuthURL(base), openstacksim.AdminUser, openstacksim.AdminPassword, "demo")
	if err != nil {
		b.Fatal(err)
	}
	c := computeClient(b, pc, "RegionOne", "2.96")
	url := c.ServiceURL("servers", "detail") + "?limit=1000"
	var n int64
	for b.Loop() {
		resp, err := c.Get(b.Context(), url, nil, &gophercloud.RequestOpts{OkCodes: []int{200}, KeepResponseBody: true})
		if err != nil {
			b.Fatal(err)
		}
		n, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
	}
	b.SetBytes(n)
}
