package scheduler_test

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/runner"
)

// running is a pod already bound in a preemption scenario, named by its
// workload.
type running struct {
	name, node string
	prio       int32
	cpu        string // "" requests nothing (best-effort)
	port       int32
	app        string
	deleting   bool
}

type preemptCase struct {
	name    string
	nodes   []events.NodeInfo
	running []running
	prio    int32  // the pending pod's priority
	cpu     string // and its request
	shape   func(*manifest.PodSpec)
	node    string   // where it preempts; "" for nowhere
	victims []string // workloads evicted
	message string   // when it preempts nowhere
}

func TestPreemption(t *testing.T) {
	node := func(name string, cpu int64, pods int64, opts ...func(*events.NodeInfo)) events.NodeInfo {
		return nodeInfo(name, cpu, 64<<30, pods, opts...)
	}
	antiWeb := func(s *manifest.PodSpec) {
		s.Affinity = &manifest.Affinity{PodAntiAffinity: &manifest.PodAntiAffinity{RequiredDuringSchedulingIgnoredDuringExecution: []manifest.PodAffinityTerm{
			{LabelSelector: &manifest.LabelSelector{MatchLabels: map[string]string{"role": "web"}}, TopologyKey: manifest.HostnameTopologyKey}}}}
	}
	cases := []preemptCase{
		{name: "the lowest priority goes",
			nodes:   []events.NodeInfo{node("n1", 2000, 0)},
			running: []running{{name: "a", node: "n1", prio: 1, cpu: "1"}, {name: "b", node: "n1", prio: 2, cpu: "1"}},
			prio:    10, cpu: "1", node: "n1", victims: []string{"a"}},
		{name: "the newest goes among equal priority",
			nodes:   []events.NodeInfo{node("n1", 2000, 0)},
			running: []running{{name: "older", node: "n1", prio: 1, cpu: "1"}, {name: "newer", node: "n1", prio: 1, cpu: "1"}},
			prio:    10, cpu: "1", node: "n1", victims: []string{"newer"}},
		{name: "best-effort goes first among equal priority",
			nodes:   []events.NodeInfo{node("n1", 4000, 2)},
			running: []running{{name: "besteffort", node: "n1", prio: 1}, {name: "requests", node: "n1", prio: 1, cpu: "1"}}, // best-effort is the older
			prio:    10, cpu: "100m", node: "n1", victims: []string{"besteffort"}},
		{name: "the node needing the fewest victims",
			nodes:   []events.NodeInfo{node("n1", 2000, 0), node("n2", 2000, 0)},
			running: []running{{name: "small1", node: "n1", prio: 1, cpu: "1"}, {name: "small2", node: "n1", prio: 1, cpu: "1"}, {name: "big", node: "n2", prio: 3, cpu: "2"}},
			prio:    10, cpu: "2", node: "n2", victims: []string{"big"}},
		{name: "then the lowest highest victim priority",
			nodes:   []events.NodeInfo{node("n1", 2000, 0), node("n2", 2000, 0), node("n3", 2000, 0)},
			running: []running{{name: "five", node: "n1", prio: 5, cpu: "2"}, {name: "three", node: "n2", prio: 3, cpu: "2"}, {name: "three-too", node: "n3", prio: 3, cpu: "2"}},
			prio:    10, cpu: "2", node: "n2", victims: []string{"three"}}, // then by name
		{name: "never a pod of equal or higher priority",
			nodes:   []events.NodeInfo{node("n1", 2000, 0)},
			running: []running{{name: "same", node: "n1", prio: 10, cpu: "1"}, {name: "higher", node: "n1", prio: 11, cpu: "1"}},
			prio:    10, cpu: "1", message: "0/1 nodes are available: 1 Insufficient cpu."},
		{name: "a pod that would not help is spared",
			nodes:   []events.NodeInfo{node("n1", 4000, 0)},
			running: []running{{name: "big", node: "n1", prio: 2, cpu: "3"}, {name: "small", node: "n1", prio: 1, cpu: "500m"}, {name: "vip", node: "n1", prio: 20, cpu: "500m"}},
			prio:    10, cpu: "3", node: "n1", victims: []string{"big"}},
		{name: "a host port",
			nodes:   []events.NodeInfo{node("n1", 8000, 0)},
			running: []running{{name: "holder", node: "n1", prio: 1, cpu: "1", port: 80}, {name: "other", node: "n1", prio: 1, cpu: "1"}},
			prio:    10, cpu: "1", shape: func(s *manifest.PodSpec) {
				s.Containers[0].Ports = []manifest.ContainerPort{{ContainerPort: 80, HostPort: 80}}
			},
			node: "n1", victims: []string{"holder"}},
		{name: "anti-affinity",
			nodes:   []events.NodeInfo{node("n1", 8000, 0)},
			running: []running{{name: "web", node: "n1", prio: 1, cpu: "1", app: "web"}, {name: "db", node: "n1", prio: 1, cpu: "1", app: "db"}},
			prio:    10, cpu: "1", shape: antiWeb, node: "n1", victims: []string{"web"}},
		{name: "not on nodes refused for other reasons",
			nodes:   []events.NodeInfo{node("tainted", 2000, 0, withTaints(gpuTaint)), node("n2", 2000, 0)},
			running: []running{{name: "low", node: "tainted", prio: 1, cpu: "2"}, {name: "high", node: "n2", prio: 100, cpu: "2"}},
			prio:    10, cpu: "1", message: "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint {dedicated: gpu}."},
		{name: "deleting pods are not victims but their room counts",
			nodes:   []events.NodeInfo{node("n1", 3000, 0)},
			running: []running{{name: "leaving", node: "n1", prio: 1, cpu: "1", deleting: true}, {name: "low", node: "n1", prio: 1, cpu: "1"}, {name: "lower", node: "n1", prio: 0, cpu: "1"}},
			prio:    10, cpu: "2", node: "n1", victims: []string{"lower"}},
		{name: "not when the victims cannot make room",
			nodes:   []events.NodeInfo{node("n1", 2000, 0)},
			running: []running{{name: "low", node: "n1", prio: 1, cpu: "500m"}, {name: "high", node: "n1", prio: 50, cpu: "1500m"}},
			prio:    10, cpu: "1", message: "0/1 nodes are available: 1 Insufficient cpu."},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { runPreemptCase(t, tc) })
	}
}

func runPreemptCase(t *testing.T, tc preemptCase) {
	w := newWorld(t)
	w.heartbeat(tc.nodes...)
	podOf := map[string]events.PodPlanned{}
	for i, r := range tc.running {
		r := r
		dep := shaped(r.name, 1, r.cpu, "", func(s *manifest.PodSpec) {
			withPriority(r.prio)(s)
			if r.port > 0 {
				s.Containers[0].Ports = []manifest.ContainerPort{{ContainerPort: 80, HostPort: r.port}}
			}
		})
		if r.app != "" {
			dep.Deployment().Template.Metadata.Labels["role"] = r.app
		}
		p := w.bound(dep, fmt.Sprintf("uid-run-%d", i), r.node, 1)[0]
		if r.deleting {
			w.apply(w.l.Deleted(p, r.node, 1, "scaled down"))
		}
		podOf[r.name] = p
	}
	shape := func(s *manifest.PodSpec) {
		withPriority(tc.prio)(s)
		if tc.shape != nil {
			tc.shape(s)
		}
	}
	pending := w.pending(shaped("vip", 1, tc.cpu, "", shape), "uid-vip", 1)[0]
	ds := w.decide()
	o := outcomes(t, ds)
	if tc.node == "" {
		if len(o.evicted) > 0 || o.unsched[pending.Name] == nil || o.unsched[pending.Name].Message != tc.message {
			t.Fatalf("want no preemption and %q; decisions:\n%s", tc.message, show(ds))
		}
		return
	}
	u := o.unsched[pending.Name]
	if want := fmt.Sprintf("preempting %d pod(s) on node %s", len(tc.victims), tc.node); u == nil || u.Message != want {
		t.Fatalf("want %q; decisions:\n%s", want, show(ds))
	}
	var got []string
	for _, e := range o.evicted {
		got = append(got, strings.SplitN(e.Name, "-", 2)[0])
	}
	sort.Strings(got)
	want := append([]string(nil), tc.victims...)
	sort.Strings(want)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("victims %v, want %v; decisions:\n%s", got, want, show(ds))
	}
	// Every decision of the batch shares one atomic key; each eviction
	// names the preemptor, expects the victim's fence and is copied to its node.
	key := fmt.Sprintf("preempt/%s/1", pending.UID)
	for _, d := range ds {
		if d.Atomic != key {
			t.Errorf("%s: atomic %q, want %q", d.MsgID, d.Atomic, key)
		}
		e, ok := d.Event.(*events.PodDeleted)
		if !ok {
			continue
		}
		vp := w.c.Pods[projections.Key(e.Namespace, e.Name)]
		if e.Reason != "preempted" || e.PreemptedBy != ns+"/"+pending.Name || e.Node != tc.node || e.Epoch != vp.Epoch || e.UID != vp.UID ||
			d.Subject != events.PodDecisionSubject(ns, e.Name) || len(d.CopyTo) != 1 || d.CopyTo[0] != events.NodePodSubject(tc.node, ns, e.Name) ||
			d.ExpectLastSeq == nil || *d.ExpectLastSeq != vp.LastDecisionSeq || d.MsgID != fmt.Sprintf("delete/%s/%d", vp.UID, vp.Epoch) {
			t.Errorf("eviction:\n%s", show([]runner.Decision{d}))
		}
		if vp.Spec.Priority == nil || *vp.Spec.Priority >= tc.prio {
			t.Errorf("evicted %s of priority %v, not lower than %d", e.Name, vp.Spec.Priority, tc.prio)
		}
	}
}

// The whole story: a high-priority pod preempts, waits for its victims to
// stop while holding their room against lower pods, then binds there.
func TestPreemptorBindsOnceItsVictimsAreGone(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 2000, 8<<30, 0), pt.NodeInfo("n2", 2000, 8<<30, 0))
	low := w.bound(shaped("low", 1, "2", "", withPriority(1)), "w0", "n1", 1)[0]
	w.bound(shaped("mid", 1, "2", "", withPriority(5)), "w1", "n2", 1)
	vip := w.pending(shaped("vip", 1, "2", "", withPriority(10)), "w2", 1)[0]

	ds := w.decide()
	o := outcomes(t, ds)
	if o.evicted[low.Name] == nil || len(o.evicted) != 1 || o.unsched[vip.Name] == nil {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	if refused := w.storeBatch(ds); len(refused) != 0 {
		t.Fatalf("refused %v", refused)
	}
	if p := w.c.Pods[projections.Key(ns, low.Name)]; !p.Deleting || p.DeleteReason != "preempted" {
		t.Fatalf("victim %+v", p)
	}

	// While the victim stops: nothing new for vip, and a lower pod that
	// arrives does not take the room vip preempted for.
	late := w.pending(shaped("late", 1, "2", "", withPriority(1)), "w3", 1)[0]
	ds = w.decide()
	o = outcomes(t, ds)
	if len(o.bound) != 0 || len(o.evicted) != 0 || o.unsched[vip.Name] != nil || o.unsched[late.Name] == nil {
		t.Fatalf("while the victim stops:\n%s", show(ds))
	}
	w.storeAll(ds)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("said again:\n%s", show(ds))
	}

	// The node removes the victim: vip binds there, late still waits.
	w.apply(w.l.Removed("n1", low, 1))
	ds = w.decide()
	o = outcomes(t, ds)
	if o.bound[vip.Name] != "n1" || o.bound[late.Name] != "" {
		t.Fatalf("after the removal:\n%s", show(ds))
	}
	w.storeAll(ds)
	if p := w.c.Pods[projections.Key(ns, vip.Name)]; p.Node != "n1" {
		t.Errorf("vip = %+v", p)
	}
}

// A batch the log refuses (a victim changed meanwhile) stores nothing; the
// scheduler decides again from what it then sees.
func TestARefusedPreemptionStoresNothing(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 2000, 8<<30, 0))
	low := w.bound(shaped("low", 2, "1", "", withPriority(1)), "w0", "n1", 2)
	w.pending(shaped("vip", 1, "2", "", withPriority(10)), "w2", 1)
	ds := w.decide()
	if len(outcomes(t, ds).evicted) != 2 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	// The replica service scales low down first: one victim's subject moves.
	w.apply(w.l.Deleted(low[0], "n1", 1, "scaled down"))
	before := len(w.l.Records)
	if refused := w.storeBatch(ds); len(refused) != 1 || len(w.l.Records) != before {
		t.Fatalf("refused %v, stored %d", refused, len(w.l.Records)-before)
	}
	// Deciding again: only the other pod is a victim now.
	o := outcomes(t, w.decide())
	if len(o.evicted) != 1 || o.evicted[low[1].Name] == nil {
		t.Errorf("evicted %v", o.evicted)
	}
}
