package admission_test

import (
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/runner"
)

const ns = "default"

var now = pt.Start.Add(time.Hour)

// world is a log and an admission service folding it.
type world struct {
	t   *testing.T
	l   *pt.Log
	svc *admission.Service
}

func newWorld(t *testing.T) *world {
	return &world{t: t, l: pt.NewLog(), svc: admission.New()}
}

func (w *world) apply(rs ...events.Record) {
	pt.ApplyAll(w.svc, rs...)
}

// decide runs Decide and checks it is pure: a second call from the same
// state returns the same decisions.
func (w *world) decide() []runner.Decision {
	w.t.Helper()
	ds := w.svc.Decide(now)
	if again := w.svc.Decide(now); !reflect.DeepEqual(ds, again) {
		w.t.Fatalf("Decide is not repeatable:\n%s\n%s", show(ds), show(again))
	}
	return ds
}

// store appends a decision to the log as the bus would (checking its
// expectation and message id) and folds it back.
func (w *world) store(d runner.Decision) events.Record {
	w.t.Helper()
	r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
	if err != nil || dup {
		w.t.Fatalf("store %s: dup %v err %v", d.MsgID, dup, err)
	}
	w.svc.Apply(r)
	return r
}

// settle decides and stores until nothing is left to decide.
func (w *world) settle() []runner.Decision {
	w.t.Helper()
	var all []runner.Decision
	for i := 0; i < 20; i++ {
		ds := w.decide()
		if len(ds) == 0 {
			return all
		}
		for _, d := range ds {
			w.store(d)
		}
		all = append(all, ds...)
	}
	w.t.Fatal("admission never settles")
	return nil
}

func show(ds []runner.Decision) string {
	var b strings.Builder
	for _, d := range ds {
		e, _ := json.Marshal(d.Event)
		exp := "none"
		if d.ExpectLastSeq != nil {
			exp = fmt.Sprint(*d.ExpectLastSeq)
		}
		fmt.Fprintf(&b, "  %s %s msgid=%s expect=%s %s\n", d.Subject, d.Event.Type(), d.MsgID, exp, e)
	}
	return b.String()
}

func acceptedOf(t *testing.T, d runner.Decision) *events.AdmissionAccepted {
	t.Helper()
	a, ok := d.Event.(*events.AdmissionAccepted)
	if !ok {
		t.Fatalf("decision is %T, want accepted: %s", d.Event, show([]runner.Decision{d}))
	}
	return a
}

func rejectedOf(t *testing.T, d runner.Decision) *events.AdmissionRejected {
	t.Helper()
	r, ok := d.Event.(*events.AdmissionRejected)
	if !ok {
		t.Fatalf("decision is %T, want rejected: %s", d.Event, show([]runner.Decision{d}))
	}
	return r
}

func expectSeq(t *testing.T, d runner.Decision, want uint64) {
	t.Helper()
	if d.ExpectLastSeq == nil || *d.ExpectLastSeq != want {
		t.Errorf("ExpectLastSeq = %v, want %d", d.ExpectLastSeq, want)
	}
	if d.ExpectOn != "" && d.ExpectOn != d.Subject {
		t.Errorf("ExpectOn = %q, want the verdict's own subject", d.ExpectOn)
	}
}

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func TestAcceptsANewDeployment(t *testing.T) {
	w := newWorld(t)
	obj := pt.Deployment(ns, "x", 2, "nginx:1.27")
	intent := w.l.IntentApplyObject(obj)
	w.apply(intent)

	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	d := ds[0]
	if want := "gantry.decision.admission.default.deployment.x"; d.Subject != want {
		t.Errorf("subject = %q, want %q", d.Subject, want)
	}
	if want := admission.VerdictMsgID(intent.Seq, intent.Envelope.ID); d.MsgID != want {
		t.Errorf("msgid = %q, want %q", d.MsgID, want)
	}
	expectSeq(t, d, 0)
	a := acceptedOf(t, d)
	if a.Op != events.OpApply || a.Kind != "deployment" || a.Namespace != ns || a.Name != "x" || a.Generation != 1 || a.Unchanged {
		t.Errorf("accepted = %+v", a)
	}
	if a.UID == "" || a.UID != events.DeriveID("uid/"+intent.Envelope.ID) {
		t.Errorf("uid = %q, want one derived from the intent id", a.UID)
	}
	if a.IntentSeq != intent.Seq || a.IntentID != intent.Envelope.ID {
		t.Errorf("intent = %d/%q, want %d/%q", a.IntentSeq, a.IntentID, intent.Seq, intent.Envelope.ID)
	}
	if string(a.Object) != string(pt.Canonical(obj)) {
		t.Errorf("object = %s\nwant %s", a.Object, pt.Canonical(obj))
	}
	// The verdict traces back to the intent.
	if d.Meta.CausationID != intent.Envelope.ID || d.Meta.CorrelationID != intent.Envelope.CorrelationID ||
		d.Meta.ID != events.DeriveID(d.MsgID) || d.Meta.Source != admission.Name {
		t.Errorf("meta = %+v", d.Meta)
	}
}

func TestDefaultsAreFilledBeforeComparing(t *testing.T) {
	w := newWorld(t)
	// No namespace in metadata, no replicas, no restart policy: all defaulted.
	intent := w.l.IntentApply("deployment", ns, "x", raw(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
		"spec":{"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
		"spec":{"containers":[{"name":"app","image":"nginx:1.27"}]}}}}`))
	w.apply(intent)
	a := acceptedOf(t, w.decide()[0])
	var obj struct {
		Metadata struct{ Namespace string }
		Spec     struct {
			Replicas *int32
			Template struct {
				Spec struct{ RestartPolicy string }
			}
		}
	}
	if err := json.Unmarshal(a.Object, &obj); err != nil {
		t.Fatal(err)
	}
	if obj.Metadata.Namespace != ns || obj.Spec.Replicas == nil || *obj.Spec.Replicas != 1 || obj.Spec.Template.Spec.RestartPolicy != "Always" {
		t.Errorf("canonical object not defaulted: %s", a.Object)
	}
}

// TestVerdicts is the given/when/then table: given these intents and
// verdicts, when the last intent arrives, expect this verdict.
func TestVerdicts(t *testing.T) {
	x := pt.Deployment(ns, "x", 2, "nginx:1.27")
	pod := pt.BarePod(ns, "p", "busybox:1")
	cases := []struct {
		name string
		// given builds the history, settled through admission; last is
		// the intent under test.
		given func(l *pt.Log) []events.Record
		last  func(l *pt.Log) events.Record
		then  func(t *testing.T, d runner.Decision, prev []events.Record)
	}{
		{
			name:  "re-applying the same object is accepted unchanged at the same generation",
			given: func(l *pt.Log) []events.Record { return []events.Record{l.IntentApplyObject(x)} },
			last:  func(l *pt.Log) events.Record { return l.IntentApplyObject(x) },
			then: func(t *testing.T, d runner.Decision, prev []events.Record) {
				a := acceptedOf(t, d)
				first := prev[len(prev)-1].Event.(*events.AdmissionAccepted)
				if !a.Unchanged || a.Generation != 1 || a.UID != first.UID {
					t.Errorf("accepted = unchanged %v gen %d uid %q, want unchanged gen 1 uid %q", a.Unchanged, a.Generation, a.UID, first.UID)
				}
				expectSeq(t, d, prev[len(prev)-1].Seq)
			},
		},
		{
			name:  "a changed object is accepted at generation+1 with the same uid",
			given: func(l *pt.Log) []events.Record { return []events.Record{l.IntentApplyObject(x)} },
			last:  func(l *pt.Log) events.Record { return l.IntentApplyObject(pt.Deployment(ns, "x", 5, "nginx:1.27")) },
			then: func(t *testing.T, d runner.Decision, prev []events.Record) {
				a := acceptedOf(t, d)
				first := prev[len(prev)-1].Event.(*events.AdmissionAccepted)
				if a.Unchanged || a.Generation != 2 || a.UID != first.UID {
					t.Errorf("accepted = unchanged %v gen %d uid %q", a.Unchanged, a.Generation, a.UID)
				}
				expectSeq(t, d, prev[len(prev)-1].Seq)
			},
		},
		{
			name:  "an invalid deployment is rejected with a reason per field",
			given: func(l *pt.Log) []events.Record { return nil },
			last: func(l *pt.Log) events.Record {
				return l.IntentApply("deployment", ns, "x", raw(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
					"spec":{"replicas":-1,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
					"spec":{"containers":[{"name":"app","image":""}]}}}}`))
			},
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				want := []string{"spec.replicas: must be >= 0", "spec.template.spec.containers[0].image: required"}
				for _, w := range want {
					if !contains(r.Reasons, w) {
						t.Errorf("reasons %q lack %q", r.Reasons, w)
					}
				}
				if r.Op != events.OpApply || r.Kind != "deployment" || r.Name != "x" {
					t.Errorf("rejected = %+v", r)
				}
				expectSeq(t, d, 0)
			},
		},
		{
			name:  "an unknown field is rejected, naming the field",
			given: func(l *pt.Log) []events.Record { return nil },
			last: func(l *pt.Log) events.Record {
				return l.IntentApply("deployment", ns, "x", raw(`{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"},
					"spec":{"Replicas":2,"selector":{"matchLabels":{"app":"x"}},"template":{"metadata":{"labels":{"app":"x"}},
					"spec":{"containers":[{"name":"app","image":"nginx"}]}}}}`))
			},
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				if len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], "spec.Replicas: unknown field") {
					t.Errorf("reasons = %q", r.Reasons)
				}
			},
		},
		{
			name:  "a manifest whose name differs from the intent's is rejected",
			given: func(l *pt.Log) []events.Record { return nil },
			last: func(l *pt.Log) events.Record {
				return l.IntentApply("deployment", ns, "y", pt.Canonical(x))
			},
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				if len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], "metadata.name: ") {
					t.Errorf("reasons = %q", r.Reasons)
				}
				if d.Subject != events.AdmissionSubject(ns, "deployment", "y") {
					t.Errorf("subject = %q, want the intent's object", d.Subject)
				}
			},
		},
		{
			name:  "deleting what does not exist is rejected as not found",
			given: func(l *pt.Log) []events.Record { return nil },
			last:  func(l *pt.Log) events.Record { return l.IntentDelete("deployment", ns, "ghost") },
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				if !reflect.DeepEqual(r.Reasons, []string{`deployment "ghost" not found in namespace "default"`}) || r.Op != events.OpDelete ||
					r.Code != events.RejectNotFound {
					t.Errorf("rejected = %+v", r)
				}
			},
		},
		{
			name:  "a kind Gantry does not support is rejected, naming it and the supported kinds",
			given: func(l *pt.Log) []events.Record { return nil },
			last: func(l *pt.Log) events.Record {
				return l.IntentApply("ingress", ns, "rs", raw(`{"apiVersion":"networking.k8s.io/v1","kind":"Ingress",
					"metadata":{"name":"rs","namespace":"default"},"spec":{}}`))
			},
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				want := []string{`kind: "Ingress" (apiVersion "networking.k8s.io/v1") is not supported; supported: apps/v1 Deployment, v1 Pod, apps/v1 ReplicaSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, v1 Namespace, v1 ResourceQuota, policy/v1 PodDisruptionBudget, v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 ConfigMap, v1 Secret, v1 PersistentVolume, v1 PersistentVolumeClaim, storage.k8s.io/v1 StorageClass, apps/v1 StatefulSet, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding`}
				if !reflect.DeepEqual(r.Reasons, want) || r.Code != events.RejectUnsupportedKind || r.Op != events.OpApply ||
					r.Kind != "ingress" || r.Name != "rs" {
					t.Errorf("rejected = %+v, want reasons %q", r, want)
				}
				if d.Subject != events.AdmissionSubject(ns, "ingress", "rs") || d.Meta.Actor != "tester" {
					t.Errorf("verdict on %q by %q, want the intent's object and actor", d.Subject, d.Meta.Actor)
				}
				expectSeq(t, d, 0)
			},
		},
		{
			name:  "a kind whose manifest cannot be read is rejected by its token",
			given: func(l *pt.Log) []events.Record { return nil },
			last:  func(l *pt.Log) events.Record { return l.IntentApply("ingress", ns, "web", raw(`[]`)) },
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				want := []string{`kind: "ingress" is not supported; supported: apps/v1 Deployment, v1 Pod, apps/v1 ReplicaSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, v1 Namespace, v1 ResourceQuota, policy/v1 PodDisruptionBudget, v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 ConfigMap, v1 Secret, v1 PersistentVolume, v1 PersistentVolumeClaim, storage.k8s.io/v1 StorageClass, apps/v1 StatefulSet, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding`}
				if !reflect.DeepEqual(r.Reasons, want) || r.Code != events.RejectUnsupportedKind {
					t.Errorf("rejected = %+v, want reasons %q", r, want)
				}
			},
		},
		{
			name:  "deleting an object of an unsupported kind is rejected as unsupported, not as not found",
			given: func(l *pt.Log) []events.Record { return nil },
			last:  func(l *pt.Log) events.Record { return l.IntentDelete("ingress", ns, "rs") },
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				want := []string{`kind: "ingress" is not supported; supported: apps/v1 Deployment, v1 Pod, apps/v1 ReplicaSet, apps/v1 DaemonSet, batch/v1 Job, batch/v1 CronJob, v1 Namespace, v1 ResourceQuota, policy/v1 PodDisruptionBudget, v1 Service, discovery.k8s.io/v1 EndpointSlice, v1 ConfigMap, v1 Secret, v1 PersistentVolume, v1 PersistentVolumeClaim, storage.k8s.io/v1 StorageClass, apps/v1 StatefulSet, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy, admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding, rbac.authorization.k8s.io/v1 Role, rbac.authorization.k8s.io/v1 ClusterRole, rbac.authorization.k8s.io/v1 RoleBinding, rbac.authorization.k8s.io/v1 ClusterRoleBinding`}
				if !reflect.DeepEqual(r.Reasons, want) || r.Code != events.RejectUnsupportedKind || r.Op != events.OpDelete {
					t.Errorf("rejected = %+v, want reasons %q", r, want)
				}
			},
		},
		{
			name: "deleting twice: the second is not found",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.IntentApplyObject(x), l.IntentDelete("deployment", ns, "x")}
			},
			last: func(l *pt.Log) events.Record { return l.IntentDelete("deployment", ns, "x") },
			then: func(t *testing.T, d runner.Decision, prev []events.Record) {
				rejectedOf(t, d)
				expectSeq(t, d, prev[len(prev)-1].Seq)
			},
		},
		{
			name: "deleting what exists is accepted with its uid and generation",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.IntentApplyObject(x), l.IntentApplyObject(pt.Deployment(ns, "x", 3, "nginx:1.27"))}
			},
			last: func(l *pt.Log) events.Record { return l.IntentDelete("deployment", ns, "x") },
			then: func(t *testing.T, d runner.Decision, prev []events.Record) {
				a := acceptedOf(t, d)
				last := prev[len(prev)-1].Event.(*events.AdmissionAccepted)
				if a.Op != events.OpDelete || a.UID != last.UID || a.Generation != 2 || a.Object != nil {
					t.Errorf("accepted = %+v", a)
				}
			},
		},
		{
			name: "a deletion's grace period and force are carried to its verdict",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.IntentApplyObject(x)}
			},
			last: func(l *pt.Log) events.Record {
				g := int64(5)
				return l.Append(events.IntentSubject(ns, "deployment", "x"),
					&events.IntentDeleted{Kind: "deployment", Namespace: ns, Name: "x", GracePeriodSeconds: &g, Force: true})
			},
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				if a := acceptedOf(t, d); a.GracePeriodSeconds == nil || *a.GracePeriodSeconds != 5 || !a.Force {
					t.Errorf("accepted = %+v", a)
				}
			},
		},
		{
			name: "a negative grace period is refused, naming the field",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.IntentApplyObject(x)}
			},
			last: func(l *pt.Log) events.Record {
				g := int64(-3)
				return l.Append(events.IntentSubject(ns, "deployment", "x"),
					&events.IntentDeleted{Kind: "deployment", Namespace: ns, Name: "x", GracePeriodSeconds: &g})
			},
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				if r := rejectedOf(t, d); len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], "gracePeriodSeconds: must be between 0 and") {
					t.Errorf("rejected = %+v", r)
				}
			},
		},
		{
			name: "re-created after a delete: a new uid at generation 1",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.IntentApplyObject(x), l.IntentDelete("deployment", ns, "x")}
			},
			last: func(l *pt.Log) events.Record { return l.IntentApplyObject(x) },
			then: func(t *testing.T, d runner.Decision, prev []events.Record) {
				a := acceptedOf(t, d)
				old := prev[len(prev)-1].Event.(*events.AdmissionAccepted)
				if a.UID == old.UID || a.Generation != 1 || a.Unchanged {
					t.Errorf("accepted = uid %q (old %q) gen %d unchanged %v", a.UID, old.UID, a.Generation, a.Unchanged)
				}
			},
		},
		{
			name:  "a pod's spec may not change",
			given: func(l *pt.Log) []events.Record { return []events.Record{l.IntentApplyObject(pod)} },
			last:  func(l *pt.Log) events.Record { return l.IntentApplyObject(pt.BarePod(ns, "p", "busybox:2")) },
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				r := rejectedOf(t, d)
				if len(r.Reasons) != 1 || !strings.HasPrefix(r.Reasons[0], "spec: pod updates may not change the spec") {
					t.Errorf("reasons = %q", r.Reasons)
				}
			},
		},
		{
			name:  "a pod's labels may change",
			given: func(l *pt.Log) []events.Record { return []events.Record{l.IntentApplyObject(pod)} },
			last: func(l *pt.Log) events.Record {
				p := pt.BarePod(ns, "p", "busybox:1")
				p.Metadata.Labels = map[string]string{"app": "p", "tier": "web"}
				return l.IntentApplyObject(p)
			},
			then: func(t *testing.T, d runner.Decision, _ []events.Record) {
				if a := acceptedOf(t, d); a.Generation != 2 || a.Unchanged {
					t.Errorf("accepted = %+v", a)
				}
			},
		},
		{
			name: "a rejected change leaves the accepted state: the next apply of the same object is unchanged",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.IntentApplyObject(pod), l.IntentApplyObject(pt.BarePod(ns, "p", "busybox:2"))}
			},
			last: func(l *pt.Log) events.Record { return l.IntentApplyObject(pod) },
			then: func(t *testing.T, d runner.Decision, prev []events.Record) {
				if a := acceptedOf(t, d); !a.Unchanged || a.Generation != 1 {
					t.Errorf("accepted = %+v", a)
				}
				expectSeq(t, d, prev[len(prev)-1].Seq) // the rejection moved the object's subject
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			var verdicts []events.Record
			for _, in := range tc.given(w.l) {
				w.apply(in)
				w.settle()
			}
			for _, r := range w.l.Records {
				if r.Stream == events.StreamDecisions {
					verdicts = append(verdicts, r)
				}
			}
			last := tc.last(w.l)
			w.apply(last)
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			if want := admission.VerdictMsgID(last.Seq, last.Envelope.ID); ds[0].MsgID != want {
				t.Errorf("msgid = %q, want %q", ds[0].MsgID, want)
			}
			tc.then(t, ds[0], verdicts)
		})
	}
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func TestOneIntentPerObjectAtATime(t *testing.T) {
	w := newWorld(t)
	i1 := w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1"))
	i2 := w.l.IntentApplyObject(pt.Deployment(ns, "x", 2, "nginx:1"))
	w.apply(i1, i2)

	ds := w.decide()
	if len(ds) != 1 || ds[0].MsgID != admission.VerdictMsgID(i1.Seq, i1.Envelope.ID) {
		t.Fatalf("first pass: want only the older intent decided:\n%s", show(ds))
	}
	v1 := w.store(ds[0])

	ds = w.decide()
	if len(ds) != 1 || ds[0].MsgID != admission.VerdictMsgID(i2.Seq, i2.Envelope.ID) {
		t.Fatalf("second pass: want the newer intent:\n%s", show(ds))
	}
	expectSeq(t, ds[0], v1.Seq)
	if a := acceptedOf(t, ds[0]); a.Generation != 2 {
		t.Errorf("generation = %d, want 2", a.Generation)
	}
	w.store(ds[0])
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after both verdicts: %s", show(ds))
	}
}

func TestIntentsForDifferentObjectsAreDecidedTogether(t *testing.T) {
	w := newWorld(t)
	ix := w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1"))
	iy := w.l.IntentApplyObject(pt.Deployment(ns, "y", 1, "nginx:1"))
	ip := w.l.IntentApplyObject(pt.BarePod(ns, "x", "nginx:1"))                  // same name, other kind
	iz := w.l.IntentApplyObject(pt.Deployment("kube-public", "x", 1, "nginx:1")) // another namespace
	w.apply(ix, iy, ip, iz)
	ds := w.decide()
	var got []string
	for _, d := range ds {
		acceptedOf(t, d)
		got = append(got, d.Subject)
	}
	want := []string{
		events.AdmissionSubject(ns, "deployment", "x"), events.AdmissionSubject(ns, "deployment", "y"),
		events.AdmissionSubject(ns, "pod", "x"), events.AdmissionSubject("kube-public", "deployment", "x"),
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("subjects = %v, want %v (oldest intent first)", got, want)
	}
}

// The verdict can be folded before its intent: the runner follows the
// intents and decisions streams independently.
func TestVerdictSeenBeforeItsIntent(t *testing.T) {
	// First, a run where admission decides and stores.
	w := newWorld(t)
	intent := w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1"))
	w.apply(intent)
	verdict := w.store(w.decide()[0])

	// A fresh admission replaying the decisions stream first.
	fresh := admission.New()
	fresh.Apply(verdict)
	fresh.Apply(intent)
	if ds := fresh.Decide(now); len(ds) != 0 {
		t.Fatalf("an intent with a verdict was decided again:\n%s", show(ds))
	}
	// And a later change still gets generation 2 against the verdict's sequence.
	next := w.l.IntentApplyObject(pt.Deployment(ns, "x", 3, "nginx:1"))
	fresh.Apply(next)
	ds := fresh.Decide(now)
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	expectSeq(t, ds[0], verdict.Seq)
	if a := acceptedOf(t, ds[0]); a.Generation != 2 {
		t.Errorf("generation = %d", a.Generation)
	}
}

func TestReplayDecidesNothingTwice(t *testing.T) {
	w := newWorld(t)
	w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1")))
	w.settle()
	w.apply(w.l.IntentApplyObject(pt.Deployment(ns, "x", 2, "nginx:1")), w.l.IntentDelete("pod", ns, "nope"))
	w.settle()

	// Replaying the same log into a fresh service, twice over, in order and
	// with each stream wholly before the other, decides nothing.
	orders := map[string][]events.Record{"log order": w.l.Records}
	var intents, decisions []events.Record
	for _, r := range w.l.Records {
		if r.Stream == events.StreamIntents {
			intents = append(intents, r)
		} else {
			decisions = append(decisions, r)
		}
	}
	orders["intents first"] = append(append([]events.Record{}, intents...), decisions...)
	orders["decisions first"] = append(append([]events.Record{}, decisions...), intents...)
	for name, rs := range orders {
		s := admission.New()
		pt.ApplyAll(s, rs...)
		pt.ApplyAll(s, rs...) // duplicates are no-ops
		if ds := s.Decide(now); len(ds) != 0 {
			t.Errorf("%s: replay decided again:\n%s", name, show(ds))
		}
	}
}

func TestDecisionsAreDeterministicAcrossReplicas(t *testing.T) {
	// Two admission instances over the same log decide byte-identical
	// verdicts, so the log's deduplication keeps one.
	l := pt.NewLog()
	rs := []events.Record{l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1")), l.IntentDelete("deployment", ns, "y")}
	a, b := admission.New(), admission.New()
	pt.ApplyAll(a, rs...)
	pt.ApplyAll(b, rs...)
	da, db := a.Decide(now), b.Decide(now.Add(time.Minute))
	if !reflect.DeepEqual(da, db) {
		t.Errorf("two instances disagree:\n%s\n%s", show(da), show(db))
	}
}

// Given verdicts being stored (assumed, not read back), the next pass
// judges intents on other objects only; an intent on an object whose
// verdict is on its way waits for it, and then expects it. A forgotten
// verdict is made again.
func TestAssumedVerdictsAreNotMadeTwice(t *testing.T) {
	w := newWorld(t)
	x1 := w.l.IntentApplyObject(pt.Deployment(ns, "x", 1, "nginx:1"))
	y1 := w.l.IntentApplyObject(pt.Deployment(ns, "y", 1, "nginx:1"))
	w.apply(x1, y1)
	first := w.svc.Decide(now)
	if len(first) != 2 || !first[0].Assumed || !first[1].Assumed {
		t.Fatalf("first pass, want x1 and y1 assumed:\n%s", show(first))
	}
	w.svc.Assume(first)

	x2 := w.l.IntentApplyObject(pt.Deployment(ns, "x", 2, "nginx:1"))
	z1 := w.l.IntentApplyObject(pt.Deployment(ns, "z", 1, "nginx:1"))
	w.apply(x2, z1)
	second := w.svc.Decide(now)
	if len(second) != 1 || second[0].MsgID != admission.VerdictMsgID(z1.Seq, z1.Envelope.ID) {
		t.Fatalf("second pass, want z1 only (x2 waits for x1's verdict):\n%s", show(second))
	}
	w.svc.Assume(second)
	if ds := w.svc.Decide(now); len(ds) != 0 {
		t.Fatalf("everything waits for its verdict, yet:\n%s", show(ds))
	}

	v1 := w.store(first[0]) // x1's verdict comes back
	ds := w.svc.Decide(now)
	if len(ds) != 1 || ds[0].MsgID != admission.VerdictMsgID(x2.Seq, x2.Envelope.ID) {
		t.Fatalf("after x1's verdict, want x2:\n%s", show(ds))
	}
	expectSeq(t, ds[0], v1.Seq)

	w.svc.Forget(second[0]) // z1's verdict was refused, or never sent
	again := w.svc.Decide(now)
	if len(again) != 2 || !reflect.DeepEqual(again[1], second[0]) {
		t.Fatalf("after z1's verdict was forgotten, want x2 and z1 again:\n%s", show(again))
	}
}
