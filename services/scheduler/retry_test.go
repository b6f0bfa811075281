package scheduler_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// An unschedulable pod is examined again only when something happens that
// could let it fit, not on every pass.
func TestUnschedulablePodsAreRetriedOnlyOnRelevantChanges(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 3))
	big := w.pending(deployment("big", 1, "2", ""), "w1", 1)[0]
	ds := w.decide()
	if u := outcomes(t, ds).unsched[big.Name]; u == nil || u.Message != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.storeAll(ds)

	examined := func(step string, want int) {
		t.Helper()
		before := w.svc.Examined()
		ds := w.svc.Decide(w.l.Now)
		if got := w.svc.Examined() - before; got != want {
			t.Errorf("%s: examined %d pods, want %d; decisions:\n%s", step, got, want, show(ds))
		}
		w.storeAll(ds)
	}
	examined("nothing changed", 0)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 3)) // the same heartbeat again
	examined("a heartbeat that changes nothing", 0)

	// Pods bound elsewhere cannot make room: big is left alone, though it
	// would now read "Too many pods" (PodCount runs before ResourceFit).
	small := w.pending(deployment("small", 3, "", ""), "w2", 3)
	examined("three small pods placed", 3)
	if w.c.Pods[projections.Key(ns, big.Name)].Unschedulable != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Error("big's verdict changed")
	}
	examined("after the bindings came back", 0)

	// A pod ends: its room is free, big is examined (and still does not fit).
	w.apply(w.l.Status("n1", small[0], 1, events.PhaseSucceeded, false))
	examined("a pod succeeded", 1)
	examined("and then nothing", 0)

	// A node joins: examined, and now its verdict says two nodes.
	w.heartbeat(pt.NodeInfo("n2", 1500, 8<<30, 0))
	ds = w.svc.Decide(w.l.Now)
	if u := outcomes(t, ds).unsched[big.Name]; u == nil || u.Message != "0/2 nodes are available: 2 Insufficient cpu." {
		t.Fatalf("after n2 joined:\n%s", show(ds))
	}
	w.storeAll(ds)
	examined("said", 0)

	// A node changes (more cpu): big fits.
	w.heartbeat(pt.NodeInfo("n2", 4000, 8<<30, 0))
	if o := outcomes(t, w.decide()); o.bound[big.Name] != "n2" {
		t.Errorf("after n2 grew: %v", o.bound)
	}
}

func TestRetriedWhenANodeComesBackOrAPodIsRemoved(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 0), pt.NodeInfo("n2", 1000, 8<<30, 0))
	old := w.bound(deployment("old", 1, "1", ""), "w0", "n1", 1)[0]
	w.l.Advance(projections.NodeLostAfter)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 0)) // n2 has gone quiet
	p := w.pending(deployment("web", 1, "1", ""), "w1", 1)[0]
	ds := w.decide()
	if u := outcomes(t, ds).unsched[p.Name]; u == nil || u.Message != "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were not ready." {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.storeAll(ds)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("said again:\n%s", show(ds))
	}
	w.heartbeat(pt.NodeInfo("n2", 1000, 8<<30, 0)) // back
	if o := outcomes(t, w.decide()); o.bound[p.Name] != "n2" {
		t.Errorf("after n2 came back: %v", o.bound)
	}

	// Another pod waits for n1's room; the old pod is deleted and removed.
	w2 := w.pending(deployment("next", 1, "1", ""), "w2", 1)[0]
	w.storeAll(w.decide()) // web on n2, next unschedulable (n2 taken in the same pass)
	w.apply(w.l.Deleted(old, "n1", 1, "scaled down"))
	if o := outcomes(t, w.decide()); len(o.bound) != 0 {
		t.Fatalf("bound into room a stopping pod still holds: %v", o.bound)
	}
	w.apply(w.l.Removed("n1", old, 1))
	if o := outcomes(t, w.decide()); o.bound[w2.Name] != "n1" {
		t.Errorf("after the removal: %v", o.bound)
	}
}

func spreadWeb(s *manifest.PodSpec) {
	s.TopologySpreadConstraints = []manifest.TopologySpreadConstraint{{MaxSkew: 1, TopologyKey: "zone",
		LabelSelector: &manifest.LabelSelector{MatchLabels: map[string]string{"role": "web"}}}}
}

// labelled is a Deployment whose pods carry role=<role> too.
func labelled(d manifest.Object, role string) manifest.Object {
	d.Deployment().Template.Metadata.Labels["role"] = role
	return d
}

// The events that can let an unschedulable pod fit, one by one: each makes
// the scheduler examine the pod again.
func TestEachRelevantChangeRetries(t *testing.T) {
	t.Run("a pod moves to another node", func(t *testing.T) {
		w := newWorld(t)
		w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 0), pt.NodeInfo("n2", 2000, 8<<30, 0))
		a := w.bound(deployment("a", 1, "1", ""), "w0", "n1", 1)[0]
		p := w.pending(shaped("p", 1, "1", "", func(s *manifest.PodSpec) {
			s.NodeSelector = map[string]string{manifest.HostnameTopologyKey: "n1"}
		}), "w1", 1)[0]
		w.storeAll(w.decide())
		w.apply(w.l.Bound(a, "n2", 2)) // replaced elsewhere: n1 is free
		if o := outcomes(t, w.decide()); o.bound[p.Name] != "n1" {
			t.Errorf("bound %v", o.bound)
		}
	})
	t.Run("a matching pod lands in another domain", func(t *testing.T) {
		w := newWorld(t)
		w.heartbeat(nodeInfo("a1", 4000, 8<<30, 0, withLabels("zone", "a")), nodeInfo("b1", 500, 8<<30, 0, withLabels("zone", "b")))
		w.bound(labelled(shaped("first", 1, "", "", spreadWeb), "web"), "w0", "a1", 1)
		p := w.pending(labelled(shaped("web", 1, "1", "", spreadWeb), "web"), "w1", 1)[0]
		ds := w.decide()
		if u := outcomes(t, ds).unsched[p.Name]; u == nil {
			t.Fatalf("decisions:\n%s", show(ds))
		}
		w.storeAll(ds)
		w.bound(labelled(deployment("small", 1, "", ""), "web"), "w2", "b1", 1) // zone b catches up
		if o := outcomes(t, w.decide()); o.bound[p.Name] != "a1" {
			t.Errorf("bound %v", o.bound)
		}
	})
	t.Run("a matching pod starts deleting", func(t *testing.T) {
		w := newWorld(t)
		w.heartbeat(nodeInfo("a1", 4000, 8<<30, 0, withLabels("zone", "a")), nodeInfo("b1", 500, 8<<30, 0, withLabels("zone", "b")))
		first := w.bound(labelled(shaped("first", 1, "1", "", spreadWeb), "web"), "w0", "a1", 1)[0]
		p := w.pending(labelled(shaped("web", 1, "1", "", spreadWeb), "web"), "w1", 1)[0]
		w.storeAll(w.decide())
		w.apply(w.l.Deleted(first, "a1", 1, "scaled down")) // leaves the spread count, keeps its cpu
		if o := outcomes(t, w.decide()); o.bound[p.Name] != "a1" {
			t.Errorf("bound %v", o.bound)
		}
	})
	t.Run("a preemptor goes away", func(t *testing.T) {
		w := newWorld(t)
		w.heartbeat(pt.NodeInfo("n1", 6000, 8<<30, 0))
		w.bound(shaped("victim", 1, "4", "", withPriority(1)), "w0", "n1", 1)
		vip := w.pending(shaped("vip", 1, "4", "", withPriority(100)), "w1", 1)[0]
		if refused := w.storeBatch(w.decide()); len(refused) != 0 {
			t.Fatal(refused)
		}
		// The room left beside the victim is held for vip.
		late := w.pending(shaped("late", 1, "2", "", withPriority(0)), "w2", 1)[0]
		ds := w.decide()
		if u := outcomes(t, ds).unsched[late.Name]; u == nil {
			t.Fatalf("decisions:\n%s", show(ds))
		}
		w.storeAll(ds)
		w.apply(w.l.Deleted(vip, "", 0, "pod deleted")) // vip is deleted before it binds
		if o := outcomes(t, w.decide()); o.bound[late.Name] != "n1" {
			t.Errorf("bound %v", o.bound)
		}
	})
}

// A node's readiness is the health service's decision once one exists: a
// node decided NotReady takes no pod however recent its heartbeat, and one
// decided Ready again wakes the pods waiting for it.
func TestNodeStateIsTheDecision(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 1000, 8<<30, 0), pt.NodeInfo("n2", 1000, 8<<30, 0))
	decide := func(node string, ready bool) {
		w.apply(w.l.Append(events.NodeStateSubject(node), &events.NodeStateDecided{Node: node, Ready: ready}))
	}
	decide("n1", true)
	decide("n2", false)
	w.bound(deployment("old", 1, "1", ""), "w0", "n1", 1)
	p := w.pending(deployment("web", 1, "1", ""), "w1", 1)[0]
	ds := w.decide()
	if u := outcomes(t, ds).unsched[p.Name]; u == nil || u.Message != "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were not ready." {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.storeAll(ds)
	// A heartbeat is not a decision.
	w.heartbeat(pt.NodeInfo("n2", 1000, 8<<30, 0))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a heartbeat of a node decided NotReady:\n%s", show(ds))
	}
	decide("n2", true)
	if o := outcomes(t, w.decide()); o.bound[p.Name] != "n2" {
		t.Errorf("after n2 was decided Ready: %v", o.bound)
	}
	// Decided Ready, silent for an hour: still Ready until decided otherwise.
	w.l.Advance(time.Hour)
	q := w.pending(deployment("late", 1, "", ""), "w2", 1)[0]
	if o := outcomes(t, w.decide()); o.bound[q.Name] == "" {
		t.Errorf("nodes decided Ready took nothing: %v", o.bound)
	}
}
