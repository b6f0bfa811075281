package replica_test

import (
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/health"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/runner"
)

// lostWorld is n1 (fencing after 5 s) and n2, with on n1: two pods of
// "web" (no toleration: the default 3 s), one of "quick"
// (tolerationSeconds 0) and one of "stay" (tolerates unreachable for ever,
// as a DaemonSet's pod does). n1's last heartbeat is at t0.
func lostWorld(t *testing.T) (*world, time.Time) {
	w := newWorld(t)
	w.svc.DefaultToleration, w.ref.DefaultToleration = 3*time.Second, 3*time.Second // the worked numbers below
	t0 := now
	w.l.Now = t0
	n1 := node("n1", nil)
	n1.FenceAfterMillis = 5000
	w.apply(w.l.Heartbeat(n1), w.l.Heartbeat(node("n2", nil)))
	zero := int64(0)
	for i, c := range []struct {
		name string
		n    int32
		tol  []manifest.Toleration
	}{
		{"web", 2, nil},
		{"quick", 1, []manifest.Toleration{{Key: manifest.TaintNodeUnreachable, Operator: manifest.TolerationOpExists,
			Effect: manifest.TaintNoExecute, TolerationSeconds: &zero}}},
		{"stay", 1, []manifest.Toleration{{Key: manifest.TaintNodeUnreachable, Operator: manifest.TolerationOpExists}}},
	} {
		obj := pt.ReplicaSet(ns, c.name, c.n, "nginx:1.27")
		obj.ReplicaSet().Template.Spec.Tolerations = c.tol
		w.apply(w.l.Accepted(obj, fmt.Sprintf("rs-%d", i), 1))
	}
	w.settle()
	for _, p := range w.c.Pods {
		w.run(p, "n1", events.PhaseRunning, true)
	}
	return w, t0
}

// notReady stores the health service's NotReady decision for n1 at at.
func (w *world) notReady(at, lastHeartbeat time.Time) {
	w.l.Now = at
	w.apply(w.l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: false,
		Reason: health.ReasonUnknown, Message: "node agent stopped posting heartbeats (none for 4s)",
		LastHeartbeat: lastHeartbeat, Taints: health.UnreachableTaints}))
}

// evicted are the pods a pass evicts, by owner, sorted.
func evicted(t *testing.T, ds []runner.Decision) []string {
	t.Helper()
	var out []string
	for _, d := range ds {
		e, ok := d.Event.(*events.PodDeleted)
		if !ok {
			continue
		}
		if !e.Force || e.Reason != replica.ReasonNodeLost || len(d.CopyTo) != 1 || d.CopyTo[0] != events.NodePodSubject("n1", e.Namespace, e.Name) {
			t.Errorf("eviction %+v copied to %v: want Force, reason NodeLost, a copy to n1", e, d.CopyTo)
		}
		out = append(out, e.Name[:len(e.Name)-6])
	}
	sort.Strings(out)
	return out
}

// Given n1 NotReady 4 s after its last heartbeat, expect: nothing before its
// agent has fenced itself (t0+5 s+1 s), "quick" then, "web" at Since+3 s,
// "stay" never; each eviction replaced at once.
func TestALostNodesPodsAreEvictedByTheirToleration(t *testing.T) {
	w, t0 := lostWorld(t)
	w.notReady(t0.Add(4*time.Second), t0)
	for _, c := range []struct {
		at   time.Duration
		want []string
	}{
		{5900 * time.Millisecond, nil},
		{6 * time.Second, []string{"quick"}},
		{6900 * time.Millisecond, nil},
		{7 * time.Second, []string{"web", "web"}},
		{time.Hour, nil},
	} {
		w.l.Now = t0.Add(c.at)
		ds, _ := w.decideAt(w.l.Now)
		if got := evicted(t, ds); fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Fatalf("at t0+%s evicted %v, want %v:\n%s", c.at, got, c.want, show(ds))
		}
		for _, d := range ds {
			w.store(d)
		}
		// Each evicted pod is forgotten at once and replaced.
		replacements, _ := w.decideAt(w.l.Now)
		if plans := splitDecisions(t, dropStatus(replacements)).plans; len(plans) != len(c.want) {
			t.Fatalf("at t0+%s: %d replacements for %d evictions:\n%s", c.at, len(plans), len(c.want), show(replacements))
		}
		for _, d := range replacements {
			w.store(d)
		}
	}
	if on := len(w.c.PodKeysOn("n1")); on != 1 {
		t.Errorf("%d pods left on n1, want the one tolerating it for ever", on)
	}
}

// Given n1 back Ready before its pods' toleration ran out, expect nothing
// evicted; given a pod being deleted on the lost node, expect its deletion
// finished once the agent has fenced itself.
func TestANodeBackInTimeKeepsItsPods(t *testing.T) {
	w, t0 := lostWorld(t)
	w.notReady(t0.Add(4*time.Second), t0)
	w.l.Now = t0.Add(5 * time.Second)
	w.apply(w.l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: true,
		Reason: health.ReasonReady, LastHeartbeat: w.l.Now}))
	for _, at := range []time.Duration{6 * time.Second, 7 * time.Second, time.Minute} {
		if ds, _ := w.decideAt(t0.Add(at)); len(ds) != 0 {
			t.Fatalf("at t0+%s, back Ready:\n%s", at, show(ds))
		}
	}

	w, t0 = lostWorld(t)
	stay := w.c.Pods[w.c.PodKeysOn("n1")[0]]
	for _, key := range w.c.PodKeysOn("n1") {
		if p := w.c.Pods[key]; p.Owner.Name == "stay" {
			stay = p
		}
	}
	w.apply(w.l.Deleted(planned(stay), "n1", 1, "deleted by the user"))
	w.notReady(t0.Add(4*time.Second), t0)
	ds, _ := w.decideAt(t0.Add(6 * time.Second))
	got := evicted(t, ds)
	if fmt.Sprint(got) != "[quick stay]" {
		t.Fatalf("at t0+6s evicted %v, want quick and the deleted stay pod:\n%s", got, show(ds))
	}
}
