package replica_test

import (
	"fmt"
	"sort"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services/runner"
)

// daemonSetRolling is DaemonSet agent running image with a rolling update
// bounded by unavailable and surge (nil: the defaults, 1 and 0).
func daemonSetRolling(image string, unavailable, surge *manifest.IntOrString) manifest.Object {
	o := pt.DaemonSet(ns, "agent", image)
	o.DaemonSet().UpdateStrategy = &manifest.DaemonSetUpdateStrategy{Type: manifest.DaemonSetRollingUpdate,
		RollingUpdate: &manifest.RollingUpdateDaemonSet{MaxUnavailable: unavailable, MaxSurge: surge}}
	o.Defaults()
	return o
}

func intOrStr(v manifest.IntOrString) *manifest.IntOrString { return &v }

// rollingWorld is nodes n0 … n<count-1> running DaemonSet obj's pods,
// each bound and Ready.
func rollingWorld(t *testing.T, count int, obj manifest.Object) *world {
	w := newWorld(t)
	w.l.Now = now
	for i := 0; i < count; i++ {
		w.apply(w.l.Heartbeat(node(nodeName(i), nil)))
	}
	w.apply(w.l.Accepted(obj, depUID, 1))
	w.settle()
	w.readyAll()
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a settled DaemonSet decides:\n%s", show(ds))
	}
	return w
}

func nodeName(i int) string { return fmt.Sprintf("n%d", i) }

// onNodes are the DaemonSet's pods not being deleted, by node.
func (w *world) onNodes() map[string][]*projections.Pod {
	out := map[string][]*projections.Pod{}
	for _, p := range w.c.OwnedPods(depUID) {
		if !p.Deleting {
			n := pinnedTo(p.Spec)
			out[n] = append(out[n], p)
		}
	}
	return out
}

// pinnedTo is the node a daemon pod's required node affinity names.
func pinnedTo(spec manifest.PodSpec) string {
	return spec.Affinity.NodeAffinity.RequiredDuringSchedulingIgnoredDuringExecution.NodeSelectorTerms[0].MatchExpressions[0].Values[0]
}

// readyAll binds every pod not yet running to its node, Ready.
func (w *world) readyAll() {
	for n, pods := range w.onNodes() {
		for _, p := range pods {
			if !p.Ready() {
				w.run(p, n, events.PhaseRunning, true)
			}
		}
	}
}

// commit stores a pass's decisions and has each deleted pod's node remove
// it, returning the nodes of what was deleted and planned.
func (w *world) commit(ds []runner.Decision) (deleted, plannedOn []string) {
	w.t.Helper()
	s := splitDecisions(w.t, dropStatus(ds))
	for _, d := range ds {
		w.store(d)
	}
	for _, e := range s.deletes {
		if p := w.c.Pods[projections.Key(ns, e.Name)]; p != nil {
			deleted = append(deleted, p.Node)
			w.apply(w.l.Removed(p.Node, planned(p), 1))
		}
	}
	for _, e := range s.plans {
		plannedOn = append(plannedOn, pinnedTo(e.Spec))
	}
	sort.Strings(deleted)
	sort.Strings(plannedOn)
	return deleted, plannedOn
}

// available counts the nodes with a Ready pod, and those with a pod of
// image.
func (w *world) available(image string) (ready, updated int) {
	for _, pods := range w.onNodes() {
		r, u := false, false
		for _, p := range pods {
			r = r || p.Ready()
			u = u || p.Spec.Containers[0].Image == image
		}
		if r {
			ready++
		}
		if u {
			updated++
		}
	}
	return ready, updated
}

// Given 3 nodes running agent:1 and the default rolling update
// (maxUnavailable 1), when the template becomes agent:2: n0's pod is
// deleted alone; nothing is planned on n0 until its node removed it (and a
// heartbeat meanwhile changes nothing); then agent:2 is planned on n0;
// once Ready, n1's pod goes; and so on, never two nodes without a Ready
// pod.
func TestADaemonSetRollsOneNodeAtATime(t *testing.T) {
	w := rollingWorld(t, 3, daemonSetRolling("agent:1", nil, nil))
	w.apply(w.l.Accepted(daemonSetRolling("agent:2", nil, nil), depUID, 2))

	ds := w.decide()
	s := splitDecisions(t, dropStatus(ds))
	if len(s.deletes) != 1 || len(s.plans) != 0 || s.deletes[0].Name != w.onNodes()["n0"][0].Name {
		t.Fatalf("first pass, want n0's pod deleted alone:\n%s", show(ds))
	}
	old := w.onNodes()["n0"][0]
	for _, d := range ds {
		w.store(d)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("n0's pod is stopping, yet:\n%s", show(ds))
	}
	w.apply(w.l.Heartbeat(node("n2", nil)))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("a heartbeat during the rollout decided:\n%s", show(ds))
	}
	w.apply(w.l.Removed("n0", planned(old), 1))
	ds = w.decide()
	if s := splitDecisions(t, dropStatus(ds)); len(s.plans) != 1 || len(s.deletes) != 0 || s.plans[0].Spec.Containers[0].Image != "agent:2" {
		t.Fatalf("once n0's pod is gone, want agent:2 planned there:\n%s", show(ds))
	}
	w.commit(ds)
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("n0's new pod is not Ready, yet:\n%s", show(ds))
	}

	var order []string
	for round := 0; round < 20; round++ {
		w.readyAll()
		ds := w.decide()
		if len(ds) == 0 {
			break
		}
		deleted, _ := w.commit(ds)
		order = append(order, deleted...)
		if ready, _ := w.available(""); ready < 2 {
			t.Fatalf("round %d: %d nodes with a Ready pod, maxUnavailable 1 allows 3 − 1", round, ready)
		}
	}
	if fmt.Sprint(order) != "[n1 n2]" {
		t.Errorf("then deleted, in order: %v, want [n1 n2]", order)
	}
	if ready, updated := w.available("agent:2"); ready != 3 || updated != 3 {
		t.Errorf("after the rollout: %d Ready, %d on agent:2, want 3 and 3", ready, updated)
	}
}

// Given 3 nodes running agent:1 with maxSurge 1 (maxUnavailable 0), when
// the template becomes agent:2: agent:2 is planned beside n0's pod, which
// stays; once the new pod is Ready, n0's old pod is deleted and agent:2 is
// planned beside n1's in the same pass; every node keeps a Ready pod
// throughout.
func TestADaemonSetSurgesOneNodeAtATime(t *testing.T) {
	zero, one := intOrStr(manifest.FromInt(0)), intOrStr(manifest.FromInt(1))
	w := rollingWorld(t, 3, daemonSetRolling("agent:1", zero, one))
	w.apply(w.l.Accepted(daemonSetRolling("agent:2", zero, one), depUID, 2))

	ds := w.decide()
	if deleted, planned := w.commit(ds); len(deleted) != 0 || fmt.Sprint(planned) != "[n0]" {
		t.Fatalf("first pass, want agent:2 planned beside n0's pod:\n%s", show(ds))
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("n0's new pod is not Ready, yet:\n%s", show(ds))
	}
	w.readyAll()
	ds = w.decide()
	if deleted, planned := w.commit(ds); fmt.Sprint(deleted) != "[n0]" || fmt.Sprint(planned) != "[n1]" {
		t.Fatalf("n0's new pod Ready: want its old pod deleted and agent:2 planned on n1:\n%s", show(ds))
	}
	for round := 0; round < 20; round++ {
		if ready, _ := w.available(""); ready != 3 {
			t.Fatalf("round %d: %d nodes with a Ready pod, want 3 while surging", round, ready)
		}
		w.readyAll()
		ds := w.decide()
		if len(ds) == 0 {
			break
		}
		w.commit(ds)
	}
	if ready, updated := w.available("agent:2"); ready != 3 || updated != 3 {
		t.Errorf("after the rollout: %d Ready, %d on agent:2, want 3 and 3", ready, updated)
	}
	for n, pods := range w.onNodes() {
		if len(pods) != 1 {
			t.Errorf("%s runs %d pods after the rollout", n, len(pods))
		}
	}
}

// Given 10 nodes at maxUnavailable 25 %, expect ⌈2.5⌉ = 3 pods deleted in
// the first pass (n0, n1, n2) and none in the next.
func TestADaemonSetRollsAPercentageOfItsNodes(t *testing.T) {
	quarter := intOrStr(manifest.FromString("25%"))
	w := rollingWorld(t, 10, daemonSetRolling("agent:1", quarter, nil))
	w.apply(w.l.Accepted(daemonSetRolling("agent:2", quarter, nil), depUID, 2))
	ds := w.decide()
	if deleted, planned := w.commit(ds); fmt.Sprint(deleted) != "[n0 n1 n2]" || len(planned) != 0 {
		t.Fatalf("want n0, n1 and n2's pods deleted:\n%s", show(ds))
	}
	ds = w.decide()
	if deleted, planned := w.commit(ds); len(deleted) != 0 || fmt.Sprint(planned) != "[n0 n1 n2]" {
		t.Fatalf("then their new pods, and no more deletions:\n%s", show(ds))
	}
}

// Given 4 nodes at maxUnavailable 1 where n2's pod is not Ready, expect
// n2's old pod deleted first, and n0's beside it: an old pod that is not
// Ready is replaced at once and counts against no budget (as Kubernetes').
func TestADaemonSetReplacesAnUnavailableOldPodFirst(t *testing.T) {
	w := rollingWorld(t, 4, daemonSetRolling("agent:1", nil, nil))
	sick := w.onNodes()["n2"][0]
	w.apply(w.l.Status("n2", planned(sick), 1, events.PhaseRunning, false))
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("an unready pod of the current template decides:\n%s", show(ds))
	}
	w.apply(w.l.Accepted(daemonSetRolling("agent:2", nil, nil), depUID, 2))
	ds := w.decide()
	s := splitDecisions(t, dropStatus(ds))
	if len(s.deletes) != 2 || len(s.plans) != 0 || s.deletes[0].Name != sick.Name || s.deletes[1].Name != w.onNodes()["n0"][0].Name {
		t.Fatalf("want n2's unready pod deleted first, then n0's:\n%s", show(ds))
	}
}

// Given a surging rollout where an old pod is not Ready, expect the new
// pod planned beside it at once (not counted against maxSurge), and the
// old one deleted in the next pass.
func TestADaemonSetSurgesAtOnceBesideAnUnavailableOldPod(t *testing.T) {
	zero, one := intOrStr(manifest.FromInt(0)), intOrStr(manifest.FromInt(1))
	w := rollingWorld(t, 3, daemonSetRolling("agent:1", zero, one))
	sick := w.onNodes()["n2"][0]
	w.apply(w.l.Status("n2", planned(sick), 1, events.PhaseRunning, false))
	w.apply(w.l.Accepted(daemonSetRolling("agent:2", zero, one), depUID, 2))
	ds := w.decide()
	if deleted, planned := w.commit(ds); len(deleted) != 0 || fmt.Sprint(planned) != "[n0 n2]" {
		t.Fatalf("want agent:2 planned beside n2's unready pod and n0's:\n%s", show(ds))
	}
	ds = w.decide()
	if deleted, planned := w.commit(ds); fmt.Sprint(deleted) != "[n2]" || len(planned) != 0 {
		t.Fatalf("then n2's unready old pod deleted:\n%s", show(ds))
	}
}

// Given a rollout at maxUnavailable 1 whose one unavailable node (n0, its
// new pod not yet Ready) gets a NoExecute taint the pod does not tolerate,
// expect n0's pod deleted and, the budget free again, n1's old pod in the
// same pass: a node that changed during a rollout is weighed with all the
// others (the pass walks every node, not the changed one alone).
func TestANodeLeavingDuringARolloutFreesItsBudget(t *testing.T) {
	w := rollingWorld(t, 3, daemonSetRolling("agent:1", nil, nil))
	w.apply(w.l.Accepted(daemonSetRolling("agent:2", nil, nil), depUID, 2))
	w.commit(w.decide())
	if _, planned := w.commit(w.decide()); fmt.Sprint(planned) != "[n0]" {
		t.Fatalf("want agent:2 planned on n0, got %v", planned)
	}
	if ds := w.decide(); len(ds) != 0 {
		t.Fatalf("n0's new pod is not Ready, yet:\n%s", show(ds))
	}
	w.apply(w.l.Heartbeat(node("n0", nil, manifest.Taint{Key: "maintenance", Effect: manifest.TaintNoExecute})))
	ds := w.decide()
	if deleted, planned := w.commit(ds); fmt.Sprint(deleted) != "[n1]" || len(planned) != 0 ||
		len(splitDecisions(t, dropStatus(ds)).deletes) != 2 {
		t.Fatalf("want n0's new pod and n1's old pod deleted:\n%s", show(ds))
	}
}
