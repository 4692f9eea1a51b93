package gcp

import (
	"testing"

	"cloud.google.com/go/compute/apiv1/computepb"

	"github.com/rosterhq/roster/sources/gcp/gcpsim"
)

// BenchmarkHostVars measures the translation of one decoded instance
// (host vars, hostnames, address): Roster's own per-instance work after
// the client library has decoded the page.
func BenchmarkHostVars(b *testing.B) {
	sim, err := gcpsim.New(gcpsim.Options{Seed: 1, Size: 500, Projects: []string{"roster-prod"}})
	if err != nil {
		b.Fatal(err)
	}
	srvURL, stop, err := sim.Start(b.Context(), "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer stop()
	d := Driver{Credentials: sim.KeyFile(srvURL)}
	p, err := d.Open(b.Context(), map[string]any{"projects": "roster-prod", "endpoint_url": srvURL}, nil, discard)
	if err != nil {
		b.Fatal(err)
	}
	pp := p.(*provider)
	ic, _, done, err := pp.clients(b.Context())
	if err != nil {
		b.Fatal(err)
	}
	defer done()
	var list []*computepb.Instance
	it := ic.AggregatedList(b.Context(), &computepb.AggregatedListInstancesRequest{Project: "roster-prod"})
	for {
		pair, err := it.Next()
		if err != nil {
			break
		}
		list = append(list, pair.Value.GetInstances()...)
	}
	if len(list) != 500 {
		b.Fatalf("%d instances", len(list))
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		pp.instance("roster-prod", list[i%len(list)], nil)
		i++
	}
}
