package vault_test

import (
	"testing"

	"github.com/rosterhq/roster/internal/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }
