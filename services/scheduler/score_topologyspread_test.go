package scheduler

import "testing"

func TestTopologySpreadScore(t *testing.T) {
	s := TopologySpreadScore{}
	if s.Name() != NameTopologySpread || s.Relevant(testPod()) {
		t.Errorf("name %q; relevant without constraints", s.Name())
	}
	web := selector("app", "web")
	mk := func(name, zone string, webs int) *NodeState {
		n := testNode(name, 1, 1, 0)
		if zone != "" {
			n = testNode(name, 1, 1, 0, labels("zone", zone))
		}
		for i := 0; i < webs; i++ {
			on(n, testPod(podLabels("app", "web")))
		}
		return n
	}
	// zone a holds 4, b 2, c 0.
	nodes := []*NodeState{mk("a1", "a", 3), mk("a2", "a", 1), mk("b1", "b", 2), mk("c1", "c", 0), mk("nozone", "", 5)}
	p := prepareOn(testPod(podLabels("app", "web"), spreadOver("zone", 1, "ScheduleAnyway", web)), nodes...)
	if !s.Relevant(p) {
		t.Fatal("not relevant")
	}
	want := map[string]int64{"a1": 0, "a2": 0, "b1": 50, "c1": 100, "nozone": 0}
	for _, n := range nodes {
		if got := s.Score(p, n); got != want[n.Name] {
			t.Errorf("%s: %d, want %d", n.Name, got, want[n.Name])
		}
	}
	even := prepareOn(testPod(podLabels("app", "web"), spreadOver("zone", 1, "ScheduleAnyway", web)), mk("x", "a", 1), mk("y", "b", 1))
	if got := s.Score(even, mk("z", "a", 0)); got != 100 {
		t.Errorf("even domains: %d, want 100", got)
	}
}
