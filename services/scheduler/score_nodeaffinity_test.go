package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestNodeAffinityPreferredScore(t *testing.T) {
	s := NodeAffinityPreferred{}
	if s.Name() != NameNodeAffinity || s.Relevant(testPod()) {
		t.Errorf("name %q; relevant without preferences", s.Name())
	}
	pref := func(w int32, t manifest.NodeSelectorTerm) manifest.PreferredSchedulingTerm {
		return manifest.PreferredSchedulingTerm{Weight: w, Preference: t}
	}
	p := testPod(preferredAffinity(pref(80, term(req("disk", "In", "ssd"))), pref(20, term(req("zone", "In", "a")))))
	if !s.Relevant(p) {
		t.Fatal("not relevant")
	}
	cases := []struct {
		node *NodeState
		want int64
	}{
		{testNode("both", 1, 1, 0, labels("disk", "ssd", "zone", "a")), 100},
		{testNode("ssd", 1, 1, 0, labels("disk", "ssd", "zone", "b")), 80},
		{testNode("zone", 1, 1, 0, labels("disk", "hdd", "zone", "a")), 20},
		{testNode("none", 1, 1, 0), 0},
	}
	for _, tc := range cases {
		if got := s.Score(p, tc.node); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.node.Name, got, tc.want)
		}
	}
}
