package storage_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/storage"
)

// world is a log and the storage service folding it.
type world struct {
	t   *testing.T
	l   *pt.Log
	svc *storage.Service
}

func newWorld(t *testing.T) *world { return &world{t: t, l: pt.NewLog(), svc: storage.New()} }

func (w *world) apply(r events.Record) { w.svc.Apply(r) }

// accepted appends an apply verdict for o, in its namespace or, cluster
// scoped, in events.ClusterScope as admission writes it.
func (w *world) accepted(o manifest.Object, uid string, generation int64) events.Record {
	k, ns, name := pt.Kind(o), o.Metadata.Namespace, o.Metadata.Name
	if ns == "" {
		ns = events.ClusterScope
	}
	return w.l.Append(events.AdmissionSubject(ns, k, name), &events.AdmissionAccepted{Op: events.OpApply,
		Kind: k, Namespace: ns, Name: name, UID: uid, Generation: generation, Object: pt.Canonical(o)})
}

// settle decides and stores (with the copies for nodes) until nothing more
// is decided; it returns every decision stored, in order.
func (w *world) settle() []events.Record {
	w.t.Helper()
	var out []events.Record
	for range 20 {
		ds := w.svc.Decide(time.Now())
		if len(ds) == 0 {
			return out
		}
		for _, d := range ds {
			r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
			if err != nil || dup {
				w.t.Fatalf("the log refuses %s: dup %v, %v", d.MsgID, dup, err)
			}
			w.apply(r)
			out = append(out, r)
			for _, c := range d.CopyTo {
				out = append(out, w.l.Append(c, d.Event))
			}
		}
	}
	w.t.Fatal("still deciding")
	return nil
}

func claimObj(name, class, size string, mutate ...func(*manifest.PersistentVolumeClaimSpec)) manifest.Object {
	spec := &manifest.PersistentVolumeClaimSpec{AccessModes: []string{manifest.ReadWriteOnce},
		Resources: manifest.VolumeResourceRequirements{Requests: manifest.ResourceList{manifest.ResourceStorage: manifest.MustQuantity(size)}}}
	if class != "-" {
		spec.StorageClassName = &class
	}
	for _, m := range mutate {
		m(spec)
	}
	return manifest.Object{APIVersion: "v1", Kind: manifest.KindPersistentVolumeClaim,
		Metadata: manifest.ObjectMeta{Name: name, Namespace: "default"}, Spec: spec}
}

func pvObj(name, class, size, node, reclaim string) manifest.Object {
	spec := &manifest.PersistentVolumeSpec{AccessModes: []string{manifest.ReadWriteOnce}, StorageClassName: class,
		Capacity:                      manifest.ResourceList{manifest.ResourceStorage: manifest.MustQuantity(size)},
		PersistentVolumeReclaimPolicy: reclaim, Local: &manifest.LocalVolumeSource{Path: "/mnt/" + name}, NodeAffinity: manifest.NodeAffinityTo(node)}
	return manifest.Object{APIVersion: "v1", Kind: manifest.KindPersistentVolume, Metadata: manifest.ObjectMeta{Name: name}, Spec: spec}
}

func podUsing(name, uid string, claims ...string) events.PodPlanned {
	spec := manifest.PodSpec{Containers: []manifest.Container{{Name: "app", Image: "demo"}}}
	for _, c := range claims {
		spec.Volumes = append(spec.Volumes, manifest.Volume{Name: c,
			PersistentVolumeClaim: &manifest.PersistentVolumeClaimVolumeSource{ClaimName: c}})
	}
	return events.PodPlanned{Namespace: "default", Name: name, UID: uid, Spec: spec}
}

func volumeDecisions(rs []events.Record) []*events.VolumeDecided {
	var out []*events.VolumeDecided
	for _, r := range rs {
		if e, ok := r.Event.(*events.VolumeDecided); ok && strings.HasPrefix(r.Subject, "gantry.decision.") {
			out = append(out, e)
		}
	}
	return out
}

func subjects(rs []events.Record) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Subject)
	}
	return out
}

// Given the default class (WaitForFirstConsumer, Delete) and a claim of
// it, expect nothing until a pod using the claim is bound to n1; then a
// volume pvc-<claim uid> made on n1 under its volumes directory, bound to
// the claim, the node told; a second pass decides nothing. When the claim
// is deleted, the volume is deleted and n1 told to delete the directory.
func TestWaitForFirstConsumerProvisionsOnThePodsNode(t *testing.T) {
	w := newWorld(t)
	info := pt.NodeInfo("n1", 4000, 8<<30, 110)
	info.VolumesDir = "/var/lib/gantry/node/volumes"
	w.apply(w.l.Registered(info))
	w.apply(w.accepted(manifest.DefaultStorageClassObject(), "sc-uid", 1))
	// No storageClassName, as a StatefulSet's claims are made: the
	// default class is taken.
	w.apply(w.accepted(claimObj("data", "-", "1Gi"), "claim-uid", 1))
	if got := w.settle(); len(got) != 0 {
		t.Fatalf("decided before the claim has a consumer: %v", subjects(got))
	}
	pod := podUsing("web-0", "pod-uid", "data")
	w.apply(w.l.Planned(pod))
	if got := w.settle(); len(got) != 0 {
		t.Fatalf("decided before the pod was bound: %v", subjects(got))
	}
	w.apply(w.l.Bound(pod, "n1", 1))
	got := w.settle()
	want := []string{"gantry.decision.workload._cluster.persistentvolume.pvc-claim-uid",
		"gantry.decision.storage.pvc-claim-uid", "gantry.node.n1.volume.pvc-claim-uid"}
	if strings.Join(subjects(got), " ") != strings.Join(want, " ") {
		t.Fatalf("decided %v, want %v", subjects(got), want)
	}
	made := got[0].Event.(*events.WorkloadDecided)
	obj, err := manifest.DecodeObject(made.Object)
	if err != nil {
		t.Fatal(err)
	}
	pv := obj.PersistentVolume()
	if pv.Local.Path != "/var/lib/gantry/node/volumes/pvc-claim-uid" || pv.Node() != "n1" || pv.ReclaimPolicy() != manifest.ReclaimDelete ||
		pv.StorageClassName != "local-path" || pv.Capacity[manifest.ResourceStorage].String() != "1Gi" {
		t.Errorf("provisioned %+v", pv)
	}
	if errs := manifest.Validate(obj); errs != nil {
		t.Errorf("the provisioned volume does not validate: %v", errs)
	}
	b := volumeDecisions(got)[0]
	if b.Phase != manifest.VolumeBound || b.ClaimUID != "claim-uid" || b.VolumeUID != made.UID || !b.Provisioned || b.Node != "n1" || b.Path != pv.Local.Path {
		t.Errorf("binding %+v", b)
	}
	if vol, node, ok := clusterOf(w).ClaimVolume("default", "data"); !ok || vol != "pvc-claim-uid" || node != "n1" {
		t.Errorf("claim volume %q on %q (%v)", vol, node, ok)
	}

	w.apply(w.l.Deleted(pod, "n1", 1, "deleted"))
	w.apply(w.l.Append(events.ObsPodSubject("n1", "default", "web-0"), &events.PodRemoved{Namespace: "default", Name: "web-0", UID: "pod-uid", Node: "n1", Epoch: 1}))
	w.apply(w.l.AcceptedDelete("persistentvolumeclaim", "default", "data", "claim-uid", 1))
	got = w.settle()
	want = []string{"gantry.decision.storage.pvc-claim-uid", "gantry.node.n1.volume.pvc-claim-uid",
		"gantry.decision.workload._cluster.persistentvolume.pvc-claim-uid"}
	if strings.Join(subjects(got), " ") != strings.Join(want, " ") {
		t.Fatalf("on delete decided %v, want %v", subjects(got), want)
	}
	if d := volumeDecisions(got)[0]; d.Phase != events.VolumeDeleted || !d.Provisioned || d.Path != pv.Local.Path {
		t.Errorf("deletion %+v", d)
	}

	// Replayed from the log, a new service decides nothing.
	again := storage.New()
	pt.ApplyAll(again, w.l.Records...)
	if ds := again.Decide(time.Now()); len(ds) != 0 {
		t.Errorf("replay decided %d", len(ds))
	}
}

// clusterOf reads the service's fold through a fresh one over the log.
func clusterOf(w *world) *projections.Cluster {
	c := projections.NewCluster()
	pt.ApplyAll(c, w.l.Records...)
	return c
}

// Given static volumes of 10Gi and 5Gi (class manual, no class object,
// so bound at once), expect a claim of 4Gi to get the smallest that fits,
// a claim of 20Gi none, a claim naming the 10Gi one by volumeName that one;
// deleting the first claim releases its volume (Retain), and a new claim
// does not take a Released volume.
func TestStaticVolumesBindSmallestFitAndRetain(t *testing.T) {
	w := newWorld(t)
	w.apply(w.accepted(pvObj("pv-a", "manual", "10Gi", "n1", manifest.ReclaimRetain), "pv-a-uid", 1))
	w.apply(w.accepted(pvObj("pv-b", "manual", "5Gi", "n2", manifest.ReclaimRetain), "pv-b-uid", 1))
	w.apply(w.accepted(claimObj("small", "manual", "4Gi"), "small-uid", 1))
	w.apply(w.accepted(claimObj("huge", "manual", "20Gi"), "huge-uid", 1))
	got := volumeDecisions(w.settle())
	if len(got) != 1 || got[0].Volume != "pv-b" || got[0].ClaimName != "small" || got[0].Node != "n2" || got[0].Provisioned {
		t.Fatalf("bound %+v, want small to pv-b only", got)
	}
	w.apply(w.accepted(claimObj("named", "manual", "1Gi", func(s *manifest.PersistentVolumeClaimSpec) { s.VolumeName = "pv-a" }), "named-uid", 1))
	got = volumeDecisions(w.settle())
	if len(got) != 1 || got[0].Volume != "pv-a" || got[0].ClaimName != "named" {
		t.Fatalf("bound %+v, want named to pv-a", got)
	}
	w.apply(w.l.AcceptedDelete("persistentvolumeclaim", "default", "small", "small-uid", 1))
	rs := w.settle()
	got = volumeDecisions(rs)
	if len(got) != 1 || got[0].Volume != "pv-b" || got[0].Phase != manifest.VolumeReleased {
		t.Fatalf("on delete %+v, want pv-b Released", got)
	}
	for _, r := range rs {
		if _, ok := r.Event.(*events.WorkloadDeleted); ok {
			t.Errorf("a Retain volume was deleted")
		}
	}
	w.apply(w.accepted(claimObj("again", "manual", "4Gi"), "again-uid", 1))
	if got := w.settle(); len(got) != 0 {
		t.Errorf("a Released volume was bound again: %v", subjects(got))
	}
	c := clusterOf(w)
	pvb := c.Workloads[projections.WorkloadKey("persistentvolume", events.ClusterScope, "pv-b")]
	if st := c.Status(pvb); st.Volume == nil || st.Volume.Phase != manifest.VolumeReleased || st.Volume.Claim != "default/small" {
		t.Errorf("pv-b status %+v", st.Volume)
	}
}

// Given a volume pre-bound by claimRef to claim "mine", expect another
// claim that would fit not to get it, and "mine" to; a WaitForFirstConsumer
// claim whose pod is on n2 does not take a static volume of n1.
func TestPreBoundAndNodeOfStaticVolumes(t *testing.T) {
	w := newWorld(t)
	pre := pvObj("pv-a", "manual", "10Gi", "n1", "")
	pre.PersistentVolume().ClaimRef = &manifest.ObjectReference{Namespace: "default", Name: "mine"}
	w.apply(w.accepted(pre, "pv-a-uid", 1))
	w.apply(w.accepted(claimObj("other", "manual", "1Gi"), "other-uid", 1))
	if got := w.settle(); len(got) != 0 {
		t.Fatalf("a pre-bound volume went to another claim: %v", subjects(got))
	}
	w.apply(w.accepted(claimObj("mine", "manual", "1Gi"), "mine-uid", 1))
	if got := volumeDecisions(w.settle()); len(got) != 1 || got[0].ClaimName != "mine" {
		t.Fatalf("bound %+v, want mine", got)
	}

	w = newWorld(t)
	wait := manifest.VolumeBindingWaitForFirstConsumer
	w.apply(w.accepted(manifest.Object{APIVersion: manifest.APIStorageV1, Kind: manifest.KindStorageClass,
		Metadata: manifest.ObjectMeta{Name: "local"}, Spec: &manifest.StorageClassSpec{Provisioner: manifest.NoProvisioner, VolumeBindingMode: &wait}}, "sc", 1))
	w.apply(w.accepted(pvObj("pv-n1", "local", "10Gi", "n1", ""), "pv-n1-uid", 1))
	w.apply(w.accepted(claimObj("data", "local", "1Gi"), "data-uid", 1))
	pod := podUsing("db-0", "db-uid", "data")
	w.apply(w.l.Planned(pod))
	w.apply(w.l.Bound(pod, "n2", 1))
	if got := w.settle(); len(got) != 0 {
		t.Fatalf("a volume of n1 was bound for a pod on n2: %v", subjects(got))
	}
	w.apply(w.accepted(pvObj("pv-n2", "local", "10Gi", "n2", ""), "pv-n2-uid", 1))
	if got := volumeDecisions(w.settle()); len(got) != 1 || got[0].Volume != "pv-n2" {
		t.Fatalf("bound %+v, want pv-n2", got)
	}
}

// A claim deleted while a pod still mounts it keeps its volume until the
// pod is gone (Kubernetes' pvc-protection).
func TestVolumeOfAClaimInUseWaitsForItsPods(t *testing.T) {
	w := newWorld(t)
	info := pt.NodeInfo("n1", 4000, 8<<30, 110)
	info.VolumesDir = "/v"
	w.apply(w.l.Registered(info))
	w.apply(w.accepted(manifest.DefaultStorageClassObject(), "sc-uid", 1))
	w.apply(w.accepted(claimObj("data", "local-path", "1Gi"), "claim-uid", 1))
	pod := podUsing("web-0", "pod-uid", "data")
	w.apply(w.l.Planned(pod))
	w.apply(w.l.Bound(pod, "n1", 1))
	w.settle()
	w.apply(w.l.AcceptedDelete("persistentvolumeclaim", "default", "data", "claim-uid", 1))
	if got := w.settle(); len(got) != 0 {
		t.Fatalf("the volume of a claim in use was reclaimed: %v", subjects(got))
	}
	w.apply(w.l.Deleted(pod, "n1", 1, "deleted"))
	w.apply(w.l.Append(events.ObsPodSubject("n1", "default", "web-0"), &events.PodRemoved{Namespace: "default", Name: "web-0", UID: "pod-uid", Node: "n1", Epoch: 1}))
	if got := volumeDecisions(w.settle()); len(got) != 1 || got[0].Phase != events.VolumeDeleted {
		t.Fatalf("once the pod is gone: %+v", got)
	}
}

// Given 50 claims bound to 50 static volumes, expect a pass with nothing
// changed to examine nothing, and a new claim to be examined with the
// claims still waiting only: a pass's work follows what changed, not the
// cluster's size (every FullEvery it looks at all).
func TestAPassExaminesWhatChanged(t *testing.T) {
	w := newWorld(t)
	w.svc.FullEvery = time.Hour
	for i := range 50 {
		name := fmt.Sprintf("pv-%02d", i)
		w.apply(w.accepted(pvObj(name, "manual", "1Gi", "n1", manifest.ReclaimRetain), name+"-uid", 1))
		claim := fmt.Sprintf("c-%02d", i)
		w.apply(w.accepted(claimObj(claim, "manual", "1Gi"), claim+"-uid", 1))
	}
	if got := volumeDecisions(w.settle()); len(got) != 50 {
		t.Fatalf("bound %d claims, want 50", len(got))
	}
	if ds := w.svc.Decide(time.Now()); len(ds) != 0 || w.svc.Examined() != 0 {
		t.Fatalf("a pass with nothing changed decided %d and examined %d", len(ds), w.svc.Examined())
	}
	w.apply(w.accepted(claimObj("late", "manual", "1Gi"), "late-uid", 1))
	if ds := w.svc.Decide(time.Now()); len(ds) != 0 || w.svc.Examined() != 1 {
		t.Fatalf("a new claim with no volume left: decided %d, examined %d, want 0 and 1", len(ds), w.svc.Examined())
	}
	w.apply(w.accepted(pvObj("pv-late", "manual", "1Gi", "n1", manifest.ReclaimRetain), "pv-late-uid", 1))
	got := volumeDecisions(w.settle())
	if len(got) != 1 || got[0].ClaimName != "late" || got[0].Volume != "pv-late" {
		t.Fatalf("a new volume for the waiting claim: %+v", got)
	}
}
