package scheduler_test

import (
	"fmt"
	"math/rand"
	"reflect"
	"testing"

	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/services/scheduler"
)

// The pods of one template share one view of the cluster per pass (spread
// and anti-affinity counts), kept up to date as pods are placed. Whatever
// the cluster, Decide must give exactly what it gives when every pod works
// out its own view afresh.
func TestSharedViewsDecideAsFreshOnes(t *testing.T) {
	check := func(t *testing.T, name string, w *world) {
		t.Helper()
		fresh := scheduler.New()
		fresh.FreshViews()
		for _, r := range w.l.Records {
			fresh.Apply(r)
		}
		got, want := w.svc.Decide(w.l.Now), fresh.Decide(w.l.Now)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%s: shared views decide\n%s\nfresh views decide\n%s", name, show(got), show(want))
		}
	}
	rng := rand.New(rand.NewSource(20261122))
	for trial := range 200 {
		w := newWorld(t)
		randomCluster(rng, w, newOracle())
		check(t, fmt.Sprintf("random cluster %d", trial), w)
	}
	// Large templates: many pods of each share a view across the pass.
	for trial := range 20 {
		w := newWorld(t)
		for i := range 12 + rng.Intn(20) {
			w.heartbeat(nodeInfo(fmt.Sprintf("n%02d", i), 8000, 32<<30, 110, withLabels("zone", []string{"a", "b", "c"}[i%3])))
		}
		for d := range 2 + rng.Intn(5) {
			app := fmt.Sprintf("app%d", d)
			dep := shaped(app, 1, "100m", "64Mi", func(s *manifest.PodSpec) {
				sel := &manifest.LabelSelector{MatchLabels: map[string]string{"app": app}}
				if rng.Intn(2) == 0 {
					s.TopologySpreadConstraints = append(s.TopologySpreadConstraints, manifest.TopologySpreadConstraint{
						MaxSkew: int32(1 + rng.Intn(2)), TopologyKey: "zone", WhenUnsatisfiable: []string{"DoNotSchedule", "ScheduleAnyway"}[rng.Intn(2)], LabelSelector: sel})
				}
				if rng.Intn(2) == 0 {
					s.TopologySpreadConstraints = append(s.TopologySpreadConstraints, manifest.TopologySpreadConstraint{
						MaxSkew: 1, TopologyKey: manifest.HostnameTopologyKey, WhenUnsatisfiable: "ScheduleAnyway", LabelSelector: sel})
				}
				anti := &manifest.PodAntiAffinity{}
				if rng.Intn(3) == 0 {
					anti.RequiredDuringSchedulingIgnoredDuringExecution = []manifest.PodAffinityTerm{{LabelSelector: sel, TopologyKey: manifest.HostnameTopologyKey}}
				}
				if rng.Intn(2) == 0 {
					anti.PreferredDuringSchedulingIgnoredDuringExecution = []manifest.WeightedPodAffinityTerm{{Weight: 50,
						PodAffinityTerm: manifest.PodAffinityTerm{LabelSelector: sel, TopologyKey: manifest.HostnameTopologyKey}}}
				}
				s.Affinity = &manifest.Affinity{PodAntiAffinity: anti}
			})
			dep.Deployment().Template.Metadata.Labels["app"] = app
			for _, p := range w.pending(dep, "uid-"+app, 10+rng.Intn(40)) {
				if rng.Intn(4) == 0 {
					w.apply(w.l.Bound(p, fmt.Sprintf("n%02d", rng.Intn(12)), 1))
				}
			}
		}
		check(t, fmt.Sprintf("large templates %d", trial), w)
	}
}
