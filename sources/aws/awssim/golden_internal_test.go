package awssim

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/fleet_seed42.golden")

// TestFleetGolden pins the fleet a seed gives, byte for byte on the wire:
// DescribeInstances of two regions of a small seed-42 fleet. The generator
// draws through internal/cloudsim, so a change there that moves AWS's
// stream shows here (docs/architecture.md, "Simulators").
func TestFleetGolden(t *testing.T) {
	f := NewFleet(42, 60, []string{"us-east-1", "eu-west-1"})
	var got bytes.Buffer
	for _, region := range []string{"us-east-1", "eu-west-1"} {
		w := getW()
		w.ec2Start("DescribeInstances", "00000000-0000-4000-8000-000000000000")
		w.reservations(f.regions[region].list, f.account)
		w.ec2End("DescribeInstances")
		got.Write(w.b)
		got.WriteByte('\n')
		putW(w)
	}
	path := filepath.Join("testdata", "fleet_seed42.golden")
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./sources/aws/awssim -run TestFleetGolden -update to create it)", err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("the seed-42 fleet differs from %s: a generator change moved AWS's stream; if that is meant, run with -update and review the diff", path)
	}
}
