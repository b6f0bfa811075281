package namespace_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/services/namespace"
	"github.com/gantry-sh/gantry/services/runner"

	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

var now = time.Date(2026, 12, 3, 12, 0, 0, 0, time.UTC)

func nsObject(name string) manifest.Object {
	return manifest.Object{APIVersion: manifest.APICoreV1, Kind: manifest.KindNamespace,
		Metadata: manifest.ObjectMeta{Name: name}, Spec: &manifest.NamespaceSpec{}}
}

func accepted(l *pt.Log, o manifest.Object, ns, uid string) events.Record {
	b, _ := json.Marshal(o)
	return l.Append(events.AdmissionSubject(ns, pt.Kind(o), o.Metadata.Name), &events.AdmissionAccepted{Op: events.OpApply,
		Kind: pt.Kind(o), Namespace: ns, Name: o.Metadata.Name, UID: uid, Generation: 1, Object: b})
}

// Given a deleted Namespace holding a Deployment (with a pod) and a bare
// Pod, expect both deleted and the Namespace Terminating; once the
// deletions are in and the pods gone, expect the condition False, once.
func TestDeletedNamespaceEmptiesThenEnds(t *testing.T) {
	l := pt.NewLog()
	svc := namespace.New()
	dep := pt.Deployment("shop", "web", 1, "nginx")
	pod := pt.PodFor(dep, "dep-uid", "web-abc12", "pod-uid")
	pt.ApplyAll(svc, accepted(l, nsObject("shop"), events.ClusterScope, "ns-uid"),
		l.Accepted(dep, "dep-uid", 1), l.Planned(pod), l.Accepted(pt.BarePod("shop", "solo", "nginx"), "solo-uid", 1),
		l.Accepted(pt.Deployment("default", "other", 1, "nginx"), "other-uid", 1),
		l.AcceptedDelete("namespace", events.ClusterScope, "shop", "ns-uid", 1))

	ds := svc.Decide(now)
	if len(ds) != 3 {
		t.Fatalf("decisions: %v", subjects(ds))
	}
	for i, want := range []string{"deployment", "pod"} {
		del, ok := ds[i].Event.(*events.WorkloadDeleted)
		if !ok || del.Kind != want || del.Reason != "namespace shop deleted" {
			t.Errorf("decision %d = %#v, want %s deleted", i, ds[i].Event, want)
		}
	}
	st := ds[2].Event.(*events.WorkloadStatusDecided)
	if c := st.Conditions[0]; c.Type != manifest.NamespaceContentRemaining || c.Status != manifest.ConditionTrue ||
		c.Message != "Some content in the namespace has not been deleted yet: deployments, pods" {
		t.Errorf("condition = %+v", c)
	}
	for _, d := range ds {
		svc.Apply(l.Append(d.Subject, d.Event))
	}
	// The objects are deleted, their pod remains: only pods are left.
	ds = svc.Decide(now.Add(time.Second))
	if len(ds) != 1 || ds[0].Event.(*events.WorkloadStatusDecided).Conditions[0].Message !=
		"Some content in the namespace has not been deleted yet: pods" {
		t.Fatalf("second pass: %v", subjects(ds))
	}
	svc.Apply(l.Append(ds[0].Subject, ds[0].Event))
	if ds := svc.Decide(now.Add(time.Second)); len(ds) != 0 {
		t.Fatalf("third pass, nothing changed: %v", subjects(ds))
	}
	svc.Apply(l.Deleted(pod, "", 0, "deployment deleted")) // unbound: gone at once
	ds = svc.Decide(now.Add(2 * time.Second))
	if len(ds) != 1 {
		t.Fatalf("after the pod went: %v", subjects(ds))
	}
	if c := ds[0].Event.(*events.WorkloadStatusDecided).Conditions[0]; c.Status != manifest.ConditionFalse || c.Message != "All content deleted" {
		t.Errorf("final condition = %+v", c)
	}
	svc.Apply(l.Append(ds[0].Subject, ds[0].Event))
	if ds := svc.Decide(now.Add(20 * time.Second)); len(ds) != 0 {
		t.Fatalf("a full pass after the end: %v", subjects(ds))
	}
}

func subjects(ds []runner.Decision) []string {
	out := make([]string, len(ds))
	for i, d := range ds {
		out[i] = d.Subject + " " + d.Event.Type()
	}
	return out
}
