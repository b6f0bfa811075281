package replica_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/runner"
)

// A ReplicaSet of a billion replicas, as the log may hold one admitted
// before the cluster had a ceiling.
const billion = 1_000_000_000

// count splits a pass's decisions by workload uid (plans) and counts them.
func count(t *testing.T, ds []runner.Decision) (plans map[string]int, deletes int) {
	t.Helper()
	plans = map[string]int{}
	for _, d := range ds {
		switch e := d.Event.(type) {
		case *events.PodPlanned:
			plans[e.Owner.UID]++
		case *events.PodDeleted:
			deletes++
		default:
			t.Fatalf("unexpected decision %T", d.Event)
		}
	}
	return plans, deletes
}

// Given a ReplicaSet of a billion replicas, when the replica decides pass
// after pass (each pass stored before the next), then each pass plans a
// slow-start batch: 100, 100, 200, 400, then 500 (BurstPerWorkload) a pass;
// and a small ReplicaSet that arrives meanwhile is planned, all of it, in
// the first pass after it arrives.
func TestAHugeReplicaSetIsPlannedInSlowStartBatchesBesideASmallOne(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "huge", billion, "nginx:1.27"), "huge-uid", 1))
	want := []int{100, 100, 200, 400, 500, 500}
	for pass, n := range want {
		ds := w.decide()
		plans, _ := count(t, ds)
		if plans["huge-uid"] != n || len(ds) != n {
			t.Fatalf("pass %d: %d decisions, %d plans of the huge ReplicaSet, want %d", pass, len(ds), plans["huge-uid"], n)
		}
		for _, d := range ds {
			w.store(d)
		}
	}
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "small", 3, "nginx:1.27"), "small-uid", 1))
	plans, _ := count(t, w.decide())
	if plans["small-uid"] != 3 || plans["huge-uid"] != replica.BurstPerWorkload {
		t.Fatalf("the pass after the small one arrived planned %v, want 3 of small-uid and %d of huge-uid", plans, replica.BurstPerWorkload)
	}
}

// Given a ReplicaSet of a billion replicas whose pass is being stored
// (assumed, not read back), when the replica decides again and a small
// ReplicaSet arrives, then the huge one gets nothing more until its plans
// come back (the pending plan holds at most BurstPerWorkload of its
// decisions), and the small one is planned at once.
func TestThePendingPlanOfAHugeReplicaSetStaysBounded(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "huge", billion, "nginx:1.27"), "huge-uid", 1))
	// Grow the huge one to full bursts: 800 pods stored.
	for range 4 {
		for _, d := range w.decide() {
			w.store(d)
		}
	}
	ds := w.svc.Decide(now)
	w.svc.Assume(ds)
	if len(ds) != replica.BurstPerWorkload || w.svc.Assumed() != replica.BurstPerWorkload {
		t.Fatalf("a pass of %d decisions, %d assumed; want %d", len(ds), w.svc.Assumed(), replica.BurstPerWorkload)
	}
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "small", 3, "nginx:1.27"), "small-uid", 1))
	next := w.svc.Decide(now)
	plans, _ := count(t, next)
	if plans["small-uid"] != 3 || plans["huge-uid"] != 0 {
		t.Fatalf("while the huge one's pass is stored, the next pass planned %v; want only the 3 of small-uid", plans)
	}
	w.svc.Assume(next)
	if got := w.svc.Assumed(); got != replica.BurstPerWorkload+3 {
		t.Fatalf("%d decisions assumed, want %d", got, replica.BurstPerWorkload+3)
	}
	// The huge one's pass comes back: the next batch follows.
	for _, d := range append(ds, next...) {
		r, _, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
		if err != nil {
			t.Fatal(err)
		}
		w.apply(r)
	}
	if got := w.svc.Assumed(); got != 0 {
		t.Fatalf("%d decisions still assumed after all were read back", got)
	}
	if plans, _ := count(t, w.svc.Decide(now)); plans["huge-uid"] != replica.BurstPerWorkload {
		t.Fatalf("after its pass came back, the huge one got %d plans, want %d", plans["huge-uid"], replica.BurstPerWorkload)
	}
}

// Given a ReplicaSet of a billion replicas, when the replica decides, then
// what the pass allocates is a burst's worth, not a billion pods' names: a
// pass's memory does not grow with spec.replicas.
func TestAPassAllocatesNothingInProportionToReplicas(t *testing.T) {
	alloc := func(replicas int32) uint64 {
		svc := replica.New()
		l := pt.NewLog()
		svc.Apply(l.Accepted(pt.ReplicaSet(ns, "web", replicas, "nginx:1.27"), "web-uid", 1))
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ds := svc.Decide(now)
		runtime.ReadMemStats(&after)
		if len(ds) != replica.FirstBatch {
			t.Fatalf("replicas %d: %d decisions, want %d", replicas, len(ds), replica.FirstBatch)
		}
		return after.TotalAlloc - before.TotalAlloc
	}
	small, huge := alloc(replica.FirstBatch), alloc(billion)
	if huge > 2*small+1<<20 {
		t.Fatalf("a pass over a billion replicas allocated %d bytes, over %d replicas %d", huge, replica.FirstBatch, small)
	}
}

// Given 60 ReplicaSets of 100 arriving at once beside a huge one, when the
// replica decides, then a pass makes at most PassBudget decisions, fewest
// pods first (the newcomers before the huge one), and the rest follow in
// the next pass.
func TestAPassMakesAtMostItsBudget(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "huge", billion, "nginx:1.27"), "huge-uid", 1))
	for _, d := range w.decide() {
		w.store(d)
	}
	for i := range 60 {
		w.apply(w.l.Accepted(pt.ReplicaSet(ns, fmt.Sprintf("web-%02d", i), 100, "nginx:1.27"), fmt.Sprintf("web-uid-%02d", i), 1))
	}
	ds := w.decide()
	plans, _ := count(t, ds)
	if len(ds) != replica.PassBudget || plans["huge-uid"] != 0 || len(plans) != replica.PassBudget/100 {
		t.Fatalf("first pass: %d decisions for %d workloads, %d of them the huge one's; want %d for %d newcomers",
			len(ds), len(plans), plans["huge-uid"], replica.PassBudget, replica.PassBudget/100)
	}
	for _, d := range ds {
		w.store(d)
	}
	ds = w.decide()
	plans, _ = count(t, ds)
	if len(plans) != 11 || plans["huge-uid"] != 100 || len(ds) != 1000+100 {
		t.Fatalf("second pass: %v; want the 10 newcomers left (100 each) and 100 of the huge one", plans)
	}
}

// Given a huge ReplicaSet and a cluster ceiling of 250 pods per workload
// (it was admitted before the ceiling), when the replica decides until
// nothing is left, then it has 250 pods.
func TestTheReplicaKeepsAWorkloadAtTheCeiling(t *testing.T) {
	w := newWorld(t)
	w.svc.MaxPodsPerWorkload, w.ref.MaxPodsPerWorkload = 250, 250
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "huge", billion, "nginx:1.27"), "huge-uid", 1))
	for range 10 {
		for _, d := range w.decide() {
			w.store(d)
		}
	}
	if n := len(w.c.OwnedPods("huge-uid")); n != 250 {
		t.Fatalf("%d pods, want the ceiling's 250", n)
	}
}

// Given a huge ReplicaSet being planned, when it is deleted, then the next
// pass plans none of it and deletes its pods, a burst at a time.
func TestDeletingAHugeReplicaSetStopsItsPlanning(t *testing.T) {
	w := newWorld(t)
	obj := pt.ReplicaSet(ns, "huge", billion, "nginx:1.27")
	w.apply(w.l.Accepted(obj, "huge-uid", 1))
	for range 5 { // 100 + 100 + 200 + 400 + 500 = 1,300 pods
		for _, d := range w.decide() {
			w.store(d)
		}
	}
	for _, p := range w.c.OwnedPods("huge-uid") {
		w.apply(w.l.Bound(planned(p), "n1", 1)) // bound: deletions wait for the node
	}
	w.apply(w.l.AcceptedDelete("replicaset", ns, "huge", "huge-uid", 2))
	for pass := 0; ; pass++ {
		ds := w.decide()
		plans, deletes := count(t, ds)
		if len(plans) != 0 || deletes > replica.BurstPerWorkload {
			t.Fatalf("pass %d after the delete: %v plans, %d deletions", pass, plans, deletes)
		}
		if deletes == 0 {
			if pass != 3 { // 500 + 500 + 300
				t.Fatalf("deleted in %d passes, want 3", pass)
			}
			break
		}
		for _, d := range ds {
			w.store(d)
		}
	}
}

// Given a ReplicaSet of 3 running pods, when a node reports one removed
// with no deletion decided (it stopped the pod on its own), then the
// replica deletes it (so the scheduler and the read model let it go) and
// plans a replacement in the same pass.
func TestAPodRemovedWithNoDeletionIsReplaced(t *testing.T) {
	w := newWorld(t)
	for _, p := range w.deploy(pt.ReplicaSet(ns, "web", 3, "nginx:1.27"), 1) {
		w.run(p, "n1", events.PhaseRunning, true)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a settled ReplicaSet decides:\n%s", show(ds))
	}
	gone := w.c.OwnedPods(depUID)[1]
	w.apply(w.l.Removed("n1", planned(gone), 1))
	s := splitDecisions(t, w.decide())
	if len(s.plans) != 1 || len(s.deletes) != 1 || s.deletes[0].UID != gone.UID {
		t.Fatalf("after the removal: plans %d, deletions %v; want %s deleted and one pod planned",
			len(s.plans), deletedNames(s), gone.Name)
	}
	for _, d := range s.byName {
		w.store(d)
	}
	if p := w.c.Pods[projections.Key(ns, gone.Name)]; p != nil {
		t.Errorf("the removed pod is still in the fold once deleted: %+v", p)
	}
	if n := len(w.c.OwnedPods(depUID)); n != 3 {
		t.Errorf("%d pods, want 3", n)
	}
}

// Given a bare Pod running, when its node reports it removed with no
// deletion decided, then the replica plans nothing (Kubernetes does not
// restart a bare pod its kubelet killed; it shows Failed).
func TestABarePodRemovedWithNoDeletionIsNotReplanned(t *testing.T) {
	w := newWorld(t)
	obj := pt.BarePod(ns, "solo", "nginx:1.27")
	w.apply(w.l.Accepted(obj, "solo-uid", 1))
	for _, d := range w.decide() {
		w.store(d)
	}
	p := w.pod("solo")
	w.run(p, "n1", events.PhaseRunning, true)
	w.apply(w.l.Removed("n1", planned(p), 1))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a removed bare pod decides:\n%s", show(ds))
	}
	if p := w.pod("solo"); !p.Removed || p.Phase() != events.PhaseFailed {
		t.Fatalf("the removed bare pod is %s (removed %v), want Failed", p.Phase(), p.Removed)
	}
}
