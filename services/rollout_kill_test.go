package services_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/node/sim"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projectiontest"
	"github.com/gantry-sh/gantry/services"
	"github.com/gantry-sh/gantry/services/admission"
	"github.com/gantry-sh/gantry/services/projector"
	"github.com/gantry-sh/gantry/services/replica"
	"github.com/gantry-sh/gantry/services/rollout"
	"github.com/gantry-sh/gantry/services/runner"
	"github.com/gantry-sh/gantry/services/scheduler"
)

// The rollout service is killed at random points while 10 Deployments of
// 30 replicas roll from one image to another (RollingUpdate 25 %/25 %)
// on simulated nodes whose containers are ready 500 ms after they start,
// and started again, several times. In the end every Deployment runs only
// pods of the new template, every pod was planned once, every ReplicaSet
// generation was decided once, and replaying the log record by record no
// Deployment ever had more than replicas+maxSurge pods nor fewer than
// replicas-maxUnavailable available once it had first been fully
// available: a pass decided again after a kill resumed from the log.
func TestKillingTheRolloutServiceConvergesWithinTheBounds(t *testing.T) {
	const deployments, replicas, kills = 10, 30, 8
	if testing.Short() {
		t.Skip("rolls 600 pods")
	}
	began := time.Now()
	c, ctx := startPlane(t, []string{admission.Name, replica.Name, scheduler.Name, projector.Name}, services.Config{})
	var ready []chan struct{}
	for i := range 8 { // room for 640 pods; the rollouts need at most 10 × (30+8)
		ready = append(ready, c.addSimNode(ctx, fmt.Sprintf("node-%d", i), sim.Config{MilliCPU: 8000, Memory: 16 << 30,
			PodCIDR: fmt.Sprintf("10.%d.0.0/16", 60+i), ReadyDelay: 500 * time.Millisecond}, c.url, c.log))
	}
	for _, r := range ready {
		select {
		case <-r:
		case <-time.After(10 * time.Second):
			t.Fatal("node not ready")
		}
	}

	rng := rand.New(rand.NewPCG(7, 8))
	run := func(stop func()) { c.runKilled(ctx, rollout.New(), runner.Config{Resync: 50 * time.Millisecond}, stop) }
	// until runs the service until every Deployment has all its replicas
	// available and only pods of templates not in old.
	until := func(what string, old map[string]bool) {
		deadline := time.Now().Add(2 * time.Minute)
		run(func() {
			for !rolledOut(foldLog(t, c), deployments, replicas, old) {
				if time.Now().After(deadline) {
					t.Fatalf("no %s after 2 minutes", what)
				}
				time.Sleep(100 * time.Millisecond) // polling interval
			}
		})
	}

	for i := range deployments {
		c.verdict(c.apply(rollingDeployment(fmt.Sprintf("roll-%d", i), replicas, "v1")))
	}
	until("first template available", nil)
	old := map[string]bool{}
	for _, p := range notDeleting(foldLog(t, c)) {
		old[p.TemplateHash] = true
	}
	t.Logf("v1 available after %s", time.Since(began).Round(time.Millisecond))

	changed := time.Now()
	for i := range deployments {
		c.verdict(c.apply(rollingDeployment(fmt.Sprintf("roll-%d", i), replicas, "v2")))
	}
	// Killed at random points, most while the rollouts run (two waves of
	// the ready delay, about 1.5 s with the restarts).
	for range kills {
		run(func() { time.Sleep(time.Duration(30+rng.IntN(250)) * time.Millisecond) }) // the kill point, not synchronization
		fold := foldLog(t, c)
		n, avail := 0, 0
		for _, p := range notDeleting(fold) {
			if !old[p.TemplateHash] {
				n++
				if p.AvailableAt(0, time.Now()) {
					avail++
				}
			}
		}
		t.Logf("killed with %d pods of the new template, %d of them available", n, avail)
	}
	until("rollout to the new template", old)
	t.Logf("rolled out %s after the change", time.Since(changed).Round(time.Millisecond))

	pct := manifest.FromString("25%")
	surge, unavailable := manifest.ResolveBounds(&pct, &pct, replicas)
	b := &projectiontest.Bounds{Replicas: replicas, MaxSurge: int(surge), MaxUnavailable: int(unavailable)}
	r := projectiontest.ReplayRollout(readLog(t, c), b)
	for _, p := range append(r.Problems(), b.Breaches...) {
		t.Error(p)
	}
	if r.Pods() < 2*deployments*replicas {
		t.Errorf("%d pods planned, want at least %d", r.Pods(), 2*deployments*replicas)
	}
	for i := range deployments {
		app := fmt.Sprintf("roll-%d", i)
		x := b.Extremes[app]
		if x == nil {
			t.Errorf("%s was never fully available", app)
			continue
		}
		t.Logf("%s: at least %d available, at most %d pods", app, x.MinAvailable, x.MaxPods)
	}
}

// rollingDeployment is deployment() of image gantry.local/hello:<version>,
// its strategy written out: RollingUpdate 25 %/25 %.
func rollingDeployment(name string, replicas int, version string) string {
	return strings.Replace(deployment(name, replicas, "gantry.local/hello:"+version), "  template:\n",
		"  strategy:\n    type: RollingUpdate\n    rollingUpdate: {maxSurge: 25%, maxUnavailable: 25%}\n  template:\n", 1)
}

// readLog reads the decisions and the pods' observations in the order the
// server stored them.
func readLog(t *testing.T, c *cluster) []projectiontest.Stored {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var lists [][]projectiontest.Stored
	for _, src := range []struct {
		stream  string
		filters []string
	}{{events.StreamDecisions, nil}, {events.StreamObservations, []string{events.SubjectObsPodAll}}} {
		l, err := bustest.ReadStored(ctx, c.conn.JS, src.stream, src.filters)
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, l)
	}
	return projectiontest.Merge(lists...)
}

// foldLog folds readLog's records.
func foldLog(t *testing.T, c *cluster) *projections.Cluster {
	fold := projections.NewCluster()
	for _, s := range readLog(t, c) {
		fold.Apply(s.Rec)
	}
	return fold
}

// notDeleting lists the pods of a fold not being deleted.
func notDeleting(fold *projections.Cluster) []*projections.Pod {
	var out []*projections.Pod
	for _, p := range fold.Pods {
		if !p.Deleting {
			out = append(out, p)
		}
	}
	return out
}

// rolledOut reports every Deployment roll-<i> at its replicas, all
// available, with no pod left of the template hashes in old.
func rolledOut(fold *projections.Cluster, deployments, replicas int, old map[string]bool) bool {
	counts := projectiontest.CountPods(fold, old, time.Now())
	for i := range deployments {
		n := counts[fmt.Sprintf("roll-%d", i)]
		if n.Old > 0 || n.Live != replicas || n.NewAvailable != replicas {
			return false
		}
	}
	return true
}
