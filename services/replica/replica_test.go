package replica_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/rollout"
	"github.com/gantry-sh/gantry/services/runner"
)

const (
	ns     = "default"
	depUID = "dep-uid-1"
)

var now = pt.Start.Add(time.Hour)

// world is a log, the replica service folding it, a reference replica
// service that examines everything on every pass, the rollout service
// (a Deployment's ReplicaSets are its decisions), and a second fold of the
// same log to inspect.
type world struct {
	t   *testing.T
	l   *pt.Log
	svc *replica.Service
	ref *replica.Service
	ro  *rollout.Service
	c   *projections.Cluster
}

func newWorld(t *testing.T) *world {
	ref := replica.New()
	ref.FullEvery = 0
	return &world{t: t, l: pt.NewLog(), svc: replica.New(), ref: ref, ro: rollout.New(), c: projections.NewCluster()}
}

func (w *world) apply(rs ...events.Record) {
	for _, r := range rs {
		w.svc.Apply(r)
		w.ref.Apply(r)
		w.ro.Apply(r)
		w.c.Apply(r)
	}
}

// decide runs Decide twice and checks both passes agree, and agree with a
// full pass. The clock stands still, so after the first Decide (a full pass)
// the service examines only what changed or is pending: a decision that was
// not stored between the two calls is pending, so the second call examines
// it again and repeats it, as it must for a decision lost to a publish
// timeout.
func (w *world) decide() []runner.Decision {
	w.t.Helper()
	ds := w.svc.Decide(now)
	if again := w.svc.Decide(now); !reflect.DeepEqual(ds, again) {
		w.t.Fatalf("Decide is not repeatable:\n%s\n%s", show(ds), show(again))
	}
	if full := w.ref.Decide(now); !reflect.DeepEqual(ds, full) {
		w.t.Fatalf("Decide differs from a full pass:\n%s\n%s", show(ds), show(full))
	}
	// The rollout service's status of a Deployment is its own tests'
	// business (services/rollout); here its ReplicaSets are what counts.
	var ro []runner.Decision
	for _, d := range w.ro.Decide(now) {
		if _, status := d.Event.(*events.WorkloadStatusDecided); !status {
			ro = append(ro, d)
		}
	}
	return append(ro, ds...)
}

// recreate is a Deployment with strategy Recreate: the replica tests of a
// template change check that every old pod goes before a new one comes
// (services/rollout tests the rolling updates).
func recreate(o manifest.Object) manifest.Object {
	o.Deployment().Strategy = &manifest.DeploymentStrategy{Type: manifest.RecreateStrategy}
	return o
}

// store publishes a decision to the log with its headers and folds it.
func (w *world) store(d runner.Decision) events.Record {
	w.t.Helper()
	r, dup, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
	if err != nil {
		w.t.Fatalf("the log refuses %s: %v", d.MsgID, err)
	}
	if dup {
		w.t.Fatalf("decision %s is a duplicate of seq %d", d.MsgID, r.Seq)
	}
	w.apply(r)
	return r
}

func (w *world) pod(name string) *projections.Pod {
	w.t.Helper()
	p := w.c.Pods[projections.Key(ns, name)]
	if p == nil {
		w.t.Fatalf("no pod %s", name)
	}
	return p
}

func planned(p *projections.Pod) events.PodPlanned {
	return events.PodPlanned{Namespace: p.Namespace, Name: p.Name, UID: p.UID, Owner: p.Owner,
		TemplateHash: p.TemplateHash, Labels: p.Labels, Annotations: p.Annotations, Spec: p.Spec}
}

func show(ds []runner.Decision) string {
	var b strings.Builder
	for _, d := range ds {
		e, _ := json.Marshal(d.Event)
		exp := "none"
		if d.ExpectLastSeq != nil {
			exp = fmt.Sprint(*d.ExpectLastSeq)
		}
		fmt.Fprintf(&b, "  %s %s msgid=%s expect=%s on=%q %s\n", d.Subject, d.Event.Type(), d.MsgID, exp, d.ExpectOn, e)
	}
	return b.String()
}

type split struct {
	plans   []*events.PodPlanned
	deletes []*events.PodDeleted
	byName  map[string]runner.Decision
}

func splitDecisions(t *testing.T, ds []runner.Decision) split {
	t.Helper()
	s := split{byName: map[string]runner.Decision{}}
	for _, d := range ds {
		switch e := d.Event.(type) {
		case *events.PodPlanned:
			s.plans = append(s.plans, e)
			s.byName[e.Name] = d
		case *events.PodDeleted:
			s.deletes = append(s.deletes, e)
			s.byName[e.Name] = d
		default:
			t.Fatalf("unexpected decision %T", d.Event)
		}
	}
	return s
}

func deletedNames(s split) []string {
	var out []string
	for _, d := range s.deletes {
		out = append(out, d.Name)
	}
	return out
}

// deploy accepts a workload (a ReplicaSet, a Deployment) and stores the
// replica service's decisions until it settles, returning the pods (a
// Deployment's: its ReplicaSets') in planning order.
func (w *world) deploy(obj manifest.Object, gen int64) []*projections.Pod {
	w.t.Helper()
	w.apply(w.l.Accepted(obj, depUID, gen))
	w.settle()
	return w.podsOf(depUID)
}

// run binds a pod to node and reports it in phase.
func (w *world) run(p *projections.Pod, node, phase string, ready bool) {
	if p.Node == "" {
		w.apply(w.l.Bound(planned(p), node, 1))
	}
	w.apply(w.l.Status(node, planned(p), 1, phase, ready))
}

func TestPlansTheMissingReplicas(t *testing.T) {
	w := newWorld(t)
	obj := pt.ReplicaSet(ns, "web", 3, "nginx:1.27")
	acc := w.l.Accepted(obj, depUID, 1)
	w.apply(acc)
	ds := w.decide()
	s := splitDecisions(t, ds)
	if len(s.plans) != 3 || len(s.deletes) != 0 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	hash := manifest.TemplateHash(obj.ReplicaSet().Template)
	seen := map[string]bool{}
	for n, d := range ds {
		p := s.plans[n]
		uid := events.DeriveID(fmt.Sprintf("pod/%s/%d", depUID, n))
		name := replica.PodName("web", depUID, int64(n))
		if p.UID != uid || p.Name != name || seen[name] {
			t.Errorf("plan %d = %s/%s, want %s/%s (distinct)", n, p.Name, p.UID, name, uid)
		}
		seen[name] = true
		if d.Subject != events.PodDecisionSubject(ns, name) || d.MsgID != "plan/"+uid || d.ExpectLastSeq == nil || *d.ExpectLastSeq != 0 {
			t.Errorf("plan %d: subject %q msgid %q expect %v, want an empty subject", n, d.Subject, d.MsgID, d.ExpectLastSeq)
		}
		if p.Owner == nil || *p.Owner != (events.OwnerRef{Kind: "replicaset", Name: "web", UID: depUID}) || p.TemplateHash != hash ||
			!reflect.DeepEqual(p.Labels, obj.ReplicaSet().Template.Metadata.Labels) || !reflect.DeepEqual(p.Spec, obj.ReplicaSet().Template.Spec) {
			t.Errorf("plan %d = %+v", n, p)
		}
		if d.Meta.CausationID != acc.Envelope.ID || d.Meta.ID != events.DeriveID(d.MsgID) {
			t.Errorf("plan %d meta = %+v, want caused by the verdict %s", n, d.Meta, acc.Envelope.ID)
		}
	}
	// A second replica service over the same log decides the same message ids.
	other := replica.New()
	other.Apply(acc)
	if again := other.Decide(now.Add(time.Minute)); !reflect.DeepEqual(again, ds) {
		t.Errorf("another instance decides differently:\n%s\n%s", show(ds), show(again))
	}
}

func TestNothingToDoWhenThePodsExist(t *testing.T) {
	w := newWorld(t)
	pods := w.deploy(pt.ReplicaSet(ns, "web", 3, "nginx:1.27"), 1)
	if len(pods) != 3 {
		t.Fatalf("pods = %d", len(pods))
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("unbound pods count as replicas; got:\n%s", show(ds))
	}
	w.run(pods[0], "n1", events.PhaseRunning, true)
	w.run(pods[1], "n1", events.PhasePending, false)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("running and pending pods count as replicas; got:\n%s", show(ds))
	}
	// An unchanged re-apply does not disturb anything.
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web", 3, "nginx:1.27"), depUID, 1))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after an unchanged apply:\n%s", show(ds))
	}
}

func TestAFailedPodIsReplaced(t *testing.T) {
	w := newWorld(t)
	pods := w.deploy(pt.ReplicaSet(ns, "web", 3, "nginx:1.27"), 1)
	for _, p := range pods {
		w.run(p, "n1", events.PhaseRunning, true)
	}
	w.run(pods[1], "n1", events.PhaseFailed, false)
	failed := w.pod(pods[1].Name)

	ds := w.decide()
	s := splitDecisions(t, ds)
	if len(s.deletes) != 1 || len(s.plans) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	del := s.byName[failed.Name]
	if e := s.deletes[0]; e.UID != failed.UID || e.Reason != "pod Failed" || e.Node != "n1" || e.Epoch != 1 {
		t.Errorf("delete = %+v", e)
	}
	if del.Subject != events.PodDecisionSubject(ns, failed.Name) || len(del.CopyTo) != 1 || del.CopyTo[0] != events.NodePodSubject("n1", ns, failed.Name) ||
		del.ExpectLastSeq == nil || *del.ExpectLastSeq != failed.LastDecisionSeq || del.MsgID != fmt.Sprintf("delete/%s/1", failed.UID) {
		t.Errorf("delete decision:\n%s (lastDecisionSeq %d)", show([]runner.Decision{del}), failed.LastDecisionSeq)
	}
	if want := events.DeriveID(fmt.Sprintf("pod/%s/3", depUID)); s.plans[0].UID != want {
		t.Errorf("replacement uid = %s, want the 4th pod %s", s.plans[0].UID, want)
	}
	for _, d := range ds {
		w.store(d)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after the replacement:\n%s", show(ds))
	}
}

// Scale-down picks victims like a ReplicaSet: unbound before bound, not
// running before running, not ready before ready, newest first.
func TestScaleDownOrder(t *testing.T) {
	// Pods in planning order (oldest first) and what each is.
	type state struct {
		node  string // "" unbound
		phase string
		ready bool
	}
	cases := []struct {
		name   string
		pods   []state
		to     int32
		delete []int // indexes into pods, in decision order
	}{
		{"unbound go first", []state{{"n1", events.PhaseRunning, true}, {"", "", false}, {"n1", events.PhaseRunning, true}}, 2, []int{1}},
		{"then pending before running", []state{{"n1", events.PhaseRunning, true}, {"n1", events.PhasePending, false}, {"n1", events.PhaseRunning, true}}, 2, []int{1}},
		{"then not ready before ready", []state{{"n1", events.PhaseRunning, false}, {"n1", events.PhaseRunning, true}, {"n1", events.PhaseRunning, true}}, 2, []int{0}},
		{"then newest first", []state{{"n1", events.PhaseRunning, true}, {"n1", events.PhaseRunning, true}, {"n1", events.PhaseRunning, true}}, 1, []int{2, 1}},
		{"all of it", []state{{"n1", events.PhaseRunning, true}, {"", "", false}, {"n1", events.PhasePending, false},
			{"n1", events.PhaseRunning, false}, {"", "", false}, {"n1", events.PhaseRunning, true}}, 1, []int{4, 1, 2, 3, 5}},
		{"to zero", []state{{"n1", events.PhaseRunning, true}, {"", "", false}}, 0, []int{1, 0}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w := newWorld(t)
			pods := w.deploy(pt.ReplicaSet(ns, "web", int32(len(tc.pods)), "nginx:1.27"), 1)
			for i, st := range tc.pods {
				if st.node != "" {
					w.run(pods[i], st.node, st.phase, st.ready)
				}
			}
			w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web", tc.to, "nginx:1.27"), depUID, 2))
			ds := w.decide()
			s := splitDecisions(t, ds)
			var want []string
			for _, i := range tc.delete {
				want = append(want, pods[i].Name)
			}
			if got := deletedNames(s); !reflect.DeepEqual(got, want) || len(s.plans) != 0 {
				t.Fatalf("deleted %v, want %v; decisions:\n%s", got, want, show(ds))
			}
			for _, d := range s.deletes {
				if d.Reason != "scaled down" {
					t.Errorf("reason = %q", d.Reason)
				}
			}
			for _, d := range ds {
				w.store(d)
			}
			if ds := w.decide(); len(ds) != 0 {
				t.Fatalf("after scaling down:\n%s", show(ds))
			}
		})
	}
}

// Given a Deployment of 3 pods, one of them bound, when its template
// changes, then (Recreate) its ReplicaSet is scaled to 0 and deletes its
// pods; the new ReplicaSet comes only once the bound pod is gone, and
// plans 3 pods of the new template.
func TestTemplateChangeReplacesEveryPod(t *testing.T) {
	w := newWorld(t)
	pods := w.deploy(recreate(pt.Deployment(ns, "web", 3, "nginx:1.27")), 1)
	w.run(pods[0], "n1", events.PhaseRunning, true)
	next := recreate(pt.Deployment(ns, "web", 3, "nginx:1.28"))
	w.apply(w.l.Accepted(next, depUID, 2))
	ds := w.decidePods()
	s := splitDecisions(t, ds)
	if got := deletedNames(s); len(got) != 3 || len(s.plans) != 0 {
		t.Fatalf("deleted %v, want all 3 old pods and no plan:\n%s", got, show(ds))
	}
	for _, d := range s.deletes {
		if d.Reason != "scaled down" {
			t.Errorf("reason = %q", d.Reason)
		}
	}
	for _, d := range ds {
		w.store(d)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("the new ReplicaSet came before the old pods were gone:\n%s", show(ds))
	}
	w.apply(w.l.Removed("n1", planned(w.pod(pods[0].Name)), 1))
	ds = w.decidePods()
	s = splitDecisions(t, ds)
	hash := manifest.TemplateHash(next.Deployment().Template)
	if len(s.plans) != 3 {
		t.Fatalf("planned %d, want 3:\n%s", len(s.plans), show(ds))
	}
	for _, p := range s.plans {
		if p.TemplateHash != hash || p.Spec.Containers[0].Image != "nginx:1.28" || !strings.HasPrefix(p.Name, "web-"+hash+"-") {
			t.Errorf("plan = %+v", p)
		}
	}
	for _, d := range ds {
		w.store(d)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after the replacement:\n%s", show(ds))
	}
	st := w.c.Status(w.c.Workloads["deployment/default/web"])
	if st.Replicas != 3 || st.UpdatedReplicas != 3 {
		t.Errorf("status %+v, want 3 replicas up to date", st)
	}
}

// Given a Deployment of 3 pods, when it is deleted, then its ReplicaSet is
// deleted, and the ReplicaSet deletes every pod, telling the nodes of the
// bound ones.
func TestDeletedDeploymentDeletesEveryPod(t *testing.T) {
	w := newWorld(t)
	pods := w.deploy(pt.Deployment(ns, "web", 3, "nginx:1.27"), 1)
	w.run(pods[0], "n1", events.PhaseRunning, true)
	w.run(pods[2], "n2", events.PhasePending, false)
	w.apply(w.l.AcceptedDelete("deployment", ns, "web", depUID, 1))

	ds := w.decidePods()
	s := splitDecisions(t, ds)
	if len(s.deletes) != 3 || len(s.plans) != 0 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	for _, p := range pods {
		p = w.pod(p.Name)
		d := s.byName[p.Name]
		e := d.Event.(*events.PodDeleted)
		if e.Reason != "replicaset deleted" || e.UID != p.UID {
			t.Errorf("%s: %+v", p.Name, e)
		}
		if p.Node == "" {
			if d.Subject != events.PodDecisionSubject(ns, p.Name) || d.ExpectLastSeq == nil || *d.ExpectLastSeq != p.LastDecisionSeq ||
				len(d.CopyTo) != 0 || e.Node != "" {
				t.Errorf("unbound %s:\n%s", p.Name, show([]runner.Decision{d}))
			}
			continue
		}
		if d.Subject != fmt.Sprintf("gantry.decision.pod.%s.%s", ns, p.Name) ||
			len(d.CopyTo) != 1 || d.CopyTo[0] != fmt.Sprintf("gantry.node.%s.pod.%s.%s", p.Node, ns, p.Name) ||
			d.ExpectLastSeq == nil || *d.ExpectLastSeq != p.LastDecisionSeq || p.LastDecisionSeq == 0 || e.Node != p.Node || e.Epoch != 1 {
			t.Errorf("bound %s (lastDecisionSeq %d):\n%s", p.Name, p.LastDecisionSeq, show([]runner.Decision{d}))
		}
	}
	for _, d := range ds {
		w.store(d)
	}
	// Bound pods are deleting until their nodes remove them; nothing is
	// said twice meanwhile.
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after the deletions:\n%s", show(ds))
	}
	w.apply(w.l.Removed("n1", planned(w.pod(pods[0].Name)), 1), w.l.Removed("n2", planned(w.pod(pods[2].Name)), 1))
	if n := len(w.podsOf(depUID)); n != 0 {
		t.Errorf("pods left: %d", n)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("after removal:\n%s", show(ds))
	}
}

// A deletion and a binding race on one pod. Either the deletion lands first
// and the scheduler (which did not see it) binds anyway — a binding of a
// forgotten pod — or the binding lands first and the deletion, which did not
// see it, is refused by the pod's fence. Either way the replica service
// tells the node to stop the pod.
func TestABindingThatLostToADeletionIsStoppedOnItsNode(t *testing.T) {
	for _, tombstoned := range []bool{true, false} {
		t.Run(fmt.Sprintf("deleted-before-bound=%v", tombstoned), func(t *testing.T) {
			w := newWorld(t)
			pods := w.deploy(pt.ReplicaSet(ns, "web", 1, "nginx:1.27"), 1)
			p := planned(pods[0])
			w.apply(w.l.Accepted(pt.ReplicaSet(ns, "web", 0, "nginx:1.27"), depUID, 2))
			ds := w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions:\n%s", show(ds))
			}
			var bound events.Record
			if tombstoned {
				w.store(ds[0]) // deleted while unbound: forgotten
				bound = w.l.Bound(p, "n1", 1)
				w.apply(bound)
			} else {
				bound = w.l.Bound(p, "n1", 1) // the binding lands first
				d := ds[0]
				if _, _, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn); !errors.Is(err, pt.ErrConflict) {
					t.Fatalf("a deletion that did not see the binding: %v, want refused by the fence", err)
				}
				w.apply(bound)
			}
			ds = w.decide()
			if len(ds) != 1 {
				t.Fatalf("decisions after the racing binding:\n%s", show(ds))
			}
			d := ds[0]
			e, ok := d.Event.(*events.PodDeleted)
			if !ok || e.UID != p.UID || e.Node != "n1" || e.Epoch != 1 || d.Subject != events.PodDecisionSubject(ns, p.Name) ||
				d.ExpectLastSeq == nil || *d.ExpectLastSeq != bound.Seq || len(d.CopyTo) != 1 || d.CopyTo[0] != events.NodePodSubject("n1", ns, p.Name) {
				t.Fatalf("decision:\n%s (bound at %d)", show(ds), bound.Seq)
			}
			w.store(d)
			if ds := w.decide(); len(ds) != 0 {
				t.Fatalf("the node was told twice:\n%s", show(ds))
			}
			w.apply(w.l.Removed("n1", p, 1))
			if got := w.c.Pods[projections.Key(ns, p.Name)]; got != nil {
				t.Errorf("pod kept after removal: %+v", got)
			}
		})
	}
}

func TestBarePodIsPlannedExactlyOnce(t *testing.T) {
	w := newWorld(t)
	obj := pt.BarePod(ns, "solo", "busybox:1")
	w.apply(w.l.Accepted(obj, "solo-uid", 1))
	ds := w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	p, ok := ds[0].Event.(*events.PodPlanned)
	if !ok || p.Name != "solo" || p.UID != "solo-uid" || p.Owner == nil || *p.Owner != (events.OwnerRef{Kind: "pod", Name: "solo", UID: "solo-uid"}) ||
		!reflect.DeepEqual(p.Spec, *obj.Pod()) || !reflect.DeepEqual(p.Labels, obj.Metadata.Labels) ||
		ds[0].Subject != events.PodDecisionSubject(ns, "solo") || ds[0].MsgID != "plan/solo-uid" {
		t.Fatalf("decision:\n%s", show(ds))
	}
	w.store(ds[0])
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("planned again:\n%s", show(ds))
	}
	// It fails: its node restarts containers; the pod is not replanned.
	w.run(w.pod("solo"), "n1", events.PhaseFailed, false)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("failed bare pod replaced:\n%s", show(ds))
	}
	// A label change is a new generation, still the same pod.
	relabeled := pt.BarePod(ns, "solo", "busybox:1")
	relabeled.Metadata.Labels["tier"] = "x"
	w.apply(w.l.Accepted(relabeled, "solo-uid", 2))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("relabeled bare pod replanned:\n%s", show(ds))
	}
	// Deleted: its node is told.
	w.apply(w.l.AcceptedDelete("pod", ns, "solo", "solo-uid", 2))
	ds = w.decide()
	if len(ds) != 1 {
		t.Fatalf("decisions after delete:\n%s", show(ds))
	}
	if e, ok := ds[0].Event.(*events.PodDeleted); !ok || e.Reason != "pod deleted" || ds[0].CopyTo[0] != events.NodePodSubject("n1", ns, "solo") {
		t.Fatalf("decision:\n%s", show(ds))
	}
}

var dns1123Label = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)

func TestPodNameIsADNSLabel(t *testing.T) {
	hash := manifest.TemplateHash(pt.Deployment(ns, "web", 1, "nginx").Deployment().Template)
	long := strings.Repeat("a", 62) + "z"
	dashy := strings.Repeat("ab-", 21) // 63 chars, a '-' lands at the cut
	dashy = dashy[:62] + "c"
	for _, name := range []string{"web", "a", long, dashy, strings.Repeat("x", 56) + "-y", manifest.ReplicaSetName(long, hash)} {
		if len(name) > 63 {
			t.Fatalf("bad fixture %q", name)
		}
		seen := map[string]bool{}
		for n := int64(0); n < 50; n++ {
			got := replica.PodName(name, "uid-1", n)
			if len(got) > 63 || !dns1123Label.MatchString(got) {
				t.Errorf("PodName(%q, %d) = %q (%d chars): not a DNS-1123 label", name, n, got, len(got))
			}
			if e := manifest.ValidateName("name", got); e != nil {
				t.Errorf("PodName(%q, %d) = %q: %v", name, n, got, e)
			}
			if got != replica.PodName(name, "uid-1", n) {
				t.Errorf("PodName is not deterministic")
			}
			if seen[got] {
				t.Errorf("PodName(%q, %d) = %q repeats an earlier name", name, n, got)
			}
			seen[got] = true
		}
	}
	if got := replica.PodName("web-"+hash, "uid-1", 0); !strings.HasPrefix(got, "web-"+hash+"-") || len(got) != len("web-"+hash+"-")+5 {
		t.Errorf("PodName = %q, want web-<hash>-<5 chars>", got)
	}
	if replica.PodName("web", "uid-1", 0) == replica.PodName("web", "uid-2", 0) {
		t.Error("two incarnations share a pod name")
	}
	// A Deployment's ReplicaSet keeps the whole hash and leaves its pods 6
	// characters: 63 → 46 + '-' + 10.
	if got := manifest.ReplicaSetName(long, hash); len(got) != 57 || !strings.HasSuffix(got, "-"+hash) || !dns1123Label.MatchString(got) {
		t.Errorf("SetName(63 chars) = %q (%d chars)", got, len(got))
	}
}

func TestA63CharacterDeploymentGetsValidPods(t *testing.T) {
	name := "d" + strings.Repeat("0123456789", 6) + "ab"
	if len(name) != 63 {
		t.Fatalf("fixture is %d chars", len(name))
	}
	w := newWorld(t)
	obj := pt.Deployment(ns, name, 3, "nginx")
	w.apply(w.l.Accepted(obj, depUID, 1))
	ds := w.decidePods()
	if len(ds) != 3 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	for _, d := range ds {
		p := d.Event.(*events.PodPlanned)
		if len(p.Name) > 63 || !dns1123Label.MatchString(p.Name) {
			t.Errorf("pod name %q (%d chars) is not a DNS-1123 label", p.Name, len(p.Name))
		}
	}
}

// --- convergence ---

// infra stands in for the scheduler and the nodes: it binds every pending
// pod to a node and runs it, and removes every pod its node was told to
// delete, with some lag and some failures.
type infra struct {
	w   *world
	rng *rand.Rand
}

func (f *infra) step() {
	for _, p := range f.w.c.SortedPods() {
		pp := planned(p)
		switch {
		case p.Deleting && p.Node != "" && p.DeletedOnNode >= p.Epoch:
			if f.rng.Intn(3) > 0 { // nodes take a while
				f.w.apply(f.w.l.Removed(p.Node, pp, p.Epoch))
			}
		case p.Deleting:
		case p.Node == "":
			if f.rng.Intn(4) > 0 { // the scheduler takes a while
				node := fmt.Sprintf("n%d", f.rng.Intn(3))
				f.w.apply(f.w.l.Bound(pp, node, 1))
				f.w.apply(f.w.l.Status(node, pp, 1, events.PhasePending, false))
			}
		case p.Phase() == events.PhasePending:
			f.w.apply(f.w.l.Status(p.Node, pp, p.Epoch, events.PhaseRunning, true))
		case p.Phase() == events.PhaseRunning && f.rng.Intn(20) == 0:
			f.w.apply(f.w.l.Status(p.Node, pp, p.Epoch, events.PhaseFailed, false))
		}
	}
}

// activeFromLog counts, from the log alone, the pods of the current
// template that were planned and neither deleted nor terminal.
func activeFromLog(l *pt.Log, hash string) int {
	planned := map[string]bool{}
	for _, r := range l.Records {
		switch e := r.Event.(type) {
		case *events.PodPlanned:
			if e.TemplateHash == hash {
				planned[e.UID] = true
			}
		case *events.PodDeleted:
			delete(planned, e.UID)
		case *events.PodStatusObserved:
			if e.Phase == events.PhaseFailed || e.Phase == events.PhaseSucceeded {
				delete(planned, e.UID)
			}
		}
	}
	return len(planned)
}

func TestReplicaCountsConverge(t *testing.T) {
	rng := rand.New(rand.NewSource(7))
	images := []string{"nginx:1.27", "nginx:1.28"}
	for trial := 0; trial < 30; trial++ {
		w := newWorld(t)
		f := &infra{w: w, rng: rng}
		gen := int64(0)
		for change := 0; change < 5; change++ {
			replicas := int32(rng.Intn(7))
			obj := recreate(pt.Deployment(ns, "web", replicas, images[rng.Intn(len(images))]))
			gen++
			w.apply(w.l.Accepted(obj, depUID, gen))
			hash := manifest.TemplateHash(obj.Deployment().Template)
			converged := false
			for round := 0; round < 30; round++ {
				ds := w.decide()
				for _, d := range ds {
					w.store(d) // fails the test if the log would refuse it
				}
				f.step()
				if len(ds) == 0 && activeFromLog(w.l, hash) == int(replicas) {
					// Quiet and right: stays so when nothing changes.
					if again := w.decide(); len(again) == 0 {
						converged = true
						break
					}
				}
			}
			if !converged {
				t.Fatalf("trial %d change %d: %d replicas wanted, %d active by the log, %d by the fold; still deciding:\n%s",
					trial, change, replicas, activeFromLog(w.l, hash), w.c.Status(w.c.Workloads["deployment/default/web"]).Replicas, show(w.decide()))
			}
			st := w.c.Status(w.c.Workloads["deployment/default/web"])
			if st.Replicas != replicas || st.UpdatedReplicas != replicas {
				t.Fatalf("trial %d change %d: status %+v, want %d replicas", trial, change, st, replicas)
			}
		}
		// A replay of the whole log decides nothing new.
		fresh := replica.New()
		pt.ApplyAll(fresh, w.l.Records...)
		if ds := fresh.Decide(now); len(ds) != 0 {
			t.Fatalf("trial %d: a replay decides again:\n%s", trial, show(ds))
		}
	}
}

// A plan stored out of order (index 1 stored, index 0 lost in a failed
// publish) must not make the service re-plan index 1 forever: it plans the
// missing pods at indexes that were never used.
func TestALostPlanDoesNotBlockTheNextOnes(t *testing.T) {
	w := newWorld(t)
	obj := pt.ReplicaSet(ns, "web", 2, "nginx:1.27")
	w.apply(w.l.Accepted(obj, depUID, 1))
	ds := w.decide()
	if len(ds) != 2 {
		t.Fatalf("decisions:\n%s", show(ds))
	}
	w.store(ds[1]) // index 1 is stored; index 0 never reached the log
	ds = w.decide()
	s := splitDecisions(t, ds)
	if len(s.plans) != 1 {
		t.Fatalf("want one plan for the missing pod, got:\n%s", show(ds))
	}
	if s.plans[0].UID == ds[0].Event.(*events.PodPlanned).UID && s.plans[0].UID == w.c.OwnedPods(depUID)[0].UID {
		t.Fatalf("re-planned the stored pod")
	}
	w.store(ds[0])
	if owned := w.c.OwnedPods(depUID); len(owned) != 2 {
		t.Fatalf("owned pods: %d, want 2", len(owned))
	}
	if again := w.decide(); len(again) != 0 {
		t.Fatalf("still deciding after both pods exist:\n%s", show(again))
	}
}

// Given a Deployment large enough that some of its pods draw the same name
// (5 characters of 27), the log refuses every plan after the first of a
// name (a plan expects its subject empty), and once the first plans are
// read back the replica plans those replicas under the next free indexes:
// no pod replaces another.
func TestPodsDrawingOneNameAreNotBothPlanned(t *testing.T) {
	// big-uid-203's pods 85 and 98 draw one name (found by search: 27^5
	// names, so a collision among 100 pods has odds of C(100,2) / 27^5, about
	// 1 in 2,900).
	// With 99 replicas the refused one is the last index: after the read
	// back, 98 pods have been planned, and index 98 must not be tried again.
	const replicas, uid = 99, "big-uid-203"
	w := newWorld(t)
	w.apply(w.l.Accepted(pt.ReplicaSet(ns, "big", replicas, "nginx:1.27"), uid, 1))
	ds := w.svc.Decide(now)
	taken := map[string]bool{}
	colliders := map[int]bool{}
	for i, d := range ds {
		name := d.Event.(*events.PodPlanned).Name
		if taken[name] {
			colliders[i] = true
		}
		taken[name] = true
	}
	if len(colliders) == 0 {
		t.Fatal("no two of the pods share a name: the names are no longer drawn as when the uid was picked")
	}
	for i, d := range ds {
		r, _, err := w.l.Publish(d.Subject, d.Event, d.MsgID, d.ExpectLastSeq, d.ExpectOn)
		switch {
		case colliders[i] && err == nil:
			t.Fatalf("plan %d (%s) stored over an earlier plan of the same name", i, d.MsgID)
		case colliders[i]:
		case err != nil:
			t.Fatalf("plan %d: %v", i, err)
		default:
			w.apply(r)
		}
	}
	again := w.decide()
	if len(again) != len(colliders) {
		t.Fatalf("after %d refused plans, want as many more, got %d", len(colliders), len(again))
	}
	for _, d := range again {
		if name := d.Event.(*events.PodPlanned).Name; taken[name] {
			t.Fatalf("planned %s again, a name already taken", name)
		}
		w.store(d)
	}
	if owned := w.c.OwnedPods(uid); len(owned) != replicas {
		t.Fatalf("%d pods, want %d", len(owned), replicas)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("settled, yet %d decisions", len(ds))
	}
}
