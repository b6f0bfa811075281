package admission_test

import (
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
)

func claimIntent(w *world, body string) events.Record {
	return w.l.IntentApply("persistentvolumeclaim", ns, "data",
		raw(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"data","namespace":"default"},"spec":{`+body+`}}`))
}

func claimSpecOf(t *testing.T, e *events.AdmissionAccepted) *manifest.PersistentVolumeClaimSpec {
	t.Helper()
	o, err := manifest.DecodeObject(e.Object)
	if err != nil {
		t.Fatal(err)
	}
	return o.PersistentVolumeClaim()
}

// With the default class made at the first start: a claim without
// storageClassName gets local-path; a claim naming a class that does not
// exist is refused in Kubernetes' words; a claim over a class's maxSize is
// refused; a pod naming a claim that does not exist is accepted (it waits
// Pending, as in Kubernetes); a claim's access modes may not change, and
// its request may not grow without allowVolumeExpansion.
func TestClaimsAgainstTheirClass(t *testing.T) {
	w := newWorld(t)
	w.svc.Bootstrap = true
	w.settle()

	w.apply(claimIntent(w, `"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}`))
	acc := acceptedOf(t, w.settle()[0])
	if got := claimSpecOf(t, acc).ClassName(); got != manifest.DefaultStorageClass {
		t.Errorf("default class %q, want local-path", got)
	}

	w.apply(w.l.IntentApply("persistentvolumeclaim", ns, "fast",
		raw(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"fast","namespace":"default"},
		"spec":{"storageClassName":"fast-ssd","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}}}`)))
	if r := rejectedOf(t, w.settle()[0]); r.Reasons[0] != `spec.storageClassName: storageclass.storage.k8s.io "fast-ssd" not found` {
		t.Errorf("missing class: %v", r.Reasons)
	}

	w.apply(w.l.IntentApply("storageclass", events.ClusterScope, "small",
		raw(`{"apiVersion":"storage.k8s.io/v1","kind":"StorageClass","metadata":{"name":"small"},"provisioner":"gantry.sh/local-path","parameters":{"maxSize":"10Gi"}}`)))
	acceptedOf(t, w.settle()[0])
	w.apply(w.l.IntentApply("persistentvolumeclaim", ns, "big",
		raw(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"big","namespace":"default"},
		"spec":{"storageClassName":"small","accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"20Gi"}}}}`)))
	if r := rejectedOf(t, w.settle()[0]); !strings.HasPrefix(r.Reasons[0], `spec.resources.requests.storage: invalid value "20Gi": must be no more than 10737418240 bytes, the largest volume of storage class "small"`) {
		t.Errorf("over maxSize: %v", r.Reasons)
	}
	w.apply(w.l.IntentApply("persistentvolumeclaim", ns, "huge",
		raw(`{"apiVersion":"v1","kind":"PersistentVolumeClaim","metadata":{"name":"huge","namespace":"default"},
		"spec":{"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"3Pi"}}}}`)))
	if r := rejectedOf(t, w.settle()[0]); r.Reasons[0] != `spec.resources.requests.storage: invalid value "3Pi": must be no more than 1Pi, the largest volume Gantry can make` {
		t.Errorf("bigger than any volume: %v", r.Reasons)
	}

	w.apply(w.l.IntentApply("pod", ns, "p", raw(`{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},
		"spec":{"containers":[{"name":"a","image":"x","volumeMounts":[{"name":"d","mountPath":"/d"}]}],"volumes":[{"name":"d","persistentVolumeClaim":{"claimName":"nope"}}]}}`)))
	acceptedOf(t, w.settle()[0])

	w.apply(claimIntent(w, `"accessModes":["ReadWriteMany"],"resources":{"requests":{"storage":"1Gi"}}`))
	if r := rejectedOf(t, w.settle()[0]); r.Reasons[0] != "spec: forbidden: spec is immutable after creation except resources.requests" {
		t.Errorf("changed modes: %v", r.Reasons)
	}
	w.apply(claimIntent(w, `"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"2Gi"}}`))
	if r := rejectedOf(t, w.settle()[0]); !strings.HasPrefix(r.Reasons[0], "spec.resources.requests.storage: forbidden: only dynamically provisioned pvc can be resized") {
		t.Errorf("grown without expansion: %v", r.Reasons)
	}
	// The same claim applied again (storageClassName still unset) is unchanged.
	w.apply(claimIntent(w, `"accessModes":["ReadWriteOnce"],"resources":{"requests":{"storage":"1Gi"}}`))
	if acc := acceptedOf(t, w.settle()[0]); !acc.Unchanged {
		t.Errorf("the same claim again is a change: %+v", acc)
	}
}
