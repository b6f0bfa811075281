package projections_test

import (
	"fmt"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// budgetWorld is a Deployment web (3 replicas) with pods web-1 and web-2
// on n1 and web-3 on n2, each in the state given, and the budgets given.
type budgetWorld struct {
	pods    map[string]string // pod name → "ready", "unready", "pending", "deleting", "succeeded", "gone"
	budgets []manifest.Object
	extra   func(l *pt.Log) []events.Record
}

func (w budgetWorld) fold(t *testing.T) (*projections.Cluster, map[string]events.PodPlanned, *pt.Log) {
	t.Helper()
	l := pt.NewLog()
	rs := []events.Record{l.Accepted(dep, depUID, 1)}
	pods := map[string]events.PodPlanned{}
	for i, name := range []string{"web-1", "web-2", "web-3"} {
		p := pt.PodFor(dep, depUID, name, "uid-"+name)
		pods[name] = p
		node := map[bool]string{true: "n1", false: "n2"}[i < 2]
		state := w.pods[name]
		if state == "" {
			state = "ready"
		}
		rs = append(rs, l.Planned(p), l.Bound(p, node, 1))
		switch state {
		case "ready", "deleting", "gone":
			rs = append(rs, l.Status(node, p, 1, events.PhaseRunning, true))
		case "unready":
			rs = append(rs, l.Status(node, p, 1, events.PhaseRunning, false))
		case "succeeded":
			rs = append(rs, l.Status(node, p, 1, events.PhaseSucceeded, false))
		case "pending":
		default:
			t.Fatalf("state %q", state)
		}
		if state == "deleting" || state == "gone" {
			rs = append(rs, l.Deleted(p, node, 1, "EvictionByEvictionAPI"))
		}
		if state == "gone" {
			rs = append(rs, l.Removed(node, p, 1))
		}
	}
	for i, b := range w.budgets {
		rs = append(rs, l.Accepted(b, fmt.Sprintf("pdb-%d", i), 1))
	}
	if w.extra != nil {
		rs = append(rs, w.extra(l)...)
	}
	return fold(rs...), pods, l
}

func intOr(n int32) *manifest.IntOrString  { v := manifest.FromInt(n); return &v }
func pctOf(s string) *manifest.IntOrString { v := manifest.FromString(s); return &v }

// TestEvict is the table of the eviction decision: given these pods,
// budgets and evictions on their way to the log, expect allowed or
// refused, and by which budget.
func TestEvict(t *testing.T) {
	minTwo := pt.PodDisruptionBudget(ns, "web-pdb", "web", intOr(2), nil)
	cases := []struct {
		name     string
		world    budgetWorld
		pod      string
		evicting []string
		refuser  string // "" when allowed
		message  string
	}{
		{name: "no budget", pod: "web-1"},
		{name: "3 healthy, minAvailable 2", world: budgetWorld{budgets: []manifest.Object{minTwo}}, pod: "web-1"},
		{name: "the second of two at once is refused", world: budgetWorld{budgets: []manifest.Object{minTwo}},
			pod: "web-2", evicting: []string{"web-1"}, refuser: "default/web-pdb",
			message: "Cannot evict pod as it would violate the pod's disruption budget. The disruption budget web-pdb needs 2 healthy pods and has 2 currently"},
		{name: "one being deleted counts as gone", world: budgetWorld{pods: map[string]string{"web-1": "deleting"}, budgets: []manifest.Object{minTwo}},
			pod: "web-2", refuser: "default/web-pdb"},
		{name: "its replacement running and ready makes room", pod: "web-2", world: budgetWorld{
			pods: map[string]string{"web-1": "gone"}, budgets: []manifest.Object{minTwo},
			extra: func(l *pt.Log) []events.Record {
				p := pt.PodFor(dep, depUID, "web-4", "uid-web-4")
				return []events.Record{l.Planned(p), l.Bound(p, "n2", 1), l.Status("n2", p, 1, events.PhaseRunning, true)}
			}}},
		{name: "its replacement running but not ready does not", pod: "web-2", refuser: "default/web-pdb", world: budgetWorld{
			pods: map[string]string{"web-1": "gone"}, budgets: []manifest.Object{minTwo},
			extra: func(l *pt.Log) []events.Record {
				p := pt.PodFor(dep, depUID, "web-4", "uid-web-4")
				return []events.Record{l.Planned(p), l.Bound(p, "n2", 1), l.Status("n2", p, 1, events.PhaseRunning, false)}
			}}},
		{name: "a pending pod goes whatever the budget", world: budgetWorld{pods: map[string]string{"web-2": "pending"}, budgets: []manifest.Object{minTwo}},
			pod: "web-2", evicting: []string{"web-1"}},
		{name: "an ended pod goes whatever the budget", world: budgetWorld{pods: map[string]string{"web-2": "succeeded"}, budgets: []manifest.Object{minTwo}},
			pod: "web-2", evicting: []string{"web-1"}},
		{name: "an unready pod goes while the budget is met", world: budgetWorld{pods: map[string]string{"web-2": "unready"}, budgets: []manifest.Object{minTwo}},
			pod: "web-2"},
		{name: "an unready pod stays while the budget is not met", pod: "web-2", evicting: []string{"web-1"}, refuser: "default/web-pdb",
			world: budgetWorld{pods: map[string]string{"web-2": "unready"}, budgets: []manifest.Object{minTwo}}},
		{name: "an unready pod goes with AlwaysAllow", pod: "web-2", evicting: []string{"web-1"}, world: budgetWorld{
			pods: map[string]string{"web-2": "unready"}, budgets: []manifest.Object{alwaysAllow(minTwo)}}},
		{name: "maxUnavailable 1 counts the Deployment's replicas, not the pods left", pod: "web-2", refuser: "default/web-max",
			world: budgetWorld{pods: map[string]string{"web-1": "gone"},
				budgets: []manifest.Object{pt.PodDisruptionBudget(ns, "web-max", "web", nil, intOr(1))}}},
		{name: "minAvailable 50% of 3 is 2", pod: "web-2", evicting: []string{"web-1"}, refuser: "default/web-half",
			world: budgetWorld{budgets: []manifest.Object{pt.PodDisruptionBudget(ns, "web-half", "web", pctOf("50%"), nil)}}},
		{name: "maxUnavailable 34% of 3 is 2", pod: "web-2", evicting: []string{"web-1"},
			world: budgetWorld{budgets: []manifest.Object{pt.PodDisruptionBudget(ns, "web-most", "web", nil, pctOf("34%"))}}},
		{name: "every budget covering the pod must allow it", pod: "web-2", evicting: []string{"web-1"}, refuser: "default/b-strict",
			world: budgetWorld{budgets: []manifest.Object{
				pt.PodDisruptionBudget(ns, "a-loose", "web", intOr(1), nil),
				pt.PodDisruptionBudget(ns, "b-strict", "web", intOr(2), nil)}}},
		{name: "a budget of another app or namespace does not cover it", pod: "web-1", evicting: []string{"web-2"},
			world: budgetWorld{budgets: []manifest.Object{
				pt.PodDisruptionBudget(ns, "api-pdb", "api", intOr(3), nil),
				pt.PodDisruptionBudget("shop", "web-pdb", "web", intOr(3), nil)}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, pods, _ := tc.world.fold(t)
			evicting := map[string]bool{}
			for _, name := range tc.evicting {
				evicting[pods[name].UID] = true
			}
			p := c.Pods[projections.Key(ns, tc.pod)]
			if p == nil {
				t.Fatalf("no pod %s", tc.pod)
			}
			got := c.Evict(p, evicting)
			if got.Allowed != (tc.refuser == "") || got.Budget != tc.refuser {
				t.Fatalf("Evict(%s) = %+v, want refused by %q", tc.pod, got, tc.refuser)
			}
			if tc.message != "" && got.Message != tc.message {
				t.Errorf("message %q, want %q", got.Message, tc.message)
			}
		})
	}
}

func alwaysAllow(o manifest.Object) manifest.Object {
	spec := *o.PodDisruptionBudget()
	spec.UnhealthyPodEvictionPolicy = manifest.AlwaysAllow
	o.Spec = &spec
	return o
}

// A budget's status is the fold's, and is marked changed when a pod it
// counts changes.
func TestBudgetStatusInTheFold(t *testing.T) {
	c, pods, l := budgetWorld{budgets: []manifest.Object{pt.PodDisruptionBudget(ns, "web-pdb", "web", intOr(2), nil)}}.fold(t)
	key := projections.WorkloadKey("poddisruptionbudget", ns, "web-pdb")
	w := c.Workloads[key]
	if w == nil {
		t.Fatal("no budget in the fold")
	}
	want := manifest.BudgetStatus{CurrentHealthy: 3, DesiredHealthy: 2, DisruptionsAllowed: 1, ExpectedPods: 3}
	if st := c.Status(w); st.Budget == nil || *st.Budget != want {
		t.Fatalf("status %+v, want %+v", st.Budget, want)
	}
	c.ClearDirty()
	c.Apply(l.Deleted(pods["web-3"], "n2", 1, "EvictionByEvictionAPI"))
	if _, ok := c.Dirty.Workloads[key]; !ok {
		t.Errorf("a pod's deletion did not mark its budget changed: %v", c.Dirty.Workloads)
	}
	want = manifest.BudgetStatus{CurrentHealthy: 2, DesiredHealthy: 2, DisruptionsAllowed: 0, ExpectedPods: 3}
	if st := c.Status(w); *st.Budget != want {
		t.Errorf("after the deletion %+v, want %+v", *st.Budget, want)
	}
}
