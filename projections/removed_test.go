package projections_test

import (
	"math/rand"
	"testing"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

// removedFailed checks the pod is kept, shown as Kubernetes shows a pod its
// kubelet killed: Failed, reason Removed, no container ready.
func removedFailed(name string) func(t *testing.T, c *projections.Cluster) {
	return func(t *testing.T, c *projections.Cluster) {
		t.Helper()
		p := c.Pods[projections.Key(ns, name)]
		if p == nil {
			t.Fatalf("pod %s dropped; want it kept, Failed", name)
		}
		if !p.Removed || p.Deleting || p.Phase() != events.PhaseFailed || !p.Terminal() || p.Ready() ||
			p.Status.Reason != "Removed" || p.Status.Node != "n1" {
			t.Fatalf("pod = removed %v deleting %v phase %s ready %v status %+v; want removed, Failed (Removed) on n1",
				p.Removed, p.Deleting, p.Phase(), p.Ready(), p.Status)
		}
		for _, cs := range p.Status.Containers {
			if cs.State != events.ContainerTerminated || cs.Ready {
				t.Errorf("container %s: %s ready %v, want terminated, not ready", cs.Name, cs.State, cs.Ready)
			}
		}
	}
}

// A node's report that it removed a pod no deletion was decided for (it
// stopped the pod on its own, or obeyed a message no service wrote) counts:
// the pod is not Running any more.
func TestARemovalWithNoDeletionCounts(t *testing.T) {
	cases := []struct {
		name  string
		given func(l *pt.Log) []events.Record
		then  func(t *testing.T, c *projections.Cluster)
	}{
		{
			name: "a running pod removed by its node with no deletion is Failed, reason Removed",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Status("n1", podA, 1, events.PhaseRunning, true), l.Removed("n1", podA, 1)}
			},
			then: func(t *testing.T, c *projections.Cluster) {
				removedFailed("web-a")(t, c)
				if st := c.Status(c.Workloads[depKey]); st.Replicas != 0 || st.ReadyReplicas != 0 {
					t.Errorf("the Deployment counts the removed pod: %+v", st)
				}
			},
		},
		{
			name: "the removal read before the binding (streams interleave) counts once the binding is read",
			given: func(l *pt.Log) []events.Record {
				rs := []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA)}
				bound := l.Bound(podA, "n1", 1)
				status := l.Status("n1", podA, 1, events.PhaseRunning, true)
				removed := l.Removed("n1", podA, 1)
				return append(rs, status, removed, bound)
			},
			then: removedFailed("web-a"),
		},
		{
			name: "the removal of an older binding leaves the pod where it is bound now",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Bound(podA, "n2", 2), l.Status("n2", podA, 2, events.PhaseRunning, true), l.Removed("n1", podA, 1)}
			},
			then: func(t *testing.T, c *projections.Cluster) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p == nil || p.Removed || p.Phase() != events.PhaseRunning || p.Node != "n2" {
					t.Fatalf("pod = %+v, want Running on n2", p)
				}
			},
		},
		{
			name: "a deleting pod whose older binding is removed waits for the newer one's node",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Bound(podA, "n2", 2), l.Deleted(podA, "n2", 2, "scaled down"), l.Removed("n1", podA, 1)}
			},
			then: func(t *testing.T, c *projections.Cluster) {
				if p := c.Pods[projections.Key(ns, "web-a")]; p == nil || !p.Deleting {
					t.Fatalf("pod = %+v, want kept, deleting, until n2 removes it", p)
				}
			},
		},
		{
			name: "a report of the removed binding read after the removal does not bring it back",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Removed("n1", podA, 1), l.Status("n1", podA, 1, events.PhaseRunning, true)}
			},
			then: removedFailed("web-a"),
		},
		{
			name: "the replica's deletion of the removed pod drops it at once (its node is done with it)",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Status("n1", podA, 1, events.PhaseRunning, true), l.Removed("n1", podA, 1),
					l.Deleted(podA, "n1", 1, "pod removed by node n1 with no deletion decision")}
			},
			then: func(t *testing.T, c *projections.Cluster) { forgotten("web-a", "pod-a")(t, c, nil) },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tc.then(t, fold(tc.given(pt.NewLog())...))
		})
	}
}

// The removal names the pod to the readers that follow changes: the
// replica (its owner) and the projector (its record).
func TestARemovalWithNoDeletionMarksThePodAndItsOwnerDirty(t *testing.T) {
	l := pt.NewLog()
	c := fold(l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1), l.Status("n1", podA, 1, events.PhaseRunning, true))
	c.ClearDirty()
	c.Apply(l.Removed("n1", podA, 1))
	if _, ok := c.Dirty.Pods[projections.Key(ns, "web-a")]; !ok {
		t.Errorf("pod not dirty after the removal; dirty: %v", c.Dirty)
	}
	if _, ok := c.Dirty.Workloads[depKey]; !ok {
		t.Errorf("workload not dirty after the removal; dirty: %v", c.Dirty)
	}
}

// Every interleaving of the streams ends in the same removed pod.
func TestARemovalWithNoDeletionInEveryInterleaving(t *testing.T) {
	l := pt.NewLog()
	rs := []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Planned(podB), l.Bound(podA, "n1", 1), l.Bound(podB, "n1", 2),
		l.Status("n1", podA, 1, events.PhaseRunning, true), l.Status("n1", podB, 2, events.PhaseRunning, true),
		l.Removed("n1", podA, 1)}
	want := fold(rs...)
	removedFailed("web-a")(t, want)
	rng := rand.New(rand.NewSource(7))
	for i := 0; i < 100; i++ {
		if d := diffState(want, fold(interleave(rng, rs)...)); d != "" {
			t.Fatalf("interleaving %d:\n%s", i, d)
		}
	}
}
