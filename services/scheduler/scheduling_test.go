package scheduler_test

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/scheduler"
)

var gpuTaint = manifest.Taint{Key: "dedicated", Value: "gpu", Effect: manifest.TaintNoSchedule}

func TestUnschedulableReadsLikeKubernetes(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 4; i++ {
		w.heartbeat(nodeInfo(fmt.Sprintf("small-%d", i), 4000, 1<<30, 0))
	}
	w.heartbeat(nodeInfo("gpu-0", 4000, 64<<30, 0, withTaints(gpuTaint)))
	w.pending(deployment("web", 1, "1", "8Gi"), "w1", 1)
	u := outcomes(t, w.decide()).unsched["web-001"]
	want := "0/5 nodes are available: 4 Insufficient memory, 1 node(s) had untolerated taint {dedicated: gpu}."
	if u == nil || u.Message != want {
		t.Fatalf("got %+v, want %q", u, want)
	}
	if !reflect.DeepEqual(u.Reasons, map[string]int{"Insufficient memory": 4, "node(s) had untolerated taint {dedicated: gpu}": 1}) {
		t.Errorf("reasons = %v", u.Reasons)
	}
}

func TestPolicyChoosesBinPackingOrSpreading(t *testing.T) {
	for _, tc := range []struct {
		cfg  []scheduler.Config
		want string
	}{
		{nil, "busy"}, // the default packs
		{[]scheduler.Config{{Policy: scheduler.PolicyBinPack}}, "busy"},
		{[]scheduler.Config{{Policy: scheduler.PolicySpread}}, "idle"},
	} {
		w := newWorld(t, tc.cfg...)
		w.heartbeat(pt.NodeInfo("busy", 4000, 8<<30, 0), pt.NodeInfo("idle", 4000, 8<<30, 0))
		w.bound(deployment("old", 1, "2", "4Gi"), "w0", "busy", 1)
		w.pending(deployment("web", 1, "1", "1Gi"), "w1", 1)
		o := outcomes(t, w.decide())
		if o.bound["web-002"] != tc.want {
			t.Errorf("config %+v: bound %v, want %s", tc.cfg, o.bound, tc.want)
		}
	}
	if err := (scheduler.Config{Policy: "random"}).Validate(); err == nil {
		t.Error("an unknown policy is accepted")
	}
}

func TestCordonedNodesTakeNoNewPods(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 4000, 8<<30, 0), pt.NodeInfo("n2", 4000, 8<<30, 0))
	w.cordon("n1", true)
	w.pending(deployment("web", 2, "100m", ""), "w1", 2)
	o := outcomes(t, w.decide())
	if o.bound["web-001"] != "n2" || o.bound["web-002"] != "n2" {
		t.Fatalf("bound %v, want both on n2", o.bound)
	}
	w.cordon("n2", true)
	w.pending(deployment("api", 1, "100m", ""), "w2", 1)
	ds := w.decide()
	if u := outcomes(t, ds).unsched["api-003"]; u == nil || u.Message != "0/2 nodes are available: 2 node(s) were unschedulable." {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.storeAll(ds)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("said again:\n%s", show(ds))
	}
	w.cordon("n1", false) // uncordon: the pod is examined again
	if o := outcomes(t, w.decide()); o.bound["api-003"] != "n1" {
		t.Errorf("after uncordon: %v", o.bound)
	}
}

func TestExtendedResourcesAreNeverOvercommitted(t *testing.T) {
	const gpu = "example.com/gpu"
	w := newWorld(t)
	w.heartbeat(nodeInfo("cpu-only", 8000, 16<<30, 0), nodeInfo("gpu-2", 8000, 16<<30, 0, withResource(gpu, 2)),
		nodeInfo("gpu-1", 8000, 16<<30, 0, withResource(gpu, 1)))
	dep := shaped("train", 5, "1", "1Gi", func(s *manifest.PodSpec) {
		s.Containers[0].Resources.Requests[gpu] = manifest.MustQuantity("1")
	})
	w.pending(dep, "w1", 5)
	ds := w.decide()
	o := outcomes(t, ds)
	if o.perNode["gpu-2"] != 2 || o.perNode["gpu-1"] != 1 || o.perNode["cpu-only"] != 0 || len(o.unsched) != 2 {
		t.Fatalf("per node %v, unschedulable %d:\n%s", o.perNode, len(o.unsched), show(ds))
	}
	for _, u := range o.unsched {
		if u.Message != "0/3 nodes are available: 3 Insufficient example.com/gpu." {
			t.Errorf("message %q", u.Message)
		}
	}
}

func TestFiltersAndScoresNamedInTheBinding(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(nodeInfo("n1", 4000, 8<<30, 10, withLabels("zone", "a", "disk", "ssd")),
		nodeInfo("n2", 4000, 8<<30, 10, withLabels("zone", "b")))
	dep := shaped("web", 1, "1", "1Gi", func(s *manifest.PodSpec) {
		sel := &manifest.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
		s.NodeSelector = map[string]string{"zone": "a"}
		s.Containers[0].Ports = []manifest.ContainerPort{{ContainerPort: 80, HostPort: 8080}}
		s.Affinity = &manifest.Affinity{
			NodeAffinity: &manifest.NodeAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []manifest.PreferredSchedulingTerm{
				{Weight: 10, Preference: manifest.NodeSelectorTerm{MatchExpressions: []manifest.NodeSelectorRequirement{{Key: "disk", Operator: "In", Values: []string{"ssd"}}}}}}},
			PodAntiAffinity: &manifest.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []manifest.PodAffinityTerm{
				{LabelSelector: sel, TopologyKey: manifest.HostnameTopologyKey}}},
		}
		s.TopologySpreadConstraints = []manifest.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", LabelSelector: sel}}
	})
	dep.Deployment().Template.Metadata.Annotations = map[string]string{manifest.AnnotationPlacement: "node.allocatable.cpu >= 2000"}
	w.pending(dep, "w1", 1)
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	b := ds[0].Event.(*events.PodBound)
	wantFilters := []string{"NodeReady", "NodeUnschedulable", "TaintToleration", "NodeAffinity", "PlacementRule",
		"PodCount", "ResourceFit", "HostPorts", "PodAntiAffinity", "TopologySpread"}
	if b.Node != "n1" || !reflect.DeepEqual(b.Filters, wantFilters) {
		t.Errorf("bound to %s with filters %v", b.Node, b.Filters)
	}
	// Once placed on n1: cpu 1000/4000 = 25, memory 1Gi/8Gi = 12 → 18.
	wantScores := []events.Score{{Name: "MostAllocated", Score: 18}, {Name: "WorkloadSpread", Score: 100}, {Name: "NodeAffinity", Score: 100}}
	if !reflect.DeepEqual(b.Scores, wantScores) {
		t.Errorf("scores %v, want %v", b.Scores, wantScores)
	}
}

func TestRequiredAntiAffinityWithinOnePass(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 8000, 8<<30, 0), pt.NodeInfo("n2", 8000, 8<<30, 0))
	dep := shaped("web", 3, "100m", "", func(s *manifest.PodSpec) {
		s.Affinity = &manifest.Affinity{PodAntiAffinity: &manifest.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []manifest.PodAffinityTerm{
			{LabelSelector: &manifest.LabelSelector{MatchLabels: map[string]string{"app": "web"}}, TopologyKey: manifest.HostnameTopologyKey}}}}
	})
	w.pending(dep, "w1", 3)
	o := outcomes(t, w.decide())
	if o.perNode["n1"] != 1 || o.perNode["n2"] != 1 {
		t.Errorf("per node %v, want one each", o.perNode)
	}
	if u := o.unsched["web-003"]; u == nil || u.Message != "0/2 nodes are available: 2 node(s) didn't match pod anti-affinity rules." {
		t.Errorf("third replica: %+v", u)
	}
}

func TestTopologySpreadWithinOnePass(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(nodeInfo("a1", 8000, 8<<30, 0, withLabels("zone", "a")), nodeInfo("a2", 8000, 8<<30, 0, withLabels("zone", "a")),
		nodeInfo("b1", 8000, 8<<30, 0, withLabels("zone", "b")), nodeInfo("c1", 8000, 8<<30, 0, withLabels("zone", "c")))
	dep := shaped("web", 7, "100m", "", func(s *manifest.PodSpec) {
		s.TopologySpreadConstraints = []manifest.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
			LabelSelector: &manifest.LabelSelector{MatchLabels: map[string]string{"app": "web"}}}}
	})
	w.pending(dep, "w1", 7)
	o := outcomes(t, w.decide())
	zones := map[string]int{}
	for _, node := range o.bound {
		zones[node[:1]]++
	}
	if !reflect.DeepEqual(zones, map[string]int{"a": 3, "b": 2, "c": 2}) && !reflect.DeepEqual(zones, map[string]int{"a": 2, "b": 3, "c": 2}) &&
		!reflect.DeepEqual(zones, map[string]int{"a": 2, "b": 2, "c": 3}) {
		t.Errorf("per zone %v, want 3/2/2 in some order", zones)
	}
}

func TestHostPortsWithinOnePass(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 8000, 8<<30, 0), pt.NodeInfo("n2", 8000, 8<<30, 0))
	dep := shaped("lb", 3, "", "", func(s *manifest.PodSpec) {
		s.Containers[0].Ports = []manifest.ContainerPort{{ContainerPort: 80, HostPort: 80}}
	})
	w.pending(dep, "w1", 3)
	o := outcomes(t, w.decide())
	if o.perNode["n1"] != 1 || o.perNode["n2"] != 1 || o.unsched["lb-003"] == nil ||
		o.unsched["lb-003"].Message != "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports." {
		t.Errorf("per node %v, unschedulable %v", o.perNode, o.unsched)
	}
}

func TestPlacementRuleThroughDecide(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(nodeInfo("n1", 8000, 8<<30, 0, withLabels("zone", "a")), nodeInfo("n2", 8000, 8<<30, 0, withLabels("zone", "c")),
		nodeInfo("n3", 8000, 8<<30, 0))
	rule := func(name, r string) manifest.Object {
		d := deployment(name, 1, "", "")
		d.Deployment().Template.Metadata.Annotations = map[string]string{manifest.AnnotationPlacement: r}
		return d
	}
	w.pending(rule("ok", "'zone' in node.labels && node.labels['zone'] in ['b', 'c']"), "w1", 1)
	w.pending(rule("err", "node.labels['zone'] == 'q'"), "w2", 1)
	o := outcomes(t, w.decide())
	if o.bound["ok-001"] != "n2" {
		t.Errorf("bound %v", o.bound)
	}
	u := o.unsched["err-002"]
	if u == nil || u.Message != "0/3 nodes are available: 2 node(s) didn't match placement rule, 1 node(s) didn't match placement rule: "+
		"no such key: zone (test for a key before reading it: 'zone' in node.labels && node.labels['zone'] == 'a')." {
		t.Errorf("unschedulable: %+v", u)
	}
}

func TestHigherPriorityPodsArePlacedFirst(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 0))
	w.pending(shaped("low", 1, "1", "", withPriority(0)), "w1", 1)
	w.pending(shaped("high", 1, "1", "", withPriority(100)), "w2", 1)
	o := outcomes(t, w.decide())
	if o.bound["high-002"] != "n1" || o.unsched["low-001"] == nil {
		t.Errorf("bound %v unschedulable %v", o.bound, o.unsched)
	}
}

// Over more than 100 nodes a scan stops after max(100, 5%) feasible nodes,
// and the next pod's scan starts where it stopped.
func TestScansRotateOverLargeClusters(t *testing.T) {
	w := newWorld(t)
	for i := 0; i < 300; i++ {
		w.heartbeat(pt.NodeInfo(fmt.Sprintf("node-%03d", i), 4000, 8<<30, 0))
	}
	for i := 0; i < 3; i++ {
		w.pending(deployment(fmt.Sprintf("app%d", i), 1, "100m", ""), fmt.Sprintf("w%d", i), 1)
	}
	ds := w.decide()
	o := outcomes(t, ds)
	got := []string{o.bound["app0-001"], o.bound["app1-002"], o.bound["app2-003"]}
	if want := []string{"node-000", "node-100", "node-200"}; !slices.Equal(got, want) {
		t.Errorf("bound %v, want %v", got, want)
	}
	for _, d := range ds {
		if f := d.Event.(*events.PodBound).Feasible; f != 100 {
			t.Errorf("feasible %d, want 100", f)
		}
	}
	// The next pass starts where the log says: it holds 3 bindings, so the
	// scan covers node-003 … node-102, and bin packing picks the one node
	// there already in use (node-000, used too, is outside the window).
	w.storeAll(ds)
	w.pending(deployment("app3", 1, "100m", ""), "w3", 1)
	if o := outcomes(t, w.decide()); o.bound["app3-004"] != "node-100" {
		t.Errorf("next pass bound %v, want node-100", o.bound)
	}
}

func TestSoftPreferencesSteerPlacement(t *testing.T) {
	spot := manifest.Taint{Key: "spot", Value: "true", Effect: manifest.TaintPreferNoSchedule}
	w := newWorld(t)
	// Alike but for the taint: without it, the tie would go to a-spot.
	w.heartbeat(nodeInfo("a-spot", 4000, 8<<30, 0, withTaints(spot)), nodeInfo("b-clean", 4000, 8<<30, 0))
	w.pending(deployment("plain", 1, "100m", ""), "w1", 1)
	if o := outcomes(t, w.decide()); o.bound["plain-001"] != "b-clean" {
		t.Errorf("plain bound %v", o.bound)
	}

	w = newWorld(t)
	w.heartbeat(nodeInfo("b-x", 4000, 8<<30, 0, withLabels("zone", "x")), nodeInfo("c-y", 4000, 8<<30, 0, withLabels("zone", "y")))
	w.bound(labelled(deployment("old", 2, "100m", ""), "web"), "w0", "b-x", 2)
	soft := shaped("web", 1, "100m", "", func(s *manifest.PodSpec) {
		s.TopologySpreadConstraints = []manifest.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone", WhenUnsatisfiable: "ScheduleAnyway",
			LabelSelector: &manifest.LabelSelector{MatchLabels: map[string]string{"role": "web"}}}}
	})
	w.pending(labelled(soft, "web"), "w2", 1)
	// Zone x holds two role=web pods, zone y none: the spread score (×2)
	// outweighs bin packing's pull toward the busier b-x.
	if o := outcomes(t, w.decide()); o.bound["web-003"] != "c-y" {
		t.Errorf("web bound %v", o.bound)
	}
}
