package replica_test

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/runner"
)

// decideAt runs one Decide at t, checks it against a full pass, and returns
// its decisions and how many workloads it examined.
func (w *world) decideAt(t time.Time) ([]runner.Decision, int) {
	w.t.Helper()
	before := w.svc.Examined()
	ds := w.svc.Decide(t)
	if full := w.ref.Decide(t); !reflect.DeepEqual(ds, full) {
		w.t.Fatalf("Decide differs from a full pass:\n%s\n%s", show(ds), show(full))
	}
	return ds, w.svc.Examined() - before
}

// fleet deploys n ReplicaSets of replicas pods each, stores their plans and
// runs every pod; it returns the ReplicaSets' uids.
func (w *world) fleet(n int, replicas int32) []string {
	w.t.Helper()
	var uids []string
	for i := 0; i < n; i++ {
		uid := fmt.Sprintf("dep-uid-%02d", i)
		w.apply(w.l.Accepted(pt.ReplicaSet(ns, fmt.Sprintf("web-%02d", i), replicas, "nginx:1.27"), uid, 1))
		uids = append(uids, uid)
	}
	for _, d := range w.decide() {
		w.store(d)
	}
	for _, uid := range uids {
		for _, p := range w.c.OwnedPods(uid) {
			w.run(p, "n1", events.PhaseRunning, true)
		}
	}
	if ds := w.decide(); len(ds) != 0 {
		w.t.Fatalf("a settled fleet decides:\n%s", show(ds))
	}
	return uids
}

// Given 20 settled ReplicaSets, when one is scaled, Decide examines only it,
// then only it again when its new pods come back, then nothing.
func TestAChangeToOneReplicaSetIsAllThatIsExamined(t *testing.T) {
	w := newWorld(t)
	uids := w.fleet(20, 3)
	at := now.Add(time.Second) // within FullEvery of the last full pass

	if ds, n := w.decideAt(at); len(ds) != 0 || n != 0 {
		t.Fatalf("nothing changed: examined %d workloads, decided:\n%s", n, show(ds))
	}
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web-07", 5, "nginx:1.27"), uids[7], 2))
	ds, n := w.decideAt(at)
	if s := splitDecisions(t, ds); n != 1 || len(s.plans) != 2 || len(s.deletes) != 0 || s.plans[0].Owner.UID != uids[7] {
		t.Fatalf("scaled web-07: examined %d workloads, want 1; decided:\n%s", n, show(ds))
	}
	for _, d := range ds {
		w.store(d)
	}
	if ds, n := w.decideAt(at); len(ds) != 0 || n != 1 {
		t.Fatalf("web-07's plans came back: examined %d workloads, want 1; decided:\n%s", n, show(ds))
	}
	// A pod of another ReplicaSet fails: only its ReplicaSet is examined.
	failed := w.c.OwnedPods(uids[12])[1]
	w.run(failed, "n1", events.PhaseFailed, false)
	ds, n = w.decideAt(at)
	if s := splitDecisions(t, ds); n != 1 || len(s.deletes) != 1 || s.deletes[0].UID != failed.UID || len(s.plans) != 1 {
		t.Fatalf("a pod of web-12 failed: examined %d workloads, want 1; decided:\n%s", n, show(ds))
	}
	for _, d := range ds {
		w.store(d)
	}
	w.decideAt(at)
	if ds, n := w.decideAt(at); len(ds) != 0 || n != 0 {
		t.Fatalf("settled again: examined %d workloads, decided:\n%s", n, show(ds))
	}
	// FullEvery after the last full pass, everything is examined once.
	if ds, n := w.decideAt(now.Add(replica.FullEvery)); len(ds) != 0 || n != len(uids) {
		t.Fatalf("full pass: examined %d workloads, want %d; decided:\n%s", n, len(uids), show(ds))
	}
}

// Given a decision that never reached the log (a publish timeout: no
// record comes back), when Decide runs again with no new records, it is
// decided again: at once, because its workload is pending, and FullEvery
// later by the full pass.
func TestALostDecisionIsDecidedAgain(t *testing.T) {
	w := newWorld(t)
	uids := w.fleet(5, 2)
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web-03", 3, "nginx:1.27"), uids[3], 2))
	lost, _ := w.decideAt(now)
	if len(lost) != 1 {
		t.Fatalf("decisions:\n%s", show(lost))
	}
	if ds, n := w.decideAt(now.Add(time.Second)); !reflect.DeepEqual(ds, lost) || n != 1 {
		t.Fatalf("next pass examined %d workloads, want 1; decided:\n%s\nwant:\n%s", n, show(ds), show(lost))
	}
	if ds, n := w.decideAt(now.Add(replica.FullEvery)); !reflect.DeepEqual(ds, lost) || n != len(uids) {
		t.Fatalf("full pass examined %d workloads, want %d; decided:\n%s\nwant:\n%s", n, len(uids), show(ds), show(lost))
	}
	w.store(lost[0])
	if ds, _ := w.decideAt(now.Add(replica.FullEvery + time.Second)); len(ds) != 0 {
		t.Fatalf("after the plan was stored:\n%s", show(ds))
	}
}

// Given a change the fold failed to name (nothing dirty, nothing pending),
// Decide misses it until FullEvery after the last full pass, then decides it.
func TestAFullPassFindsAMissedChange(t *testing.T) {
	w := newWorld(t)
	w.svc.FullEvery = time.Minute
	if ds := w.svc.Decide(now); len(ds) != 0 { // the first pass is a full one
		t.Fatalf("decisions over an empty log:\n%s", show(ds))
	}
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web", 2, "nginx:1.27"), depUID, 1))
	w.svc.MissChanges()
	if ds := w.svc.Decide(now.Add(59 * time.Second)); len(ds) != 0 {
		t.Fatalf("a missed change was seen before the full pass:\n%s", show(ds))
	}
	ds := w.svc.Decide(now.Add(time.Minute))
	if s := splitDecisions(t, ds); len(s.plans) != 2 {
		t.Fatalf("the full pass decided:\n%s", show(ds))
	}
}

// A bare Pod re-created under the name of a pod still stopping waits for it.
// The old pod's owner is the old uid, so the fold marks no workload when the
// node removes it; Decide examines the bare Pod of that name all the same.
func TestABarePodWaitsForItsFormerSelf(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.Accepted(pt.BarePod(ns, "solo", "busybox:1"), "solo-uid-1", 1))
	for _, d := range w.decide() {
		w.store(d)
	}
	old := w.pod("solo")
	w.run(old, "n1", events.PhaseRunning, true)
	w.apply(w.l.AcceptedDelete("pod", ns, "solo", "solo-uid-1", 1))
	for _, d := range w.decide() {
		w.store(d)
	}
	w.apply(w.l.Accepted(pt.BarePod(ns, "solo", "busybox:2"), "solo-uid-2", 1))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("planned over a pod still stopping:\n%s", show(ds))
	}
	w.apply(w.l.Removed("n1", planned(old), 1))
	ds, n := w.decideAt(now)
	if len(ds) != 1 || n != 1 {
		t.Fatalf("after the old pod was removed: examined %d workloads; decided:\n%s", n, show(ds))
	}
	if p, ok := ds[0].Event.(*events.PodPlanned); !ok || p.UID != "solo-uid-2" {
		t.Fatalf("decision:\n%s", show(ds))
	}
}
