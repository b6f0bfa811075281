package replica_test

import (
	"slices"
	"sort"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

const stsUID = "sts-uid-1"

// statefulSet is a StatefulSet web of replicas with serviceName web and a
// claim template data, defaults filled; edit changes its spec first.
func statefulSet(replicas int32, image string, edit func(s *manifest.StatefulSetSpec)) manifest.Object {
	s := &manifest.StatefulSetSpec{Replicas: &replicas, ServiceName: "web",
		Selector: &manifest.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
		Template: manifest.PodTemplateSpec{Metadata: manifest.TemplateMeta{Labels: map[string]string{"app": "web"}},
			Spec: manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: image}}}},
		VolumeClaimTemplates: []manifest.PersistentVolumeClaimTemplate{{Metadata: manifest.ClaimTemplateMeta{Name: "data"},
			Spec: manifest.PersistentVolumeClaimSpec{AccessModes: []string{"ReadWriteOnce"},
				Resources: manifest.VolumeResourceRequirements{Requests: manifest.ResourceList{"storage": manifest.MustQuantity("1Gi")}}}}},
	}
	if edit != nil {
		edit(s)
	}
	o := manifest.Object{APIVersion: manifest.APIAppsV1, Kind: manifest.KindStatefulSet, Metadata: manifest.ObjectMeta{Name: "web", Namespace: ns}, Spec: s}
	o.Defaults()
	return o
}

// step is what one pass decided, by kind of decision: the claims made, the
// pods planned, deleted, and the objects deleted or released.
type step struct {
	claims, plans, deletes, gone, released []string
}

// stsStep decides once, stores every decision, and sorts them into a step.
func (w *world) stsStep() step {
	w.t.Helper()
	var s step
	for _, d := range w.decide() {
		switch e := d.Event.(type) {
		case *events.WorkloadStatusDecided:
			continue
		case *events.WorkloadDecided:
			if e.Owner == nil {
				s.released = append(s.released, e.Name)
			} else {
				s.claims = append(s.claims, e.Name)
			}
		case *events.WorkloadDeleted:
			s.gone = append(s.gone, e.Name)
		case *events.PodPlanned:
			s.plans = append(s.plans, e.Name)
		case *events.PodDeleted:
			s.deletes = append(s.deletes, e.Name)
		default:
			w.t.Fatalf("unexpected decision %T", d.Event)
		}
		w.store(d)
	}
	return s
}

func (w *world) expectStep(what string, want step) {
	w.t.Helper()
	got := w.stsStep()
	if !slices.Equal(got.claims, want.claims) || !slices.Equal(got.plans, want.plans) || !slices.Equal(got.deletes, want.deletes) ||
		!slices.Equal(got.gone, want.gone) || !slices.Equal(got.released, want.released) {
		w.t.Fatalf("%s: got %+v, want %+v", what, got, want)
	}
}

// runReady binds a pod to n1 and makes it Running and Ready.
func (w *world) runReady(name string) {
	p := planned(w.pod(name))
	w.apply(w.l.Bound(p, "n1", 1), w.l.Status("n1", p, 1, events.PhaseRunning, true))
}

// removed is n1's report that a pod being deleted is gone.
func (w *world) removed(name string) {
	w.apply(w.l.Removed("n1", planned(w.pod(name)), 1))
}

func (w *world) claimsLeft() []string {
	var out []string
	for _, c := range w.c.Workloads {
		if c.Kind == "persistentvolumeclaim" && !c.Deleted {
			out = append(out, c.Name)
		}
	}
	sort.Strings(out)
	return out
}

// Given a StatefulSet web of 3 (OrderedReady, claim template data), expect
// each ordinal's claim before its pod, and ordinal i planned only once
// 0 … i-1 are Running and Ready; each pod named, host-named and labelled
// by its ordinal, in subdomain web, mounting its own claim.
func TestStatefulSetOrderedCreation(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.Accepted(statefulSet(3, "db:1", nil), stsUID, 1))
	for i, name := range []string{"web-0", "web-1", "web-2"} {
		w.expectStep("claim of "+name, step{claims: []string{"data-" + name}})
		w.expectStep("pod "+name, step{plans: []string{name}})
		w.expectStep(name+" not ready yet", step{})
		p := w.pod(name)
		if p.Spec.Hostname != name || p.Spec.Subdomain != "web" || p.Labels[manifest.StatefulSetPodNameLabel] != name ||
			p.Labels[manifest.PodIndexLabel] != string(rune('0'+i)) || p.Labels["app"] != "web" || p.Owner.UID != stsUID ||
			len(p.Spec.Volumes) != 1 || p.Spec.Volumes[0].Name != "data" || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != "data-"+name {
			t.Fatalf("pod %s: %+v %+v", name, p.Labels, p.Spec)
		}
		w.runReady(name)
	}
	w.expectStep("all ready", step{})
	c := w.c.Workloads["persistentvolumeclaim/default/data-web-1"]
	if c == nil || c.Object.PersistentVolumeClaim() == nil || c.Object.Metadata.Labels["app"] != "web" || c.Owner == nil || c.Owner.UID != stsUID {
		t.Fatalf("claim %+v", c)
	}
	if st := w.c.Status(w.c.Workloads["statefulset/default/web"]); st.Replicas != 3 || st.ReadyReplicas != 3 || st.UpdatedReplicas != 3 {
		t.Errorf("status %+v", st)
	}
	w.replayDecidesNothing()
}

// readySet brings a StatefulSet of n to n Running and Ready pods.
func (w *world) readySet(obj manifest.Object) {
	w.t.Helper()
	w.apply(w.l.Accepted(obj, stsUID, 1))
	for round := 0; round < 20; round++ {
		s := w.stsStep()
		for _, name := range s.plans {
			w.runReady(name)
		}
		if len(s.claims)+len(s.plans) == 0 {
			return
		}
	}
	w.t.Fatal("the set never settled")
}

// Given web of 3 Running and Ready scaled to 1, expect web-2 deleted
// first, web-1 only once web-2 is gone, and the claims kept (Retain).
func TestStatefulSetOrderedScaleDown(t *testing.T) {
	w := newWorld(t)
	w.readySet(statefulSet(3, "db:1", nil))
	w.apply(w.l.Accepted(statefulSet(1, "db:1", nil), stsUID, 2))
	w.expectStep("scale down", step{deletes: []string{"web-2"}})
	w.expectStep("web-2 stopping", step{})
	w.removed("web-2")
	w.expectStep("web-2 gone", step{deletes: []string{"web-1"}})
	w.removed("web-1")
	w.expectStep("web-1 gone", step{})
	if got := w.claimsLeft(); !slices.Equal(got, []string{"data-web-0", "data-web-1", "data-web-2"}) {
		t.Errorf("claims %v", got)
	}
	// Scaled up again, web-1 finds its claim: no new one.
	w.apply(w.l.Accepted(statefulSet(2, "db:1", nil), stsUID, 3))
	w.expectStep("scale up", step{plans: []string{"web-1"}})
}

// With whenScaled Delete, a scaled-away ordinal's claim is deleted once
// its pod is gone; with whenDeleted Delete, every claim once the set's
// pods are.
func TestStatefulSetClaimRetentionDelete(t *testing.T) {
	w := newWorld(t)
	del := func(s *manifest.StatefulSetSpec) {
		s.PersistentVolumeClaimRetentionPolicy = &manifest.StatefulSetPersistentVolumeClaimRetentionPolicy{WhenDeleted: "Delete", WhenScaled: "Delete"}
	}
	w.readySet(statefulSet(2, "db:1", del))
	w.apply(w.l.Accepted(statefulSet(1, "db:1", del), stsUID, 2))
	w.expectStep("scale down", step{deletes: []string{"web-1"}})
	w.expectStep("web-1 stopping: its claim stays", step{})
	w.removed("web-1")
	w.expectStep("web-1 gone", step{gone: []string{"data-web-1"}})
	w.apply(w.l.AcceptedDelete("statefulset", ns, "web", stsUID, 3))
	w.expectStep("set deleted", step{deletes: []string{"web-0"}})
	w.removed("web-0")
	w.expectStep("pods gone", step{gone: []string{"data-web-0"}})
	if w.c.Workloads["statefulset/default/web"] != nil || len(w.claimsLeft()) != 0 {
		t.Errorf("left: set %v, claims %v", w.c.Workloads["statefulset/default/web"], w.claimsLeft())
	}
}

// Given web of 3 deleted (Retain) and applied again (a new uid) while its
// pods stop, expect no pod planned while the old web-<i> exists, and each
// ordinal's claim, left by the old set, adopted by the new one and mounted
// by its pod of that ordinal: each ordinal finds its own data.
func TestStatefulSetNameReusedOnlyAfterRemoval(t *testing.T) {
	w := newWorld(t)
	w.readySet(statefulSet(3, "db:1", nil))
	w.apply(w.l.AcceptedDelete("statefulset", ns, "web", stsUID, 2))
	w.expectStep("set deleted", step{deletes: []string{"web-0", "web-1", "web-2"}})
	w.apply(w.l.Accepted(statefulSet(3, "db:1", nil), "sts-uid-2", 1))
	w.expectStep("old pods stopping", step{})
	w.removed("web-1")
	w.expectStep("web-0 still stopping", step{})
	w.removed("web-0")
	w.expectStep("web-0 gone", step{claims: []string{"data-web-0"}, plans: []string{"web-0"}})
	w.runReady("web-0")
	w.expectStep("web-0 ready", step{claims: []string{"data-web-1"}, plans: []string{"web-1"}})
	w.runReady("web-1")
	w.expectStep("web-2 still stopping", step{})
	w.removed("web-2")
	w.expectStep("web-2 gone", step{claims: []string{"data-web-2"}, plans: []string{"web-2"}})
	for i, name := range []string{"web-0", "web-1", "web-2"} {
		claim := "data-" + name
		if p := w.pod(name); p.Owner.UID != "sts-uid-2" || p.Spec.Volumes[0].PersistentVolumeClaim.ClaimName != claim {
			t.Errorf("pod %d: %+v", i, p)
		}
		if c := w.c.Workloads["persistentvolumeclaim/default/"+claim]; c.Owner == nil || c.Owner.UID != "sts-uid-2" || c.Generation != 2 {
			t.Errorf("claim %s: owner %+v generation %d", claim, c.Owner, c.Generation)
		}
	}
}

// A pod being deleted (a node lost, a user) is planned again only once it
// is gone: its node removed it, or the control plane finished the deletion.
func TestStatefulSetPodReplacedAfterRemoval(t *testing.T) {
	w := newWorld(t)
	w.readySet(statefulSet(2, "db:1", nil))
	old := w.pod("web-0")
	w.apply(w.l.Deleted(planned(old), "n1", 1, "deleted by a user"))
	w.expectStep("web-0 stopping", step{})
	w.removed("web-0")
	w.expectStep("web-0 gone", step{plans: []string{"web-0"}})
	if p := w.pod("web-0"); p.UID == old.UID {
		t.Errorf("web-0 planned again under its old uid %s", p.UID)
	}
}

// Given web of 3 in Parallel, expect the three claims at once, then the
// three pods; scaled to 0, the three deleted at once.
func TestStatefulSetParallel(t *testing.T) {
	w := newWorld(t)
	par := func(s *manifest.StatefulSetSpec) { s.PodManagementPolicy = manifest.ParallelPodManagement }
	w.apply(w.l.Accepted(statefulSet(3, "db:1", par), stsUID, 1))
	w.expectStep("claims", step{claims: []string{"data-web-0", "data-web-1", "data-web-2"}})
	w.expectStep("pods", step{plans: []string{"web-0", "web-1", "web-2"}})
	w.apply(w.l.Accepted(statefulSet(0, "db:1", par), stsUID, 2))
	w.expectStep("scale to 0", step{deletes: []string{"web-2", "web-1", "web-0"}})
}

// Given web of 3 with partition 1 and a new image, expect web-2 replaced,
// then web-1 once web-2 runs the new template Running and Ready, and web-0
// kept (below the partition).
func TestStatefulSetPartitionedRollingUpdate(t *testing.T) {
	w := newWorld(t)
	part := func(img string) manifest.Object {
		return statefulSet(3, img, func(s *manifest.StatefulSetSpec) {
			s.UpdateStrategy.RollingUpdate = &manifest.RollingUpdateStatefulSetStrategy{Partition: ptr32(1)}
		})
	}
	w.readySet(part("db:1"))
	w.apply(w.l.Accepted(part("db:2"), stsUID, 2))
	w.expectStep("update web-2", step{deletes: []string{"web-2"}})
	w.expectStep("web-2 stopping", step{})
	w.removed("web-2")
	w.expectStep("web-2 new", step{plans: []string{"web-2"}})
	w.expectStep("web-2 not ready", step{})
	w.runReady("web-2")
	w.expectStep("update web-1", step{deletes: []string{"web-1"}})
	w.removed("web-1")
	w.expectStep("web-1 new", step{plans: []string{"web-1"}})
	w.runReady("web-1")
	w.expectStep("partition reached", step{})
	if w.pod("web-0").Spec.Containers[0].Image != "db:1" || w.pod("web-1").Spec.Containers[0].Image != "db:2" {
		t.Errorf("images: web-0 %s, web-1 %s", w.pod("web-0").Spec.Containers[0].Image, w.pod("web-1").Spec.Containers[0].Image)
	}
}

// With OnDelete, a new template replaces nothing; a pod that fails is
// replaced from the new template once gone.
func TestStatefulSetOnDelete(t *testing.T) {
	w := newWorld(t)
	od := func(img string) manifest.Object {
		return statefulSet(2, img, func(s *manifest.StatefulSetSpec) {
			s.UpdateStrategy = manifest.StatefulSetUpdateStrategy{Type: manifest.StatefulSetOnDelete}
		})
	}
	w.readySet(od("db:1"))
	w.apply(w.l.Accepted(od("db:2"), stsUID, 2))
	w.expectStep("OnDelete: nothing", step{})
	p := planned(w.pod("web-1"))
	w.apply(w.l.Deleted(p, "n1", 1, "deleted by a user"), w.l.Removed("n1", p, 1))
	w.expectStep("web-1 replaced", step{plans: []string{"web-1"}})
	if img := w.pod("web-1").Spec.Containers[0].Image; img != "db:2" {
		t.Errorf("web-1 image %s", img)
	}
}

func ptr32(v int32) *int32 { return &v }

// Given web of 2 deleted with the default Retain, expect its pods deleted,
// then, once they are gone, its claims released (owned by nothing, so
// nothing cascades to them) and the set forgotten.
func TestStatefulSetDeletedRetainsClaims(t *testing.T) {
	w := newWorld(t)
	w.readySet(statefulSet(2, "db:1", nil))
	w.apply(w.l.AcceptedDelete("statefulset", ns, "web", stsUID, 2))
	w.expectStep("set deleted", step{deletes: []string{"web-0", "web-1"}})
	w.removed("web-0")
	w.expectStep("web-1 stopping", step{})
	w.removed("web-1")
	w.expectStep("pods gone", step{released: []string{"data-web-0", "data-web-1"}})
	w.expectStep("settled", step{})
	if w.c.Workloads["statefulset/default/web"] != nil || !slices.Equal(w.claimsLeft(), []string{"data-web-0", "data-web-1"}) {
		t.Errorf("set %v, claims %v", w.c.Workloads["statefulset/default/web"], w.claimsLeft())
	}
	w.replayDecidesNothing()
}

// Given web of 2 deleted and applied again before the replica service
// examined the deletion (its pods not yet deleted), expect the old pods
// deleted as what lost its owner, then the new set's web-0 once its name is
// free.
func TestStatefulSetAppliedAgainBeforeItsPodsWereDeleted(t *testing.T) {
	w := newWorld(t)
	w.readySet(statefulSet(2, "db:1", nil))
	w.apply(w.l.AcceptedDelete("statefulset", ns, "web", stsUID, 2), w.l.Accepted(statefulSet(2, "db:1", nil), "sts-uid-2", 1))
	w.expectStep("old pods deleted", step{deletes: []string{"web-0", "web-1"}})
	w.removed("web-0")
	w.removed("web-1")
	w.expectStep("names free", step{claims: []string{"data-web-0"}, plans: []string{"web-0"}})
}
