package scheduler_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/scheduler"
)

// Index counts every pod bound and not terminal against its node, deleting
// ones included (they still run until the node removes them).
func TestIndex(t *testing.T) {
	l := pt.NewLog()
	c := projections.NewCluster()
	dep := deployment("web", 1, "500m", "256Mi")
	mk := func(name string) events.PodPlanned { return pt.PodFor(dep, "w1", name, "uid-"+name) }
	running, deleting, failed, pending, unbound, elsewhere := mk("running"), mk("deleting"), mk("failed"), mk("pending"), mk("unbound"), mk("elsewhere")
	old := l.Heartbeat(pt.NodeInfo("n2", 2000, 2<<30, 10))
	l.Advance(time.Minute)
	pt.ApplyAll(c,
		old, l.Heartbeat(pt.NodeInfo("n1", 4000, 4<<30, 10)),
		l.Accepted(dep, "w1", 1),
		l.Planned(running), l.Bound(running, "n1", 1), l.Status("n1", running, 1, events.PhaseRunning, true),
		l.Planned(deleting), l.Bound(deleting, "n1", 1), l.Deleted(deleting, "n1", 1, "scaled down"),
		l.Planned(failed), l.Bound(failed, "n1", 1), l.Status("n1", failed, 1, events.PhaseFailed, false),
		l.Planned(pending), l.Bound(pending, "n1", 1),
		l.Planned(unbound),
		l.Planned(elsewhere), l.Bound(elsewhere, "gone-node", 1),
	)
	nodes := scheduler.Index(c, l.Now)
	if len(nodes) != 2 || nodes[0].Name != "n1" || nodes[1].Name != "n2" {
		t.Fatalf("nodes = %+v", nodes)
	}
	n1, n2 := nodes[0], nodes[1]
	want := map[string]int64{events.ResourceCPU: 1500, events.ResourceMemory: 768 << 20, events.ResourcePods: 3}
	if !reflect.DeepEqual(n1.Requested, want) {
		t.Errorf("n1 requested = %v, want %v (running, deleting, pending)", n1.Requested, want)
	}
	if n1.Owners["w1"] != 3 || !n1.Ready {
		t.Errorf("n1 owners %v ready %v", n1.Owners, n1.Ready)
	}
	if n1.Free(events.ResourceCPU) != 2500 || n1.Free(events.ResourceMemory) != (4<<30)-(768<<20) {
		t.Errorf("n1 free cpu %d mem %d", n1.Free(events.ResourceCPU), n1.Free(events.ResourceMemory))
	}
	if len(n2.Requested) != 0 || n2.Ready {
		t.Errorf("n2 = %+v; its last heartbeat is a minute old, want not ready", n2)
	}
	if got := scheduler.Index(c, l.Now.Add(projections.NodeLostAfter)); got[0].Ready {
		t.Error("n1 still ready after NodeLostAfter without a heartbeat")
	}
}

func TestNodeStateAdd(t *testing.T) {
	n := node("n1", 1000, 1<<30, 2)
	n.Add(podRequesting("300m", "100Mi", &events.OwnerRef{UID: "w1"}))
	n.Add(podRequesting("200m", "", nil))
	if n.Requested[events.ResourceCPU] != 500 || n.Requested[events.ResourceMemory] != 100<<20 || n.Requested[events.ResourcePods] != 2 {
		t.Errorf("requested = %v", n.Requested)
	}
	if n.Owners["w1"] != 1 || len(n.Owners) != 1 {
		t.Errorf("owners = %v", n.Owners)
	}
	if n.Free(events.ResourcePods) != 0 {
		t.Errorf("free pods = %d", n.Free(events.ResourcePods))
	}
}
