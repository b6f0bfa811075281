package services_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/health"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/runner"
	"github.com/gantry-sh/gantry/services/scheduler"
)

// The health service is killed at random points while a node is lost (its
// agent stopped) and started again, several times. In the end each node has
// exactly the decisions it should (the lost one Ready then NotReady, the
// others Ready once), each pod of the lost node was evicted exactly once,
// and its replacements run on the other nodes.
func TestKillingHealthDuringANodeLossDecidesEachStateOnce(t *testing.T) {
	c, ctx := startPlane(t, []string{"admission", "replica", "rollout", "scheduler", "projector"},
		services.Config{DefaultToleration: time.Second, Scheduler: scheduler.Config{Policy: scheduler.PolicySpread}})
	conn, log := c.conn, c.log
	lostCtx, loseNode := context.WithCancel(ctx)
	for _, n := range []struct {
		name string
		ctx  context.Context
	}{{"a", ctx}, {"b", ctx}, {"lost", lostCtx}} {
		select {
		case <-c.addNode(n.ctx, n.name, log):
		case <-time.After(10 * time.Second):
			t.Fatalf("node %s not ready", n.name)
		}
	}

	// runHealth runs the health service (grace 2.5 s, as agents beat every
	// second) until stop is called.
	runHealth := func() (stop func()) {
		hctx, kill := context.WithCancel(ctx)
		h := health.New()
		h.Grace = 2500 * time.Millisecond
		r := runner.New(h, conn.JS, log, runner.Config{Resync: 100 * time.Millisecond})
		done := make(chan struct{})
		go func() { defer close(done); _ = r.Run(hctx) }()
		return func() { kill(); <-done }
	}
	stop := runHealth()
	c.apply(deployment("web", 6, "gantry.local/hello:v1"))
	onLost := 0
	c.eventually("6 pods Running, some on the node to lose", func() bool {
		running, on := 0, 0
		for _, p := range c.pods() {
			if p.Phase() == events.PhaseRunning {
				running++
				if p.Node == "lost" {
					on++
				}
			}
		}
		onLost = on
		return running == 6 && on > 0
	})
	c.eventually("every node decided Ready", func() bool {
		return len(c.records(events.StreamDecisions, events.SubjectNodeStateAll)) == 3
	})

	loseNode()
	rng := rand.New(rand.NewPCG(3, 4))
	for kills := 0; kills < 6; kills++ {
		time.Sleep(time.Duration(100+rng.IntN(700)) * time.Millisecond) // the kill point, not synchronization
		stop()
		stop = runHealth()
	}
	defer func() { stop() }()
	c.eventually("the lost node's pods replaced on the others", func() bool {
		running := 0
		for _, p := range c.pods() {
			if p.Phase() == events.PhaseRunning && p.Node != "lost" && p.NodeNotReadySince == nil {
				running++
			}
		}
		return running == 6
	})

	states := map[string][]string{}
	for _, r := range c.records(events.StreamDecisions, events.SubjectNodeStateAll) {
		e := r.Event.(*events.NodeStateDecided)
		states[e.Node] = append(states[e.Node], fmt.Sprint(e.Ready))
	}
	if got := fmt.Sprint(states); got != "map[a:[true] b:[true] lost:[true false]]" {
		t.Errorf("node state decisions %s, want a and b Ready once, lost Ready then NotReady", got)
	}
	evicted := map[string]int{}
	for _, r := range c.records(events.StreamDecisions, events.SubjectPodDecAll) {
		if e, ok := r.Event.(*events.PodDeleted); ok && e.Reason == replica.ReasonNodeLost {
			evicted[e.UID]++
			if e.Node != "lost" || !e.Force {
				t.Errorf("eviction %+v: want of a pod on lost, forced", e)
			}
		}
	}
	if len(evicted) != onLost {
		t.Errorf("%d pods evicted, want the %d on the lost node", len(evicted), onLost)
	}
	for uid, n := range evicted {
		if n != 1 {
			t.Errorf("pod %s evicted %d times", uid, n)
		}
	}
}
