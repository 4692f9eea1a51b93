package cloudsim_test

import (
	"math/rand/v2"
	"testing"

	"github.com/rosterhq/roster/internal/cloudsim"
)

// TestSpread: the first round visits every scope in order, later draws
// favour the first scopes, and the same seed draws the same spread.
func TestSpread(t *testing.T) {
	s := cloudsim.NewSpread(4, 0.5)
	r := rand.New(rand.NewPCG(1, 2))
	counts := make([]int, 4)
	for n := range 4000 {
		i := s.Nth(r, n)
		if n < 4 && i != n {
			t.Fatalf("host %d went to scope %d in the first round", n, i)
		}
		counts[i]++
	}
	if !(counts[0] > counts[1] && counts[1] > counts[2] && counts[2] > counts[3] && counts[3] > 0) {
		t.Fatalf("counts %v do not favour the first scopes", counts)
	}
	a, b := rand.New(rand.NewPCG(9, 9)), rand.New(rand.NewPCG(9, 9))
	for range 100 {
		if s.Pick(a) != s.Pick(b) {
			t.Fatal("the same stream drew different scopes")
		}
	}
}

// TestUniq keeps the first of each non-empty string, in order.
func TestUniq(t *testing.T) {
	got := cloudsim.Uniq([]string{"b", "", "a", "b", "c", "a"})
	if len(got) != 3 || got[0] != "b" || got[1] != "a" || got[2] != "c" {
		t.Fatalf("got %q", got)
	}
}
