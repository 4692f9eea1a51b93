package api_test

import (
	"os"
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestMain runs the tests in the user's world: without the variables that
// choose trusted CAs (see testenv.Main); or, started by a benchmark with
// simProcessEnv, serves the EC2 simulator in a process of its own, or with
// crowdProcessEnv runs a crowd of clients.
func TestMain(m *testing.M) {
	if size := os.Getenv(simProcessEnv); size != "" {
		os.Exit(serveSimulator(size))
	}
	if spec := os.Getenv(crowdProcessEnv); spec != "" {
		os.Exit(runCrowd(spec))
	}
	testenv.Main(m)
}
