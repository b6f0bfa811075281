package replica_test

import (
	"reflect"
	"testing"
	"time"

	pt "github.com/gantry-sh/gantry/projections/projectiontest"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/runner"
)

// sameDecisions compares passes but for Assumed, which only the assuming
// service sets.
func sameDecisions(a, b []runner.Decision) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, y := a[i], b[i]
		x.Assumed, y.Assumed = false, false
		if !reflect.DeepEqual(x, y) {
			return false
		}
	}
	return true
}

// assumePass runs Decide at t and hands its decisions to Assume, as the
// runner does when it starts storing a pass.
func (w *world) assumePass(t time.Time) []runner.Decision {
	w.t.Helper()
	ds := w.svc.Decide(t)
	for _, d := range ds {
		if !d.Assumed {
			w.t.Fatalf("decision %s is not Assumed", d.MsgID)
		}
	}
	w.svc.Assume(ds)
	return ds
}

// Given a pass being stored (assumed, not read back), the next pass
// decides for other workloads only: nothing is planned twice. Once the
// pass is read back the workload is settled; a forgotten decision is made
// again, the same; one that never comes back is made again after AssumeFor.
func TestAssumedDecisionsAreNotMadeTwice(t *testing.T) {
	w := newWorld(t)
	uids := w.fleet(3, 2)
	at := now.Add(time.Second)

	// web-00 scaled to 4: two plans, being stored.
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web-00", 4, "nginx:1.27"), uids[0], 2))
	first := w.assumePass(at)
	if s := splitDecisions(t, first); len(s.plans) != 2 {
		t.Fatalf("scaled web-00:\n%s", show(first))
	}
	// A new ReplicaSet arrives meanwhile; web-01 is scaled down.
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "new", 3, "nginx:1.27"), "new-uid", 1))
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web-01", 1, "nginx:1.27"), uids[1], 2))
	second := w.assumePass(at)
	s := splitDecisions(t, second)
	if len(s.plans) != 3 || len(s.deletes) != 1 {
		t.Fatalf("second pass, want new's 3 plans and web-01's deletion only:\n%s", show(second))
	}
	for _, p := range s.plans {
		if p.Owner.UID != "new-uid" {
			t.Fatalf("planned again for %s:\n%s", p.Owner.Name, show(second))
		}
	}
	if ds := w.svc.Decide(at); len(ds) != 0 {
		t.Fatalf("every workload waits for its decisions, yet:\n%s", show(ds))
	}

	// The first pass comes back, one decision at a time.
	w.store(first[0])
	if ds := w.svc.Decide(at); len(ds) != 0 {
		t.Fatalf("half of web-00's pass read back:\n%s", show(ds))
	}
	w.store(first[1])
	w.store(second[len(second)-1]) // web-01's deletion
	// new's second plan is refused (or was never sent): forgotten.
	w.svc.Forget(second[1])
	w.store(second[0])
	if ds := w.svc.Decide(at); len(ds) != 0 {
		t.Fatalf("new still waits for its third plan:\n%s", show(ds))
	}
	w.store(second[2])
	// Read back: the pass is the one a service that never assumed makes.
	full := w.ref.Decide(at)
	again := w.assumePass(at)
	if s := splitDecisions(t, again); len(s.plans) != 1 || s.plans[0].Owner.UID != "new-uid" || !sameDecisions(again, full) {
		t.Fatalf("after a forgotten plan, want new's third pod planned again:\n%s\nfull pass:\n%s", show(again), show(full))
	}

	// It is never read back, and never forgotten (stored earlier and read
	// back before it was made again): after AssumeFor it is made again
	// (ages are checked once a second).
	if ds := w.svc.Decide(at.Add(replica.AssumeFor - time.Millisecond)); len(ds) != 0 {
		t.Fatalf("before AssumeFor:\n%s", show(ds))
	}
	if ds := w.svc.Decide(at.Add(replica.AssumeFor + time.Second)); len(ds) != 1 || ds[0].MsgID != again[0].MsgID {
		t.Fatalf("after AssumeFor:\n%s", show(ds))
	}
	w.store(again[0])

	// While the service keeps reading, a decision not yet back is waited
	// for longer than AssumeFor (a long read-back under load), but not
	// longer than AssumeAtMost.
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web-02", 3, "nginx:1.27"), uids[2], 2))
	slow := w.assumePass(at)
	if len(slow) != 1 {
		t.Fatalf("scaled web-02:\n%s", show(slow))
	}
	other := w.c.OwnedPods(uids[0])[0]
	for d := time.Duration(0); d < replica.AssumeAtMost; d += replica.AssumeFor / 2 {
		w.run(other, "n1", events.PhaseRunning, d%(2*replica.AssumeFor) == 0) // something to read
		if ds := w.svc.Decide(at.Add(d)); len(ds) != 0 {
			t.Fatalf("%v into a read-back that makes progress:\n%s", d, show(ds))
		}
	}
	if ds := w.svc.Decide(at.Add(replica.AssumeAtMost)); len(ds) != 1 || ds[0].MsgID != slow[0].MsgID {
		t.Fatalf("after AssumeAtMost:\n%s", show(ds))
	}
	w.store(slow[0])
	at = at.Add(replica.AssumeAtMost)

	// Everything stored: the service agrees with a full pass that never
	// assumed anything, which finds nothing to do.
	later := at.Add(2 * replica.AssumeFor)
	if ds, full := w.svc.Decide(later), w.ref.Decide(later); len(ds) != 0 || len(full) != 0 {
		t.Fatalf("settled: decided\n%s\nfull pass:\n%s", show(ds), show(full))
	}
}
