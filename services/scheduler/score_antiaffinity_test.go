package scheduler

import (
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
)

func TestPodAntiAffinityPreferredScore(t *testing.T) {
	s := PodAntiAffinityPreferred{}
	if s.Name() != NamePodAntiAffinity || s.Relevant(testPod()) {
		t.Errorf("name %q; relevant without preferences", s.Name())
	}
	weighted := func(w int32, key string, sel *manifest.LabelSelector) manifest.WeightedPodAffinityTerm {
		return manifest.WeightedPodAffinityTerm{Weight: w, PodAffinityTerm: manifest.PodAffinityTerm{LabelSelector: sel, TopologyKey: key}}
	}
	nodes := []*NodeState{
		on(testNode("web-and-db", 1, 1, 0, labels("zone", "a")), testPod(podLabels("app", "web")), testPod(podLabels("app", "db"))),
		on(testNode("web", 1, 1, 0, labels("zone", "b")), testPod(podLabels("app", "web"))),
		on(testNode("db-zone-a", 1, 1, 0, labels("zone", "a"))),
		testNode("empty", 1, 1, 0, labels("zone", "c")),
	}
	p := prepareOn(testPod(spec(func(sp *manifest.PodSpec) {
		sp.Affinity = &manifest.Affinity{PodAntiAffinity: &manifest.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []manifest.WeightedPodAffinityTerm{
			weighted(75, manifest.HostnameTopologyKey, selector("app", "web")),
			weighted(25, "zone", selector("app", "db")),
		}}}
	})), nodes...)
	if !s.Relevant(p) {
		t.Fatal("not relevant")
	}
	want := map[string]int64{"web-and-db": 0, "web": 25, "db-zone-a": 75, "empty": 100}
	for _, n := range nodes {
		if got := s.Score(p, n); got != want[n.Name] {
			t.Errorf("%s: %d, want %d", n.Name, got, want[n.Name])
		}
	}
}
