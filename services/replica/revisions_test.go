package replica_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// deployment is web of replicas at image, with a change cause and a
// revisionHistoryLimit (nil: the default).
func deployment(replicas int32, image, cause string, limit *int32) manifest.Object {
	o := recreate(pt.Deployment(ns, "web", replicas, image))
	if cause != "" {
		o.Metadata.Annotations = map[string]string{manifest.ChangeCauseAnnotation: cause}
	}
	o.Deployment().RevisionHistoryLimit = limit
	return o
}

// revisions maps the live ReplicaSets of the Deployment, by image, to
// their revision annotation.
func (w *world) revisions() map[string]string {
	out := map[string]string{}
	for _, rs := range w.sets(depUID) {
		out[rs.Object.ReplicaSet().Template.Spec.Containers[0].Image] = rs.Object.Metadata.Annotations[manifest.RevisionAnnotation]
	}
	return out
}

func (w *world) set(image string) *projections.Workload {
	w.t.Helper()
	for _, rs := range w.sets(depUID) {
		if rs.Object.ReplicaSet().Template.Spec.Containers[0].Image == image {
			return rs
		}
	}
	w.t.Fatalf("no replicaset of %s", image)
	return nil
}

// Given web applied with A, then B, then scaled, then back to A, expect
// revisions A 1; B 2; B still 2; A 3 (moved, as in Kubernetes), each with
// the change cause of its apply and the actor of its decision, the
// Deployment's revision the newest; and a replay of the log deciding
// nothing.
func TestRevisionsFollowTheTemplate(t *testing.T) {
	w := newWorld(t)
	dep := func() *projections.Workload { return w.c.Workloads["deployment/default/web"] }
	w.deploy(deployment(2, "nginx:1.27", "apply A", nil), 1)
	if got := w.revisions(); len(got) != 1 || got["nginx:1.27"] != "1" {
		t.Fatalf("after A: %v", got)
	}
	a := w.set("nginx:1.27")
	if a.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation] != "apply A" || a.RevisionActor != "tester" || a.RevisionAt.IsZero() {
		t.Errorf("A's revision: annotations %v, actor %q at %v", a.Object.Metadata.Annotations, a.RevisionActor, a.RevisionAt)
	}

	w.deploy(deployment(2, "nginx:1.28", "apply B", nil), 2)
	if got := w.revisions(); got["nginx:1.27"] != "1" || got["nginx:1.28"] != "2" {
		t.Fatalf("after B: %v", got)
	}
	if c := w.set("nginx:1.28").Object.Metadata.Annotations[manifest.ChangeCauseAnnotation]; c != "apply B" {
		t.Errorf("B's change cause %q", c)
	}

	w.deploy(deployment(4, "nginx:1.28", "apply B", nil), 3)
	if got := w.revisions(); got["nginx:1.27"] != "1" || got["nginx:1.28"] != "2" {
		t.Fatalf("scaling made a revision: %v", got)
	}
	if rs := w.set("nginx:1.28"); rs.Generation != 2 || rs.Object.ReplicaSet().ReplicaCount() != 4 {
		t.Errorf("B scaled: generation %d, replicas %d", rs.Generation, rs.Object.ReplicaSet().ReplicaCount())
	}

	aUID, aAt := a.UID, a.RevisionAt
	w.l.Advance(time.Minute)
	w.deploy(deployment(2, "nginx:1.27", "back to A", nil), 4)
	if got := w.revisions(); len(got) != 2 || got["nginx:1.27"] != "3" || got["nginx:1.28"] != "2" {
		t.Fatalf("after the rollback: %v", got)
	}
	if a2 := w.set("nginx:1.27"); a2.UID != aUID || a2.Object.Metadata.Annotations[manifest.ChangeCauseAnnotation] != "back to A" ||
		!a2.RevisionAt.After(aAt) {
		t.Errorf("A brought back: uid %s (was %s), annotations %v, at %v (was %v)", a2.UID, aUID, a2.Object.Metadata.Annotations, a2.RevisionAt, aAt)
	}
	if st := w.c.Status(dep()); st.Revision != 3 {
		t.Errorf("Deployment's revision %d, want 3", st.Revision)
	}

	w.replayDecidesNothing()
}

// Given revisionHistoryLimit 1 and templates A, B, C, where B's pod is
// still on its node (ended, not yet removed), expect A (empty, oldest)
// deleted and B kept; with limit 0, B kept while its pod is there and
// deleted once its node removes it; C, the current one, never.
func TestRevisionHistoryLimitPrunesEmptyOldReplicaSets(t *testing.T) {
	w := newWorld(t)
	one, zero := int32(1), int32(0)
	w.deploy(deployment(1, "nginx:1.27", "", &one), 1)
	w.deploy(deployment(1, "nginx:1.28", "", &one), 2)
	bPods := w.c.OwnedPods(w.set("nginx:1.28").UID)
	if len(bPods) != 1 {
		t.Fatalf("B's pods: %d", len(bPods))
	}
	b := planned(bPods[0])
	w.run(bPods[0], "n1", events.PhaseRunning, true)

	w.apply(w.l.Accepted(deployment(1, "nginx:1.29", "", &one), depUID, 3))
	all := w.settle() // B to 0, its pod's deletion (the pod still runs on n1), A pruned
	w.apply(w.l.Status("n1", b, 1, events.PhaseFailed, false))
	all = append(all, w.settle()...)
	var pruned []string
	for _, d := range all {
		if e, ok := d.Event.(*events.WorkloadDeleted); ok {
			pruned = append(pruned, e.Name)
		}
	}
	a := w.c.Workloads[projections.WorkloadKey("replicaset", ns, manifest.ReplicaSetName("web", manifest.TemplateHash(deployment(1, "nginx:1.27", "", nil).Deployment().Template)))]
	if len(pruned) != 1 || a != nil {
		t.Fatalf("pruned %v, A in the fold: %v", pruned, a != nil)
	}
	if got := w.revisions(); len(got) != 2 || got["nginx:1.28"] != "2" || got["nginx:1.29"] != "3" {
		t.Fatalf("kept %v, want B (with its pod) and C", got)
	}

	w.apply(w.l.Accepted(deployment(1, "nginx:1.29", "", &zero), depUID, 4))
	if ds := w.settle(); len(ds) != 0 {
		t.Fatalf("limit 0 with B's pod still there:\n%s", show(ds))
	}
	w.apply(w.l.Removed("n1", b, 1))
	w.settle()
	if got := w.revisions(); len(got) != 1 || got["nginx:1.29"] != "3" {
		t.Fatalf("kept %v, want C alone", got)
	}

	w.replayDecidesNothing()
}
