package forward_test

import (
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
)

// TestMain runs the tests in the user's world: without the variables that
// choose trusted CAs (see testenv.Main).
func TestMain(m *testing.M) { testenv.Main(m) }
