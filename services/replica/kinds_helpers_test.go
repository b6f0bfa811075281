package replica_test

import (
	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/rollout"
	"github.com/gantry-sh/gantry/services/runner"
)

// settle decides and stores until nothing more is decided (at most 10
// rounds), returning every decision stored.
func (w *world) settle() []runner.Decision {
	w.t.Helper()
	var all []runner.Decision
	for round := 0; round < 10; round++ {
		ds := w.decide()
		if len(ds) == 0 {
			return all
		}
		for _, d := range ds {
			w.store(d)
		}
		all = append(all, ds...)
	}
	w.t.Fatalf("still deciding after 10 rounds:\n%s", show(w.decide()))
	return nil
}

// decidePods decides, storing the decisions on objects (a Deployment's
// ReplicaSets) until a pass decides about pods, and returns that pass.
func (w *world) decidePods() []runner.Decision {
	w.t.Helper()
	for round := 0; round < 10; round++ {
		ds := w.decide()
		onObjects := len(ds) > 0
		for _, d := range ds {
			switch d.Event.(type) {
			case *events.WorkloadDecided, *events.WorkloadDeleted, *events.WorkloadStatusDecided:
			default:
				onObjects = false
			}
		}
		if !onObjects {
			return ds
		}
		for _, d := range ds {
			w.store(d)
		}
	}
	w.t.Fatalf("still deciding objects after 10 rounds")
	return nil
}

// sets are the live ReplicaSets a workload owns.
func (w *world) sets(uid string) []*projections.Workload {
	var out []*projections.Workload
	for _, rs := range w.c.OwnedWorkloads(uid) {
		if !rs.Deleted {
			out = append(out, rs)
		}
	}
	return out
}

// podsOf returns the pods of a workload and of the ReplicaSets it owns.
func (w *world) podsOf(uid string) []*projections.Pod {
	out := w.c.OwnedPods(uid)
	for _, rs := range w.c.OwnedWorkloads(uid) {
		out = append(out, w.c.OwnedPods(rs.UID)...)
	}
	return out
}

// replayDecidesNothing folds the whole log into fresh replica and rollout
// services and expects neither to decide anything.
func (w *world) replayDecidesNothing() {
	w.t.Helper()
	rep, ro := replica.New(), rollout.New()
	pt.ApplyAll(rep, w.l.Records...)
	pt.ApplyAll(ro, w.l.Records...)
	var ds []runner.Decision
	for _, d := range append(rep.Decide(now), ro.Decide(now)...) {
		if _, status := d.Event.(*events.WorkloadStatusDecided); !status { // not stored here (decide)
			ds = append(ds, d)
		}
	}
	if len(ds) != 0 {
		w.t.Fatalf("a replay decides again:\n%s", show(ds))
	}
}
