package services_test

import (
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/scheduler"
)

// A node agent partitioned from the log (its connection cut by a proxy),
// with the whole control plane and Gantry's defaults (1 s heartbeats, 4 s
// grace, 3 s toleration, 5 s fence):
//
//   - cut for 2 s: nothing moves (no NotReady, no eviction, its pods run on);
//   - cut for longer: the agent has stopped its own pods (seen in its
//     runtime) before any replacement is bound; the replacements run on the
//     other nodes;
//   - healed: the node is decided Ready again only after its removals of
//     the superseded pods are in the log, and its runtime holds none of them.
func TestAPartitionedNodeFencesItselfBeforeItsPodsAreReplaced(t *testing.T) {
	c, ctx := startPlane(t, nil, services.Config{Scheduler: scheduler.Config{Policy: scheduler.PolicySpread}})
	log := c.log
	part := bustest.StartPartition(t, c.url)
	for _, ready := range []chan struct{}{
		c.addNode(ctx, "a", log), c.addNode(ctx, "b", log), c.addNodeVia(ctx, "cut", "10.42.9.0/24", part.URL(), log),
	} {
		select {
		case <-ready:
		case <-time.After(10 * time.Second):
			t.Fatal("a node is not ready")
		}
	}
	c.apply(deployment("web", 6, "gantry.local/hello:v1"))
	var first, onCut map[string]bool // uids: the first 6 pods, those on the node to cut
	c.eventually("6 pods Running, some on the node to cut", func() bool {
		first, onCut = map[string]bool{}, map[string]bool{}
		for _, p := range c.pods() {
			if p.Phase() == events.PhaseRunning {
				first[p.UID] = true
				if p.Node == "cut" {
					onCut[p.UID] = true
				}
			}
		}
		return len(first) == 6 && len(onCut) > 0
	})
	inRuntime := func() map[string]bool {
		ps, err := c.rts["cut"].Pods(ctx)
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for _, p := range ps {
			out[p.UID] = true
		}
		return out
	}

	// A short partition: nothing moves.
	part.Cut()
	c.eventually("the agent's reconnects refused twice", func() bool { return part.Refused.Load() >= 2 })
	time.Sleep(2 * time.Second) // the partition's length, not synchronization
	healed := time.Now()
	part.Heal()
	c.eventually("a heartbeat after the short partition", func() bool {
		hb := c.records(events.StreamHeartbeats, events.HeartbeatSubject("cut"))
		return len(hb) > 0 && hb[len(hb)-1].Envelope.Time.After(healed)
	})
	if got := inRuntime(); len(got) != len(onCut) {
		t.Fatalf("after a short partition the runtime holds %d pods, want its %d untouched", len(got), len(onCut))
	}
	for _, r := range c.records(events.StreamDecisions, events.SubjectNodeStateAll) {
		if e := r.Event.(*events.NodeStateDecided); !e.Ready {
			t.Fatalf("a short partition decided %s NotReady", e.Node)
		}
	}

	// A long one: the agent stops its pods before they are replaced.
	part.Cut()
	var emptyAt time.Time
	c.eventually("the cut agent's runtime empty", func() bool {
		if len(inRuntime()) == 0 {
			emptyAt = time.Now()
			return true
		}
		return false
	})
	c.eventually("the cut node's pods replaced, Running on a and b", func() bool {
		running := 0
		for _, p := range c.pods() {
			if p.Phase() == events.PhaseRunning && p.Node != "cut" && p.NodeNotReadySince == nil {
				running++
			}
		}
		return running == 6
	})
	for _, r := range c.records(events.StreamDecisions, events.SubjectPodDecAll) {
		e, ok := r.Event.(*events.PodDeleted)
		if ok && onCut[e.UID] && (e.Reason != replica.ReasonNodeLost || !e.Force) {
			t.Errorf("the cut node's pod %s deleted with reason %q, force %v; want NodeLost, forced", e.Name, e.Reason, e.Force)
		}
		if b, ok := r.Event.(*events.PodBound); ok && !first[b.Pod.UID] && r.Envelope.Time.Before(emptyAt) {
			t.Errorf("replacement %s bound at %s, before the cut agent had stopped its pods (%s)", b.Pod.Name, r.Envelope.Time, emptyAt)
		}
	}

	// Healed: Ready again only once its removals are stored.
	part.Heal()
	var readyAgain time.Time
	c.eventually("the cut node decided Ready again", func() bool {
		for _, r := range c.records(events.StreamDecisions, events.NodeStateSubject("cut")) {
			if e := r.Event.(*events.NodeStateDecided); e.Ready && r.Envelope.Time.After(emptyAt) {
				readyAgain = r.Envelope.Time
				return true
			}
		}
		return false
	})
	removed := map[string]time.Time{}
	for _, r := range c.records(events.StreamObservations, "gantry.obs.cut.pod.>") {
		if e, ok := r.Event.(*events.PodRemoved); ok {
			removed[e.UID] = r.Envelope.Time
		}
	}
	for uid := range onCut {
		at, ok := removed[uid]
		if !ok || at.After(readyAgain) {
			t.Errorf("pod %s: removal reported at %v (%v), the node Ready again at %s; want the removal first", uid, at, ok, readyAgain)
		}
		if inRuntime()[uid] {
			t.Errorf("pod %s, replaced elsewhere, runs again on the healed node", uid)
		}
	}
}
