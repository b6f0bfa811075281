package projections_test

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"reflect"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	pt "github.com/gantry-sh/gantry/projections/projectiontest"
)

const (
	ns     = "default"
	depUID = "11111111-0000-0000-0000-000000000001"
)

var (
	dep    = pt.Deployment(ns, "web", 3, "nginx:1.27")
	depKey = projections.WorkloadKey("deployment", ns, "web")
	podA   = pt.PodFor(dep, depUID, "web-a", "pod-a")
	podB   = pt.PodFor(dep, depUID, "web-b", "pod-b")
)

func fold(rs ...events.Record) *projections.Cluster {
	c := projections.NewCluster()
	pt.ApplyAll(c, rs...)
	return c
}

// TestFold is the given/when/then table of the shared fold: given these
// records in this order, expect this state.
func TestFold(t *testing.T) {
	type check func(t *testing.T, c *projections.Cluster, rs []events.Record)
	cases := []struct {
		name  string
		given func(l *pt.Log) []events.Record
		then  check
	}{
		{
			name: "accepted apply makes a workload",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, rs []events.Record) {
				w := c.Workloads[depKey]
				if w == nil {
					t.Fatalf("no workload %s; have %v", depKey, keys(c.Workloads))
				}
				if w.Kind != "deployment" || w.Namespace != ns || w.Name != "web" || w.UID != depUID || w.Generation != 1 || w.Deleted {
					t.Errorf("workload = %+v", w)
				}
				if !reflect.DeepEqual(w.Object, dep) {
					t.Errorf("object = %+v, want %+v", w.Object, dep)
				}
				if !w.CreatedAt.Equal(pt.Start) || w.CauseID != rs[0].Envelope.ID {
					t.Errorf("createdAt %v cause %q, want %v %q", w.CreatedAt, w.CauseID, pt.Start, rs[0].Envelope.ID)
				}
				if w.Seqs[events.StreamDecisions] != rs[0].Seq {
					t.Errorf("seqs = %v", w.Seqs)
				}
			},
		},
		{
			name: "a new generation updates the object and keeps the creation time",
			given: func(l *pt.Log) []events.Record {
				r1 := l.Accepted(dep, depUID, 1)
				l.Advance(time.Minute)
				return []events.Record{r1, l.Accepted(pt.Deployment(ns, "web", 5, "nginx:1.27"), depUID, 2)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				w := c.Workloads[depKey]
				if w.Generation != 2 || w.Object.Deployment().ReplicaCount() != 5 {
					t.Errorf("generation %d replicas %d, want 2 and 5", w.Generation, w.Object.Deployment().ReplicaCount())
				}
				if !w.CreatedAt.Equal(pt.Start) || !w.UpdatedAt.Equal(pt.Start.Add(time.Minute)) {
					t.Errorf("createdAt %v updatedAt %v", w.CreatedAt, w.UpdatedAt)
				}
			},
		},
		{
			name: "an accepted delete marks the workload deleted; one for another uid is ignored",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.AcceptedDelete("deployment", ns, "web", "other-uid", 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if c.Workloads[depKey].Deleted {
					t.Fatal("delete of another incarnation marked the workload deleted")
				}
			},
		},
		{
			name: "an accepted delete marks the workload deleted",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.AcceptedDelete("deployment", ns, "web", depUID, 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				// Owning nothing, it is forgotten at once (a tombstone stays).
				if c.Workloads[depKey] != nil || !c.WorkloadGone(depUID) {
					t.Fatalf("workload %+v, gone %v", c.Workloads[depKey], c.WorkloadGone(depUID))
				}
			},
		},
		{
			name: "re-created with a new uid: a new incarnation with its own pod count",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA),
					l.AcceptedDelete("deployment", ns, "web", depUID, 1), l.Accepted(dep, "uid-2", 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				w := c.Workloads[depKey]
				if w.UID != "uid-2" || w.Deleted || w.PodsPlanned != 0 {
					t.Errorf("workload = uid %q deleted %v podsPlanned %d", w.UID, w.Deleted, w.PodsPlanned)
				}
				if got := c.OwnedPods(depUID); len(got) != 1 {
					t.Errorf("old incarnation owns %d pods, want 1", len(got))
				}
			},
		},
		{
			name: "planned makes a pending pod indexed by its owner",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podB), l.Planned(podA)}
			},
			then: func(t *testing.T, c *projections.Cluster, rs []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p == nil {
					t.Fatalf("no pod; have %v", keys(c.Pods))
				}
				if p.UID != "pod-a" || p.Owner == nil || p.Owner.UID != depUID || p.TemplateHash != podA.TemplateHash ||
					p.PlannedSeq != rs[2].Seq || p.PlannedID != rs[2].Envelope.ID || p.Node != "" || p.Phase() != events.PhasePending {
					t.Errorf("pod = %+v", p)
				}
				owned := c.OwnedPods(depUID)
				if len(owned) != 2 || owned[0].Name != "web-b" || owned[1].Name != "web-a" {
					t.Errorf("owned pods = %v, want web-b, web-a (planning order)", names(owned))
				}
				if w := c.Workloads[depKey]; w.PodsPlanned != 2 {
					t.Errorf("podsPlanned = %d, want 2", w.PodsPlanned)
				}
			},
		},
		{
			name: "planned twice with the same uid is one pod",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Planned(podA)}
			},
			then: func(t *testing.T, c *projections.Cluster, rs []events.Record) {
				if w := c.Workloads[depKey]; w.PodsPlanned != 1 {
					t.Errorf("podsPlanned = %d, want 1", w.PodsPlanned)
				}
				if p := c.Pods[projections.Key(ns, "web-a")]; p.PlannedSeq != rs[1].Seq {
					t.Errorf("plannedSeq = %d, want the first %d", p.PlannedSeq, rs[1].Seq)
				}
			},
		},
		{
			name: "bound sets node, epoch and the pod's fence, and clears unschedulable",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA),
					l.Unschedulable(podA, "0/1 nodes are available: 1 Insufficient cpu."), l.Bound(podA, "n1", 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, rs []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p.Node != "n1" || p.Epoch != 1 || p.LastDecisionSeq != rs[3].Seq || p.BoundAt == nil || p.Unschedulable != "" || p.Feasible != 1 {
					t.Errorf("pod = node %q epoch %d lastDecisionSeq %d (want %d) boundAt %v unschedulable %q",
						p.Node, p.Epoch, p.LastDecisionSeq, rs[3].Seq, p.BoundAt, p.Unschedulable)
				}
			},
		},
		{
			name: "unschedulable records the message; one for another uid is ignored",
			given: func(l *pt.Log) []events.Record {
				other := podA
				other.UID = "someone-else"
				return []events.Record{l.Planned(podA), l.Unschedulable(podA, "0/2 nodes are available: 2 Insufficient memory."),
					l.Unschedulable(other, "stale")}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if got := c.Pods[projections.Key(ns, "web-a")].Unschedulable; got != "0/2 nodes are available: 2 Insufficient memory." {
					t.Errorf("unschedulable = %q", got)
				}
			},
		},
		{
			name: "deleted while unbound: forgotten at once, tombstoned",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Deleted(podA, "", 0, "scaled down")}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if p := c.Pods[projections.Key(ns, "web-a")]; p != nil {
					t.Fatalf("pod kept: %+v", p)
				}
				if !c.Gone("pod-a") || len(c.OwnedPods(depUID)) != 0 {
					t.Errorf("gone %v owned %d", c.Gone("pod-a"), len(c.OwnedPods(depUID)))
				}
			},
		},
		{
			name: "deleted while bound: deleting until the node removes it",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Deleted(podA, "n1", 1, "scaled down")}
			},
			then: func(t *testing.T, c *projections.Cluster, rs []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p == nil {
					t.Fatal("pod forgotten before its node removed it")
				}
				if !p.Deleting || p.DeleteReason != "scaled down" || p.DeletedOnNode != 1 || p.LastDecisionSeq != rs[3].Seq || c.Gone("pod-a") {
					t.Errorf("pod = deleting %v reason %q deletedOnNode %d lastDecisionSeq %d (want %d)",
						p.Deleting, p.DeleteReason, p.DeletedOnNode, p.LastDecisionSeq, rs[3].Seq)
				}
			},
		},
		{
			name: "deleted while bound, then removed: forgotten",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Deleted(podA, "n1", 1, "scaled down"), l.Removed("n1", podA, 1)}
			},
			then: forgotten("web-a", "pod-a"),
		},
		{
			name: "removed seen before deleted (streams interleave): forgotten when the deletion arrives",
			given: func(l *pt.Log) []events.Record {
				rs := []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1)}
				del := l.Deleted(podA, "n1", 1, "scaled down")
				rem := l.Removed("n1", podA, 1)
				return append(rs, rem, del)
			},
			then: forgotten("web-a", "pod-a"),
		},
		{
			name: "removed seen before deleted: the pod is not dropped by the removal alone",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1), l.Removed("n1", podA, 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if p := c.Pods[projections.Key(ns, "web-a")]; p == nil || p.Deleting {
					t.Fatalf("pod = %+v, want kept and not deleting", p)
				}
			},
		},
		{
			name: "status before planned is attached when the pod appears",
			given: func(l *pt.Log) []events.Record {
				st := l.Status("n1", podA, 1, events.PhaseRunning, true)
				return []events.Record{st, l.Accepted(dep, depUID, 1), l.Planned(podA)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p.Status == nil || p.Phase() != events.PhaseRunning || !p.Ready() {
					t.Fatalf("status = %+v", p.Status)
				}
			},
		},
		{
			name: "status of another incarnation before planned is not attached",
			given: func(l *pt.Log) []events.Record {
				old := podA
				old.UID = "old-incarnation"
				return []events.Record{l.Status("n1", old, 1, events.PhaseRunning, true), l.Planned(podA)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if p := c.Pods[projections.Key(ns, "web-a")]; p.Status != nil {
					t.Fatalf("status of another uid attached: %+v", p.Status)
				}
			},
		},
		{
			name: "a status from an older epoch is ignored",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Status("n2", podA, 2, events.PhaseRunning, true), l.Status("n1", podA, 1, events.PhaseFailed, false)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p.Status.Epoch != 2 || p.Phase() != events.PhaseRunning {
					t.Fatalf("status = epoch %d phase %s, want the epoch 2 report", p.Status.Epoch, p.Phase())
				}
			},
		},
		{
			name: "a newer status replaces an older one",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Planned(podA), l.Bound(podA, "n1", 1),
					l.Status("n1", podA, 1, events.PhasePending, false), l.Status("n1", podA, 1, events.PhaseFailed, false)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p.Phase() != events.PhaseFailed || !p.Terminal() {
					t.Fatalf("phase = %s", p.Phase())
				}
			},
		},
		{
			name: "bound after deleted (a race the log settles): kept as deleting so its node is told",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Deleted(podA, "", 0, "scaled down"),
					l.Bound(podA, "n1", 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, rs []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p == nil {
					t.Fatal("binding of a tombstoned pod dropped: its node would run it forever")
				}
				if !p.Deleting || p.Node != "n1" || p.Epoch != 1 || p.DeletedOnNode != 0 || p.LastDecisionSeq != rs[3].Seq {
					t.Errorf("pod = deleting %v node %q epoch %d deletedOnNode %d lastDecisionSeq %d",
						p.Deleting, p.Node, p.Epoch, p.DeletedOnNode, p.LastDecisionSeq)
				}
			},
		},
		{
			name: "bound after deleted, then deleted on its node and removed: forgotten",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Accepted(dep, depUID, 1), l.Planned(podA), l.Deleted(podA, "", 0, "scaled down"),
					l.Bound(podA, "n1", 1), l.Deleted(podA, "n1", 1, "deleted before binding"), l.Removed("n1", podA, 1)}
			},
			then: forgotten("web-a", "pod-a"),
		},
		{
			// On replay the observations stream can run ahead of the
			// decisions stream: the node's PodRemoved is folded before the
			// unbound deletion and the racing binding. The node already
			// removed the pod, so nothing will ever report it again: the
			// pod must not stay Deleting (it would hold its node's capacity
			// in the scheduler forever).
			name: "removal seen before a deleted-then-bound pod's records: forgotten all the same",
			given: func(l *pt.Log) []events.Record {
				acc := l.Accepted(dep, depUID, 1)
				planned := l.Planned(podA)
				delUnbound := l.Deleted(podA, "", 0, "scaled down")
				bound := l.Bound(podA, "n1", 1)
				delOnNode := l.Deleted(podA, "n1", 1, "deleted before binding")
				removed := l.Removed("n1", podA, 1)
				return []events.Record{acc, removed, planned, delUnbound, bound, delOnNode}
			},
			then: forgotten("web-a", "pod-a"),
		},
		{
			// Same race, with the node's status of the pod folded before
			// the unbound deletion: the resurrected pod must carry the
			// status it carries when the status is folded after the binding.
			name: "status seen before a deleted-then-bound pod's binding is attached to it",
			given: func(l *pt.Log) []events.Record {
				acc := l.Accepted(dep, depUID, 1)
				planned := l.Planned(podA)
				delUnbound := l.Deleted(podA, "", 0, "scaled down")
				bound := l.Bound(podA, "n1", 1)
				st := l.Status("n1", podA, 1, events.PhaseFailed, false)
				return []events.Record{acc, planned, st, delUnbound, bound}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				p := c.Pods[projections.Key(ns, "web-a")]
				if p == nil || p.Status == nil || p.Phase() != events.PhaseFailed {
					t.Fatalf("resurrected pod = %+v; want it to carry the Failed status folded earlier", p)
				}
			},
		},
		{
			name: "bound for a pod never planned is ignored",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Bound(podA, "n1", 1)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if len(c.Pods) != 0 {
					t.Fatalf("pods = %v", keys(c.Pods))
				}
			},
		},
		{
			name: "heartbeats describe the node; the newest time wins",
			given: func(l *pt.Log) []events.Record {
				info := pt.NodeInfo("n1", 4000, 8<<30, 110)
				l.Advance(10 * time.Second)
				r1 := l.Heartbeat(info)
				l.Now = pt.Start // an older heartbeat, delivered late
				r2 := l.Heartbeat(info)
				return []events.Record{r1, r2}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				n := c.Nodes["n1"]
				if n == nil {
					t.Fatal("no node")
				}
				if want := pt.Start.Add(10 * time.Second); !n.LastHeartbeat.Equal(want) {
					t.Errorf("lastHeartbeat = %v, want %v", n.LastHeartbeat, want)
				}
				// The node was known at the older heartbeat's time: the
				// earliest report is its creation, whatever the order.
				if n.Info.Allocatable[events.ResourceCPU] != 4000 || !n.RegisteredAt.Equal(pt.Start) {
					t.Errorf("node = %+v", n)
				}
			},
		},
		{
			name: "registration sets the registration time",
			given: func(l *pt.Log) []events.Record {
				info := pt.NodeInfo("n1", 4000, 8<<30, 110)
				r1 := l.Registered(info)
				l.Advance(5 * time.Second)
				return []events.Record{r1, l.Heartbeat(info)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				n := c.Nodes["n1"]
				if !n.RegisteredAt.Equal(pt.Start) || !n.LastHeartbeat.Equal(pt.Start.Add(5*time.Second)) {
					t.Errorf("registeredAt %v lastHeartbeat %v", n.RegisteredAt, n.LastHeartbeat)
				}
			},
		},
		{
			name: "the refusal of a kind Gantry does not support changes nothing",
			given: func(l *pt.Log) []events.Record {
				return []events.Record{l.Append(events.AdmissionSubject(ns, "replicaset", "rs"), &events.AdmissionRejected{
					IntentSeq: 1, Op: events.OpApply, Kind: "replicaset", Namespace: ns, Name: "rs",
					Reasons: []string{`kind: "ReplicaSet" (apiVersion "apps/v1") is not supported`}, Code: events.RejectUnsupportedKind})}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if len(c.Workloads) != 0 || len(c.Pods) != 0 || c.Dirty.Len() != 0 {
					t.Errorf("workloads %v pods %v dirty %v, want nothing", c.Workloads, c.Pods, c.Dirty)
				}
			},
		},
		{
			name: "a node registering again (its agent restarted) keeps its creation time",
			given: func(l *pt.Log) []events.Record {
				info := pt.NodeInfo("n1", 4000, 8<<30, 110)
				r1 := l.Registered(info)
				l.Advance(time.Hour)
				return []events.Record{r1, l.Registered(info), l.Heartbeat(info)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if n := c.Nodes["n1"]; !n.RegisteredAt.Equal(pt.Start) {
					t.Errorf("registeredAt %v, want the first registration's %v", n.RegisteredAt, pt.Start)
				}
			},
		},
		{
			name: "the creation time a report carries wins over the report's time (its first registration aged out)",
			given: func(l *pt.Log) []events.Record {
				info := pt.NodeInfo("n1", 4000, 8<<30, 110)
				created := pt.Start.Add(-30 * 24 * time.Hour)
				info.CreatedAt = &created
				return []events.Record{l.Heartbeat(info), l.Registered(info)}
			},
			then: func(t *testing.T, c *projections.Cluster, _ []events.Record) {
				if n := c.Nodes["n1"]; !n.RegisteredAt.Equal(pt.Start.Add(-30 * 24 * time.Hour)) {
					t.Errorf("registeredAt %v, want the carried creation time", n.RegisteredAt)
				}
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := tc.given(pt.NewLog())
			tc.then(t, fold(rs...), rs)
		})
	}
}

func forgotten(name, uid string) func(t *testing.T, c *projections.Cluster, _ []events.Record) {
	return func(t *testing.T, c *projections.Cluster, _ []events.Record) {
		t.Helper()
		if p := c.Pods[projections.Key(ns, name)]; p != nil {
			t.Fatalf("pod %s kept: %+v", name, p)
		}
		if !c.Gone(uid) {
			t.Errorf("uid %s not tombstoned", uid)
		}
		for _, p := range c.SortedPods() {
			if p.UID == uid {
				t.Errorf("pod %s still listed", uid)
			}
		}
	}
}

func TestNodeReadyAroundNodeLostAfter(t *testing.T) {
	l := pt.NewLog()
	c := fold(l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 0)))
	n := c.Nodes["n1"]
	cases := []struct {
		after time.Duration
		ready bool
	}{
		{0, true},
		{time.Second, true},
		{projections.NodeLostAfter - time.Nanosecond, true},
		{projections.NodeLostAfter, false},
		{projections.NodeLostAfter + time.Minute, false},
	}
	for _, tc := range cases {
		if got := n.Ready(pt.Start.Add(tc.after)); got != tc.ready {
			t.Errorf("Ready(heartbeat+%v) = %v, want %v", tc.after, got, tc.ready)
		}
	}
	// A new heartbeat makes it ready again.
	l.Advance(time.Hour)
	c.Apply(l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 0)))
	if !c.Nodes["n1"].Ready(pt.Start.Add(time.Hour + time.Second)) {
		t.Error("node not ready after a fresh heartbeat")
	}
}

// Once the health service has decided, a node's readiness is its newest
// decision, whatever the clock says; the fold marks the node changed so the
// read model is written.
func TestNodeReadyIsTheDecision(t *testing.T) {
	l := pt.NewLog()
	c := fold(l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 0)))
	decide := func(ready bool, reason string) {
		c.ClearDirty()
		c.Apply(l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: ready, Reason: reason}))
		if _, ok := c.Dirty.Nodes["n1"]; !ok {
			t.Error("a decision did not mark the node changed")
		}
	}
	decide(true, "NodeAgentReady")
	n := c.Nodes["n1"]
	if !n.Ready(pt.Start.Add(time.Hour)) || n.State == nil || !n.State.Since.Equal(pt.Start) {
		t.Errorf("decided Ready: Ready(+1h) %v, state %+v", n.Ready(pt.Start.Add(time.Hour)), n.State)
	}
	l.Advance(time.Minute)
	decide(false, "NodeStatusUnknown")
	if n.Ready(pt.Start.Add(time.Minute)) || n.State.Reason != "NodeStatusUnknown" || !n.State.Since.Equal(pt.Start.Add(time.Minute)) {
		t.Errorf("decided NotReady: state %+v", n.State)
	}
	// A heartbeat is not a decision: NotReady until the service says so.
	c.Apply(l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 0)))
	if n.Ready(l.Now) {
		t.Error("a heartbeat overrode the decision")
	}
}

func TestStatusCounts(t *testing.T) {
	l := pt.NewLog()
	oldDep := pt.Deployment(ns, "web", 3, "nginx:1.26")
	mk := func(name string, d manifest.Object) events.PodPlanned { return pt.PodFor(d, depUID, name, "uid-"+name) }
	ready, notReady, pending, failed, deleting, old, succeeded := mk("ready", dep), mk("notready", dep), mk("pending", dep),
		mk("failed", dep), mk("deleting", dep), mk("old", oldDep), mk("succeeded", dep)
	rs := []events.Record{l.Accepted(dep, depUID, 4)}
	for _, p := range []events.PodPlanned{ready, notReady, pending, failed, deleting, old, succeeded} {
		rs = append(rs, l.Planned(p), l.Bound(p, "n1", 1))
	}
	rs = append(rs,
		l.Status("n1", ready, 1, events.PhaseRunning, true),
		l.Status("n1", notReady, 1, events.PhaseRunning, false),
		l.Status("n1", pending, 1, events.PhasePending, false),
		l.Status("n1", failed, 1, events.PhaseFailed, false),
		l.Status("n1", deleting, 1, events.PhaseRunning, true),
		l.Deleted(deleting, "n1", 1, "scaled down"),
		l.Status("n1", old, 1, events.PhaseRunning, true),
		l.Status("n1", succeeded, 1, events.PhaseSucceeded, false),
	)
	// Another workload's pod does not count.
	other := pt.PodFor(pt.Deployment(ns, "api", 1, "api:1"), "other-uid", "api-x", "uid-api-x")
	rs = append(rs, l.Planned(other), l.Status("n1", other, 1, events.PhaseRunning, true))
	c := fold(rs...)
	got := c.Status(c.Workloads[depKey])
	// ready, notready, pending, old are active; failed and succeeded are
	// terminal; deleting is going.
	// succeeded and failed ended, each counted once.
	want := projections.WorkloadStatus{ObservedGeneration: 4, Replicas: 4, UpdatedReplicas: 3, ReadyReplicas: 2, AvailableReplicas: 2,
		Succeeded: 1, Failed: 1}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Status = %+v, want %+v", got, want)
	}
}

// A read-model record's Seqs is "the position in each stream it reflects".
// A status folded before its pod was planned is attached when the pod
// appears, but the pod's Seqs does not name the observation it reflects,
// whereas the same records folded in the other order do.
func TestStatusBufferedBeforePlannedIsNotInSeqs(t *testing.T) {
	l := pt.NewLog()
	planned := l.Planned(podA)
	st := l.Status("n1", podA, 1, events.PhaseRunning, true)
	inOrder := fold(planned, st).Pods[projections.Key(ns, "web-a")]
	buffered := fold(st, planned).Pods[projections.Key(ns, "web-a")]
	if inOrder.Seqs[events.StreamObservations] != st.Seq {
		t.Fatalf("in order: seqs = %v", inOrder.Seqs)
	}
	if buffered.Seqs[events.StreamObservations] != st.Seq {
		t.Errorf("status folded first: seqs = %v, want observations at %d as when folded in order", buffered.Seqs, st.Seq)
	}
}

func TestDirtyNamesWhatChanged(t *testing.T) {
	l := pt.NewLog()
	c := fold(l.Accepted(dep, depUID, 1), l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 0)))
	c.ClearDirty()
	planned := l.Planned(podA)
	c.Apply(planned)
	at := projections.Seqs{planned.Stream: planned.Seq}
	want := projections.Changes{Pods: map[string]projections.Seqs{projections.Key(ns, "web-a"): at},
		Workloads: map[string]projections.Seqs{depKey: at}, Nodes: map[string]projections.Seqs{}}
	if !reflect.DeepEqual(c.Dirty, want) {
		t.Errorf("dirty = %v, want %v", c.Dirty, want)
	}
	c.ClearDirty()
	c.Apply(l.Deleted(podA, "", 0, "scaled down"))
	if c.Dirty.Pods[projections.Key(ns, "web-a")] == nil || c.Dirty.Workloads[depKey] == nil {
		t.Errorf("dirty after forgetting = %v", c.Dirty)
	}
}

// --- conformance ---

// story is a cluster's life on three streams: a deployment scaled and
// re-templated, a bare pod, pods deleted bound and unbound, a binding that
// loses to a deletion, statuses and removals, heartbeats. settled leaves
// every deletion removed by its node; otherwise some are still in flight.
func story(settled bool) []events.Record {
	l := pt.NewLog()
	n1, n2 := pt.NodeInfo("n1", 4000, 8<<30, 110), pt.NodeInfo("n2", 4000, 8<<30, 110)
	dep2 := pt.Deployment(ns, "web", 3, "nginx:1.28")
	p := func(name string) events.PodPlanned { return pt.PodFor(dep, depUID, name, "uid-"+name) }
	p2 := func(name string) events.PodPlanned { return pt.PodFor(dep2, depUID, name, "uid-"+name) }
	a, b, c, d, e := p("web-a"), p("web-b"), p("web-c"), p("web-d"), p("web-e")
	f, g := p2("web-f"), p2("web-g")
	solo := pt.BarePod(ns, "solo", "busybox:1")
	soloPod := events.PodPlanned{Namespace: ns, Name: "solo", UID: "solo-uid", Owner: &events.OwnerRef{Kind: "pod", Name: "solo", UID: "solo-uid"}, Spec: *solo.Pod()}
	var rs []events.Record
	add := func(r ...events.Record) { rs = append(rs, r...) }
	tick := func() { l.Advance(time.Second) }

	add(l.Registered(n1), l.Heartbeat(n1), l.Registered(n2), l.Heartbeat(n2))
	tick()
	add(l.Accepted(dep, depUID, 1), l.Planned(a), l.Planned(b), l.Planned(c))
	add(l.Bound(a, "n1", 1), l.Bound(b, "n2", 1), l.Unschedulable(c, "0/2 nodes are available: 2 Insufficient cpu."))
	tick()
	add(l.Status("n1", a, 1, events.PhasePending, false), l.Status("n2", b, 1, events.PhasePending, false))
	add(l.Status("n1", a, 1, events.PhaseRunning, true), l.Status("n2", b, 1, events.PhaseRunning, true))
	add(l.Bound(c, "n1", 1), l.Status("n1", c, 1, events.PhaseRunning, true))
	add(l.Heartbeat(n1), l.Heartbeat(n2))
	tick()
	// The bare pod.
	add(l.Accepted(solo, "solo-uid", 1), l.Planned(soloPod), l.Bound(soloPod, "n2", 1), l.Status("n2", soloPod, 1, events.PhaseRunning, true))
	// b fails and is replaced by d; d is deleted before binding, and a
	// racing scheduler binds it anyway; e replaces it.
	add(l.Status("n2", b, 1, events.PhaseFailed, false), l.Deleted(b, "n2", 1, "pod Failed"))
	add(l.Planned(d), l.Deleted(d, "", 0, "scaled down"), l.Bound(d, "n2", 1), l.Status("n2", d, 1, events.PhaseRunning, true))
	add(l.Deleted(d, "n2", 1, "deleted before binding"), l.Planned(e), l.Bound(e, "n1", 1))
	tick()
	add(l.Removed("n2", b, 1), l.Status("n1", e, 1, events.PhaseRunning, true))
	if settled {
		add(l.Removed("n2", d, 1))
	}
	// New template: a, c, e go; f, g come (scaled to 2 meanwhile).
	tick()
	add(l.Accepted(pt.Deployment(ns, "web", 2, "nginx:1.28"), depUID, 2))
	add(l.Deleted(a, "n1", 1, "pod template changed"), l.Deleted(c, "n1", 1, "pod template changed"), l.Deleted(e, "n1", 1, "pod template changed"))
	add(l.Planned(f), l.Planned(g), l.Bound(f, "n1", 1), l.Bound(g, "n2", 1))
	add(l.Removed("n1", a, 1), l.Status("n1", f, 1, events.PhaseRunning, true), l.Status("n2", g, 1, events.PhasePending, false))
	if settled {
		add(l.Removed("n1", c, 1), l.Removed("n1", e, 1))
	}
	// The bare pod is deleted and stopped.
	add(l.AcceptedDelete("pod", ns, "solo", "solo-uid", 1), l.Deleted(soloPod, "n2", 1, "pod deleted"))
	if settled {
		add(l.Removed("n2", soloPod, 1))
	}
	tick()
	add(l.Heartbeat(n1), l.Heartbeat(n2))
	return rs
}

func TestReplayTwiceGivesTheSameState(t *testing.T) {
	for _, settled := range []bool{true, false} {
		rs := story(settled)
		c1, c2 := fold(rs...), fold(rs...)
		if !reflect.DeepEqual(c1, c2) {
			t.Errorf("settled=%v: two replays differ:\n%s\n%s", settled, dump(c1), dump(c2))
		}
	}
}

func TestStoryEndsWhereItShould(t *testing.T) {
	c := fold(story(true)...)
	if got := names(c.SortedPods()); !reflect.DeepEqual(got, []string{"web-f", "web-g"}) {
		t.Errorf("pods = %v, want [web-f web-g]", got)
	}
	st := c.Status(c.Workloads[depKey])
	// One pod of the story failed (its node reported it), counted once.
	if want := (projections.WorkloadStatus{ObservedGeneration: 2, Replicas: 2, UpdatedReplicas: 2, ReadyReplicas: 1, AvailableReplicas: 1, Failed: 1}); !reflect.DeepEqual(st, want) {
		t.Errorf("status = %+v, want %+v", st, want)
	}
	// The bare Pod was deleted and its pod removed: nothing holds it, it is
	// forgotten (a tombstone of its uid stays).
	if w := c.Workloads[projections.WorkloadKey("pod", ns, "solo")]; w != nil || !c.WorkloadGone("solo-uid") {
		t.Errorf("bare pod workload = %+v, want forgotten", w)
	}
}

func TestApplyingARecordTwiceIsANoOp(t *testing.T) {
	for _, settled := range []bool{true, false} {
		rs := story(settled)
		once := fold(rs...)

		twiceEach := projections.NewCluster()
		for _, r := range rs {
			twiceEach.Apply(r)
			twiceEach.Apply(r)
		}
		if !reflect.DeepEqual(once, twiceEach) {
			t.Errorf("settled=%v: applying each record twice changed the state:\n%s\n%s", settled, dump(once), dump(twiceEach))
		}

		again := fold(rs...)
		again.ClearDirty()
		pt.ApplyAll(again, rs...)
		if again.Dirty.Len() != 0 {
			t.Errorf("settled=%v: replaying applied records dirtied %v", settled, again.Dirty)
		}
		once.ClearDirty()
		if !reflect.DeepEqual(once, again) {
			t.Errorf("settled=%v: replaying applied records changed the state", settled)
		}

		// Every prefix: re-applying its last record is a no-op.
		c := projections.NewCluster()
		for i, r := range rs {
			c.Apply(r)
			c.ClearDirty()
			before := dump(c)
			c.Apply(r)
			if c.Dirty.Len() != 0 || dump(c) != before {
				t.Fatalf("settled=%v: re-applying record %d (%s) changed the fold", settled, i, r.Envelope.Type)
			}
		}
	}
}

// interleave merges the records of each stream in a random order that keeps
// each stream's own order, as a reader following several streams sees them.
func interleave(rng *rand.Rand, rs []events.Record) []events.Record {
	byStream := map[string][]events.Record{}
	var streams []string
	for _, r := range rs {
		if _, ok := byStream[r.Stream]; !ok {
			streams = append(streams, r.Stream)
		}
		byStream[r.Stream] = append(byStream[r.Stream], r)
	}
	out := make([]events.Record, 0, len(rs))
	for len(out) < len(rs) {
		var open []string
		for _, s := range streams {
			if len(byStream[s]) > 0 {
				open = append(open, s)
			}
		}
		s := open[rng.Intn(len(open))]
		out = append(out, byStream[s][0])
		byStream[s] = byStream[s][1:]
	}
	return out
}

// The streams are read independently, so any interleaving that keeps each
// stream's order is a legal input; every one must end in the same pods and
// workloads.
func TestInterleavingsGiveTheSameState(t *testing.T) {
	for _, settled := range []bool{true, false} {
		rs := story(settled)
		want := fold(rs...)
		rng := rand.New(rand.NewSource(42))
		for i := 0; i < 200; i++ {
			order := interleave(rng, rs)
			got := fold(order...)
			if d := diffState(want, got); d != "" {
				t.Errorf("settled=%v, interleaving %d:\n%s", settled, i, d)
				break
			}
		}
		// The extreme interleavings: each stream wholly before the others.
		for _, first := range []string{events.StreamObservations, events.StreamHeartbeats, events.StreamDecisions} {
			var order []events.Record
			for _, r := range rs {
				if r.Stream == first {
					order = append(order, r)
				}
			}
			for _, r := range rs {
				if r.Stream != first {
					order = append(order, r)
				}
			}
			if d := diffState(want, fold(order...)); d != "" {
				t.Errorf("settled=%v, %s first:\n%s", settled, first, d)
			}
		}
	}
}

// diffState compares what readers see: pods and workloads (with their
// statuses), node liveness.
func diffState(want, got *projections.Cluster) string {
	var out string
	wp, gp := podMap(want), podMap(got)
	for k, w := range wp {
		if g, ok := gp[k]; !ok {
			out += fmt.Sprintf("pod %s missing\n", k)
		} else if w != g {
			out += fmt.Sprintf("pod %s:\n  want %s\n  got  %s\n", k, w, g)
		}
	}
	for k := range gp {
		if _, ok := wp[k]; !ok {
			out += fmt.Sprintf("pod %s unexpected: %s\n", k, gp[k])
		}
	}
	for k, w := range want.Workloads {
		g := got.Workloads[k]
		if g == nil {
			out += fmt.Sprintf("workload %s missing\n", k)
			continue
		}
		wj, gj := js(w), js(g)
		if wj != gj {
			out += fmt.Sprintf("workload %s:\n  want %s\n  got  %s\n", k, wj, gj)
		}
		if ws, gs := want.Status(w), got.Status(g); !reflect.DeepEqual(ws, gs) {
			out += fmt.Sprintf("workload %s status: want %+v got %+v\n", k, ws, gs)
		}
		if wo, gop := names(want.OwnedPods(w.UID)), names(got.OwnedPods(g.UID)); !reflect.DeepEqual(wo, gop) {
			out += fmt.Sprintf("workload %s owned pods: want %v got %v\n", k, wo, gop)
		}
	}
	if len(want.Workloads) != len(got.Workloads) {
		out += fmt.Sprintf("workloads: want %v got %v\n", keys(want.Workloads), keys(got.Workloads))
	}
	for k, w := range want.Nodes {
		g := got.Nodes[k]
		if g == nil || !g.LastHeartbeat.Equal(w.LastHeartbeat) || !reflect.DeepEqual(g.Info, w.Info) {
			out += fmt.Sprintf("node %s: want %+v got %+v\n", k, w, g)
		}
	}
	return out
}

// podMap renders every pod without Seqs: Seqs says which stream positions
// touched the record, and a status buffered before its pod was planned is
// attached without its observation sequence (see
// TestStatusBufferedBeforePlannedIsNotInSeqs), so it legitimately varies.
func podMap(c *projections.Cluster) map[string]string {
	out := map[string]string{}
	for k, p := range c.Pods {
		cp := *p
		cp.Seqs = nil
		out[k] = js(cp)
	}
	return out
}

func js(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func dump(c *projections.Cluster) string {
	return js(struct {
		Applied   map[string]uint64
		Workloads []*projections.Workload
		Pods      []*projections.Pod
		Nodes     []*projections.Node
		Dirty     projections.Changes
	}{c.Applied, c.SortedWorkloads(), c.SortedPods(), c.SortedNodes(), c.Dirty})
}

func names(ps []*projections.Pod) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Name
	}
	return out
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	return out
}

// The fence of an object a controller decides is the newest sequence on
// its WorkloadSubject, whatever the event and whichever incarnation it is
// about: a Job deleted and decided again under its name expects the old
// one's records.
func TestWorkloadDecisionSeq(t *testing.T) {
	l := pt.NewLog()
	job := manifest.Object{APIVersion: manifest.APIBatchV1, Kind: manifest.KindJob,
		Metadata: manifest.ObjectMeta{Name: "backup-1", Namespace: ns},
		Spec:     &manifest.JobSpec{Template: dep.Deployment().Template}}
	job.Defaults()
	subj := events.WorkloadSubject(ns, "job", "backup-1")
	c := projections.NewCluster()
	if got := c.WorkloadDecisionSeq("job", ns, "backup-1"); got != 0 {
		t.Fatalf("before anything: %d", got)
	}
	made := l.Append(subj, &events.WorkloadDecided{Kind: "job", Namespace: ns, Name: "backup-1", UID: "j1", Generation: 1,
		Object: pt.Canonical(job)})
	other := l.Append(events.WorkloadSubject(ns, "job", "backup-2"), &events.WorkloadDeleted{Kind: "job", Namespace: ns, Name: "backup-2", UID: "x"})
	gone := l.Append(subj, &events.WorkloadDeleted{Kind: "job", Namespace: ns, Name: "backup-1", UID: "j1"})
	pt.ApplyAll(c, made, other)
	if got := c.WorkloadDecisionSeq("job", ns, "backup-1"); got != made.Seq {
		t.Errorf("after the decision: %d, want %d", got, made.Seq)
	}
	c.Apply(gone)
	stale := l.Append(subj, &events.WorkloadStatusDecided{Kind: "job", Namespace: ns, Name: "backup-1", UID: "someone-else"})
	c.Apply(stale)
	if got := c.WorkloadDecisionSeq("job", ns, "backup-1"); got != stale.Seq {
		t.Errorf("after a record for another uid: %d, want %d", got, stale.Seq)
	}
	if got := c.WorkloadDecisionSeq("job", ns, "backup-2"); got != other.Seq {
		t.Errorf("backup-2: %d, want %d", got, other.Seq)
	}
}

// A workload's ended pods are listed once each, with what a Job reads of
// them (index, exit codes, when they finished, whether they were being
// stopped), whether they are still in the fold or gone.
func TestEndedPodsOutliveTheirPods(t *testing.T) {
	l := pt.NewLog()
	mk := func(name string) events.PodPlanned { return pt.PodFor(dep, depUID, name, "uid-"+name) }
	ok, bad, stopped := mk("ok"), mk("bad"), mk("stopped")
	ok.Annotations = map[string]string{manifest.JobCompletionIndexAnnotation: "2"}
	rs := []events.Record{l.Accepted(dep, depUID, 1)}
	for _, p := range []events.PodPlanned{ok, bad, stopped} {
		rs = append(rs, l.Planned(p), l.Bound(p, "n1", 1))
	}
	end := l.Now.Add(time.Minute)
	failedWith := func(p events.PodPlanned, code int32) events.Record {
		r := l.Status("n1", p, 1, events.PhaseFailed, false)
		cs := r.Event.(*events.PodStatusObserved).Containers
		cs[0].ExitCode, cs[0].FinishedAt = &code, &end
		return r
	}
	rs = append(rs,
		l.Status("n1", ok, 1, events.PhaseSucceeded, false),
		failedWith(bad, 3),
		l.Deleted(stopped, "n1", 1, "suspended"),
		failedWith(stopped, 143),
		// ok and bad go too; each is still counted once.
		l.Deleted(ok, "n1", 1, "job deleted"), l.Removed("n1", ok, 1),
		l.Deleted(bad, "n1", 1, "job deleted"), l.Removed("n1", bad, 1),
		l.Status("n1", ok, 1, events.PhaseSucceeded, false),
	)
	c := fold(rs...)
	got := c.EndedPods(depUID)
	want := []projections.Ended{
		{Name: "ok", UID: "uid-ok", Succeeded: true, Index: 2, PlannedSeq: rs[1].Seq},
		{Name: "bad", UID: "uid-bad", Index: -1, ExitCodes: map[string]int32{"app": 3}, FinishedAt: end, PlannedSeq: rs[3].Seq},
		{Name: "stopped", UID: "uid-stopped", Index: -1, ExitCodes: map[string]int32{"app": 143}, FinishedAt: end, Stopped: true, PlannedSeq: rs[5].Seq},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("EndedPods =\n%+v\nwant\n%+v", got, want)
	}
	if st := c.Status(c.Workloads[depKey]); st.Succeeded != 1 || st.Failed != 2 {
		t.Errorf("succeeded %d, failed %d; want 1, 2", st.Succeeded, st.Failed)
	}
}

// Given a running pod whose node is decided NotReady (tainted), expect the
// pod not Ready, marked with since when, on the node's pod index, and the
// node's taints to include the decision's; given Ready again, the pod as
// before.
func TestAPodOnANodeNotReady(t *testing.T) {
	l := pt.NewLog()
	c := fold(l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 0)), l.Planned(podA), l.Bound(podA, "n1", 1),
		l.Status("n1", podA, 1, events.PhaseRunning, true))
	p := c.Pods[projections.Key(ns, "web-a")]
	if !p.Ready() || fmt.Sprint(c.PodKeysOn("n1")) != "[default/web-a]" {
		t.Fatalf("running: ready %v, on n1 %v", p.Ready(), c.PodKeysOn("n1"))
	}
	taint := manifest.Taint{Key: manifest.TaintNodeUnreachable, Effect: manifest.TaintNoExecute}
	l.Advance(time.Minute)
	c.ClearDirty()
	c.Apply(l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: false, Taints: []manifest.Taint{taint}}))
	if _, dirty := c.Dirty.Pods[projections.Key(ns, "web-a")]; p.Ready() || p.NodeNotReadySince == nil || !p.NodeNotReadySince.Equal(l.Now) || !dirty {
		t.Errorf("node NotReady: ready %v, since %v, dirty %v", p.Ready(), p.NodeNotReadySince, dirty)
	}
	if got := c.Nodes["n1"].Taints(); len(got) != 1 || got[0] != taint {
		t.Errorf("node taints %v", got)
	}
	c.Apply(l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: true}))
	if !p.Ready() || p.NodeNotReadySince != nil || len(c.Nodes["n1"].Taints()) != 0 {
		t.Errorf("node Ready again: ready %v, since %v", p.Ready(), p.NodeNotReadySince)
	}
	c.Apply(l.Append(events.PodDecisionSubject(ns, "web-a"), &events.PodDeleted{Namespace: ns, Name: "web-a", UID: podA.UID,
		Node: "n1", Epoch: 1, Reason: "NodeLost", Force: true}))
	if c.Pods[projections.Key(ns, "web-a")] != nil || len(c.PodKeysOn("n1")) != 0 {
		t.Error("a forced deletion did not forget the pod at once")
	}
}

// Given a pod Ready, then not Ready, Ready again, and its node NotReady,
// expect two transitions from Ready to not Ready counted; a report of not
// Ready while already not Ready, and a pod never Ready, count none.
func TestNotReadyTransitionsCounted(t *testing.T) {
	l := pt.NewLog()
	c := fold(l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 0)), l.Planned(podA), l.Bound(podA, "n1", 1),
		l.Status("n1", podA, 1, events.PhaseRunning, false))
	p := c.Pods[projections.Key(ns, "web-a")]
	if p.NotReadyTransitions != 0 {
		t.Fatalf("never Ready: %d transitions", p.NotReadyTransitions)
	}
	steps := []struct {
		rec  events.Record
		want int32
	}{
		{l.Status("n1", podA, 1, events.PhaseRunning, true), 0},
		{l.Status("n1", podA, 1, events.PhaseRunning, false), 1},
		{l.Status("n1", podA, 1, events.PhaseRunning, false), 1},
		{l.Status("n1", podA, 1, events.PhaseRunning, true), 1},
		// Its node NotReady makes it not Ready, but its own reports did not
		// stop saying ready: not counted (the count comes from the reports,
		// in their order, whatever the decisions interleave with them).
		{l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: false}), 1},
		{l.Append(events.NodeStateSubject("n1"), &events.NodeStateDecided{Node: "n1", Ready: true}), 1},
	}
	for i, s := range steps {
		c.Apply(s.rec)
		if p.NotReadyTransitions != s.want {
			t.Errorf("after record %d (%s): %d transitions, want %d", i, s.rec.Envelope.Type, p.NotReadyTransitions, s.want)
		}
	}
}

// Given a Deployment with minReadySeconds 10 and its pod ready at T,
// expect it ready but not available while the fold's newest record is
// before T+10, and available from a record at T+10 on.
func TestAvailableAfterMinReadySeconds(t *testing.T) {
	l := pt.NewLog()
	d := pt.Deployment(ns, "web", 1, "nginx:1.27")
	d.Deployment().MinReadySeconds = 10
	c := fold(l.Accepted(d, depUID, 1), l.Planned(podA), l.Bound(podA, "n1", 1), l.Status("n1", podA, 1, events.PhaseRunning, true))
	w := c.Workloads["deployment/default/web"]
	if st := c.Status(w); st.ReadyReplicas != 1 || st.AvailableReplicas != 0 {
		t.Fatalf("at T: ready %d available %d, want 1 and 0", st.ReadyReplicas, st.AvailableReplicas)
	}
	l.Advance(10 * time.Second)
	c.Apply(l.Heartbeat(pt.NodeInfo("n1", 1000, 1<<30, 110)))
	if st := c.Status(w); st.AvailableReplicas != 1 {
		t.Fatalf("at T+10: available %d, want 1", st.AvailableReplicas)
	}
}
