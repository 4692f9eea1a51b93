package main

import (
	"slices"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// TestSimulateFaultFlags: every simulator takes the same fault flags, and
// the cloud's older name of --deny-scopes (here AWS's --fail-regions)
// still sets it.
func TestSimulateFaultFlags(t *testing.T) {
	for _, cmd := range newSimulateCommand().Commands() {
		for _, name := range []string{"latency", "throttle-every", "throttle-rate", "retry-after", "error-every", "error-rate", "deny-scopes", "fail-after-page", "ops"} {
			if cmd.Flags().Lookup(name) == nil {
				t.Errorf("roster simulate %s has no --%s", cmd.Name(), name)
			}
		}
	}
	var f cloudsim.Faults
	fs := pflag.NewFlagSet("aws", pflag.ContinueOnError)
	addFaultFlags(fs, &f, "fail-regions")
	err := fs.Parse([]string{"--fail-regions", "eu-west-1,us-east-1", "--throttle-every", "3", "--latency", "20ms", "--ops", "DescribeInstances", "--retry-after", "2s"})
	if err != nil {
		t.Fatal(err)
	}
	want := cloudsim.Faults{ThrottleEvery: 3, Latency: 20 * time.Millisecond, RetryAfter: 2 * time.Second,
		DenyScopes: []string{"eu-west-1", "us-east-1"}, Ops: []string{"DescribeInstances"}}
	if !slices.Equal(f.DenyScopes, want.DenyScopes) || !slices.Equal(f.Ops, want.Ops) ||
		f.ThrottleEvery != want.ThrottleEvery || f.Latency != want.Latency || f.RetryAfter != want.RetryAfter {
		t.Fatalf("faults %+v, want %+v", f, want)
	}
	if fl := fs.Lookup("fail-regions"); fl == nil || !fl.Hidden {
		t.Fatalf("--fail-regions is not a hidden alias: %+v", fl)
	}
}
