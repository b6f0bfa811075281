package rollout

import (
	"slices"
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

// The rolling arithmetic, with worked numbers (as Kubernetes' rolling.go
// tests it): one step of scaleUp then scaleDown, as a pass decides.
func TestRollingArithmetic(t *testing.T) {
	type tc struct {
		name                string
		replicas, surge, un int32
		cap                 int32 // 0: replicas
		newSet              set
		old                 []set
		wantNew             int32
		wantOld             []int32
	}
	for _, c := range []tc{
		// 10 at 25 %/25 %: surge 3, unavailable 2. Room 13 - 10 = 3 → new
		// 3; available 10 - 8 = 2 → old 8.
		{"first step", 10, 3, 2, 0, set{}, []set{{10, 10, 10}}, 3, []int32{8}},
		// New 3 (3 available), old 8: room 13 - 11 = 2 → new 5; available
		// 11 - 8 = 3 → old 5.
		{"second step", 10, 3, 2, 0, set{3, 3, 3}, []set{{8, 8, 8}}, 5, []int32{5}},
		// Old scaled to 8 but its 2 extra pods not gone yet: size 10 + 3 =
		// 13, no room; available min(8, 10) + 0 = 8: nothing more.
		{"old pods still going", 10, 3, 2, 0, set{3, 3, 0}, []set{{8, 10, 10}}, 3, []int32{8}},
		// Odd count: 5 at 25 %/25 % → surge ⌈1.25⌉ = 2, unavailable
		// ⌊1.25⌋ = 1. Room 7 - 5 = 2 → new 2; available 5 - 4 = 1 → old 4.
		{"odd count", 5, 2, 1, 0, set{}, []set{{5, 5, 5}}, 2, []int32{4}},
		// Surge 0, unavailable 1: no room until an old pod goes; old 5 → 4.
		{"surge 0", 5, 0, 1, 0, set{}, []set{{5, 5, 5}}, 0, []int32{4}},
		// Then room 5 - 4 = 1 → new 1; new unavailable 1: room for old
		// unhealthy 0, available 4 - 4 = 0 → old stays 4.
		{"surge 0, next", 5, 0, 1, 0, set{0, 0, 0}, []set{{4, 4, 4}}, 1, []int32{4}},
		// Old with 4 of 10 crashing (6 available), new 3 unavailable:
		// unhealthy room 13 - 8 - 3 = 2 → old 8; available 6 < 8: no more.
		{"unhealthy old first", 10, 3, 2, 0, set{3, 3, 0}, []set{{10, 10, 6}}, 3, []int32{8}},
		// Two old revisions (a second update mid-rollout): oldest first.
		// New C 0; A 4 (4 available), B 6 (6 available), 10 at 3/2: room
		// 13 - 10 = 3 → C 3; available 10 - 8 = 2 taken from A → A 2.
		{"two old revisions", 10, 3, 2, 0, set{}, []set{{4, 4, 4}, {6, 6, 6}}, 3, []int32{2, 6}},
		// A canary step of 20 % of 10 (cap 2): the new one grows to 2 and
		// the old ones keep 8 (the step's rest), whatever is available.
		{"canary cap", 10, 3, 2, 2, set{}, []set{{10, 10, 10}}, 2, []int32{8}},
		// Scaled down to 4 mid-rollout (surge 1): new 5 ≥ 4, old 6 → total
		// 11 > 5 allowed: old 0 first, new 5 (trimmed to the cap 4 after).
		{"scaled down mid-rollout", 4, 1, 1, 0, set{5, 5, 5}, []set{{6, 6, 6}}, 4, []int32{0}},
	} {
		t.Run(c.name, func(t *testing.T) {
			cap := c.cap
			if cap == 0 {
				cap = c.replicas
			}
			n := scaleUp(c.replicas, c.surge, cap, c.newSet, c.old)
			next := c.newSet
			next.spec = n
			old := scaleDown(c.replicas, c.un, next, c.old)
			if cap < c.replicas {
				old = keepAtLeast(old, c.old, c.replicas-cap)
			}
			n, old = trim(c.replicas, c.surge, min(n, cap), old)
			if n != c.wantNew || !slices.Equal(old, c.wantOld) {
				t.Errorf("new %d old %v, want new %d old %v", n, old, c.wantNew, c.wantOld)
			}
		})
	}
}

// ResolveBounds rounds surge up and unavailable down, and never lets both
// be 0 (manifest's own table tests the rest).
func TestBoundsAsTheArithmeticUsesThem(t *testing.T) {
	pct := manifest.FromString("25%")
	if s, u := manifest.ResolveBounds(&pct, &pct, 1000); s != 250 || u != 250 {
		t.Errorf("1000 at 25%%/25%%: %d/%d", s, u)
	}
	zero, tenPct := manifest.FromInt(0), manifest.FromString("10%")
	if s, u := manifest.ResolveBounds(&zero, &tenPct, 3); s != 0 || u != 1 {
		t.Errorf("3 at 0/10%%: %d/%d, want 0/1", s, u)
	}
}
