package runner_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/services/runner"
)

// The first pass is full; then one every Every; a clock that goes back
// makes one at once; Every at zero makes every pass full.
func TestFullPasses(t *testing.T) {
	t0 := time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)
	f := runner.FullPasses{Every: 10 * time.Second}
	for i, c := range []struct {
		at   time.Duration
		full bool
	}{{0, true}, {time.Second, false}, {9 * time.Second, false}, {10 * time.Second, true}, {11 * time.Second, false}, {5 * time.Second, true}} {
		if got := f.Full(t0.Add(c.at)); got != c.full {
			t.Errorf("pass %d at +%s: full %v, want %v", i, c.at, got, c.full)
		}
	}
	every := runner.FullPasses{}
	if !every.Full(t0) || !every.Full(t0) {
		t.Error("Every 0: not every pass full")
	}
}
