package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gantry-sh/gantry/events"
	"github.com/gantry-sh/gantry/events/bus"
	"github.com/gantry-sh/gantry/events/bus/bustest"
	"github.com/gantry-sh/gantry/events/manifest"
	"github.com/gantry-sh/gantry/projections"
	"github.com/gantry-sh/gantry/projections/projectiontest"
)

// The whole control plane (`gantry up --node=false`: NATS, every service)
// is killed -9 twice in the middle of a rolling update of a Deployment of
// 200 replicas on simulated nodes (`gantry sim`, containers ready 1 s after
// they start), once the first new pods exist and none is available, then
// once some are available and some not, and started again on the same
// data dir each time (its services decide once the killed ones' leases,
// bus.LeaseTTL, have run out). The rollout resumes from the log and
// converges to the new template; replaying the log, every pod was planned
// once, every ReplicaSet generation decided once, and the Deployment never
// had more than replicas+maxSurge pods nor fewer than
// replicas-maxUnavailable available after it was first fully available.
func TestRolloutSurvivesKillingTheControlPlane(t *testing.T) {
	const name, replicas, budget = "crash-roll", 200, 2 * time.Minute
	began := time.Now()
	c := newCluster(t)
	up := c.up("--node=false")
	nodes := c.start("sim", "--nodes", "4", "--pods", "110", "--cpu", "16", "--memory", "64Gi",
		"--ready-delay", "1s", "--name-prefix", "crash")
	c.waitFor("the simulated nodes to start", budget, func() bool { return strings.Contains(nodes.out.String(), "nodes ready") })
	c.waitFor("4 Ready nodes", budget, func() bool {
		out, _, code := c.gantry("get", "nodes")
		return code == 0 && strings.Count(out, " Ready ") == 4
	})

	// follow folds the log as it comes until the returned stop is called
	// (or the test ends).
	follow := func() (*liveFold, *bus.Conn, func()) {
		conn, err := bus.Connect(c.url, "e2e-rollout-crash", c.controlPlane())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		live := &liveFold{app: name, c: projections.NewCluster()}
		if err := live.follow(ctx, conn.JS); err != nil {
			t.Fatal(err)
		}
		stop := func() { cancel(); conn.Close() }
		t.Cleanup(stop)
		return live, conn, stop
	}
	live, conn, stop := follow()
	applyIntent(t, conn, "deployment", name, b4Deployment(name, replicas, "1"))
	live.await(t, fmt.Sprintf("%d available replicas", replicas), budget, func(c *projections.Cluster) bool {
		n := projectiontest.CountPods(c, nil, time.Now())[name]
		return n.Available == replicas && n.Pods == replicas
	})
	old := live.hashes()
	t.Logf("%d replicas available after %s", replicas, time.Since(began).Round(time.Millisecond))

	changed := time.Now()
	applyIntent(t, conn, "deployment", name, b4Deployment(name, replicas, "2"))
	// Two kills: once the first wave of new pods is planned, none of them
	// available yet; then once some are available and some are not.
	kills := []struct {
		what string
		at   func(n projectiontest.PodCounts) bool
	}{
		{"the first new pods", func(n projectiontest.PodCounts) bool { return n.Live > n.Old && n.NewAvailable == 0 }},
		{"some new pods available", func(n projectiontest.PodCounts) bool { return n.NewAvailable > 0 && n.NewAvailable < replicas }},
	}
	var restarted time.Time
	for _, k := range kills {
		var n projectiontest.PodCounts
		live.await(t, k.what, budget, func(c *projections.Cluster) bool {
			n = projectiontest.CountPods(c, old, time.Now())[name]
			return k.at(n)
		})
		stop()
		up.kill9(t)
		t.Logf("killed at %s, %s after the change: %d pods of the new template, %d of them available, %d old ones",
			k.what, time.Since(changed).Round(time.Millisecond), n.Live-n.Old, n.NewAvailable, n.Old)
		restarted = time.Now()
		up = c.up("--node=false")
		t.Logf("up again after %s", time.Since(restarted).Round(time.Millisecond))
		live, conn, stop = follow()
	}
	live.await(t, "the old pods gone and every new one available", budget, func(c *projections.Cluster) bool {
		n := projectiontest.CountPods(c, old, time.Now())[name]
		return n.Old == 0 && n.Live == replicas && n.Available == replicas
	})
	t.Logf("rolled out %s after the change, %s after the last restart", time.Since(changed).Round(time.Millisecond),
		time.Since(restarted).Round(time.Millisecond))

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var lists [][]projectiontest.Stored
	for _, src := range []logSource{{events.StreamDecisions, nil}, {events.StreamObservations, []string{events.SubjectObsPodAll}}} {
		l, err := bustest.ReadStored(ctx, conn.JS, src.stream, src.filters)
		if err != nil {
			t.Fatal(err)
		}
		lists = append(lists, l)
	}
	pct := manifest.FromString("25%")
	surge, unavailable := manifest.ResolveBounds(&pct, &pct, replicas)
	b := &projectiontest.Bounds{Replicas: replicas, MaxSurge: int(surge), MaxUnavailable: int(unavailable)}
	merged := projectiontest.Merge(lists...)
	r := projectiontest.ReplayRollout(merged, b)
	for _, p := range append(r.Problems(), b.Breaches...) {
		t.Error(p)
	}
	if r.Pods() < 2*replicas {
		t.Errorf("%d pods planned, want at least %d", r.Pods(), 2*replicas)
	}
	var resumed time.Duration // the rollout service's first decision after the last restart
	for _, s := range merged {
		if s.Rec.Envelope.Source == "rollout" && s.At.After(restarted) {
			resumed = s.At.Sub(restarted)
			break
		}
	}
	// It waits for the killed instance's lease to run out (bus.LeaseTTL).
	t.Logf("the rollout service decided again %s after the last restart", resumed.Round(time.Millisecond))
	if x := b.Extremes[name]; x == nil {
		t.Errorf("%s was never fully available in the log", name)
	} else {
		t.Logf("at least %d available, at most %d pods (bounds %d, %d); %d pods planned",
			x.MinAvailable, x.MaxPods, replicas-int(unavailable), replicas+int(surge), r.Pods())
	}
}
