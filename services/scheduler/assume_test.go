package scheduler_test

import (
	"testing"

	"github.com/gantry-sh/gantry/events"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/runner"
)

// bindings returns the pod → node of the PodBound decisions in ds.
func bindings(ds []runner.Decision) map[string]string {
	out := map[string]string{}
	for _, d := range ds {
		if b, ok := d.Event.(*events.PodBound); ok {
			if !d.Assumed {
				panic("a binding that is not Assumed")
			}
			out[b.Pod.Name] = b.Node
		}
	}
	return out
}

// A pass's bindings, assumed as the runner starts storing them, hold their
// room: the next pass, run before they are read back, places no pod twice
// and over-commits no node. A binding the log did not store is forgotten and
// its pod placed again; one read back is the fold's like any other.
func TestAssumedBindingsHoldTheirRoomUntilReadBack(t *testing.T) {
	w := newWorld(t)
	w.heartbeat(pt.NodeInfo("n1", 1000, 4<<30, 110), pt.NodeInfo("n2", 1000, 4<<30, 110))
	pods := w.pending(deployment("web", 3, "600m", "128Mi"), "uid-web", 3) // a node holds one

	first := w.decide()
	placed := bindings(first)
	if len(placed) != 2 || placed["web-001"] == placed["web-002"] {
		t.Fatalf("first pass: bindings %v, want web-001 and web-002 on two nodes", placed)
	}
	w.svc.Assume(first)
	if w.svc.Assumed() != 2 {
		t.Fatalf("%d bindings assumed, want 2", w.svc.Assumed())
	}

	// Before anything is read back: nothing is bound again, and the third
	// pod still fits nowhere, even when the pod's node reports it (the
	// observations are read apart from the decisions, so may come first).
	w.apply(w.l.Status(placed["web-001"], pods[0], 1, events.PhasePending, false))
	if again := bindings(w.svc.Decide(w.l.Now)); len(again) != 0 {
		t.Fatalf("a pass before read-back bound %v again", again)
	}

	// The log refused web-001's binding: forgotten, its pod is pending
	// again and its node free; the next pass places it there.
	var refused, kept runner.Decision
	for _, d := range first {
		if b, ok := d.Event.(*events.PodBound); ok {
			if b.Pod.Name == "web-001" {
				refused = d
			} else {
				kept = d
			}
		}
	}
	w.svc.Forget(refused)
	third := w.decide()
	if got := bindings(third); len(got) != 1 || got["web-001"] != placed["web-001"] {
		t.Fatalf("after forgetting web-001: bindings %v, want web-001 on %s", got, placed["web-001"])
	}

	// web-002's binding read back: no longer assumed, still counted once.
	w.store(kept)
	if w.svc.Assumed() != 0 {
		t.Fatalf("%d bindings assumed after web-002 was read back, want 0 (the third pass was not assumed)", w.svc.Assumed())
	}
	if got := bindings(w.svc.Decide(w.l.Now)); len(got) != 1 || got["web-001"] == "" {
		t.Fatalf("after read-back: bindings %v, want web-001 alone (web-002 counted once, web-003 fits nowhere)", got)
	}
}
