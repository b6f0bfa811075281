package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestTaintTolerationScore(t *testing.T) {
	s := TaintTolerationScore{}
	if s.Name() != NameTaintToleration {
		t.Errorf("name %q", s.Name())
	}
	spot := manifest.Taint{Key: "spot", Value: "true", Effect: manifest.TaintPreferNoSchedule}
	old := manifest.Taint{Key: "old", Effect: manifest.TaintPreferNoSchedule}
	hard := manifest.Taint{Key: "dedicated", Value: "gpu", Effect: manifest.TaintNoSchedule}
	nodes := []*NodeState{
		testNode("clean", 1, 1, 0),
		testNode("hard-only", 1, 1, 0, taints(hard)),
		testNode("spot", 1, 1, 0, taints(spot)),
		testNode("spot-old", 1, 1, 0, taints(spot, old)),
	}
	cases := []struct {
		name string
		tols []manifest.Toleration
		want map[string]int64
	}{
		{"no tolerations", nil, map[string]int64{"clean": 100, "hard-only": 100, "spot": 50, "spot-old": 33}},
		{"tolerates spot", []manifest.Toleration{{Key: "spot", Operator: "Exists"}}, map[string]int64{"clean": 100, "hard-only": 100, "spot": 100, "spot-old": 50}},
	}
	for _, tc := range cases {
		p := prepareOn(testPod(tolerate(tc.tols...)), nodes...)
		if !s.Relevant(p) {
			t.Errorf("%s: not relevant in a cluster with PreferNoSchedule taints", tc.name)
		}
		for _, n := range nodes {
			if got := s.Score(p, n); got != tc.want[n.Name] {
				t.Errorf("%s: %s: %d, want %d", tc.name, n.Name, got, tc.want[n.Name])
			}
		}
	}
	if p := prepareOn(testPod(), nodes[:2]...); s.Relevant(p) {
		t.Error("relevant in a cluster without PreferNoSchedule taints")
	}
}
