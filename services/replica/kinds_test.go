package replica_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/runner"
)

func decoded(t *testing.T, d runner.Decision) (*events.WorkloadDecided, *manifest.ReplicaSetSpec) {
	t.Helper()
	e, ok := d.Event.(*events.WorkloadDecided)
	if !ok {
		t.Fatalf("not a workload decision:\n%s", show([]runner.Decision{d}))
	}
	var o manifest.Object
	if err := json.Unmarshal(e.Object, &o); err != nil || o.ReplicaSet() == nil {
		t.Fatalf("object %s: %v", e.Object, err)
	}
	return e, o.ReplicaSet()
}

// Given a Deployment web of 3 (template A), expect one ReplicaSet
// web-<hash A> of 3 owned by it, with pod-template-hash in its template and
// selector, and then 3 pods of it carrying hash A; scaled to 5, the same
// ReplicaSet at 5 (generation 2) and 2 more pods.
func TestADeploymentMakesAndScalesItsReplicaSet(t *testing.T) {
	w := newWorld(t)
	obj := pt.Deployment(ns, "web", 3, "nginx:1.27")
	hash := manifest.TemplateHash(obj.Deployment().Template)
	acc := w.l.Accepted(obj, depUID, 1)
	w.apply(acc)
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	e, spec := decoded(t, ds[0])
	if e.Name != "web-"+hash || e.Generation != 1 || e.Owner == nil || *e.Owner != (events.OwnerRef{Kind: "deployment", Name: "web", UID: depUID}) ||
		spec.ReplicaCount() != 3 || spec.Template.Metadata.Labels["pod-template-hash"] != hash || spec.Selector.MatchLabels["pod-template-hash"] != hash ||
		spec.Selector.MatchLabels["app"] != "web" || ds[0].Subject != events.WorkloadSubject(ns, "replicaset", "web-"+hash) ||
		ds[0].ExpectLastSeq == nil || *ds[0].ExpectLastSeq != 0 || ds[0].Meta.CausationID != acc.Envelope.ID {
		t.Fatalf("replicaset decision:\n%s", show(ds))
	}
	w.store(ds[0])
	ds = w.decide()
	s := splitDecisions(t, ds)
	if len(s.plans) != 3 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	for _, p := range s.plans {
		if p.TemplateHash != hash || p.Owner.Kind != "replicaset" || p.Owner.Name != "web-"+hash || p.Labels["pod-template-hash"] != hash {
			t.Errorf("plan %+v", p)
		}
	}
	for _, d := range ds {
		w.store(d)
	}
	w.apply(w.l.Accepted(pt.Deployment(ns, "web", 5, "nginx:1.27"), depUID, 2))
	ds = w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions after scaling:\n%s", show(ds))
	}
	if e, spec := decoded(t, ds[0]); e.Name != "web-"+hash || e.Generation != 2 || spec.ReplicaCount() != 5 {
		t.Fatalf("scaled replicaset:\n%s", show(ds))
	}
	w.settle()
	st := w.c.Status(w.c.Workloads["deployment/default/web"])
	if len(w.sets(depUID)) != 1 || st.Replicas != 5 || st.UpdatedReplicas != 5 {
		t.Errorf("sets %d, status %+v", len(w.sets(depUID)), st)
	}
}

// Given a Deployment moved from template A to B and back to A, expect the
// rollback to reuse web-<hash A> (its generation moving on), not a third
// ReplicaSet, and B's to stay at 0.
func TestARollbackReusesTheOldReplicaSet(t *testing.T) {
	w := newWorld(t)
	a, b := recreate(pt.Deployment(ns, "web", 2, "nginx:1.27")), recreate(pt.Deployment(ns, "web", 2, "nginx:1.28"))
	hashA := manifest.TemplateHash(a.Deployment().Template)
	w.deploy(a, 1)
	w.apply(w.l.Accepted(b, depUID, 2))
	w.settle() // the pods are unbound: gone as soon as deleted
	w.apply(w.l.Accepted(a, depUID, 3))
	w.settle()
	sets := w.sets(depUID)
	if len(sets) != 2 {
		t.Fatalf("%d replicasets, want 2", len(sets))
	}
	for _, rs := range sets {
		want := int32(0)
		if rs.Name == "web-"+hashA {
			want = 2
			if rs.Generation != 4 {
				t.Errorf("%s generation %d, want 4 (made, scaled to 0, made revision 3 at once, back to 2 once B's pods are gone)", rs.Name, rs.Generation)
			}
		}
		if got := rs.Object.ReplicaSet().ReplicaCount(); got != want {
			t.Errorf("%s replicas %d, want %d", rs.Name, got, want)
		}
	}
	st := w.c.Status(w.c.Workloads["deployment/default/web"])
	if st.Replicas != 2 || st.UpdatedReplicas != 2 {
		t.Errorf("status %+v", st)
	}
}

// Given a Deployment deleted with propagation Orphan, expect its
// ReplicaSet released (decided again with no owner) and its pods kept.
func TestAnOrphanedDeploymentReleasesItsReplicaSet(t *testing.T) {
	w := newWorld(t)
	pods := w.deploy(pt.Deployment(ns, "web", 2, "nginx:1.27"), 1)
	del := w.l.AcceptedDelete("deployment", ns, "web", depUID, 1)
	del.Event.(*events.AdmissionAccepted).Propagation = events.PropagateOrphan
	w.apply(del)
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	if e, _ := decoded(t, ds[0]); e.Owner != nil || e.Generation != 2 {
		t.Fatalf("release:\n%s", show(ds))
	}
	w.store(ds[0])
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after the release:\n%s", show(ds))
	}
	rs := w.c.Workloads[projections.WorkloadKey("replicaset", ns, pods[0].Owner.Name)]
	if rs == nil || rs.Owner != nil || len(w.c.OwnedPods(rs.UID)) != 2 {
		t.Fatalf("released replicaset %+v", rs)
	}

	// The Deployment applied again (a new incarnation, the same template):
	// it adopts the released ReplicaSet, as Kubernetes does, and its pods
	// with it; nothing is planned anew.
	w.apply(w.l.Accepted(pt.Deployment(ns, "web", 2, "nginx:1.27"), "dep-uid-2", 1))
	ds = w.decide()
	if len(ds) != 1 {
		t.Fatalf("after applying again:\n%s", show(ds))
	}
	if e, _ := decoded(t, ds[0]); e.Owner == nil || e.Owner.UID != "dep-uid-2" || e.UID != rs.UID {
		t.Fatalf("adoption:\n%s", show(ds))
	}
	w.store(ds[0])
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after the adoption:\n%s", show(ds))
	}
}

// Given a bare Pod solo labelled app=web running, and a ReplicaSet web of 2
// selecting app=web, expect solo adopted (PodAdopted on its subject,
// expecting its last decision) and one pod planned, not two. Solo deleted
// as a Pod: its pod is deleted, and the ReplicaSet plans a replacement.
func TestAReplicaSetAdoptsAnOrphan(t *testing.T) {
	w := newWorld(t)
	solo := pt.BarePod(ns, "solo", "busybox:1")
	solo.Metadata.Labels = map[string]string{"app": "web"}
	w.apply(w.l.Accepted(solo, "solo-uid", 1))
	w.settle()
	w.run(w.pod("solo"), "n1", events.PhaseRunning, true)
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web", 2, "nginx:1.27"), depUID, 1))
	ds := w.decide()
	var adopted *events.PodAdopted
	plans := 0
	for _, d := range ds {
		switch e := d.Event.(type) {
		case *events.PodAdopted:
			adopted = e
			if d.ExpectLastSeq == nil || *d.ExpectLastSeq != w.pod("solo").LastDecisionSeq {
				t.Errorf("adoption not fenced:\n%s", show(ds))
			}
		case *events.PodPlanned:
			plans++
		}
	}
	if adopted == nil || adopted.Name != "solo" || adopted.Owner.UID != depUID || plans != 1 || len(ds) != 2 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.settle()
	if p := w.pod("solo"); p.Owner == nil || p.Owner.UID != depUID || len(w.c.OwnedPods(depUID)) != 2 {
		t.Fatalf("solo %+v, %d pods", p.Owner, len(w.c.OwnedPods(depUID)))
	}
	w.apply(w.l.AcceptedDelete("pod", ns, "solo", "solo-uid", 1))
	ds = w.decide()
	s := splitDecisions(t, ds)
	if got := deletedNames(s); len(got) != 1 || got[0] != "solo" || s.deletes[0].Reason != "pod deleted" {
		t.Fatalf("decisions after deleting solo:\n%s", show(ds))
	}
	for _, d := range ds {
		w.store(d)
	}
	w.apply(w.l.Removed("n1", planned(w.pod("solo")), 1))
	s = splitDecisions(t, w.decide())
	if len(s.plans) != 1 {
		t.Fatalf("no replacement for solo")
	}
}

// Given a ReplicaSet deleted with propagation Orphan, expect each pod
// released, not deleted.
func TestAnOrphanedReplicaSetReleasesItsPods(t *testing.T) {
	w := newWorld(t)
	pods := w.deploy(pt.ReplicaSet(ns, "web", 2, "nginx:1.27"), 1)
	del := w.l.AcceptedDelete("replicaset", ns, "web", depUID, 1)
	del.Event.(*events.AdmissionAccepted).Propagation = events.PropagateOrphan
	w.apply(del)
	ds := w.decide()
	if len(ds) != 2 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	for _, d := range ds {
		if e, ok := d.Event.(*events.PodReleased); !ok || e.Owner != depUID {
			t.Fatalf("decisions:\n%s", show(ds))
		}
		w.store(d)
	}
	for _, p := range pods {
		if p := w.pod(p.Name); p.Owner != nil || p.Deleting {
			t.Errorf("%s: owner %+v deleting %v", p.Name, p.Owner, p.Deleting)
		}
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after the release:\n%s", show(ds))
	}
}

// --- DaemonSet ---

func node(name string, labels map[string]string, taints ...manifest.Taint) events.NodeInfo {
	info := pt.NodeInfo(name, 4000, 8<<30, 110)
	info.Labels = labels
	info.Taints = taints
	return info
}

// daemonPods are the DaemonSet's pods by the node they are pinned to.
func (w *world) daemonPods(uid string) map[string]*projections.Pod {
	out := map[string]*projections.Pod{}
	for _, p := range w.c.OwnedPods(uid) {
		if p.Deleting {
			continue
		}
		aff := p.Spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0]
		out[aff.Values[0]] = p
	}
	return out
}

func desired(t *testing.T, ds []runner.Decision) []int32 {
	var out []int32
	for _, d := range ds {
		if e, ok := d.Event.(*events.WorkloadStatusDecided); ok {
			out = append(out, *e.Desired)
		}
	}
	return out
}

// Given nodes n1 (zone a), n2 (zone b), n3 (zone a, tainted
// dedicated=gpu:NoSchedule), n4 (zone a, cordoned) and a DaemonSet with
// nodeSelector zone=a: expect pods on n1 and n4 (daemon pods tolerate the
// cordon), none on n2 (selector) nor n3 (taint), Desired 2, decided once.
// Then n2 relabelled zone=a → a pod on n2, Desired 3; n1 relabelled zone=b
// → its pod deleted, Desired 2; a pod that fails → deleted and replaced
// under a new uid.
func TestADaemonSetRunsAPodOnEveryMatchingNode(t *testing.T) {
	w := newWorld(t)
	w.l.Now = now
	a := map[string]string{"zone": "a"}
	w.apply(w.l.Heartbeat(node("n1", a)), w.l.Heartbeat(node("n2", map[string]string{"zone": "b"})),
		w.l.Heartbeat(node("n3", a, manifest.Taint{Key: "dedicated", Value: "gpu", Effect: manifest.TaintNoSchedule})),
		w.l.Heartbeat(node("n4", a)))
	w.apply(w.l.Append(events.NodeDecisionSubject("n4"), &events.NodeCordoned{Node: "n4", Unschedulable: true}))
	obj := pt.DaemonSet(ns, "agent", "agent:1")
	obj.DaemonSet().Template.Spec.NodeSelector = map[string]string{"zone": "a"}
	w.apply(w.l.Accepted(obj, depUID, 1))
	ds := w.decide()
	if got := desired(t, ds); len(got) != 1 || got[0] != 2 {
		t.Fatalf("desired %v:\n%s", got, show(ds))
	}
	w.settle()
	pods := w.daemonPods(depUID)
	if len(pods) != 2 || pods["n1"] == nil || pods["n4"] == nil {
		t.Fatalf("daemon pods on %v", pods)
	}
	p := pods["n1"]
	tolerated := 0
	for _, tol := range p.Spec.Tolerations {
		if tol.Key == "node.kubernetes.io/unschedulable" || tol.Key == "node.kubernetes.io/not-ready" {
			tolerated++
		}
	}
	if tolerated != 2 || p.TemplateHash != manifest.TemplateHash(obj.DaemonSet().Template) {
		t.Errorf("daemon pod spec %+v", p.Spec)
	}
	if w.c.Workloads["daemonset/default/agent"].Decided().Desired != 2 {
		t.Errorf("desired not folded")
	}

	w.apply(w.l.Heartbeat(node("n2", a)))
	ds = w.decide()
	if s := desired(t, ds); len(s) != 1 || s[0] != 3 {
		t.Fatalf("after n2 joined zone a:\n%s", show(ds))
	}
	w.settle()
	if pods := w.daemonPods(depUID); len(pods) != 3 || pods["n2"] == nil {
		t.Fatalf("daemon pods on %v", pods)
	}

	w.apply(w.l.Heartbeat(node("n1", map[string]string{"zone": "b"})))
	ds = w.decide()
	s := splitDecisions(t, dropStatus(ds))
	if got := desired(t, ds); len(got) != 1 || got[0] != 2 || len(s.deletes) != 1 || s.deletes[0].UID != p.UID || len(s.plans) != 0 {
		t.Fatalf("after n1 left zone a:\n%s", show(ds))
	}
	w.settle()

	failed := w.daemonPods(depUID)["n2"]
	w.run(failed, "n2", events.PhaseFailed, false)
	ds = w.decide()
	s = splitDecisions(t, ds)
	if len(s.deletes) != 1 || s.deletes[0].UID != failed.UID || len(s.plans) != 1 || s.plans[0].UID == failed.UID ||
		s.plans[0].Name == failed.Name {
		t.Fatalf("after a failure:\n%s", show(ds))
	}
	w.settle()
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("settled, yet:\n%s", show(ds))
	}
}

func dropStatus(ds []runner.Decision) []runner.Decision {
	var out []runner.Decision
	for _, d := range ds {
		if _, ok := d.Event.(*events.WorkloadStatusDecided); !ok {
			out = append(out, d)
		}
	}
	return out
}

// Given a DaemonSet on 2 nodes with updateStrategy OnDelete whose
// template changes, expect nothing decided; a running pod deleted by hand
// is replaced from the new template at once, without waiting for its node
// to stop it.
func TestADaemonSetOnDeleteKeepsItsPods(t *testing.T) {
	w := newWorld(t)
	w.l.Now = now
	w.apply(w.l.Heartbeat(node("n1", nil)), w.l.Heartbeat(node("n2", nil)))
	w.apply(w.l.Accepted(onDelete(pt.DaemonSet(ns, "agent", "agent:1")), depUID, 1))
	w.settle()
	for name, p := range w.daemonPods(depUID) {
		w.run(p, name, events.PhaseRunning, true)
	}
	w.apply(w.l.Accepted(onDelete(pt.DaemonSet(ns, "agent", "agent:2")), depUID, 2))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a template change touched pods:\n%s", show(ds))
	}
	old := w.daemonPods(depUID)["n1"]
	w.apply(w.l.Deleted(planned(old), "n1", 1, "by hand"))
	s := splitDecisions(t, w.decide())
	if len(s.plans) != 1 || s.plans[0].Spec.Containers[0].Image != "agent:2" {
		t.Fatalf("replacement %+v", s.plans)
	}
}

// onDelete sets a DaemonSet's updateStrategy to OnDelete.
func onDelete(o manifest.Object) manifest.Object {
	o.DaemonSet().UpdateStrategy = &manifest.DaemonSetUpdateStrategy{Type: manifest.DaemonSetOnDelete}
	return o
}

// Given 5,000 nodes and a DaemonSet, expect its 5,000 pods planned in one
// pass (its burst is the pass budget) beside its Desired; then a heartbeat
// of one node decides nothing, looking at that node alone.
func TestADaemonSetOn5000NodesPlansInOnePass(t *testing.T) {
	w := newWorld(t)
	w.l.Now = now
	for i := 0; i < 5000; i++ {
		w.apply(w.l.Heartbeat(node(fmt.Sprintf("n%04d", i), nil)))
	}
	w.apply(w.l.Accepted(pt.DaemonSet(ns, "agent", "agent:1"), depUID, 1))
	ds := w.svc.Decide(now)
	if s := splitDecisions(t, dropStatus(ds)); len(s.plans) != 5000 || len(desired(t, ds)) != 1 {
		t.Fatalf("%d plans, desired %v", len(s.plans), desired(t, ds))
	}
	for _, d := range ds {
		w.store(d)
	}
	if ds := w.svc.Decide(now); len(ds) != 0 {
		t.Fatalf("settled, yet %d decisions", len(ds))
	}
	w.apply(w.l.Heartbeat(node("n0042", nil)))
	if ds := w.svc.Decide(now); len(ds) != 0 {
		t.Fatalf("a heartbeat decided %d", len(ds))
	}
}

// Pods a Deployment owns itself (made by a Gantry before ReplicaSets, kept
// in the log of an upgraded cluster) are an old revision: deleted first,
// and the ReplicaSet comes once they are gone.
func TestPodsOfADeploymentFromBeforeReplicaSets(t *testing.T) {
	w := newWorld(t)
	dep := pt.Deployment(ns, "web", 2, "nginx")
	a, b := pt.PodFor(dep, "dep-uid", "web-old-a", "uid-a"), pt.PodFor(dep, "dep-uid", "web-old-b", "uid-b")
	w.apply(w.l.Accepted(dep, "dep-uid", 1), w.l.Planned(a), w.l.Planned(b))
	ds := w.decide()
	if len(ds) != 2 {
		t.Fatalf("want the two old pods deleted first:\n%s", show(ds))
	}
	for _, d := range ds {
		if _, ok := d.Event.(*events.PodDeleted); !ok {
			t.Fatalf("want deletions only:\n%s", show(ds))
		}
		w.store(d) // unbound: gone at once
	}
	ds = w.decide()
	if len(ds) != 1 {
		t.Fatalf("then the ReplicaSet:\n%s", show(ds))
	}
	if d, ok := ds[0].Event.(*events.WorkloadDecided); !ok || d.Kind != "replicaset" {
		t.Fatalf("then the ReplicaSet:\n%s", show(ds))
	}
}

// Deleted objects that own nothing are forgotten by the fold (their
// tombstone stays): a ReplicaSet deleted before any pod of it was read is
// gone, and a plan for it read afterwards (it raced the deletion) is a pod
// whose owner is gone: deleted, as Kubernetes' garbage collector deletes
// it.
func TestAPodWhoseOwnerIsGoneIsDeleted(t *testing.T) {
	w := newWorld(t)
	rs := pt.ReplicaSet(ns, "web", 1, "nginx")
	w.apply(w.l.Accepted(rs, "rs-uid", 1), w.l.AcceptedDelete("replicaset", ns, "web", "rs-uid", 1))
	if w.c.Workloads[projections.WorkloadKey("replicaset", ns, "web")] != nil || !w.c.WorkloadGone("rs-uid") {
		t.Fatal("a deleted ReplicaSet owning nothing is not forgotten")
	}
	late := events.PodPlanned{Namespace: ns, Name: "web-late1", UID: "late-uid",
		Owner: &events.OwnerRef{Kind: "replicaset", Name: "web", UID: "rs-uid"}, Spec: rs.ReplicaSet().Template.Spec}
	w.apply(w.l.Planned(late))
	ds := w.decide()
	s := splitDecisions(t, ds)
	if got := deletedNames(s); len(got) != 1 || got[0] != "web-late1" || s.deletes[0].Reason != "its owner replicaset web is gone" {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.store(ds[0])
	if w.c.Pods[projections.Key(ns, "web-late1")] != nil {
		t.Error("the pod is still there")
	}
}
