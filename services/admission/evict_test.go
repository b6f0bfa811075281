package admission_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/runner"
)

const webUID = "dep-web"

var web = pt.Deployment(ns, "web", 3, "nginx:1.27")

// webWorld is a Deployment web with pods web-1 and web-2 running and ready
// on n1, web-3 on n2, and a budget minAvailable 2 over them.
func webWorld(t *testing.T) (*world, map[string]events.PodPlanned) {
	w := newWorld(t)
	two := manifest.FromInt(2)
	pdb := pt.PodDisruptionBudget(ns, "web-pdb", "web", &two, nil)
	w.apply(w.l.Accepted(web, webUID, 1), w.l.Accepted(pdb, "pdb-uid", 1))
	pods := map[string]events.PodPlanned{}
	for i, name := range []string{"web-1", "web-2", "web-3"} {
		p := pt.PodFor(web, webUID, name, "uid-"+name)
		node := map[bool]string{true: "n1", false: "n2"}[i < 2]
		w.apply(w.l.Planned(p), w.l.Bound(p, node, 1), w.l.Status(node, p, 1, events.PhaseRunning, true))
		pods[name] = p
	}
	return w, pods
}

func (w *world) evictIntent(name, uid string) events.Record {
	grace := int64(5)
	r := w.l.Append(events.IntentSubject(ns, "pod", name), &events.IntentEvict{Namespace: ns, Name: name, UID: uid, GracePeriodSeconds: &grace})
	w.apply(r)
	return r
}

// Two evictions judged in one pass cannot both take the budget's last
// disruption: the first is the pod's deletion and an accepted verdict in
// one atomic group (the deletion first, copied to its node), the second a
// refusal in Kubernetes' words naming the budget.
func TestEvictionsTakeTheBudgetOneAtATime(t *testing.T) {
	w, pods := webWorld(t)
	e1 := w.evictIntent("web-1", "uid-web-1")
	e2 := w.evictIntent("web-2", "")
	ds := w.decide()
	if len(ds) != 3 {
		t.Fatalf("want a deletion, its verdict and a refusal:\n%s", show(ds))
	}
	del, ok := ds[0].Event.(*events.PodDeleted)
	if !ok || del.UID != "uid-web-1" || del.Reason != admission.ReasonEvicted || del.Message != admission.MessageEvicted ||
		del.Node != "n1" || del.GracePeriodSeconds == nil || *del.GracePeriodSeconds != 5 {
		t.Fatalf("first decision, want web-1's deletion:\n%s", show(ds[:1]))
	}
	if ds[0].Subject != events.PodDecisionSubject(ns, "web-1") || !reflect.DeepEqual(ds[0].CopyTo, []string{events.NodePodSubject("n1", ns, "web-1")}) {
		t.Errorf("deletion on %s copied to %v", ds[0].Subject, ds[0].CopyTo)
	}
	if ds[0].Meta.Actor != e1.Envelope.Actor || ds[0].Meta.CausationID != e1.Envelope.ID {
		t.Errorf("deletion's meta %+v does not trace back to the intent", ds[0].Meta)
	}
	acc := acceptedOf(t, ds[1])
	if acc.Op != events.OpEvict || acc.UID != "uid-web-1" || acc.IntentSeq != e1.Seq {
		t.Errorf("verdict %+v", acc)
	}
	if ds[0].Atomic == "" || ds[0].Atomic != ds[1].Atomic || !ds[0].Assumed || !ds[1].Assumed {
		t.Errorf("deletion and verdict not one assumed atomic group: %q %q", ds[0].Atomic, ds[1].Atomic)
	}
	rej := rejectedOf(t, ds[2])
	wantMsg := "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget web-pdb needs 2 healthy pods and has 2 currently"
	if rej.IntentSeq != e2.Seq || rej.Op != events.OpEvict || rej.Code != events.RejectTooManyRequests ||
		!reflect.DeepEqual(rej.Reasons, []string{wantMsg}) ||
		!reflect.DeepEqual(rej.Causes, []events.RejectCause{{Type: events.CauseDisruptionBudget, Object: "default/web-pdb", Message: wantMsg}}) {
		t.Errorf("refusal %+v", rej)
	}

	// Stored and read back: the fold shows web-1 deleting, and web-2's next
	// eviction is refused again until a replacement is healthy.
	for _, d := range ds {
		w.store(d)
	}
	w.evictIntent("web-2", "")
	if ds := w.decide(); len(ds) != 1 || rejectedOf(t, ds[0]).Code != events.RejectTooManyRequests {
		t.Fatalf("with web-1 deleting, want web-2 refused:\n%s", show(ds))
	}
	w.settle()
	w.apply(w.l.Removed("n1", pods["web-1"], 1))
	p4 := pt.PodFor(web, webUID, "web-4", "uid-web-4")
	w.apply(w.l.Planned(p4), w.l.Bound(p4, "n2", 1), w.l.Status("n2", p4, 1, events.PhaseRunning, true))
	w.evictIntent("web-2", "")
	if ds := w.decide(); len(ds) != 2 || ds[0].Event.(*events.PodDeleted).UID != "uid-web-2" {
		t.Fatalf("with web-4 ready, want web-2 evicted:\n%s", show(ds))
	}
}

// An eviction being stored (assumed, not read back) counts in the next
// pass; forgotten (the log refused it), it no longer does, and is judged
// again.
func TestAnEvictionOnItsWayCounts(t *testing.T) {
	w, _ := webWorld(t)
	w.evictIntent("web-1", "")
	first := w.svc.Decide(now)
	if len(first) != 2 {
		t.Fatalf("want web-1's eviction:\n%s", show(first))
	}
	w.svc.Assume(first)
	w.evictIntent("web-2", "")
	second := w.svc.Decide(now)
	if len(second) != 1 || rejectedOf(t, second[0]).Code != events.RejectTooManyRequests {
		t.Fatalf("with web-1's eviction on its way, want web-2 refused:\n%s", show(second))
	}
	for _, d := range first {
		w.svc.Forget(d)
	}
	again := w.svc.Decide(now)
	if len(again) != 3 || !reflect.DeepEqual(again[:2], first) {
		t.Fatalf("after web-1's eviction was forgotten, want it again (and web-2 refused):\n%s", show(again))
	}
}

func TestEvictionVerdicts(t *testing.T) {
	cases := []struct {
		name  string
		given func(w *world, pods map[string]events.PodPlanned)
		evict events.IntentEvict
		check func(t *testing.T, ds []runner.Decision)
	}{
		{name: "a pod that does not exist", evict: events.IntentEvict{Namespace: ns, Name: "web-9"},
			check: func(t *testing.T, ds []runner.Decision) {
				if r := rejectedOf(t, ds[0]); r.Code != events.RejectNotFound || r.Reasons[0] != `pods "web-9" not found` {
					t.Errorf("refusal %+v", r)
				}
			}},
		{name: "another pod of the name", evict: events.IntentEvict{Namespace: ns, Name: "web-1", UID: "older"},
			check: func(t *testing.T, ds []runner.Decision) {
				if r := rejectedOf(t, ds[0]); r.Code != events.RejectNotFound {
					t.Errorf("refusal %+v", r)
				}
			}},
		{name: "a negative grace period", evict: events.IntentEvict{Namespace: ns, Name: "web-1", GracePeriodSeconds: new(int64(-1))},
			check: func(t *testing.T, ds []runner.Decision) {
				if r := rejectedOf(t, ds[0]); !strings.HasPrefix(r.Reasons[0], "gracePeriodSeconds: must be between 0 and ") || !strings.HasSuffix(r.Reasons[0], ", got -1") {
					t.Errorf("refusal %+v", r)
				}
			}},
		{name: "a name that is no subject token", evict: events.IntentEvict{Namespace: ns, Name: "web.1"},
			check: func(t *testing.T, ds []runner.Decision) {
				if r := rejectedOf(t, ds[0]); ds[0].Subject != events.AdmissionSubject(ns, "pod", "invalid") || ds[0].ExpectLastSeq != nil || r.Code != "" {
					t.Errorf("refusal %+v on %s", r, ds[0].Subject)
				}
			}},
		{name: "a pod being deleted: accepted, nothing more to decide",
			given: func(w *world, pods map[string]events.PodPlanned) {
				w.apply(w.l.Deleted(pods["web-1"], "n1", 1, "pod deleted"))
			},
			evict: events.IntentEvict{Namespace: ns, Name: "web-1"},
			check: func(t *testing.T, ds []runner.Decision) {
				if len(ds) != 1 || acceptedOf(t, ds[0]).Op != events.OpEvict {
					t.Errorf("want the verdict alone:\n%s", show(ds))
				}
			}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, pods := webWorld(t)
			if tc.given != nil {
				tc.given(w, pods)
			}
			e := tc.evict
			w.apply(w.l.Append(events.IntentSubject(ns, "pod", "web-1"), &e))
			ds := w.decide()
			if len(ds) == 0 {
				t.Fatal("no verdict")
			}
			tc.check(t, ds)
		})
	}
}

// A budget applied just before a drain covers its evictions: an eviction
// in its namespace waits for the budget's verdict.
func TestAnEvictionWaitsForABudgetAppliedBeforeIt(t *testing.T) {
	w, _ := webWorld(t)
	one := manifest.FromInt(3)
	w.apply(w.l.IntentApplyObject(pt.PodDisruptionBudget(ns, "all-pdb", "web", &one, nil)))
	w.evictIntent("web-1", "")
	ds := w.decide()
	if len(ds) != 1 || acceptedOf(t, ds[0]).Kind != "poddisruptionbudget" {
		t.Fatalf("want the budget's verdict alone:\n%s", show(ds))
	}
	w.store(ds[0])
	ds = w.decide()
	if len(ds) != 1 || rejectedOf(t, ds[0]).Causes[0].Object != "default/all-pdb" {
		t.Fatalf("want the eviction refused by the new budget:\n%s", show(ds))
	}
}
