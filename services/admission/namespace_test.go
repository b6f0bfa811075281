package admission_test

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/admission"
)

func namespaceIntent(l *pt.Log, name string) events.Record {
	return l.IntentApply("namespace", events.ClusterScope, name,
		raw(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"`+name+`"}}`))
}

// An object in a namespace that was never made is refused as Kubernetes
// refuses it; made in the same apply after its Namespace, it waits for the
// Namespace's verdict and is accepted; once the Namespace is deleted, new
// content is refused; default may not be deleted.
func TestNamespacesMustExist(t *testing.T) {
	w := newWorld(t)
	orphan := w.l.IntentApplyObject(pt.Deployment("shop", "web", 1, "nginx:1"))
	w.apply(orphan)
	ds := w.settle()
	if r := rejectedOf(t, ds[0]); r.Reasons[0] != `namespaces "shop" not found` || r.Code != events.RejectNotFound {
		t.Fatalf("object in a missing namespace: %+v", r)
	}

	// One apply: the Namespace, then a Deployment in it. The first pass
	// judges only the Namespace; the Deployment waits for its verdict.
	nsi := namespaceIntent(w.l, "shop")
	dep := w.l.IntentApplyObject(pt.Deployment("shop", "web", 1, "nginx:1"))
	w.apply(nsi, dep)
	ds = w.decide()
	if len(ds) != 1 || ds[0].Subject != events.AdmissionSubject(events.ClusterScope, "namespace", "shop") {
		t.Fatalf("first pass: want the Namespace's verdict alone:\n%s", show(ds))
	}
	acceptedOf(t, ds[0])
	w.store(ds[0])
	ds = w.decide()
	if len(ds) != 1 {
		t.Fatalf("second pass:\n%s", show(ds))
	}
	acceptedOf(t, ds[0])
	w.store(ds[0])

	// Deleted: new content is refused.
	w.apply(w.l.IntentDelete("namespace", events.ClusterScope, "shop"))
	acceptedOf(t, w.settle()[0])
	w.apply(w.l.IntentApplyObject(pt.Deployment("shop", "api", 1, "nginx:1")))
	if r := rejectedOf(t, w.settle()[0]); r.Reasons[0] != "unable to create new content in namespace shop because it is being terminated" {
		t.Errorf("object in a deleted namespace: %+v", r)
	}

	// default exists without being applied, and may not be deleted.
	w.apply(namespaceIntent(w.l, manifest.DefaultNamespace))
	acceptedOf(t, w.settle()[0])
	w.apply(w.l.IntentDelete("namespace", events.ClusterScope, manifest.DefaultNamespace))
	if r := rejectedOf(t, w.settle()[0]); r.Reasons[0] != `namespaces "default" is forbidden: this namespace may not be deleted` {
		t.Errorf("delete default: %+v", r)
	}

	// A Namespace is cluster-scoped: one that names a namespace is refused.
	w.apply(w.l.IntentApply("namespace", events.ClusterScope, "x",
		raw(`{"apiVersion":"v1","kind":"Namespace","metadata":{"name":"x","namespace":"default"}}`)))
	r := rejectedOf(t, w.settle()[0])
	found := false
	for _, reason := range r.Reasons {
		found = found || reason == `metadata.namespace: must be empty, got "default": a Namespace is cluster-scoped`
	}
	if !found {
		t.Errorf("namespaced Namespace: %+v", r)
	}
}

// A quota of one Deployment in the namespace: the first is accepted, a
// second (even applied in the same pass) is refused in Kubernetes' words;
// once the first is deleted, another is accepted. Objects a controller
// made count too.
func TestCountQuotaAtAdmission(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.IntentApply("resourcequota", ns, "objects", raw(`{"apiVersion":"v1","kind":"ResourceQuota",
		"metadata":{"name":"objects","namespace":"default"},"spec":{"hard":{"count/deployments.apps":"1","count/jobs.batch":"1"}}}`)))
	acceptedOf(t, w.settle()[0])
	w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "a", 1, "nginx")), w.l.IntentApplyObject(pt.Deployment(ns, "b", 1, "nginx")))
	ds := w.settle()
	if len(ds) != 2 {
		t.Fatalf("verdicts:\n%s", show(ds))
	}
	acceptedOf(t, ds[0])
	want := `deployments.apps "b" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1`
	if r := rejectedOf(t, ds[1]); r.Reasons[0] != want {
		t.Errorf("second deployment: %q, want %q", r.Reasons[0], want)
	}
	// Updating the one that exists is no new object.
	w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "a", 2, "nginx")))
	acceptedOf(t, w.settle()[0])
	w.apply(w.l.IntentDelete("deployment", ns, "a"))
	acceptedOf(t, w.settle()[0])
	w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "b", 1, "nginx")))
	acceptedOf(t, w.settle()[0])

	// A Job a CronJob made counts against count/jobs.batch.
	w.apply(w.l.Append(events.WorkloadSubject(ns, "job", "nightly-1"), &events.WorkloadDecided{Kind: "job", Namespace: ns, Name: "nightly-1", UID: "j1"}))
	w.apply(w.l.IntentApply("job", ns, "manual", raw(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"manual","namespace":"default"},
		"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"a","image":"x"}]}}}}`)))
	if r := rejectedOf(t, w.settle()[0]); r.Reasons[0] != `jobs.batch "manual" is forbidden: exceeded quota: objects, requested: count/jobs.batch=1, used: count/jobs.batch=1, limited: count/jobs.batch=1` {
		t.Errorf("job beside a CronJob's: %q", r.Reasons[0])
	}
}

// A quota applied with the objects it caps, in one apply: they wait for
// its verdict, and are counted.
func TestQuotaAppliedWithItsObjects(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.IntentApply("resourcequota", ns, "objects", raw(`{"apiVersion":"v1","kind":"ResourceQuota",
		"metadata":{"name":"objects","namespace":"default"},"spec":{"hard":{"count/deployments.apps":"1"}}}`)),
		w.l.IntentApplyObject(pt.Deployment(ns, "a", 1, "nginx")), w.l.IntentApplyObject(pt.Deployment(ns, "b", 1, "nginx")))
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("first pass: want the quota's verdict alone:\n%s", show(ds))
	}
	ds = w.settle()
	if len(ds) != 3 {
		t.Fatalf("verdicts:\n%s", show(ds))
	}
	acceptedOf(t, ds[1])
	if r := rejectedOf(t, ds[2]); !strings.Contains(r.Reasons[0], "exceeded quota: objects") {
		t.Errorf("b: %v", r.Reasons)
	}
}

// At a cluster's first start admission makes default, kube-system and
// kube-public, the default StorageClass local-path, and the default
// ClusterRoles and the ClusterRoleBinding of system:masters, as objects (controller decisions, once: fenced on an empty
// subject), so they are listed; a restarted admission that read them makes
// nothing.
func TestDefaultNamespacesAreMadeOnce(t *testing.T) {
	w := newWorld(t)
	w.svc.Bootstrap = true
	ds := w.settle()
	var names []string
	for _, d := range ds {
		e, ok := d.Event.(*events.WorkloadDecided)
		if !ok || (e.Kind != "namespace" && e.Kind != "storageclass" && e.Kind != "clusterrole" && e.Kind != "clusterrolebinding") || *d.ExpectLastSeq != 0 {
			t.Fatalf("decision %+v", d)
		}
		names = append(names, e.Name)
	}
	if strings.Join(names, ",") != "default,kube-system,kube-public,local-path,cluster-admin,admin,edit,view,cluster-admin" {
		t.Errorf("made %v", names)
	}
	again := admission.New()
	again.Bootstrap = true
	for _, r := range w.l.Records {
		again.Apply(r)
	}
	if ds := again.Decide(now); len(ds) != 0 {
		t.Errorf("a restarted admission decided %s", show(ds))
	}
}

// A create (kubectl create, gantry create job) of an object that exists is
// refused as AlreadyExists; an apply of it changes it.
func TestCreateOfAnObjectThatExists(t *testing.T) {
	w := newWorld(t)
	job := raw(`{"apiVersion":"batch/v1","kind":"Job","metadata":{"name":"pi","namespace":"default"},
		"spec":{"template":{"spec":{"restartPolicy":"Never","containers":[{"name":"a","image":"x"}]}}}}`)
	create := func() events.Record {
		r := w.l.IntentApply("job", ns, "pi", job)
		r.Event.(*events.IntentApplied).Create = true
		return r
	}
	w.apply(create())
	acceptedOf(t, w.settle()[0])
	w.apply(create())
	r := rejectedOf(t, w.settle()[0])
	if r.Code != events.RejectAlreadyExists || r.Reasons[0] != `jobs.batch "pi" already exists` {
		t.Errorf("second create: %+v", r)
	}
}
