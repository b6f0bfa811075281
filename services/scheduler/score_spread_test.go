package scheduler

import "testing"

func TestWorkloadSpreadScore(t *testing.T) {
	s := WorkloadSpread{}
	if s.Name() != NameWorkloadSpread || s.Relevant(testPod()) || !s.Relevant(testPod(ownedBy("w1"))) {
		t.Errorf("name %q; relevant only to owned pods", s.Name())
	}
	cases := []struct {
		name   string
		others map[string]int // owner → pods on the node
		want   int64
	}{
		{"none of its pods on the node", map[string]int{"other": 3}, 100},
		{"one of its pods", map[string]int{"w1": 1}, 50},
		{"two of its pods", map[string]int{"w1": 2}, 33},
		{"nine of its pods", map[string]int{"w1": 9, "other": 1}, 10},
	}
	for _, tc := range cases {
		n := testNode("n1", 1000, 1<<30, 0)
		for owner, k := range tc.others {
			for i := 0; i < k; i++ {
				on(n, testPod(ownedBy(owner)))
			}
		}
		if got := s.Score(prepareOn(testPod(ownedBy("w1")), n), n); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
}
