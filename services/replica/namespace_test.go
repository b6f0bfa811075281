package replica_test

import (
	"encoding/json"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// Given a deleted Namespace holding a bare Pod (its pod planned) and a
// ResourceQuota, expect both deleted and the Namespace Terminating (the
// kinds left named); the Pod's deletion deletes its pod; once nothing is
// left, the condition turns False, once, and the incremental passes agree
// with full ones all along (world.decide).
func TestDeletedNamespaceEmptiesThenEnds(t *testing.T) {
	w := newWorld(t)
	nsObj := manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindNamespace,
		Metadata: manifest.ObjectMeta{Name: "shop"}, Spec: &manifest.NamespaceSpec{}}
	b, _ := json.Marshal(nsObj)
	w.apply(w.l.Append(events.AdmissionSubject(events.ClusterScope, "namespace", "shop"), &events.AdmissionAccepted{
		Op: events.OpApply, Kind: "namespace", Namespace: events.ClusterScope, Name: "shop", UID: "ns-uid", Generation: 1, Object: b}),
		w.l.Accepted(pt.BarePod("shop", "solo", "nginx"), "solo-uid", 1),
		w.l.Accepted(pt.ResourceQuota("shop", "q", map[string]string{"pods": "5"}), "q-uid", 1))
	w.settle() // the Pod's pod is planned
	if w.c.Pods[projections.Key("shop", "solo")] == nil {
		t.Fatal("the bare Pod's pod is not planned")
	}

	w.apply(w.l.AcceptedDelete("namespace", events.ClusterScope, "shop", "ns-uid", 1))
	ds := w.decide()
	var deleted []string
	var conds []manifest.Condition
	for _, d := range ds {
		switch e := d.Event.(type) {
		case *events.WorkloadDeleted:
			if e.Reason != "namespace shop deleted" {
				t.Errorf("deletion of %s: reason %q", e.Name, e.Reason)
			}
			deleted = append(deleted, e.Kind+"/"+e.Name)
		case *events.WorkloadStatusDecided:
			conds = append(conds, e.Conditions...)
		}
	}
	if len(deleted) != 2 || deleted[0] != "pod/solo" || deleted[1] != "resourcequota/q" {
		t.Errorf("deleted %v, want pod/solo and resourcequota/q", deleted)
	}
	if len(conds) != 1 || conds[0].Status != manifest.ConditionTrue ||
		conds[0].Message != "Some content in the namespace has not been deleted yet: pods, resourcequotas" {
		t.Fatalf("conditions %+v", conds)
	}
	for _, d := range ds {
		w.store(d)
	}
	w.settle() // the pod goes (unbound: at once), and the Namespace ends
	ns := w.c.Workloads[projections.WorkloadKey("namespace", events.ClusterScope, "shop")]
	c := w.c.Status(ns).Condition(manifest.NamespaceContentRemaining)
	if c == nil || c.Status != manifest.ConditionFalse || c.Message != "All content deleted" {
		t.Fatalf("final condition %+v", c)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Errorf("a pass after the end: %s", show(ds))
	}
}
